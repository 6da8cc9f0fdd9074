package mcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

// recorder calls tools and remembers which were called, so the test can insist that every
// listed tool was.
type recorder struct {
	t      *testing.T
	cs     *sdk.ClientSession
	called map[string]bool
}

func (r *recorder) ok(name string, args map[string]any) map[string]any {
	r.t.Helper()
	r.called[name] = true
	return mustCall(r.t, r.cs, name, args)
}

func (r *recorder) text(name string, args map[string]any) string {
	r.t.Helper()
	r.called[name] = true
	text, isErr := callTool(r.t, r.cs, name, args)
	if isErr {
		r.t.Fatalf("%s(%v): tool error: %s", name, args, text)
	}
	return text
}

// event reads an event's status and its deliveries' statuses by rule.
func (r *recorder) event(id string) (string, map[string]string) {
	r.t.Helper()
	ev := r.ok("meshes_get_event", map[string]any{"event_id": id})
	byRule := map[string]string{}
	for _, re := range list(ev["rule_events"]) {
		byRule[re["rule"].(string)] = re["status"].(string)
	}
	return ev["status"].(string), byRule
}

func (r *recorder) waitEvent(id, status string) {
	r.t.Helper()
	testutil.Eventually(r.t, 15*time.Second, "event "+id+" "+status, func() bool {
		s, _ := r.event(id)
		return s == status
	})
}

func list(v any) []map[string]any {
	var out []map[string]any
	for _, x := range v.([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

// inner is the record a create answer wraps: {"workspace": {…}}.
func inner(m map[string]any, key string) map[string]any {
	v, ok := m[key].(map[string]any)
	if !ok {
		panic("the answer has no " + key + " object")
	}
	return v
}

func records(m map[string]any) []map[string]any { return list(m["records"]) }

func ids(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["id"].(string))
	}
	return out
}

// TestEveryToolAgainstARealServer calls every listed tool over /mcp against a real server with
// a webhook receiver on loopback, checking each result, and fails if a tool was left out; on
// each store dialect.
func TestEveryToolAgainstARealServer(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) { everyTool(t, startServerOn(t, d)) })
}

func everyTool(t *testing.T, s *server) {
	cs := s.httpSession(t, s.ownerKey())
	r := &recorder{t: t, cs: cs, called: map[string]bool{}}
	ws := s.creds.WorkspaceID.String()
	h := newHook(t)

	// Workspaces.
	if got := ids(records(r.ok("meshes_list_workspaces", nil))); !slices.Contains(got, ws) {
		t.Fatalf("meshes_list_workspaces: %v lacks the default workspace %s", got, ws)
	}
	created := r.ok("meshes_create_workspace", map[string]any{"name": "Operations", "description": "ops"})
	ws2 := inner(created, "workspace")["id"].(string)
	if got := r.ok("meshes_get_workspace", map[string]any{"workspace_id": ws2}); got["name"] != "Operations" {
		t.Errorf("meshes_get_workspace: %v", got)
	}
	updated := r.ok("meshes_update_workspace", map[string]any{"workspace_id": ws2, "name": "Operations 2", "description": nil})
	if updated["name"] != "Operations 2" || updated["description"] != nil {
		t.Errorf("meshes_update_workspace: %v", updated)
	}

	// Connections.
	conn := r.ok("meshes_create_connection", map[string]any{"workspace": ws, "type": "webhook", "name": "Receiver",
		"metadata": map[string]any{"url": h.srv.URL + "/hook"}})
	conn = inner(conn, "connection")
	connID := conn["id"].(string)
	if conn["hidden"] != false {
		t.Errorf("meshes_create_connection: hidden = %v, want the default false", conn["hidden"])
	}
	if got := r.ok("meshes_get_connection", map[string]any{"connection_id": connID}); got["name"] != "Receiver" {
		t.Errorf("meshes_get_connection: %v", got)
	}
	if got := ids(records(r.ok("meshes_list_connections", nil))); !slices.Contains(got, connID) {
		t.Errorf("meshes_list_connections: %v lacks %s", got, connID)
	}
	if got := ids(records(r.ok("meshes_get_workspace_connections", map[string]any{"workspace_id": ws}))); !slices.Contains(got, connID) {
		t.Errorf("meshes_get_workspace_connections: %v lacks %s", got, connID)
	}
	if got := r.ok("meshes_update_connection", map[string]any{"connection_id": connID, "name": "Receiver 2",
		"metadata": map[string]any{"url": h.srv.URL + "/hook"}}); got["name"] != "Receiver 2" {
		t.Errorf("meshes_update_connection: %v", got)
	}
	if got := r.ok("meshes_get_connection_actions", map[string]any{"connection_id": connID}); len(got) != 0 {
		t.Errorf("meshes_get_connection_actions of a webhook: %v, want {}", got)
	}
	if got := r.ok("meshes_get_connection_fields", map[string]any{"connection_id": connID, "refresh": true}); len(got["fields"].([]any)) != 0 {
		t.Errorf("meshes_get_connection_fields of a webhook: %v", got)
	}
	mapping := r.ok("meshes_get_connection_default_mappings", map[string]any{"connection_id": connID})
	if mapping["status"] != "generated" {
		t.Errorf("meshes_get_connection_default_mappings: %v", mapping)
	}
	saved := r.ok("meshes_update_connection_default_mappings", map[string]any{"connection_id": connID,
		"schema": map[string]any{"schema_version": 1, "fields": []any{
			map[string]any{"dest": "email", "source": map[string]any{"type": "path", "value": "email"}}}}})
	if saved["status"] != "stored" {
		t.Errorf("meshes_update_connection_default_mappings: %v", saved)
	}
	var types []string
	for _, in := range records(r.ok("meshes_list_integrations", nil)) {
		types = append(types, in["type"].(string))
	}
	if !slices.Contains(types, "webhook") {
		t.Errorf("meshes_list_integrations: %v lacks webhook", types)
	}

	// Rules.
	rule := r.ok("meshes_create_rule", map[string]any{"workspace": ws, "connection": connID, "event": "user.signup",
		"action": "send_webhook"})
	rule = inner(rule, "rule")
	ruleID := rule["id"].(string)
	if rule["active"] != true {
		t.Errorf("meshes_create_rule: active = %v, want the default true", rule["active"])
	}
	if got := r.ok("meshes_get_rule", map[string]any{"rule_id": ruleID}); got["event"] != "user.signup" {
		t.Errorf("meshes_get_rule: %v", got)
	}
	if got := ids(records(r.ok("meshes_list_rules", map[string]any{"event": "user.signup"}))); !slices.Equal(got, []string{ruleID}) {
		t.Errorf("meshes_list_rules(event): %v, want [%s]", got, ruleID)
	}
	if got := records(r.ok("meshes_list_rules", map[string]any{"event": "other"})); len(got) != 0 {
		t.Errorf("meshes_list_rules(other event): %v, want none", got)
	}
	if got := ids(records(r.ok("meshes_get_workspace_rules", map[string]any{"workspace_id": ws}))); !slices.Contains(got, ruleID) {
		t.Errorf("meshes_get_workspace_rules: %v lacks %s", got, ruleID)
	}
	base := h.received() // the connection tests of create and update
	test := r.ok("switchyard_test_rule", map[string]any{"rule_id": ruleID, "payload": map[string]any{"email": "a@example.com"}})
	if test["dry_run"] != true || test["request"] == nil {
		t.Errorf("switchyard_test_rule (dry run by default): %v", test)
	}
	if h.received() != base {
		t.Errorf("a dry run reached the receiver")
	}
	actions := r.ok("switchyard_get_action_data", map[string]any{"connection_id": connID})
	if actions["integration_type"] != "webhook" || actions["actions"].(map[string]any)["send_webhook"] == nil {
		t.Errorf("switchyard_get_action_data: %v", actions)
	}

	// Events, delivered.
	emitted := r.ok("meshes_emit_event", map[string]any{"workspace": ws, "event": "user.signup",
		"payload": map[string]any{"email": "b@example.com"}, "resource": "user", "resource_id": "u1"})
	eventID := inner(emitted, "event")["id"].(string)
	r.waitEvent(eventID, "completed")
	if h.received() != base+1 {
		t.Errorf("the receiver got %d requests, want %d", h.received(), base+1)
	}
	if got := r.ok("meshes_get_event_payload", map[string]any{"event_id": eventID}); got["payload"].(map[string]any)["email"] != "b@example.com" {
		t.Errorf("meshes_get_event_payload: %v", got)
	}
	if got := ids(records(r.ok("meshes_list_events", map[string]any{"limit": 10}))); !slices.Contains(got, eventID) {
		t.Errorf("meshes_list_events: %v lacks %s", got, eventID)
	}
	if got := ids(records(r.ok("meshes_get_workspace_events", map[string]any{"workspace_id": ws, "status": "completed",
		"resource": "user"}))); !slices.Equal(got, []string{eventID}) {
		t.Errorf("meshes_get_workspace_events(completed, user): %v, want [%s]", got, eventID)
	}
	if text := r.text("meshes_get_workspace_event_types", map[string]any{"workspace_id": ws}); !strings.Contains(text, "user.signup") {
		t.Errorf("meshes_get_workspace_event_types: %s", text)
	}
	if text := r.text("meshes_get_workspace_resources", map[string]any{"workspace_id": ws}); !strings.Contains(text, "user") {
		t.Errorf("meshes_get_workspace_resources: %s", text)
	}
	attempts := r.ok("switchyard_list_delivery_attempts", map[string]any{"event_id": eventID})
	deliveries := list(attempts["deliveries"])
	if len(deliveries) != 1 || deliveries[0]["rule_id"] != ruleID {
		t.Fatalf("switchyard_list_delivery_attempts: %v", attempts)
	}
	first := list(deliveries[0]["attempts"])
	if len(first) != 1 || first[0]["outcome_code"] != "delivered" {
		t.Fatalf("switchyard_list_delivery_attempts: attempts %v, want one delivered", first)
	}
	one := r.ok("switchyard_list_delivery_attempts", map[string]any{"event_id": eventID, "rule_id": ruleID})
	if len(records(one)) != 1 {
		t.Errorf("switchyard_list_delivery_attempts(rule_id): %v", one)
	}
	details := r.ok("switchyard_get_attempt_response", map[string]any{"event_id": eventID, "rule_id": ruleID,
		"attempt_id": first[0]["id"]})
	if details["outcome_code"] != "delivered" || details["http_status"] != float64(200) {
		t.Errorf("switchyard_get_attempt_response: %v", details)
	}
	bulk := r.text("meshes_emit_bulk_events", map[string]any{"events": []any{
		map[string]any{"workspace": ws, "event": "user.signup", "payload": map[string]any{"n": 1}},
		map[string]any{"workspace": ws, "event": "user.signup", "payload": map[string]any{"n": 2}}}})
	if strings.Count(bulk, `"id"`) < 2 {
		t.Errorf("meshes_emit_bulk_events: %s", bulk)
	}
	testutil.Eventually(t, 15*time.Second, "the bulk events delivered", func() bool { return h.received() == base+3 })

	// Failures: retry one, cancel others.
	h.status.Store(http.StatusBadRequest)
	failed := inner(r.ok("meshes_emit_event", map[string]any{"workspace": ws, "event": "user.signup", "payload": map[string]any{"n": 3}}), "event")["id"].(string)
	r.waitEvent(failed, "failed")
	h.status.Store(http.StatusOK)
	if got := r.ok("meshes_retry_event_rule", map[string]any{"event_id": failed, "rule_id": ruleID}); got["status"] == "failed" {
		t.Errorf("meshes_retry_event_rule: %v", got)
	}
	r.waitEvent(failed, "completed")

	h.status.Store(http.StatusServiceUnavailable) // retryable: the deliveries wait 5 s for their next attempt
	retrying := func() string {
		id := inner(r.ok("meshes_emit_event", map[string]any{"workspace": ws, "event": "user.signup", "payload": map[string]any{"n": 4}}), "event")["id"].(string)
		testutil.Eventually(t, 15*time.Second, "a delivery waiting to retry", func() bool {
			_, byRule := r.event(id)
			return byRule[ruleID] == "retrying"
		})
		return id
	}
	e1 := retrying()
	health := r.ok("switchyard_get_connection_health", map[string]any{"connection_id": connID})
	queue := health["queue"].(map[string]any)
	if health["active"] != true || health["circuit"] == nil || queue["scheduled"].(float64) < 1 {
		t.Errorf("switchyard_get_connection_health: %v", health)
	}
	backlog := r.ok("switchyard_get_backlog", map[string]any{"workspace_id": ws})
	if backlog["scheduled"].(float64) < 1 || len(list(backlog["connections"])) != 1 || list(backlog["connections"])[0]["connection_id"] != connID {
		t.Errorf("switchyard_get_backlog: %v", backlog)
	}
	if got := r.ok("switchyard_cancel_delivery", map[string]any{"event_id": e1, "rule_id": ruleID}); got["status"] != "canceled" {
		t.Errorf("switchyard_cancel_delivery: %v", got)
	}
	e2 := retrying()
	if got := r.ok("switchyard_cancel_event", map[string]any{"event_id": e2}); got["status"] != "canceled" {
		t.Errorf("switchyard_cancel_event: %v", got)
	}
	h.status.Store(http.StatusOK)

	// Embed sessions.
	session := r.ok("meshes_create_session", map[string]any{"workspace_id": ws})
	sessionID := session["session_id"].(string)
	if session["role"] != "member" || session["session_type"] != "workspace" || session["expires_in"] != float64(1800) {
		t.Errorf("meshes_create_session did not apply the defaults: %v", session)
	}
	if got := records(r.ok("meshes_list_sessions", map[string]any{"workspace_id": ws, "status": "active"})); len(got) != 1 || got[0]["session_id"] != sessionID {
		t.Errorf("meshes_list_sessions: %v", got)
	}
	if got := r.ok("meshes_refresh_session", map[string]any{"session_id": sessionID}); got["access_token"] == session["access_token"] {
		t.Errorf("meshes_refresh_session: the token did not change: %v", got)
	}
	if got := r.ok("meshes_revoke_session", map[string]any{"session_id": sessionID}); got["revoked"] != true {
		t.Errorf("meshes_revoke_session: %v", got)
	}

	// Deletions: a connection still used by a rule needs force_delete.
	rule2 := r.ok("meshes_create_rule", map[string]any{"workspace": ws, "connection": connID, "event": "user.deleted",
		"action": "send_webhook", "metadata_extra": map[string]any{"template": "{{email}}"}})
	r.ok("meshes_delete_rule", map[string]any{"rule_id": ruleID})
	if text, isErr := callTool(t, cs, "meshes_get_rule", map[string]any{"rule_id": ruleID}); !isErr || !strings.HasPrefix(text, "Meshes API 404: ") {
		t.Errorf("a deleted rule: %q (error %v), want Meshes API 404", text, isErr)
	}
	if text, isErr := callTool(t, cs, "meshes_delete_connection", map[string]any{"connection_id": connID}); !isErr || !strings.HasPrefix(text, "Meshes API 409: ") {
		t.Errorf("deleting a connection that rule %s uses: %q (error %v), want Meshes API 409", inner(rule2, "rule")["id"], text, isErr)
	}
	r.ok("meshes_delete_connection", map[string]any{"connection_id": connID, "force_delete": true})

	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		if !r.called[tool.Name] {
			t.Errorf("tool %s was not called", tool.Name)
		}
	}
}

// TestResourcesReadWorkspacesConnectionsAndEvents reads each resource template and a missing
// record.
func TestResourcesReadWorkspacesConnectionsAndEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cs := s.httpSession(t, s.ownerKey())
	ws := s.creds.WorkspaceID.String()
	h := newHook(t)
	conn := inner(mustCall(t, cs, "meshes_create_connection", map[string]any{"workspace": ws, "type": "webhook", "name": "R",
		"metadata": map[string]any{"url": h.srv.URL}}), "connection")["id"].(string)
	ev := inner(mustCall(t, cs, "meshes_emit_event", map[string]any{"workspace": ws, "event": "x", "payload": map[string]any{"a": 1}}), "event")["id"].(string)

	var templates []string
	for rt, err := range cs.ResourceTemplates(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		templates = append(templates, rt.URITemplate)
	}
	slices.Sort(templates)
	want := []string{"switchyard://connections/{id}", "switchyard://events/{id}", "switchyard://workspaces/{id}"}
	if !slices.Equal(templates, want) {
		t.Errorf("resource templates %v, want %v", templates, want)
	}
	for uri, id := range map[string]string{"switchyard://workspaces/" + ws: ws, "switchyard://connections/" + conn: conn,
		"switchyard://events/" + ev: ev} {
		res, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: uri})
		if err != nil {
			t.Fatalf("reading %s: %v", uri, err)
		}
		var got map[string]any
		if len(res.Contents) != 1 || res.Contents[0].MIMEType != "application/json" || json.Unmarshal([]byte(res.Contents[0].Text), &got) != nil || got["id"] != id {
			t.Errorf("%s: %+v", uri, res.Contents)
		}
	}
	for _, uri := range []string{"switchyard://events/0190c5a2-7f3e-7b1a-9c4d-2e6f8a1b3c5d", "switchyard://events/nope"} {
		if _, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: uri}); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("reading %s: %v, want resource not found", uri, err)
		}
	}
}
