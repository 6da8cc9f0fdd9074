package app_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // the "sqlite" driver, to read the sessions table directly

	"github.com/switchyardhq/switchyard/internal/api"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// createdSessionJSON is the answer to POST /sessions.
type createdSessionJSON struct {
	SessionID       string    `json:"session_id"`
	AccessToken     string    `json:"access_token"`
	ExpiresIn       float64   `json:"expires_in"`
	ExpiresAt       time.Time `json:"expires_at"`
	WorkspaceID     uuid.UUID `json:"workspace_id"`
	Role            string    `json:"role"`
	SessionType     string    `json:"session_type"`
	Resource        *string   `json:"resource"`
	ResourceID      *string   `json:"resource_id"`
	LaunchToken     string    `json:"launch_token"`
	LaunchExpiresAt time.Time `json:"launch_expires_at"`
	LaunchURL       string    `json:"launch_url"`
}

// sessionRecordJSON is a session as GET /sessions lists it.
type sessionRecordJSON struct {
	SessionID      string    `json:"session_id"`
	WorkspaceID    uuid.UUID `json:"workspace_id"`
	Role           string    `json:"role"`
	ExternalUserID *string   `json:"external_user_id"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	IsExpired      bool      `json:"is_expired"`
	SessionType    string    `json:"session_type"`
	Resource       *string   `json:"resource"`
	ResourceID     *string   `json:"resource_id"`
}

var sessionIDPattern = regexp.MustCompile(`^sess_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// mintSession creates a session with body and returns the answer.
func (s *server) mintSession(t *testing.T, body map[string]any) *createdSessionJSON {
	t.Helper()
	var out createdSessionJSON
	if code := s.call(t, "POST", "/api/v1/sessions", body, nil, &out); code != 200 {
		t.Fatalf("create session %v: %d", body, code)
	}
	if !sessionIDPattern.MatchString(out.SessionID) {
		t.Fatalf("session id %q", out.SessionID)
	}
	return &out
}

// createSession creates a session and returns the UUID of its id (sess_<uuid>).
func (s *server) createSession(t *testing.T, body map[string]any) uuid.UUID {
	t.Helper()
	return uuid.MustParse(strings.TrimPrefix(s.mintSession(t, body).SessionID, "sess_"))
}

// listSessions pages through GET /sessions with query (workspace_id and filters) and returns
// the session ids in order, checking the pages.
func (s *server) listSessions(t *testing.T, query string, limit int) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		path := fmt.Sprintf("/api/v1/sessions?%s&limit=%d", query, limit)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var pg page[sessionRecordJSON]
		if code := s.call(t, "GET", path, nil, nil, &pg); code != 200 || pg.Count != len(pg.Records) || pg.Limit != limit ||
			len(pg.Records) > limit {
			t.Fatalf("GET %s: %d %+v", path, code, pg)
		}
		for _, r := range pg.Records {
			ids = append(ids, r.SessionID)
		}
		if pg.NextCursor == nil {
			return ids
		}
		if pages > 50 {
			t.Fatal("paging does not end")
		}
		cursor = *pg.NextCursor
	}
}

func TestSessionsAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		dbURL := d.NewURL(t)
		s := startApp(t, d, func(c *config.Config) {
			c.DatabaseURL = dbURL
			c.PublicURL = "https://switchyard.example.com/"
		})
		ws := s.creds.WorkspaceID

		t.Run("every body rule of the mint is held, each failure naming its field", func(t *testing.T) {
			t.Parallel()
			origins := func(n int) []string {
				var out []string
				for i := range n {
					out = append(out, fmt.Sprintf("https://app%d.example.com", i))
				}
				return out
			}
			scopes := func(n int) []string {
				out := make([]string, n)
				for i := range out {
					out[i] = api.SessionScopePayloadRead
				}
				return out
			}
			resource := map[string]any{"session_type": "resource", "resource": "user", "resource_id": "usr_1"}
			with := func(base map[string]any, kv ...any) map[string]any {
				out := map[string]any{}
				for k, v := range base {
					out[k] = v
				}
				for i := 0; i < len(kv); i += 2 {
					out[kv[i].(string)] = kv[i+1]
				}
				return out
			}
			cases := []struct {
				name   string
				body   map[string]any
				params []string // nil: accepted (200)
			}{
				{"defaults", map[string]any{}, nil},
				{"ttl_seconds 299", with(nil, "ttl_seconds", 299), []string{"ttl_seconds"}},
				{"ttl_seconds 300", with(nil, "ttl_seconds", 300), nil},
				{"ttl_seconds 3600", with(nil, "ttl_seconds", 3600), nil},
				{"ttl_seconds 3601", with(nil, "ttl_seconds", 3601), []string{"ttl_seconds"}},
				{"ttl_seconds 1800.5", with(nil, "ttl_seconds", 1800.5), []string{"ttl_seconds"}},
				{"ttl_seconds as a string", with(nil, "ttl_seconds", "1800"), []string{"ttl_seconds"}},
				{"launch_ttl_seconds 14", with(nil, "launch_ttl_seconds", 14), []string{"launch_ttl_seconds"}},
				{"launch_ttl_seconds 15", with(nil, "launch_ttl_seconds", 15), nil},
				{"launch_ttl_seconds 60", with(nil, "launch_ttl_seconds", 60), nil},
				{"launch_ttl_seconds 61", with(nil, "launch_ttl_seconds", 61), []string{"launch_ttl_seconds"}},
				{"unknown launch_page", with(nil, "launch_page", "settings"), []string{"launch_page"}},
				{"workspace session opening connections", with(nil, "launch_page", "connections"), nil},
				{"resource session opening connections", with(resource, "launch_page", "connections"), []string{"launch_page"}},
				{"resource session opening events", with(resource, "launch_page", "events"), nil},
				{"resource session opening rules", with(resource, "launch_page", "rules"), nil},
				{"dashboard session opening rules", with(nil, "session_type", "dashboard", "launch_page", "rules"), []string{"launch_page"}},
				{"dashboard session opening the dashboard", with(nil, "session_type", "dashboard", "launch_page", "dashboard"), nil},
				{"dashboard session by default", with(nil, "session_type", "dashboard"), nil},
				{"legacy launch_path", with(nil, "launch_path", "/workspace/rules"), nil},
				{"legacy launch_path outside /workspace/", with(nil, "launch_path", "/dashboard"), []string{"launch_path"}},
				{"legacy launch_path against a dashboard session", with(nil, "session_type", "dashboard", "launch_path", "/workspace/events"), []string{"launch_path"}},
				{"resource session without resource", with(resource, "resource", nil), []string{"resource"}},
				{"resource session without resource_id", with(resource, "resource_id", nil), []string{"resource_id"}},
				{"resource session without either", with(nil, "session_type", "resource"), []string{"resource", "resource_id"}},
				{"resource session with a malformed resource", with(resource, "resource", "a b"), []string{"resource"}},
				{"workspace session with a resource", with(nil, "resource", "user"), []string{"resource"}},
				{"dashboard session with a resource id", with(nil, "session_type", "dashboard", "resource_id", "usr_1"), []string{"resource_id"}},
				{"10 origins", with(nil, "allowed_origins", origins(10)), nil},
				{"11 origins", with(nil, "allowed_origins", origins(11)), []string{"allowed_origins"}},
				{"an origin with a path", with(nil, "allowed_origins", []string{"https://app.example.com/embed"}), []string{"allowed_origins[0]"}},
				{"an origin without scheme", with(nil, "allowed_origins", []string{"https://ok.example.com", "app.example.com"}), []string{"allowed_origins[1]"}},
				{"an origin of another scheme", with(nil, "allowed_origins", []string{"ftp://app.example.com"}), []string{"allowed_origins[0]"}},
				{"origins with ports", with(nil, "allowed_origins", []string{"http://localhost:3000", "https://[::1]:8443"}), nil},
				{"20 scopes", with(nil, "scopes", scopes(20), "role", "admin"), nil},
				{"21 scopes", with(nil, "scopes", scopes(21)), []string{"scopes"}},
				{"an unknown scope", with(nil, "scopes", []string{"events.payload:read", "events.payload:write"}), []string{"scopes[1]"}},
				{"external_user_id of 255", with(nil, "external_user_id", strings.Repeat("u", 255)), nil},
				{"external_user_id of 256", with(nil, "external_user_id", strings.Repeat("u", 256)), []string{"external_user_id"}},
				{"unknown session_type", with(nil, "session_type", "embed"), []string{"session_type"}},
				{"unknown role", with(nil, "role", "viewer"), []string{"role"}},
				{"owner role", with(nil, "role", "owner"), nil},
				{"no workspace_id", with(nil, "workspace_id", nil), []string{"workspace_id"}},
				{"a malformed workspace_id", with(nil, "workspace_id", "ws_1"), []string{"workspace_id"}},
				{"everything wrong at once", with(nil, "workspace_id", "x", "role", "x", "session_type", "x", "ttl_seconds", 1,
					"launch_ttl_seconds", 1, "launch_page", "x", "scopes", []string{"x"}), []string{"workspace_id", "role", "session_type",
					"ttl_seconds", "launch_ttl_seconds", "launch_page", "scopes[0]"}},
			}
			for _, c := range cases {
				body := map[string]any{"workspace_id": ws}
				for k, v := range c.body {
					if v == nil {
						delete(body, k)
					} else {
						body[k] = v
					}
				}
				var e apiError
				code := s.call(t, "POST", "/api/v1/sessions", body, nil, &e)
				switch {
				case c.params == nil && code != 200:
					t.Errorf("%s: %d %+v, want 200", c.name, code, e)
				case c.params != nil && (code != 400 || !slices.Equal(e.params(), c.params) || e.Error.Name != "BadRequest" ||
					!strings.Contains(e.Error.Message, c.params[0])):
					t.Errorf("%s: %d %+v, want 400 naming %v", c.name, code, e, c.params)
				}
			}
			if code := s.call(t, "POST", "/api/v1/sessions", map[string]any{"workspace_id": uuid.NewString()}, nil, nil); code != 404 {
				t.Errorf("an unknown workspace: %d, want 404", code)
			}
			if code := s.call(t, "POST", "/api/v1/sessions", "[]", nil, nil); code != 400 {
				t.Errorf("a body that is not an object: %d, want 400", code)
			}
		})

		t.Run("a minted session answers what it grants, and the launch URL carries only the launch token", func(t *testing.T) {
			t.Parallel()
			before := time.Now()
			created := s.mintSession(t, map[string]any{"workspace_id": ws, "role": "admin", "session_type": "resource",
				"resource": "order", "resource_id": "ord_9", "ttl_seconds": 900, "launch_ttl_seconds": 20, "launch_page": "events",
				"external_user_id": "user-1", "allowed_origins": []string{"https://App.example.com"}})
			if created.WorkspaceID != ws || created.Role != "admin" || created.SessionType != "resource" || created.ExpiresIn != 900 ||
				created.Resource == nil || *created.Resource != "order" || created.ResourceID == nil || *created.ResourceID != "ord_9" ||
				created.ExpiresAt.Before(before.Add(899*time.Second)) || created.ExpiresAt.After(time.Now().Add(900*time.Second)) ||
				created.LaunchExpiresAt.Before(before.Add(20*time.Second)) || created.LaunchExpiresAt.After(time.Now().Add(20*time.Second)) {
				t.Fatalf("created %+v", created)
			}
			u, err := url.Parse(created.LaunchURL)
			if err != nil || u.Scheme != "https" || u.Host != "switchyard.example.com" || u.Path != "/embed/launch" ||
				u.Query().Get("launch") != created.LaunchToken || len(u.Query()) != 1 || strings.Contains(created.LaunchURL, created.AccessToken) {
				t.Fatalf("launch URL %q", created.LaunchURL)
			}
			if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(created.LaunchToken) {
				t.Fatalf("launch token %q is not 32 bytes base64url", created.LaunchToken)
			}
			got, err := s.app.VerifySessionToken(context.Background(), created.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != created.SessionID || got.WorkspaceID != ws || got.OrganizationID != s.creds.OrganizationID || got.Role != "admin" ||
				got.Type != "resource" || got.ResourceID != "ord_9" || got.LaunchPage != "events" || *got.ExternalUserID != "user-1" ||
				!slices.Equal(got.AllowedOrigins, []string{"https://app.example.com"}) {
				t.Fatalf("the token grants %+v", got)
			}
			legacy := s.mintSession(t, map[string]any{"workspace_id": ws, "launch_path": "/workspace/rules/123"})
			if got, err := s.app.VerifySessionToken(context.Background(), legacy.AccessToken); err != nil || got.LaunchPage != "rules" {
				t.Fatalf("a legacy launch_path: %+v, %v, want launch page rules", got, err)
			}
		})

		t.Run("lists filter by status and resource and page newest first", func(t *testing.T) {
			t.Parallel()
			lws := s.createWorkspace(t, "Sessions list")
			var all []string
			for i := range 5 {
				body := map[string]any{"workspace_id": lws}
				if i%2 == 1 {
					body["session_type"], body["resource"], body["resource_id"] = "resource", "user", fmt.Sprintf("usr_%d", i)
				}
				all = append(all, s.mintSession(t, body).SessionID)
			}
			slices.Reverse(all) // newest first
			if code := s.call(t, "DELETE", "/api/v1/sessions/"+all[0], nil, nil, nil); code != 200 {
				t.Fatalf("revoke: %d", code)
			}
			q := "workspace_id=" + lws.String()
			for _, c := range []struct {
				query string
				want  []string
			}{
				{q, all},
				{q + "&status=active", all[1:]},
				{q + "&status=revoked", all[:1]},
				{q + "&resource=user", []string{all[1], all[3]}},
				{q + "&resource=user&resource_id=usr_1", []string{all[3]}},
				{q + "&resource=order", nil},
			} {
				for _, limit := range []int{1, 2, 50} {
					if got := s.listSessions(t, c.query, limit); !slices.Equal(got, c.want) {
						t.Errorf("%s (limit %d): %v, want %v", c.query, limit, got, c.want)
					}
				}
			}
			var pg page[sessionRecordJSON]
			if code := s.call(t, "GET", "/api/v1/sessions?"+q+"&limit=5", nil, nil, &pg); code != 200 || pg.Count != 5 {
				t.Fatalf("list: %d %+v", code, pg)
			}
			for _, r := range pg.Records {
				wantStatus := "active"
				if r.SessionID == all[0] {
					wantStatus = "revoked"
				}
				if r.WorkspaceID != lws || r.Status != wantStatus || r.IsExpired || r.Role != "member" || r.CreatedAt.IsZero() ||
					!r.ExpiresAt.After(r.CreatedAt) || (r.SessionType == "resource") != (r.Resource != nil && r.ResourceID != nil) {
					t.Errorf("record %+v", r)
				}
			}
			// The other workspace's sessions are not in this list.
			for _, id := range s.listSessions(t, "workspace_id="+ws.String(), 200) {
				if slices.Contains(all, id) {
					t.Fatalf("the default workspace lists %s of another workspace", id)
				}
			}
			for _, bad := range []struct{ query, param string }{
				{"", "workspace_id"},
				{"workspace_id=nope", "workspace_id"},
				{q + "&status=expired", "status"},
				{q + "&limit=0", "limit"},
				{q + "&limit=201", "limit"},
				{q + "&cursor=not*a*cursor", "cursor"},
				{q + "&cursor=bm90LWEtY3Vyc29y", "cursor"},
				{q + "&resource=a%20b", "resource"},
			} {
				var e apiError
				if code := s.call(t, "GET", "/api/v1/sessions?"+bad.query, nil, nil, &e); code != 400 || !slices.Contains(e.params(), bad.param) {
					t.Errorf("GET /sessions?%s: %d %+v, want 400 naming %s", bad.query, code, e, bad.param)
				}
			}
			if code := s.call(t, "GET", "/api/v1/sessions?workspace_id="+uuid.NewString(), nil, nil, nil); code != 404 {
				t.Errorf("an unknown workspace: %d, want 404", code)
			}
		})

		t.Run("a refresh keeps the session id and replaces the token; revoked sessions refresh no more; revoking is idempotent", func(t *testing.T) {
			t.Parallel()
			created := s.mintSession(t, map[string]any{"workspace_id": ws, "ttl_seconds": 300})
			var refreshed map[string]any
			if code := s.call(t, "POST", "/api/v1/sessions/"+created.SessionID+"/refresh", nil, nil, &refreshed); code != 200 {
				t.Fatalf("refresh: %d %v", code, refreshed)
			}
			access, _ := refreshed["access_token"].(string)
			if refreshed["session_id"] != created.SessionID || access == "" || access == created.AccessToken || refreshed["expires_in"] != 300.0 ||
				refreshed["launch_url"] != nil || refreshed["launch_token"] != nil {
				t.Fatalf("refresh answered %v", refreshed)
			}
			if _, err := s.app.VerifySessionToken(context.Background(), created.AccessToken); !errors.Is(err, api.ErrInvalidSessionToken) {
				t.Fatalf("the replaced token: %v, want it refused", err)
			}
			if _, err := s.app.VerifySessionToken(context.Background(), access); err != nil {
				t.Fatalf("the new token: %v", err)
			}
			for range 2 {
				var out map[string]any
				if code := s.call(t, "DELETE", "/api/v1/sessions/"+created.SessionID, nil, nil, &out); code != 200 || len(out) != 1 || out["revoked"] != true {
					t.Fatalf("revoke: %d %v", code, out)
				}
			}
			if _, err := s.app.VerifySessionToken(context.Background(), access); !errors.Is(err, api.ErrInvalidSessionToken) {
				t.Fatalf("the token of a revoked session: %v, want it refused", err)
			}
			var e apiError
			if code := s.call(t, "POST", "/api/v1/sessions/"+created.SessionID+"/refresh", nil, nil, &e); code != 409 || e.Error.Name != "Conflict" {
				t.Fatalf("refreshing a revoked session: %d %+v, want 409", code, e)
			}
			for _, path := range []string{"/api/v1/sessions/sess_" + uuid.NewString(), "/api/v1/sessions/sess_" + uuid.NewString() + "/refresh"} {
				method := map[bool]string{true: "POST", false: "DELETE"}[strings.HasSuffix(path, "/refresh")]
				if code := s.call(t, method, path, nil, nil, &e); code != 404 {
					t.Errorf("%s %s (unknown): %d, want 404", method, path, code)
				}
				bad := strings.Replace(path, "sess_", "", 1)
				if code := s.call(t, method, bad, nil, nil, &e); code != 400 || !slices.Contains(e.params(), "session_id") {
					t.Errorf("%s %s (malformed): %d %+v, want 400 naming session_id", method, bad, code, e)
				}
			}
		})

		t.Run("another organization's sessions are 404; a key limited to another workspace gets 403 or 404", func(t *testing.T) {
			t.Parallel()
			other := s.otherTenant(t)
			created := s.mintSession(t, map[string]any{"workspace_id": ws})
			for _, c := range []struct{ method, path string }{
				{"POST", "/api/v1/sessions/" + created.SessionID + "/refresh"},
				{"DELETE", "/api/v1/sessions/" + created.SessionID},
				{"GET", "/api/v1/sessions?workspace_id=" + ws.String()},
			} {
				if code := other.call(t, c.method, c.path, nil, nil, nil); code != 404 {
					t.Errorf("another organization: %s %s: %d, want 404", c.method, c.path, code)
				}
			}
			if code := other.call(t, "POST", "/api/v1/sessions", map[string]any{"workspace_id": ws}, nil, nil); code != 404 {
				t.Errorf("another organization minting in this workspace: %d, want 404", code)
			}
			elsewhere := s.createWorkspace(t, "Sessions elsewhere")
			limited, _ := s.createKey(t, "sessions elsewhere", []uuid.UUID{elsewhere})
			for _, c := range []struct {
				method, path string
				body         any
				want         int
			}{
				{"POST", "/api/v1/sessions", map[string]any{"workspace_id": ws}, 403},
				{"POST", "/api/v1/sessions", map[string]any{"workspace_id": uuid.NewString()}, 403}, // before any lookup
				{"GET", "/api/v1/sessions?workspace_id=" + ws.String(), nil, 403},
				{"POST", "/api/v1/sessions/" + created.SessionID + "/refresh", nil, 404},
				{"DELETE", "/api/v1/sessions/" + created.SessionID, nil, 404},
			} {
				if code := limited.call(t, c.method, c.path, c.body, nil, nil); code != c.want {
					t.Errorf("a key limited to another workspace: %s %s: %d, want %d", c.method, c.path, code, c.want)
				}
			}
			if _, err := s.app.VerifySessionToken(context.Background(), created.AccessToken); err != nil {
				t.Fatalf("the session after the intrusions: %v", err)
			}
			if code := limited.call(t, "POST", "/api/v1/sessions", map[string]any{"workspace_id": elsewhere}, nil, nil); code != 200 {
				t.Errorf("the limited key in its own workspace: %d, want 200", code)
			}
		})

		t.Run("no token is stored in clear", func(t *testing.T) {
			t.Parallel()
			created := s.mintSession(t, map[string]any{"workspace_id": ws})
			var refreshed createdSessionJSON
			if code := s.call(t, "POST", "/api/v1/sessions/"+created.SessionID+"/refresh", nil, nil, &refreshed); code != 200 {
				t.Fatalf("refresh: %d", code)
			}
			rows := readSessionsTable(t, d, dbURL)
			if len(rows) == 0 {
				t.Fatal("the sessions table is empty")
			}
			row := ""
			for _, r := range rows {
				if strings.Contains(r, strings.TrimPrefix(created.SessionID, "sess_")) {
					row = r
				}
				for _, token := range []string{created.AccessToken, created.LaunchToken, refreshed.AccessToken} {
					// The whole token, and any of its parts (a JWT's signature is its secret part).
					for _, part := range strings.Split(token, ".") {
						if strings.Contains(r, part) {
							t.Fatalf("the sessions table holds token text %q: %s", part, r)
						}
					}
				}
			}
			if row == "" {
				t.Fatal("the session's row is not in the table")
			}
		})
	})
}

// readSessionsTable returns every row of the sessions table, each as the text of all its
// columns, read with a connection of its own.
func readSessionsTable(t *testing.T, d storetest.Dialect, dbURL string) []string {
	t.Helper()
	driver, dsn := "sqlite", strings.TrimPrefix(dbURL, "sqlite://")
	if d.Name == "postgres" {
		driver, dsn = "pgx", storetest.DriverURL(t, dbURL)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT * FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			if raw, ok := v.([]byte); ok {
				v = string(raw)
			}
			fmt.Fprintf(&b, "%s=%v ", cols[i], v)
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
