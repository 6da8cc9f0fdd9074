package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/client"
)

// scripted is a loopback server that answers its requests with the statuses (and Retry-After
// values) of a script, then 200 {}.
type scripted struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []*http.Request
}

type step struct {
	status     int
	retryAfter string
}

func newScripted(t *testing.T, okBody string, steps ...step) *scripted {
	if okBody == "" {
		okBody = `{"count":0,"limit":50,"next_cursor":null,"records":[]}`
	}
	t.Helper()
	s := &scripted{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.got)
		s.got = append(s.got, r.Clone(context.Background()))
		s.mu.Unlock()
		w.Header().Set("X-Request-Id", "req-"+string(rune('a'+n)))
		w.Header().Set("Content-Type", "application/json")
		if n < len(steps) {
			if steps[n].retryAfter != "" {
				w.Header().Set("Retry-After", steps[n].retryAfter)
			}
			w.WriteHeader(steps[n].status)
			_, _ = w.Write([]byte(`{"message":"Too Many Requests","error":{"name":"TooManyRequests","message":"slow down"}}`))
			return
		}
		_, _ = w.Write([]byte(okBody))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scripted) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// recordSleep returns a sleep function that records its waits without waiting.
func recordSleep() (func(context.Context, time.Duration) error, func() []time.Duration) {
	var mu sync.Mutex
	var waits []time.Duration
	return func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, d)
			return ctx.Err()
		}, func() []time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return append([]time.Duration(nil), waits...)
		}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	newClient := func(t *testing.T, url string, opts ...client.Option) (*client.Client, func() []time.Duration) {
		sleep, waits := recordSleep()
		c, err := client.New(url, append([]client.Option{client.WithBearerToken("t"), client.WithSleep(sleep)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c, waits
	}

	t.Run("a 429 is retried after the seconds of its Retry-After", func(t *testing.T) {
		t.Parallel()
		s := newScripted(t, "", step{429, "7"}, step{429, "2"})
		c, waits := newClient(t, s.srv.URL)
		if _, err := c.ListWorkspaces(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if s.requests() != 3 || len(waits()) != 2 || waits()[0] != 7*time.Second || waits()[1] != 2*time.Second {
			t.Fatalf("%d requests, waits %v", s.requests(), waits())
		}
	})

	t.Run("a Retry-After date is honoured", func(t *testing.T) {
		t.Parallel()
		now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
		s := newScripted(t, "", step{503, now.Add(90 * time.Second).Format(http.TimeFormat)})
		c, waits := newClient(t, s.srv.URL, client.WithClock(func() time.Time { return now }))
		if _, err := c.ListWorkspaces(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if len(waits()) != 1 || waits()[0] != 90*time.Second {
			t.Fatalf("waits %v", waits())
		}
	})

	t.Run("without Retry-After the waits back off exponentially", func(t *testing.T) {
		t.Parallel()
		s := newScripted(t, "", step{500, ""}, step{502, ""}, step{503, ""})
		c, waits := newClient(t, s.srv.URL)
		if _, err := c.ListWorkspaces(ctx, nil); err != nil {
			t.Fatal(err)
		}
		w := waits()
		if len(w) != 3 {
			t.Fatalf("waits %v", w)
		}
		for i, d := range w {
			base := 500 * time.Millisecond << i
			if d < base*3/4 || d > base*5/4 {
				t.Fatalf("wait %d is %v, want %v ±25%%", i, d, base)
			}
		}
	})

	t.Run("retries give up after WithRetries and return the last answer", func(t *testing.T) {
		t.Parallel()
		s := newScripted(t, "", step{429, "1"}, step{429, "1"}, step{429, "1"})
		c, _ := newClient(t, s.srv.URL, client.WithRetries(2))
		_, err := c.ListWorkspaces(ctx, nil)
		var e *client.Error
		if !errors.As(err, &e) || !client.IsRateLimited(err) || e.RetryAfter != "1" || e.RequestID != "req-c" || e.Message != "slow down" {
			t.Fatalf("error %#v", err)
		}
		if s.requests() != 3 {
			t.Fatalf("%d requests", s.requests())
		}
	})

	t.Run("WithRetries(0) sends once", func(t *testing.T) {
		t.Parallel()
		s := newScripted(t, "", step{503, ""})
		c, _ := newClient(t, s.srv.URL, client.WithRetries(0))
		if _, err := c.ListWorkspaces(ctx, nil); client.StatusCode(err) != 503 || s.requests() != 1 {
			t.Fatalf("%v after %d requests", err, s.requests())
		}
	})

	t.Run("a 501 is not retried", func(t *testing.T) {
		t.Parallel()
		s := newScripted(t, "", step{501, ""})
		c, waits := newClient(t, s.srv.URL)
		if _, err := c.ListWorkspaces(ctx, nil); client.StatusCode(err) != 501 || s.requests() != 1 || len(waits()) != 0 {
			t.Fatalf("%v after %d requests", err, s.requests())
		}
	})

	t.Run("a Retry-After beyond two minutes is not waited for", func(t *testing.T) {
		t.Parallel()
		s := newScripted(t, "", step{429, "3600"})
		c, waits := newClient(t, s.srv.URL)
		if _, err := c.ListWorkspaces(ctx, nil); !client.IsRateLimited(err) || s.requests() != 1 || len(waits()) != 0 {
			t.Fatalf("%v after %d requests, waits %v", err, s.requests(), waits())
		}
	})

	t.Run("a POST without an idempotency key is not re-sent after a 5xx", func(t *testing.T) {
		t.Parallel()
		s := newScripted(t, "", step{500, ""})
		c, _ := newClient(t, s.srv.URL)
		_, err := c.EmitEvent(ctx, client.EventInput{Event: "e", Payload: map[string]any{}})
		if client.StatusCode(err) != 500 || s.requests() != 1 {
			t.Fatalf("%v after %d requests", err, s.requests())
		}
	})

	t.Run("a POST is re-sent after a 429, which the server answers before acting", func(t *testing.T) {
		t.Parallel()
		s := newScripted(t, "", step{429, "1"})
		c, _ := newClient(t, s.srv.URL)
		_, err := c.CreateWorkspace(ctx, client.WorkspaceCreate{Name: "abc"})
		if s.requests() != 2 {
			t.Fatalf("%v after %d requests", err, s.requests())
		}
	})

	t.Run("a POST with an idempotency key is re-sent after a 5xx with the same key and body", func(t *testing.T) {
		t.Parallel()
		s := newScripted(t, acceptedEvent, step{502, ""})
		c, _ := newClient(t, s.srv.URL)
		if _, err := c.EmitEvent(ctx, client.EventInput{Event: "e", Payload: map[string]any{"a": 1}, IdempotencyKey: "k-1"}); err != nil {
			t.Fatal(err)
		}
		if s.requests() != 2 {
			t.Fatalf("%d requests", s.requests())
		}
		for _, r := range s.got {
			if r.Header.Get("Idempotency-Key") != "k-1" || r.Method != http.MethodPost || r.URL.Path != "/api/v1/events" {
				t.Fatalf("request %s %s key %q", r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"))
			}
		}
	})

	t.Run("a POST is re-sent when the connection could not be made", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now: every dial is refused
		c, waits := newClient(t, "http://"+addr)
		_, err = c.CreateWorkspace(ctx, client.WorkspaceCreate{Name: "abc"})
		if err == nil || client.StatusCode(err) != 0 || len(waits()) != 3 {
			t.Fatalf("%v, waits %v", err, waits())
		}
	})

	t.Run("a cancelled context stops the retries", func(t *testing.T) {
		t.Parallel()
		s := newScripted(t, "", step{503, "1"}, step{503, "1"})
		cctx, cancel := context.WithCancel(ctx)
		c, err := client.New(s.srv.URL, client.WithSleep(func(context.Context, time.Duration) error {
			cancel()
			return context.Canceled
		}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListWorkspaces(cctx, nil); client.StatusCode(err) != 503 || s.requests() != 1 {
			t.Fatalf("%v after %d requests", err, s.requests())
		}
	})
}

// acceptedEvent is an answer to POST /events.
const acceptedEvent = `{"event":{"id":"0e7c1d6e-3b8f-4a52-9d0e-4f6f7a9d1b2c","type":"event","event":"e",` +
	`"workspace":"0e7c1d6e-3b8f-4a52-9d0e-4f6f7a9d1b2c","status":"pending","created_by":"x","created_at":"2026-12-05T08:00:00Z"}}`
