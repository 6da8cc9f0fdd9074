package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/oauth"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// The Meshes API has no public OAuth endpoints (its dashboard runs the flow), so these two are
// Switchyard's: POST /api/v1/connections/oauth/start (machine JWT) and GET /api/v1/oauth/callback
// (the provider redirects the customer's browser there). docs/oauth.md is the guide.

var errOAuthOff = &switchyard.Error{Code: switchyard.ENOTFOUND, Message: "Managed OAuth is not enabled on this server."}

// oauthStartRequest is the body of POST /connections/oauth/start.
type oauthStartRequest struct {
	Workspace   *string `json:"workspace"`
	Type        *string `json:"type"`
	Name        *string `json:"name"`
	RedirectURL *string `json:"redirect_url"`
	// ConnectionID re-authorizes an existing connection (after oauth_authorization_revoked, say).
	ConnectionID *string `json:"connection_id"`
}

type oauthStartJSON struct {
	AuthorizationURL string    `json:"authorization_url"`
	State            string    `json:"state"`
	ExpiresAt        time.Time `json:"expires_at"`
}

// oauthStart begins an OAuth flow for a new connection, or for re-authorizing one.
func (s *Server) oauthStart(w http.ResponseWriter, r *http.Request) error {
	if s.OAuth == nil {
		return errOAuthOff
	}
	ctx := r.Context()
	p := principalFrom(ctx)
	var req oauthStartRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	var f fields
	wsID := f.checkUUID("workspace", req.Workspace)
	f.checkString("type", req.Type, true, 1, 64, nil, "")
	var integration *destination.Integration
	if req.Type != nil && *req.Type != "" {
		in, ok := s.Integrations.Get(*req.Type)
		switch {
		case !ok:
			f.add("type", "is not an integration of this server")
		case in.AuthType != destination.AuthOAuth:
			f.add("type", "does not use OAuth: create its connections with POST /api/v1/connections")
		default:
			integration = in
		}
	}
	var existing *uuid.UUID
	if req.ConnectionID != nil {
		id := f.checkUUID("connection_id", req.ConnectionID)
		existing = &id
	} else {
		f.checkString("name", req.Name, true, 1, 128, connectionNamePattern, "may contain only letters, digits, spaces, _ and -")
	}
	f.checkString("redirect_url", req.RedirectURL, true, 1, 2048, nil, "")
	if req.RedirectURL != nil && *req.RedirectURL != "" {
		if u, err := url.Parse(*req.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			f.add("redirect_url", "must be an absolute http or https URL without credentials")
		}
	}
	if err := f.err(); err != nil {
		return err
	}
	if _, err := s.workspace(r, wsID); err != nil {
		return err
	}
	name := deref(req.Name)
	if existing != nil {
		c, err := s.Store.ConnectionGet(ctx, store.ConnectionGetParams{OrganizationID: p.OrganizationID, ID: *existing})
		if errors.Is(err, store.ErrNotFound) || (err == nil && (c.WorkspaceID != wsID || p.visible(c.WorkspaceID, "Connection") != nil)) {
			return notFound("Connection")
		} else if err != nil {
			return err
		}
		if c.Type != integration.Type {
			return invalid(switchyard.FieldError{Param: "connection_id", Msg: "is a connection of type " + c.Type + ", not " + integration.Type})
		}
		name = c.Name
	}
	started, err := s.OAuth.Start(ctx, oauth.StartParams{OrganizationID: p.OrganizationID, WorkspaceID: wsID, Type: integration.Type,
		Name: name, RedirectURL: *req.RedirectURL, ConnectionID: existing, CreatedBy: p.createdBy()})
	if errors.Is(err, oauth.ErrNotConfigured) {
		env := "SWITCHYARD_" + strings.ToUpper(integration.Type)
		return &switchyard.Error{Code: switchyard.EINVALID,
			Message: fmt.Sprintf("The %s OAuth app is not configured on this server: set %s_CLIENT_ID and %s_CLIENT_SECRET "+
				"(or --oauth-app %s.client_id=… --oauth-app %s.client_secret=…) and register %s as its redirect URL.",
				integration.Name, env, env, integration.Type, integration.Type, s.OAuth.CallbackURL),
			Fields: []switchyard.FieldError{{Param: "type", Msg: "has no OAuth app configured on this server"}}}
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, &oauthStartJSON{AuthorizationURL: started.AuthorizationURL, State: started.State,
		ExpiresAt: started.ExpiresAt})
	return nil
}

// oauthCallback finishes a flow when the provider sends the customer back, then redirects the
// customer to the flow's redirect_url with connection_id (or error). It needs no credentials:
// the single-use state, bound to the workspace and type when the flow started, is the proof.
func (s *Server) oauthCallback(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	if s.OAuth == nil {
		return errOAuthOff
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" || len(state) > 128 {
		return invalid(switchyard.FieldError{Param: "state", Msg: "is required"})
	}
	done, err := s.OAuth.Complete(r.Context(), state, q.Get("code"), q.Get("error"))
	if errors.Is(err, oauth.ErrUnknownState) {
		return &switchyard.Error{Code: switchyard.EINVALID, Message: "This OAuth link is unknown, already used or expired: start again.",
			Fields: []switchyard.FieldError{{Param: "state", Msg: "is unknown, already used or expired"}}}
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, done.RedirectURL, http.StatusFound)
	return nil
}
