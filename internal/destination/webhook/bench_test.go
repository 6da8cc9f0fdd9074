package webhook

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// BenchmarkDeliver measures one delivery end to end (wrapped, Standard Webhooks signed) to a
// local keep-alive server: normalise and parse the connection, build and sign the body, send,
// read, classify.
func BenchmarkDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	a := New(destination.Options{AllowPrivate: true})
	defer a.CloseIdleConnections()
	req := testRequest(map[string]any{KeyURL: srv.URL + "/hook", KeySigningScheme: SigningStandardWebhooks, KeySigningSecret: testWhsec})

	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := deliverOnce(b.Context(), a, req); res.Outcome != switchyard.OutcomeDelivered {
				b.Fatalf("outcome = %s (%s)", res.Outcome, res.Message)
			}
		}
	})
}

// BenchmarkBuildAndSign measures the per-attempt CPU work without the network: parse the
// connection, build the wrapped envelope and its headers, sign with Standard Webhooks.
func BenchmarkBuildAndSign(b *testing.B) {
	a := New(destination.Options{})
	req := testRequest(normalise(b, destination.Options{}, map[string]any{KeyURL: "https://hooks.example.com/in", KeySigningScheme: SigningStandardWebhooks, KeySigningSecret: testWhsec}))

	b.ReportAllocs()
	for b.Loop() {
		c, errs := parseConfig(req.Connection.Metadata)
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		body, err := buildBody(c, req.Event, req.SentAt)
		if err != nil {
			b.Fatal(err)
		}
		_ = a.requestHeaders(c, req, req.SentAt, body)
	}
}
