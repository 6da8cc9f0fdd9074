package hubspot

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
)

// HubSpot's answers through its rules: error bodies with categories, validation lists embedded
// in the message, and the rate-limit policy headers.
func FuzzAnswers(f *testing.F) {
	destinationtest.FuzzAnswers(f, providerRules, refine, []string{
		`{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"x\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]","correlationId":"c","category":"VALIDATION_ERROR"}`,
		`{"status":"error","message":"Contact already exists. Existing ID: 123","category":"CONFLICT"}`,
		`{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}`,
		`{"status":"error","message":"This app hasn't been granted all required scopes","category":"MISSING_SCOPES","errors":[{"message":"m","context":{"requiredGranularScopes":["crm.objects.contacts.write"]}}]}`,
	})
}
