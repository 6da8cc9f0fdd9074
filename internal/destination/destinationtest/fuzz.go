package destinationtest

import (
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/switchyardhq/switchyard/internal/destination"
)

// Fuzzed secrets: the credential the Caller sends and a secret it was told to keep out of
// results. A provider that echoes either must not get it into a message or an excerpt.
const (
	fuzzToken  = "tok-fuzz-5f0c1d2e3b4a"
	fuzzSecret = "sec-fuzz-9a8b7c6d5e4f"
)

// FuzzAnswers feeds a Caller built with an integration's rules and refinement arbitrary answers
// from a loopback server — a status, a header with its value, a body — and holds what comes back
// to what the engine relies on: no panic; an answer or a result; a result that passes the
// suite's checks (one of the outcome codes, not internal_error; bounded storable text naming
// neither the token sent nor the secret; a wait that is not negative). The answers are the
// provider's untrusted input: its error bodies and rate-limit headers are parsed by the rules.
// seeds are bodies the provider documents; each is tried with the statuses that matter.
func FuzzAnswers(f *testing.F, rules *destination.ProviderRules, refine func(*destination.Result, *destination.Answer), seeds []string) {
	f.Helper()
	var (
		mu     sync.Mutex
		status int
		header [2]string
		body   []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		st, h, b := status, header, body
		mu.Unlock()
		if h[0] != "" {
			w.Header().Set(h[0], h[1])
		}
		w.WriteHeader(st)
		_, _ = w.Write(b)
	}))
	f.Cleanup(srv.Close)
	for _, s := range append(seeds, ``, `{}`, `not json`, `{"message":"`+fuzzToken+` `+fuzzSecret+`"}`,
		`{"status":"error","message":"a\u0000b \ud800","category":"X","code":300,"errors":[{"message":"\u0000","field":"f"}]}`,
		`[{"message":"a\u0000b","errorCode":"X\u0000"}]`, "{\"message\":\"caf\xc3\x28\"}") {
		for _, st := range []uint16{200, 400, 401, 403, 404, 409, 410, 413, 422, 429, 500, 503} {
			f.Add(st, "Retry-After", "2", []byte(s))
		}
	}
	f.Add(uint16(429), "X-RateLimit-Reset", "99999999999999999999", []byte(`{}`))
	f.Add(uint16(429), "X-HubSpot-RateLimit-Interval-Milliseconds", "-5", []byte(`{"policyName":"TEN_SECONDLY_ROLLING"}`))
	f.Add(uint16(403), "Sforce-Limit-Info", "api-usage=99999999999/1", []byte(`[{"errorCode":"REQUEST_LIMIT_EXCEEDED"}]`))
	f.Add(uint16(429), "X-RateLimit-Type", "Daily-limit", []byte(`{"code":429}`))
	f.Fuzz(func(t *testing.T, st uint16, name, value string, b []byte) {
		if st < 200 || st > 599 {
			return
		}
		name = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name))
		if !validHeader(name, value) {
			name, value = "", ""
		}
		mu.Lock()
		status, header, body = int(st), [2]string{name, value}, b
		mu.Unlock()
		c := &destination.Caller{Client: srv.Client(), Tokens: destination.StaticTokens{AccessToken: fuzzToken}, Rules: rules,
			Refine: refine, Scope: "fuzz:scope", Secrets: []string{fuzzSecret}}
		a, res := c.Send(t.Context(), destination.Call{Method: http.MethodPost, URL: srv.URL + "/x", Body: map[string]any{"k": "v"}})
		if a == nil && res == nil {
			t.Fatal("neither an answer nor a result")
		}
		if res == nil {
			if a.Status < 200 || a.Status > 299 {
				t.Fatalf("status %d without a result", a.Status)
			}
			return
		}
		for _, p := range (&checker{secrets: []string{fuzzToken, fuzzSecret}}).problems(*res) {
			t.Error(p)
		}
	})
}

// validHeader reports whether the fake server may send this header: one net/http accepts
// (httpguts), and not one that frames the answer.
func validHeader(name, value string) bool {
	if !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
		return false
	}
	switch strings.ToLower(name) {
	case "content-length", "transfer-encoding", "connection", "trailer", "content-encoding":
		return false
	}
	return true
}
