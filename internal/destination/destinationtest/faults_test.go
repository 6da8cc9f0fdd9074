package destinationtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, ctx context.Context, url string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestFaults(t *testing.T) {
	t.Parallel()

	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Host", r.Host)
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	})

	t.Run("FailNext scripts the next answers in order, then the handler answers", func(t *testing.T) {
		t.Parallel()
		f, srv := Serve(t, upstream)
		f.FailNext(2, Answer{Status: 503, Header: http.Header{"retry-after": {"7"}}, Body: "down"})
		f.FailNext(1, Answer{Status: 429, Body: "slow down"})
		want := []struct {
			status int
			body   string
		}{{503, "down"}, {503, "down"}, {429, "slow down"}, {200, "upstream /x"}}
		for n, w := range want {
			status, body, err := get(t, t.Context(), srv.URL+"/x")
			if err != nil || status != w.status || body != w.body {
				t.Errorf("request %d = %d %q %v, want %d %q", n+1, status, body, err, w.status, w.body)
			}
		}
		if got := f.Requests(); got != 4 {
			t.Errorf("Requests() = %d, want 4", got)
		}
	})

	t.Run("Match keeps other requests away from the faults", func(t *testing.T) {
		t.Parallel()
		f, srv := Serve(t, upstream)
		f.Match = func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }
		f.FailNext(1, Answer{Status: 401})
		if status, _, _ := get(t, t.Context(), srv.URL+"/oauth/token"); status != 200 {
			t.Errorf("token endpoint = %d, want 200", status)
		}
		if status, _, _ := get(t, t.Context(), srv.URL+"/api/x"); status != 401 {
			t.Errorf("API = %d, want the scripted 401", status)
		}
		if got := f.Requests(); got != 1 {
			t.Errorf("Requests() = %d, want 1 (the API's)", got)
		}
	})

	t.Run("Hang holds requests until the client gives up", func(t *testing.T) {
		t.Parallel()
		f, srv := Serve(t, upstream)
		f.Hang()
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, _, err := get(t, ctx, srv.URL+"/x")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the client's deadline", err)
		}
	})

	t.Run("Release lets a hung request through", func(t *testing.T) {
		t.Parallel()
		f, srv := Serve(t, upstream)
		arrived := make(chan struct{}, 1)
		f.Match = func(*http.Request) bool {
			arrived <- struct{}{}
			return true
		}
		f.Hang()
		type result struct {
			status int
			err    error
		}
		done := make(chan result, 1)
		go func() {
			status, _, err := get(t, t.Context(), srv.URL+"/x")
			done <- result{status, err}
		}()
		<-arrived
		select {
		case r := <-done:
			t.Fatalf("the request finished while hanging: %+v", r)
		default:
		}
		f.Release()
		if r := <-done; r.err != nil || r.status != 200 {
			t.Errorf("after Release: %d %v, want 200", r.status, r.err)
		}
	})

	t.Run("Reset ends the connection without an answer", func(t *testing.T) {
		t.Parallel()
		f, srv := Serve(t, upstream)
		f.Reset()
		if status, _, err := get(t, t.Context(), srv.URL+"/x"); err == nil {
			t.Errorf("got an answer %d, want a transport error", status)
		}
		f.Release()
		if status, _, err := get(t, t.Context(), srv.URL+"/x"); err != nil || status != 200 {
			t.Errorf("after Release: %d %v, want 200", status, err)
		}
	})

	t.Run("a nil handler answers 204", func(t *testing.T) {
		t.Parallel()
		_, srv := Serve(t, nil)
		if status, _, err := get(t, t.Context(), srv.URL); err != nil || status != 204 {
			t.Errorf("= %d %v, want 204", status, err)
		}
	})

	t.Run("Proxy puts faults in front of a fake with its own server", func(t *testing.T) {
		t.Parallel()
		_, fake := Serve(t, upstream)
		f, front := Serve(t, Proxy(t, fake.URL))
		f.FailNext(1, Answer{Status: 500, Body: "scripted"})
		if status, body, _ := get(t, t.Context(), front.URL+"/p"); status != 500 || body != "scripted" {
			t.Errorf("first = %d %q, want the scripted 500", status, body)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, front.URL+"/p", nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "upstream /p" || resp.Header.Get("X-Host") != strings.TrimPrefix(front.URL, "http://") {
			t.Errorf("second = %d %q host %q, want the fake's answer, with the front's Host", resp.StatusCode, b, resp.Header.Get("X-Host"))
		}
	})
}
