package builtin_test

import (
	"encoding/json"
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
