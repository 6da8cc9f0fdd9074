package webhook

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
)

// FuzzValidateMetadata feeds arbitrary JSON metadata (untrusted API input) to the schema.
// Whatever passes must parse for delivery without error, and validating it again must change
// nothing: what is stored is what is sent.
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
		var meta map[string]any
		if json.Unmarshal(data, &meta) != nil {
			return
		}
		opts := destination.Options{AllowPrivate: allowPrivate}
		got, errs := in.ValidateMetadata(meta, opts)
		if len(errs) > 0 {
			return
		}
		if _, errs := parseConfig(got); len(errs) > 0 {
			t.Fatalf("validated metadata %v does not parse for delivery: %v", got, errs)
		}
		// Round-trip through JSON, as the store does, then validate again.
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("validated metadata does not marshal: %v", err)
		}
		var stored map[string]any
		if err := json.Unmarshal(b, &stored); err != nil {
			t.Fatal(err)
		}
		again, errs := in.ValidateMetadata(stored, opts)
		if len(errs) > 0 {
			t.Fatalf("validated metadata %s fails validation again: %v", b, errs)
		}
		if !reflect.DeepEqual(again, stored) {
			t.Fatalf("validation is not idempotent:\n first %v\nsecond %v", stored, again)
		}
	})
}
