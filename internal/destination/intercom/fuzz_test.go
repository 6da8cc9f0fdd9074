package intercom

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
)

// Intercom's answers through its rules: error lists and the X-RateLimit-Reset header.
func FuzzAnswers(f *testing.F) {
	destinationtest.FuzzAnswers(f, providerRules, nil, []string{
		`{"type":"error.list","request_id":"r","errors":[{"code":"parameter_invalid","message":"Email is invalid"}]}`,
		`{"type":"error.list","errors":[{"code":"conflict","message":"A contact matching those details already exists with id=abc"}]}`,
		`{"type":"error.list","errors":[{"code":"rate_limit_exceeded","message":"Exceeded rate limit"}]}`,
		`{"type":"error.list","errors":[{"code":"token_unauthorized","message":"Not authorized"}]}`,
	})
}
