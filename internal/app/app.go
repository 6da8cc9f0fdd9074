// Package app wires Switchyard together: it opens the store, loads the encryption key, builds the
// integration registry, the delivery engine and the HTTP API, and runs them until stopped. The
// CLI and the end-to-end tests start the very same App.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"

	"github.com/switchyardhq/switchyard/internal/api"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/dashboard"
	"github.com/switchyardhq/switchyard/internal/delivery"
	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/builtin"
	"github.com/switchyardhq/switchyard/internal/embed"
	"github.com/switchyardhq/switchyard/internal/mcp"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/oauth"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
)

// Version is the build's version, set with -ldflags "-X …/internal/app.Version=v1.2.3".
var Version = "dev"

// App is one Switchyard process: API and delivery workers on one store.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	Store   *sqlstore.DB
	box     *secret.Box
	api     *api.Server
	engine  *delivery.Engine
	cleaner *delivery.Cleaner
	metrics *metrics.Metrics
	oauth   *oauth.Service
	// node is this node's part in a cluster of several (cluster.go).
	node nodeParts
}

// New opens the store (applying migrations) and builds every part. Close releases it.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := loadKey(&cfg, log)
	if err != nil {
		return nil, err
	}
	box, err := secret.New(key)
	if err != nil {
		return nil, err
	}
	st, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	registry := builtin.Registry()
	apps, err := oauthApps(&cfg, registry)
	if err != nil {
		st.Close()
		return nil, err
	}
	opts := destination.Options{AllowPrivate: cfg.AllowPrivateDestinations, Logger: log, UserAgent: "Switchyard/" + Version, Apps: apps}
	a := &App{cfg: cfg, log: log, Store: st, box: box, metrics: metrics.New()}
	a.oauth = &oauth.Service{Store: st, Box: box, Integrations: registry, Options: opts, CallbackURL: cfg.CallbackURL(), Logger: log}
	a.engine = delivery.New(delivery.Config{Store: st, Integrations: registry, Box: box, Options: opts, Logger: log, Tokens: a.oauth,
		Metrics: a.metrics, Workers: cfg.Workers, ConnectionConcurrency: cfg.ConnectionConcurrency,
		PollInterval: cfg.PollInterval, Lease: cfg.DeliveryLease, ShutdownGrace: cfg.ShutdownGrace,
		RecordWriters: ingestWriters(st.Dialect()),
		// Several nodes share a PostgreSQL store: each connection's limits hold for all of them,
		// unless the operator runs one delivering node and turned that off.
		SharedLimits: st.Dialect() == "postgres" && cfg.SharedLimits})
	a.cleaner = &delivery.Cleaner{Store: st, Retention: cfg.Retention, Logger: log}
	sessionKey, err := secret.DeriveKey(key, api.SessionKeyLabel)
	if err != nil {
		st.Close()
		return nil, err
	}
	a.api = api.New(api.Config{Store: st, Integrations: registry, Box: box, Logger: log, Metrics: a.metrics,
		SessionKey: sessionKey, PublicURL: publicURL(&cfg), Health: a.engine.Health,
		Limits:             api.Limits{MaxBodyBytes: cfg.MaxBodyBytes, MaxPayloadBytes: cfg.MaxPayloadBytes},
		DestinationOptions: opts, Accepted: a.accepted, IngestWriters: ingestWriters(st.Dialect()), OAuth: a.oauth,
		RateLimits: api.RateLimits{Machine: cfg.RateLimitMachine, Publishable: cfg.RateLimitPublishable,
			AuthFailures: cfg.RateLimitAuthFailures}})
	return a, nil
}

// loadKey finds the encryption key: the configured key, else the key file (created on first
// start for SQLite), else — for a throwaway in-memory store — a fresh random key.
func loadKey(cfg *config.Config, log *slog.Logger) ([]byte, error) {
	if cfg.EncryptionKey != "" {
		key, err := secret.ParseKey(cfg.EncryptionKey)
		if err != nil {
			return nil, fmt.Errorf("SWITCHYARD_ENCRYPTION_KEY: %w", err)
		}
		return key, nil
	}
	path := cfg.KeyFile()
	switch {
	case path == "" && cfg.SQLitePath() == "" && !isPostgres(cfg.DatabaseURL):
		return secret.GenerateKey(), nil // in-memory store: nothing outlives the process
	case path == "":
		return nil, errors.New("PostgreSQL needs an encryption key shared by every node: set SWITCHYARD_ENCRYPTION_KEY " +
			"(32 random bytes, base64; e.g. `openssl rand -base64 32`) or SWITCHYARD_ENCRYPTION_KEY_FILE")
	case isPostgres(cfg.DatabaseURL):
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading encryption key file: %w", err)
		}
		return secret.ParseKey(string(b))
	}
	key, created, err := secret.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption key file %s: %w", path, err)
	}
	if created {
		log.Info("created a new encryption key file; back it up with the database", slog.String("path", path))
	}
	return key, nil
}

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// ingestWriters is how many transactions write single events (and, likewise, delivery outcomes)
// at once: SQLite has one writer, so more would only queue; PostgreSQL takes several.
func ingestWriters(dialect string) int {
	if dialect == "postgres" {
		return 4
	}
	return 1
}

// Handler is the HTTP handler: the embeddable UI under /embed/, the API everywhere else.
func (a *App) Handler() http.Handler {
	if !a.cfg.ServesAPI() {
		return a.workerHandler()
	}
	mux := http.NewServeMux()
	mux.Handle("/embed/", embed.New(embed.Config{Sessions: a.api, Store: a.Store, Logger: a.log}))
	mux.Handle("/dashboard/", dashboard.New(dashboard.Config{Store: a.Store, Keys: a.api, PublicURL: publicURL(&a.cfg), Logger: a.log,
		Health: a.engine.Health}))
	apiHandler := a.api.Handler()
	// MCP over streamable HTTP (docs/mcp.md): the tools call apiHandler with the request's token.
	mux.Handle("/mcp", mcp.NewHTTPHandler(mcp.HTTPConfig{API: apiHandler, Authenticate: a.api.RequireMachineJWT,
		Version: Version, Logger: a.log}))
	mux.Handle("/", apiHandler)
	return mux
}

// VerifySessionToken checks an embed session's access token (see api.Server.VerifySessionToken).
func (a *App) VerifySessionToken(ctx context.Context, token string) (*api.Session, error) {
	return a.api.VerifySessionToken(ctx, token)
}

// publicURL is the URL browsers reach this server at (--public-url, else http://<addr>): the
// base of the OAuth callback, and of embed session launch URLs.
func publicURL(cfg *config.Config) string {
	return strings.TrimSuffix(cfg.CallbackURL(), "/api/v1/oauth/callback")
}

// Listeners are where an App serves.
type Listeners struct {
	// API serves the REST API (and /healthz, /readyz).
	API net.Listener
	// Metrics, when not nil, serves GET /metrics (Prometheus). It is apart from the API
	// because the metrics name every tenant's connections.
	Metrics net.Listener
}

// Listen opens the listeners the configuration asks for: the API on Addr and, unless
// MetricsAddr is empty, the metrics on MetricsAddr.
func (a *App) Listen() (Listeners, error) {
	var ls Listeners
	var err error
	if ls.API, err = net.Listen("tcp", a.cfg.Addr); err != nil {
		return ls, fmt.Errorf("listening on %s: %w", a.cfg.Addr, err)
	}
	if a.cfg.MetricsAddr != "" {
		if ls.Metrics, err = net.Listen("tcp", a.cfg.MetricsAddr); err != nil {
			ls.API.Close()
			return ls, fmt.Errorf("listening for metrics on %s: %w", a.cfg.MetricsAddr, err)
		}
	}
	return ls, nil
}

// Run serves HTTP on the listeners and runs the delivery engine until ctx is canceled, then
// shuts both down gracefully: the servers stop accepting, requests in progress finish, and the
// engine records the attempts in flight. The API listener holds at most the configured number
// of connections at once, and net/http's own protocol errors leave in the API's JSON shape.
func (a *App) Run(ctx context.Context, ls Listeners) error {
	errorLog := slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)
	// The database pool is opened before serving, not grown under the first burst
	// (sqlstore.DB.OpenPool, docs/postgres.md).
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := a.Store.OpenPool(pctx); err != nil {
		a.log.Warn("opening the database pool; the rest open when needed", slog.Any("error", err))
	}
	cancel()
	servers := []*http.Server{{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          errorLog,
	}}
	listeners := []net.Listener{netutil.LimitListener(api.Listener(ls.API), a.cfg.APIConnections())}
	if ls.Metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metrics.Handler())
		servers = append(servers, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, ErrorLog: errorLog})
		listeners = append(listeners, ls.Metrics)
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, srv := range servers {
		g.Go(func() error {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serving HTTP on %s: %w", listeners[i].Addr(), err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		var errs []error
		for _, srv := range servers {
			errs = append(errs, srv.Shutdown(shutdownCtx))
		}
		a.api.Close()
		return errors.Join(errs...)
	})
	a.runNode(gctx, g)
	attrs := []any{slog.String("addr", ls.API.Addr().String()), slog.String("store", a.Store.Dialect()), slog.String("role", a.cfg.Role),
		slog.String("version", Version), slog.Int("max_connections", a.cfg.APIConnections())}
	if ls.Metrics != nil {
		attrs = append(attrs, slog.String("metrics_addr", ls.Metrics.Addr().String()))
	}
	a.log.Info("switchyard serving", attrs...)
	return g.Wait()
}

// Close stops the API's background writers (if Run has not already) and releases the store.
func (a *App) Close() error {
	if a.api != nil {
		a.api.Close()
	}
	return a.Store.Close()
}
