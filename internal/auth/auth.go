// Package auth issues and checks the credentials of the Meshes API v1 as Switchyard implements
// it: machine keys (an "mk_" access key and a secret), the short-lived HS256 machine JWTs that
// Meshes' clients mint from them for every request, and publishable keys for event ingestion.
//
// The formats are fixed by the official clients, which validate credentials before sending
// anything: the machine JWT is described in docs/meshes-compat.md §2 and the key formats in §2 and §3. The
// Verifier is deliberately strict where those clients are uniform (HS256 only, a kid naming the
// key, at most 60 seconds of lifetime) and tolerant where they differ (the order of JSON keys, an
// audience given as a string or an array).
package auth

import (
	"net/http"
	"strings"
)

// BearerToken returns the token of an "Authorization: Bearer <token>" header. The scheme is
// matched case-insensitively (RFC 9110 §11.1). It reports false when the header is absent, uses
// another scheme, has no token, has a token containing whitespace, or appears more than once:
// two Authorization headers are ambiguous, and picking one would let a proxy and this server
// disagree about who is calling.
func BearerToken(h http.Header) (string, bool) {
	values := h.Values("Authorization")
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}
