package fakekit

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Request is one request a Server received, as sent.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	At       time.Time
}

// Query parses RawQuery (as url.URL.Query does).
func (r Request) Query() url.Values {
	v, _ := url.ParseQuery(r.RawQuery)
	return v
}

// JSON decodes the body into v.
func (r Request) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// Form parses the body as application/x-www-form-urlencoded.
func (r Request) Form() url.Values {
	v, _ := url.ParseQuery(string(r.Body))
	return v
}

func (r Request) clone() Request {
	r.Header = r.Header.Clone()
	r.Body = append([]byte(nil), r.Body...)
	return r
}

// Log is the request log of a Server, oldest first. It is safe for
// concurrent use; everything it returns is a copy.
type Log struct {
	mu      sync.Mutex
	reqs    []Request
	changed chan struct{} // closed and replaced on every change
}

func (l *Log) add(r Request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.notifyLocked()
	l.mu.Unlock()
}

func (l *Log) notifyLocked() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// All returns every logged request.
func (l *Log) All() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Request, len(l.reqs))
	for i, r := range l.reqs {
		out[i] = r.clone()
	}
	return out
}

// To returns the logged requests with this method and path.
func (l *Log) To(method, path string) []Request {
	var out []Request
	for _, r := range l.All() {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// Last returns the most recent request whose path starts with prefix ("" for
// any request).
func (l *Log) Last(prefix string) (Request, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.reqs) - 1; i >= 0; i-- {
		if strings.HasPrefix(l.reqs[i].Path, prefix) {
			return l.reqs[i].clone(), true
		}
	}
	return Request{}, false
}

// Reset empties the log.
func (l *Log) Reset() {
	l.mu.Lock()
	l.reqs = nil
	l.notifyLocked()
	l.mu.Unlock()
}

// Await blocks until done reports true for the logged requests, or ctx ends.
// Tests use it to know that a request has arrived (for example one that Hang
// holds) without sleeping.
func (l *Log) Await(ctx context.Context, done func([]Request) bool) error {
	for {
		l.mu.Lock()
		ok := done(l.reqs)
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		l.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// AwaitCount waits until at least n requests with this method and path have
// been logged; path "" matches any request. It fails t after 10 seconds.
func (l *Log) AwaitCount(t testingT, method, path string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := l.Await(ctx, func(rs []Request) bool {
		c := 0
		for _, r := range rs {
			if path == "" || (r.Method == method && r.Path == path) {
				c++
			}
		}
		return c >= n
	})
	if err != nil {
		t.Fatalf("fakekit: %d requests to %s %s never arrived", n, method, path)
	}
}

// testingT is the part of testing.TB the kit's waits use.
type testingT interface {
	Helper()
	Fatalf(format string, args ...any)
}
