package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// The sessions API (/api/v1/sessions): embed sessions minted, listed, refreshed and revoked by
// the customer's backend with a machine JWT. The bounds and defaults are the Meshes contract's.

var (
	sessionRoles       = []string{SessionRoleMember, SessionRoleAdmin, SessionRoleOwner}
	sessionTypes       = []string{SessionTypeWorkspace, SessionTypeResource, SessionTypeDashboard}
	sessionLaunchPages = []string{"dashboard", "connections", "rules", "events"}
	sessionScopes      = []string{SessionScopePayloadRead}
)

const (
	defaultSessionTTL       = 1800
	minSessionTTL           = 300
	maxSessionTTL           = 3600
	defaultLaunchTTL        = 30
	minLaunchTTL            = 15
	maxLaunchTTL            = 60
	maxSessionOrigins       = 10
	maxSessionScopes        = 20
	maxExternalUserIDLength = 255
	// legacyLaunchPathPrefix starts every launch_path older clients send.
	legacyLaunchPathPrefix = "/workspace/"
	// launchPath is where a launch URL points, under the server's public URL (the embed UI).
	launchPath = "/embed/launch"
	// refreshAttempts bounds the compare-and-swap retries of one refresh.
	refreshAttempts = 5
)

// sessionRequest is the body of POST /sessions. Numbers are read raw so that a fraction or a
// string is refused with the field's bounds.
type sessionRequest struct {
	WorkspaceID      *string         `json:"workspace_id"`
	Role             *string         `json:"role"`
	SessionType      *string         `json:"session_type"`
	ExternalUserID   *string         `json:"external_user_id"`
	TTLSeconds       json.RawMessage `json:"ttl_seconds"`
	LaunchTTLSeconds json.RawMessage `json:"launch_ttl_seconds"`
	LaunchPage       *string         `json:"launch_page"`
	LaunchPath       *string         `json:"launch_path"`
	Resource         *string         `json:"resource"`
	ResourceID       *string         `json:"resource_id"`
	AllowedOrigins   []string        `json:"allowed_origins"`
	Scopes           []string        `json:"scopes"`
}

// sessionSpec is a validated mint request, defaults applied.
type sessionSpec struct {
	workspaceID          uuid.UUID
	role, sessionType    string
	externalUserID       *string
	ttl, launchTTL       time.Duration
	launchPage           string
	resource, resourceID string
	origins, scopes      []string
}

// validate checks every field of the mint body, reporting each failing one, and applies the
// defaults.
func (req *sessionRequest) validate() (*sessionSpec, error) {
	var f fields
	spec := &sessionSpec{role: SessionRoleMember, sessionType: SessionTypeWorkspace, launchPage: "dashboard"}
	spec.workspaceID = f.checkUUID("workspace_id", req.WorkspaceID)
	f.checkEnum("role", req.Role, sessionRoles, &spec.role)
	typeOK := f.checkEnum("session_type", req.SessionType, sessionTypes, &spec.sessionType)
	if req.ExternalUserID != nil {
		f.checkString("external_user_id", req.ExternalUserID, false, 0, maxExternalUserIDLength, nil, "")
		if *req.ExternalUserID != "" {
			spec.externalUserID = req.ExternalUserID
		}
	}
	spec.ttl = time.Duration(f.checkInt("ttl_seconds", req.TTLSeconds, minSessionTTL, maxSessionTTL, defaultSessionTTL)) * time.Second
	spec.launchTTL = time.Duration(f.checkInt("launch_ttl_seconds", req.LaunchTTLSeconds, minLaunchTTL, maxLaunchTTL, defaultLaunchTTL)) * time.Second

	// The launch page: launch_page, else the legacy launch_path's first segment.
	pageParam, pageOK := "launch_page", true
	if req.LaunchPath != nil {
		path := *req.LaunchPath
		switch {
		case !strings.HasPrefix(path, legacyLaunchPathPrefix):
			f.add("launch_path", "must start with "+legacyLaunchPathPrefix)
		case len(path) > 255:
			f.add("launch_path", "must be at most 255 characters")
		case req.LaunchPage == nil:
			page, _, _ := strings.Cut(strings.TrimPrefix(path, legacyLaunchPathPrefix), "/")
			if slices.Contains(sessionLaunchPages, page) {
				spec.launchPage = page
			}
			pageParam = "launch_path"
		}
	}
	if req.LaunchPage != nil {
		pageOK = f.checkEnum("launch_page", req.LaunchPage, sessionLaunchPages, &spec.launchPage)
	}
	if typeOK && pageOK {
		switch {
		case spec.sessionType == SessionTypeResource && spec.launchPage == "connections":
			f.add(pageParam, "cannot open connections in a resource session")
		case spec.sessionType == SessionTypeDashboard && spec.launchPage != "dashboard":
			f.add(pageParam, "must be dashboard for a dashboard session")
		}
	}

	// resource and resource_id: both for resource sessions, neither for the others.
	if typeOK {
		for _, rf := range []struct {
			param string
			v     *string
			dst   *string
		}{{"resource", req.Resource, &spec.resource}, {"resource_id", req.ResourceID, &spec.resourceID}} {
			switch {
			case spec.sessionType != SessionTypeResource && rf.v != nil:
				f.add(rf.param, "is only allowed for resource sessions")
			case spec.sessionType == SessionTypeResource && (rf.v == nil || *rf.v == ""):
				f.add(rf.param, "is required for resource sessions")
			case spec.sessionType == SessionTypeResource:
				f.checkString(rf.param, rf.v, true, 1, 64, resourcePattern, "may contain only letters, digits and . _ : -")
				*rf.dst = *rf.v
			}
		}
	}

	if len(req.AllowedOrigins) > maxSessionOrigins {
		f.add("allowed_origins", fmt.Sprintf("must list at most %d origins", maxSessionOrigins))
	} else {
		for i, o := range req.AllowedOrigins {
			origin, ok := normalizeOrigin(o)
			if !ok {
				f.add(fmt.Sprintf("allowed_origins[%d]", i), "must be an origin: http or https://host[:port], without path, query or fragment")
				continue
			}
			if !slices.Contains(spec.origins, origin) {
				spec.origins = append(spec.origins, origin)
			}
		}
	}
	if len(req.Scopes) > maxSessionScopes {
		f.add("scopes", fmt.Sprintf("must list at most %d scopes", maxSessionScopes))
	} else {
		for i, sc := range req.Scopes {
			if !slices.Contains(sessionScopes, sc) {
				f.add(fmt.Sprintf("scopes[%d]", i), "must be one of "+strings.Join(sessionScopes, ", "))
				continue
			}
			if !slices.Contains(spec.scopes, sc) {
				spec.scopes = append(spec.scopes, sc)
			}
		}
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	return spec, nil
}

// checkEnum sets *dst to *v when v is one of allowed (nil: keeps the default), else reports
// the field. It returns whether the value is usable.
func (f *fields) checkEnum(param string, v *string, allowed []string, dst *string) bool {
	if v == nil {
		return true
	}
	if !slices.Contains(allowed, *v) {
		f.add(param, "must be one of "+strings.Join(allowed, ", "))
		return false
	}
	*dst = *v
	return true
}

// checkInt reads an optional JSON integer from lo to hi (absent or null: def).
func (f *fields) checkInt(param string, raw json.RawMessage, lo, hi, def int) int {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return def
	}
	n, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || raw[0] == '"' || n != math.Trunc(n) || n < float64(lo) || n > float64(hi) {
		f.add(param, fmt.Sprintf("must be an integer from %d to %d", lo, hi))
		return def
	}
	return int(n)
}

// normalizeOrigin reads an origin as a browser writes it (scheme://host[:port]): http or
// https, a host, an optional port, and nothing else (a trailing "/" is tolerated). It returns
// the serialized origin — lower-case, without a default port — as browsers send it in Origin.
func normalizeOrigin(s string) (string, bool) {
	if len(s) > 2048 {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		strings.Contains(s, "#") || (u.Path != "" && u.Path != "/") || u.Hostname() == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.HasSuffix(u.Host, ":") {
		return "", false
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", false
		}
		port = strconv.Itoa(n)
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	switch {
	case port != "":
		return scheme + "://" + net.JoinHostPort(host, port), true
	case strings.Contains(host, ":"): // IPv6
		return scheme + "://[" + host + "]", true
	}
	return scheme + "://" + host, true
}

// createdSessionJSON is the answer to POST /sessions (CreatedSession).
type createdSessionJSON struct {
	refreshedSessionJSON
	LaunchToken     string    `json:"launch_token"`
	LaunchExpiresAt time.Time `json:"launch_expires_at"`
	LaunchURL       string    `json:"launch_url"`
}

// refreshedSessionJSON is the answer to POST /sessions/{id}/refresh (Session): a new access
// token and the session's scope, without launch fields.
type refreshedSessionJSON struct {
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

// sessionRecordJSON is a session as GET /sessions lists it (SessionRecord).
type sessionRecordJSON struct {
	SessionID      string    `json:"session_id"`
	WorkspaceID    uuid.UUID `json:"workspace_id"`
	Role           string    `json:"role"`
	ExternalUserID *string   `json:"external_user_id,omitempty"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	IsExpired      bool      `json:"is_expired"`
	SessionType    string    `json:"session_type"`
	Resource       string    `json:"resource,omitempty"`
	ResourceID     string    `json:"resource_id,omitempty"`
}

func sessionRecordWire(ss *store.Session, now time.Time) *sessionRecordJSON {
	status := store.SessionActive
	if ss.RevokedAt != nil {
		status = store.SessionRevoked
	}
	return &sessionRecordJSON{SessionID: sessionWireID(ss.ID), WorkspaceID: ss.WorkspaceID, Role: ss.Role,
		ExternalUserID: ss.ExternalUserID, Status: status, CreatedAt: ss.CreatedAt.UTC(), ExpiresAt: ss.ExpiresAt.UTC(),
		IsExpired: ss.Expired(now), SessionType: ss.Type, Resource: ss.Resource, ResourceID: ss.ResourceID}
}

// refreshedSessionWire is a session with its new access token. expires_in is the token's
// lifetime, exp − iat: the session's ttl_seconds.
func refreshedSessionWire(ss *store.Session, accessToken string) refreshedSessionJSON {
	return refreshedSessionJSON{SessionID: sessionWireID(ss.ID), AccessToken: accessToken,
		ExpiresIn: int64(ss.TTL / time.Second), ExpiresAt: ss.ExpiresAt.UTC(),
		WorkspaceID: ss.WorkspaceID, Role: ss.Role, SessionType: ss.Type, Resource: ss.Resource, ResourceID: ss.ResourceID}
}

// tokenExpiry is when a token issued at now for ttl expires: whole seconds, as JWT times are,
// so that the token's exp and the stored expiry agree exactly.
func tokenExpiry(now time.Time, ttl time.Duration) time.Time {
	return now.Truncate(time.Second).Add(ttl)
}

// sessionCreate mints a session: 200 CreatedSession (the Meshes contract's status: not 201).
func (s *Server) sessionCreate(w http.ResponseWriter, r *http.Request) error {
	var req sessionRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	spec, err := req.validate()
	if err != nil {
		return err
	}
	if _, err := s.workspace(r, spec.workspaceID); err != nil { // 403 outside the key's limit, else 404
		return err
	}
	out, err := s.newSession(r, principalFrom(r.Context()), spec)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// newSession stores a new session for spec (its workspace already checked) and returns the
// answer with both tokens, shown this once.
func (s *Server) newSession(r *http.Request, p *principal, spec *sessionSpec) (*createdSessionJSON, error) {
	now := s.Now().UTC().Truncate(time.Microsecond) // what the store keeps
	ss := &store.Session{ID: uuid.Must(uuid.NewV7()), OrganizationID: p.OrganizationID, WorkspaceID: spec.workspaceID,
		Role: spec.role, Type: spec.sessionType, Resource: spec.resource, ResourceID: spec.resourceID,
		ExternalUserID: spec.externalUserID, AllowedOrigins: spec.origins, Scopes: spec.scopes, LaunchPage: spec.launchPage,
		TTL: spec.ttl, LaunchExpiresAt: now.Add(spec.launchTTL), CreatedBy: p.createdBy(), CreatedAt: now,
		ExpiresAt: tokenExpiry(now, spec.ttl)}
	access, err := s.mintSessionToken(ss, now)
	if err != nil {
		return nil, err
	}
	launch := newLaunchToken()
	ss.TokenHash, ss.LaunchHash = tokenHash(access), tokenHash(launch)
	if err := s.Store.SessionInsert(r.Context(), store.SessionInsertParams{Session: ss}); errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Workspace") // deleted meanwhile
	} else if err != nil {
		return nil, err
	}
	return &createdSessionJSON{refreshedSessionJSON: refreshedSessionWire(ss, access), LaunchToken: launch,
		LaunchExpiresAt: ss.LaunchExpiresAt, LaunchURL: s.PublicURL + launchPath + "?launch=" + url.QueryEscape(launch)}, nil
}

// sessionList lists a workspace's sessions, newest first. status active includes expired
// sessions (is_expired tells them apart); revoked is the revoked ones.
func (s *Server) sessionList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var f fields
	raw := q.Get("workspace_id")
	wsID := f.checkUUID("workspace_id", &raw)
	status := q.Get("status")
	if status != "" && status != store.SessionActive && status != store.SessionRevoked {
		f.add("status", "must be one of active, revoked")
	}
	lq, err := parseListQuery(r, filterResource)
	var e *switchyard.Error
	if errors.As(err, &e) {
		f = append(f, e.Fields...)
	} else if err != nil {
		return err
	}
	if err := f.err(); err != nil {
		return err
	}
	if _, err := s.workspace(r, wsID); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	page, err := s.Store.SessionList(r.Context(), store.SessionListParams{ListParams: lq.list(p), WorkspaceID: wsID, Status: status,
		Resource: lq.resource, ResourceID: lq.resourceID})
	if err != nil {
		return err
	}
	now := s.Now()
	records := make([]*sessionRecordJSON, 0, len(page.Records))
	for _, ss := range page.Records {
		records = append(records, sessionRecordWire(ss, now))
	}
	writeJSON(w, http.StatusOK, pageWire(records, lq.limit, page.NextCursor))
	return nil
}

// session loads the path's session for the principal: 400 for a malformed id, 404 for another
// organization's or a workspace outside the key's limit.
func (s *Server) session(r *http.Request) (*store.Session, error) {
	v := r.PathValue("session_id")
	id, ok := parseSessionID(v)
	if !ok {
		return nil, invalid(switchyard.FieldError{Param: "session_id", Msg: "must be a session id: sess_ followed by a UUID"})
	}
	p := principalFrom(r.Context())
	ss, err := s.Store.SessionGet(r.Context(), store.SessionGetParams{OrganizationID: p.OrganizationID, ID: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Session")
	} else if err != nil {
		return nil, err
	}
	if err := p.visible(ss.WorkspaceID, "Session"); err != nil {
		return nil, err
	}
	return ss, nil
}

// sessionRefresh gives a live session a new access token (new jti; the previous token stops
// verifying) with the session's lifetime from now: 200 Session, 409 when revoked or expired.
func (s *Server) sessionRefresh(w http.ResponseWriter, r *http.Request) error {
	ss, err := s.session(r)
	if err != nil {
		return err
	}
	for range refreshAttempts {
		now := s.Now().UTC()
		switch {
		case ss.RevokedAt != nil:
			return &switchyard.Error{Code: switchyard.ECONFLICT, Message: "The session is revoked: mint a new session."}
		case ss.Expired(now):
			return &switchyard.Error{Code: switchyard.ECONFLICT, Message: "The session expired: mint a new session."}
		}
		next := *ss
		next.ExpiresAt = tokenExpiry(now, ss.TTL)
		access, err := s.mintSessionToken(&next, now)
		if err != nil {
			return err
		}
		got, err := s.Store.SessionRefresh(r.Context(), store.SessionRefreshParams{OrganizationID: ss.OrganizationID, ID: ss.ID,
			ExpectedVersion: ss.TokenVersion, TokenHash: tokenHash(access), ExpiresAt: next.ExpiresAt, Now: now})
		switch {
		case err == nil:
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusOK, refreshedSessionWire(got, access))
			return nil
		case errors.Is(err, store.ErrConflict):
			// Another refresh or a revocation got there first (or it expired just now): read
			// the session again and decide anew.
			if ss, err = s.session(r); err != nil {
				return err
			}
		case errors.Is(err, store.ErrNotFound):
			return notFound("Session")
		default:
			return err
		}
	}
	return &switchyard.Error{Code: switchyard.ECONFLICT, Message: "The session is being refreshed concurrently: try again."}
}

// sessionRevoke revokes a session: 200 {"revoked": true}, again on a revoked session.
func (s *Server) sessionRevoke(w http.ResponseWriter, r *http.Request) error {
	ss, err := s.session(r)
	if err != nil {
		return err
	}
	if _, err := s.Store.SessionRevoke(r.Context(), store.SessionRevokeParams{OrganizationID: ss.OrganizationID, ID: ss.ID,
		Now: s.Now().UTC()}); errors.Is(err, store.ErrNotFound) {
		return notFound("Session")
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"revoked": true})
	return nil
}
