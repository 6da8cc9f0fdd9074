package client_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/client"
	"github.com/switchyardhq/switchyard/internal/config"
)

// tokenRecorder is a transport that remembers the bearer token of every request.
type tokenRecorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	tokens []string
}

func (r *tokenRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.tokens = append(r.tokens, req.Header.Get("Authorization"))
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func TestMachineKeyRenewalAgainstTheServer(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()

	// The client's clock runs 22 seconds behind at first: its first token, minted "now" for 30
	// seconds, has 8 real seconds left, which the server accepts. Then the clock catches up and
	// the client sees that token near its end, so it mints another, which the server accepts too.
	var offset atomic.Int64
	offset.Store(int64(-22 * time.Second))
	rec := &tokenRecorder{next: http.DefaultTransport}
	c := s.client(t, client.WithHTTPClient(&http.Client{Transport: rec}),
		client.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))

	if _, err := c.GetWorkspace(ctx, s.creds.WorkspaceID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetWorkspace(ctx, s.creds.WorkspaceID); err != nil {
		t.Fatal(err)
	}
	offset.Store(0)
	if _, err := c.GetWorkspace(ctx, s.creds.WorkspaceID); err != nil {
		t.Fatalf("after renewal: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.tokens) != 3 || rec.tokens[0] != rec.tokens[1] || rec.tokens[1] == rec.tokens[2] || rec.tokens[2] == "" {
		t.Fatalf("tokens sent: %d, reused %v, renewed %v", len(rec.tokens), rec.tokens[0] == rec.tokens[1], rec.tokens[1] != rec.tokens[2])
	}
}

func TestHandlerTransport(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()
	c := s.client(t, client.WithHTTPClient(&http.Client{Transport: client.HandlerTransport(s.app.Handler())}))

	t.Run("a client talks to the app's handler in-process", func(t *testing.T) {
		w, err := c.CreateWorkspace(ctx, client.WorkspaceCreate{Name: "In process"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.GetWorkspace(ctx, w.ID)
		if err != nil || got.Name != "In process" {
			t.Fatalf("get %+v %v", got, err)
		}
	})

	t.Run("errors come back typed with their request id", func(t *testing.T) {
		_, err := c.GetRule(ctx, s.creds.WorkspaceID)
		if e := apiError(t, err, http.StatusNotFound); e.RequestID == "" {
			t.Fatalf("error %+v", e)
		}
	})

	t.Run("a cancelled context is not served", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.ListWorkspaces(cctx, nil); err == nil || client.StatusCode(err) != 0 {
			t.Fatalf("error %v", err)
		}
	})
}

func TestRateLimitedByTheServer(t *testing.T) {
	t.Parallel()
	// Two requests a second per machine key, burst four: the fifth request in a row is refused
	// with 429 and a Retry-After, which the client waits out before sending it again.
	s := startServer(t, func(cfg *config.Config) { cfg.RateLimitMachine = 2 })
	var mu sync.Mutex
	var waits []time.Duration
	c := s.client(t, client.WithSleep(func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		}
	}))
	for i := range 6 {
		if _, err := c.GetWorkspace(context.Background(), s.creds.WorkspaceID); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) == 0 {
		t.Fatal("six requests in a row at two a second were never refused")
	}
	for _, d := range waits {
		// The server's Retry-After is whole seconds; the client's own backoff never is.
		if d < time.Second || d%time.Second != 0 {
			t.Fatalf("waits %v: not the server's Retry-After", waits)
		}
	}
}
