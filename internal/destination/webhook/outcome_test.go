package webhook

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// TestOutcomes checks the outcome each response maps to.
func TestOutcomes(t *testing.T) {
	t.Parallel()

	bearer := map[string]any{KeyAuthScheme: "bearer", KeyBearerToken: "tok_live_abc123"}
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		meta       map[string]any
		outcome    switchyard.Outcome
		retryAfter time.Duration
		deactivate string
	}{
		{name: "200 is delivered", status: 200, outcome: switchyard.OutcomeDelivered},
		{name: "204 is delivered", status: 204, outcome: switchyard.OutcomeDelivered},
		{name: "301 is delivered and not followed", status: 301, header: map[string]string{"Location": "/elsewhere"}, outcome: switchyard.OutcomeDelivered},
		{name: "400 is a client error", status: 400, outcome: switchyard.OutcomeRejectedClientError},
		{name: "401 without our credentials fails auth but keeps the connection", status: 401, outcome: switchyard.OutcomeAuthFailed},
		{name: "401 with our credentials deactivates", status: 401, meta: bearer, outcome: switchyard.OutcomeAuthFailed, deactivate: switchyard.InactiveAuthenticationInvalid},
		{name: "403 with our credentials deactivates", status: 403, meta: bearer, outcome: switchyard.OutcomeAuthFailed, deactivate: switchyard.InactiveAuthenticationInvalid},
		{name: "404 is destination not found", status: 404, outcome: switchyard.OutcomeDestinationNotFound},
		{name: "408 is a destination timeout", status: 408, outcome: switchyard.OutcomeDestinationTimeout},
		{name: "409 is a destination conflict", status: 409, outcome: switchyard.OutcomeDestinationConflict},
		{name: "410 is gone and deactivates", status: 410, outcome: switchyard.OutcomeDestinationGone, deactivate: destination.InactiveDestinationGone},
		{name: "413 is payload too large", status: 413, outcome: switchyard.OutcomePayloadTooLarge},
		{name: "418 is a client error", status: 418, outcome: switchyard.OutcomeRejectedClientError},
		{name: "422 is validation failed", status: 422, outcome: switchyard.OutcomeValidationFailed},
		{name: "429 with Retry-After seconds", status: 429, header: map[string]string{"Retry-After": "30"}, outcome: switchyard.OutcomeRateLimited, retryAfter: 30 * time.Second},
		{
			name: "429 with a Retry-After date", status: 429, outcome: switchyard.OutcomeRateLimited, retryAfter: 2*time.Minute - 500*time.Millisecond,
			header: map[string]string{"Retry-After": testCreatedAt.Add(2 * time.Minute).Format(http.TimeFormat)},
		},
		{name: "429 with a garbage Retry-After", status: 429, header: map[string]string{"Retry-After": "soon"}, outcome: switchyard.OutcomeRateLimited},
		{name: "500 is a server error", status: 500, outcome: switchyard.OutcomeRejectedServerError},
		{name: "503 with Retry-After", status: 503, header: map[string]string{"Retry-After": "120"}, outcome: switchyard.OutcomeRejectedServerError, retryAfter: 2 * time.Minute},
		{name: "502 ignores Retry-After", status: 502, header: map[string]string{"Retry-After": "120"}, outcome: switchyard.OutcomeRejectedServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var redirected atomic.Int32
			dest := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					redirected.Add(1)
				}
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"error":"details from the destination"}`))
			})
			meta := map[string]any{KeyURL: dest.URL + "/hook"}
			for k, v := range tt.meta {
				meta[k] = v
			}

			res := deliver(t, local(), meta)

			if res.Outcome != tt.outcome || res.HTTPStatus != tt.status || res.RetryAfter != tt.retryAfter || res.Deactivate != tt.deactivate {
				t.Errorf("result = {%s %d retry-after %s deactivate %q}, want {%s %d retry-after %s deactivate %q}",
					res.Outcome, res.HTTPStatus, res.RetryAfter, res.Deactivate, tt.outcome, tt.status, tt.retryAfter, tt.deactivate)
			}
			contains(t, "message", res.Message, "HTTP "+itoa(tt.status))
			contains(t, "response", res.Response, "HTTP/1.1 "+itoa(tt.status))
			if tt.status != 204 && tt.status != 301 {
				contains(t, "response", res.Response, `{"error":"details from the destination"}`)
			}
			if n := redirected.Load(); n != 0 {
				t.Errorf("the redirect was followed %d times", n)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestResponseExcerpt(t *testing.T) {
	t.Parallel()

	t.Run("a long body is cut and marked", func(t *testing.T) {
		t.Parallel()
		dest := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(500)
			_, _ = w.Write([]byte(strings.Repeat("x", 100<<10)))
		})
		res := deliver(t, local(), map[string]any{KeyURL: dest.URL})
		if !strings.HasPrefix(res.Response, "HTTP/1.1 500 Internal Server Error\nContent-Type: text/plain\n\nxxx") {
			t.Errorf("response starts %q", res.Response[:60])
		}
		if !strings.HasSuffix(res.Response, "x…") || len(res.Response) > 4<<10+100 {
			t.Errorf("response is %d bytes ending %q, want the 4 KiB excerpt marked as cut", len(res.Response), res.Response[len(res.Response)-10:])
		}
	})

	t.Run("secrets echoed by the destination are masked", func(t *testing.T) {
		t.Parallel()
		dest := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			_, _ = w.Write([]byte("bad request; you sent " + r.Header.Get("Authorization") + " and " + r.Header.Get("X-Custom-Auth")))
		})
		res := deliver(t, local(), map[string]any{KeyURL: dest.URL, KeyAuthScheme: "basic", KeyBasicUsername: "hooks", KeyBasicPassword: "s3cret-pass"})
		if strings.Contains(res.Response, "aG9va3M6czNjcmV0LXBhc3M=") {
			t.Errorf("response holds the credentials: %q", res.Response)
		}
		contains(t, "response", res.Response, "Basic "+destination.MaskedValue)

		res = deliver(t, local(), map[string]any{KeyURL: dest.URL, KeyAuthScheme: "header", KeyAuthHeaderName: "X-Custom-Auth", KeyAuthHeaderValue: "sk-abc123"})
		if strings.Contains(res.Response, "sk-abc123") {
			t.Errorf("response holds the credentials: %q", res.Response)
		}
	})

	t.Run("invalid UTF-8 and NULs are cleaned", func(t *testing.T) {
		t.Parallel()
		dest := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			_, _ = w.Write([]byte("ok\x00\xff!"))
		})
		res := deliver(t, local(), map[string]any{KeyURL: dest.URL})
		if !strings.HasSuffix(res.Response, "\n\nok\uFFFD!") {
			t.Errorf("response = %q", res.Response)
		}
	})
}

// hanging returns a destination that never answers until the client gives up; arrived is
// closed once the request is in.
func hanging(t *testing.T) (url string, arrived <-chan struct{}) {
	t.Helper()
	in := make(chan struct{})
	release := make(chan struct{})
	var once atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if once.CompareAndSwap(false, true) {
			close(in)
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.URL, in
}

func TestTimeouts(t *testing.T) {
	t.Parallel()

	t.Run("the connection's timeout_seconds bounds the attempt", func(t *testing.T) {
		t.Parallel()
		url, _ := hanging(t)
		start := time.Now()
		res := deliver(t, local(), map[string]any{KeyURL: url, KeyTimeoutSeconds: 1.0})
		if res.Outcome != switchyard.OutcomeTimeout {
			t.Errorf("outcome = %s (%s), want timeout", res.Outcome, res.Message)
		}
		contains(t, "message", res.Message, "1s")
		if d := time.Since(start); d < time.Second || d > 5*time.Second {
			t.Errorf("attempt took %s, want about 1s", d)
		}
	})

	t.Run("the caller's deadline bounds the attempt too", func(t *testing.T) {
		t.Parallel()
		url, _ := hanging(t)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		a := New(local())
		t.Cleanup(a.CloseIdleConnections)
		res := deliverOnce(ctx, a, testRequest(map[string]any{KeyURL: url}))
		if res.Outcome != switchyard.OutcomeTimeout || res.HTTPStatus != 0 {
			t.Errorf("result = %s %d (%s), want timeout", res.Outcome, res.HTTPStatus, res.Message)
		}
	})

	t.Run("a canceled caller is Switchyard's failure, not the destination's", func(t *testing.T) {
		t.Parallel()
		url, arrived := hanging(t)
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-arrived; cancel() }()
		a := New(local())
		t.Cleanup(a.CloseIdleConnections)
		res := deliverOnce(ctx, a, testRequest(map[string]any{KeyURL: url}))
		if res.Outcome != switchyard.OutcomeInternalError {
			t.Errorf("outcome = %s (%s), want internal_error", res.Outcome, res.Message)
		}
	})
}

func TestNetworkErrors(t *testing.T) {
	t.Parallel()

	t.Run("a reset connection is a network error", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			_ = conn.(*net.TCPConn).SetLinger(0) // close with RST
			_ = conn.Close()
		}))
		t.Cleanup(srv.Close)
		res := deliver(t, local(), map[string]any{KeyURL: srv.URL})
		if res.Outcome != switchyard.OutcomeNetworkError || res.HTTPStatus != 0 {
			t.Errorf("result = %s %d (%s), want network_error", res.Outcome, res.HTTPStatus, res.Message)
		}
	})

	t.Run("a refused connection is a network error without the URL", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		res := deliver(t, local(), map[string]any{KeyURL: "http://" + addr + "/hook?token=query-secret"})
		if res.Outcome != switchyard.OutcomeNetworkError {
			t.Errorf("outcome = %s (%s), want network_error", res.Outcome, res.Message)
		}
		contains(t, "message", res.Message, "connection refused")
		if strings.Contains(res.Message, "query-secret") {
			t.Errorf("message holds the URL: %q", res.Message)
		}
	})

	t.Run("keep-alive connections are reused", func(t *testing.T) {
		t.Parallel()
		var conns atomic.Int32
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("ok"))
		}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		a := New(local())
		t.Cleanup(a.CloseIdleConnections)
		for range 5 {
			if res := deliverOnce(t.Context(), a, testRequest(map[string]any{KeyURL: srv.URL})); res.Outcome != switchyard.OutcomeDelivered {
				t.Fatalf("outcome = %s (%s)", res.Outcome, res.Message)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("5 deliveries opened %d connections, want 1", n)
		}
	})
}

// deliverStored delivers, with an adapter under opts, a connection saved while private
// destinations were allowed (its metadata normalised under AllowPrivate): on a server that
// does not allow them, the adapter's own guards must refuse it, since validation no longer can.
func deliverStored(t *testing.T, opts destination.Options, meta map[string]any) destination.Result {
	t.Helper()
	a := New(opts)
	t.Cleanup(a.CloseIdleConnections)
	return attempt(t.Context(), a, testRequest(normalise(t, destination.Options{AllowPrivate: true}, meta)))
}

func TestSSRF(t *testing.T) {
	t.Parallel()

	dest := newRecorder(t, nil)
	port := dest.Listener.Addr().(*net.TCPAddr).Port

	for _, url := range []string{
		"https://localhost:" + itoa(port) + "/hook",
		"https://127.0.0.1:" + itoa(port) + "/hook",
		"https://[::1]:" + itoa(port) + "/hook",
	} {
		t.Run("a private address is refused when dialled: "+url, func(t *testing.T) {
			t.Parallel()
			res := deliverStored(t, destination.Options{}, map[string]any{KeyURL: url})
			if res.Outcome != switchyard.OutcomeInvalidRequest || res.HTTPStatus != 0 {
				t.Errorf("result = %s %d (%s), want invalid_request", res.Outcome, res.HTTPStatus, res.Message)
			}
			contains(t, "message", res.Message, "destination refused: ")
			contains(t, "message", res.Message, "is not a permitted destination")
		})
	}

	t.Run("http is refused before any connection", func(t *testing.T) {
		t.Parallel()
		res := deliverStored(t, destination.Options{}, map[string]any{KeyURL: dest.URL})
		if res.Outcome != switchyard.OutcomeInvalidRequest {
			t.Errorf("outcome = %s (%s), want invalid_request", res.Outcome, res.Message)
		}
		contains(t, "message", res.Message, "https")
	})

	if n := len(dest.received()); n != 0 {
		t.Errorf("the private destination received %d requests", n)
	}
}

func TestInvalidConnection(t *testing.T) {
	t.Parallel()

	res := deliver(t, local(), map[string]any{KeyURL: "https://hooks.example.com", KeyTimeoutSeconds: 600.0})
	if res.Outcome != switchyard.OutcomeInvalidRequest {
		t.Errorf("outcome = %s, want invalid_request", res.Outcome)
	}
	contains(t, "message", res.Message, "metadata.timeout_seconds")

	req := testRequest(map[string]any{KeyURL: "https://hooks.example.com", KeyPayloadMode: "raw"})
	req.Event.ResourceID = "usr\r\nX-Injected: 1"
	res = deliverOnce(t.Context(), New(local()), req)
	if res.Outcome != switchyard.OutcomeInvalidRequest {
		t.Errorf("outcome with a header-breaking resource id in raw mode = %s, want invalid_request", res.Outcome)
	}

	res = deliverOnce(t.Context(), New(local()), &destination.Request{})
	if res.Outcome != switchyard.OutcomeInvalidRequest {
		t.Errorf("outcome without event = %s, want invalid_request", res.Outcome)
	}
}
