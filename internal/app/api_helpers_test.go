package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
)

// otherTenant creates a second organization in s's store and returns a server handle that
// calls the same process with its credentials.
func (s *server) otherTenant(t *testing.T) *server {
	t.Helper()
	creds, err := s.app.CreateOrganization(context.Background(), "Other org "+uuid.NewString()[:8])
	if err != nil {
		t.Fatal(err)
	}
	return &server{url: s.url, creds: creds, app: s.app}
}

// callRaw sends body as it is, with a fresh machine JWT, and returns the status and the reply.
func (s *server) callRaw(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	tok, err := auth.Mint(s.creds.AccessKey, s.creds.SecretKey, s.creds.OrganizationID, time.Now(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// idOf is the shape of every record's id.
type idOf struct {
	ID uuid.UUID `json:"id"`
}

// page is the Meshes pagination envelope.
type page[T any] struct {
	Count      int     `json:"count"`
	Limit      int     `json:"limit"`
	NextCursor *string `json:"next_cursor"`
	Records    []T     `json:"records"`
}

// createWorkspace creates a workspace and returns its id.
func (s *server) createWorkspace(t *testing.T, name string) uuid.UUID {
	t.Helper()
	var out struct {
		Workspace idOf `json:"workspace"`
	}
	if code := s.call(t, "POST", "/api/v1/workspaces", map[string]any{"name": name}, nil, &out); code != 201 {
		t.Fatalf("create workspace %q: %d", name, code)
	}
	return out.Workspace.ID
}

// createConnection creates a webhook connection to url (no test request) with extra metadata.
func (s *server) createConnection(t *testing.T, ws uuid.UUID, url string, extra map[string]any) uuid.UUID {
	t.Helper()
	meta := map[string]any{"url": url, "skip_url_test": true}
	for k, v := range extra {
		meta[k] = v
	}
	var out struct {
		Connection idOf `json:"connection"`
	}
	if code := s.call(t, "POST", "/api/v1/connections", map[string]any{"workspace": ws, "type": "webhook", "name": "Hook",
		"metadata": meta}, nil, &out); code != 201 {
		t.Fatalf("create connection: %d", code)
	}
	return out.Connection.ID
}

// createRule creates a send_webhook rule; extra holds resource, resource_id and other fields.
func (s *server) createRule(t *testing.T, ws, conn uuid.UUID, event string, extra map[string]any) uuid.UUID {
	t.Helper()
	body := map[string]any{"workspace": ws, "connection": conn, "event": event, "metadata": map[string]any{"action": "send_webhook"}}
	for k, v := range extra {
		body[k] = v
	}
	var out struct {
		Rule idOf `json:"rule"`
	}
	if code := s.call(t, "POST", "/api/v1/rules", body, nil, &out); code != 201 {
		t.Fatalf("create rule: %d", code)
	}
	return out.Rule.ID
}

// emit emits an event into ws with the machine JWT and returns its id.
func (s *server) emit(t *testing.T, ws uuid.UUID, event string, extra map[string]any) uuid.UUID {
	t.Helper()
	body := map[string]any{"workspace": ws, "event": event, "payload": map[string]any{"email": "ada@example.com"}}
	for k, v := range extra {
		body[k] = v
	}
	var out struct {
		Event idOf `json:"event"`
	}
	if code := s.call(t, "POST", "/api/v1/events", body, nil, &out); code != 201 {
		t.Fatalf("emit %s: %d", event, code)
	}
	return out.Event.ID
}

// ruleEventJSON is a rule delivery as the API returns it.
type ruleEventJSON struct {
	ID           uuid.UUID  `json:"id"`
	Type         string     `json:"type"`
	EventID      uuid.UUID  `json:"event_id"`
	Rule         uuid.UUID  `json:"rule"`
	Connection   uuid.UUID  `json:"connection"`
	Status       string     `json:"status"`
	AttemptCount int        `json:"attempt_count"`
	CompletedAt  *time.Time `json:"completed_at"`
	LastError    *string    `json:"last_error"`
}

// eventJSON is an event as the API returns it.
type eventJSON struct {
	ID             uuid.UUID       `json:"id"`
	Workspace      uuid.UUID       `json:"workspace"`
	Event          string          `json:"event"`
	Resource       string          `json:"resource"`
	ResourceID     string          `json:"resource_id"`
	Status         string          `json:"status"`
	TotalRules     int             `json:"total_rules"`
	CompletedCount int             `json:"completed_count"`
	CompletedAt    *time.Time      `json:"completed_at"`
	RuleEvents     []ruleEventJSON `json:"rule_events"`
	Payload        map[string]any  `json:"payload"`
}

// event reads one event.
func (s *server) event(t *testing.T, id uuid.UUID) *eventJSON {
	t.Helper()
	var e eventJSON
	if code := s.call(t, "GET", "/api/v1/events/"+id.String(), nil, nil, &e); code != 200 {
		t.Fatalf("get event: %d", code)
	}
	return &e
}

// hook is a webhook endpoint whose answers the test controls: a status code, and optionally a
// gate that holds every request until it is opened.
type hook struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	auths  []string
	gate   chan struct{} // nil: answer at once
	got    chan struct{}
}

func newHook(t *testing.T, status int) *hook {
	t.Helper()
	h := &hook{got: make(chan struct{}, 100)}
	h.status.Store(int32(status))
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.auths = append(h.auths, r.Header.Get("Authorization"))
		gate := h.gate
		h.mu.Unlock()
		h.got <- struct{}{}
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(int(h.status.Load()))
		_, _ = io.WriteString(w, `{"error":"answered by the test"}`)
	}))
	t.Cleanup(func() {
		h.open()
		h.srv.Close()
	})
	return h
}

func (h *hook) url() string { return h.srv.URL + "/hook" }

// hold makes requests wait until open is called. It forgets the requests that arrived before,
// so that waitRequest waits for one that is held (a stale notification once let a test cancel a
// delivery before it was even claimed).
func (h *hook) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gate = make(chan struct{})
	for len(h.got) > 0 {
		<-h.got
	}
}

// open releases held requests and stops holding.
func (h *hook) open() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
}

// waitRequest waits for the next request to arrive.
func (h *hook) waitRequest(t *testing.T) {
	t.Helper()
	select {
	case <-h.got:
	case <-time.After(15 * time.Second):
		t.Fatal("timed out waiting for the webhook request")
	}
}

func (h *hook) lastAuth() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.auths) == 0 {
		return ""
	}
	return h.auths[len(h.auths)-1]
}

func (h *hook) requests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.auths)
}
