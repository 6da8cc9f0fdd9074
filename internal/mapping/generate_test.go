package mapping_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/mapping"
)

func TestGenerate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		catalog []mapping.CatalogField
		sample  []string // nil: no sample
		// want lists the generated fields as dest<-path[transform], comma-separated.
		want string
	}{
		{name: "without a sample the well-known payload keys are used",
			catalog: []mapping.CatalogField{{Key: "email"}, {Key: "firstname"}, {Key: "LastName"}, {Key: "phone"}, {Key: "name"}, {Key: "external_id"}, {Key: "favourite_colour"}},
			want:    "email<-email,firstname<-first_name,LastName<-last_name,phone<-phone,name<-name,external_id<-id"},
		{name: "a sample key matches its catalog field ignoring case, underscores and hyphens",
			catalog: []mapping.CatalogField{{Key: "first_name"}, {Key: "plan-tier"}, {Key: "Email"}},
			sample:  []string{"firstName", "PlanTier", "EMAIL"},
			want:    "first_name<-firstName,plan-tier<-PlanTier,Email<-EMAIL"},
		{name: "a synonym the sample has is used when the catalog key itself is not there",
			catalog: []mapping.CatalogField{{Key: "external_id"}, {Key: "lastname"}, {Key: "mobilephone"}, {Key: "jobtitle"}},
			sample:  []string{"id", "surname", "mobile", "title", "other"},
			want:    "external_id<-id,lastname<-surname,mobilephone<-mobile,jobtitle<-title"},
		{name: "the first synonym in the table wins", catalog: []mapping.CatalogField{{Key: "externalid"}}, sample: []string{"user_id", "id"}, want: "externalid<-id"},
		{name: "with a sample a field nothing matches is left out", catalog: []mapping.CatalogField{{Key: "email"}, {Key: "company"}}, sample: []string{"email"}, want: "email<-email"},
		{name: "an empty sample matches nothing", catalog: []mapping.CatalogField{{Key: "email"}}, sample: []string{}, want: ""},
		{name: "sample keys that are not paths are ignored", catalog: []mapping.CatalogField{{Key: "email"}}, sample: []string{"e-mail", "email"}, want: "email<-email"},
		{name: "catalog types add conversions",
			catalog: []mapping.CatalogField{{Key: "email", Type: "string"}, {Key: "age", Type: "Integer"}, {Key: "vip", Type: "boolean"}, {Key: "born", Type: "date"},
				{Key: "seen", Type: "date_time"}, {Key: "tags", Type: "array"}, {Key: "phone", Type: "phone_number"}},
			sample: []string{"email", "age", "vip", "born", "seen", "tags", "phone"},
			want:   "email<-email[to_string],age<-age[to_number],vip<-vip[to_boolean],born<-born[to_date],seen<-seen[to_datetime],tags<-tags,phone<-phone[to_string]"},
		{name: "repeated and unusable catalog keys are left out",
			catalog: []mapping.CatalogField{{Key: "email"}, {Key: "email"}, {Key: ""}, {Key: strings.Repeat("e", 129)}, {Key: "a\x00"}},
			sample:  []string{"email", strings.Repeat("e", 129), "a"},
			want:    "email<-email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mapping.Generate(tc.catalog, tc.sample)
			var got []string
			for _, f := range s.Fields {
				d := f.Dest + "<-" + f.Source.Value.(string)
				for _, tr := range f.Transforms {
					d += "[" + tr.Type + "]"
				}
				if f.Source.Type != mapping.SourcePath || f.OnError != mapping.OnErrorSkipField {
					t.Errorf("field %+v is not a path with skip_field", f)
				}
				got = append(got, d)
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("generated %s, want %s", strings.Join(got, ","), tc.want)
			}
			mustReparse(t, s)
		})
	}
}

// mustReparse checks that a generated schema passes Parse unchanged.
func mustReparse(t *testing.T, s *mapping.Schema) {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	again, errs := mapping.Parse(raw, "schema")
	if len(errs) > 0 {
		t.Fatalf("generated schema %s is invalid: %v", raw, errs)
	}
	if out, _ := json.Marshal(again); string(out) != string(raw) {
		t.Fatalf("parsing changed the generated schema %s into %s", raw, out)
	}
}

func TestGenerateNotesRequiredFieldsAndCapsTheFields(t *testing.T) {
	t.Parallel()
	var catalog []mapping.CatalogField
	var sample []string
	for i := range mapping.MaxFields + 5 {
		catalog = append(catalog, mapping.CatalogField{Key: fmt.Sprintf("f%d", i), Type: "number", Required: i == 0})
		sample = append(sample, fmt.Sprintf("f%d", i))
	}
	s := mapping.Generate(catalog, sample)
	if len(s.Fields) != mapping.MaxFields {
		t.Fatalf("%d fields, want %d", len(s.Fields), mapping.MaxFields)
	}
	if s.Fields[0].Notes == "" || s.Fields[1].Notes != "" {
		t.Fatalf("notes %q and %q: only the required field has one", s.Fields[0].Notes, s.Fields[1].Notes)
	}
	mustReparse(t, s)
	r, err := mapping.Apply(s, json.RawMessage(`{"f0":"12","f1":"x"}`))
	if err != nil || r.Fields["f0"] != json.Number("12") || len(r.Warnings) != 1 || len(r.Missing) != mapping.MaxFields-2 {
		t.Fatalf("applying the generated mapping: %+v, %v", r, err)
	}
}

func TestPayloadKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, payload, want string
		err                 bool
	}{
		{name: "top-level keys are listed in order, each once", payload: `{"b":1,"a":{"c":2},"b":3,"d\u0065":null}`, want: "b,a,de"},
		{name: "an empty object has no keys", payload: ` { } `, want: ""},
		{name: "an empty payload has no keys", payload: ``, want: ""},
		{name: "an array is not a payload", payload: `[{"a":1}]`, err: true},
		{name: "broken JSON is not a payload", payload: `{"a":1,}`, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys, err := mapping.PayloadKeys(json.RawMessage(tc.payload))
			if tc.err {
				if !errors.Is(err, mapping.ErrInvalidPayload) {
					t.Fatalf("keys %v, error %v; want ErrInvalidPayload", keys, err)
				}
				return
			}
			if err != nil || strings.Join(keys, ",") != tc.want {
				t.Fatalf("keys %v, error %v; want %s", keys, err, tc.want)
			}
		})
	}
}
