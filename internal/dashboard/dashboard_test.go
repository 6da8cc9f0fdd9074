package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/api"
	"github.com/switchyardhq/switchyard/internal/dashboard"
	"github.com/switchyardhq/switchyard/internal/delivery"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// noKeys is a Keys that is never called by these tests' pages.
type noKeys struct{}

func (noKeys) CreateMachineKey(context.Context, uuid.UUID, *string, []string, []string) (*api.MachineKeyJSON, error) {
	return nil, &switchyard.Error{Code: switchyard.ENOTFOUND, Message: "unused"}
}
func (noKeys) RevokeMachineKey(context.Context, uuid.UUID, uuid.UUID) (*switchyard.MachineKey, error) {
	return nil, &switchyard.Error{Code: switchyard.ENOTFOUND, Message: "unused"}
}
func (noKeys) RotatePublishableKey(context.Context, uuid.UUID, uuid.UUID) (*switchyard.Workspace, error) {
	return nil, &switchyard.Error{Code: switchyard.ENOTFOUND, Message: "unused"}
}

// clock is a settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	st    store.Store
	org   uuid.UUID
	srv   *httptest.Server
	clock *clock
}

func setup(t *testing.T, d storetest.Dialect, publicURL string) *fixture {
	t.Helper()
	return setupWith(t, d, publicURL, nil)
}

// setupWith is setup with the delivery engine's health report stubbed by health.
func setupWith(t *testing.T, d storetest.Dialect, publicURL string, health func(*storetest.Tenant) []delivery.ConnectionHealth) *fixture {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), d.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tn := storetest.NewTenant(t, db)
	c := &clock{now: time.Now().UTC()}
	cfg := dashboard.Config{Store: db, Keys: noKeys{}, PublicURL: publicURL, Now: c.Now}
	if health != nil {
		cfg.Health = func(context.Context, time.Time) ([]delivery.ConnectionHealth, error) { return health(tn), nil }
	}
	h := dashboard.New(cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{st: db, org: tn.Org.ID, srv: srv, clock: c}
}

// client never follows redirects: the tests look at them.
var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (f *fixture) do(t *testing.T, method, path string, cookie *http.Cookie, form url.Values, headers map[string]string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// login issues a login URL and spends it; it returns the session cookie and the response.
func (f *fixture) login(t *testing.T) (*http.Cookie, *http.Response) {
	t.Helper()
	link, _, err := dashboard.IssueLogin(context.Background(), f.st, f.org, f.srv.URL, dashboard.LoginTTL, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	resp, body := f.do(t, "GET", u.RequestURI(), nil, nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/" {
		t.Fatalf("login: %d %s %.200s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	cs := resp.Cookies()
	if len(cs) != 1 {
		t.Fatalf("login set %d cookies", len(cs))
	}
	return cs[0], resp
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in %.300s", page)
	}
	return m[1]
}

func TestLoginTokensAndSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		f := setup(t, d, "")
		t.Run("a login URL starts a session once and leaves the address bar", func(t *testing.T) {
			link, expires, err := dashboard.IssueLogin(context.Background(), f.st, f.org, f.srv.URL+"/", dashboard.LoginTTL, f.clock.Now())
			if err != nil || !strings.HasPrefix(link, f.srv.URL+"/dashboard/login?token=") || expires.Sub(f.clock.Now()) > dashboard.LoginTTL {
				t.Fatalf("IssueLogin: %q %v %v", link, expires, err)
			}
			token, _ := url.Parse(link)
			if raw := token.Query().Get("token"); len(raw) != 43 {
				t.Fatalf("token %q: want 32 bytes base64url (43 characters)", raw)
			}
			resp, _ := f.do(t, "GET", token.RequestURI(), nil, nil, nil)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/" ||
				resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("first use: %d %v", resp.StatusCode, resp.Header)
			}
			cookie := resp.Cookies()[0]
			if r, body := f.do(t, "GET", "/dashboard/", cookie, nil, nil); r.StatusCode != 200 || !strings.Contains(body, "<h1>Overview</h1>") {
				t.Fatalf("overview with the session: %d %.200s", r.StatusCode, body)
			}
			r, body := f.do(t, "GET", token.RequestURI(), nil, nil, nil)
			if r.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "invalid, expired or already used") || len(r.Cookies()) != 0 {
				t.Fatalf("second use: %d %.300s", r.StatusCode, body)
			}
		})
		t.Run("an expired or unknown login token is refused with a clear page", func(t *testing.T) {
			link, _, err := dashboard.IssueLogin(context.Background(), f.st, f.org, f.srv.URL, time.Minute, f.clock.Now().Add(-2*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(link)
			for _, path := range []string{u.RequestURI(), "/dashboard/login?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "/dashboard/login"} {
				r, body := f.do(t, "GET", path, nil, nil, nil)
				if r.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "invalid, expired or already used") {
					t.Errorf("%s: %d %.300s", path, r.StatusCode, body)
				}
			}
		})
		t.Run("pages need a session, and a session ends after its fixed lifetime", func(t *testing.T) {
			for _, path := range []string{"/dashboard/", "/dashboard/workspaces", "/dashboard/keys"} {
				if r, body := f.do(t, "GET", path, nil, nil, nil); r.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "switchyard dashboard") {
					t.Errorf("%s without a session: %d", path, r.StatusCode)
				}
			}
			forged := &http.Cookie{Name: dashboard.CookieName, Value: "forged"}
			if r, _ := f.do(t, "GET", "/dashboard/", forged, nil, nil); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("a forged session: %d", r.StatusCode)
			}
			cookie, _ := f.login(t)
			f.clock.Add(dashboard.SessionTTL - time.Minute)
			if r, _ := f.do(t, "GET", "/dashboard/", cookie, nil, nil); r.StatusCode != 200 {
				t.Fatalf("before expiry: %d", r.StatusCode)
			}
			f.clock.Add(2 * time.Minute)
			if r, _ := f.do(t, "GET", "/dashboard/", cookie, nil, nil); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("after expiry: %d", r.StatusCode)
			}
		})
	})
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	d := storetest.Dialects(t)[0]
	t.Run("plain http (development)", func(t *testing.T) {
		t.Parallel()
		f := setup(t, d, "")
		_, resp := f.login(t)
		raw := resp.Header.Get("Set-Cookie")
		for _, want := range []string{dashboard.CookieName + "=", "Path=/dashboard", "HttpOnly", "SameSite=Strict", "Max-Age=43200"} {
			if !strings.Contains(raw, want) {
				t.Errorf("Set-Cookie %q lacks %q", raw, want)
			}
		}
		if strings.Contains(raw, "Secure") {
			t.Errorf("Set-Cookie %q is Secure over plain http", raw)
		}
	})
	t.Run("https public URL", func(t *testing.T) {
		t.Parallel()
		f := setup(t, d, "https://switchyard.example.com")
		_, resp := f.login(t)
		raw := resp.Header.Get("Set-Cookie")
		for _, want := range []string{dashboard.SecureCookieName + "=", "Path=/dashboard", "HttpOnly", "SameSite=Strict", "; Secure"} {
			if !strings.Contains(raw, want) {
				t.Errorf("Set-Cookie %q lacks %q", raw, want)
			}
		}
	})
}

func TestCSRFAndOriginChecks(t *testing.T) {
	t.Parallel()
	f := setup(t, storetest.Dialects(t)[0], "")
	cookie, _ := f.login(t)
	_, page := f.do(t, "GET", "/dashboard/", cookie, nil, nil)
	token := csrfOf(t, page)
	other, _ := f.login(t)
	_, otherPage := f.do(t, "GET", "/dashboard/", other, nil, nil)
	if csrfOf(t, otherPage) == token {
		t.Fatal("two sessions share a CSRF token")
	}
	// One character changed: always wrong (an "x" written over the first was the token itself
	// whenever it began with one, 1 run in 64).
	wrong := string(token[0]^1) + token[1:]
	for _, c := range []struct {
		name    string
		form    url.Values
		headers map[string]string
	}{
		{"no token", url.Values{}, nil},
		{"a wrong token", url.Values{"csrf": {wrong}}, nil},
		{"another session's token", url.Values{"csrf": {csrfOf(t, otherPage)}}, nil},
		{"a cross-site Sec-Fetch-Site", url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"a same-site Sec-Fetch-Site", url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"another Origin", url.Values{"csrf": {token}}, map[string]string{"Origin": "https://evil.example"}},
	} {
		r, body := f.do(t, "POST", "/dashboard/logout", cookie, c.form, c.headers)
		if r.StatusCode != http.StatusForbidden || !strings.Contains(body, "Request refused") {
			t.Errorf("%s: %d, want 403", c.name, r.StatusCode)
		}
	}
	if r, _ := f.do(t, "GET", "/dashboard/", cookie, nil, nil); r.StatusCode != 200 {
		t.Fatalf("the session after refused logouts: %d", r.StatusCode)
	}
	if r, _ := f.do(t, "GET", "/dashboard/logout", cookie, nil, nil); r.StatusCode == http.StatusSeeOther {
		t.Fatal("GET logged out")
	}
	r, _ := f.do(t, "POST", "/dashboard/logout", cookie, url.Values{"csrf": {token}},
		map[string]string{"Origin": f.srv.URL, "Sec-Fetch-Site": "same-origin"})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/dashboard/signed-out" {
		t.Fatalf("logout: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if c := r.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("logout cookies: %v", c)
	}
	if r, _ := f.do(t, "GET", "/dashboard/", cookie, nil, nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the session after logout: %d", r.StatusCode)
	}
	if r, _ := f.do(t, "GET", "/dashboard/", other, nil, nil); r.StatusCode != 200 {
		t.Fatalf("another session after this one's logout: %d", r.StatusCode)
	}
}

// TestOverviewShowsOpenCircuits checks the overview lists the engine's open circuits and pauses
// for this organization's connections only.
func TestOverviewShowsOpenCircuits(t *testing.T) {
	until := time.Now().Add(30 * time.Second).UTC()
	foreign := uuid.New()
	f := setupWith(t, storetest.Dialects(t)[0], "", func(tn *storetest.Tenant) []delivery.ConnectionHealth {
		return []delivery.ConnectionHealth{
			{ConnectionID: tn.Connection.ID, Circuit: "open", OpenUntil: until, Failures: 5},
			{ConnectionID: foreign, Circuit: "half-open"},
		}
	})
	cookie, _ := f.login(t)
	resp, page := f.do(t, "GET", "/dashboard/", cookie, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("overview: %d", resp.StatusCode)
	}
	if !strings.Contains(page, `data-circuit="open"`) {
		t.Errorf("overview does not show the open circuit:\n%.2000s", page)
	}
	if strings.Contains(page, "half-open") {
		t.Errorf("overview shows another organization's connection")
	}
	if strings.Contains(page, "Every circuit is closed") {
		t.Errorf("overview says every circuit is closed while one is open")
	}

	f = setupWith(t, storetest.Dialects(t)[0], "", func(*storetest.Tenant) []delivery.ConnectionHealth { return nil })
	cookie, _ = f.login(t)
	if _, page = f.do(t, "GET", "/dashboard/", cookie, nil, nil); !strings.Contains(page, "Every circuit is closed") {
		t.Errorf("overview without open circuits:\n%.2000s", page)
	}
}
