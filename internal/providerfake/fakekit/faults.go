package fakekit

import (
	"io"
	"net/http"
	"strings"
	"sync"
)

// Failure is an injected response.
type Failure struct {
	Status  int
	Body    string
	Headers map[string]string
	// Method and PathPrefix, when set, restrict which requests the failure
	// applies to; other requests pass through untouched.
	Method     string
	PathPrefix string
}

type pendingFailure struct {
	Failure
	remaining int
}

// Faults is a queue of injected responses, safe for concurrent use. The
// zero value is empty and ready to use.
type Faults struct {
	// ContentType, when set, is sent with a non-empty injected body whose
	// Headers set no Content-Type. Otherwise an injected response carries
	// exactly its Headers.
	ContentType string

	mu      sync.Mutex
	pending []*pendingFailure
}

// Add queues f for the next n matching requests; n <= 0 queues nothing.
func (q *Faults) Add(n int, f Failure) {
	if n <= 0 {
		return
	}
	q.mu.Lock()
	q.pending = append(q.pending, &pendingFailure{Failure: f, remaining: n})
	q.mu.Unlock()
}

// Take returns the first queued failure that applies to r, using it up.
func (q *Faults) Take(r *http.Request) (Failure, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, f := range q.pending {
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if f.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			continue
		}
		f.remaining--
		if f.remaining <= 0 {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
		}
		return f.Failure, true
	}
	return Failure{}, false
}

// Serve answers r with the next failure that applies to it, if any, and
// reports whether it did.
func (q *Faults) Serve(w http.ResponseWriter, r *http.Request) bool {
	f, ok := q.Take(r)
	if !ok {
		return false
	}
	ct := false
	for k, v := range f.Headers {
		w.Header().Set(k, v)
		ct = ct || strings.EqualFold(k, "Content-Type")
	}
	if !ct && f.Body != "" && q.ContentType != "" {
		w.Header().Set("Content-Type", q.ContentType)
	}
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
	return true
}
