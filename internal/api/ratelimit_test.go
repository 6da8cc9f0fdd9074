package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// frozenClock is a clock that moves only when the test says so, so that token buckets refill
// exactly as much as the test decides, however slow the machine.
type frozenClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *frozenClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *frozenClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// limitedServer serves the API on a real SQLite store with the rate limits given and a frozen
// clock, and returns its URL, the tenant's publishable key and the clock.
func limitedServer(t *testing.T, limits RateLimits) (string, string, *frozenClock) {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "limits.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tn := storetest.NewTenant(t, db)
	clock := &frozenClock{t: time.Now()}
	s := New(Config{Store: db, RateLimits: limits, Now: clock.now})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	return srv.URL, tn.Workspace.PublishableKey, clock
}

// post sends body with the publishable key (or none) and returns the answer's status, headers
// and body.
func post(t *testing.T, url, path, key, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(publishableKeyHeader, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// bulkOf is a bulk body of n valid events.
func bulkOf(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = `{"event":"limit.test","payload":{"i":1}}`
	}
	return "[" + strings.Join(items, ",") + "]"
}

func TestBulkEventsCountAgainstTheRateLimit(t *testing.T) {
	t.Parallel()

	t.Run("a bulk of 100 uses up a limit of 50 events/s (burst 100), and the next events wait", func(t *testing.T) {
		t.Parallel()
		url, key, clock := limitedServer(t, RateLimits{Publishable: 50})
		code, h, body := post(t, url, "/api/v1/events/bulk", key, bulkOf(100))
		if code != http.StatusCreated {
			t.Fatalf("first bulk of 100: %d %s", code, body)
		}
		if h.Get("RateLimit-Remaining") != "0" {
			t.Errorf("after 100 events RateLimit-Remaining = %q, want 0", h.Get("RateLimit-Remaining"))
		}
		// Counted as one request, the same key could send 2,000 more events this second.
		code, h, body = post(t, url, "/api/v1/events/bulk", key, bulkOf(100))
		if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
			t.Fatalf("second bulk of 100 at once: %d (Retry-After %q) %s, want 429", code, h.Get("Retry-After"), body)
		}
		if code, _, _ := post(t, url, "/api/v1/events", key, `{"event":"limit.test","payload":{"i":1}}`); code != http.StatusTooManyRequests {
			t.Fatalf("a single event right after: %d, want 429", code)
		}
		// Two seconds refill the bucket: exactly one more bulk of 100 passes.
		clock.advance(2 * time.Second)
		if code, _, body := post(t, url, "/api/v1/events/bulk", key, bulkOf(100)); code != http.StatusCreated {
			t.Fatalf("a bulk of 100 after 2 s: %d %s", code, body)
		}
		if code, _, _ := post(t, url, "/api/v1/events/bulk", key, bulkOf(1)); code != http.StatusTooManyRequests {
			t.Fatalf("a bulk of 1 after that: %d, want 429", code)
		}
	})

	t.Run("a bulk larger than the burst is refused with how to split it", func(t *testing.T) {
		t.Parallel()
		url, key, _ := limitedServer(t, RateLimits{Publishable: 10}) // burst 20
		code, _, body := post(t, url, "/api/v1/events/bulk", key, bulkOf(50))
		var e errorBody
		if err := json.Unmarshal([]byte(body), &e); err != nil || code != http.StatusBadRequest ||
			!strings.Contains(e.Error.Message, "at most 20 events") {
			t.Fatalf("bulk of 50 at burst 20: %d %s, want 400 saying at most 20", code, body)
		}
		if code, _, body := post(t, url, "/api/v1/events/bulk", key, bulkOf(20)); code != http.StatusCreated {
			t.Fatalf("bulk of 20 at burst 20: %d %s", code, body)
		}
	})
}

func TestFailedAuthenticationsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	url, key, clock := limitedServer(t, RateLimits{AuthFailures: 5}) // burst 10
	event := `{"event":"auth.test","payload":{"x":1}}`
	forged := func() int {
		req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/workspaces", nil)
		req.Header.Set("Authorization", "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Im1rX3gifQ.e30.c2ln")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 5 {
		if code := forged(); code != http.StatusUnauthorized {
			t.Fatalf("forged token %d: %d, want 401", i, code)
		}
		if code, _, _ := post(t, url, "/api/v1/events", "mesh_pub_nope_nope_nope", event); code != http.StatusUnauthorized {
			t.Fatalf("unknown publishable key %d: %d, want 401", i, code)
		}
	}
	// Ten failures used the burst: the address now gets 429 before its credentials are looked
	// at, a valid key included.
	if code := forged(); code != http.StatusTooManyRequests {
		t.Fatalf("the 11th failure: %d, want 429", code)
	}
	code, h, body := post(t, url, "/api/v1/events", key, event)
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("a valid key from the blocked address: %d (Retry-After %q) %s, want 429", code, h.Get("Retry-After"), body)
	}
	clock.advance(time.Second)
	if code, _, body := post(t, url, "/api/v1/events", key, event); code != http.StatusCreated {
		t.Fatalf("a valid key a second later: %d %s", code, body)
	}
	// Successes cost nothing: the five tokens of that second are still there for failures.
	for i := range 5 {
		if code := forged(); code != http.StatusUnauthorized {
			t.Fatalf("forged token %d after the refill: %d, want 401", i, code)
		}
	}
	if code := forged(); code != http.StatusTooManyRequests {
		t.Fatalf("the 6th failure after the refill: %d, want 429", code)
	}
}

func TestClientAddress(t *testing.T) {
	t.Parallel()
	for remote, want := range map[string]string{
		"203.0.113.7:4242":                "203.0.113.7",
		"[::ffff:203.0.113.7]:4242":       "203.0.113.7",
		"[2001:db8:1:2:3:4:5:6]:443":      "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff:1:1]:80": "2001:db8:1:2::/64",
		"not an address":                  "not an address",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		if got := clientAddress(r); got != want {
			t.Errorf("clientAddress(%q) = %q, want %q", remote, got, want)
		}
	}
}
