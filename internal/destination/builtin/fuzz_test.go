package builtin_test

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/builtin"
	"github.com/switchyardhq/switchyard/internal/destination/destinationtest"
)

// FuzzValidateMetadata feeds arbitrary JSON connection metadata — what POST and PUT
// /connections take from any machine key — to every built-in integration's schema, held to
// destinationtest.ValidateMetadata (the webhook package fuzzes its own delivery parsing on top):
// never a panic; a refusal names a metadata.<key> and says why; what passes passes again
// unchanged after the store's JSON round trip; and its delivery settings are ones the engine
// applies as they read (docs/delivery.md).
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
		destinationtest.ValidateMetadata(t, list[int(typ)%len(list)], data, destination.Options{AllowPrivate: allowPrivate})
	})
}
