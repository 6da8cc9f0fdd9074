package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// sessionClock is a clock the test moves by hand (and sets: expiries are absolute).
type sessionClock struct{ micros atomic.Int64 }

func newSessionClock(at time.Time) *sessionClock {
	c := &sessionClock{}
	c.micros.Store(at.UnixMicro())
	return c
}

func (c *sessionClock) now() time.Time          { return time.UnixMicro(c.micros.Load()).UTC() }
func (c *sessionClock) advance(d time.Duration) { c.micros.Add(d.Microseconds()) }
func (c *sessionClock) set(at time.Time)        { c.micros.Store(at.UnixMicro()) }

// sessionFixture is a Server on a real store of one dialect with a frozen clock, and a tenant.
type sessionFixture struct {
	srv   *Server
	db    store.Store
	clock *sessionClock
	tn    *storetest.Tenant
	p     *principal
	key   []byte
}

func newSessionFixture(t *testing.T, d storetest.Dialect) *sessionFixture {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), d.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, err := secret.DeriveKey(secret.GenerateKey(), SessionKeyLabel)
	if err != nil {
		t.Fatal(err)
	}
	clock := newSessionClock(time.Now().UTC())
	srv := New(Config{Store: db, Now: clock.now, SessionKey: key, PublicURL: "https://sy.example.com/"})
	t.Cleanup(srv.Close)
	tn := storetest.NewTenant(t, db)
	return &sessionFixture{srv: srv, db: db, clock: clock, tn: tn, key: key,
		p: &principal{OrganizationID: tn.Org.ID, Key: tn.Key}}
}

// mint creates a session with spec's overrides through the handler's own path.
func (f *sessionFixture) mint(t *testing.T, body string) *createdSessionJSON {
	t.Helper()
	rec := f.do(t, f.srv.sessionCreate, "POST", "", body)
	if rec.Code != http.StatusOK {
		t.Fatalf("mint: %d %s", rec.Code, rec.Body)
	}
	var out createdSessionJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// do calls a session handler as the tenant's owner key, with sessionID as the path's
// session_id.
func (f *sessionFixture) do(t *testing.T, h handlerFunc, method, sessionID, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "/api/v1/sessions", strings.NewReader(body))
	req.SetPathValue("session_id", sessionID)
	req = req.WithContext(context.WithValue(req.Context(), principalKey, f.p))
	rec := httptest.NewRecorder()
	f.srv.handle(h).ServeHTTP(rec, req)
	return rec
}

func (f *sessionFixture) body() string {
	return `{"workspace_id":"` + f.tn.Workspace.ID.String() + `"}`
}

// wantRefused checks that token does not verify, with ErrInvalidSessionToken.
func wantRefused(t *testing.T, srv *Server, token, why string) {
	t.Helper()
	got, err := srv.VerifySessionToken(context.Background(), token)
	if !errors.Is(err, ErrInvalidSessionToken) || got != nil {
		t.Fatalf("%s: verified as %+v, %v; want ErrInvalidSessionToken", why, got, err)
	}
	if switchyard.ErrorCode(err) != switchyard.EUNAUTHORIZED {
		t.Fatalf("%s: code %q, want unauthorized", why, switchyard.ErrorCode(err))
	}
}

func TestSessionTokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		t.Run("a valid token verifies, with what the session grants", func(t *testing.T) {
			t.Parallel()
			f := newSessionFixture(t, d)
			created := f.mint(t, `{"workspace_id":"`+f.tn.Workspace.ID.String()+`","role":"admin","session_type":"resource",
				"resource":"user","resource_id":"usr_1","external_user_id":"u-7","scopes":["events.payload:read"],
				"allowed_origins":["https://App.Example.com:443/"],"launch_page":"events","ttl_seconds":600}`)
			got, err := f.srv.VerifySessionToken(context.Background(), created.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != created.SessionID || got.OrganizationID != f.tn.Org.ID || got.WorkspaceID != f.tn.Workspace.ID ||
				got.Role != "admin" || got.Type != "resource" || got.Resource != "user" || got.ResourceID != "usr_1" ||
				got.ExternalUserID == nil || *got.ExternalUserID != "u-7" || len(got.Scopes) != 1 || got.LaunchPage != "events" ||
				len(got.AllowedOrigins) != 1 || got.AllowedOrigins[0] != "https://app.example.com" || !got.ExpiresAt.Equal(created.ExpiresAt) {
				t.Fatalf("verified %+v from %+v", got, created)
			}
			if created.ExpiresIn != 600 || created.ExpiresAt.Sub(f.clock.now()) > 600*time.Second ||
				created.ExpiresAt.Sub(f.clock.now()) <= 599*time.Second {
				t.Fatalf("expires_in %d, expires_at %s at %s", created.ExpiresIn, created.ExpiresAt, f.clock.now())
			}
			if want := "https://sy.example.com/embed/launch?launch=" + created.LaunchToken; created.LaunchURL != want ||
				strings.Contains(created.LaunchURL, created.AccessToken) {
				t.Fatalf("launch URL %q, want %q", created.LaunchURL, want)
			}
			// Another node deriving the key from the same encryption key verifies it too.
			other := New(Config{Store: f.db, Now: f.clock.now, SessionKey: f.key})
			t.Cleanup(other.Close)
			if _, err := other.VerifySessionToken(context.Background(), created.AccessToken); err != nil {
				t.Fatalf("another node with the same key: %v", err)
			}
		})

		t.Run("an expired token is refused", func(t *testing.T) {
			t.Parallel()
			f := newSessionFixture(t, d)
			created := f.mint(t, f.body()) // 1800 s
			f.clock.set(created.ExpiresAt.Add(-time.Second))
			if _, err := f.srv.VerifySessionToken(context.Background(), created.AccessToken); err != nil {
				t.Fatalf("a second before expiry: %v", err)
			}
			f.clock.set(created.ExpiresAt)
			wantRefused(t, f.srv, created.AccessToken, "at its expiry")
			// Refreshing an expired session is 409: the host must mint a new one.
			if rec := f.do(t, f.srv.sessionRefresh, "POST", created.SessionID, ""); rec.Code != http.StatusConflict {
				t.Fatalf("refreshing an expired session: %d %s, want 409", rec.Code, rec.Body)
			}
		})

		t.Run("a revoked session's token is refused, and revoking again answers the same", func(t *testing.T) {
			t.Parallel()
			f := newSessionFixture(t, d)
			created := f.mint(t, f.body())
			for range 2 {
				rec := f.do(t, f.srv.sessionRevoke, "DELETE", created.SessionID, "")
				if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"revoked":true}` {
					t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
				}
			}
			wantRefused(t, f.srv, created.AccessToken, "revoked")
			if rec := f.do(t, f.srv.sessionRefresh, "POST", created.SessionID, ""); rec.Code != http.StatusConflict {
				t.Fatalf("refreshing a revoked session: %d %s, want 409", rec.Code, rec.Body)
			}
			if _, err := f.srv.TakeSessionLaunch(context.Background(), created.LaunchToken); !errors.Is(err, ErrInvalidSessionToken) {
				t.Fatalf("the launch token of a revoked session: %v", err)
			}
		})

		t.Run("a refresh replaces the token: the old one is refused, the new one verifies for the session's lifetime", func(t *testing.T) {
			t.Parallel()
			f := newSessionFixture(t, d)
			created := f.mint(t, `{"workspace_id":"`+f.tn.Workspace.ID.String()+`","ttl_seconds":300}`)
			f.clock.advance(100 * time.Second)
			rec := f.do(t, f.srv.sessionRefresh, "POST", created.SessionID, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("refresh: %d %s", rec.Code, rec.Body)
			}
			var refreshed map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &refreshed); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"launch_token", "launch_url", "launch_expires_at"} {
				if _, ok := refreshed[k]; ok {
					t.Fatalf("the refresh answer has %s: %s", k, rec.Body)
				}
			}
			access, _ := refreshed["access_token"].(string)
			if refreshed["session_id"] != created.SessionID || access == "" || access == created.AccessToken ||
				refreshed["expires_in"] != 300.0 || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("refresh answered %s", rec.Body)
			}
			wantRefused(t, f.srv, created.AccessToken, "the token a refresh replaced")
			got, err := f.srv.VerifySessionToken(context.Background(), access)
			if err != nil {
				t.Fatal(err)
			}
			if want := created.ExpiresAt.Add(100 * time.Second); !got.ExpiresAt.Equal(want) {
				t.Fatalf("expiry after the refresh %s, want %s", got.ExpiresAt, want)
			}
			// Past the first token's expiry the refreshed session lives on.
			f.clock.set(created.ExpiresAt.Add(time.Second))
			if _, err := f.srv.VerifySessionToken(context.Background(), access); err != nil {
				t.Fatalf("the refreshed token after the first one's expiry: %v", err)
			}
		})

		t.Run("forged tokens are refused: another key, alg none, other algorithms, altered claims, garbage", func(t *testing.T) {
			t.Parallel()
			f := newSessionFixture(t, d)
			created := f.mint(t, f.body())
			parts := strings.Split(created.AccessToken, ".")
			if len(parts) != 3 {
				t.Fatalf("token %q", created.AccessToken)
			}
			b64 := base64.RawURLEncoding.EncodeToString
			stranger := New(Config{Store: f.db, Now: f.clock.now}) // a random key of its own
			t.Cleanup(stranger.Close)
			wantRefused(t, stranger, created.AccessToken, "verified with another key")
			signedElsewhere, err := stranger.mintSessionToken(&store.Session{ID: uuid.MustParse(strings.TrimPrefix(created.SessionID, "sess_")),
				OrganizationID: f.tn.Org.ID, WorkspaceID: f.tn.Workspace.ID, Role: "owner", Type: "workspace",
				ExpiresAt: f.clock.now().Add(time.Hour)}, f.clock.now())
			if err != nil {
				t.Fatal(err)
			}
			wantRefused(t, f.srv, signedElsewhere, "signed with another key")

			claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
			altered := strings.Replace(string(claims), `"role":"member"`, `"role":"owner"`, 1)
			if altered == string(claims) {
				t.Fatalf("claims %s have no member role", claims)
			}
			for _, c := range []struct{ why, token string }{
				{"alg none, no signature", b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."},
				{"alg none, the real signature", b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]},
				{"alg HS512", b64([]byte(`{"alg":"HS512","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]},
				{"alg hs256", b64([]byte(`{"alg":"hs256","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]},
				{"a critical header", b64([]byte(`{"alg":"HS256","typ":"JWT","crit":["exp"]}`)) + "." + parts[1] + "." + parts[2]},
				{"altered claims", parts[0] + "." + b64([]byte(altered)) + "." + parts[2]},
				{"no signature", parts[0] + "." + parts[1] + "."},
				{"two parts", parts[0] + "." + parts[1]},
				{"four parts", created.AccessToken + ".x"},
				{"padding", created.AccessToken + "="},
				{"empty", ""},
				{"the launch token", created.LaunchToken},
				{"too long", created.AccessToken + strings.Repeat("A", maxSessionTokenBytes)},
			} {
				wantRefused(t, f.srv, c.token, c.why)
			}
			// The original still verifies: the refusals are about the forgeries.
			if _, err := f.srv.VerifySessionToken(context.Background(), created.AccessToken); err != nil {
				t.Fatalf("the genuine token: %v", err)
			}
		})

		t.Run("a token of a session the store does not have is refused", func(t *testing.T) {
			t.Parallel()
			f := newSessionFixture(t, d)
			ghost, err := f.srv.mintSessionToken(&store.Session{ID: uuid.New(), OrganizationID: f.tn.Org.ID, WorkspaceID: f.tn.Workspace.ID,
				Role: "member", Type: "workspace", ExpiresAt: f.clock.now().Add(time.Hour)}, f.clock.now())
			if err != nil {
				t.Fatal(err)
			}
			wantRefused(t, f.srv, ghost, "no such session")
		})

		t.Run("a launch token is taken once, within its lifetime", func(t *testing.T) {
			t.Parallel()
			f := newSessionFixture(t, d)
			created := f.mint(t, `{"workspace_id":"`+f.tn.Workspace.ID.String()+`","launch_ttl_seconds":15,"launch_page":"rules"}`)
			if got := created.LaunchExpiresAt.Sub(f.clock.now()); got != 15*time.Second {
				t.Fatalf("launch expires in %s, want 15s", got)
			}
			got, err := f.srv.TakeSessionLaunch(context.Background(), created.LaunchToken)
			if err != nil || got.ID != created.SessionID || got.LaunchPage != "rules" {
				t.Fatalf("take: %+v, %v", got, err)
			}
			if _, err := f.srv.TakeSessionLaunch(context.Background(), created.LaunchToken); !errors.Is(err, ErrInvalidSessionToken) {
				t.Fatalf("taken twice: %v", err)
			}
			late := f.mint(t, f.body())
			f.clock.advance(30 * time.Second)
			if _, err := f.srv.TakeSessionLaunch(context.Background(), late.LaunchToken); !errors.Is(err, ErrInvalidSessionToken) {
				t.Fatalf("an expired launch token: %v", err)
			}
			if _, err := f.srv.TakeSessionLaunch(context.Background(), late.AccessToken); !errors.Is(err, ErrInvalidSessionToken) {
				t.Fatalf("an access token as a launch token: %v", err)
			}
		})
	})
}

func TestNormalizeOrigin(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"https://app.example.com":        "https://app.example.com",
		"https://App.Example.COM/":       "https://app.example.com",
		"https://app.example.com:443":    "https://app.example.com",
		"http://app.example.com:80":      "http://app.example.com",
		"http://localhost:3000":          "http://localhost:3000",
		"HTTP://127.0.0.1:8080":          "http://127.0.0.1:8080",
		"https://[::1]:8443":             "https://[::1]:8443",
		"https://[2001:DB8::1]":          "https://[2001:db8::1]",
		"https://app.example.com:08443/": "https://app.example.com:8443",
	}
	for in, want := range good {
		if got, ok := normalizeOrigin(in); !ok || got != want {
			t.Errorf("normalizeOrigin(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "app.example.com", "//app.example.com", "https://", "https://app.example.com/path",
		"https://app.example.com?x=1", "https://app.example.com/#f", "https://app.example.com?", "https://user@app.example.com",
		"ftp://app.example.com", "javascript:alert(1)", "https://app.example.com:", "https://app.example.com:99999",
		"https://app.example.com:0", "https://app.example.com:x", "null", "https://app.example.com/ "} {
		if got, ok := normalizeOrigin(in); ok {
			t.Errorf("normalizeOrigin(%q) accepted as %q", in, got)
		}
	}
}
