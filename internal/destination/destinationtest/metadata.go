package destinationtest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
)

// ValidateMetadata decodes data as the API decodes a connection's metadata (numbers as
// json.Number) and validates it with in's schema, holding the result to what the store and the
// engine rely on: a refusal names a metadata.<key> and says why; accepted metadata keeps no
// json.Number (it is stored as the float64 it is read back as), its delivery settings are ones
// the engine applies as they read, and after the store's JSON round trip it passes validation
// again unchanged. It returns the validated metadata, and false when data is not a JSON object
// or was refused. For fuzz targets of connection metadata.
func ValidateMetadata(t *testing.T, in *destination.Integration, data []byte, opts destination.Options) (map[string]any, bool) {
	t.Helper()
	var meta map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&meta) != nil || meta == nil {
		return nil, false
	}
	got, errs := in.ValidateMetadata(meta, opts)
	if len(errs) > 0 {
		for _, e := range errs {
			if !strings.HasPrefix(e.Param, destination.ParamPrefix) || e.Msg == "" {
				t.Fatalf("%s: refusal %+v names no metadata key or gives no reason", in.Type, e)
			}
		}
		return nil, false
	}
	checkDeliverySettings(t, in.Type, got)
	if n, ok := findNumber(got); ok {
		t.Fatalf("%s: validated metadata keeps the json.Number %s, not the float64 it is read back as", in.Type, n)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("%s: validated metadata does not marshal: %v", in.Type, err)
	}
	var stored map[string]any
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	again, errs := in.ValidateMetadata(stored, opts)
	if len(errs) > 0 {
		t.Fatalf("%s: validated metadata %s fails validation again: %v", in.Type, b, errs)
	}
	if !reflect.DeepEqual(again, stored) {
		t.Fatalf("%s: validation is not idempotent:\n first %v\nsecond %v", in.Type, stored, again)
	}
	return got, true
}

// checkDeliverySettings fails unless the delivery settings of accepted metadata are what the
// engine reads them as: a whole max_concurrency from 1 to the limit, a rate of 0 or from 0.001
// to 100,000, a retry schedule it can parse — each as a number or string, not in some other form
// the engine would silently ignore.
func checkDeliverySettings(t *testing.T, typ string, meta map[string]any) {
	t.Helper()
	if v, ok := meta[destination.KeyMaxConcurrency]; ok {
		n, isNum := v.(float64)
		if !isNum || n != float64(int(n)) || n < 1 || n > destination.MaxConcurrencyLimit {
			t.Fatalf("%s: accepted max_concurrency %#v", typ, v)
		}
	}
	if v, ok := meta[destination.KeyRateLimitPerSecond]; ok {
		n, isNum := v.(float64)
		if !isNum || n < 0 || n > destination.MaxRatePerSecond || (n > 0 && n < destination.MinRatePerSecond) || n != n {
			t.Fatalf("%s: accepted rate_limit_per_second %#v", typ, v)
		}
	}
	if v, ok := meta[destination.KeyRetrySchedule]; ok {
		s, isString := v.(string)
		if !isString {
			t.Fatalf("%s: accepted retry_schedule %#v", typ, v)
		}
		if _, err := destination.ParseRetrySchedule(s); err != nil {
			t.Fatalf("%s: accepted retry_schedule %q, which the engine cannot parse: %v", typ, s, err)
		}
	}
}

// findNumber returns a json.Number held anywhere in v.
func findNumber(v any) (json.Number, bool) {
	switch v := v.(type) {
	case json.Number:
		return v, true
	case map[string]any:
		for _, e := range v {
			if n, ok := findNumber(e); ok {
				return n, true
			}
		}
	case []any:
		for _, e := range v {
			if n, ok := findNumber(e); ok {
				return n, true
			}
		}
	}
	return "", false
}
