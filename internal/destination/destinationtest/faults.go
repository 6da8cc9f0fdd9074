package destinationtest

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// Answer is one answer of a fake provider: a status, headers and a body.
type Answer struct {
	Status int
	Header http.Header
	Body   string
}

// Faults is an http.Handler middleware that scripts a provider's misbehaviour in front of any
// handler (a fake provider, a webhook receiver): the next answers replaced by scripted ones,
// requests that hang until the client gives up, connections reset without an answer. It
// implements Fake. It is safe for concurrent use.
type Faults struct {
	next http.Handler
	// Match, when set before the first request, limits the faults to the requests it accepts
	// — a provider's API, not its token endpoint, so that a refresh still works while every
	// API call answers 401. The others go straight to next.
	Match func(*http.Request) bool

	mu       sync.Mutex
	answers  []scripted
	hang     chan struct{} // non-nil while hanging; closed by Release
	reset    bool
	requests int
}

type scripted struct {
	Answer
	remaining int
}

var _ Fake = (*Faults)(nil)

// NewFaults returns the middleware in front of next. A nil next answers 204 No Content.
func NewFaults(next http.Handler) *Faults {
	if next == nil {
		next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
		})
	}
	return &Faults{next: next}
}

// FailNext makes the next n matching requests get a instead of next's answer (after any answers
// scripted before).
func (f *Faults) FailNext(n int, a Answer) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	f.answers = append(f.answers, scripted{Answer: a, remaining: n})
	f.mu.Unlock()
}

// Hang makes every matching request from now on wait, unanswered, until the client gives up
// or Release is called.
func (f *Faults) Hang() {
	f.mu.Lock()
	if f.hang == nil {
		f.hang = make(chan struct{})
	}
	f.mu.Unlock()
}

// Reset makes every matching request from now on end with its connection reset (a TCP RST),
// without an answer, until Release is called.
func (f *Faults) Reset() {
	f.mu.Lock()
	f.reset = true
	f.mu.Unlock()
}

// Release ends Hang and Reset: hung requests go on to be answered, new ones are served.
func (f *Faults) Release() {
	f.mu.Lock()
	if f.hang != nil {
		close(f.hang)
		f.hang = nil
	}
	f.reset = false
	f.mu.Unlock()
}

// Requests is how many matching requests have arrived.
func (f *Faults) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.Match != nil && !f.Match(r) {
		f.next.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	f.requests++
	hang, reset := f.hang, f.reset
	var answer *Answer
	if !reset && hang == nil && len(f.answers) > 0 {
		a := f.answers[0].Answer
		answer = &a
		if f.answers[0].remaining--; f.answers[0].remaining == 0 {
			f.answers = f.answers[1:]
		}
	}
	f.mu.Unlock()

	switch {
	case reset:
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		resetConnection(w)
		return
	case hang != nil:
		// Read the body now, as a server that hangs after reading the request does, and keep it
		// for the request's answer when the hang is released.
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-r.Context().Done():
			return
		case <-hang:
		}
		f.next.ServeHTTP(w, r)
		return
	case answer != nil:
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		for k, vs := range answer.Header {
			w.Header()[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
		}
		w.WriteHeader(answer.Status)
		_, _ = io.WriteString(w, answer.Body)
		return
	}
	f.next.ServeHTTP(w, r)
}

// resetConnection closes the request's connection with a TCP RST (SO_LINGER 0). Where the
// connection cannot be taken over (HTTP/2), the request is aborted instead.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if l, ok := raw.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	_ = raw.Close()
}

// Serve starts a loopback HTTP server running next behind a new Faults: the fake provider of
// one subtest. When t ends, anything hung is released and the server is closed.
func Serve(t testing.TB, next http.Handler) (*Faults, *httptest.Server) {
	t.Helper()
	f := NewFaults(next)
	srv := httptest.NewServer(f)
	t.Cleanup(func() {
		f.Release()
		srv.Close()
	})
	return f, srv
}

// Proxy is a handler that passes every request on to target, a fake provider that runs its
// own server, so that a Faults can stand in front of it: Serve(t, Proxy(t, fake.URL())). The
// Host header is kept, so a fake that builds URLs from it points its clients back through the
// proxy. Its connections to target are closed when t ends.
func Proxy(t testing.TB, target string) http.Handler {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		t.Fatalf("destinationtest.Proxy: target %q is not an absolute URL", target)
	}
	tr := &http.Transport{DialContext: (&net.Dialer{}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		Transport: tr,
		// The client giving up (a timeout subtest) is no news: answer 502 without a log line.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
}
