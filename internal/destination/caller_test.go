package destination_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// fakeTokens hands out access-1 (with refresh-1), and access-2 (with refresh-2) on a refresh.
type fakeTokens struct {
	mu        sync.Mutex
	refreshes int
	tokenErr  error
}

func (f *fakeTokens) Token(context.Context) (*oauth2.Token, error) {
	if f.tokenErr != nil {
		return nil, f.tokenErr
	}
	return &oauth2.Token{AccessToken: "access-1", RefreshToken: "refresh-1"}, nil
}

func (f *fakeTokens) Refresh(context.Context, *oauth2.Token) (*oauth2.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshes++
	return &oauth2.Token{AccessToken: "access-2", RefreshToken: "refresh-2"}, nil
}

// seen is one request the test server received.
type seen struct {
	method, path, auth, accept, contentType, userAgent, version, body string
}

// callerServer answers with handle and records what it receives.
func callerServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, func() []seen) {
	t.Helper()
	var (
		mu   sync.Mutex
		reqs []seen
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, seen{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), accept: r.Header.Get("Accept"),
			contentType: r.Header.Get("Content-Type"), userAgent: r.Header.Get("User-Agent"), version: r.Header.Get("X-Api-Version"), body: string(b)})
		mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), reqs...)
	}
}

var testRules = &destination.ProviderRules{
	Name: "Acme",
	ErrorMessage: func(_ int, body []byte) string {
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &e) != nil || e.Code == "" {
			return ""
		}
		return e.Code + ": " + e.Message
	},
	Outcome: func(status int, _ http.Header, body []byte) (switchyard.Outcome, bool) {
		if status == http.StatusBadRequest && strings.Contains(string(body), "invalid_field") {
			return switchyard.OutcomeValidationFailed, true
		}
		return "", false
	},
}

func newCaller(srv *httptest.Server, tokens destination.Tokens) *destination.Caller {
	return &destination.Caller{Client: srv.Client(), Tokens: tokens, Rules: testRules, Scope: "acme:account:1",
		Secrets: []string{"app-secret"}, Timeout: 30 * time.Second, UserAgent: "Switchyard-Test/1",
		Header: http.Header{"X-Api-Version": {"2024-01"}}}
}

func TestCallerSend(t *testing.T) {
	t.Parallel()
	type want struct {
		outcome    switchyard.Outcome // "" for success (no result)
		status     int
		message    string // a substring of the result's message
		retryAfter time.Duration
		scope      string
		deactivate string
		requests   int
		refreshes  int
	}
	tests := []struct {
		name    string
		handle  func(w http.ResponseWriter, r *http.Request)
		caller  func(*destination.Caller)
		tokens  *fakeTokens
		call    destination.Call
		want    want
		request func(t *testing.T, got []seen)
	}{
		{
			name: "a 2xx answer is returned with no result; the request is JSON with the headers",
			handle: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, `{"id":"42"}`)
			},
			call: destination.Call{Method: http.MethodPost, Body: map[string]string{"email": "a@example.com"}},
			want: want{status: http.StatusCreated, requests: 1},
			request: func(t *testing.T, got []seen) {
				r := got[0]
				if r.method != http.MethodPost || r.auth != "Bearer access-1" || r.accept != "application/json" ||
					r.contentType != "application/json" || r.userAgent != "Switchyard-Test/1" || r.version != "2024-01" ||
					r.body != `{"email":"a@example.com"}` {
					t.Errorf("request = %+v", r)
				}
			},
		},
		{
			name:   "a request without a body has no Content-Type; a call's header replaces the caller's",
			handle: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) },
			call:   destination.Call{Method: http.MethodGet, Header: http.Header{"X-Api-Version": {"2025-02"}}},
			want:   want{status: http.StatusNoContent, requests: 1},
			request: func(t *testing.T, got []seen) {
				if got[0].contentType != "" || got[0].body != "" || got[0].version != "2025-02" {
					t.Errorf("request = %+v", got[0])
				}
			},
		},
		{
			name: "a json.RawMessage body is sent as it is",
			handle: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusOK)
			},
			call: destination.Call{Method: http.MethodPost, Body: json.RawMessage(`{"raw": true}`)},
			want: want{status: http.StatusOK, requests: 1},
			request: func(t *testing.T, got []seen) {
				if got[0].body != `{"raw": true}` || got[0].contentType != "application/json" {
					t.Errorf("request = %+v", got[0])
				}
			},
		},
		{
			name: "a refusal is classified with the provider's rules",
			handle: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"code":"invalid_field","message":"email is not an email"}`)
			},
			call: destination.Call{Method: http.MethodPost, Body: map[string]string{}},
			want: want{outcome: switchyard.OutcomeValidationFailed, status: http.StatusBadRequest,
				message: "Acme answered HTTP 400 Bad Request: invalid_field: email is not an email", requests: 1},
		},
		{
			name: "a call's rules replace the caller's",
			handle: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusConflict)
				_, _ = io.WriteString(w, `{"code":"exists"}`)
			},
			call: destination.Call{Method: http.MethodPost, Rules: &destination.ProviderRules{Name: "Acme",
				Outcome: func(int, http.Header, []byte) (switchyard.Outcome, bool) { return switchyard.OutcomeDelivered, true }}},
			want: want{outcome: switchyard.OutcomeDelivered, status: http.StatusConflict, message: "Acme answered HTTP 409 Conflict", requests: 1},
		},
		{
			name: "a rate limit carries the scope and the wait; Refine sees it",
			handle: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			caller: func(c *destination.Caller) {
				c.Refine = func(res *destination.Result, a *destination.Answer) {
					if res.RateLimitScope != "acme:account:1" || a.Status != http.StatusTooManyRequests {
						res.Message = "Refine saw the wrong result"
					}
					res.Message += " [refined]"
				}
			},
			call: destination.Call{Method: http.MethodGet},
			want: want{outcome: switchyard.OutcomeRateLimited, status: http.StatusTooManyRequests, message: "Too Many Requests [refined]",
				retryAfter: 7 * time.Second, scope: "acme:account:1", requests: 1},
		},
		{
			name: "a 401 refreshes the token once and sends again to the fresh token's URL",
			handle: func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer access-2" {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				w.WriteHeader(http.StatusOK)
			},
			call: destination.Call{Method: http.MethodGet},
			want: want{status: http.StatusOK, requests: 2, refreshes: 1},
			request: func(t *testing.T, got []seen) {
				if got[0].auth != "Bearer access-1" || got[1].auth != "Bearer access-2" || got[0].path != "/access-1" || got[1].path != "/access-2" {
					t.Errorf("requests = %+v", got)
				}
			},
		},
		{
			name:   "a 401 right after a refresh deactivates the connection",
			handle: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) },
			call:   destination.Call{Method: http.MethodGet},
			want: want{outcome: switchyard.OutcomeAuthFailed, status: http.StatusUnauthorized, message: "right after a token refresh",
				deactivate: switchyard.InactiveOAuthReauthorizationNeeded, requests: 2, refreshes: 1},
		},
		{
			name:   "no token to be had is the token's result, without a request",
			handle: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) },
			tokens: &fakeTokens{tokenErr: destination.ErrGrantRevoked},
			call:   destination.Call{Method: http.MethodGet},
			want: want{outcome: switchyard.OutcomeAuthFailed, message: "revoked",
				deactivate: switchyard.InactiveOAuthAuthorizationRevoked, requests: 0},
		},
		{
			name: "a 2xx answer larger than MaxBody is a rejected_server_error",
			handle: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(w, strings.Repeat("x", 100))
			},
			caller: func(c *destination.Caller) { c.MaxBody = 10 },
			call:   destination.Call{Method: http.MethodGet},
			want: want{outcome: switchyard.OutcomeRejectedServerError, status: http.StatusOK,
				message: "Acme's answer is larger than documented", requests: 1},
		},
		{
			name: "a refusal larger than MaxBody is still classified by its status",
			handle: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, strings.Repeat("x", 100))
			},
			caller: func(c *destination.Caller) { c.MaxBody = 10 },
			call:   destination.Call{Method: http.MethodGet},
			want:   want{outcome: switchyard.OutcomeDestinationNotFound, status: http.StatusNotFound, message: "Acme answered HTTP 404 Not Found", requests: 1},
		},
		{
			name:   "a body that cannot be encoded is an invalid request, without a request",
			handle: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) },
			call:   destination.Call{Method: http.MethodPost, Body: map[string]any{"f": func() {}}},
			want:   want{outcome: switchyard.OutcomeInvalidRequest, message: "cannot encode the request to Acme", requests: 0},
		},
		{
			name:   "a URL that cannot be built is an invalid request",
			handle: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) },
			call: destination.Call{Method: http.MethodGet, URLFor: func(*oauth2.Token) (string, error) {
				return "", fmt.Errorf("the token names no instance")
			}},
			want: want{outcome: switchyard.OutcomeInvalidRequest, message: "cannot build the request: the token names no instance", requests: 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, requests := callerServer(t, tt.handle)
			tokens := tt.tokens
			if tokens == nil {
				tokens = &fakeTokens{}
			}
			c := newCaller(srv, tokens)
			if tt.caller != nil {
				tt.caller(c)
			}
			call := tt.call
			if call.URL == "" && call.URLFor == nil {
				// The path names the token sent: a URL built per token follows a refresh.
				call.URLFor = func(tok *oauth2.Token) (string, error) { return srv.URL + "/" + tok.AccessToken, nil }
			}
			a, res := c.Send(context.Background(), call)
			got := requests()
			if len(got) != tt.want.requests || tokens.refreshes != tt.want.refreshes {
				t.Fatalf("%d requests and %d refreshes, want %d and %d", len(got), tokens.refreshes, tt.want.requests, tt.want.refreshes)
			}
			if tt.want.outcome == "" {
				if res != nil {
					t.Fatalf("result = %+v, want none", *res)
				}
				if a == nil || a.Status != tt.want.status || c.Status() != tt.want.status {
					t.Fatalf("answer = %+v, status %d; want status %d", a, c.Status(), tt.want.status)
				}
				if d := c.Delivered(); d.Outcome != switchyard.OutcomeDelivered || d.HTTPStatus != tt.want.status ||
					!strings.HasPrefix(d.Message, "Acme answered HTTP ") || !strings.HasPrefix(d.Response, "HTTP/1.1 ") {
					t.Errorf("Delivered() = %+v", d)
				}
			} else {
				if res == nil {
					t.Fatalf("no result, want %s", tt.want.outcome)
				}
				if res.Outcome != tt.want.outcome || res.HTTPStatus != tt.want.status || !strings.Contains(res.Message, tt.want.message) ||
					res.RetryAfter != tt.want.retryAfter || res.RateLimitScope != tt.want.scope || res.Deactivate != tt.want.deactivate {
					t.Errorf("result = %+v, want %+v", *res, tt.want)
				}
				if tt.want.status != 0 && (a == nil && tt.want.status != http.StatusUnauthorized || !strings.HasPrefix(res.Response, "HTTP/1.1 ")) {
					t.Errorf("answer %+v, response %q: want the answer and its excerpt", a, res.Response)
				}
			}
			if tt.request != nil {
				tt.request(t, got)
			}
		})
	}
}

// TestCallerRedacts checks that every token handed out (a refreshed one included) and the
// caller's secrets stay out of the result and the excerpt, however the provider echoes them.
func TestCallerRedacts(t *testing.T) {
	t.Parallel()
	srv, _ := callerServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer access-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Www-Authenticate", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"code":"echo","message":"%s access-1 refresh-1 refresh-2 app-secret"}`, r.Header.Get("Authorization"))
	})
	c := newCaller(srv, &fakeTokens{})
	_, res := c.Send(context.Background(), destination.Call{Method: http.MethodGet, URL: srv.URL + "/x"})
	if res == nil || res.Outcome != switchyard.OutcomeRejectedClientError {
		t.Fatalf("result = %+v, want rejected_client_error", res)
	}
	unexpected := c.Unexpected(http.StatusOK, "its answer names no id")
	for _, text := range []string{res.Message, res.Response, c.Last(), unexpected.Message, unexpected.Response, c.Delivered().Response} {
		for _, secret := range []string{"access-1", "access-2", "refresh-1", "refresh-2", "app-secret"} {
			if strings.Contains(text, secret) {
				t.Errorf("%q leaks %s", text, secret)
			}
		}
		if !strings.Contains(text, destination.MaskedValue) && text != unexpected.Message {
			t.Errorf("%q: want the echoed secrets masked", text)
		}
	}
	if !strings.Contains(unexpected.Message, "Acme answered HTTP 200 OK but its answer names no id") ||
		unexpected.Outcome != switchyard.OutcomeRejectedServerError {
		t.Errorf("Unexpected = %+v", *unexpected)
	}
}

func TestCallerJSON(t *testing.T) {
	t.Parallel()
	srv, _ := callerServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			_, _ = io.WriteString(w, `not json`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"42"}`)
	})
	c := newCaller(srv, &fakeTokens{})
	var out struct {
		ID string `json:"id"`
	}
	if _, res := c.JSON(context.Background(), destination.Call{Method: http.MethodGet, URL: srv.URL + "/good"}, &out); res != nil || out.ID != "42" {
		t.Errorf("JSON = %+v, %+v; want id 42", out, res)
	}
	_, res := c.JSON(context.Background(), destination.Call{Method: http.MethodGet, URL: srv.URL + "/bad"}, &out)
	if res == nil || res.Outcome != switchyard.OutcomeRejectedServerError || res.HTTPStatus != http.StatusOK ||
		!strings.Contains(res.Message, "Acme answered HTTP 200 OK but its answer is not the JSON it documents") {
		t.Errorf("JSON of a non-JSON answer = %+v", res)
	}
}

// TestCallerTimeout checks that a provider that never answers comes to a timeout that names
// the call's own bound, or the caller's deadline when that is shorter.
func TestCallerTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		timeout  time.Duration
		deadline time.Duration
		names    string
	}{
		{"the call's timeout", 50 * time.Millisecond, 0, "no response within the 50ms timeout"},
		{"the caller's shorter deadline", 30 * time.Second, 200 * time.Millisecond, "ms timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			srv, _ := callerServer(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			t.Cleanup(func() { close(release) })
			c := newCaller(srv, &fakeTokens{})
			c.Timeout = tt.timeout
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			_, res := c.Send(ctx, destination.Call{Method: http.MethodGet, URL: srv.URL + "/hang"})
			if res == nil || res.Outcome != switchyard.OutcomeTimeout || res.HTTPStatus != 0 || !strings.Contains(res.Message, tt.names) ||
				strings.Contains(res.Message, "30s") {
				t.Errorf("result = %+v, want a timeout naming %q", res, tt.names)
			}
		})
	}
}
