package api

import (
	"net/http"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RequireMachineJWT guards a handler mounted beside the API (the MCP endpoint, /mcp) with the
// API's own authentication: a request without a valid machine JWT gets the API's 401 (and
// counts against its client address's failed authentications, as on every route); an embed
// session token, confined to the routes of authz.go's table, gets 403. It checks no permission:
// the handler is expected to call the API with the same token, where each route requires its
// own. The answer carries an X-Request-Id, like the API's.
func (s *Server) RequireMachineJWT(next http.Handler) http.Handler {
	return s.withRequestID(s.withRecover(s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(w, r, s.authenticateJWT)
		if switchyard.ErrorCode(err) == switchyard.EUNAUTHORIZED {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
		}
		if err != nil {
			return err
		}
		if p.Session != nil {
			return authorizeSession(p.Session, r.Pattern)
		}
		next.ServeHTTP(w, r)
		return nil
	})))
}
