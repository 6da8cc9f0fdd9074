package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

func TestRateLimits(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0], func(c *config.Config) {
		c.RateLimitMachine, c.RateLimitPublishable = 0.001, 0.001 // a burst of 1, then (practically) nothing
	})
	pub := map[string]string{"X-Meshes-Publishable-Key": s.creds.PublishableKey}
	body := map[string]any{"event": "a", "payload": map[string]any{"x": 1}}

	t.Run("a publishable key gets its burst and then 429 with Retry-After", func(t *testing.T) {
		if code := s.call(t, "POST", "/api/v1/events", body, pub, nil); code != 201 {
			t.Fatalf("first: %d", code)
		}
		resp := s.raw(t, "POST", "/api/v1/events", `{"event":"a","payload":{"x":1}}`, pub)
		if resp.StatusCode != 429 {
			t.Fatalf("second: %d, want 429", resp.StatusCode)
		}
		for _, h := range []string{"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("429 without %s", h)
			}
		}
		if resp.Header.Get("RateLimit-Remaining") != "0" {
			t.Errorf("RateLimit-Remaining = %q, want 0", resp.Header.Get("RateLimit-Remaining"))
		}
	})
	t.Run("machine keys have their own bucket", func(t *testing.T) {
		if code := s.call(t, "GET", "/api/v1/workspaces", nil, nil, nil); code != 200 {
			t.Fatalf("first machine request: %d", code)
		}
		var e apiError
		if code := s.call(t, "GET", "/api/v1/workspaces", nil, nil, &e); code != 429 || e.Message != "Too Many Requests" {
			t.Fatalf("second machine request: %d %+v", code, e)
		}
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	t.Run("ingestion answers the preflight for the events client's headers", func(t *testing.T) {
		for _, path := range []string{"/api/v1/events", "/api/v1/events/bulk"} {
			resp := s.raw(t, "OPTIONS", path, "", map[string]string{"Origin": "https://app.example.com",
				"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-meshes-publishable-key,content-type"})
			if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("preflight %s: %d %v", path, resp.StatusCode, resp.Header)
			}
			allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
			for _, h := range []string{"x-meshes-publishable-key", "x-meshes-client", "content-type", "idempotency-key"} {
				if !strings.Contains(allowed, h) {
					t.Errorf("preflight %s does not allow %s", path, h)
				}
			}
		}
		resp := s.raw(t, "POST", "/api/v1/events", `{"event":"a","payload":{"x":1}}`,
			map[string]string{"Origin": "https://app.example.com", "X-Meshes-Publishable-Key": s.creds.PublishableKey})
		if resp.StatusCode != 201 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("CORS POST: %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("management endpoints offer no CORS", func(t *testing.T) {
		resp := s.raw(t, "OPTIONS", "/api/v1/workspaces", "", map[string]string{"Origin": "https://app.example.com",
			"Access-Control-Request-Method": "GET"})
		if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode == 204 {
			t.Fatalf("management preflight: %d %v", resp.StatusCode, resp.Header)
		}
	})
}

// raw sends a request with a literal body and only the given headers (plus Content-Type).
func (s *server) raw(t *testing.T, method, path, body string, headers map[string]string) *http.Response {
	t.Helper()
	resp, _ := s.request(t, method, path, body, headers)
	return resp
}
