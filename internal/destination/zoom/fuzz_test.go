package zoom

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
)

// Zoom's answers through its rules: coded errors with field lists, and the rate-limit type
// headers.
func FuzzAnswers(f *testing.F) {
	destinationtest.FuzzAnswers(f, rules, refine, []string{
		`{"code":300,"message":"Validation Failed.","errors":[{"field":"email","message":"Invalid field."}]}`,
		`{"code":3001,"message":"Meeting does not exist: 123."}`,
		`{"code":429,"message":"You have reached the maximum per-second rate limit for this API."}`,
		`{"code":124,"message":"Invalid access token."}`,
	})
}
