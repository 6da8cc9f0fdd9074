package store

import (
	"time"

	"github.com/google/uuid"
)

// Session is an embed session (the sessions API): a grant to use the embedded UI in one
// workspace, with a role, a type (and for resource sessions one resource), until ExpiresAt or
// revocation. Its tokens are never stored, only their SHA-256 (hex): TokenHash is the current
// access token's, which a refresh replaces, and LaunchHash the single-use launch token's.
type Session struct {
	// ID is the session's id; the API shows it as "sess_" + ID.
	ID             uuid.UUID
	OrganizationID uuid.UUID
	WorkspaceID    uuid.UUID
	// Role is member, admin or owner; Type is workspace, resource or dashboard (the API
	// validates both).
	Role string
	Type string
	// Resource and ResourceID are set for resource sessions only ("" otherwise).
	Resource, ResourceID string
	// ExternalUserID is the caller's own id for the user, or nil.
	ExternalUserID *string
	// AllowedOrigins are the origins (scheme://host[:port]) the session may be embedded in;
	// empty: any.
	AllowedOrigins []string
	// Scopes are extra grants (events.payload:read).
	Scopes []string
	// LaunchPage is the embed page the launch URL opens.
	LaunchPage string
	// TTL is the access token lifetime the session was minted with; each refresh grants it again.
	TTL time.Duration
	// TokenHash is the SHA-256 of the current access token, TokenVersion how many times it was
	// replaced (refreshes compare-and-swap on it).
	TokenHash    string
	TokenVersion int64
	// LaunchHash is the SHA-256 of the launch token, usable once (LaunchUsedAt) before
	// LaunchExpiresAt.
	LaunchHash      string
	LaunchExpiresAt time.Time
	LaunchUsedAt    *time.Time
	// CreatedBy is the machine key's access key.
	CreatedBy string
	CreatedAt time.Time
	// ExpiresAt is when the current access token expires; a refresh moves it.
	ExpiresAt   time.Time
	RefreshedAt *time.Time
	RevokedAt   *time.Time
}

// Expired reports whether the session's current access token has expired at now.
func (s *Session) Expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// Session statuses, for SessionListParams.Status: active (not revoked, expired or not) and
// revoked.
const (
	SessionActive  = "active"
	SessionRevoked = "revoked"
)

// SessionInsertParams holds a new session, every field set by the caller.
type SessionInsertParams struct {
	Session *Session
}

// SessionGetParams selects one session of an organization.
type SessionGetParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
}

// SessionListParams selects one page of a workspace's sessions. Empty filters select all.
type SessionListParams struct {
	ListParams
	WorkspaceID uuid.UUID
	// Status is SessionActive, SessionRevoked or "".
	Status string
	// Resource and ResourceID match exactly when not "".
	Resource, ResourceID string
}

// SessionRefreshParams replaces a session's access token, if the token is still version
// ExpectedVersion and the session is neither revoked nor expired at Now.
type SessionRefreshParams struct {
	OrganizationID  uuid.UUID
	ID              uuid.UUID
	ExpectedVersion int64
	TokenHash       string
	ExpiresAt       time.Time
	Now             time.Time
}

// SessionRevokeParams selects the session to revoke.
type SessionRevokeParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
	Now            time.Time
}

// SessionTakeLaunchParams selects a session by its launch token's hash.
type SessionTakeLaunchParams struct {
	LaunchHash string
	Now        time.Time
}
