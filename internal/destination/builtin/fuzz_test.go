package builtin_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/builtin"
)

// FuzzValidateMetadata feeds arbitrary JSON connection metadata — what POST and PATCH
// /connections take from any machine key — to every built-in integration's schema (the webhook
// package fuzzes its own delivery parsing on top). Never a panic; a refusal names a
// metadata.<key> and says why; what passes passes again unchanged after the store's JSON round
// trip; and its delivery settings are ones the engine applies as they read (docs/delivery.md).
//
//	go test ./internal/destination/builtin -run '^$' -fuzz FuzzValidateMetadata -fuzztime 30s
func FuzzValidateMetadata(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"private_app_token":"pat-na1-00000000-0000-0000-0000-000000000000","max_concurrency":4}`,
		`{"access_token":"  tok  ","rate_limit_per_second":"2.5","retry_schedule":"5s, 1m,5m"}`,
		`{"member_status":"Responded","max_concurrency":"16","retry_schedule":""}`,
		`{"account_id":"a","client_id":"c","client_secret":"s","max_concurrency":1.5}`,
		`{"max_concurrency":0,"rate_limit_per_second":-1,"retry_schedule":"0s"}`,
		`{"max_concurrency":257,"rate_limit_per_second":100001,"retry_schedule":"1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"}`,
		`{"max_concurrency":1e308,"rate_limit_per_second":"NaN","retry_schedule":"25h"}`,
		`{"max_concurrency":null,"rate_limit_per_second":true,"retry_schedule":5,"extra":{"kept":[1]}}`,
		`{"extra":{"huge":[1,1e400]},"n":12345678901234567890,"tiny":1e-400}`,
		`{"url":"https://hooks.example.com/in","custom_headers":{"X-A":"1"}}`,
	} {
		for typ := range uint8(5) {
			f.Add(typ, []byte(seed), false)
		}
	}
	list := builtin.Registry().List()
	f.Fuzz(func(t *testing.T, typ uint8, data []byte, allowPrivate bool) {
		in := list[int(typ)%len(list)]
		// Decoded as the API decodes bodies: numbers as json.Number.
		var meta map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if dec.Decode(&meta) != nil || meta == nil {
			return
		}
		opts := destination.Options{AllowPrivate: allowPrivate}
		got, errs := in.ValidateMetadata(meta, opts)
		if len(errs) > 0 {
			for _, e := range errs {
				if !strings.HasPrefix(e.Param, destination.ParamPrefix) || e.Msg == "" {
					t.Fatalf("%s: refusal %+v names no metadata key or gives no reason", in.Type, e)
				}
			}
			return
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
	})
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
