package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination/builtin"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// The two ingestion bodies are the API's most exposed parsers: anyone holding a publishable key
// (which ships in browsers) can send them anything. These targets feed them arbitrary bytes and
// hold them to one rule: never panic, and either accept the event(s) — and then only what the
// documented rules allow — or refuse with a 4xx in the Meshes error shape, never a 500.
//
// Run one with, for example:
//
//	go test ./internal/api -run '^$' -fuzz FuzzEventBody -fuzztime 30s
//
// Seeds live in testdata/fuzz/<target>; a failing input found by the fuzzer is written there too
// and then runs with every `go test`.

// fuzzLimits keep the payload limit small, so that the fuzzer reaches the 413 path.
var fuzzLimits = Limits{MaxBodyBytes: 64 << 10, MaxPayloadBytes: 512}

// fuzzWorkspace is the workspace every fuzzed principal may emit into; any other is unknown.
var fuzzWorkspace = uuid.MustParse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")

// fuzzPrincipal is a publishable key's principal, or a machine key's (whose events name their
// workspace in the body).
func fuzzPrincipal(machine bool) *principal {
	org := uuid.MustParse("6e9f1d2c-3b4a-4c5d-9e8f-7a6b5c4d3e2f")
	if machine {
		return &principal{OrganizationID: org, Key: &switchyard.MachineKey{OrganizationID: org, AccessKey: "mk_fuzzfuzzfuzzfuzzfuzzfuzz"}}
	}
	return &principal{OrganizationID: org, Workspace: &switchyard.Workspace{ID: fuzzWorkspace, OrganizationID: org}}
}

// fuzzStore is a real SQLite store holding the fuzz organization and its workspace, so that the
// bulk target runs the real workspace lookups and batch inserts.
func fuzzStore(f *testing.F) store.Store {
	f.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	p := fuzzPrincipal(true)
	now := time.Now().UTC()
	if _, err := db.Bootstrap(ctx, store.BootstrapParams{
		Organization: &switchyard.Organization{ID: p.OrganizationID, Name: "Fuzz", CreatedAt: now},
		MachineKey: &switchyard.MachineKey{ID: uuid.New(), OrganizationID: p.OrganizationID, Name: "fuzz",
			AccessKey: p.Key.AccessKey, SecretSealed: "unused", CreatedAt: now},
		Workspace: &switchyard.Workspace{ID: fuzzWorkspace, OrganizationID: p.OrganizationID, Name: "Fuzz",
			PublishableKey: "mesh_pub_fuzz_fuzz_fuzz", PublishableKeyName: "Default", CreatedAt: now, UpdatedAt: now},
	}); err != nil {
		f.Fatal(err)
	}
	return db
}

// eventSeeds are bodies of POST /events: valid ones in each client's shape, and the ways a
// body goes wrong.
var eventSeeds = []string{
	`{"event":"user.signup","payload":{"email":"ada@example.com"},"resource":"user","resource_id":"usr_2048"}`,
	`{"workspace":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","event":"user.signup","payload":{"email":"ada@example.com"}}`,
	`{"event":"invoice.paid","payload":{"amount":1e400,"nested":{"a":[1,2,{"b":null}]}},"type":"event","idempotency_key":"k-1"}`,
	`{"event":"a","payload":{},"resource":"","resource_id":""}`,
	`{"event":"","payload":[],"resource":"bad resource!","resource_id":"` + strings.Repeat("x", 65) + `"}`,
	`{"event":"user.signup","payload":"{\"not\":\"an object\"}"}`,
	`{"event":"user\u0000signup","payload":{"k":"\u0000"},"idempotency_key":"\u0007"}`,
	`{"event":1,"payload":{"x":1}}`,
	`{"event":"e","payload":null,"workspace":"not-a-uuid","type":"rule"}`,
	`{"event":"e","payload":{"x":1}} {"trailing":true}`,
	`{"event":"e","payload":{"x":"` + strings.Repeat("y", 600) + `"}}`,
	`[{"event":"e","payload":{"x":1}}]`,
	`{"event":"e","payload":{"x":1}`,
	"\xff\xfe{}",
	``,
	`null`,
	// Text the stores cannot hold (hardening issue: PostgreSQL answered 500 to the first).
	"{\"event\":\"user.signup\",\"payload\":{\"name\":\"caf\xc3\x28\"}}",
	"{\"event\":\"user.signup\",\"payload\":{\"caf\xc3\x28\":1}}",
	"{\"event\":\"user.\xc3\x28\",\"payload\":{\"x\":1}}",
	`{"event":"user.signup","payload":{"a\u0000b":1}}`,
	`{"event":"user.signup","payload":{"a":["ok","b\u0000"]}}`,
	`{"event":"user.signup","payload":{"escaped":"\\u0000 is text"}}`,
	`{"event":"   ","payload":{"x":1}}`,
	"{\"event\":\"e\",\"payload\":{\"x\":1},\"resource_id\":\"\xc3\x28\"}",
}

func FuzzEventBody(f *testing.F) {
	for _, seed := range eventSeeds {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	s := New(Config{Limits: fuzzLimits})
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, body []byte, machine bool) {
		p := fuzzPrincipal(machine)
		var req eventRequest
		err := decodeJSON(body, &req)
		var e *switchyard.Event
		if err == nil {
			e, err = s.validateEvent(&req, p, "")
		}
		if err != nil {
			requireClientError(t, err)
			return
		}
		checkAccepted(t, e, p)
	})
}

// bulkSeeds are bodies of POST /events/bulk.
var bulkSeeds = []string{
	`[{"event":"user.signup","payload":{"email":"ada@example.com"}},{"event":"page.viewed","payload":{"path":"/"},"resource":"page"}]`,
	`[{"workspace":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","event":"a","payload":{"x":1},"idempotency_key":"k"},` +
		`{"workspace":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","event":"a","payload":{"x":1}}]`,
	`[{"event":"ok","payload":{"x":1}},{"event":"","payload":{}},7,null,"str",[],{"event":"e","payload":{"x":"` + strings.Repeat("y", 600) + `"}}]`,
	`[]`,
	`[` + strings.Repeat(`{"event":"e","payload":{"x":1}},`, 100) + `{"event":"e","payload":{"x":1}}]`,
	`{"events":[{"event":"e","payload":{"x":1}}]}`,
	`[{"event":"e","payload":{"x":1}}] []`,
	`[{"event":"e","payload":{"x":1}}`,
	` 	[{"event":"e","payload":{"x":1},"resource_id":"ok:1.2-3_4"}]`,
	``,
	"[{\"event\":\"ok\",\"payload\":{\"x\":1}},{\"event\":\"bad\",\"payload\":{\"name\":\"caf\xc3\x28\"}},{\"event\":\"ok\",\"payload\":{\"y\":2}}]",
	`[{"event":"ok","payload":{"x":1}},{"event":"nul","payload":{"k\u0000":1}},{"event":"   ","payload":{"x":1}}]`,
}

func FuzzBulkBody(f *testing.F) {
	for _, seed := range bulkSeeds {
		f.Add([]byte(seed), false, "")
		f.Add([]byte(seed), true, "retry-7")
	}
	s := New(Config{Store: fuzzStore(f), Limits: fuzzLimits})
	f.Cleanup(s.Close)
	h := s.handle(s.eventBulkCreate)
	f.Fuzz(func(t *testing.T, body []byte, machine bool, idempotencyKey string) {
		p := fuzzPrincipal(machine)
		req := httptest.NewRequest(http.MethodPost, "/api/v1/events/bulk", bytes.NewReader(body))
		if idempotencyKey != "" && !strings.ContainsAny(idempotencyKey, "\r\n") {
			req.Header.Set(idempotencyKeyHeader, idempotencyKey)
		}
		req = req.WithContext(context.WithValue(req.Context(), principalKey, p))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		var out struct {
			Count      *int              `json:"count"`
			ErrorCount *int              `json:"error_count"`
			Records    []json.RawMessage `json:"records"`
		}
		switch rec.Code {
		case http.StatusCreated, http.StatusMultiStatus:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			requireErrorBody(t, rec.Body.Bytes())
			return
		default:
			t.Fatalf("status %d for a bulk body: %s", rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Count == nil {
			t.Fatalf("answer %s: %v", rec.Body, err)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			t.Fatalf("accepted a body that is not a JSON array: %q", body)
		}
		errorCount := 0
		if out.ErrorCount != nil {
			errorCount = *out.ErrorCount
		}
		if len(out.Records) != len(items) || *out.Count+errorCount != len(items) || len(items) < 1 || len(items) > maxBulkEvents {
			t.Fatalf("%d items gave %d records, count %d, error_count %d", len(items), len(out.Records), *out.Count, errorCount)
		}
		if (rec.Code == http.StatusCreated) != (out.ErrorCount == nil) || (out.ErrorCount != nil && *out.ErrorCount == 0) {
			t.Fatalf("status %d with error_count %v", rec.Code, out.ErrorCount)
		}
		refused := 0
		for _, r := range out.Records {
			var rec map[string]json.RawMessage
			if err := json.Unmarshal(r, &rec); err != nil {
				t.Fatalf("record %s: %v", r, err)
			}
			if _, isError := rec["error"]; isError {
				requireErrorBody(t, r)
				refused++
			}
		}
		if refused != errorCount {
			t.Fatalf("%d error records, error_count %d", refused, errorCount)
		}
	})
}

// requireClientError fails unless err is a *switchyard.Error that maps to a 4xx.
func requireClientError(t *testing.T, err error) {
	t.Helper()
	var e *switchyard.Error
	if !errors.As(err, &e) {
		t.Fatalf("a bad body gave %T %v, not a *switchyard.Error (it would be a 500)", err, err)
	}
	if status, _ := errorResponse(err); status < 400 || status > 499 || e.Message == "" {
		t.Fatalf("a bad body gave status %d: %v", status, err)
	}
}

// requireErrorBody fails unless b is the Meshes error shape of a 4xx.
func requireErrorBody(t *testing.T, b []byte) {
	t.Helper()
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Message == "" {
		t.Fatalf("not the Meshes error shape: %s (%v)", b, err)
	}
	switch e.Message {
	case http.StatusText(http.StatusBadRequest), http.StatusText(http.StatusForbidden),
		http.StatusText(http.StatusRequestEntityTooLarge):
	default:
		t.Fatalf("an error %q, want a refusal of the caller's input: %s", e.Message, b)
	}
}

// checkAccepted fails unless an accepted event keeps the documented rules: a 1–255 character
// name without control characters, a JSON object payload within the limit, resource and
// resource_id matching their pattern (resource global by default), the principal's workspace,
// and text that PostgreSQL can store (no NUL, valid UTF-8).
func checkAccepted(t *testing.T, e *switchyard.Event, p *principal) {
	t.Helper()
	n := utf8.RuneCountInString(e.Name)
	if n < 1 || n > maxEventNameLen || !utf8.ValidString(e.Name) || strings.ContainsFunc(e.Name, unicode.IsControl) {
		t.Fatalf("accepted the event name %q", e.Name)
	}
	if len(e.Payload) == 0 || e.Payload[0] != '{' || !json.Valid(e.Payload) || len(e.Payload) > fuzzLimits.MaxPayloadBytes {
		t.Fatalf("accepted the payload %q", e.Payload)
	}
	if strings.TrimSpace(e.Name) == "" {
		t.Fatalf("accepted the blank event name %q", e.Name)
	}
	var decoded any
	dec := json.NewDecoder(bytes.NewReader(e.Payload))
	dec.UseNumber() // 1e400 is valid JSON, if not a float64
	if !utf8.Valid(e.Payload) || dec.Decode(&decoded) != nil || holdsNUL(decoded) {
		t.Fatalf("accepted a payload PostgreSQL cannot store: %q", e.Payload)
	}
	if !resourcePattern.MatchString(e.Resource) || (e.ResourceID != "" && !resourceIDPattern.MatchString(e.ResourceID)) {
		t.Fatalf("accepted resource %q, resource_id %q", e.Resource, e.ResourceID)
	}
	if k := e.IdempotencyKey; utf8.RuneCountInString(k) > 255 || !utf8.ValidString(k) || strings.ContainsFunc(k, unicode.IsControl) {
		t.Fatalf("accepted the idempotency key %q", k)
	}
	if p.Workspace != nil && e.WorkspaceID != p.Workspace.ID || e.WorkspaceID == uuid.Nil || e.OrganizationID != p.OrganizationID {
		t.Fatalf("accepted workspace %s of organization %s for %+v", e.WorkspaceID, e.OrganizationID, p)
	}
}

// holdsNUL reports whether a decoded JSON value has a NUL in any string or key.
func holdsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, 0)
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) || holdsNUL(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if holdsNUL(e) {
				return true
			}
		}
	}
	return false
}

// bulkByRawItems is how bulk bodies were read before decodeBulk: the array into raw items, then
// each item decoded (decodeJSON) on its own. FuzzDecodeBulk holds decodeBulk to it.
func bulkByRawItems(body []byte) ([]bulkItem, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, errNotBulk
	}
	var raws []json.RawMessage
	if err := decodeJSONSyntax(body, &raws); err != nil {
		return nil, err
	}
	if len(raws) == 0 || len(raws) > maxBulkEvents {
		return nil, errBulkSize
	}
	items := make([]bulkItem, len(raws))
	for i, raw := range raws {
		items[i].err = decodeJSON(raw, &items[i].req)
	}
	return items, nil
}

// decodeBulk reads every body as the two-step reading did: the same refusal of the whole body,
// or the same items with the same refusals and the same decoded requests.
func FuzzDecodeBulk(f *testing.F) {
	for _, seed := range bulkSeeds {
		f.Add([]byte(seed))
	}
	for _, seed := range []string{`[1,"x",null,{}]`, `[{"event":1}]`, `[{"event":"a"}]]`, `[{"event":"a"}] x`, `[{"event":"a"},]`,
		`[{"payload":{"a":"\u0000"}},{"event":"b","payload":[1,2]}]`, `[{"event":"a","payload":{"x":1}}` + "\n]\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := decodeBulk(body)
		want, wantErr := bulkByRawItems(body)
		if !sameError(gotErr, wantErr) {
			t.Fatalf("body %q: error %v, the two-step reading says %v", body, gotErr, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("body %q: %d items, the two-step reading %d", body, len(got), len(want))
		}
		for i := range got {
			if !sameError(got[i].err, want[i].err) {
				t.Fatalf("body %q, item %d: %v, the two-step reading %v", body, i, got[i].err, want[i].err)
			}
			if got[i].err == nil && !reflect.DeepEqual(got[i].req, want[i].req) {
				t.Fatalf("body %q, item %d: %+v, the two-step reading %+v", body, i, got[i].req, want[i].req)
			}
		}
	})
}

// sameError reports whether a and b are both nil, or API errors saying the same.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ae, aok := a.(*switchyard.Error)
	be, bok := b.(*switchyard.Error)
	return aok && bok && ae.Code == be.Code && ae.Message == be.Message && reflect.DeepEqual(ae.Fields, be.Fields)
}

// listSeeds are query strings of the list endpoints: paging and filters, valid and not.
var listSeeds = []string{
	``,
	`limit=1`,
	`limit=200&event=user.signup&status=completed`,
	`limit=0`,
	`limit=201`,
	`limit=-1`,
	`limit=1e2`,
	`limit=9223372036854775808`,
	`limit=%20%31`,
	`cursor=`,
	`cursor=bm90LWEtY3Vyc29y`,
	`cursor=MTcwMDAwMDAwMDAwMDAwMC4wMTkwYTFiMi1jM2Q0LTdlNWYtOGE5Yi0wYzFkMmUzZjRhNWI`,
	`cursor=LTEuMDE5MGExYjItYzNkNC03ZTVmLThhOWItMGMxZDJlM2Y0YTVi`,
	`cursor=a+b`,
	`cursor=` + strings.Repeat("A", 513),
	`status=bogus&resource=bad%20resource!&resource_id=` + strings.Repeat("x", 65),
	`event=%00&resource=%C3%28&resource_id=%FF`,
	`event=user.signup&event=other&limit=2&limit=x`,
	`resource=user&resource_id=usr_1`,
	`%zz=1&limit=%`,
	`;limit=1`,
}

// FuzzListQuery holds the list endpoints' query parsing — limit, cursor and the filters, which
// anyone with a key can send anything in — to one rule: a page (200) whose limit is what was
// asked for and which holds no more records than that, or a 400 in the Meshes error shape;
// never a panic or a 500, whatever reaches the store.
func FuzzListQuery(f *testing.F) {
	for _, seed := range listSeeds {
		f.Add(seed)
	}
	s := New(Config{Store: fuzzStore(f), Integrations: builtin.Registry(), Limits: fuzzLimits})
	f.Cleanup(s.Close)
	as := func(r *http.Request) *http.Request {
		return r.WithContext(context.WithValue(r.Context(), principalKey, fuzzPrincipal(true)))
	}
	// A few events (emitted with the workspace's publishable key), so that pages end early and
	// carry cursors.
	bulk := `[` + strings.Repeat(`{"event":"user.signup","payload":{"x":1},"resource":"user","resource_id":"usr_1"},`, 4) +
		`{"event":"page.viewed","payload":{"x":2}}]`
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/events/bulk", strings.NewReader(bulk))
	s.handle(s.eventBulkCreate).ServeHTTP(rec, req.WithContext(context.WithValue(req.Context(), principalKey, fuzzPrincipal(false))))
	if rec.Code != http.StatusCreated {
		f.Fatalf("seeding events: %d %s", rec.Code, rec.Body)
	}
	// Each list with the filters it reads (the others are ignored).
	lists := []struct {
		path    string
		h       http.Handler
		filters []string
	}{
		{"/api/v1/events", s.handle(s.eventList), []string{"event", "resource", "resource_id", "status"}},
		{"/api/v1/rules", s.handle(s.ruleList), []string{"event", "resource", "resource_id"}},
		{"/api/v1/connections", s.handle(s.connectionList), nil},
		{"/api/v1/integrations", s.handle(s.integrationList), nil},
	}
	// A real cursor of each list, as a client would send back.
	for _, l := range lists {
		path, h := l.path, l.h
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, as(httptest.NewRequest(http.MethodGet, path+"?limit=1", nil)))
		var page pageJSON[json.RawMessage]
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || rec.Code != http.StatusOK {
			f.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		if page.NextCursor != nil {
			f.Add("limit=2&cursor=" + *page.NextCursor)
		}
	}
	f.Fuzz(func(t *testing.T, query string) {
		for _, l := range lists {
			path, h := l.path, l.h
			req := as(httptest.NewRequest(http.MethodGet, path, nil))
			req.URL.RawQuery = query
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK:
			case http.StatusBadRequest:
				requireErrorBody(t, rec.Body.Bytes())
				continue
			default:
				t.Fatalf("GET %s?%s: status %d: %s", path, query, rec.Code, rec.Body)
			}
			var page pageJSON[json.RawMessage]
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.Records == nil {
				t.Fatalf("GET %s?%s: not a page: %s (%v)", path, query, rec.Body, err)
			}
			// What reached the store as a filter is text PostgreSQL can hold (the fuzz store is
			// SQLite, which would take anything).
			for _, k := range l.filters {
				if v := req.URL.Query().Get(k); !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
					t.Fatalf("GET %s?%s: accepted the filter %s=%q", path, query, k, v)
				}
			}
			want := 50
			if v := req.URL.Query().Get("limit"); v != "" {
				want, _ = strconv.Atoi(v) // accepted, so a number from 1 to 200
			}
			if page.Limit != want || page.Count != len(page.Records) || page.Count > page.Limit {
				t.Fatalf("GET %s?%s: limit %d (want %d), count %d, %d records", path, query, page.Limit, want, page.Count, len(page.Records))
			}
		}
	})
}
