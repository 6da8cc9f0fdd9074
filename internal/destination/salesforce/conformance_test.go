package salesforce

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
	sffake "github.com/switchyardhq/switchyard/internal/providerfake/salesforce"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// TestConformance runs the integration conformance suite against the fake Salesforce org behind
// the suite's fault injector: an OAuth connection with a refreshable grant (the test Tokens
// refresh at the fake's token endpoint, which the faults leave alone) and Salesforce's
// documented error bodies ("Status Codes and Error Responses": an array of
// {"message","errorCode","fields"}) and Sforce-Limit-Info header.
func TestConformance(t *testing.T) {
	t.Parallel()

	jsonHeader := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json;charset=UTF-8"}, "Sforce-Limit-Info": {"api-usage=18/100000"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	sfError := func(code, message string, fields ...string) string {
		f := "[]"
		if len(fields) > 0 {
			f = `["` + strings.Join(fields, `","`) + `"]`
		}
		return `[{"message":"` + message + `","errorCode":"` + code + `","fields":` + f + `}]`
	}
	// The org's daily allowance used up: what an org answers once every request of the rolling
	// 24 hours is spent.
	limitHeader := jsonHeader("Sforce-Limit-Info", "api-usage=100000/100000")
	limitBody := sfError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")

	destinationtest.Run(t, destinationtest.Harness{
		Integration: Integration(),
		Start: func(t *testing.T) *destinationtest.Target {
			fake := sffake.New(sffake.Options{OrgID: testOrgID, APILimit: 1 << 30})
			t.Cleanup(fake.Close)
			campaign := fake.AddCampaign("Spring webinar", true)

			faults, proxy := destinationtest.Serve(t, destinationtest.Proxy(t, fake.URL()))
			faults.Match = func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/services/data/") }
			// The server's API base override replaces the token's instance_url: every API call
			// goes through the faults; the token endpoint is reached directly.
			app := destination.OAuthApp{ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
				AuthURL: fake.AuthorizeURL(), TokenURL: fake.TokenURL(), APIBase: proxy.URL}
			opts := destination.Options{AllowPrivate: true, Apps: map[string]destination.OAuthApp{Type: app}}
			tokens := newTestTokens(t, fake, opts.App(Integration()))
			conn := &switchyard.Connection{ID: uuid.New(), Type: Type, Name: "conformance", Active: true, Metadata: map[string]any{}}
			sender := destinationtest.Provision(t, Integration(), opts, destination.Provision{
				Connection: conn, Tokens: tokens, Account: AccountPrefix + testOrgID})

			var n atomic.Int64
			return &destinationtest.Target{
				Sender: sender,
				Request: func() *destination.Request {
					email := fmt.Sprintf("ada+%d@example.com", n.Add(1))
					return &destination.Request{DeliveryID: uuid.New(), Attempt: 1, Action: ActionAddToCampaign,
						Params: map[string]any{ParamID: campaign}, Fields: person(email), Connection: conn,
						Event: &switchyard.Event{ID: uuid.New(), Name: "user.signup", Payload: []byte(`{"email":"` + email + `"}`)}}
				},
				Fake:        faults,
				ExpireToken: fake.ExpireAccessTokens,
				Refreshes:   fake.RefreshCount,
				// The access and refresh tokens issued, and the app's client secret.
				Secrets:        append(tokens.seen(), fake.ClientSecret()),
				RateLimitScope: AccountPrefix + testOrgID,
			}
		},
		// A record Salesforce refuses for its content.
		Validation: destinationtest.Case{Answer: destinationtest.Answer{Status: 400, Header: jsonHeader(),
			Body: sfError("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", "LastName")},
			Outcome: switchyard.OutcomeValidationFailed},
		// The session is invalid even after a refresh: the grant no longer works.
		Unauthorized: destinationtest.Case{Answer: destinationtest.Answer{Status: 401, Header: jsonHeader(),
			Body: sfError("INVALID_SESSION_ID", "Session expired or invalid")},
			Deactivate: switchyard.InactiveOAuthReauthorizationNeeded},
		// Salesforce answers 403 REQUEST_LIMIT_EXCEEDED when the org's allowance is used up: a
		// rate limit of the org, not a refused credential.
		Forbidden: destinationtest.Case{Answer: destinationtest.Answer{Status: 403, Header: limitHeader, Body: limitBody},
			Outcome: switchyard.OutcomeRateLimited},
		NotFound: destinationtest.Case{Answer: destinationtest.Answer{Status: 404, Header: jsonHeader(),
			Body: sfError("NOT_FOUND", "The requested resource does not exist")}},
		Conflict: destinationtest.Case{Answer: destinationtest.Answer{Status: 409, Header: jsonHeader(),
			Body: sfError("CONFLICT", "The request couldn't be completed due to a conflict with the current state of the resource.")}},
		// 410: the API version was retired.
		Gone: destinationtest.Case{Answer: destinationtest.Answer{Status: 410, Header: jsonHeader(),
			Body: sfError("GONE", "The requested resource has been retired or removed.")}},
		// Salesforce's REST API documents no 429 (its limits answer 403 REQUEST_LIMIT_EXCEEDED,
		// above); a 429 from in front of the org is read the same way, with the usage header.
		RateLimited: destinationtest.Case{Answer: destinationtest.Answer{Status: 429, Header: limitHeader, Body: limitBody}},
		ServerError: destinationtest.Case{Answer: destinationtest.Answer{Status: 503, Header: jsonHeader(),
			Body: sfError("SERVER_UNAVAILABLE", "The server is unavailable to handle the request.")}},
	})
}
