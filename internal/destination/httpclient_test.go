package destination_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestNewHTTPClient(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	target, _ := url.Parse(srv.URL)

	for _, anyPort := range []bool{false, true} {
		guarded := destination.NewHTTPClient(destination.Options{}, destination.HTTPClientConfig{AnyPort: anyPort})
		t.Cleanup(guarded.Cleanup)
		ctx := context.Background()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		_, err := guarded.Client.Do(req)
		if err == nil {
			t.Fatalf("AnyPort %v: a loopback destination was dialled without AllowPrivate", anyPort)
		}
		if res := destination.ClassifyTransportError(ctx, err, time.Second, target); res.Outcome != switchyard.OutcomeInvalidRequest ||
			!strings.HasPrefix(res.Message, "destination refused: ") {
			t.Errorf("AnyPort %v: refusal = %+v, want the SSRF guard's invalid_request", anyPort, res)
		}
	}

	open := destination.NewHTTPClient(destination.Options{AllowPrivate: true}, destination.HTTPClientConfig{
		MaxIdleConns: 8, MaxIdleConnsPerHost: 4, ResponseHeaderTimeout: time.Second})
	t.Cleanup(open.Cleanup)
	if tr := open.Transport; tr.Proxy != nil || tr.TLSClientConfig.MinVersion < 0x0303 || tr.MaxIdleConns != 8 || tr.MaxIdleConnsPerHost != 4 ||
		tr.ResponseHeaderTimeout != time.Second || open.Client.Transport != tr || open.Dialer == nil {
		t.Errorf("transport = %+v", tr)
	}
	resp, err := open.Client.Get(srv.URL + "/redirect")
	if err != nil {
		t.Fatalf("with AllowPrivate: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Request.URL.Path != "/redirect" {
		t.Errorf("redirect: %d %s, want the 302 itself, not followed", resp.StatusCode, resp.Request.URL.Path)
	}

	def := destination.NewHTTPClient(destination.Options{AllowPrivate: true}, destination.HTTPClientConfig{})
	if def.Transport.MaxIdleConns != 256 || def.Transport.MaxIdleConnsPerHost != 64 || def.Transport.ResponseHeaderTimeout != 0 {
		t.Errorf("defaults = %d, %d, %s", def.Transport.MaxIdleConns, def.Transport.MaxIdleConnsPerHost, def.Transport.ResponseHeaderTimeout)
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Parallel()
	if got := (destination.Options{}).UserAgentOr("Switchyard-X/1"); got != "Switchyard-X/1" {
		t.Errorf("default user agent = %q", got)
	}
	if got := (destination.Options{UserAgent: "custom"}).UserAgentOr("Switchyard-X/1"); got != "custom" {
		t.Errorf("configured user agent = %q", got)
	}
	if l := (destination.Options{}).LoggerOrDiscard(); l == nil || l.Enabled(context.Background(), slog.LevelError) {
		t.Errorf("default logger %v: want one that discards", l)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if l := (destination.Options{Logger: logger}).LoggerOrDiscard(); l != logger {
		t.Errorf("configured logger not kept")
	}
}

func TestParseBaseURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://eu.example.com/v2/": "https://eu.example.com/v2",
		"http://127.0.0.1:8080":      "http://127.0.0.1:8080",
		"":                           "https://api.example.com",
		"not a url":                  "https://api.example.com",
		"://bad":                     "https://api.example.com",
	} {
		if got := destination.ParseBaseURL(raw, "https://api.example.com").String(); got != want {
			t.Errorf("ParseBaseURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
