package fakekit

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestServerLogFaultsHangAndClose(t *testing.T) {
	t.Parallel()
	clock := NewClock(func() time.Time { return time.Unix(1000, 0) })
	clock.Advance(time.Minute)
	var faults Faults
	faults.ContentType = "application/json"
	s := Start(t, Config{Name: "kit", Clock: clock}, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if faults.Serve(w, r) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	faults.Add(1, Failure{Status: 503, Body: `{"x":1}`, PathPrefix: "/a"})
	if r := Send(t, s.Client(), NewRequest(t, "GET", s.URL()+"/b?q=1", "tok", nil)); r.Status != 204 {
		t.Fatalf("unmatched path: %d", r.Status)
	}
	r := Send(t, s.Client(), NewRequest(t, "POST", s.URL()+"/a/1", "", map[string]int{"n": 1}))
	if r.Status != 503 || r.Header.Get("Content-Type") != "application/json" || string(r.Body) != `{"x":1}` {
		t.Fatalf("injected: %d %v %s", r.Status, r.Header, r.Body)
	}
	if r := Send(t, s.Client(), NewRequest(t, "POST", s.URL()+"/a/1", "", nil)); r.Status != 204 {
		t.Fatalf("failure used twice: %d", r.Status)
	}
	first, _ := s.Log.Last("/b")
	if first.Query().Get("q") != "1" || first.Header.Get("Authorization") != "Bearer tok" || !first.At.Equal(time.Unix(1060, 0)) {
		t.Fatalf("logged %+v", first)
	}
	if n := len(s.Log.To("POST", "/a/1")); n != 2 {
		t.Fatalf("To = %d", n)
	}

	s.Hang()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"/c", nil)
	if _, err := s.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		res, err := s.Client().Get(s.URL() + "/held")
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	s.Log.AwaitCount(t, "GET", "/held", 1)
	s.Close()
	<-done
	s.Close() // twice is fine
}

func TestCodes(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	verifier := "verifier-verifier-verifier-verifier-verifier"
	red := Redemption{ClientID: "c", RedirectURI: "http://127.0.0.1/cb", Verifier: verifier}
	for _, validAtExpiry := range []bool{false, true} {
		cs := Codes{ValidAtExpiry: validAtExpiry}
		cs.Add("k", Code{ClientID: "c", RedirectURI: red.RedirectURI, Challenge: S256Challenge(verifier), ChallengeMethod: "S256", Expires: now.Add(time.Minute)})
		if _, p := cs.Redeem("k", red, now.Add(time.Minute)); (p == CodeExpired) == validAtExpiry {
			t.Fatalf("at expiry, ValidAtExpiry=%v: %v", validAtExpiry, p)
		}
	}
	cs := Codes{}
	cs.Add("k", Code{ClientID: "c", RedirectURI: red.RedirectURI, Challenge: S256Challenge(verifier), Expires: now.Add(time.Minute)})
	for _, c := range []struct {
		red  Redemption
		want CodeProblem
	}{
		{Redemption{ClientID: "other", RedirectURI: red.RedirectURI, Verifier: verifier}, CodeUnknown},
		{Redemption{ClientID: "c", RedirectURI: "http://127.0.0.1/x", Verifier: verifier}, CodeRedirectMismatch},
		{Redemption{ClientID: "c", RedirectOptional: true, Verifier: verifier + "x"}, CodeVerifierMismatch},
		{Redemption{ClientID: "c", RedirectOptional: true, Verifier: verifier}, CodeOK},
		{red, CodeUnknown}, // single use
	} {
		if _, p := cs.Redeem("k", c.red, now); p != c.want {
			t.Fatalf("%+v: %v, want %v", c.red, p, c.want)
		}
	}
	if !VerifyPKCE("plain", "abc==", "abc") || VerifyPKCE("S256", S256Challenge("a"), "") {
		t.Fatal("VerifyPKCE")
	}
}

func TestLookupAndRedirects(t *testing.T) {
	t.Parallel()
	routes := []struct{ m, p string }{{"GET", "/lists/{id}"}, {"POST", "/lists/search"}, {"POST", "/lists/{id}"}}
	key := func(r struct{ m, p string }) (string, string) { return r.m, r.p }
	if rt, params, st := Lookup(routes, key, "POST", "/lists/search"); st != 0 || rt.p != "/lists/search" || len(params) != 0 {
		t.Fatalf("literal: %v %v %d", rt, params, st)
	}
	if _, params, st := Lookup(routes, key, "GET", "/lists/a%2Fb"); st != 0 || params["id"] != "a/b" {
		t.Fatalf("param: %v %d", params, st)
	}
	if _, _, st := Lookup(routes, key, "DELETE", "/lists/1"); st != http.StatusMethodNotAllowed {
		t.Fatalf("method: %d", st)
	}
	if _, _, st := Lookup(routes, key, "GET", "/nope"); st != http.StatusNotFound {
		t.Fatalf("path: %d", st)
	}
	for uri, want := range map[string]bool{"http://127.0.0.1:9/cb": true, "http://localhost/cb": true, "https://[::1]/cb": true,
		"https://example.com/cb": false, "ftp://127.0.0.1/cb": false, "http://127.0.0.1/cb#f": false} {
		if RedirectAllowed(nil, uri) != want {
			t.Errorf("RedirectAllowed(%s) != %v", uri, want)
		}
	}
	if !RedirectAllowed([]string{"https://example.com/cb"}, "https://example.com/cb") || RedirectAllowed([]string{"https://example.com/cb"}, "http://127.0.0.1/cb") {
		t.Error("registered redirect URIs")
	}
}

func TestWindows(t *testing.T) {
	t.Parallel()
	var ws Windows
	t0 := time.Unix(0, 0)
	ws.Hit("a", t0, 10*time.Second)
	if w := ws.Hit("a", t0.Add(9*time.Second), 10*time.Second); w.Count != 2 || !w.Start.Equal(t0) {
		t.Fatalf("same window: %+v", w)
	}
	if w := ws.Hit("a", t0.Add(10*time.Second), 10*time.Second); w.Count != 1 {
		t.Fatalf("next window: %+v", w)
	}
	if w := ws.Hit("b", t0, 10*time.Second); w.Count != 1 {
		t.Fatalf("other key: %+v", w)
	}
}
