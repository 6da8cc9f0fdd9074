package mapping_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/mapping"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		schema string
		// params lists the failing params, comma-separated; "" means valid.
		params string
	}{
		{"an empty mapping is valid", `{"schema_version":1,"fields":[]}`, ""},
		{"every source, transform and option is accepted", `{"schema_version":1,"fields":[
			{"dest":"email","source":{"type":"path","value":"user.email"},"transforms":[{"type":"trim"},{"type":"lower"},{"type":"upper"}],"on_error":"skip_field","notes":"n"},
			{"dest":"n","source":{"type":"literal","value":12.5},"transforms":[{"type":"to_string"},{"type":"to_number"},{"type":"to_boolean"}]},
			{"dest":"d","source":{"type":"literal","value":null},"transforms":[{"type":"default","value":false},{"type":"to_date","timezone":"Europe/Paris"},{"type":"to_datetime"}]},
			{"dest":"s","source":{"type":"literal","value":"x"},"transforms":[{"type":"substring","start":0},{"type":"substring","start":2,"length":3}],"on_error":"warn_action"}
		],"meta":{"name":"CRM","notes":"all of it"}}`, ""},
		{"a missing schema is required", ``, "schema"},
		{"null is not a schema", `null`, "schema"},
		{"a schema must be an object", `[1]`, "schema"},
		{"the version and the fields are required", `{}`, "schema.schema_version,schema.fields"},
		{"only version 1 exists", `{"schema_version":2,"fields":[]}`, "schema.schema_version"},
		{"fields must be an array", `{"schema_version":1,"fields":{}}`, "schema.fields"},
		{"a field needs a dest and a source", `{"schema_version":1,"fields":[{}]}`, "schema.fields[0].dest,schema.fields[0].source"},
		{"dest is 1 to 128 characters", `{"schema_version":1,"fields":[{"dest":"` + strings.Repeat("d", 129) + `","source":{"type":"path","value":"a"}}]}`, "schema.fields[0].dest"},
		{"a path is a payload selector", `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"path","value":"a..b"}}]}`, "schema.fields[0].source.value"},
		{"a source type is path or literal", `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"env","value":"HOME"}}]}`, "schema.fields[0].source.type"},
		{"a literal is a scalar", `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"literal","value":[1]}}]}`, "schema.fields[0].source.value"},
		{"a literal string is at most 256 characters", `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"literal","value":"` + strings.Repeat("x", 257) + `"}}]}`, "schema.fields[0].source.value"},
		{"a literal needs a value", `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"literal"}}]}`, "schema.fields[0].source.value"},
		{"unknown transforms are refused", `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"path","value":"a"},"transforms":[{"type":"rot13"}]}]}`, "schema.fields[0].transforms[0].type"},
		{"default needs a value", `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"path","value":"a"},"transforms":[{"type":"default"}]}]}`, "schema.fields[0].transforms[0].value"},
		{"substring needs a start of at least 0 and a positive length", `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"path","value":"a"},"transforms":[{"type":"substring"},{"type":"substring","start":1,"length":0},{"type":"substring","start":1.5}]}]}`,
			"schema.fields[0].transforms[0].start,schema.fields[0].transforms[1].length,schema.fields[0].transforms[2].start"},
		{"a timezone is 1 to 64 characters", `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"path","value":"a"},"transforms":[{"type":"to_date","timezone":""}]}]}`, "schema.fields[0].transforms[0].timezone"},
		{"on_error is one of three", `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"path","value":"a"},"on_error":"ignore"}]}`, "schema.fields[0].on_error"},
		{"meta names are at most 64 characters", `{"schema_version":1,"fields":[],"meta":{"name":"` + strings.Repeat("m", 65) + `"}}`, "schema.meta.name"},
		{"at most 250 fields", `{"schema_version":1,"fields":[` + strings.TrimSuffix(strings.Repeat(`{"dest":"a","source":{"type":"path","value":"a"}},`, 251), ",") + `]}`, "schema.fields"},
		{"at most 10 transforms a field", `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"path","value":"a"},"transforms":[` + strings.TrimSuffix(strings.Repeat(`{"type":"trim"},`, 11), ",") + `]}]}`, "schema.fields[0].transforms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, errs := mapping.Parse(json.RawMessage(tc.schema), "schema")
			var got []string
			for _, e := range errs {
				got = append(got, e.Param)
			}
			if strings.Join(got, ",") != tc.params {
				t.Fatalf("failing params %q, want %q (%v)", strings.Join(got, ","), tc.params, errs)
			}
			if tc.params == "" && s == nil {
				t.Fatal("a valid schema parsed to nil")
			}
		})
	}
}

func TestParseNormalises(t *testing.T) {
	t.Parallel()
	s, errs := mapping.Parse(json.RawMessage(`{"schema_version":1,"extra":true,"fields":[
		{"dest":"a","source":{"type":"literal","value":12345678901234567890,"junk":1},"transforms":[{"type":"trim","start":3},{"type":"default","value":null}]}]}`), "schema")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema_version":1,"fields":[{"dest":"a","source":{"type":"literal","value":12345678901234567890},"transforms":[{"type":"trim"},{"type":"default","value":null}]}]}`
	if string(b) != want {
		t.Fatalf("normalised\n got %s\nwant %s", b, want)
	}
	if b, _ := json.Marshal(mapping.Empty()); string(b) != `{"schema_version":1,"fields":[]}` {
		t.Fatalf("empty schema %s", b)
	}
}
