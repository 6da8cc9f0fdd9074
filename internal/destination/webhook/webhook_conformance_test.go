package webhook

import (
	"io"
	"net/http"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// TestConformance runs the integration conformance suite with a local receiver as the
// "provider": a connection with a bearer token, Standard Webhooks signing and an API-key
// custom header, so that there are secrets to leak and credentials whose refusal deactivates.
func TestConformance(t *testing.T) {
	t.Parallel()

	const (
		bearer = "tok_live_conformance_4f9a2c"
		apiKey = "sk-conformance-77d1e0"
	)
	json := http.Header{"Content-Type": {"application/json"}}
	destinationtest.Run(t, destinationtest.Harness{
		Integration: Integration(),
		Start: func(t *testing.T) *destinationtest.Target {
			faults, srv := destinationtest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusNoContent)
			}))
			conn := &switchyard.Connection{Type: Type, Name: "conformance", Active: true, Metadata: map[string]any{
				KeyURL: srv.URL + "/hooks", KeyAuthScheme: "bearer", KeyBearerToken: bearer,
				KeySigningScheme: "standard_webhooks", KeySigningSecret: testWhsec,
				KeyCustomHeaders: map[string]any{"X-Api-Key": apiKey},
			}}
			sender := destinationtest.Provision(t, Integration(), local(), destination.Provision{Connection: conn})
			return &destinationtest.Target{
				Sender: sender,
				Request: func() *destination.Request {
					req := testRequest(conn.Metadata)
					req.Action = ActionSendWebhook
					return req
				},
				Fake: faults,
				// The custom header is not a secret field: a receiver that echoes it shows it,
				// as the customer configured it in the clear.
				Secrets: []string{bearer, testWhsec},
			}
		},
		Validation:   destinationtest.Case{Answer: destinationtest.Answer{Status: 422, Header: json, Body: `{"error":"email is required"}`}, Outcome: switchyard.OutcomeValidationFailed},
		Unauthorized: destinationtest.Case{Answer: destinationtest.Answer{Status: 401, Header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}}, Deactivate: switchyard.InactiveAuthenticationInvalid},
		Forbidden:    destinationtest.Case{Answer: destinationtest.Answer{Status: 403, Body: "forbidden"}, Deactivate: switchyard.InactiveAuthenticationInvalid},
		NotFound:     destinationtest.Case{Answer: destinationtest.Answer{Status: 404, Body: "404 page not found"}},
		Conflict:     destinationtest.Case{Answer: destinationtest.Answer{Status: 409, Header: json, Body: `{"error":"duplicate delivery"}`}},
		Gone:         destinationtest.Case{Answer: destinationtest.Answer{Status: 410}, Deactivate: destination.InactiveDestinationGone},
		RateLimited:  destinationtest.Case{Answer: destinationtest.Answer{Status: 429, Header: http.Header{"Retry-After": {"30"}}}},
		ServerError:  destinationtest.Case{Answer: destinationtest.Answer{Status: 503, Header: http.Header{"Retry-After": {"120"}}, Body: "upstream unavailable"}},
	})
}
