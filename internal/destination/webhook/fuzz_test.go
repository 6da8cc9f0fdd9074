package webhook

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
)

// FuzzValidateMetadata feeds arbitrary JSON metadata (untrusted API input) to the schema, held
// to destinationtest.ValidateMetadata (validating what is stored again changes nothing: what is
// stored is what is sent). Whatever passes must also parse for delivery without error.
func FuzzValidateMetadata(f *testing.F) {
	for _, seed := range []string{
		`{"url":"https://hooks.example.com/in"}`,
		`{"url":"https://h.example","http_method":"put","payload_mode":"RAW","auth_scheme":"basic","basic_username":"u","basic_password":"p"}`,
		`{"url":"https://h.example","auth_scheme":"header","auth_header_name":"X-Key","auth_header_value":"v","custom_headers":{"X-A":"1"}}`,
		`{"url":"https://h.example","signing_scheme":"standard_webhooks","signing_secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, raw"}`,
		`{"url":"https://h.example","signing_scheme":"hmac_sha512","signing_secret":"s","signature_header":"X-Sig","timeout_seconds":"60"}`,
		`{"url":"http://127.0.0.1:1/","skip_url_test":"true","timeout_seconds":1e0}`,
		`{"url":null,"custom_headers":[],"timeout_seconds":{}}`,
	} {
		f.Add([]byte(seed), false)
	}
	in := Integration()
	f.Fuzz(func(t *testing.T, data []byte, allowPrivate bool) {
		got, ok := destinationtest.ValidateMetadata(t, in, data, destination.Options{AllowPrivate: allowPrivate})
		if !ok {
			return
		}
		if _, errs := parseConfig(got); len(errs) > 0 {
			t.Fatalf("validated metadata %v does not parse for delivery: %v", got, errs)
		}
	})
}
