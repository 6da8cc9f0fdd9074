package api

import (
	"io"
	"net/http"

	"github.com/switchyardhq/switchyard/docs"
)

// routeMux is the ServeMux routes() fills, remembering every pattern it is given, so that a
// test can hold the route table against the OpenAPI document (which must describe exactly the
// routes served).
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers fn for pattern.
func (m *routeMux) HandleFunc(pattern string, fn func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(fn))
}

// openAPIDocument serves docs/openapi.json, embedded in the binary. It needs no credentials:
// the document describes the API, not anyone's data.
func openAPIDocument(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = io.WriteString(w, docs.OpenAPI)
}
