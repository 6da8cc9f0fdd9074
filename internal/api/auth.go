package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// principal is who a request authenticated as: a machine key of an organization, a
// workspace's publishable key (ingestion only), or an embed session's access token (the routes
// of sessionRoutes only, within the session's workspace and resource; see authz.go).
type principal struct {
	OrganizationID uuid.UUID
	// Key is set for machine JWTs.
	Key *switchyard.MachineKey
	// Workspace is set for publishable keys.
	Workspace *switchyard.Workspace
	// Session is set for session access tokens.
	Session *Session
}

// createdBy is what records made by this principal say in created_by.
func (p *principal) createdBy() string {
	if p.Key != nil {
		return p.Key.AccessKey
	}
	if p.Session != nil {
		return p.Session.ID
	}
	return "publishable_key"
}

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey).(*principal)
	return p
}

const publishableKeyHeader = "X-Meshes-Publishable-Key"

var errNoCredentials = &switchyard.Error{Code: switchyard.EUNAUTHORIZED,
	Message: "Missing credentials: send Authorization: Bearer <machine JWT>."}

// machine requires a valid machine JWT (else 401) whose key holds the permission the method
// needs (else 403; see authz.go).
func (s *Server) machine(fn handlerFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(w, r, s.authenticateJWT)
		if err != nil {
			return err
		}
		if err := s.rateLimit(w, p, 1); err != nil {
			return err
		}
		if p.Session != nil {
			err = authorizeSession(p.Session, r.Pattern)
		} else {
			err = p.require(methodPermission(r.Method))
		}
		if err != nil {
			return err
		}
		return fn(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

// authenticate runs authn unless the client's address has used up its failed
// authentications (429 without looking at the credentials), and counts a failure against it.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, authn func(*http.Request) (*principal, error)) (*principal, error) {
	if s.authFailureLimits == nil {
		return authn(r)
	}
	addr, now := clientAddress(r), s.Now()
	if s.authFailureLimits.exhausted(w, addr, now) {
		return nil, errTooManyAuthFailures
	}
	p, err := authn(r)
	if switchyard.ErrorCode(err) == switchyard.EUNAUTHORIZED {
		s.authFailureLimits.take(addr, now)
	}
	return p, err
}

// rateLimit takes n tokens from the principal's bucket: one per request, one per event of a
// bulk request.
func (s *Server) rateLimit(w http.ResponseWriter, p *principal, n int) error {
	if p.Key != nil {
		return s.machineLimits.allow(w, p.Key.AccessKey, n, s.Now())
	}
	if p.Session != nil {
		// A session shares the machine-key rate, in a bucket of its own.
		return s.machineLimits.allow(w, p.Session.ID, n, s.Now())
	}
	return s.publishableLimits.allow(w, p.Workspace.PublishableKey, n, s.Now())
}

// ingest accepts a publishable key or a machine JWT whose key holds events:emit. A route that
// charges the rate limit per event (bulk) says so with perEvent, and charges it itself.
func (s *Server) ingest(fn handlerFunc, perEvent bool) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(w, r, func(r *http.Request) (*principal, error) {
			if key := r.Header.Get(publishableKeyHeader); key != "" {
				return s.authenticatePublishable(r.Context(), key)
			}
			p, err := s.authenticateJWT(r)
			if errors.Is(err, errNoCredentials) {
				err = &switchyard.Error{Code: switchyard.EUNAUTHORIZED,
					Message: "Missing credentials: send X-Meshes-Publishable-Key or Authorization: Bearer <machine JWT>."}
			}
			return p, err
		})
		if err != nil {
			return err
		}
		if !perEvent {
			if err := s.rateLimit(w, p, 1); err != nil {
				return err
			}
		}
		if p.Session != nil {
			err = authorizeSession(p.Session, r.Pattern)
		} else {
			err = p.require(switchyard.PermissionEmit)
		}
		if err != nil {
			return err
		}
		return fn(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

func (s *Server) authenticateJWT(r *http.Request) (*principal, error) {
	token, ok := auth.BearerToken(r.Header)
	if !ok {
		return nil, errNoCredentials
	}
	if isSessionToken(token) {
		ss, err := s.VerifySessionToken(r.Context(), token)
		if err != nil {
			return nil, err
		}
		return &principal{OrganizationID: ss.OrganizationID, Session: ss}, nil
	}
	claims, err := s.verifier.Verify(r.Context(), token)
	if err != nil {
		return nil, err
	}
	return &principal{OrganizationID: claims.OrganizationID, Key: claims.Key}, nil
}

func (s *Server) authenticatePublishable(ctx context.Context, key string) (*principal, error) {
	bad := &switchyard.Error{Code: switchyard.EUNAUTHORIZED, Message: "Invalid publishable key."}
	if !auth.ValidPublishableKey(key) {
		return nil, bad
	}
	now := s.Now()
	ws, cached := s.pubKeys.get(key, now)
	if !cached {
		gen := s.pubKeys.generation()
		var err error
		ws, err = s.Store.WorkspaceGetByPublishableKey(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			ws = nil // remembered too, so a flood of bad keys costs no database reads
		} else if err != nil {
			return nil, err
		}
		s.pubKeys.putUnlessForgotten(key, ws, now, gen)
	}
	if ws == nil {
		return nil, bad
	}
	return &principal{OrganizationID: ws.OrganizationID, Workspace: ws}, nil
}

// cachedKey is a machine key with its secret opened, or a remembered miss (key nil).
type cachedKey struct {
	key    *switchyard.MachineKey
	secret []byte
}

// keySource gives the JWT verifier machine keys with their secrets opened.
type keySource struct{ s *Server }

func (k keySource) MachineKeySecret(ctx context.Context, accessKey string) (*switchyard.MachineKey, []byte, error) {
	now := k.s.Now()
	if c, ok := k.s.machineKeys.get(accessKey, now); ok {
		if c.key == nil {
			return nil, nil, auth.ErrKeyNotFound
		}
		return c.key, c.secret, nil
	}
	gen := k.s.machineKeys.generation()
	key, err := k.s.Store.MachineKeyGetByAccessKey(ctx, accessKey)
	if errors.Is(err, store.ErrNotFound) {
		k.s.machineKeys.putUnlessForgotten(accessKey, cachedKey{}, now, gen)
		return nil, nil, fmt.Errorf("%w: %w", auth.ErrKeyNotFound, err)
	} else if err != nil {
		return nil, nil, err
	}
	secret, err := k.s.Box.Open(key.SecretSealed)
	if err != nil {
		return nil, nil, fmt.Errorf("opening machine key secret: %w", err)
	}
	k.s.machineKeys.putUnlessForgotten(accessKey, cachedKey{key: key, secret: secret}, now, gen)
	return key, secret, nil
}
