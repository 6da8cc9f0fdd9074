package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Embed session tokens. A session has two tokens, and the store keeps only their SHA-256:
//
//   - The access token is an HS256 JWT signed with Config.SessionKey (derived from the
//     encryption key, so every node verifies every node's tokens). Its claims say what the
//     session grants, so the embed UI can refuse a forged or expired token without a database
//     read; VerifySessionToken then checks the session row for revocation and for a refresh
//     that replaced the token (the row holds the current token's hash).
//   - The launch token is 32 random bytes (base64url), the only secret a launch URL carries. It
//     is taken once, before it expires (TakeSessionLaunch).

// SessionKeyLabel is the HKDF label (secret.DeriveKey) of the key that signs session tokens.
const SessionKeyLabel = "switchyard/session-token/v1"

// The fixed parts of a session access token.
const (
	sessionTokenIssuer   = "urn:switchyard:session"
	sessionTokenAudience = "switchyard-embed"
	// sessionTokenHeader is the JOSE header of every session token.
	sessionTokenHeader = `{"alg":"HS256","typ":"JWT"}`
	// maxSessionTokenBytes bounds what VerifySessionToken reads: a real token is well under it.
	maxSessionTokenBytes = 4096
	// sessionClockSkew is how far in the future a token's iat may lie (nodes' clocks differ).
	sessionClockSkew = time.Minute
)

// Session roles, types and scopes (the Meshes contract).
const (
	SessionRoleMember = "member"
	SessionRoleAdmin  = "admin"
	SessionRoleOwner  = "owner"

	SessionTypeWorkspace = "workspace"
	SessionTypeResource  = "resource"
	SessionTypeDashboard = "dashboard"

	// SessionScopePayloadRead lets admin and owner sessions read event payloads.
	SessionScopePayloadRead = "events.payload:read"
)

// ErrInvalidSessionToken is the error VerifySessionToken and TakeSessionLaunch return for any
// token that does not grant a session now: malformed, forged, expired, revoked, replaced by a
// refresh, or (launch tokens) used already. It is a 401; the reason is wrapped in the error
// chain for logs, never shown.
var ErrInvalidSessionToken = &switchyard.Error{Code: switchyard.EUNAUTHORIZED, Message: "Invalid, expired or revoked session token."}

// Session is what a verified session token grants: an embed session of one workspace.
type Session struct {
	// ID is the session id as the API shows it: "sess_<uuid>".
	ID             string
	OrganizationID uuid.UUID
	WorkspaceID    uuid.UUID
	// Role is member, admin or owner; Type is workspace, resource or dashboard.
	Role, Type string
	// Resource and ResourceID confine a resource session ("" for other types).
	Resource, ResourceID string
	ExternalUserID       *string
	// Scopes are extra grants (SessionScopePayloadRead).
	Scopes []string
	// AllowedOrigins are the origins the session may be embedded in; empty: any.
	AllowedOrigins []string
	// LaunchPage is the page the launch URL opens.
	LaunchPage string
	// ExpiresAt is when the current access token expires.
	ExpiresAt time.Time
}

// sessionClaims are the claims of a session access token.
type sessionClaims struct {
	Issuer      string    `json:"iss"`
	Audience    string    `json:"aud"`
	SessionID   string    `json:"sid"`
	Org         uuid.UUID `json:"org"`
	WorkspaceID uuid.UUID `json:"workspace_id"`
	Role        string    `json:"role"`
	SessionType string    `json:"session_type"`
	Resource    string    `json:"resource,omitempty"`
	ResourceID  string    `json:"resource_id,omitempty"`
	Scopes      []string  `json:"scopes,omitempty"`
	IssuedAt    int64     `json:"iat"`
	Expires     int64     `json:"exp"`
	// JWTID is unique per token, so a refresh always yields a new token (and hash), even
	// within the second.
	JWTID string `json:"jti"`
}

// sessionIDPrefix starts every session id the API shows.
const sessionIDPrefix = "sess_"

// sessionWireID is the id the API shows for a stored session id.
func sessionWireID(id uuid.UUID) string { return sessionIDPrefix + id.String() }

// parseSessionID reads "sess_<uuid>" (the UUID in its canonical, lower-case form).
func parseSessionID(s string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(s, sessionIDPrefix)
	if !ok || len(rest) != 36 {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(rest)
	if err != nil || id.String() != rest {
		return uuid.Nil, false
	}
	return id, true
}

// tokenHash is what the store keeps of a session token: its SHA-256, hex.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newLaunchToken is 32 random bytes, base64url.
func newLaunchToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// mintSessionToken signs a new access token for ss, issued at iat and expiring at ss.ExpiresAt.
func (s *Server) mintSessionToken(ss *store.Session, iat time.Time) (string, error) {
	claims := sessionClaims{Issuer: sessionTokenIssuer, Audience: sessionTokenAudience, SessionID: sessionWireID(ss.ID),
		Org: ss.OrganizationID, WorkspaceID: ss.WorkspaceID, Role: ss.Role, SessionType: ss.Type, Resource: ss.Resource,
		ResourceID: ss.ResourceID, Scopes: ss.Scopes, IssuedAt: iat.Unix(), Expires: ss.ExpiresAt.Unix(), JWTID: uuid.NewString()}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encoding session claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString([]byte(sessionTokenHeader)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(s.signSession(input)), nil
}

func (s *Server) signSession(input string) []byte {
	mac := hmac.New(sha256.New, s.SessionKey)
	mac.Write([]byte(input))
	return mac.Sum(nil)
}

// invalidSession wraps ErrInvalidSessionToken with the reason, for logs.
func invalidSession(reason string) error {
	return fmt.Errorf("%w (%s)", ErrInvalidSessionToken, reason)
}

// VerifySessionToken checks a session access token and returns the session it grants now.
// The signature, algorithm (HS256 only: "none" and every other algorithm are refused),
// issuer, audience and expiry are checked first, without the store; then the session is read
// by id and must be neither revoked nor expired, and the token must be its current one (a
// refresh replaces it). Any failure is ErrInvalidSessionToken; store failures are returned as
// they are.
func (s *Server) VerifySessionToken(ctx context.Context, token string) (*Session, error) {
	if len(token) > maxSessionTokenBytes {
		return nil, invalidSession("too long")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, invalidSession("not a compact JWS")
	}
	enc := base64.RawURLEncoding.Strict()
	rawHeader, err := enc.DecodeString(parts[0])
	if err != nil {
		return nil, invalidSession("header encoding")
	}
	var header struct {
		Alg  string `json:"alg"`
		Typ  string `json:"typ"`
		Crit any    `json:"crit"`
	}
	if err := json.Unmarshal(rawHeader, &header); err != nil || header.Alg != "HS256" || header.Crit != nil ||
		(header.Typ != "" && header.Typ != "JWT") {
		return nil, invalidSession("header: want alg HS256")
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.signSession(parts[0]+"."+parts[1])) {
		return nil, invalidSession("signature")
	}
	rawClaims, err := enc.DecodeString(parts[1])
	if err != nil {
		return nil, invalidSession("claims encoding")
	}
	var c sessionClaims
	if err := json.Unmarshal(rawClaims, &c); err != nil {
		return nil, invalidSession("claims")
	}
	now := s.Now()
	switch {
	case c.Issuer != sessionTokenIssuer || c.Audience != sessionTokenAudience:
		return nil, invalidSession("issuer or audience")
	case !now.Before(time.Unix(c.Expires, 0)):
		return nil, invalidSession("expired")
	case time.Unix(c.IssuedAt, 0).After(now.Add(sessionClockSkew)):
		return nil, invalidSession("issued in the future")
	}
	id, ok := parseSessionID(c.SessionID)
	if !ok {
		return nil, invalidSession("session id")
	}
	ss, err := s.Store.SessionGet(ctx, store.SessionGetParams{OrganizationID: c.Org, ID: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidSession("no such session")
	} else if err != nil {
		return nil, err
	}
	switch {
	case ss.RevokedAt != nil:
		return nil, invalidSession("revoked")
	case ss.Expired(now):
		return nil, invalidSession("session expired")
	case subtle.ConstantTimeCompare([]byte(tokenHash(token)), []byte(ss.TokenHash)) != 1:
		return nil, invalidSession("replaced by a refresh")
	}
	return sessionGrant(ss), nil
}

// TakeSessionLaunch spends a launch token: it returns the session the token launches, once,
// before the token expires, while the session is live. Anything else is ErrInvalidSessionToken.
func (s *Server) TakeSessionLaunch(ctx context.Context, launchToken string) (*Session, error) {
	if launchToken == "" || len(launchToken) > maxSessionTokenBytes {
		return nil, invalidSession("launch token length")
	}
	ss, err := s.Store.SessionTakeLaunch(ctx, store.SessionTakeLaunchParams{LaunchHash: tokenHash(launchToken), Now: s.Now().UTC()})
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidSession("launch token unknown, used or expired")
	} else if err != nil {
		return nil, err
	}
	return sessionGrant(ss), nil
}

// sessionGrant is a stored session as VerifySessionToken answers it.
func sessionGrant(ss *store.Session) *Session {
	return &Session{ID: sessionWireID(ss.ID), OrganizationID: ss.OrganizationID, WorkspaceID: ss.WorkspaceID, Role: ss.Role,
		Type: ss.Type, Resource: ss.Resource, ResourceID: ss.ResourceID, ExternalUserID: ss.ExternalUserID, Scopes: ss.Scopes,
		AllowedOrigins: ss.AllowedOrigins, LaunchPage: ss.LaunchPage, ExpiresAt: ss.ExpiresAt}
}

// sessionTokenPrefix is how every session access token starts: its fixed JOSE header. A
// machine JWT's header always carries a kid, so it never starts so.
var sessionTokenPrefix = base64.RawURLEncoding.EncodeToString([]byte(sessionTokenHeader)) + "."

// isSessionToken tells a session access token from a machine JWT without verifying either: the
// fixed header, then the issuer of its (unverified) claims. VerifySessionToken decides whether
// it is valid.
func isSessionToken(token string) bool {
	rest, ok := strings.CutPrefix(token, sessionTokenPrefix)
	if !ok || len(token) > maxSessionTokenBytes {
		return false
	}
	claims, _, _ := strings.Cut(rest, ".")
	raw, err := base64.RawURLEncoding.DecodeString(claims)
	if err != nil {
		return false
	}
	var c struct {
		Issuer   string `json:"iss"`
		Audience string `json:"aud"`
	}
	return json.Unmarshal(raw, &c) == nil && c.Issuer == sessionTokenIssuer && c.Audience == sessionTokenAudience
}
