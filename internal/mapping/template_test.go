package mapping_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/mapping"
)

const templatePayload = `{"user":{"name":"Ada","email":"ada@example.com","age":36,"vip":false,"tags":["a", "b"],"note":null},
	"amount":49.90,"items":[{"sku":"A-1"},{"sku":"B-2"}],"quote":"say \"hi\"\n","big":"` + "{{user.name}}" + `"}`

func TestRender(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, template, payload string // payload: templatePayload when empty
		want                    string
		// err is a part of the error's message; "" means no error.
		err string
	}{
		{name: "text without placeholders is returned as it is", template: "Hello, world {x} }}", want: "Hello, world {x} }}"},
		{name: "a placeholder reads a top-level value", template: "{{amount}}", want: "49.90"},
		{name: "a placeholder reads a nested value with white space in the braces", template: "Hi {{ user.name }} <{{\tuser.email\n}}>", want: "Hi Ada <ada@example.com>"},
		{name: "a placeholder reads an array element", template: "{{items.1.sku}}", want: "B-2"},
		{name: "a missing value renders as nothing", template: "[{{user.phone}}][{{nope.at.all}}]", want: "[][]"},
		{name: "null renders as nothing", template: "[{{user.note}}]", want: "[]"},
		{name: "numbers render as written and booleans as words", template: "{{user.age}} {{amount}} {{user.vip}}", want: "36 49.90 false"},
		{name: "objects and arrays render as compact JSON", template: "{{user.tags}} {{items.0}}", want: `["a","b"] {"sku":"A-1"}`},
		{name: "strings render decoded and unquoted", template: "{{quote}}", want: "say \"hi\"\n"},
		{name: "a value that looks like a placeholder is not rendered again", template: "{{big}}", want: "{{user.name}}"},
		{name: "a placeholder may close right before more braces", template: "{{user.name}}}", want: "Ada}"},
		{name: "the payload may be empty", template: "[{{user.name}}]", payload: " ", want: "[]"},
		{name: "an unclosed placeholder is an error", template: "Hi {{ user.name", err: "offset 3: {{ is not closed by }}"},
		{name: "an empty placeholder is an error", template: "{{ }}", err: "must hold a payload path"},
		{name: "an expression is not a path", template: "{{ user.age + 1 }}", err: `"user.age + 1" is not a payload path`},
		{name: "code is not run", template: `{{ printf "%s" .user }}`, err: "is not a payload path"},
		{name: "a nested opening is not a path", template: "{{ {{user.name}} }}", err: "is not a payload path"},
		{name: "a payload that is not an object is an error", template: "{{a}}", payload: "[1]", err: "not a JSON object"},
		{name: "an output over the bound is an error", template: strings.Repeat("{{user.tags}}", mapping.MaxRenderBytes/9+1), err: "more than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			payload := tc.payload
			if payload == "" {
				payload = templatePayload
			}
			got, err := mapping.Render(tc.template, json.RawMessage(payload))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || got != "" {
					t.Fatalf("rendered %q, error %v; want an error with %q", got, err, tc.err)
				}
				var te *mapping.TemplateError
				if !errors.As(err, &te) && !errors.Is(err, mapping.ErrInvalidPayload) {
					t.Fatalf("error %T is neither a TemplateError nor ErrInvalidPayload", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("rendered %q, error %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestResolveParams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		params, want   string
		errParam, errS string
	}{
		{name: "strings are rendered at every depth and keys are not",
			params: `{"text":"Welcome {{user.name}}","{{user.name}}":1,"blocks":[{"type":"section","text":"{{ user.email }}"},["{{user.age}}",true,null,2.5]]}`,
			want:   `{"text":"Welcome Ada","{{user.name}}":1,"blocks":[{"type":"section","text":"ada@example.com"},["36",true,null,2.5]]}`},
		{name: "params without templates are copied as they are", params: `{"action":"send_webhook","n":1.0,"o":{"a":[]}}`, want: `{"action":"send_webhook","n":1.0,"o":{"a":[]}}`},
		{name: "an empty object stays empty", params: `{}`, want: `{}`},
		{name: "a template error names its param", params: `{"blocks":[{"text":"ok"},{"fields":["{{x}}","{{ oops"]}]}`, errParam: "blocks[1].fields[1]", errS: "not closed"},
		{name: "a template error at the top names its key", params: `{"subject":"{{1}}"}`, errParam: "subject", errS: "not a payload path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			params := decodeUseNumber(t, tc.params)
			before, _ := json.Marshal(params)
			got, err := mapping.ResolveParams(params.(map[string]any), json.RawMessage(templatePayload))
			if after, _ := json.Marshal(params); string(after) != string(before) {
				t.Fatalf("the params changed from %s to %s", before, after)
			}
			if tc.errS != "" {
				var te *mapping.TemplateError
				if !errors.As(err, &te) || te.Param != tc.errParam || !strings.Contains(te.Reason, tc.errS) || got != nil {
					t.Fatalf("result %v, error %#v; want a TemplateError in %s saying %q", got, err, tc.errParam, tc.errS)
				}
				if !strings.Contains(err.Error(), tc.errParam) {
					t.Fatalf("message %q does not name %s", err, tc.errParam)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := decodeUseNumber(t, tc.want); !reflect.DeepEqual(any(got), want) {
				t.Fatalf("resolved %#v, want %#v", got, want)
			}
		})
	}
}

func decodeUseNumber(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestResolveParamsCopies(t *testing.T) {
	t.Parallel()
	inner := map[string]any{"text": "plain"}
	list := []any{"x"}
	params := map[string]any{"inner": inner, "list": list}
	got, err := mapping.ResolveParams(params, nil)
	if err != nil {
		t.Fatal(err)
	}
	got["inner"].(map[string]any)["text"] = "changed"
	got["list"].([]any)[0] = "changed"
	if inner["text"] != "plain" || list[0] != "x" {
		t.Fatal("the copy shares objects or arrays with the params")
	}
	if p, err := mapping.ResolveParams(nil, nil); p != nil || err != nil {
		t.Fatalf("nil params resolved to %v, %v", p, err)
	}
}

// The allocation counts are benchmarks, not tests: tests run in parallel, and allocations are
// counted process-wide.

func BenchmarkRender(b *testing.B) {
	payload := json.RawMessage(templatePayload)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mapping.Render("Welcome {{ user.name }} <{{user.email}}>, {{amount}} due", payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolveParams(b *testing.B) {
	payload := json.RawMessage(templatePayload)
	for _, bc := range []struct {
		name   string
		params map[string]any
	}{
		// Expect one allocation: the copied map (strings are not copied, the payload not read).
		{"no templates", map[string]any{"a": "plain text", "b": "more", "c": json.Number("1")}},
		{"templates", map[string]any{"channel": "#signups", "text": "Welcome {{ user.name }} <{{user.email}}>", "blocks": []any{map[string]any{"text": "{{amount}}"}}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := mapping.ResolveParams(bc.params, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
