package fakekit

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Handler serves one request of a fake; body is the request body, already
// read (r.Body reads it again).
type Handler func(w http.ResponseWriter, r *http.Request, body []byte)

// Config describes a fake's Server.
type Config struct {
	// Name prefixes listen errors, such as "hubspot fake".
	Name string
	// MaxBodyBytes caps how much of a request body is read (default 10 MiB).
	MaxBodyBytes int64
	// Clock stamps the log; nil means the wall clock.
	Clock *Clock
	// DropConnectionsOnClose makes Close cut open client connections too,
	// instead of only waiting for requests in progress.
	DropConnectionsOnClose bool
}

// Server is a fake provider's HTTP server on 127.0.0.1: it logs every
// request, applies latency and Hang, then calls the fake's Handler.
type Server struct {
	Log Log

	cfg       Config
	handler   Handler
	srv       *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	hang    chan struct{}
	latency time.Duration
}

// Start listens on 127.0.0.1 and serves h. When t is not nil a listen error
// fails t and the server is closed by t.Cleanup; otherwise a listen error
// panics.
func Start(t testing.TB, cfg Config, h Handler) *Server {
	if t != nil {
		t.Helper()
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	if cfg.Clock == nil {
		cfg.Clock = NewClock(nil)
	}
	s := &Server{cfg: cfg, handler: h, closed: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if t != nil {
			t.Fatalf("%s: listen: %v", cfg.Name, err)
		}
		panic(fmt.Sprintf("%s: listen on loopback: %v", cfg.Name, err))
	}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s}}
	s.srv.Start()
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// URL is the server's base URL, http://127.0.0.1:port.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the server that does not follow
// redirects, so that an authorize endpoint's 302 can be inspected.
func (s *Server) Client() *http.Client {
	c := *s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Close releases held and delayed requests unanswered and shuts the server
// down. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	if s.cfg.DropConnectionsOnClose {
		s.srv.CloseClientConnections()
	}
	s.srv.Close()
}

// Hang makes every request that arrives from now on wait, unanswered, until
// Release, Close or the client giving up.
func (s *Server) Hang() {
	s.mu.Lock()
	if s.hang == nil {
		s.hang = make(chan struct{})
	}
	s.mu.Unlock()
}

// Release lets held requests proceed and ends Hang.
func (s *Server) Release() {
	s.mu.Lock()
	if s.hang != nil {
		close(s.hang)
		s.hang = nil
	}
	s.mu.Unlock()
}

// SetLatency delays every request by d before it is handled (0 turns it
// off).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.Log.add(Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, At: s.cfg.Clock.Now()})
	s.mu.Lock()
	hang, latency := s.hang, s.latency
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		if !wait(s, r, t.C) {
			return
		}
	}
	if hang != nil && !wait(s, r, hang) {
		return
	}
	s.handler(w, r, body)
}

// wait blocks until ch yields; false when the client or the server gave up.
func wait[T any](s *Server, r *http.Request, ch <-chan T) bool {
	select {
	case <-ch:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closed:
		return false
	}
}
