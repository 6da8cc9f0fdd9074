package api

import (
	"net/http"
	"strings"
)

// CORS is offered on the two ingestion endpoints only, so browsers and mobile web apps can emit
// events with a publishable key (docs/meshes-compat.md §3). Management endpoints answer no preflight:
// a machine secret must never be in a browser. No cookies are involved, so any origin may call.
var (
	corsAllowHeaders = strings.Join([]string{"Content-Type", "Accept", publishableKeyHeader, "X-Meshes-Client",
		"Idempotency-Key", "X-Request-Id"}, ", ")
	corsExposeHeaders = strings.Join([]string{"X-Request-Id", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
		"RateLimit-Reset"}, ", ")
)

// withCORS adds the CORS response headers to an ingestion route.
func withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		next.ServeHTTP(w, r)
	})
}

// corsPreflight answers the preflight of an ingestion route.
func corsPreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", "600")
	h.Add("Vary", "Origin")
	w.WriteHeader(http.StatusNoContent)
}
