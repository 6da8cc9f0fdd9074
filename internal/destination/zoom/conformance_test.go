package zoom

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
	zoomfake "github.com/switchyardhq/switchyard/internal/providerfake/zoom"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// TestConformance runs the integration conformance suite against the fake Zoom behind the
// suite's fault injector, with a connection authorized by a user-level OAuth app (a refreshable
// grant; the refresh goes to the fake's token endpoint, which the faults leave alone) and Zoom's
// documented error bodies ({"code","message"[,"errors"]}, "Error Codes") and rate-limit
// headers ("Rate limits").
func TestConformance(t *testing.T) {
	t.Parallel()

	jsonHeader := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json;charset=UTF-8"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	zoomError := func(code int, message string) string {
		return fmt.Sprintf(`{"code":%d,"message":%q}`, code, message)
	}
	const meeting = int64(85746065123)

	destinationtest.Run(t, destinationtest.Harness{
		Integration: Integration(),
		Start: func(t *testing.T) *destinationtest.Target {
			srv := newFake(t, zoomfake.Options{})
			srv.AddMeeting(zoomfake.Meeting{ID: meeting, Topic: "Weekly demo"})
			faults, proxy := destinationtest.Serve(t, destinationtest.Proxy(t, srv.OAuthURL()))
			faults.Match = func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v2/") }
			opts := options(srv)
			app := opts.Apps[Type]
			app.APIBase = proxy.URL + "/v2"
			opts.Apps = map[string]destination.OAuthApp{Type: app}

			tokens := newOAuthTokens(srv)
			conn := connection(nil)
			sender := destinationtest.Provision(t, Integration(), opts, destination.Provision{
				Connection: conn, Tokens: tokens, Account: AccountScope(srv.AccountID())})

			var n atomic.Int64
			return &destinationtest.Target{
				Sender: sender,
				Request: func() *destination.Request {
					req := request(ActionAddMeetingRegistrant, meetingID(meeting), map[string]any{
						"email": fmt.Sprintf("ada+%d@example.com", n.Add(1)), "first_name": "Ada", "last_name": "Lovelace"})
					req.Connection = conn
					return req
				},
				Fake:           faults,
				ExpireToken:    srv.ExpireAccessTokens,
				Refreshes:      srv.RefreshCount,
				Secrets:        tokens.secrets(), // the access and refresh tokens issued, the app's client secret
				RateLimitScope: AccountScope(srv.AccountID()),
			}
		},
		Validation: destinationtest.Case{Answer: destinationtest.Answer{Status: 400, Header: jsonHeader(),
			Body: `{"code":300,"message":"Validation Failed.","errors":[{"field":"email","message":"Invalid field."}]}`},
			Outcome: switchyard.OutcomeValidationFailed},
		// The token is refused even after the one refresh.
		Unauthorized: destinationtest.Case{Answer: destinationtest.Answer{Status: 401, Header: jsonHeader(),
			Body: zoomError(124, "Invalid access token.")},
			Deactivate: switchyard.InactiveOAuthReauthorizationNeeded},
		// A scope is missing: auth_failed, not deactivated.
		Forbidden: destinationtest.Case{Answer: destinationtest.Answer{Status: 403, Header: jsonHeader(),
			Body: zoomError(200, "No permission.")}},
		NotFound: destinationtest.Case{Answer: destinationtest.Answer{Status: 404, Header: jsonHeader(),
			Body: zoomError(3001, fmt.Sprintf("Meeting does not exist: %d.", meeting))}},
		// Zoom documents no 409 for adding a registrant (an email already registered gets its
		// registration back with 201): a 409 is a conflict.
		Conflict: destinationtest.Case{Answer: destinationtest.Answer{Status: 409, Header: jsonHeader(),
			Body: zoomError(409, "Conflict.")}},
		// Zoom documents no 410; a body in its error format.
		Gone: destinationtest.Case{Answer: destinationtest.Answer{Status: 410, Header: jsonHeader(),
			Body: zoomError(410, "Gone.")}},
		RateLimited: destinationtest.Case{Answer: destinationtest.Answer{Status: 429, Header: jsonHeader(
			"X-RateLimit-Category", "Light", "X-RateLimit-Type", "QPS", "X-RateLimit-Limit", "30", "X-RateLimit-Remaining", "0"),
			Body: zoomError(429, "You have reached the maximum per-second rate limit for this API. Try again later.")}},
		ServerError: destinationtest.Case{Answer: destinationtest.Answer{Status: 503, Header: jsonHeader("Retry-After", "7"),
			Body: zoomError(503, "Service unavailable.")}},
	})
}
