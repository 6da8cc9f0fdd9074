package builtin_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/builtin"
)

func TestRegistry(t *testing.T) {
	t.Parallel()

	r := builtin.Registry()
	if _, ok := r.Get("webhook"); !ok {
		t.Fatal("webhook is not registered")
	}
	for _, in := range r.List() {
		if _, err := json.Marshal(in.Describe()); err != nil {
			t.Errorf("%s: Describe does not marshal: %v", in.Type, err)
		}
		// Constructors must be free of side effects, so building each one here is harmless.
		if a := in.New(destination.Options{}); a == nil {
			t.Errorf("%s: New returned nil", in.Type)
		}
	}
}

// Every field an action needs is filled by one of its inputs (the Meshes ActionInput list), so
// that a form generated from GET /integrations can build a valid rule; inputs marshal in the
// Meshes shape, camelCase inside.
func TestActionInputsCoverTheActionFields(t *testing.T) {
	t.Parallel()
	for _, in := range builtin.Registry().List() {
		for _, a := range in.Actions {
			filled := map[string]bool{}
			for _, d := range a.Data {
				filled[d.Field] = true
				if d.Options != nil {
					filled[d.Options.Field] = true
				}
			}
			for _, f := range a.Fields {
				if !filled[f] {
					t.Errorf("%s %s: no input fills metadata.%s", in.Type, a.Key, f)
				}
			}
		}
	}
	hubspot, _ := builtin.Registry().Get("hubspot")
	b, err := json.Marshal(hubspot.Describe().Actions["update_property"])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"advanced"`, `"options":{"key":"options","field":"value"`, `"type":"select","entity":"option"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("update_property %s lacks %s", b, want)
		}
	}
}
