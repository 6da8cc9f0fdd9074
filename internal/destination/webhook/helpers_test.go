package webhook

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestMain checks that no test leaves a goroutine behind: the adapter starts none of its own,
// and its connections close with CloseIdleConnections. While fuzzing, the fuzzing engine's own
// goroutines would be reported, so the check is skipped.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

// Fixed values, so that golden files hold no volatile data. The event's creation time is the
// Meshes documentation's example (1774137600000 ms); the attempt is sent 500 ms later.
var (
	testEventID    = uuid.MustParse("0195b3a4-7c00-7000-8000-000000000001")
	testDeliveryID = uuid.MustParse("0195b3a4-7c00-7000-8000-0000000000d1")
	testCreatedAt  = time.UnixMilli(1774137600000).UTC()
	testSentAt     = testCreatedAt.Add(500 * time.Millisecond)
)

func testEvent() *switchyard.Event {
	return &switchyard.Event{
		ID:         testEventID,
		Name:       "user.signup",
		Resource:   "user",
		ResourceID: "usr_2048",
		// Spaces and HTML-special characters: the body must carry them compacted but unescaped.
		Payload:   []byte(`{ "email": "ada@example.com", "name": "Ada <Lovelace> & co", "plan": {"tier": "pro"} }`),
		CreatedAt: testCreatedAt,
	}
}

func testRequest(meta map[string]any) *destination.Request {
	return &destination.Request{
		DeliveryID: testDeliveryID,
		Attempt:    2,
		Event:      testEvent(),
		Connection: &switchyard.Connection{Type: Type, Name: "test", Metadata: meta, Active: true},
		SentAt:     testSentAt,
	}
}

// captured is one request a test server received.
type captured struct {
	Method, URI string
	Header      http.Header
	Body        []byte
}

// dump renders the request for a golden file: request line, sorted headers (without Host,
// whose port changes from run to run), blank line, body.
func (c *captured) dump() []byte {
	var b bytes.Buffer
	b.WriteString(c.Method + " " + c.URI + "\n")
	names := make([]string, 0, len(c.Header))
	for name := range c.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range c.Header[name] {
			b.WriteString(name + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(c.Body)
	b.WriteString("\n")
	return b.Bytes()
}

// recorder is a test destination that records what it receives and answers with respond.
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*captured
}

func newRecorder(t *testing.T, respond http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, &captured{Method: req.Method, URI: req.RequestURI, Header: req.Header.Clone(), Body: body})
		r.mu.Unlock()
		if respond != nil {
			respond(w, req)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) received() []*captured {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*captured(nil), r.requests...)
}

// last returns the only request received, failing the test if there was not exactly one.
func (r *recorder) only(t *testing.T) *captured {
	t.Helper()
	got := r.received()
	if len(got) != 1 {
		t.Fatalf("destination received %d requests, want 1", len(got))
	}
	return got[0]
}

// local returns options for tests against httptest servers on 127.0.0.1.
func local() destination.Options { return destination.Options{AllowPrivate: true} }

// deliverOnce makes an attempt as the engine does: it normalises the connection's metadata
// with the schema (ValidateMetadata, under the adapter's own options, as the engine's are the
// same for both), provisions a sender for the normalised value and delivers req with it.
// Metadata the schema or the provisioner refuses gives the invalid_request result the engine
// records then.
func deliverOnce(ctx context.Context, a *Adapter, req *destination.Request) destination.Result {
	if req.Connection == nil {
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: "delivery request without a connection"}
	}
	norm, errs := Integration().ValidateMetadata(req.Connection.Metadata, destination.Options{AllowPrivate: a.allowPrivate})
	if len(errs) > 0 {
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest,
			Message: "connection metadata is invalid: " + errs[0].Param + " " + errs[0].Msg}
	}
	conn := *req.Connection
	conn.Metadata = norm
	r := *req
	r.Connection = &conn
	return attempt(ctx, a, &r)
}

// attempt provisions a sender for req's connection value as it is (already normalised) and
// delivers req with it; a refused provisioning gives the engine's invalid_request result, with
// the provisioner's message.
func attempt(ctx context.Context, a *Adapter, req *destination.Request) destination.Result {
	s, err := a.Provision(ctx, destination.Provision{Connection: req.Connection})
	if err != nil {
		var e *switchyard.Error
		if errors.As(err, &e) {
			return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: e.Message}
		}
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: err.Error()}
	}
	return s.Deliver(ctx, req)
}

// normalise returns meta as the API stores it (ValidateMetadata under opts), failing t if the
// schema refuses it.
func normalise(t testing.TB, opts destination.Options, meta map[string]any) map[string]any {
	t.Helper()
	norm, errs := Integration().ValidateMetadata(meta, opts)
	if len(errs) > 0 {
		t.Fatalf("ValidateMetadata(%v) errors: %v", meta, errs)
	}
	return norm
}

func deliver(t *testing.T, opts destination.Options, meta map[string]any) destination.Result {
	t.Helper()
	a := New(opts)
	t.Cleanup(a.CloseIdleConnections)
	return deliverOnce(context.Background(), a, testRequest(meta))
}

// golden compares got with testdata/name, or rewrites it when -update is given.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
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

func contains(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s = %q, want it to contain %q", what, s, sub)
	}
}
