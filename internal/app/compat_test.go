package app_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// The compatibility suite replays the requests Meshes' official clients send (docs/meshes-compat.md
// §11) — their headers, their tokens, their bodies with defaults left out — and checks each
// answer the way the client reads it. Every request is also held against docs/openapi.json
// (its parameters and body) and every response too (status and body), as in all e2e tests.

// The official clients' constructor checks (docs/meshes-compat.md §2, §3 and §11), verbatim.
var (
	eventsClientKeyPattern = regexp.MustCompile(`^mesh_pub_([A-Za-z0-9\-.]+)_([A-Za-z0-9\-.]+)_([^_]+)$`)
	apiClientOrgPattern    = regexp.MustCompile(`(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	apiClientAccessPattern = regexp.MustCompile(`^mk_[A-Za-z0-9_-]{22,}$`)
	apiClientSecretPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43,}$`)
)

// The X-Meshes-Client values the Node clients send.
const (
	eventsClientName = "Meshes Events Client v1.0.0"
	apiClientName    = "Meshes API Client v1.0.0"
)

// eventsClientHeaders are the headers of @mesheshq/events: the publishable key, its client
// name, JSON both ways.
func eventsClientHeaders(key string) http.Header {
	return http.Header{"X-Meshes-Publishable-Key": {key}, "X-Meshes-Client": {eventsClientName},
		"Content-Type": {"application/json"}, "Accept": {"application/json"}}
}

// apiClientHeaders are the headers of @mesheshq/api (which the MCP server uses): a fresh jose
// token, its client name, JSON both ways — on every request, with or without a body.
func (s *server) apiClientHeaders(t *testing.T) http.Header {
	t.Helper()
	return http.Header{"Authorization": {"Bearer " + joseToken(t, s.creds.AccessKey, s.creds.SecretKey, s.creds.OrganizationID, time.Now())},
		"X-Meshes-Client": {apiClientName}, "Content-Type": {"application/json"}, "Accept": {"application/json"}}
}

// goSDKHeaders are the Go SDK's: a fresh token from its own minting (auth.Mint is byte for
// byte the same) and a JSON content type when there is a body; it sends no Accept.
func (s *server) goSDKHeaders(t *testing.T, withBody bool) http.Header {
	t.Helper()
	tok, err := auth.Mint(s.creds.AccessKey, s.creds.SecretKey, s.creds.OrganizationID, time.Now(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Authorization": {"Bearer " + tok}}
	if withBody {
		h.Set("Content-Type", "application/json")
	}
	return h
}

// joseToken builds the token @mesheshq/api mints with jose: header keys in the order alg, typ,
// kid; claims iss, aud, org, iat, exp with exp = iat + 30; HMAC-SHA256 keyed by the secret's
// UTF-8 bytes.
func joseToken(t *testing.T, accessKey, secret string, org uuid.UUID, now time.Time) string {
	t.Helper()
	q := func(s string) string {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	iat := now.Unix()
	header := `{"alg":"HS256","typ":"JWT","kid":` + q(accessKey) + `}`
	claims := fmt.Sprintf(`{"iss":%s,"aud":"meshes-api","org":%s,"iat":%d,"exp":%d}`,
		q(auth.IssuerPrefix+accessKey), q(org.String()), iat, iat+30)
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// wire is one request as a client puts it on the wire.
type wire struct {
	method, path string
	header       http.Header
	// body is marshalled as JSON (JSON.stringify leaves out undefined fields, so a body built
	// here simply lacks them); nil sends no body at all.
	body any
}

// answer is a response as a client receives it, with the body decoded.
type answer struct {
	status int
	header http.Header
	raw    []byte
	json   any
}

// replay sends w and checks the request and the response against docs/openapi.json.
func (s *server) replay(t *testing.T, w wire) *answer {
	t.Helper()
	var body []byte
	if w.body != nil {
		var err error
		if body, err = json.Marshal(w.body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(w.method, s.url+w.path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if w.body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.Header = w.header.Clone()
	checkRequest(t, req, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, req, resp.StatusCode, resp.Header, raw)
	a := &answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.json); err != nil {
			t.Fatalf("%s %s: the body is not JSON: %q", w.method, w.path, raw)
		}
	}
	return a
}

// field returns the value at a dotted path of a decoded JSON object ("event.id").
func (a *answer) field(path string) any {
	v := a.json
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func (a *answer) str(path string) string {
	s, _ := a.field(path).(string)
	return s
}

// shape is how the Go SDK expects a success body: wrapped in one key (creates), a bare record
// (GET, PUT, DELETE, retry), a page, a bare array, or a bare object without an id.
type shape string

const (
	shapeBare   shape = "bare"
	shapePage   shape = "page"
	shapeArray  shape = "array"
	shapeObject shape = "object"
)

func wrapped(key string) shape { return shape("wrapped:" + key) }

// checkGoSDKDecodes reports what would keep the Go SDK from decoding a: its decoding is keyed
// on the exact status and a JSON content type, its types force UUID ids and RFC 3339 times (a
// decode error fails the whole call), and creates are wrapped while reads are bare.
func checkGoSDKDecodes(t *testing.T, what string, a *answer, wantStatus int, want shape) {
	t.Helper()
	if a.status != wantStatus {
		t.Errorf("%s: status %d, want exactly %d (the Go SDK decodes nothing else): %s", what, a.status, wantStatus, a.raw)
		return
	}
	if ct := a.header.Get("Content-Type"); !strings.Contains(ct, "json") {
		t.Errorf("%s: Content-Type %q does not contain json", what, ct)
	}
	switch obj, _ := a.json.(map[string]any); {
	case want == shapeArray:
		if _, ok := a.json.([]any); !ok {
			t.Errorf("%s: want a bare array, got %s", what, a.raw)
		}
	case want == shapePage:
		_, hasCursor := obj["next_cursor"]
		if _, ok := obj["records"].([]any); !ok || !hasCursor || obj["count"] == nil || obj["limit"] == nil {
			t.Errorf("%s: want the page envelope {count, limit, next_cursor, records}, got %s", what, a.raw)
		}
	case want == shapeBare:
		if obj == nil || obj["id"] == nil {
			t.Errorf("%s: want a bare record with an id, got %s", what, a.raw)
		}
	case want == shapeObject:
		if obj == nil {
			t.Errorf("%s: want an object, got %s", what, a.raw)
		}
	case strings.HasPrefix(string(want), "wrapped:"):
		key := strings.TrimPrefix(string(want), "wrapped:")
		inner, _ := obj[key].(map[string]any)
		if len(obj) != 1 || inner == nil || inner["id"] == nil {
			t.Errorf("%s: want {%q: {id, …}} and nothing else, got %s", what, key, a.raw)
		}
	}
	for _, problem := range undecodable("", a.json) {
		t.Errorf("%s: %s in %s", what, problem, a.raw)
	}
}

// undecodable lists the ids that are not UUIDs and the times that are not RFC 3339 in v.
// Customer data — payloads, metadata, mapping schemas — is not looked into.
func undecodable(path string, v any) []string {
	var out []string
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			out = append(out, undecodable(fmt.Sprintf("%s[%d]", path, i), e)...)
		}
	case map[string]any:
		for k, e := range v {
			at := strings.TrimPrefix(path+"."+k, ".")
			switch {
			case k == "payload" || k == "metadata" || k == "schema":
				continue
			case isIDKey(k):
				if s, ok := e.(string); ok {
					if id, err := uuid.Parse(s); err != nil || len(s) != 36 || id.String() != s {
						out = append(out, fmt.Sprintf("%s = %q is not a UUID", at, s))
					}
				}
			case strings.HasSuffix(k, "_at"):
				if s, ok := e.(string); ok {
					if _, err := time.Parse(time.RFC3339, s); err != nil {
						out = append(out, fmt.Sprintf("%s = %q is not RFC 3339", at, s))
					}
				} else if e != nil {
					out = append(out, fmt.Sprintf("%s = %v is neither a time nor null", at, e))
				}
			}
			out = append(out, undecodable(at, e)...)
		}
	}
	return out
}

// isIDKey reports whether the Go SDK types the key as a UUID: every id, and the references to
// a workspace, connection, rule or event by id. resource_id is the customer's own id.
func isIDKey(k string) bool {
	switch k {
	case "id", "workspace", "connection", "rule":
		return true
	case "resource_id", "external_user_id", "session_id": // a session id is a string, sess_<uuid>
		return false
	}
	return strings.HasSuffix(k, "_id")
}

func TestCompatibility(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)

		t.Run("the credentials pass the official clients' constructor checks", func(t *testing.T) {
			t.Parallel()
			checks := []struct {
				what, value string
				pattern     *regexp.Regexp
			}{
				{"organization id (@mesheshq/api)", s.creds.OrganizationID.String(), apiClientOrgPattern},
				{"access key (@mesheshq/api)", s.creds.AccessKey, apiClientAccessPattern},
				{"secret key (@mesheshq/api)", s.creds.SecretKey, apiClientSecretPattern},
				{"publishable key (@mesheshq/events)", s.creds.PublishableKey, eventsClientKeyPattern},
			}
			for _, c := range checks {
				if !c.pattern.MatchString(c.value) {
					t.Errorf("the %s %q does not match %s", c.what, c.value, c.pattern)
				}
			}
		})

		t.Run("the events client emits one event and a batch with the publishable key", func(t *testing.T) {
			t.Parallel()
			h := eventsClientHeaders(s.creds.PublishableKey)
			h.Set("Idempotency-Key", "compat-"+uuid.NewString()) // custom headers the client passes through
			h.Set("X-Request-Id", "compat-events-client")
			a := s.replay(t, wire{method: "POST", path: "/api/v1/events", header: h, body: map[string]any{
				"event": "user.signup", "payload": map[string]any{"email": "ada@example.com", "name": "Ada"},
				"resource": "user", "resource_id": "usr_2048"}})
			checkGoSDKDecodes(t, "emit", a, 201, wrapped("event"))
			if a.str("event.workspace") != s.creds.WorkspaceID.String() || a.str("event.created_by") != "publishable_key" ||
				a.str("event.resource_id") != "usr_2048" || a.header.Get("X-Request-Id") != "compat-events-client" {
				t.Fatalf("emit answered %d %s (X-Request-Id %q)", a.status, a.raw, a.header.Get("X-Request-Id"))
			}

			a = s.replay(t, wire{method: "POST", path: "/api/v1/events/bulk", header: eventsClientHeaders(s.creds.PublishableKey), body: []any{
				map[string]any{"event": "user.signup", "payload": map[string]any{"email": "grace@example.com"}},
				map[string]any{"event": "page.viewed", "payload": map[string]any{"path": "/pricing"}, "resource": "page"},
			}})
			if a.status != 201 || a.field("count") != 2.0 || a.field("error_count") != nil {
				t.Fatalf("emitBatch answered %d %s", a.status, a.raw)
			}
			records, _ := a.field("records").([]any)
			if len(records) != 2 || records[1].(map[string]any)["event"] != "page.viewed" {
				t.Fatalf("emitBatch records out of order: %s", a.raw)
			}
			for _, p := range undecodable("", a.json) {
				t.Error(p)
			}
		})

		t.Run("a browser's preflight for the events client is allowed", func(t *testing.T) {
			t.Parallel()
			for _, path := range []string{"/api/v1/events", "/api/v1/events/bulk"} {
				a := s.replay(t, wire{method: "OPTIONS", path: path, header: http.Header{"Origin": {"https://app.example.com"},
					"Access-Control-Request-Method":  {"POST"},
					"Access-Control-Request-Headers": {"accept,content-type,x-meshes-client,x-meshes-publishable-key"}}})
				allowed := strings.ToLower(a.header.Get("Access-Control-Allow-Headers"))
				for _, h := range []string{"accept", "content-type", "x-meshes-client", "x-meshes-publishable-key"} {
					if !strings.Contains(allowed, h) {
						t.Errorf("%s: preflight %d does not allow %s (allowed: %q)", path, a.status, h, allowed)
					}
				}
			}
		})

		t.Run("the API client's and the Go SDK's tokens both authenticate", func(t *testing.T) {
			t.Parallel()
			tokens := []struct {
				name   string
				header func(body bool) http.Header
				prefix string // the header's first bytes, to prove the key order under test
			}{
				{"jose (alg, typ, kid; iss, aud, org, iat, exp)", func(bool) http.Header { return s.apiClientHeaders(t) }, `{"alg":"HS256","typ":"JWT","kid":`},
				{"Go SDK (alg, kid, typ; claims alphabetical)", func(body bool) http.Header { return s.goSDKHeaders(t, body) }, `{"alg":"HS256","kid":`},
			}
			for _, tok := range tokens {
				h := tok.header(false)
				jwt := strings.TrimPrefix(h.Get("Authorization"), "Bearer ")
				head, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
				if err != nil || !strings.HasPrefix(string(head), tok.prefix) {
					t.Fatalf("%s: header %s, want it to start %s", tok.name, head, tok.prefix)
				}
				if a := s.replay(t, wire{method: "GET", path: "/api/v1/workspaces", header: h}); a.status != 200 {
					t.Errorf("%s: GET /workspaces answered %d %s", tok.name, a.status, a.raw)
				}
				a := s.replay(t, wire{method: "POST", path: "/api/v1/events", header: tok.header(true), body: map[string]any{
					"workspace": s.creds.WorkspaceID, "event": "token.checked", "payload": map[string]any{"client": tok.name}}})
				if a.status != 201 || a.str("event.created_by") != s.creds.AccessKey {
					t.Errorf("%s: emit answered %d %s", tok.name, a.status, a.raw)
				}
			}
		})

		t.Run("every MCP tool's request gets the answer the tool expects", func(t *testing.T) {
			t.Parallel()
			s.replayMCPTools(t)
		})

		t.Run("the MCP session tools get the answers the tools expect", func(t *testing.T) {
			t.Parallel()
			s.replayMCPSessionTools(t)
		})

		t.Run("the Go SDK's session calls decode: create is 200, ids are sess_ strings, times RFC 3339", func(t *testing.T) {
			t.Parallel()
			s.replayGoSDKSessions(t)
		})

		t.Run("the Go SDK's own requests decode: null description, delete with a body, paging to a null cursor", func(t *testing.T) {
			t.Parallel()
			s.replayGoSDK(t)
		})
	})
}

// mcpTools are the tools of @mesheshq/mcp-server that replayMCPTools replays; with the four
// session tools (mcpSessionTools, replayMCPSessionTools) they are all 33.
var mcpTools = []string{
	"meshes_list_workspaces", "meshes_get_workspace", "meshes_create_workspace", "meshes_update_workspace",
	"meshes_get_workspace_connections", "meshes_get_workspace_event_types", "meshes_get_workspace_resources",
	"meshes_get_workspace_rules", "meshes_list_connections", "meshes_get_connection", "meshes_create_connection",
	"meshes_update_connection", "meshes_delete_connection", "meshes_get_connection_actions", "meshes_get_connection_fields",
	"meshes_get_connection_default_mappings", "meshes_update_connection_default_mappings", "meshes_list_integrations",
	"meshes_list_rules", "meshes_get_rule", "meshes_create_rule", "meshes_delete_rule", "meshes_emit_event",
	"meshes_emit_bulk_events", "meshes_list_events", "meshes_get_workspace_events", "meshes_get_event",
	"meshes_get_event_payload", "meshes_retry_event_rule",
}

// mcpStep is one tool call: the request the MCP server sends for it, the status and shape the
// tool's caller gets, and what else to check or keep.
type mcpStep struct {
	tool   string
	w      func() wire
	status int
	shape  shape // empty for an error answer, which the Go SDK does not decode
	check  func(a *answer) error
}

// replayMCPTools calls every MCP tool once, in an order in which each finds what it needs, each
// exactly as the MCP server sends it: through @mesheshq/api, with every optional argument
// omitted (so the server must apply the defaults the tools only advertise).
func (s *server) replayMCPTools(t *testing.T) {
	hook := newHook(t, http.StatusBadRequest) // deliveries fail at once, so that retry has work
	var ws, conn, busyConn, rule, event string
	keep := func(dst *string, path string) func(a *answer) error {
		return func(a *answer) error {
			if *dst = a.str(path); *dst == "" {
				return fmt.Errorf("no %s", path)
			}
			return nil
		}
	}
	want := func(path string, v any) func(a *answer) error {
		return func(a *answer) error {
			if got := a.field(path); got != v {
				return fmt.Errorf("%s = %v, want %v", path, got, v)
			}
			return nil
		}
	}
	// same is want for an id that a step before this one keeps.
	same := func(path string, id *string) func(a *answer) error {
		return func(a *answer) error { return want(path, *id)(a) }
	}
	all := func(fs ...func(a *answer) error) func(a *answer) error {
		return func(a *answer) error {
			for _, f := range fs {
				if err := f(a); err != nil {
					return err
				}
			}
			return nil
		}
	}
	get := func(path *string, format string) func() wire {
		return func() wire { return wire{method: "GET", path: fmt.Sprintf(format, *path)} }
	}
	webhook := func() map[string]any { return map[string]any{"url": hook.url(), "skip_url_test": true} }
	steps := []mcpStep{
		{tool: "meshes_create_workspace", status: 201, shape: wrapped("workspace"),
			w: func() wire {
				return wire{method: "POST", path: "/api/v1/workspaces", body: map[string]any{"name": "MCP replay"}}
			},
			check: all(keep(&ws, "workspace.id"), want("workspace.description", nil))},
		{tool: "meshes_list_workspaces", status: 200, shape: shapePage,
			w: func() wire { return wire{method: "GET", path: "/api/v1/workspaces"} }, check: want("limit", 50.0)},
		{tool: "meshes_get_workspace", status: 200, shape: shapeBare, w: get(&ws, "/api/v1/workspaces/%s"),
			check: func(a *answer) error {
				if !eventsClientKeyPattern.MatchString(a.str("publishable_key.public_key")) {
					return fmt.Errorf("publishable key %q", a.str("publishable_key.public_key"))
				}
				return nil
			}},
		{tool: "meshes_update_workspace", status: 200, shape: shapeBare,
			w: func() wire {
				return wire{method: "PUT", path: "/api/v1/workspaces/" + ws, body: map[string]any{"name": "MCP replay renamed"}}
			},
			check: all(want("name", "MCP replay renamed"), want("description", nil))},
		{tool: "meshes_list_integrations", status: 200, shape: shapePage,
			w: func() wire { return wire{method: "GET", path: "/api/v1/integrations"} }},
		{tool: "meshes_create_connection", status: 201, shape: wrapped("connection"),
			w: func() wire {
				return wire{method: "POST", path: "/api/v1/connections", body: map[string]any{"workspace": ws, "type": "webhook",
					"name": "MCP hook", "metadata": webhook()}}
			},
			check: all(keep(&conn, "connection.id"), want("connection.hidden", false), want("connection.active", true))},
		{tool: "meshes_list_connections", status: 200, shape: shapePage,
			w: func() wire { return wire{method: "GET", path: "/api/v1/connections"} }},
		{tool: "meshes_get_connection", status: 200, shape: shapeBare, w: get(&conn, "/api/v1/connections/%s")},
		{tool: "meshes_update_connection", status: 200, shape: shapeBare,
			w: func() wire {
				return wire{method: "PUT", path: "/api/v1/connections/" + conn, body: map[string]any{"name": "MCP hook renamed", "metadata": webhook()}}
			},
			check: all(want("name", "MCP hook renamed"), want("hidden", false))},
		{tool: "meshes_get_connection_actions", status: 200, shape: shapeObject, w: get(&conn, "/api/v1/connections/%s/actions")},
		{tool: "meshes_get_connection_fields", status: 200, shape: shapeBare, w: get(&conn, "/api/v1/connections/%s/fields")},
		{tool: "meshes_get_connection_default_mappings", status: 200, shape: shapeObject,
			w: get(&conn, "/api/v1/connections/%s/mappings/default"), check: want("status", "generated")},
		{tool: "meshes_update_connection_default_mappings", status: 200, shape: shapeObject,
			w: func() wire {
				return wire{method: "PUT", path: "/api/v1/connections/" + conn + "/mappings/default", body: map[string]any{
					"schema": map[string]any{"schema_version": 1, "fields": []any{
						map[string]any{"dest": "email", "source": map[string]any{"type": "path", "value": "email"}}}}}}
			},
			check: all(want("status", "stored"), want("mapping.version", 1.0))},
		{tool: "meshes_get_workspace_connections", status: 200, shape: shapePage, w: get(&ws, "/api/v1/workspaces/%s/connections"),
			check: want("count", 1.0)},
		{tool: "meshes_create_rule", status: 201, shape: wrapped("rule"),
			w: func() wire {
				return wire{method: "POST", path: "/api/v1/rules", body: map[string]any{"workspace": ws, "connection": conn,
					"event": "user.signup", "metadata": map[string]any{"action": "send_webhook"}}}
			},
			check: all(keep(&rule, "rule.id"), want("rule.active", true), want("rule.hidden", false), want("rule.type", "webhook"))},
		{tool: "meshes_list_rules", status: 200, shape: shapePage, w: func() wire { return wire{method: "GET", path: "/api/v1/rules"} }},
		{tool: "meshes_get_rule", status: 200, shape: shapeBare, w: get(&rule, "/api/v1/rules/%s")},
		{tool: "meshes_get_workspace_rules", status: 200, shape: shapePage, w: get(&ws, "/api/v1/workspaces/%s/rules"),
			check: want("count", 1.0)},
		{tool: "meshes_emit_event", status: 201, shape: wrapped("event"),
			w: func() wire {
				return wire{method: "POST", path: "/api/v1/events", body: map[string]any{"workspace": ws, "event": "user.signup",
					"payload": map[string]any{"email": "ada@example.com"}}}
			},
			check: all(keep(&event, "event.id"), want("event.resource", "global"))},
		{tool: "meshes_emit_bulk_events", status: 201, shape: shapeObject,
			w: func() wire {
				return wire{method: "POST", path: "/api/v1/events/bulk", body: []any{
					map[string]any{"workspace": ws, "event": "user.login", "payload": map[string]any{"email": "ada@example.com"}},
					map[string]any{"workspace": ws, "event": "user.logout", "payload": map[string]any{"email": "ada@example.com"}},
				}}
			},
			check: want("count", 2.0)},
		{tool: "meshes_list_events", status: 200, shape: shapePage, w: func() wire { return wire{method: "GET", path: "/api/v1/events"} },
			check: want("limit", 50.0)},
		{tool: "meshes_get_workspace_events", status: 200, shape: shapePage, w: get(&ws, "/api/v1/workspaces/%s/events"),
			check: all(want("count", 3.0), want("next_cursor", nil))},
		{tool: "meshes_get_event", status: 200, shape: shapeBare, w: get(&event, "/api/v1/events/%s"),
			check: func(a *answer) error {
				if res, _ := a.field("rule_events").([]any); len(res) != 1 || a.field("payload") != nil {
					return fmt.Errorf("want one rule event and no payload")
				}
				return nil
			}},
		{tool: "meshes_get_event_payload", status: 200, shape: shapeBare, w: get(&event, "/api/v1/events/%s/payload"),
			check: want("payload.email", "ada@example.com")},
		{tool: "meshes_get_workspace_event_types", status: 200, shape: shapeArray, w: get(&ws, "/api/v1/workspaces/%s/event-types")},
		{tool: "meshes_get_workspace_resources", status: 200, shape: shapeArray, w: get(&ws, "/api/v1/workspaces/%s/resources")},
		{tool: "meshes_retry_event_rule", status: 200, shape: shapeBare,
			w: func() wire {
				s.waitEventStatus(t, event, "failed") // the hook answered 400: failed at once
				return wire{method: "POST", path: "/api/v1/events/" + event + "/rules/" + rule + "/retry"}
			},
			check: all(want("status", "pending"), same("rule", &rule), same("event_id", &event))},
		{tool: "meshes_delete_rule", status: 200, shape: shapeBare,
			w:     func() wire { return wire{method: "DELETE", path: "/api/v1/rules/" + rule} },
			check: all(same("id", &rule), same("connection", &conn), want("event", "user.signup"))},
		{tool: "meshes_delete_connection", status: 200, shape: shapeBare,
			w:     func() wire { return wire{method: "DELETE", path: "/api/v1/connections/" + conn} }, // no body: force_delete omitted
			check: all(same("id", &conn), want("type", "webhook"))},
		{tool: "meshes_delete_connection", status: 409, // an error: no shape the Go SDK decodes
			w: func() wire {
				busyConn = s.createConnection(t, uuid.MustParse(ws), hook.url(), nil).String()
				s.createRule(t, uuid.MustParse(ws), uuid.MustParse(busyConn), "user.signup", nil)
				return wire{method: "DELETE", path: "/api/v1/connections/" + busyConn}
			},
			check: want("error.name", "Conflict")},
		{tool: "meshes_delete_connection", status: 200, shape: shapeBare,
			w: func() wire {
				return wire{method: "DELETE", path: "/api/v1/connections/" + busyConn, body: map[string]any{"force_delete": true}}
			},
			check: same("id", &busyConn)},
	}

	replayed := map[string]bool{}
	for _, st := range steps {
		w := st.w()
		w.header = s.apiClientHeaders(t)
		a := s.replay(t, w)
		what := st.tool + " (" + w.method + " " + w.path + ")"
		if st.shape != "" {
			checkGoSDKDecodes(t, what, a, st.status, st.shape)
		} else if a.status != st.status {
			t.Errorf("%s: status %d, want %d: %s", what, a.status, st.status, a.raw)
		}
		if st.check != nil && a.status == st.status {
			if err := st.check(a); err != nil {
				t.Errorf("%s: %v in %s", what, err, a.raw)
			}
		}
		replayed[st.tool] = true
	}
	for _, tool := range mcpTools {
		if !replayed[tool] {
			t.Errorf("the MCP tool %s was not replayed", tool)
		}
	}
	if len(mcpTools)+len(mcpSessionTools) != 33 || len(replayed) != len(mcpTools) {
		t.Errorf("replayed %d tools of %d; with the %d session tools the MCP server has 33", len(replayed), len(mcpTools), len(mcpSessionTools))
	}
}

// mcpSessionTools are the MCP server's session tools, replayed by replayMCPSessionTools.
var mcpSessionTools = []string{"meshes_create_session", "meshes_list_sessions", "meshes_refresh_session", "meshes_revoke_session"}

// checkSessionDecodes reports what would keep the Go SDK from decoding a session answer: the
// exact status, a JSON object, a string session_id of the form sess_<uuid>, a UUID
// workspace_id and RFC 3339 times (the SDK types expires_at and launch_expires_at as
// time.Time).
func checkSessionDecodes(t *testing.T, what string, a *answer, wantStatus int) {
	t.Helper()
	checkGoSDKDecodes(t, what, a, wantStatus, shapeObject)
	if a.status != wantStatus {
		return
	}
	if id := a.str("session_id"); !sessionIDPattern.MatchString(id) {
		t.Errorf("%s: session_id %q is not sess_<uuid>: %s", what, id, a.raw)
	}
	if id, err := uuid.Parse(a.str("workspace_id")); err != nil || id.String() != a.str("workspace_id") {
		t.Errorf("%s: workspace_id %q is not a UUID", what, a.str("workspace_id"))
	}
	if n, ok := a.field("expires_in").(float64); !ok || n <= 0 {
		t.Errorf("%s: expires_in %v is not a positive number", what, a.field("expires_in"))
	}
	if a.str("access_token") == "" {
		t.Errorf("%s: no access_token: %s", what, a.raw)
	}
}

// replayMCPSessionTools calls the four session tools as the MCP server sends them (through
// @mesheshq/api, optional arguments left out) and checks what each tool returns.
func (s *server) replayMCPSessionTools(t *testing.T) {
	replay := func(w wire) *answer {
		w.header = s.apiClientHeaders(t)
		return s.replay(t, w)
	}
	ws := s.creds.WorkspaceID.String()
	a := replay(wire{method: "POST", path: "/api/v1/sessions", body: map[string]any{"workspace_id": ws}})
	checkSessionDecodes(t, "meshes_create_session", a, 200)
	id, access, launch := a.str("session_id"), a.str("access_token"), a.str("launch_token")
	if a.str("role") != "member" || a.str("session_type") != "workspace" || a.field("expires_in") != 1800.0 || launch == "" ||
		!strings.HasSuffix(a.str("launch_url"), "/embed/launch?launch="+launch) || strings.Contains(a.str("launch_url"), access) ||
		a.field("resource") != nil {
		t.Errorf("meshes_create_session: the defaults are not applied: %s", a.raw)
	}

	a = replay(wire{method: "GET", path: "/api/v1/sessions?workspace_id=" + ws})
	checkGoSDKDecodes(t, "meshes_list_sessions", a, 200, shapePage)
	records, _ := a.field("records").([]any)
	found := false
	for _, r := range records {
		rec, _ := r.(map[string]any)
		if rec["session_id"] == id {
			found = rec["status"] == "active" && rec["is_expired"] == false && rec["workspace_id"] == ws && rec["role"] == "member"
		}
	}
	if !found || a.field("limit") != 50.0 {
		t.Errorf("meshes_list_sessions: want the new session, active, in a page of 50: %s", a.raw)
	}

	a = replay(wire{method: "POST", path: "/api/v1/sessions/" + id + "/refresh"})
	checkSessionDecodes(t, "meshes_refresh_session", a, 200)
	if a.str("session_id") != id || a.str("access_token") == access || a.field("launch_url") != nil {
		t.Errorf("meshes_refresh_session: want the same session with a new token and no launch fields: %s", a.raw)
	}

	a = replay(wire{method: "DELETE", path: "/api/v1/sessions/" + id})
	checkGoSDKDecodes(t, "meshes_revoke_session", a, 200, shapeObject)
	if a.field("revoked") != true {
		t.Errorf("meshes_revoke_session: %s, want {revoked: true}", a.raw)
	}
	if a = replay(wire{method: "POST", path: "/api/v1/sessions/" + id + "/refresh"}); a.status != 409 || a.str("error.name") != "Conflict" {
		t.Errorf("meshes_refresh_session on a revoked session: %d %s, want 409", a.status, a.raw)
	}
}

// replayGoSDKSessions sends the Go SDK's session calls as it builds them: CreateSession with
// its optional pointers set, ListSessions with its query (limit, cursor, workspace_id, status,
// resource, resource_id) paged to the null cursor, RefreshSession and RevokeSession without a
// body.
func (s *server) replayGoSDKSessions(t *testing.T) {
	h := func(body bool) http.Header { return s.goSDKHeaders(t, body) }
	ws := s.createWorkspace(t, "Go SDK sessions").String()
	var ids []string
	for i := range 3 {
		a := s.replay(t, wire{method: "POST", path: "/api/v1/sessions", header: h(true), body: map[string]any{
			"workspace_id": ws, "role": "admin", "session_type": "resource", "resource": "account", "resource_id": fmt.Sprintf("acct_%d", i),
			"external_user_id": "sdk-user", "ttl_seconds": 600, "launch_ttl_seconds": 45, "launch_page": "events",
			"allowed_origins": []string{"https://app.example.com"}, "scopes": []string{"events.payload:read"}}})
		checkSessionDecodes(t, "CreateSession", a, 200)
		if a.str("resource_id") != fmt.Sprintf("acct_%d", i) || a.str("role") != "admin" || a.field("expires_in") != 600.0 {
			t.Errorf("CreateSession: %s", a.raw)
		}
		ids = append(ids, a.str("session_id"))
	}
	slices.Reverse(ids)

	var seen []string
	cursor, pages := "", 0
	for {
		path := "/api/v1/sessions?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		path += "&workspace_id=" + ws + "&status=active&resource=account"
		a := s.replay(t, wire{method: "GET", path: path, header: h(false)})
		checkGoSDKDecodes(t, "ListSessions page", a, 200, shapePage)
		records, _ := a.field("records").([]any)
		for _, r := range records {
			rec, _ := r.(map[string]any)
			seen = append(seen, fmt.Sprint(rec["session_id"]))
			if rec["external_user_id"] != "sdk-user" || rec["session_type"] != "resource" || rec["is_expired"] != false {
				t.Errorf("ListSessions record %v", rec)
			}
		}
		pages++
		next, isString := a.field("next_cursor").(string)
		if !isString || pages > 3 {
			break
		}
		cursor = next
	}
	if !slices.Equal(seen, ids) || pages != 2 {
		t.Errorf("paged %v in %d pages, want %v newest first in 2", seen, pages, ids)
	}

	a := s.replay(t, wire{method: "POST", path: "/api/v1/sessions/" + ids[0] + "/refresh", header: h(false)})
	checkSessionDecodes(t, "RefreshSession", a, 200)
	a = s.replay(t, wire{method: "DELETE", path: "/api/v1/sessions/" + ids[0], header: h(false)})
	checkGoSDKDecodes(t, "RevokeSession", a, 200, shapeObject)
	if a.field("revoked") != true {
		t.Errorf("RevokeSession: %s", a.raw)
	}
	a = s.replay(t, wire{method: "POST", path: "/api/v1/sessions/" + ids[0] + "/refresh", header: h(false)})
	if a.status != 409 {
		t.Errorf("RefreshSession of a revoked session: %d %s, want 409 (the SDK's JSON409)", a.status, a.raw)
	}
}

// waitEventStatus polls an event until it reaches status.
func (s *server) waitEventStatus(t *testing.T, id, status string) {
	t.Helper()
	eventually(t, "event "+id+" to be "+status, func() bool {
		return s.event(t, uuid.MustParse(id)).Status == status
	})
}

// replayGoSDK sends what the Go SDK sends differently from the Node clients: its own token, no
// Accept header, "description": null on a workspace update, a JSON body on every connection
// delete; and pages through a workspace's events to the null cursor it stops on.
func (s *server) replayGoSDK(t *testing.T) {
	h := func(body bool) http.Header { return s.goSDKHeaders(t, body) }
	a := s.replay(t, wire{method: "POST", path: "/api/v1/workspaces", header: h(true), body: map[string]any{"name": "Go SDK", "description": "sdk"}})
	checkGoSDKDecodes(t, "CreateWorkspace", a, 201, wrapped("workspace"))
	ws := a.str("workspace.id")

	a = s.replay(t, wire{method: "PUT", path: "/api/v1/workspaces/" + ws, header: h(true), body: map[string]any{"name": "Go SDK", "description": nil}})
	checkGoSDKDecodes(t, "UpdateWorkspace", a, 200, shapeBare)
	if d, present := a.json.(map[string]any)["description"]; !present || d != nil {
		t.Errorf(`UpdateWorkspace with "description": null: want description null, got %s`, a.raw)
	}

	a = s.replay(t, wire{method: "POST", path: "/api/v1/connections", header: h(true), body: map[string]any{"workspace": ws, "type": "webhook",
		"name": "SDK hook", "metadata": map[string]any{"url": "http://127.0.0.1:9/hook", "skip_url_test": true}, "hidden": false}})
	checkGoSDKDecodes(t, "CreateConnection", a, 201, wrapped("connection"))
	a = s.replay(t, wire{method: "DELETE", path: "/api/v1/connections/" + a.str("connection.id"), header: h(true), body: map[string]any{}})
	checkGoSDKDecodes(t, "DeleteConnection with an empty body", a, 200, shapeBare)

	var events []any
	for range 3 {
		events = append(events, map[string]any{"workspace": ws, "event": "sdk.paged", "payload": map[string]any{"n": 1}})
	}
	a = s.replay(t, wire{method: "POST", path: "/api/v1/events/bulk", header: h(true), body: events})
	checkGoSDKDecodes(t, "CreateBulkEvent", a, 201, shapeObject)

	seen, cursor, pages := 0, "", 0
	for {
		path := "/api/v1/workspaces/" + ws + "/events?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		a = s.replay(t, wire{method: "GET", path: path, header: h(false)})
		checkGoSDKDecodes(t, "GetWorkspaceEvents page", a, 200, shapePage)
		records, _ := a.field("records").([]any)
		seen, pages = seen+len(records), pages+1
		next, isString := a.field("next_cursor").(string)
		if !isString {
			if a.field("next_cursor") != nil {
				t.Fatalf("next_cursor is neither a string nor null: %s", a.raw)
			}
			break
		}
		if pages > 3 {
			t.Fatalf("still paging after %d pages: %s", pages, a.raw)
		}
		cursor = next
	}
	if seen != 3 || pages != 2 {
		t.Errorf("paged %d events in %d pages, want 3 in 2 (the last with next_cursor null)", seen, pages)
	}
}

func TestGoSDKDecodingCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		problems   int
	}{
		{"passes UUID ids, RFC 3339 and null times, and customer ids and data as they are",
			`{"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","workspace":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","resource_id":"usr_1",
			  "created_at":"2026-11-28T12:00:00.123456Z","completed_at":null,"payload":{"id":"not-a-uuid","sent_at":"yesterday"}}`, 0},
		{"flags an id that is not a UUID", `{"records":[{"id":"evt_1"}]}`, 1},
		{"flags an upper-case UUID: the server sends the canonical form", `{"event_id":"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"}`, 1},
		{"flags a time that is not RFC 3339", `{"rule_events":[{"started_at":"2026-11-28 12:00:00"}]}`, 1},
		{"flags a time that is a number", `{"created_at":1774137600}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var v any
			if err := json.Unmarshal([]byte(tt.body), &v); err != nil {
				t.Fatal(err)
			}
			if got := undecodable("", v); len(got) != tt.problems {
				t.Fatalf("problems %q, want %d", got, tt.problems)
			}
		})
	}
}
