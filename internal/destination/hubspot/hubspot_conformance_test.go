package hubspot_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
	"github.com/switchyardhq/switchyard/internal/destination/hubspot"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/hubspot"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// TestConformance runs the integration conformance suite against the fake HubSpot behind the
// suite's fault injector, with an OAuth connection (refreshable) and HubSpot's documented
// error bodies and rate-limit headers.
func TestConformance(t *testing.T) {
	t.Parallel()
	jsonHeader := func(extra ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json;charset=utf-8"}}
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	hsError := func(category, message string) string {
		return `{"status":"error","message":"` + message + `","correlationId":"8c2b1a6e-0000-4000-8000-000000000001","category":"` + category + `"}`
	}
	destinationtest.Run(t, destinationtest.Harness{
		Integration: hubspot.Integration(),
		Start: func(t *testing.T) *destinationtest.Target {
			srv := newFake(t, fake.Options{})
			list := srv.AddList("Customers", fake.ListManual)
			faults, proxy := destinationtest.Serve(t, destinationtest.Proxy(t, srv.URL()))
			faults.Match = func(r *http.Request) bool { return !strings.HasPrefix(r.URL.Path, "/oauth/") }
			tokens := newOAuthTokens(srv)
			opts := options(srv)
			app := opts.Apps[hubspot.Type]
			app.APIBase = proxy.URL
			opts.Apps = map[string]destination.OAuthApp{hubspot.Type: app}
			sender := destinationtest.Provision(t, hubspot.Integration(), opts, destination.Provision{
				Connection: &switchyard.Connection{Type: hubspot.Type, Name: "conformance", Active: true, Metadata: map[string]any{}},
				Tokens:     tokens, Account: portal(srv)})
			return &destinationtest.Target{
				Sender:         sender,
				Request:        func() *destination.Request { return listRequest(hubspot.ActionAddToList, list, "ada@example.com") },
				Fake:           faults,
				ExpireToken:    srv.ExpireAccessTokens,
				Refreshes:      srv.RefreshCount,
				Secrets:        tokens.secrets(),
				RateLimitScope: portal(srv),
			}
		},
		Validation: destinationtest.Case{Answer: destinationtest.Answer{Status: 400, Header: jsonHeader(),
			Body: hsError("VALIDATION_ERROR", `Property values were not valid: [{\"isValid\":false,\"message\":\"Email address x is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]`)},
			Outcome: switchyard.OutcomeValidationFailed},
		Unauthorized: destinationtest.Case{Answer: destinationtest.Answer{Status: 401, Header: jsonHeader(),
			Body: hsError("INVALID_AUTHENTICATION", "Authentication credentials not found. The access token provided is invalid or has been revoked.")},
			Deactivate: switchyard.InactiveOAuthReauthorizationNeeded},
		Forbidden: destinationtest.Case{Answer: destinationtest.Answer{Status: 403, Header: jsonHeader(),
			Body: hsError("MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call.")}},
		NotFound: destinationtest.Case{Answer: destinationtest.Answer{Status: 404, Header: jsonHeader(),
			Body: hsError("OBJECT_NOT_FOUND", "List does not exist with listId: 1")}},
		Conflict: destinationtest.Case{Answer: destinationtest.Answer{Status: 409, Header: jsonHeader(),
			Body: hsError("CONFLICT", "Concurrent modification")}},
		Gone: destinationtest.Case{Answer: destinationtest.Answer{Status: 410, Header: jsonHeader(), Body: hsError("GONE", "gone")}},
		RateLimited: destinationtest.Case{Answer: destinationtest.Answer{Status: 429, Header: jsonHeader(
			"X-HubSpot-RateLimit-Interval-Milliseconds", "10000", "X-HubSpot-RateLimit-Max", "110", "X-HubSpot-RateLimit-Remaining", "0"),
			Body: `{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","category":"RATE_LIMITS","policyName":"TEN_SECONDLY_ROLLING"}`}},
		ServerError: destinationtest.Case{Answer: destinationtest.Answer{Status: 502, Header: http.Header{"Content-Type": {"text/html"}},
			Body: "<html><body>502 Bad Gateway</body></html>"}},
	})
}
