package app_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// Tenancy (issue 3 item 6): one organization never sees another's records, and a machine key
// limited to some workspaces never sees the others, on every route. The table below lists
// every route of internal/api/api.go's routes(); a test fails when a route is added there
// without being added here.

// fixture is one workspace's worth of records, each reachable by id: a connection, a rule on it,
// an event delivered through the rule (one attempt), an embed session (sess is the UUID of its
// id sess_<uuid>), and a spare machine key of the organization.
type fixture struct {
	ws, conn, rule, event, delivery, attempt, key, sess uuid.UUID
}

// ids are the fixture's record ids: what must never appear in a response to a caller that may
// not see them.
func (f *fixture) ids() []uuid.UUID {
	return []uuid.UUID{f.ws, f.conn, f.rule, f.event, f.delivery, f.attempt, f.key, f.sess}
}

// newFixture creates the records of one workspace through the API and waits for the delivery.
func newFixture(t *testing.T, s *server, ws uuid.UUID, h *hook) *fixture {
	t.Helper()
	f := &fixture{ws: ws}
	f.conn = s.createConnection(t, ws, h.url(), nil)
	f.rule = s.createRule(t, ws, f.conn, "tenancy.check", nil)
	f.event = s.emit(t, ws, "tenancy.check", nil)
	eventually(t, "the fixture's delivery", func() bool { return s.event(t, f.event).Status == "completed" })
	f.delivery = s.event(t, f.event).RuleEvents[0].ID
	var attempts page[idOf]
	if code := s.call(t, "GET", "/api/v1/events/"+f.event.String()+"/rules/"+f.rule.String()+"/attempts", nil, nil, &attempts); code != 200 || attempts.Count != 1 {
		t.Fatalf("fixture attempts: %d %+v", code, attempts)
	}
	f.attempt = attempts.Records[0].ID
	var k struct {
		MachineKey keyJSON `json:"machine_key"`
	}
	if code := s.call(t, "POST", "/api/v1/machine-keys", map[string]any{"name": "spare"}, nil, &k); code != 201 {
		t.Fatalf("fixture key: %d", code)
	}
	f.key = k.MachineKey.ID
	f.sess = s.createSession(t, map[string]any{"workspace_id": ws})
	return f
}

// authKind is how a route authenticates.
type authKind int

const (
	authNone    authKind = iota // no credentials, no tenant data
	authMachine                 // a machine JWT: read for GET, write otherwise
	authIngest                  // a publishable key or a machine JWT with events:emit
)

// routeCase is one route with the answers tenancy requires of it.
type routeCase struct {
	// route is the pattern exactly as routes() registers it.
	route string
	auth  authKind
	// path and body build the request for one fixture (body nil: none).
	path func(f *fixture) string
	body func(f *fixture) any
	// foreign is the status another organization's owner key gets for the fixture's records; 0
	// when the route reaches no record by id (see list and note).
	foreign int
	// outside is the status a key limited to other workspaces gets; 0: not applicable.
	outside int
	// inside is the status that limited key gets within its workspace (checked for reads only;
	// 0: not checked).
	inside int
	// list marks an organization-wide list: it must answer 200 without the records the caller
	// may not see, and with the caller's own (the id list returns).
	list func(f *fixture) uuid.UUID
	// bulkItem is the error name the (only) item of a 207 bulk answer must carry, for the
	// foreign and the outside caller.
	bulkItem [2]string
	// note says why a route has no tenancy expectation.
	note string
}

func p(format string, parts ...func(f *fixture) uuid.UUID) func(f *fixture) string {
	return func(f *fixture) string {
		out := format
		for _, part := range parts {
			out = strings.Replace(out, "%", part(f).String(), 1)
		}
		return out
	}
}

func fixed(path string) func(*fixture) string { return func(*fixture) string { return path } }

var (
	wsOf      = func(f *fixture) uuid.UUID { return f.ws }
	connOf    = func(f *fixture) uuid.UUID { return f.conn }
	ruleOf    = func(f *fixture) uuid.UUID { return f.rule }
	eventOf   = func(f *fixture) uuid.UUID { return f.event }
	attemptOf = func(f *fixture) uuid.UUID { return f.attempt }
	keyOf     = func(f *fixture) uuid.UUID { return f.key }
	sessOf    = func(f *fixture) uuid.UUID { return f.sess }
)

// routeTable is every route of the API with what tenancy demands of it.
func routeTable() []routeCase {
	webhook := func(f *fixture) any {
		return map[string]any{"workspace": f.ws, "type": "webhook", "name": "Intruder",
			"metadata": map[string]any{"url": "http://127.0.0.1:1/x", "skip_url_test": true}}
	}
	event := func(f *fixture) map[string]any {
		return map[string]any{"workspace": f.ws, "event": "tenancy.intrusion", "payload": map[string]any{"x": 1}}
	}
	attempts := "/api/v1/events/%/rules/%/attempts"
	return []routeCase{
		{route: "GET /healthz", note: "process health, no tenant data"},
		{route: "GET /readyz", note: "store health, no tenant data"},
		{route: "GET /api/v1/openapi.json", note: "the API's description, no tenant data"},
		{route: "OPTIONS /api/v1/events", note: "CORS preflight, no credentials"},
		{route: "OPTIONS /api/v1/events/bulk", note: "CORS preflight, no credentials"},

		{route: "POST /api/v1/events", auth: authIngest, path: fixed("/api/v1/events"), body: func(f *fixture) any { return event(f) },
			foreign: 400, outside: 403},
		{route: "POST /api/v1/events/bulk", auth: authIngest, path: fixed("/api/v1/events/bulk"),
			body: func(f *fixture) any { return []any{event(f)} }, foreign: 207, outside: 207, bulkItem: [2]string{"BadRequest", "Forbidden"}},

		{route: "GET /api/v1/workspaces", auth: authMachine, path: fixed("/api/v1/workspaces"), list: wsOf, inside: 200},
		{route: "POST /api/v1/workspaces", auth: authMachine, path: fixed("/api/v1/workspaces"),
			body: func(*fixture) any { return map[string]any{"name": "Intruder " + uuid.NewString()[:8]} }, outside: 403,
			note: "creates in the caller's own organization"},
		{route: "GET /api/v1/workspaces/{workspace_id}", auth: authMachine, path: p("/api/v1/workspaces/%", wsOf), foreign: 404, outside: 403, inside: 200},
		{route: "PUT /api/v1/workspaces/{workspace_id}", auth: authMachine, path: p("/api/v1/workspaces/%", wsOf),
			body: func(*fixture) any { return map[string]any{"name": "Hijacked"} }, foreign: 404, outside: 403},
		{route: "GET /api/v1/workspaces/{workspace_id}/connections", auth: authMachine, path: p("/api/v1/workspaces/%/connections", wsOf), foreign: 404, outside: 403, inside: 200},
		{route: "GET /api/v1/workspaces/{workspace_id}/rules", auth: authMachine, path: p("/api/v1/workspaces/%/rules", wsOf), foreign: 404, outside: 403, inside: 200},
		{route: "GET /api/v1/workspaces/{workspace_id}/events", auth: authMachine, path: p("/api/v1/workspaces/%/events", wsOf), foreign: 404, outside: 403, inside: 200},
		{route: "GET /api/v1/workspaces/{workspace_id}/event-types", auth: authMachine, path: p("/api/v1/workspaces/%/event-types", wsOf), foreign: 404, outside: 403, inside: 200},
		{route: "GET /api/v1/workspaces/{workspace_id}/resources", auth: authMachine, path: p("/api/v1/workspaces/%/resources", wsOf), foreign: 404, outside: 403, inside: 200},
		{route: "GET /api/v1/workspaces/{workspace_id}/backlog", auth: authMachine, path: p("/api/v1/workspaces/%/backlog", wsOf), foreign: 404, outside: 403, inside: 200},
		{route: "POST /api/v1/workspaces/{workspace_id}/publishable-key/rotate", auth: authMachine, path: p("/api/v1/workspaces/%/publishable-key/rotate", wsOf), foreign: 404, outside: 403},

		{route: "GET /api/v1/connections", auth: authMachine, path: fixed("/api/v1/connections"), list: connOf, inside: 200},
		{route: "POST /api/v1/connections", auth: authMachine, path: fixed("/api/v1/connections"), body: webhook, foreign: 404, outside: 403},
		{route: "POST /api/v1/connections/oauth/start", auth: authMachine, path: fixed("/api/v1/connections/oauth/start"),
			body: func(f *fixture) any {
				return map[string]any{"workspace": f.ws, "type": "salesforce", "name": "Intruder", "redirect_url": "https://app.example.com/done"}
			}, foreign: 404, outside: 403},
		{route: "GET /api/v1/oauth/callback", note: "no credentials: the single-use state is the proof, and a state of another organization's flow creates that organization's connection, not the caller's"},
		{route: "GET /api/v1/connections/{connection_id}", auth: authMachine, path: p("/api/v1/connections/%", connOf), foreign: 404, outside: 404, inside: 200},
		{route: "PUT /api/v1/connections/{connection_id}", auth: authMachine, path: p("/api/v1/connections/%", connOf),
			body: func(*fixture) any {
				return map[string]any{"name": "Hijacked", "metadata": map[string]any{"url": "http://127.0.0.1:1/x", "skip_url_test": true}}
			}, foreign: 404, outside: 404},
		{route: "DELETE /api/v1/connections/{connection_id}", auth: authMachine, path: p("/api/v1/connections/%", connOf),
			body: func(*fixture) any { return map[string]any{"force_delete": true} }, foreign: 404, outside: 404},
		{route: "GET /api/v1/connections/{connection_id}/actions", auth: authMachine, path: p("/api/v1/connections/%/actions", connOf), foreign: 404, outside: 404, inside: 200},
		{route: "GET /api/v1/connections/{connection_id}/health", auth: authMachine, path: p("/api/v1/connections/%/health", connOf), foreign: 404, outside: 404, inside: 200},
		{route: "GET /api/v1/connections/{connection_id}/fields", auth: authMachine, path: p("/api/v1/connections/%/fields", connOf), foreign: 404, outside: 404, inside: 200},
		{route: "GET /api/v1/connections/{connection_id}/mappings/default", auth: authMachine, path: p("/api/v1/connections/%/mappings/default", connOf), foreign: 404, outside: 404, inside: 200},
		{route: "PUT /api/v1/connections/{connection_id}/mappings/default", auth: authMachine, path: p("/api/v1/connections/%/mappings/default", connOf),
			body: func(*fixture) any { return map[string]any{"schema": map[string]any{}} }, foreign: 404, outside: 404},

		{route: "GET /api/v1/integrations", auth: authMachine, path: fixed("/api/v1/integrations"), inside: 200, note: "the server's integration catalogue, no tenant data"},

		{route: "GET /api/v1/machine-keys", auth: authMachine, path: fixed("/api/v1/machine-keys"), list: keyOf, outside: 403, inside: 403},
		{route: "POST /api/v1/machine-keys", auth: authMachine, path: fixed("/api/v1/machine-keys"),
			body: func(f *fixture) any { return map[string]any{"name": "Intruder", "workspaces": []uuid.UUID{f.ws}} }, foreign: 400, outside: 403},
		{route: "DELETE /api/v1/machine-keys/{key_id}", auth: authMachine, path: p("/api/v1/machine-keys/%", keyOf), foreign: 404, outside: 403},

		{route: "POST /api/v1/sessions", auth: authMachine, path: fixed("/api/v1/sessions"),
			body: func(f *fixture) any { return map[string]any{"workspace_id": f.ws} }, foreign: 404, outside: 403},
		{route: "GET /api/v1/sessions", auth: authMachine, path: p("/api/v1/sessions?workspace_id=%", wsOf), foreign: 404, outside: 403, inside: 200},
		{route: "POST /api/v1/sessions/{session_id}/refresh", auth: authMachine, path: p("/api/v1/sessions/sess_%/refresh", sessOf), foreign: 404, outside: 404},
		{route: "DELETE /api/v1/sessions/{session_id}", auth: authMachine, path: p("/api/v1/sessions/sess_%", sessOf), foreign: 404, outside: 404},

		{route: "GET /api/v1/rules", auth: authMachine, path: fixed("/api/v1/rules"), list: ruleOf, inside: 200},
		{route: "POST /api/v1/rules", auth: authMachine, path: fixed("/api/v1/rules"), body: func(f *fixture) any {
			return map[string]any{"workspace": f.ws, "connection": f.conn, "event": "tenancy.intrusion", "metadata": map[string]any{"action": "send_webhook"}}
		}, foreign: 404, outside: 403},
		{route: "GET /api/v1/rules/{rule_id}", auth: authMachine, path: p("/api/v1/rules/%", ruleOf), foreign: 404, outside: 404, inside: 200},
		{route: "DELETE /api/v1/rules/{rule_id}", auth: authMachine, path: p("/api/v1/rules/%", ruleOf), foreign: 404, outside: 404},
		{route: "POST /api/v1/rules/{rule_id}/test", auth: authMachine, path: p("/api/v1/rules/%/test", ruleOf),
			body: func(*fixture) any { return map[string]any{"payload": map[string]any{"x": 1}, "dry_run": true} }, foreign: 404, outside: 404},

		{route: "GET /api/v1/events", auth: authMachine, path: fixed("/api/v1/events"), list: eventOf, inside: 200},
		{route: "GET /api/v1/events/{event_id}", auth: authMachine, path: p("/api/v1/events/%", eventOf), foreign: 404, outside: 404, inside: 200},
		{route: "GET /api/v1/events/{event_id}/payload", auth: authMachine, path: p("/api/v1/events/%/payload", eventOf), foreign: 404, outside: 404, inside: 200},
		{route: "POST /api/v1/events/{event_id}/cancel", auth: authMachine, path: p("/api/v1/events/%/cancel", eventOf), foreign: 404, outside: 404},
		{route: "GET /api/v1/events/{event_id}/rules/{rule_id}/attempts", auth: authMachine, path: p(attempts, eventOf, ruleOf), foreign: 404, outside: 404, inside: 200},
		{route: "GET /api/v1/events/{event_id}/rules/{rule_id}/attempts/{attempt_id}", auth: authMachine,
			path: p(attempts+"/%", eventOf, ruleOf, attemptOf), foreign: 404, outside: 404, inside: 200},
		{route: "GET /api/v1/events/{event_id}/rules/{rule_id}/attempts/{attempt_id}/response-details", auth: authMachine,
			path: p(attempts+"/%/response-details", eventOf, ruleOf, attemptOf), foreign: 404, outside: 404, inside: 200},
		{route: "POST /api/v1/events/{event_id}/rules/{rule_id}/retry", auth: authMachine, path: p("/api/v1/events/%/rules/%/retry", eventOf, ruleOf), foreign: 404, outside: 404},
		{route: "POST /api/v1/events/{event_id}/rules/{rule_id}/cancel", auth: authMachine, path: p("/api/v1/events/%/rules/%/cancel", eventOf, ruleOf), foreign: 404, outside: 404},
	}
}

// servedRoutes reads the patterns internal/api/api.go's routes() registers: the first argument
// of every Handle and HandleFunc call in it. Reading the source keeps this test independent of
// the API package's internals while still failing when a route is added.
func servedRoutes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "api", "api.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "routes" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: a route pattern that is not a string literal", fset.Position(call.Pos()))
				return true
			}
			pattern, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			routes = append(routes, pattern)
			return true
		})
	}
	if len(routes) < 10 {
		t.Fatalf("found only %d routes in routes(): has api.go changed shape?", len(routes))
	}
	return routes
}

func TestRouteTableCoversEveryRoute(t *testing.T) {
	t.Parallel()
	table := map[string]bool{}
	for _, rc := range routeTable() {
		if table[rc.route] {
			t.Errorf("route %q is in the tenancy table twice", rc.route)
		}
		table[rc.route] = true
	}
	served := servedRoutes(t)
	for _, r := range served {
		if !table[r] {
			t.Errorf("route %q is served but not in the tenancy table of tenancy_test.go: add it with what another "+
				"organization and a workspace-limited key must get", r)
		}
	}
	for r := range table {
		if !slices.Contains(served, r) {
			t.Errorf("route %q is in the tenancy table but no longer served", r)
		}
	}
}

func TestTenancyOnEveryRoute(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		a := startApp(t, d)
		b := a.otherTenant(t)
		h := newHook(t, 204)
		a1 := newFixture(t, a, a.creds.WorkspaceID, h)
		a2 := newFixture(t, a, a.createWorkspace(t, "Second"), h)
		bf := newFixture(t, b, b.creds.WorkspaceID, h)
		limited, _ := a.createKey(t, "limited", []uuid.UUID{a1.ws})
		lacking := map[string]*server{}
		for _, perm := range []string{"read", "write", "events:emit"} {
			var others []string
			for _, q := range []string{"read", "write", "events:emit"} {
				if q != perm {
					others = append(others, q)
				}
			}
			lacking[perm], _ = a.createKey(t, "without "+perm, nil, others...)
		}
		emitter, _ := a.createKey(t, "emitter", nil, "events:emit")
		before := snapshot(t, a, a1, a2)

		for _, rc := range routeTable() {
			if rc.auth == authNone {
				continue
			}
			t.Run(rc.route+" never reaches another organization's records", func(t *testing.T) {
				checkRoute(t, b, rc, a1, rc.foreign, 0, append(a1.ids(), a2.ids()...), bf, 0)
			})
			t.Run(rc.route+" never reaches workspaces outside a key's limit", func(t *testing.T) {
				checkRoute(t, limited, rc, a2, rc.outside, 1, a2.ids(), a1, rc.inside)
			})
			need := "write"
			switch {
			case rc.auth == authIngest:
				need = "events:emit"
			case methodOf(rc.route) == "GET":
				need = "read"
			}
			t.Run(rc.route+" needs the "+need+" permission", func(t *testing.T) {
				var body any
				if rc.body != nil {
					body = rc.body(a1)
				}
				var e apiError
				code := lacking[need].call(t, methodOf(rc.route), rc.path(a1), body, nil, &e)
				if code != 403 || e.Error.Name != "Forbidden" || !strings.Contains(e.Error.Message, strconv.Quote(need)) {
					t.Fatalf("a key without %s: %d %+v, want 403 naming the permission", need, code, e)
				}
			})
		}

		t.Run("a key limited to reading reads the whole organization", func(t *testing.T) {
			var ws page[idOf]
			if code := lacking["write"].call(t, "GET", "/api/v1/workspaces", nil, nil, &ws); code != 200 || ws.Count != 2 {
				t.Fatalf("workspaces: %d %+v", code, ws)
			}
		})
		t.Run("a key limited to emitting emits and may not read", func(t *testing.T) {
			emitter.emit(t, a2.ws, "tenancy.emitted", nil)
			if code := emitter.call(t, "GET", "/api/v1/events", nil, nil, nil); code != 403 {
				t.Fatalf("reading with an emit-only key: %d, want 403", code)
			}
		})
		t.Run("a workspace-limited key emits into its workspace only", func(t *testing.T) {
			limited.emit(t, a1.ws, "tenancy.emitted", nil)
			var events page[eventJSON]
			if code := limited.call(t, "GET", "/api/v1/events?event=tenancy.emitted", nil, nil, &events); code != 200 || events.Count != 1 ||
				events.Records[0].Workspace != a1.ws {
				t.Fatalf("the limited key's events: %d %+v, want only its own workspace's emit", code, events)
			}
		})

		t.Run("nothing of the first organization changed", func(t *testing.T) {
			if after := snapshot(t, a, a1, a2); after != before {
				t.Fatalf("records changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	})
}

// checkRoute calls rc as caller on target's records and checks the status (want; 0: not
// applicable unless rc is a list) and that no id in hidden appears in the answer. For lists the
// caller's own record (of mine) must appear; inside, when not 0, is the status the caller gets
// on mine.
func checkRoute(t *testing.T, caller *server, rc routeCase, target *fixture, want, who int, hidden []uuid.UUID, mine *fixture, inside int) {
	t.Helper()
	if rc.list != nil && want == 0 {
		code, raw := caller.callJSON(t, "GET", rc.path(target), nil)
		if code != 200 {
			t.Fatalf("list: %d %s", code, raw)
		}
		if leaked := uuidsIn(raw, hidden); len(leaked) > 0 {
			t.Fatalf("the list shows hidden records %v: %s", leaked, raw)
		}
		if own := rc.list(mine); len(uuidsIn(raw, []uuid.UUID{own})) == 0 {
			t.Fatalf("the list lacks the caller's own record %s: %s", own, raw)
		}
		return
	}
	if want != 0 {
		var body any
		if rc.body != nil {
			body = rc.body(target)
		}
		code, raw := caller.callJSON(t, methodOf(rc.route), rc.path(target), body)
		if code != want {
			t.Fatalf("%s %s: %d %s, want %d", methodOf(rc.route), rc.path(target), code, raw, want)
		}
		// Ids the request itself named are known to the caller; any other is a leak.
		sent, _ := json.Marshal(body)
		var unknown []uuid.UUID
		for _, id := range hidden {
			if !strings.Contains(rc.path(target)+string(sent), id.String()) {
				unknown = append(unknown, id)
			}
		}
		if leaked := uuidsIn(raw, unknown); len(leaked) > 0 {
			t.Fatalf("the answer names hidden records %v: %s", leaked, raw)
		}
		if code == 207 {
			var out struct {
				Records []apiError `json:"records"`
			}
			if err := json.Unmarshal(raw, &out); err != nil || len(out.Records) != 1 || out.Records[0].Error.Name != rc.bulkItem[who] {
				t.Fatalf("bulk item: %s, want a %s record", raw, rc.bulkItem[who])
			}
		}
	} else if rc.note == "" && rc.list == nil {
		t.Fatalf("route %s has no expectation and no note saying why", rc.route)
	}
	if inside != 0 && methodOf(rc.route) == "GET" {
		if code, raw := caller.callJSON(t, "GET", rc.path(mine), nil); code != inside {
			t.Fatalf("within its limits: GET %s: %d %s, want %d", rc.path(mine), code, raw, inside)
		}
	}
}

// callJSON sends a request with s's key and returns the status and the raw answer.
func (s *server) callJSON(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var raw json.RawMessage
	code := s.call(t, method, path, body, nil, &raw)
	return code, raw
}

func methodOf(route string) string {
	m, _, _ := strings.Cut(route, " ")
	return m
}

// uuidsIn returns the ids of want that appear anywhere in the JSON document raw.
func uuidsIn(raw []byte, want []uuid.UUID) []uuid.UUID {
	var found []uuid.UUID
	for _, id := range want {
		if strings.Contains(string(raw), id.String()) {
			found = append(found, id)
		}
	}
	return found
}

// snapshot describes the records of fixtures as their owner sees them, to show that callers
// who may not see them changed nothing.
func snapshot(t *testing.T, s *server, fs ...*fixture) string {
	t.Helper()
	var b strings.Builder
	for _, f := range fs {
		for _, path := range []string{
			"/api/v1/workspaces/" + f.ws.String(),
			"/api/v1/connections/" + f.conn.String(),
			"/api/v1/connections/" + f.conn.String() + "/mappings/default",
			"/api/v1/rules/" + f.rule.String(),
			"/api/v1/events/" + f.event.String(),
			"/api/v1/sessions?workspace_id=" + f.ws.String(), // a refresh would move expires_at, a revocation status
		} {
			code, raw := s.callJSON(t, "GET", path, nil)
			b.WriteString(strconv.Itoa(code) + " " + string(raw) + "\n")
		}
	}
	code, raw := s.callJSON(t, "GET", "/api/v1/machine-keys", nil)
	b.WriteString(strconv.Itoa(code) + " " + string(raw))
	return b.String()
}
