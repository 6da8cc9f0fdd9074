package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// oneKey is a KeySource holding one machine key, for checking minted tokens with the server's
// own verifier.
type oneKey struct {
	key    *switchyard.MachineKey
	secret string
}

func (k oneKey) MachineKeySecret(_ context.Context, accessKey string) (*switchyard.MachineKey, []byte, error) {
	if accessKey != k.key.AccessKey {
		return nil, nil, auth.ErrKeyNotFound
	}
	return k.key, []byte(k.secret), nil
}

func TestMachineKeyTokens(t *testing.T) {
	t.Parallel()
	org := uuid.New()
	mk := MachineKey{AccessKey: "mk_0123456789abcdefghijklmn", SecretKey: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", OrgID: org}
	keys := oneKey{key: &switchyard.MachineKey{ID: uuid.New(), OrganizationID: org, AccessKey: mk.AccessKey}, secret: mk.SecretKey}

	start := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	now := start
	c, err := New("http://127.0.0.1:1", WithMachineKey(mk), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	verify := func(tok string, at time.Time) (*auth.Claims, error) {
		v := &auth.Verifier{Keys: keys, Now: func() time.Time { return at }}
		return v.Verify(context.Background(), tok)
	}

	first, err := c.machine.token()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the token is what the server's verifier accepts", func(t *testing.T) {
		claims, err := verify(first, start)
		if err != nil {
			t.Fatal(err)
		}
		if claims.OrganizationID != org || !claims.IssuedAt.Equal(start) || claims.ExpiresAt.Sub(claims.IssuedAt) != 30*time.Second {
			t.Fatalf("claims %+v", claims)
		}
		same, err := auth.Mint(mk.AccessKey, mk.SecretKey, org, start, 30*time.Second)
		if err != nil || same != first {
			t.Fatalf("not byte for byte auth.Mint's token: %v", err)
		}
	})

	t.Run("the token is reused while it has more than 10 seconds left", func(t *testing.T) {
		now = start.Add(19 * time.Second)
		tok, err := c.machine.token()
		if err != nil || tok != first {
			t.Fatalf("at +19s: new token (%v)", err)
		}
	})

	t.Run("a new token is minted when 10 seconds or less are left", func(t *testing.T) {
		now = start.Add(20 * time.Second)
		tok, err := c.machine.token()
		if err != nil || tok == first {
			t.Fatalf("at +20s: same token (%v)", err)
		}
		if _, err := verify(tok, start.Add(45*time.Second)); err != nil {
			t.Fatalf("the renewed token at +45s: %v", err)
		}
		if _, err := verify(first, start.Add(45*time.Second)); err == nil {
			t.Fatal("the first token still verifies at +45s")
		}
	})

	t.Run("a request carries the current token", func(t *testing.T) {
		now = start.Add(time.Hour)
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/api/v1/workspaces", nil)
		if err := c.authorize(req, false); err != nil {
			t.Fatal(err)
		}
		tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if !ok {
			t.Fatalf("Authorization %q", req.Header.Get("Authorization"))
		}
		if _, err := verify(tok, now); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNewRefusesBadInput(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		url  string
		opts []Option
	}{
		"a relative URL":               {"127.0.0.1:8080", nil},
		"a URL of another scheme":      {"ftp://127.0.0.1", nil},
		"a URL with a query":           {"http://127.0.0.1?x=1", nil},
		"a machine key without secret": {"http://127.0.0.1", []Option{WithMachineKey(MachineKey{AccessKey: "a", OrgID: uuid.New()})}},
		"a machine key without org":    {"http://127.0.0.1", []Option{WithMachineKey(MachineKey{AccessKey: "a", SecretKey: "s"})}},
		"an empty bearer token":        {"http://127.0.0.1", []Option{WithBearerToken("")}},
		"an empty publishable key":     {"http://127.0.0.1", []Option{WithPublishableKey("")}},
		"negative retries":             {"http://127.0.0.1", []Option{WithRetries(-1)}},
		"a nil HTTP client":            {"http://127.0.0.1", []Option{WithHTTPClient(nil)}},
	} {
		t.Run(name+" is an error", func(t *testing.T) {
			t.Parallel()
			if c, err := New(tc.url, tc.opts...); err == nil {
				t.Fatalf("New accepted it: %+v", c)
			}
		})
	}
	t.Run("a nil context is an error, not a panic", func(t *testing.T) {
		c, err := New("http://127.0.0.1:1")
		if err != nil {
			t.Fatal(err)
		}
		//lint:ignore SA1012 the point of the test
		if err := c.Do(nil, http.MethodGet, "/workspaces", nil, nil, nil); err == nil { //nolint:staticcheck
			t.Fatal("no error")
		}
	})
	t.Run("a body that cannot be encoded is an error", func(t *testing.T) {
		c, err := New("http://127.0.0.1:1")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Do(context.Background(), http.MethodPost, "/x", nil, map[string]any{"f": func() {}}, nil); err == nil ||
			!strings.Contains(err.Error(), "encoding") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"0":           0,
		"5":           5 * time.Second,
		" 12 ":        12 * time.Second,
		"99999999999": 24 * time.Hour,
		now.Add(time.Minute).Format(http.TimeFormat):  time.Minute,
		now.Add(-time.Minute).Format(http.TimeFormat): 0,
	} {
		got, ok := parseRetryAfter(in, now)
		if !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "soon", "1.5", "99999999999999999999999"} {
		if _, ok := parseRetryAfter(in, now); ok {
			t.Errorf("parseRetryAfter(%q) accepted", in)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"5", "Sat, 05 Dec 2026 08:00:00 GMT", "-3", "", "1e9"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		if !ok && d != 0 || d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", s, d, ok)
		}
	})
}

func TestErrorParsing(t *testing.T) {
	t.Parallel()
	resp := &http.Response{StatusCode: 502, Header: http.Header{"X-Request-Id": {"r1"}}}
	e := newError(http.MethodGet, "/x", resp, []byte("<html>Bad gateway</html>"))
	if e.Message != "Bad Gateway" || e.RequestID != "r1" || string(e.Body) != `"\u003chtml\u003eBad gateway\u003c/html\u003e"` {
		t.Fatalf("non-JSON body: %+v %s", e, e.Body)
	}
	if !errors.Is(error(e), error(e)) || StatusCode(e) != 502 {
		t.Fatal("StatusCode")
	}
	e = newError(http.MethodGet, "/x", &http.Response{StatusCode: 404, Header: http.Header{}},
		[]byte(`{"message":"Not Found","error":{"name":"NotFound","message":"Rule not found."}}`))
	if e.Message != "Rule not found." || e.Name != "NotFound" || !strings.Contains(e.Error(), "GET /x: 404 Rule not found.") {
		t.Fatalf("%+v: %s", e, e.Error())
	}
}
