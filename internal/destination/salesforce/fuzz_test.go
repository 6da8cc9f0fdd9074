package salesforce

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
)

// Salesforce's answers through its base rules: error arrays and the Sforce-Limit-Info header.
func FuzzAnswers(f *testing.F) {
	destinationtest.FuzzAnswers(f, baseRules(), refine, []string{
		`[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]`,
		`[{"message":"duplicate value found: <unknown> duplicates value on record with id: <unknown>","errorCode":"DUPLICATE_VALUE","fields":[]}]`,
		`[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`,
		`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`,
	})
}
