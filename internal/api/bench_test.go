package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// benchEventBody is a typical POST /api/v1/events body: a short name, a resource, and a
// ~200-byte payload (the shape `switchyard bench` sends).
const benchEventBody = `{"event":"user.signup","resource":"user","resource_id":"usr_2048","payload":{"email":"user2048@example.com",` +
	`"name":"Ada Lovelace","plan":"pro","seats":3,"source":"switchyard-bench","utm":{"campaign":"spring_launch","medium":"email"},` +
	`"note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}`

// benchPrincipal is a publishable-key principal, as browsers emit events.
func benchPrincipal() *principal {
	org := uuid.Must(uuid.NewV7())
	return &principal{OrganizationID: org, Workspace: &switchyard.Workspace{ID: uuid.Must(uuid.NewV7()), OrganizationID: org}}
}

// BenchmarkEventDecodeValidate measures the CPU work of one POST /api/v1/events body before any
// store call: JSON decoding (payload kept raw) and validation into a ready-to-insert event.
func BenchmarkEventDecodeValidate(b *testing.B) {
	s := New(Config{})
	defer s.Close()
	p := benchPrincipal()
	body := []byte(benchEventBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var req eventRequest
		if err := decodeJSON(body, &req); err != nil {
			b.Fatal(err)
		}
		if _, err := s.validateEvent(&req, p, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBulkDecodeValidate100 measures the same for a bulk body of 100 events, the way
// eventBulkCreate does it: the body decoded item by item (decodeBulk), then each item validated.
func BenchmarkBulkDecodeValidate100(b *testing.B) {
	s := New(Config{})
	defer s.Close()
	p := benchPrincipal()
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i := range 100 {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(benchEventBody)
	}
	buf.WriteByte(']')
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		items, err := decodeBulk(body)
		if err != nil {
			b.Fatal(err)
		}
		for i := range items {
			if items[i].err != nil {
				b.Fatal(items[i].err)
			}
			if _, err := s.validateEvent(&items[i].req, p, ""); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// benchStore answers what single-event ingestion asks of the store, at no cost: the workspace of
// the publishable key, and inserts that store nothing. Any other call panics (the embedded
// interface is nil), which would show that ingestion grew a new store dependency.
type benchStore struct {
	store.Store
	ws *switchyard.Workspace
}

func (f *benchStore) WorkspaceGetByPublishableKey(context.Context, string) (*switchyard.Workspace, error) {
	return f.ws, nil
}

func (f *benchStore) EventInsertBatch(_ context.Context, p store.EventInsertBatchParams) ([][]*switchyard.Delivery, error) {
	return make([][]*switchyard.Delivery, len(p.Events)), nil
}

// BenchmarkEventCreateHandler measures the whole API side of POST /api/v1/events — middleware,
// routing, publishable-key authentication (cached), rate limiting off, decoding, validation, the
// group-commit hand-off and the 201 answer — with a store that does nothing, so that what
// remains is the API's own cost per event.
func BenchmarkEventCreateHandler(b *testing.B) {
	key, err := auth.GeneratePublishableKey()
	if err != nil {
		b.Fatal(err)
	}
	org := uuid.Must(uuid.NewV7())
	ws := &switchyard.Workspace{ID: uuid.Must(uuid.NewV7()), OrganizationID: org, Name: "Bench", PublishableKey: key,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	s := New(Config{Store: &benchStore{ws: ws}})
	defer s.Close()
	h := s.Handler()
	body := []byte(benchEventBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/events", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Meshes-Publishable-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
