package api

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// A request body is one JSON document and nothing after it but white space: a stray closing
// bracket after the document is refused like any other trailing data.
func TestDecodeJSONRefusesTrailingData(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"event":"x"}`:             "",
		" {\"event\":\"x\"} \n\t ":  "",
		`[{"event":"x"}]`:           "",
		`{"event":"x"}}`:            "Request body has data after the JSON document.",
		`{"event":"x"}]`:            "Request body has data after the JSON document.",
		`[{"event":"x"}]]`:          "Request body has data after the JSON document.",
		`{"event":"x"} {"event":1}`: "Request body has data after the JSON document.",
		`{"event":"x"} x`:           "Request body has data after the JSON document.",
		`{"event":`:                 "Request body is not valid JSON.",
	} {
		var v any
		err := decodeJSON([]byte(body), &v)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v, want it accepted", body, err)
		case want != "":
			se, ok := err.(*switchyard.Error)
			if !ok || se.Code != switchyard.EINVALID || se.Message != want {
				t.Errorf("%q: %v, want %q", body, err, want)
			}
		}
	}
}
