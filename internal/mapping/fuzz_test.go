package mapping_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/switchyardhq/switchyard/internal/mapping"
)

// FuzzParse checks that any input either fails with field errors or yields a schema that
// re-parses to itself: what is stored is always valid.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"schema_version":1,"fields":[]}`,
		`{"schema_version":1,"fields":[{"dest":"email","source":{"type":"path","value":"user.email"},"transforms":[{"type":"substring","start":0,"length":2}]}]}`,
		`{"schema_version":1,"fields":[{"dest":"n","source":{"type":"literal","value":1e400}}]}`,
		`{"schema_version":1.0,"fields":[{"dest":"d","source":{"type":"literal","value":null},"transforms":[{"type":"default","value":"x"}]}],"meta":{}}`,
		`[]`, `null`, `{"fields":[null]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, errs := mapping.Parse(raw, "schema")
		if (s == nil) == (len(errs) == 0) {
			t.Fatalf("schema %v with errors %v", s, errs)
		}
		if s == nil {
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again, errs := mapping.Parse(out, "schema")
		if len(errs) > 0 {
			t.Fatalf("the normalised schema %s is invalid: %v", out, errs)
		}
		out2, _ := json.Marshal(again)
		if !bytes.Equal(out, out2) {
			t.Fatalf("normalising twice changed %s into %s", out, out2)
		}
	})
}
