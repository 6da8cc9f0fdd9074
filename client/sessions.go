package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
)

// SessionCreate is the body of CreateSession: an embed session for one of the customer's users.
// Zero values take the server's defaults.
type SessionCreate struct {
	WorkspaceID uuid.UUID `json:"workspace_id"`
	// Role is member (default), admin or owner.
	Role string `json:"role,omitempty"`
	// SessionType is workspace (default), resource or dashboard.
	SessionType    string `json:"session_type,omitempty"`
	ExternalUserID string `json:"external_user_id,omitempty"`
	// TTLSeconds is the access token's lifetime, 300–3600 (default 1800).
	TTLSeconds int `json:"ttl_seconds,omitempty"`
	// LaunchTTLSeconds is the launch token's lifetime, 15–60 (default 30).
	LaunchTTLSeconds int `json:"launch_ttl_seconds,omitempty"`
	// LaunchPage is dashboard (default), connections, rules or events.
	LaunchPage string `json:"launch_page,omitempty"`
	// Resource and ResourceID bind a resource session to one resource.
	Resource       string   `json:"resource,omitempty"`
	ResourceID     string   `json:"resource_id,omitempty"`
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// Scopes are extra grants, e.g. "events.payload:read".
	Scopes []string `json:"scopes,omitempty"`
}

// Session is a session's access token and what it grants.
type Session struct {
	// SessionID is "sess_" followed by a UUID.
	SessionID   string    `json:"session_id"`
	AccessToken string    `json:"access_token"`
	ExpiresIn   int64     `json:"expires_in"`
	ExpiresAt   time.Time `json:"expires_at"`
	WorkspaceID uuid.UUID `json:"workspace_id"`
	Role        string    `json:"role"`
	SessionType string    `json:"session_type"`
	Resource    string    `json:"resource,omitempty"`
	ResourceID  string    `json:"resource_id,omitempty"`
}

// CreatedSession is a new session with its one-time launch token and URL.
type CreatedSession struct {
	Session
	LaunchToken     string    `json:"launch_token"`
	LaunchExpiresAt time.Time `json:"launch_expires_at"`
	LaunchURL       string    `json:"launch_url"`
}

// SessionRecord is a session as ListSessions returns it (no token).
type SessionRecord struct {
	SessionID      string    `json:"session_id"`
	WorkspaceID    uuid.UUID `json:"workspace_id"`
	Role           string    `json:"role"`
	ExternalUserID *string   `json:"external_user_id,omitempty"`
	// Status is active (expired ones included: see IsExpired) or revoked.
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	IsExpired   bool      `json:"is_expired"`
	SessionType string    `json:"session_type"`
	Resource    string    `json:"resource,omitempty"`
	ResourceID  string    `json:"resource_id,omitempty"`
}

// SessionListOptions selects a workspace's sessions (WorkspaceID is required), newest first.
type SessionListOptions struct {
	ListOptions
	WorkspaceID uuid.UUID
	// Status is "" (all), active or revoked.
	Status     string
	Resource   string
	ResourceID string
}

func (o *SessionListOptions) values() url.Values {
	if o == nil {
		return url.Values{}
	}
	q := o.ListOptions.values()
	if o.WorkspaceID != uuid.Nil {
		q.Set("workspace_id", o.WorkspaceID.String())
	}
	setIf(q, "status", o.Status)
	setIf(q, "resource", o.Resource)
	setIf(q, "resource_id", o.ResourceID)
	return q
}

func sessionPath(id string) string { return "/sessions/" + url.PathEscape(id) }

// CreateSession mints an embed session (POST /sessions).
func (c *Client) CreateSession(ctx context.Context, in SessionCreate) (*CreatedSession, error) {
	var out CreatedSession
	if err := c.Do(ctx, http.MethodPost, "/sessions", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSessions returns one page of a workspace's sessions (GET /sessions).
func (c *Client) ListSessions(ctx context.Context, opts *SessionListOptions) (*Page[SessionRecord], error) {
	var p Page[SessionRecord]
	return &p, c.Do(ctx, http.MethodGet, "/sessions", opts.values(), nil, &p)
}

// Sessions iterates over every session of a workspace that matches opts.
func (c *Client) Sessions(ctx context.Context, opts *SessionListOptions) iter.Seq2[SessionRecord, error] {
	o := copyOpts(opts)
	return pages(ctx, o.Cursor, func(ctx context.Context, cursor string) (*Page[SessionRecord], error) {
		o.Cursor = cursor
		return c.ListSessions(ctx, &o)
	})
}

// RefreshSession gives a live session a new access token, valid for the session's lifetime from
// now; the previous token stops working (POST /sessions/{id}/refresh). A revoked or expired
// session answers 409.
func (c *Client) RefreshSession(ctx context.Context, sessionID string) (*Session, error) {
	var out Session
	if err := c.Do(ctx, http.MethodPost, sessionPath(sessionID)+"/refresh", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeSession revokes a session (DELETE /sessions/{id}); its tokens stop working.
func (c *Client) RevokeSession(ctx context.Context, sessionID string) error {
	return c.Do(ctx, http.MethodDelete, sessionPath(sessionID), nil, nil, nil)
}
