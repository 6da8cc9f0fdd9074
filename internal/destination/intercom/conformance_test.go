package intercom_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
	"github.com/switchyardhq/switchyard/internal/destination/intercom"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/intercom"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// TestConformance runs the integration conformance suite against the fake Intercom behind the
// suite's fault injector, with an OAuth connection and Intercom's documented error.list bodies
// and X-RateLimit-* headers ("Error codes" and "Rate limiting" of the REST API reference).
//
// Intercom's OAuth tokens do not expire and come without a refresh token, so there is no
// refresh grant to exercise. As the package's auth tests do, the managed credential's Refresh
// stands for the engine's Tokens handing over a newer stored credential (the workspace
// re-authorized): "expiring" the token revokes it at the fake, and the one refresh after the
// 401 yields a token the fake issues for the workspace then.
func TestConformance(t *testing.T) {
	t.Parallel()

	errorList := func(code, message string) string {
		return `{"type":"error.list","request_id":"000ej2tn8cgpo5qhv3a0","errors":[{"code":"` + code + `","message":"` + message + `"}]}`
	}
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	reset := strconv.FormatInt(time.Now().Add(10*time.Second).Unix(), 10)

	destinationtest.Run(t, destinationtest.Harness{
		Integration: intercom.Integration(),
		Start: func(t *testing.T) *destinationtest.Target {
			srv := newFake(t, fake.Options{})
			tag := srv.AddTag("VIP")
			faults, proxy := destinationtest.Serve(t, destinationtest.Proxy(t, srv.URL()))
			faults.Match = func(r *http.Request) bool {
				return r.URL.Path != "/oauth" && r.URL.Path != "/auth/eagle/token"
			}
			opts := options(srv)
			app := opts.Apps[intercom.Type]
			app.APIBase = proxy.URL
			opts.Apps = map[string]destination.OAuthApp{intercom.Type: app}

			// The workspace's token; a refresh hands over a new one the fake issues then.
			first := srv.IssueToken()
			tokens := &testTokens{tok: first, refresh: func() (string, error) { return srv.IssueToken(), nil }}
			account := intercom.AccountPrefix + srv.AppIDCode()
			conn := connection(nil)
			sender := destinationtest.Provision(t, intercom.Integration(), opts, destination.Provision{
				Connection: conn, Tokens: tokens, Account: account})

			var n atomic.Int64
			return &destinationtest.Target{
				Sender: sender,
				Request: func() *destination.Request {
					req := tagRequest(intercom.ActionAddTag, tag, map[string]any{
						"email": fmt.Sprintf("ada+%d@example.com", n.Add(1)), "name": "Ada Lovelace"})
					req.Connection = conn
					return req
				},
				Fake: faults,
				ExpireToken: func() {
					tok, _ := tokens.Token(t.Context())
					srv.RevokeToken(tok.AccessToken)
				},
				Refreshes:      tokens.count,
				Secrets:        []string{first, srv.ClientSecret()},
				RateLimitScope: account,
			}
		},
		// A value Intercom refuses (an unknown custom attribute, a value of the wrong type).
		Validation: destinationtest.Case{Answer: destinationtest.Answer{Status: 400, Header: jsonHeader,
			Body: errorList("parameter_invalid", "Custom attribute 'plan' does not exist")},
			Outcome: switchyard.OutcomeValidationFailed},
		// The token is refused even after the one refresh.
		Unauthorized: destinationtest.Case{Answer: destinationtest.Answer{Status: 401, Header: jsonHeader,
			Body: errorList("unauthorized", "Access Token Invalid")},
			Deactivate: switchyard.InactiveOAuthReauthorizationNeeded},
		// The app lacks a permission: auth_failed, not deactivated.
		Forbidden: destinationtest.Case{Answer: destinationtest.Answer{Status: 403, Header: jsonHeader,
			Body: errorList("api_plan_restricted", "Active subscription needed.")}},
		NotFound: destinationtest.Case{Answer: destinationtest.Answer{Status: 404, Header: jsonHeader,
			Body: errorList("not_found", "Resource Not Found")}},
		// The 409 of a write whose email or external_id belongs to another contact.
		Conflict: destinationtest.Case{Answer: destinationtest.Answer{Status: 409, Header: jsonHeader,
			Body: errorList("conflict", "A contact matching those details already exists with id=5f7f0d217289f8d2f4262080")}},
		// Intercom documents no 410; an error.list in its format.
		Gone: destinationtest.Case{Answer: destinationtest.Answer{Status: 410, Header: jsonHeader,
			Body: errorList("not_found", "Resource Not Found")}},
		RateLimited: destinationtest.Case{Answer: destinationtest.Answer{Status: 429, Header: http.Header{
			"Content-Type": {"application/json; charset=utf-8"}, "X-Ratelimit-Limit": {"1667"}, "X-Ratelimit-Remaining": {"0"},
			"X-Ratelimit-Reset": {reset}},
			Body: errorList("rate_limit_exceeded", "Exceeded rate limit of 1667 in 10_seconds")}},
		ServerError: destinationtest.Case{Answer: destinationtest.Answer{Status: 503, Header: jsonHeader,
			Body: errorList("service_unavailable", "Sorry, the API service is temporarily unavailable")}},
	})
}
