package destination_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// nopSender delivers everything; it is its own provisioner.
type nopSender struct{}

func (nopSender) Deliver(context.Context, *destination.Request) destination.Result {
	return destination.Result{Outcome: switchyard.OutcomeDelivered}
}

func (nopSender) Provision(context.Context, destination.Provision) (destination.Sender, error) {
	return nopSender{}, nil
}

// sample declares one field of every kind, so the generic rules can be tested without a real
// integration.
func sample() *destination.Integration {
	return &destination.Integration{
		Type:     "sample",
		Name:     "Sample",
		AuthType: destination.AuthAPIKey,
		Fields: []destination.Field{
			{Key: "api_url", Label: "API URL", Type: destination.FieldText, Required: true, Validate: destination.ValidateURL, HelpText: "Where the API lives."},
			{Key: "region", Label: "Region", Type: destination.FieldSelect, Default: "us",
				Options: []destination.Option{{Label: "US", Value: "us"}, {Label: "EU", Value: "eu"}}},
			{Key: "api_key", Label: "API key", Type: destination.FieldText, Required: true, Secret: true},
			{Key: "eu_tenant", Label: "EU tenant", Type: destination.FieldText, Required: true,
				DependsOn: &destination.DependsOn{Field: "region", Value: []string{"eu"}}},
			{Key: "notes", Label: "Notes", Type: destination.FieldTextarea},
			{Key: "extra", Label: "Extra", Type: destination.FieldObject},
			{Key: "limit", Label: "Limit", Type: destination.FieldNumber, Default: float64(10)},
			{Key: "dry_run", Label: "Dry run", Type: destination.FieldBoolean, Default: false},
		},
		Actions: []destination.Action{
			{Key: "add_to_list", Label: "Add to list", Noun: "List", Fields: []string{"id"},
				Display: &destination.Display{Label: "Add to list", Description: "Adds the contact to a list."}},
			{Key: "sync_contact", Label: "Sync contact", Noun: "Contact"},
		},
		New: func(destination.Options) destination.Provisioner { return nopSender{} },
	}
}

func TestValidateMetadata(t *testing.T) {
	t.Parallel()

	type fe = switchyard.FieldError
	tests := []struct {
		name string
		in   map[string]any
		want map[string]any
		errs []fe
	}{
		{
			name: "defaults are filled and unknown keys kept",
			in:   map[string]any{"api_url": " https://api.example.com ", "api_key": "k", "something_else": 1.5},
			want: map[string]any{"api_url": "https://api.example.com", "api_key": "k", "region": "us", "limit": 10.0, "dry_run": false, "something_else": 1.5},
		},
		{
			name: "select values match case-insensitively and take the declared form",
			in:   map[string]any{"api_url": "https://a.example", "api_key": "k", "region": "EU", "eu_tenant": "t1"},
			want: map[string]any{"api_url": "https://a.example", "api_key": "k", "region": "eu", "eu_tenant": "t1", "limit": 10.0, "dry_run": false},
		},
		{
			name: "a field whose dependency does not hold is removed",
			in:   map[string]any{"api_url": "https://a.example", "api_key": "k", "region": "us", "eu_tenant": "t1"},
			want: map[string]any{"api_url": "https://a.example", "api_key": "k", "region": "us", "limit": 10.0, "dry_run": false},
		},
		{
			name: "numbers and booleans are accepted as strings from forms",
			in:   map[string]any{"api_url": "https://a.example", "api_key": "k", "limit": "25", "dry_run": "TRUE"},
			want: map[string]any{"api_url": "https://a.example", "api_key": "k", "region": "us", "limit": 25.0, "dry_run": true},
		},
		{
			name: "blank values count as absent",
			in:   map[string]any{"api_url": "https://a.example", "api_key": "k", "region": "", "notes": "  ", "extra": nil},
			want: map[string]any{"api_url": "https://a.example", "api_key": "k", "region": "us", "limit": 10.0, "dry_run": false},
		},
		{
			name: "objects are copied",
			in:   map[string]any{"api_url": "https://a.example", "api_key": "k", "extra": map[string]string{"a": "b"}},
			want: map[string]any{"api_url": "https://a.example", "api_key": "k", "extra": map[string]any{"a": "b"}, "region": "us", "limit": 10.0, "dry_run": false},
		},
		{
			name: "nil metadata reports every required field",
			in:   nil,
			want: map[string]any{"region": "us", "limit": 10.0, "dry_run": false},
			errs: []fe{{Param: "metadata.api_url", Msg: "is required"}, {Param: "metadata.api_key", Msg: "is required"}},
		},
		{
			name: "a dependent field is required while its dependency holds",
			in:   map[string]any{"api_url": "https://a.example", "api_key": "k", "region": "eu"},
			want: map[string]any{"api_url": "https://a.example", "api_key": "k", "region": "eu", "limit": 10.0, "dry_run": false},
			errs: []fe{{Param: "metadata.eu_tenant", Msg: "is required"}},
		},
		{
			name: "wrong types and values are reported once per key and dropped",
			in: map[string]any{"api_url": "ftp://a.example", "api_key": 42, "region": "asia", "notes": true,
				"extra": []any{1}, "limit": "many", "dry_run": "maybe"},
			want: map[string]any{},
			errs: []fe{
				{Param: "metadata.api_url", Msg: "must be an absolute http or https URL"},
				{Param: "metadata.region", Msg: "must be one of: us, eu"},
				{Param: "metadata.api_key", Msg: "must be a string"},
				{Param: "metadata.notes", Msg: "must be a string"},
				{Param: "metadata.extra", Msg: "must be an object"},
				{Param: "metadata.limit", Msg: "must be a number"},
				{Param: "metadata.dry_run", Msg: "must be true or false"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var before []byte
			if tt.in != nil {
				before, _ = json.Marshal(tt.in)
			}
			got, errs := sample().ValidateMetadata(tt.in, destination.Options{})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("metadata = %#v, want %#v", got, tt.want)
			}
			if !reflect.DeepEqual(errs, tt.errs) {
				t.Errorf("errors = %#v, want %#v", errs, tt.errs)
			}
			if tt.in != nil {
				if after, _ := json.Marshal(tt.in); !bytes.Equal(before, after) {
					t.Errorf("input was modified: %s, was %s", after, before)
				}
			}
		})
	}
}

func TestValidateMetadataCheck(t *testing.T) {
	t.Parallel()

	in := sample()
	var seen map[string]any
	in.Check = func(meta map[string]any, opts destination.Options) []switchyard.FieldError {
		seen = meta
		meta["region"] = "eu-normalised" // Check may normalise
		return []switchyard.FieldError{
			{Param: "metadata.api_url", Msg: "duplicate of a generic error, dropped"},
			{Param: "metadata.limit", Msg: "must be at most 5"},
		}
	}
	got, errs := in.ValidateMetadata(map[string]any{"api_key": "k", "limit": 7}, destination.Options{})

	want := []switchyard.FieldError{{Param: "metadata.api_url", Msg: "is required"}, {Param: "metadata.limit", Msg: "must be at most 5"}}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("errors = %#v, want %#v", errs, want)
	}
	if seen["limit"] != 7.0 {
		t.Errorf("Check saw limit %#v, want the normalised 7.0", seen["limit"])
	}
	if got["region"] != "eu-normalised" {
		t.Errorf("Check's normalisation was lost: region = %#v", got["region"])
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()

	in := sample()
	if got, want := in.SecretFields(), []string{"api_key"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SecretFields() = %v, want %v", got, want)
	}

	t.Run("Mask replaces present secrets and leaves the rest", func(t *testing.T) {
		t.Parallel()
		meta := map[string]any{"api_url": "https://a.example", "api_key": "sk-123", "extra": map[string]any{"a": "b"}}
		got := in.Mask(meta)
		want := map[string]any{"api_url": "https://a.example", "api_key": destination.MaskedValue, "extra": map[string]any{"a": "b"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Mask() = %#v, want %#v", got, want)
		}
		if meta["api_key"] != "sk-123" {
			t.Error("Mask modified its input")
		}
		got["extra"].(map[string]any)["a"] = "changed"
		if meta["extra"].(map[string]any)["a"] != "b" {
			t.Error("Mask shares nested objects with its input")
		}
	})

	t.Run("Mask keeps an absent secret absent", func(t *testing.T) {
		t.Parallel()
		got := in.Mask(map[string]any{"api_url": "https://a.example"})
		if _, ok := got["api_key"]; ok {
			t.Errorf("Mask() added api_key: %#v", got)
		}
		if in.Mask(nil) != nil {
			t.Error("Mask(nil) != nil")
		}
	})
}

func TestHasAction(t *testing.T) {
	t.Parallel()

	in := sample()
	if !in.HasAction("add_to_list") || !in.HasAction("sync_contact") {
		t.Error("HasAction is false for a declared action")
	}
	if in.HasAction("send_webhook") || in.HasAction("") {
		t.Error("HasAction is true for an undeclared action")
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()

	oauth := &destination.Integration{
		Type: "crm", Name: "CRM", AuthType: destination.AuthOAuth, OAuthVersion: 2,
		Actions: []destination.Action{{Key: "add_tag", Label: "Add tag", Noun: "Tag", Fields: []string{"id"}}},
		New:     func(destination.Options) destination.Provisioner { return nopSender{} },
	}
	got, err := json.MarshalIndent([]destination.Description{sample().Describe(), oauth.Describe()}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "describe.golden.json"), append(got, '\n'))
}

func TestRegistry(t *testing.T) {
	t.Parallel()

	a, b := sample(), sample()
	a.Type, b.Type = "zeta", "alpha"
	r := destination.NewRegistry(a, b)

	if got, ok := r.Get("zeta"); !ok || got.Type != "zeta" || got.Name != a.Name {
		t.Errorf("Get(zeta) = %v, %v", got, ok)
	}
	if _, ok := r.Get("missing"); ok {
		t.Error("Get(missing) found something")
	}
	list := r.List()
	if len(list) != 2 || list[0].Type != "alpha" || list[1].Type != "zeta" {
		t.Errorf("List() is not sorted by type: %v", list)
	}
	list[0] = nil
	if r.List()[0] == nil {
		t.Error("List() shares its slice with the registry")
	}
}

func TestRegistryRefusesMalformedIntegrations(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		mutate func(*destination.Integration)
		want   string
	}{
		{"without a name", func(i *destination.Integration) { i.Name = "" }, "type and name are required"},
		{"with an unknown auth type", func(i *destination.Integration) { i.AuthType = "magic" }, "unknown auth type"},
		{"with oauth but no version", func(i *destination.Integration) { i.AuthType = destination.AuthOAuth }, "oauth version"},
		{"without a constructor", func(i *destination.Integration) { i.New = nil }, "New is required"},
		{"with a duplicate field", func(i *destination.Integration) { i.Fields = append(i.Fields, i.Fields[0]) }, "declared twice"},
		{"with an unknown field type", func(i *destination.Integration) { i.Fields[0].Type = "date" }, "unknown type"},
		{"with a select without options", func(i *destination.Integration) { i.Fields[1].Options = nil }, "no options"},
		{"with a default outside the options", func(i *destination.Integration) { i.Fields[1].Default = "mars" }, "default"},
		{"with an unknown validation", func(i *destination.Integration) { i.Fields[0].Validate = "email" }, "unknown validation"},
		{"with a dependency declared later", func(i *destination.Integration) {
			i.Fields[0].DependsOn = &destination.DependsOn{Field: "region", Value: []string{"eu"}}
		}, "not declared before it"},
		{"with a duplicate action", func(i *destination.Integration) { i.Actions = append(i.Actions, i.Actions[0]) }, "declared twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := sample()
			tt.mutate(in)
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, tt.want) {
					t.Errorf("panic = %v, want one containing %q", r, tt.want)
				}
			}()
			destination.NewRegistry(in)
		})
	}

	t.Run("with two integrations of one type", func(t *testing.T) {
		t.Parallel()
		defer func() {
			if msg, _ := recover().(string); !strings.Contains(msg, "registered twice") {
				t.Errorf("panic = %q, want one about a duplicate type", msg)
			}
		}()
		destination.NewRegistry(sample(), sample())
	})
}

// golden compares got with the file at path, or rewrites the file when -update is given.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRegistryAddsDeliverySettings(t *testing.T) {
	t.Parallel()
	in, _ := destination.NewRegistry(sample()).Get(sample().Type)
	declared := map[string]bool{}
	for _, f := range in.Fields {
		declared[f.Key] = true
	}
	for _, k := range []string{destination.KeyMaxConcurrency, destination.KeyRateLimitPerSecond, destination.KeyRetrySchedule} {
		if !declared[k] {
			t.Errorf("registered integration does not declare %s", k)
		}
	}
	base := map[string]any{"api_url": "https://api.example.com", "api_key": "k", "eu_tenant": "x"}
	for _, tc := range []struct {
		name  string
		key   string
		value any
		ok    bool
	}{
		{"a whole concurrency in range is accepted", destination.KeyMaxConcurrency, 8, true},
		{"a concurrency of zero is refused", destination.KeyMaxConcurrency, 0, false},
		{"a fractional concurrency is refused", destination.KeyMaxConcurrency, 2.5, false},
		{"a concurrency over the cap is refused", destination.KeyMaxConcurrency, 1000, false},
		{"a rate limit is accepted", destination.KeyRateLimitPerSecond, "12.5", true},
		{"a negative rate limit is refused", destination.KeyRateLimitPerSecond, -1, false},
		{"a rate limit of zero is no limit", destination.KeyRateLimitPerSecond, 0, true},
		{"the smallest rate limit is accepted", destination.KeyRateLimitPerSecond, destination.MinRatePerSecond, true},
		{"a rate limit below the smallest is refused", destination.KeyRateLimitPerSecond, 1e-300, false},
		{"the largest rate limit is accepted", destination.KeyRateLimitPerSecond, destination.MaxRatePerSecond, true},
		{"a rate limit over the largest is refused", destination.KeyRateLimitPerSecond, 100001, false},
		{"a retry schedule of durations is accepted", destination.KeyRetrySchedule, "5s, 1m,2h", true},
		{"a retry schedule with a sub-second step is refused", destination.KeyRetrySchedule, "5s,10ms", false},
		{"a retry schedule that is not durations is refused", destination.KeyRetrySchedule, "soon", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := map[string]any{tc.key: tc.value}
			for k, v := range base {
				meta[k] = v
			}
			_, errs := in.ValidateMetadata(meta, destination.Options{})
			if tc.ok != (len(errs) == 0) {
				t.Fatalf("ValidateMetadata(%s=%v) errors %v, want ok=%v", tc.key, tc.value, errs, tc.ok)
			}
			if !tc.ok && errs[0].Param != "metadata."+tc.key {
				t.Fatalf("error names %s, want metadata.%s", errs[0].Param, tc.key)
			}
		})
	}
}
