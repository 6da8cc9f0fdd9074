package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// idFrom reads the "id" of a JSON object printed with --output json.
func idFrom(t *testing.T, out string) uuid.UUID {
	t.Helper()
	var v struct {
		ID uuid.UUID `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.ID == uuid.Nil {
		t.Fatalf("no id in %q (%v)", out, err)
	}
	return v.ID
}

func TestWorkspacesCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	sh := s.shell(t)
	var n normalizer

	out := sh.ok("workspaces", "create", "Staging", "--description", "Pre-production events", "-o", "json")
	ws := idFrom(t, out)
	golden(t, &n, "workspaces_create_json", out)

	n = normalizer{}
	golden(t, &n, "workspaces_list_table", sh.ok("workspaces", "list"))
	n = normalizer{}
	golden(t, &n, "workspaces_list_json", sh.ok("workspaces", "list", "-o", "json"))

	t.Run("get shows the publishable key, which rotate-key replaces", func(t *testing.T) {
		var n normalizer
		out := sh.ok("workspaces", "get", ws.String())
		golden(t, &n, "workspaces_get_table", out)
		var before, after struct {
			PublishableKey struct {
				PublicKey string `json:"public_key"`
			} `json:"publishable_key"`
		}
		_ = json.Unmarshal([]byte(sh.ok("workspaces", "get", ws.String(), "-o", "json")), &before)
		_ = json.Unmarshal([]byte(sh.ok("workspaces", "rotate-key", ws.String(), "-o", "json")), &after)
		if !strings.HasPrefix(before.PublishableKey.PublicKey, "mesh_pub_") || after.PublishableKey.PublicKey == before.PublishableKey.PublicKey {
			t.Fatalf("publishable key before %q, after rotation %q", before.PublishableKey.PublicKey, after.PublishableKey.PublicKey)
		}
	})

	t.Run("update renames and keeps the description unless told", func(t *testing.T) {
		out := sh.ok("workspaces", "update", ws.String(), "--name", "Staging EU", "-o", "json")
		if !strings.Contains(out, `"name": "Staging EU"`) || !strings.Contains(out, `"description": "Pre-production events"`) {
			t.Fatalf("after rename: %s", out)
		}
		out = sh.ok("workspaces", "update", ws.String(), "--clear-description", "-o", "json")
		if !strings.Contains(out, `"name": "Staging EU"`) || !strings.Contains(out, `"description": null`) {
			t.Fatalf("after clearing the description: %s", out)
		}
		if r := sh.run("workspaces", "update", ws.String()); r.code != exitUsage {
			t.Fatalf("update with nothing to change: exit %d, want %d", r.code, exitUsage)
		}
	})

	t.Run("a duplicate name is an API error with the field named", func(t *testing.T) {
		r := sh.run("workspaces", "create", "Staging EU")
		if r.code != exitAPI || !strings.Contains(r.stderr, "name: is already taken") || !strings.Contains(r.stderr, "409 from POST /workspaces") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

func TestConnectionsAndRulesCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	sh := s.shell(t)
	h := newHook(t, 204)

	var n normalizer
	out := sh.ok("connections", "create", "--type", "webhook", "--name", "Orders hook", "--set", "url="+h.srv.URL+"/orders",
		"--metadata", `{"skip_url_test":true}`)
	golden(t, &n, "connections_create_table", out)
	conn := uuid.MustParse(strings.Fields(strings.Split(out, "\n")[0])[1])

	n = normalizer{}
	golden(t, &n, "connections_list_table", sh.ok("connections", "list"))
	n = normalizer{}
	golden(t, &n, "connections_list_json", sh.ok("connections", "list", "--workspace", s.creds.WorkspaceID.String(), "-o", "json"))

	t.Run("update merges settings into the current ones", func(t *testing.T) {
		out := sh.ok("connections", "update", conn.String(), "--set", "url="+h.srv.URL+"/v2", "-o", "json")
		var c struct {
			Name     string         `json:"name"`
			Metadata map[string]any `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(out), &c); err != nil {
			t.Fatal(err)
		}
		if c.Name != "Orders hook" || c.Metadata["url"] != h.srv.URL+"/v2" {
			t.Fatalf("after update: %s", out)
		}
	})

	var rule uuid.UUID
	t.Run("rules create, list and get", func(t *testing.T) {
		var n normalizer
		out := sh.ok("rules", "create", "--connection", conn.String(), "--event", "order.paid", "--action", "send_webhook", "-o", "json")
		rule = idFrom(t, out)
		golden(t, &n, "rules_create_json", out)
		n = normalizer{}
		golden(t, &n, "rules_list_table", sh.ok("rules", "list", "--event", "order.paid"))
		n = normalizer{}
		golden(t, &n, "rules_get_table", sh.ok("rules", "get", rule.String()))
		if out := sh.ok("rules", "list", "--event", "no.such.event", "-o", "jsonl"); out != "" {
			t.Fatalf("a filter matching nothing printed %q", out)
		}
		if r := sh.run("rules", "create", "--connection", conn.String(), "--event", "x"); r.code != exitUsage || !strings.Contains(r.stderr, "action") {
			t.Fatalf("a rule without action: exit %d, %q", r.code, r.stderr)
		}
	})

	t.Run("rules test: a dry run sends nothing, a real one delivers once", func(t *testing.T) {
		before := h.requests.Load()
		out := sh.ok("rules", "test", rule.String(), "--dry-run", "-d", `{"order":1}`)
		if !strings.Contains(out, "DRY RUN      true") || !strings.Contains(out, "REQUEST      POST "+h.srv.URL+"/v2") ||
			!strings.Contains(out, `"order": 1`) || h.requests.Load() != before {
			t.Fatalf("dry run (%d requests): %s", h.requests.Load()-before, out)
		}
		out = sh.ok("rules", "test", rule.String(), "-d", `{"order":2}`)
		if !strings.Contains(out, "OUTCOME      delivered") || h.requests.Load() != before+1 {
			t.Fatalf("real run (%d requests): %s", h.requests.Load()-before, out)
		}
		h.status.Store(400)
		defer h.status.Store(204)
		r := sh.run("rules", "test", rule.String(), "-d", `{}`, "-o", "json")
		if r.code != exitFailure || !strings.Contains(r.stdout, `"outcome_code": "rejected_client_error"`) {
			t.Fatalf("a refused test delivery: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if r := sh.run("rules", "test", rule.String(), "-d", `{}`, "--event-id", rule.String()); r.code != exitUsage {
			t.Fatalf("payload and --event-id: exit %d", r.code)
		}
	})

	t.Run("connections health and workspaces backlog", func(t *testing.T) {
		var n normalizer
		golden(t, &n, "connections_health_table", sh.ok("connections", "health", conn.String()))
		out := sh.ok("workspaces", "backlog", "-o", "json")
		if !strings.Contains(out, `"workspace_id": "`+s.creds.WorkspaceID.String()+`"`) || !strings.Contains(out, `"due": 0`) {
			t.Fatalf("backlog: %s", out)
		}
		if out := sh.ok("workspaces", "backlog"); !strings.Contains(out, "QUEUE      0 due, 0 scheduled, 0 processing") {
			t.Fatalf("backlog table: %s", out)
		}
	})

	t.Run("a connection with rules is deleted only with --force", func(t *testing.T) {
		r := sh.run("connections", "delete", conn.String())
		if r.code != exitAPI {
			t.Fatalf("delete without --force: exit %d, %q", r.code, r.stderr)
		}
		out := sh.ok("connections", "delete", conn.String(), "--force")
		if !strings.Contains(out, "Deleted connection "+conn.String()+" (webhook).") {
			t.Fatalf("delete: %q", out)
		}
		if r := sh.run("rules", "get", rule.String()); r.code != exitAPI || !strings.Contains(r.stderr, "404") {
			t.Fatalf("the rule after a forced delete of its connection: exit %d, %q", r.code, r.stderr)
		}
	})

	t.Run("rules delete", func(t *testing.T) {
		c2 := idFrom(t, sh.ok("connections", "create", "--type", "webhook", "--name", "Hook2", "--metadata",
			`{"url":"`+h.srv.URL+`","skip_url_test":true}`, "-o", "json"))
		r2 := idFrom(t, sh.ok("rules", "create", "--connection", c2.String(), "--event", "a.b", "--set", "action=send_webhook", "-o", "json"))
		if out := sh.ok("rules", "delete", r2.String()); !strings.Contains(out, "Deleted rule "+r2.String()) {
			t.Fatalf("rules delete: %q", out)
		}
	})
}

// --metadata is one JSON object and nothing after it: a stray brace or a second document is a
// usage error, not silently dropped.
func TestMetadataFlagIsOneObject(t *testing.T) {
	t.Parallel()
	for value, ok := range map[string]bool{
		`{"a":1}`:         true,
		` {"a":1} `:       true,
		`{"a":1}}`:        false,
		`{"a":1} {"b":2}`: false,
		`{"a":1} x`:       false,
		`[1]`:             false,
		`null`:            false,
	} {
		m := &metadataFlags{Metadata: value}
		got, err := m.apply(nil)
		if ok != (err == nil) {
			t.Errorf("--metadata %s: %v, %v; want accepted %v", value, got, err, ok)
		}
	}
}
