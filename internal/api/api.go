// Package api serves Switchyard's REST API, wire-compatible with the Meshes API v1: one function
// lists every route, handlers return errors, and one writer turns errors into the Meshes error
// shape (docs/conventions.md §6 and §13).
package api

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/delivery"
	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/oauth"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Limits bounds what one request may carry.
type Limits struct {
	// MaxBodyBytes is the largest request body accepted (default 5 MiB); larger bodies get 413.
	MaxBodyBytes int64
	// MaxPayloadBytes is the largest single event payload (default 256 KiB); larger get 413.
	MaxPayloadBytes int
}

// DefaultLimits are docs/decisions.md §5's defaults.
var DefaultLimits = Limits{MaxBodyBytes: 5 << 20, MaxPayloadBytes: 256 << 10}

// Config holds the server's dependencies.
type Config struct {
	Store        store.Store
	Integrations *destination.Registry
	// Box seals secret connection fields and opens machine-key secrets.
	Box    *secret.Box
	Logger *slog.Logger
	Limits Limits
	// DestinationOptions are passed to integrations when validating and testing connections.
	DestinationOptions destination.Options
	// Metrics, when set, counts accepted events. (It is served apart from the API: see
	// app.Listeners.)
	Metrics *metrics.Metrics
	// Accepted is called after events are accepted, so the delivery engine can claim them at
	// once instead of at its next poll. It must not block.
	Accepted func()
	// RateLimits are the per-key request rates (zero value: no limits; see DefaultRateLimits).
	RateLimits RateLimits
	// IngestWriters is how many transactions may write accepted events at once (default 1,
	// right for SQLite's one writer; more suit PostgreSQL).
	IngestWriters int
	// OAuth runs managed OAuth flows (nil: the OAuth endpoints answer that OAuth is off).
	OAuth *oauth.Service
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SessionKey signs embed session access tokens (HS256). Derive it from the encryption key
	// with secret.DeriveKey(key, SessionKeyLabel), so that every node sharing the store
	// derives the same one. nil: a random key, which only this process knows (tests).
	SessionKey []byte
	// PublicURL is the URL browsers reach this server at (no trailing slash); session launch
	// URLs are built on it. "": launch URLs are relative.
	PublicURL string
	// Health reports the circuits and 429 pauses that are not simply healthy (delivery.Engine.Health:
	// the cluster's with shared limits, else this node's) for the health and backlog routes
	// (health.go); nil: every circuit reads as closed.
	Health func(ctx context.Context, now time.Time) ([]delivery.ConnectionHealth, error)
}

// Server is the HTTP API.
type Server struct {
	Config
	log      *slog.Logger
	verifier *auth.Verifier
	// Credential caches (see ttlCache): publishable key → workspace (nil: no such key), and
	// access key → machine key with its secret opened.
	pubKeys     *ttlCache[string, *switchyard.Workspace]
	machineKeys *ttlCache[string, cachedKey]
	ingester    *ingester
	// catalogs caches connections' field catalogs (capabilities.go).
	catalogs catalogCache
	// Token buckets per machine key and per publishable key, and of failed authentications per
	// client address; nil when off.
	machineLimits, publishableLimits, authFailureLimits *limiters
}

// credentialTTL is how long a credential lookup is remembered: how long another node may still
// accept a machine key revoked, or a publishable key rotated, elsewhere.
const credentialTTL = 5 * time.Second

// New builds the API server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Limits.MaxBodyBytes == 0 {
		cfg.Limits.MaxBodyBytes = DefaultLimits.MaxBodyBytes
	}
	if cfg.Limits.MaxPayloadBytes == 0 {
		cfg.Limits.MaxPayloadBytes = DefaultLimits.MaxPayloadBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Accepted == nil {
		cfg.Accepted = func() {}
	}
	if cfg.SessionKey == nil {
		cfg.SessionKey = make([]byte, 32)
		_, _ = rand.Read(cfg.SessionKey)
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	s := &Server{Config: cfg, log: cfg.Logger,
		pubKeys:     newTTLCache[string, *switchyard.Workspace](credentialTTL, 10000),
		machineKeys: newTTLCache[string, cachedKey](credentialTTL, 10000)}
	s.verifier = &auth.Verifier{Keys: keySource{s}, Now: cfg.Now}
	s.machineLimits, s.publishableLimits = newLimiters(cfg.RateLimits.Machine), newLimiters(cfg.RateLimits.Publishable)
	s.authFailureLimits = newLimiters(cfg.RateLimits.AuthFailures)
	s.ingester = newIngester(cfg.Store, max(1, cfg.IngestWriters), maxIngestBatch)
	return s
}

// Close stops the background writers after writing what they hold. Call it after the HTTP
// server has shut down; calling it again is harmless.
func (s *Server) Close() { s.ingester.close() }

// Handler returns the HTTP handler with every route and the middleware chain.
func (s *Server) Handler() http.Handler {
	return s.withRequestID(s.withRecover(withJSONErrors(s.withAccessLog(s.routes()))))
}

// routes lists every route of the API.
func (s *Server) routes() *routeMux {
	mux := newRouteMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /readyz", s.handle(s.readyz))
	mux.HandleFunc("GET /api/v1/openapi.json", openAPIDocument)

	// Event ingestion: a publishable key or a machine JWT.
	mux.Handle("POST /api/v1/events", withCORS(s.ingest(s.eventCreate, false)))
	mux.Handle("POST /api/v1/events/bulk", withCORS(s.ingest(s.eventBulkCreate, true)))
	mux.HandleFunc("OPTIONS /api/v1/events", corsPreflight)
	mux.HandleFunc("OPTIONS /api/v1/events/bulk", corsPreflight)

	// Management: a machine JWT.
	mux.Handle("GET /api/v1/workspaces", s.machine(s.workspaceList))
	mux.Handle("POST /api/v1/workspaces", s.machine(s.workspaceCreate))
	mux.Handle("GET /api/v1/workspaces/{workspace_id}", s.machine(s.workspaceGet))
	mux.Handle("PUT /api/v1/workspaces/{workspace_id}", s.machine(s.workspaceUpdate))
	mux.Handle("GET /api/v1/workspaces/{workspace_id}/connections", s.machine(s.workspaceConnections))
	mux.Handle("GET /api/v1/workspaces/{workspace_id}/rules", s.machine(s.workspaceRules))
	mux.Handle("GET /api/v1/workspaces/{workspace_id}/events", s.machine(s.workspaceEvents))
	mux.Handle("GET /api/v1/workspaces/{workspace_id}/event-types", s.machine(s.workspaceEventTypes))
	mux.Handle("GET /api/v1/workspaces/{workspace_id}/resources", s.machine(s.workspaceResources))
	mux.Handle("POST /api/v1/workspaces/{workspace_id}/publishable-key/rotate", s.machine(s.publishableKeyRotate))

	mux.Handle("GET /api/v1/connections", s.machine(s.connectionList))
	mux.Handle("POST /api/v1/connections", s.machine(s.connectionCreate))
	mux.Handle("GET /api/v1/connections/{connection_id}", s.machine(s.connectionGet))
	mux.Handle("PUT /api/v1/connections/{connection_id}", s.machine(s.connectionUpdate))
	mux.Handle("DELETE /api/v1/connections/{connection_id}", s.machine(s.connectionDelete))
	mux.Handle("GET /api/v1/connections/{connection_id}/actions", s.machine(s.connectionActions))
	mux.Handle("GET /api/v1/connections/{connection_id}/fields", s.machine(s.connectionFields))
	mux.Handle("GET /api/v1/connections/{connection_id}/mappings/default", s.machine(s.connectionMappingGet))
	mux.Handle("PUT /api/v1/connections/{connection_id}/mappings/default", s.machine(s.connectionMappingPut))

	mux.Handle("GET /api/v1/integrations", s.machine(s.integrationList))

	// Operations (ours): a connection's health and a workspace's delivery backlog (health.go).
	mux.Handle("GET /api/v1/connections/{connection_id}/health", s.machine(s.connectionHealth))
	mux.Handle("GET /api/v1/workspaces/{workspace_id}/backlog", s.machine(s.workspaceBacklog))

	// Managed OAuth (ours: the Meshes API has none): start a flow, and the provider's callback.
	mux.Handle("POST /api/v1/connections/oauth/start", s.machine(s.oauthStart))
	mux.Handle("GET /api/v1/oauth/callback", s.handle(s.oauthCallback))

	// Machine keys (an extension of the Meshes API): only a key without limits manages them.
	mux.Handle("GET /api/v1/machine-keys", s.machine(s.machineKeyList))
	mux.Handle("POST /api/v1/machine-keys", s.machine(s.machineKeyCreate))
	mux.Handle("DELETE /api/v1/machine-keys/{key_id}", s.machine(s.machineKeyRevoke))

	// Embed sessions: minted by the customer's backend for its users (machine JWT only).
	mux.Handle("POST /api/v1/sessions", s.machine(s.sessionCreate))
	mux.Handle("GET /api/v1/sessions", s.machine(s.sessionList))
	mux.Handle("POST /api/v1/sessions/{session_id}/refresh", s.machine(s.sessionRefresh))
	mux.Handle("DELETE /api/v1/sessions/{session_id}", s.machine(s.sessionRevoke))

	mux.Handle("GET /api/v1/rules", s.machine(s.ruleList))
	mux.Handle("POST /api/v1/rules", s.machine(s.ruleCreate))
	mux.Handle("GET /api/v1/rules/{rule_id}", s.machine(s.ruleGet))
	mux.Handle("DELETE /api/v1/rules/{rule_id}", s.machine(s.ruleDelete))
	mux.Handle("POST /api/v1/rules/{rule_id}/test", s.machine(s.ruleTest))

	mux.Handle("GET /api/v1/events", s.machine(s.eventList))
	mux.Handle("GET /api/v1/events/{event_id}", s.machine(s.eventGet))
	mux.Handle("GET /api/v1/events/{event_id}/payload", s.machine(s.eventPayload))
	mux.Handle("POST /api/v1/events/{event_id}/cancel", s.machine(s.eventCancel))

	// Delivery control: a rule delivery is addressed by its event and its rule.
	mux.Handle("GET /api/v1/events/{event_id}/rules/{rule_id}/attempts", s.machine(s.attemptList))
	mux.Handle("GET /api/v1/events/{event_id}/rules/{rule_id}/attempts/{attempt_id}", s.machine(s.attemptGet))
	mux.Handle("GET /api/v1/events/{event_id}/rules/{rule_id}/attempts/{attempt_id}/response-details", s.machine(s.attemptResponseDetails))
	mux.Handle("POST /api/v1/events/{event_id}/rules/{rule_id}/retry", s.machine(s.deliveryRetry))
	mux.Handle("POST /api/v1/events/{event_id}/rules/{rule_id}/cancel", s.machine(s.deliveryCancel))

	// Unknown paths get ServeMux's 404 and known paths' other methods its 405 (with Allow),
	// both in the API's JSON error shape (withJSONErrors).
	return mux
}

// handlerFunc is an HTTP handler that returns its error for the one error writer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "store not ready", slog.Any("error", err))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
