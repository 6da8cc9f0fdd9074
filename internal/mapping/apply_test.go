package mapping_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/switchyardhq/switchyard/internal/mapping"
)

// mustSchema parses a schema from its fields, given as the JSON text of the array's items.
func mustSchema(t testing.TB, fields string) *mapping.Schema {
	t.Helper()
	s, errs := mapping.Parse(json.RawMessage(`{"schema_version":1,"fields":[`+fields+`]}`), "schema")
	if len(errs) > 0 {
		t.Fatalf("schema: %v", errs)
	}
	return s
}

// field writes one field of a schema: dest d from path p with the given transforms (JSON
// array items) and on_error.
func field(d, p, transforms, onError string) string {
	f := `{"dest":"` + d + `","source":{"type":"path","value":"` + p + `"}`
	if transforms != "" {
		f += `,"transforms":[` + transforms + `]`
	}
	if onError != "" {
		f += `,"on_error":"` + onError + `"`
	}
	return f + "}"
}

func TestApply(t *testing.T) {
	t.Parallel()
	const doc = `{"email":" Ada@Example.COM ","user":{"name":"Ada","email":"ada@example.com","age":"36","tags":["a","b"]},
		"items":[{"sku":"A-1","price":"12.50"},{"sku":"B-2","price":7}],"big":12345678901234567890.10,"flag":true,
		"nothing":null,"blank":"","count":3,"ts":1700000000,"ts_ms":1700000000123,"when":"2024-03-05T23:30:00-02:00",
		"day":"2024-03-05","m":{"0":"zero"},"esc":"a\nb\u00e9\ud83d\ude00","em\u0061il2":"decoded key","text":"  héllo wörld  "}`
	for _, tc := range []struct {
		name    string
		fields  string
		payload string // doc when empty
		// want is Result.Fields as JSON; warnings and missing list dests, comma-separated.
		want, warnings, missing string
	}{
		// Sources.
		{name: "a top-level path copies the value as it is", fields: field("e", "email", "", ""), want: `{"e":" Ada@Example.COM "}`},
		{name: "a nested path reads through objects", fields: field("n", "user.name", "", ""), want: `{"n":"Ada"}`},
		{name: "an index segment reads an array element", fields: field("s", "items.1.sku", "", ""), want: `{"s":"B-2"}`},
		{name: "an index segment also matches an object key written as digits", fields: field("z", "m.0", "", ""), want: `{"z":"zero"}`},
		{name: "an index past the end of an array is missing", fields: field("s", "items.2.sku", "", ""), want: `{}`, missing: "s"},
		{name: "a path through a string is missing", fields: field("x", "email.domain", "", ""), want: `{}`, missing: "x"},
		{name: "an absent key is missing and is no warning", fields: field("x", "nope", `{"type":"to_number"}`, "fail_action"), want: `{}`, missing: "x"},
		{name: "a repeated key counts only in its last occurrence", fields: field("e", "user.email", "", "") + "," + field("n", "user.name", "", ""),
			payload: `{"user":{"email":"first@example.com"},"user":{"name":"Second"}}`, want: `{"n":"Second"}`, missing: "e"},
		{name: "an escaped key matches its decoded name", fields: field("k", "email2", "", ""), want: `{"k":"decoded key"}`},
		{name: "escaped string values are decoded", fields: field("s", "esc", "", ""), want: `{"s":"a\nbé😀"}`},
		{name: "a number keeps the text it was written with", fields: field("b", "big", "", "") + "," + field("p", "items.1.price", "", ""), want: `{"b":12345678901234567890.10,"p":7}`},
		{name: "objects and arrays pass through as values", fields: field("u", "user", "", "") + "," + field("t", "user.tags", "", ""),
			want: `{"t":["a","b"],"u":{"age":"36","email":"ada@example.com","name":"Ada","tags":["a","b"]}}`},
		{name: "an explicit null is mapped as null", fields: field("x", "nothing", "", ""), want: `{"x":null}`},
		{name: "literals of every type are mapped", fields: `{"dest":"s","source":{"type":"literal","value":"x"}},{"dest":"n","source":{"type":"literal","value":1.50}},
			{"dest":"b","source":{"type":"literal","value":false}},{"dest":"z","source":{"type":"literal","value":null}}`, want: `{"b":false,"n":1.50,"s":"x","z":null}`},
		{name: "a later field with the same dest wins", fields: field("x", "user.name", "", "") + "," + field("x", "count", "", ""), want: `{"x":3}`},
		{name: "a later field with the same dest that is missing leaves the earlier value", fields: field("x", "user.name", "", "") + "," + field("x", "nope", "", ""), want: `{"x":"Ada"}`, missing: "x"},
		{name: "an empty payload maps only literals and defaults", payload: ` `, fields: field("x", "user.name", "", "") + "," + field("d", "user.name", `{"type":"default","value":"anon"}`, ""), want: `{"d":"anon"}`, missing: "x"},
		{name: "a null payload is an empty object", payload: `null`, fields: field("x", "user.name", "", ""), want: `{}`, missing: "x"},

		// to_string.
		{name: "to_string writes a number as it was written", fields: field("s", "items.0.price", `{"type":"to_number"},{"type":"to_string"}`, ""), want: `{"s":"12.50"}`},
		{name: "to_string writes booleans as words", fields: field("s", "flag", `{"type":"to_string"}`, ""), want: `{"s":"true"}`},
		{name: "to_string writes an object as compact JSON in its order", fields: field("s", "items.0", `{"type":"to_string"}`, ""), want: `{"s":"{\"sku\":\"A-1\",\"price\":\"12.50\"}"}`},
		{name: "to_string leaves null as null", fields: field("s", "nothing", `{"type":"to_string"}`, ""), want: `{"s":null}`},

		// to_number.
		{name: "to_number reads a trimmed decimal string and keeps its digits", fields: field("n", "items.0.price", `{"type":"to_number"}`, ""), want: `{"n":12.50}`},
		{name: "to_number rewrites decimals that are not quite JSON", fields: `{"dest":"a","source":{"type":"literal","value":"007"},"transforms":[{"type":"to_number"}]},
			{"dest":"b","source":{"type":"literal","value":"+5"},"transforms":[{"type":"to_number"}]},{"dest":"c","source":{"type":"literal","value":".5"},"transforms":[{"type":"to_number"}]}`,
			want: `{"a":7,"b":5,"c":0.5}`},
		{name: "to_number turns booleans into 1 and 0", fields: field("n", "flag", `{"type":"to_number"}`, ""), want: `{"n":1}`},
		{name: "to_number leaves numbers as written", fields: field("n", "big", `{"type":"to_number"}`, ""), want: `{"n":12345678901234567890.10}`},
		{name: "to_number of a word is a field error", fields: field("n", "user.name", `{"type":"to_number"}`, ""), want: `{}`, warnings: "n"},
		{name: "to_number of an empty string is a field error", fields: field("n", "blank", `{"type":"to_number"}`, ""), want: `{}`, warnings: "n"},
		{name: "to_number refuses hex, infinity and overflow", fields: `{"dest":"a","source":{"type":"literal","value":"0x10"},"transforms":[{"type":"to_number"}]},
			{"dest":"b","source":{"type":"literal","value":"Inf"},"transforms":[{"type":"to_number"}]},{"dest":"c","source":{"type":"literal","value":"1e400"},"transforms":[{"type":"to_number"}]}`,
			want: `{}`, warnings: "a,b,c"},
		{name: "to_number of an object is a field error", fields: field("n", "user", `{"type":"to_number"}`, ""), want: `{}`, warnings: "n"},

		// to_boolean.
		{name: "to_boolean reads yes and off in any case", fields: `{"dest":"a","source":{"type":"literal","value":" Yes "},"transforms":[{"type":"to_boolean"}]},
			{"dest":"b","source":{"type":"literal","value":"OFF"},"transforms":[{"type":"to_boolean"}]}`, want: `{"a":true,"b":false}`},
		{name: "to_boolean reads 0 and 1", fields: `{"dest":"a","source":{"type":"literal","value":0},"transforms":[{"type":"to_boolean"}]},
			{"dest":"b","source":{"type":"literal","value":1.0},"transforms":[{"type":"to_boolean"}]}`, want: `{"a":false,"b":true}`},
		{name: "to_boolean of other numbers and words is a field error", fields: field("a", "count", `{"type":"to_boolean"}`, "") + "," + field("b", "user.name", `{"type":"to_boolean"}`, ""),
			want: `{}`, warnings: "a,b"},

		// to_date and to_datetime.
		{name: "to_date converts a time with an offset to a UTC date", fields: field("d", "when", `{"type":"to_date"}`, ""), want: `{"d":"2024-03-06"}`},
		{name: "to_date converts a time to the date in its time zone", fields: field("d", "when", `{"type":"to_date","timezone":"America/Los_Angeles"}`, ""), want: `{"d":"2024-03-05"}`},
		{name: "to_date keeps a date as it is whatever the time zone", fields: field("d", "day", `{"type":"to_date","timezone":"Asia/Tokyo"}`, ""), want: `{"d":"2024-03-05"}`},
		{name: "to_date reads epoch seconds and milliseconds", fields: field("s", "ts", `{"type":"to_date"}`, "") + "," + field("m", "ts_ms", `{"type":"to_date","timezone":"Asia/Tokyo"}`, ""),
			want: `{"m":"2023-11-15","s":"2023-11-14"}`},
		{name: "to_date of a word is a field error", fields: field("d", "user.name", `{"type":"to_date"}`, ""), want: `{}`, warnings: "d"},
		{name: "to_date of a digit string is not an epoch", fields: `{"dest":"d","source":{"type":"literal","value":"1700000000"},"transforms":[{"type":"to_date"}]}`, want: `{}`, warnings: "d"},
		{name: "an unknown time zone is a field error", fields: field("d", "day", `{"type":"to_date","timezone":"Mars/Olympus"}`, ""), want: `{}`, warnings: "d"},
		{name: "the server's Local time zone is refused", fields: field("d", "day", `{"type":"to_date","timezone":"Local"}`, ""), want: `{}`, warnings: "d"},
		{name: "to_datetime writes RFC 3339 in the time zone", fields: field("t", "when", `{"type":"to_datetime","timezone":"Europe/Paris"}`, ""), want: `{"t":"2024-03-06T02:30:00+01:00"}`},
		{name: "to_datetime writes UTC without a time zone", fields: field("t", "when", `{"type":"to_datetime"}`, ""), want: `{"t":"2024-03-06T01:30:00Z"}`},
		{name: "to_datetime makes a date midnight in the time zone", fields: field("t", "day", `{"type":"to_datetime","timezone":"Europe/Paris"}`, ""), want: `{"t":"2024-03-05T00:00:00+01:00"}`},
		{name: "to_datetime keeps milliseconds of an epoch", fields: field("t", "ts_ms", `{"type":"to_datetime"}`, ""), want: `{"t":"2023-11-14T22:13:20.123Z"}`},
		{name: "to_datetime reads fractional and negative epoch seconds exactly", fields: `{"dest":"a","source":{"type":"literal","value":-1.5},"transforms":[{"type":"to_datetime"}]},
			{"dest":"b","source":{"type":"literal","value":1700000000.000001},"transforms":[{"type":"to_datetime"}]}`,
			want: `{"a":"1969-12-31T23:59:58.5Z","b":"2023-11-14T22:13:20.000001Z"}`},
		{name: "to_datetime reads a time without offset in the time zone", fields: `{"dest":"t","source":{"type":"literal","value":"2024-07-01 09:15:00"},"transforms":[{"type":"to_datetime","timezone":"Europe/Paris"}]}`,
			want: `{"t":"2024-07-01T09:15:00+02:00"}`},
		{name: "to_datetime refuses times past the year 9999", fields: `{"dest":"t","source":{"type":"literal","value":1e16},"transforms":[{"type":"to_datetime"}]}`, want: `{}`, warnings: "t"},

		// default.
		{name: "default fills a missing value", fields: field("d", "nope", `{"type":"default","value":"n/a"}`, ""), want: `{"d":"n/a"}`},
		{name: "default replaces null and the empty string", fields: field("a", "nothing", `{"type":"default","value":0}`, "") + "," + field("b", "blank", `{"type":"default","value":true}`, ""),
			want: `{"a":0,"b":true}`},
		{name: "default leaves a value alone", fields: field("d", "count", `{"type":"default","value":"n/a"}`, ""), want: `{"d":3}`},
		{name: "default can precede a conversion", fields: field("d", "blank", `{"type":"default","value":"0"},{"type":"to_number"}`, ""), want: `{"d":0}`},

		// Text.
		{name: "trim, lower and upper work on Unicode text", fields: field("a", "text", `{"type":"trim"},{"type":"upper"}`, "") + "," + field("b", "email", `{"type":"trim"},{"type":"lower"}`, ""),
			want: `{"a":"HÉLLO WÖRLD","b":"ada@example.com"}`},
		{name: "text transforms leave other values alone", fields: field("n", "count", `{"type":"trim"},{"type":"upper"},{"type":"substring","start":1}`, ""), want: `{"n":3}`},
		{name: "substring counts runes", fields: field("s", "text", `{"type":"trim"},{"type":"substring","start":1,"length":4}`, ""), want: `{"s":"éllo"}`},
		{name: "substring without a length takes the rest", fields: field("s", "text", `{"type":"trim"},{"type":"substring","start":6}`, ""), want: `{"s":"wörld"}`},
		{name: "substring past the end is empty", fields: field("s", "user.name", `{"type":"substring","start":10,"length":2}`, ""), want: `{"s":""}`},

		// on_error.
		{name: "skip_field leaves the failing field out and maps the others", fields: field("n", "user.name", `{"type":"to_number"}`, "skip_field") + "," + field("a", "user.age", `{"type":"to_number"}`, ""),
			want: `{"a":36}`, warnings: "n"},
		{name: "warn_action leaves the failing field out with a warning", fields: field("n", "user.name", `{"type":"to_number"}`, "warn_action"), want: `{}`, warnings: "n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			payload := tc.payload
			if payload == "" {
				payload = doc
			}
			r, err := mapping.Apply(mustSchema(t, tc.fields), json.RawMessage(payload))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(r.Fields)
			if err != nil {
				t.Fatalf("the fields do not marshal: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("fields %s, want %s", got, tc.want)
			}
			var warned []string
			for _, w := range r.Warnings {
				warned = append(warned, w.Dest)
				if w.Reason == "" || w.OnError != mapping.OnErrorSkipField && w.OnError != mapping.OnErrorWarnAction {
					t.Errorf("warning %+v", w)
				}
			}
			if strings.Join(warned, ",") != tc.warnings {
				t.Errorf("warnings %v, want %s", r.Warnings, tc.warnings)
			}
			if strings.Join(r.Missing, ",") != tc.missing {
				t.Errorf("missing %v, want %s", r.Missing, tc.missing)
			}
		})
	}
}

func TestApplyOnError(t *testing.T) {
	t.Parallel()
	payload := json.RawMessage(`{"name":"Ada","age":"old"}`)
	for _, tc := range []struct {
		name, onError string
		// want is the OnError of the warning, or "error" for a *FieldError.
		want string
	}{
		{"no on_error means skip_field", "", mapping.OnErrorSkipField},
		{"skip_field warns as skip_field", "skip_field", mapping.OnErrorSkipField},
		{"warn_action warns as warn_action", "warn_action", mapping.OnErrorWarnAction},
		{"fail_action fails the whole mapping with a FieldError", "fail_action", "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mustSchema(t, field("name", "name", "", "")+","+field("age", "age", `{"type":"trim"},{"type":"to_number"}`, tc.onError))
			r, err := mapping.Apply(s, payload)
			if tc.want == "error" {
				var fe *mapping.FieldError
				if !errors.As(err, &fe) || fe.Dest != "age" || !strings.Contains(fe.Reason, "to_number") || r != nil {
					t.Fatalf("result %v, error %v; want a FieldError for age", r, err)
				}
				if !strings.Contains(err.Error(), `"age"`) {
					t.Errorf("message %q does not name the field", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Warnings) != 1 || r.Warnings[0].Dest != "age" || r.Warnings[0].OnError != tc.want || !strings.Contains(r.Warnings[0].String(), "not a number") {
				t.Fatalf("warnings %+v, want one %s for age", r.Warnings, tc.want)
			}
			if _, ok := r.Fields["age"]; ok || r.Fields["name"] != "Ada" {
				t.Fatalf("fields %v", r.Fields)
			}
		})
	}
}

func TestApplyFailsWithTheFirstFailingFieldInSchemaOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, fields, want string
	}{
		{"a literal before a path fails first", `{"dest":"lit","source":{"type":"literal","value":"x"},"transforms":[{"type":"to_number"}],"on_error":"fail_action"},` +
			field("path", "a", `{"type":"to_number"}`, "fail_action"), "lit"},
		{"a path before a literal fails first", field("path", "a", `{"type":"to_number"}`, "fail_action") +
			`,{"dest":"lit","source":{"type":"literal","value":"x"},"transforms":[{"type":"to_number"}],"on_error":"fail_action"}`, "path"},
		{"a skipped field before does not stop the failure", field("skip", "a", `{"type":"to_boolean"}`, "") + "," + field("path", "a", `{"type":"to_date"}`, "fail_action"), "path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := mapping.Apply(mustSchema(t, tc.fields), json.RawMessage(`{"a":"abc"}`))
			var fe *mapping.FieldError
			if !errors.As(err, &fe) || fe.Dest != tc.want {
				t.Fatalf("error %v, want a FieldError for %s", err, tc.want)
			}
		})
	}
}

func TestApplyValueTypes(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, field("s", "s", "", "")+","+field("n", "n", "", "")+","+field("b", "b", "", "")+","+field("o", "o", "", "")+","+field("x", "s", `{"type":"to_number"}`, ""))
	r, err := mapping.Apply(s, json.RawMessage(`{"s":"1.0","n":2.50,"b":false,"o":{"k":[1.5,null]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Fields["s"].(string); !ok || v != "1.0" {
		t.Errorf("string %#v", r.Fields["s"])
	}
	if v, ok := r.Fields["n"].(json.Number); !ok || v != "2.50" {
		t.Errorf("number %#v", r.Fields["n"])
	}
	if v, ok := r.Fields["x"].(json.Number); !ok || v != "1.0" {
		t.Errorf("converted number %#v", r.Fields["x"])
	}
	if v, ok := r.Fields["b"].(bool); !ok || v {
		t.Errorf("boolean %#v", r.Fields["b"])
	}
	o, ok := r.Fields["o"].(map[string]any)
	if !ok {
		t.Fatalf("object %#v", r.Fields["o"])
	}
	if a, ok := o["k"].([]any); !ok || len(a) != 2 || a[0] != json.Number("1.5") || a[1] != nil {
		t.Errorf("nested array %#v", o["k"])
	}
}

func TestApplyRefusesPayloadsThatAreNotObjects(t *testing.T) {
	t.Parallel()
	c, err := mapping.Compile(mustSchema(t, field("a", "a", "", "")))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{`[1]`, `"x"`, `1`, `{"a":}`, `{"a":1} x`, `{"a":1`, `{"a":"\x"}`, "{\"a\":\"\x01\"}", `{"a":01}`, `{"a":tru}`, `{a:1}`, `{"a":1,}`, `{"a":[1,]}`,
		strings.Repeat(`{"a":`, 10001) + `1` + strings.Repeat(`}`, 10001)} {
		if r, err := c.Apply(json.RawMessage(p)); !errors.Is(err, mapping.ErrInvalidPayload) || r != nil {
			t.Errorf("payload %.40s: result %v, error %v; want ErrInvalidPayload", p, r, err)
		}
	}
}

func TestCompile(t *testing.T) {
	t.Parallel()
	length := 2
	for _, tc := range []struct {
		name   string
		schema *mapping.Schema
		ok     bool
	}{
		{"a nil schema is refused", nil, false},
		{"a schema built in Go is normalised", &mapping.Schema{SchemaVersion: 1, Fields: []mapping.Field{{Dest: "d", Source: mapping.Source{Type: "path", Value: "a.b"},
			Transforms: []mapping.Transform{{Type: "default", Value: 3}, {Type: "substring", Start: 0, Length: &length}}}}}, true},
		{"an invalid path is refused", &mapping.Schema{SchemaVersion: 1, Fields: []mapping.Field{{Dest: "d", Source: mapping.Source{Type: "path", Value: "a..b"}}}}, false},
		{"an unknown transform is refused", &mapping.Schema{SchemaVersion: 1, Fields: []mapping.Field{{Dest: "d", Source: mapping.Source{Type: "path", Value: "a"}, Transforms: []mapping.Transform{{Type: "eval"}}}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := mapping.Compile(tc.schema)
			if (err == nil) != tc.ok || (c != nil) != tc.ok {
				t.Fatalf("compiled %v, error %v; want ok %v", c, err, tc.ok)
			}
			if !tc.ok {
				return
			}
			r, err := c.Apply(json.RawMessage(`{}`))
			if err != nil || r.Fields["d"] != json.Number("3") {
				t.Fatalf("result %+v, error %v", r, err)
			}
		})
	}
}

func TestCompiledIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	c, err := mapping.Compile(benchSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	want, err := c.Apply(benchPayload)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				r, err := c.Apply(benchPayload)
				if err != nil {
					t.Error(err)
					return
				}
				if got, _ := json.Marshal(r); string(got) != string(wantJSON) {
					t.Errorf("concurrent result %s, want %s", got, wantJSON)
					return
				}
			}
		})
	}
	wg.Wait()
}

// benchPayload is a 1 KiB event payload.
var benchPayload = json.RawMessage(`{
  "id": "usr_2048", "email": "  Ada.Lovelace@Example.COM ", "first_name": "Ada", "last_name": "Lovelace",
  "phone": "+44 20 7946 0958", "signed_up_at": "2024-03-05T23:30:00-02:00", "age": "36", "newsletter": "yes",
  "plan": {"name": "pro", "seats": 12, "price": 49.90, "currency": "EUR", "trial": false},
  "company": {"name": "Analytical Engines", "domain": "example.com", "size": "11-50", "industry": "computing",
    "address": {"line1": "12 St James's Square", "city": "London", "postcode": "SW1Y 4JH", "country": "GB"}},
  "items": [{"sku": "A-1", "qty": 2, "price": "12.50"}, {"sku": "B-2", "qty": 1, "price": "7.00"}, {"sku": "C-3", "qty": 5, "price": "1.25"}],
  "utm": {"source": "newsletter", "medium": "email", "campaign": "spring-launch", "term": null, "content": "hero"},
  "context": {"ip": "203.0.113.42", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0",
    "locale": "en-GB", "timezone": "Europe/London", "library": {"name": "meshes-events", "version": "1.4.2"}},
  "notes": "Met at the Difference Engine demo."
}`)

func benchSchema(t testing.TB) *mapping.Schema {
	return mustSchema(t, strings.Join([]string{
		field("email", "email", `{"type":"trim"},{"type":"lower"}`, ""),
		field("firstname", "first_name", `{"type":"to_string"}`, ""),
		field("lastname", "last_name", `{"type":"upper"}`, ""),
		field("phone", "phone", "", ""),
		field("signup_date", "signed_up_at", `{"type":"to_date","timezone":"Europe/London"}`, ""),
		field("age", "age", `{"type":"to_number"}`, "warn_action"),
		field("newsletter", "newsletter", `{"type":"to_boolean"}`, ""),
		field("seats", "plan.seats", `{"type":"to_number"}`, ""),
		field("city", "company.address.city", `{"type":"default","value":"unknown"}`, ""),
		field("first_sku", "items.0.sku", `{"type":"substring","start":0,"length":1}`, "fail_action"),
	}, ","))
}

func BenchmarkApply(b *testing.B) {
	if len(benchPayload) < 1000 || len(benchPayload) > 1050 {
		b.Fatalf("the payload is %d bytes, not about 1 KiB", len(benchPayload))
	}
	c, err := mapping.Compile(benchSchema(b))
	if err != nil {
		b.Fatal(err)
	}
	if r, err := c.Apply(benchPayload); err != nil || len(r.Fields) != 10 {
		b.Fatalf("result %+v, error %v", r, err)
	}
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Apply(benchPayload); err != nil {
			b.Fatal(err)
		}
	}
}
