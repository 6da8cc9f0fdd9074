package mapping_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/mapping"
)

// fuzzFields is a varied schema: every transform and on_error, paths through objects and
// arrays. The fields named id:<path> copy their path untouched, so that the fuzzer can compare
// them with what encoding/json reads from the payload.
var fuzzFields = strings.Join([]string{
	field("id:a", "a", "", ""), field("id:a.b", "a.b", "", ""), field("id:a.0", "a.0", "", ""),
	field("id:a.0.b", "a.0.b", "", ""), field("id:x", "x", "", ""), field("id:s.1.2", "s.1.2", "", ""),
	field("str", "a", `{"type":"to_string"}`, ""),
	field("num", "a", `{"type":"to_number"}`, ""),
	field("numw", "x", `{"type":"trim"},{"type":"to_number"}`, "warn_action"),
	field("bool", "b", `{"type":"to_boolean"}`, ""),
	field("date", "d", `{"type":"to_date","timezone":"Europe/Paris"}`, ""),
	field("dt", "d", `{"type":"to_datetime"}`, "warn_action"),
	field("dtny", "x", `{"type":"to_datetime","timezone":"America/New_York"},{"type":"to_date"}`, ""),
	field("badtz", "d", `{"type":"to_date","timezone":"Nowhere/Zone"}`, ""),
	field("def", "m", `{"type":"default","value":"z"},{"type":"upper"}`, ""),
	field("sub", "s", `{"type":"to_string"},{"type":"trim"},{"type":"lower"},{"type":"substring","start":1,"length":3}`, ""),
	field("fail", "f", `{"type":"to_number"}`, "fail_action"),
	field("faild", "g", `{"type":"to_date"}`, "fail_action"),
	`{"dest":"lit","source":{"type":"literal","value":1.50},"transforms":[{"type":"to_string"}]}`,
}, ",")

var failDests = map[string]bool{"fail": true, "faild": true}

// FuzzApply applies the varied schema to arbitrary payloads: Apply never panics; its errors are
// ErrInvalidPayload exactly when encoding/json finds no JSON object, or a *FieldError of a
// fail_action field; its fields always marshal; untouched paths read what encoding/json reads.
func FuzzApply(f *testing.F) {
	c, err := mapping.Compile(mustSchema(f, fuzzFields))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := c.Apply(payload)
		doc, isObject := decodeObject(payload)
		if errors.Is(err, mapping.ErrInvalidPayload) {
			if isObject {
				t.Fatalf("a JSON object was refused: %v", err)
			}
			return
		}
		if !isObject {
			t.Fatalf("a payload that is not a JSON object was accepted: result %+v, error %v", r, err)
		}
		if err != nil {
			var fe *mapping.FieldError
			if !errors.As(err, &fe) || !failDests[fe.Dest] || fe.Reason == "" || r != nil {
				t.Fatalf("error %#v (result %v) is not a FieldError of a fail_action field", err, r)
			}
			return
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("the result does not marshal: %v (%#v)", err, r.Fields)
		}
		for _, w := range r.Warnings {
			if w.Reason == "" || failDests[w.Dest] || w.OnError == mapping.OnErrorFailAction {
				t.Fatalf("warning %+v", w)
			}
		}
		for dest, v := range r.Fields {
			checkFieldType(t, dest, v)
			path, identity := strings.CutPrefix(dest, "id:")
			if !identity {
				continue
			}
			want, ok := lookup(doc, path)
			if !ok {
				t.Fatalf("%s is %#v but encoding/json finds nothing there", path, v)
			}
			if !reflect.DeepEqual(v, want) {
				t.Fatalf("%s is %#v, encoding/json reads %#v", path, v, want)
			}
		}
		for _, dest := range r.Missing {
			if path, identity := strings.CutPrefix(dest, "id:"); identity {
				if want, ok := lookup(doc, path); ok {
					t.Fatalf("%s is missing but encoding/json reads %#v", path, want)
				}
			}
		}
		if v, ok := r.Fields["lit"]; !ok || v != "1.50" {
			t.Fatalf("the literal field is %#v", v)
		}
	})
}

// decodeObject decodes a payload the way Apply reads it: empty or null is an empty object.
func decodeObject(payload []byte) (map[string]any, bool) {
	if t := bytes.Trim(payload, " \t\r\n"); len(t) == 0 || string(t) == "null" {
		return map[string]any{}, true
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.InputOffset() != int64(len(bytes.TrimRight(payload, " \t\r\n"))) {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok && json.Valid(payload)
}

// lookup reads a path the way Apply documents it.
func lookup(v any, path string) (any, bool) {
	for seg := range strings.SplitSeq(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i := -1
			if len(seg) <= 9 && (seg == "0" || seg[0] != '0') {
				i = 0
				for _, c := range seg {
					if c < '0' || c > '9' {
						return nil, false
					}
					i = i*10 + int(c-'0')
				}
			}
			if i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func checkFieldType(t *testing.T, dest string, v any) {
	t.Helper()
	switch x := v.(type) {
	case nil, bool:
	case string:
		if !utf8.ValidString(x) {
			t.Fatalf("%s holds invalid UTF-8 %q", dest, x)
		}
	case json.Number:
		if _, err := json.Marshal(x); err != nil {
			t.Fatalf("%s holds the invalid number %q", dest, x)
		}
	case map[string]any:
		for k, e := range x {
			checkFieldType(t, dest+"."+k, e)
		}
	case []any:
		for _, e := range x {
			checkFieldType(t, dest+"[]", e)
		}
	default:
		t.Fatalf("%s holds a %T", dest, v)
	}
}

var placeholder = regexp.MustCompile(`(?s)\{\{(.*?)\}\}`)

// FuzzRender renders arbitrary templates against arbitrary payloads: Render never panics,
// stays within its bound, fails only with a TemplateError or ErrInvalidPayload, leaves text
// without {{ alone, and renders scalars as a plain reading of the template says it should.
func FuzzRender(f *testing.F) {
	f.Fuzz(func(t *testing.T, tmpl string, payload []byte) {
		out, err := mapping.Render(tmpl, payload)
		if !strings.Contains(tmpl, "{{") {
			if err != nil || out != tmpl {
				t.Fatalf("text without placeholders rendered as %q, %v", out, err)
			}
			return
		}
		if err != nil {
			var te *mapping.TemplateError
			if !errors.As(err, &te) && !errors.Is(err, mapping.ErrInvalidPayload) {
				t.Fatalf("error %T %v", err, err)
			}
			if out != "" {
				t.Fatalf("an error with output %q", out)
			}
			return
		}
		if len(out) > mapping.MaxRenderBytes {
			t.Fatalf("rendered %d bytes", len(out))
		}
		doc, ok := decodeObject(payload)
		if !ok {
			t.Fatalf("rendered %q from a payload that is not a JSON object", out)
		}
		// A plain reading: no {{ is left between the {{…}}, and each is replaced by its path's
		// value (compared when all are scalars).
		prev := 0
		for _, m := range placeholder.FindAllStringIndex(tmpl, -1) {
			if strings.Contains(tmpl[prev:m[0]], "{{") {
				t.Fatalf("%q rendered as %q although a {{ is not closed", tmpl, out)
			}
			prev = m[1]
		}
		if strings.Contains(tmpl[prev:], "{{") {
			t.Fatalf("%q rendered as %q although a {{ is not closed", tmpl, out)
		}
		scalar := true
		want := placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
			v, _ := lookup(doc, strings.TrimSpace(m[2:len(m)-2]))
			switch v := v.(type) {
			case nil:
				return ""
			case string:
				return v
			case json.Number:
				return string(v)
			case bool:
				if v {
					return "true"
				}
				return "false"
			}
			scalar = false
			return ""
		})
		if scalar && out != want {
			t.Fatalf("%q rendered as %q, want %q", tmpl, out, want)
		}
	})
}
