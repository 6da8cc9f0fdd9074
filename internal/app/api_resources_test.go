package app_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

func TestWorkspaceEndpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		ws := s.createWorkspace(t, "Acme staging")
		path := "/api/v1/workspaces/" + ws.String()

		type workspace struct {
			ID             uuid.UUID       `json:"id"`
			Name           string          `json:"name"`
			Description    *string         `json:"description"`
			CreatedAt      time.Time       `json:"created_at"`
			UpdatedAt      time.Time       `json:"updated_at"`
			PublishableKey json.RawMessage `json:"publishable_key"`
		}
		t.Run("PUT renames a workspace and answers the bare workspace without its key", func(t *testing.T) {
			var got workspace
			if code := s.call(t, "PUT", path, map[string]any{"name": "Acme prod", "description": "live"}, nil, &got); code != 200 {
				t.Fatalf("status %d", code)
			}
			if got.ID != ws || got.Name != "Acme prod" || got.Description == nil || *got.Description != "live" ||
				got.PublishableKey != nil || got.UpdatedAt.Before(got.CreatedAt) {
				t.Fatalf("updated workspace %+v", got)
			}
			var full workspace
			s.call(t, "GET", path, nil, nil, &full)
			if full.Name != "Acme prod" || full.PublishableKey == nil {
				t.Fatalf("GET after PUT %+v", full)
			}
		})
		t.Run("PUT keeps an absent description and clears a null one", func(t *testing.T) {
			var got workspace
			s.call(t, "PUT", path, map[string]any{"name": "Acme prod"}, nil, &got)
			if got.Description == nil || *got.Description != "live" {
				t.Fatalf("absent description: %+v", got)
			}
			if code, body := s.callRaw(t, "PUT", path, `{"name":"Acme prod","description":null}`); code != 200 || !strings.Contains(body, `"description":null`) {
				t.Fatalf("null description: %d %s", code, body)
			}
		})
		t.Run("PUT refuses a taken name with 409 and bad fields with 400 naming each", func(t *testing.T) {
			var e apiError
			if code := s.call(t, "PUT", path, map[string]any{"name": "Default"}, nil, &e); code != 409 || e.params()[0] != "name" {
				t.Fatalf("taken name: %d %+v", code, e)
			}
			if code := s.call(t, "PUT", path, map[string]any{"name": "x!", "description": 42}, nil, &e); code != 400 ||
				strings.Join(e.params(), ",") != "name,description" {
				t.Fatalf("bad fields: %d %+v", code, e)
			}
			if code := s.call(t, "PUT", path, map[string]any{"description": "no name"}, nil, &e); code != 400 || e.params()[0] != "name" {
				t.Fatalf("missing name: %d %+v", code, e)
			}
			if code := s.call(t, "PUT", "/api/v1/workspaces/"+uuid.NewString(), map[string]any{"name": "Ghost"}, nil, &e); code != 404 {
				t.Fatalf("unknown workspace: %d", code)
			}
			if code := s.call(t, "PUT", "/api/v1/workspaces/nope", map[string]any{"name": "Ghost"}, nil, &e); code != 400 || e.params()[0] != "workspace_id" {
				t.Fatalf("malformed id: %d %+v", code, e)
			}
		})

		hook := newHook(t, 204)
		conn := s.createConnection(t, ws, hook.url(), nil)
		rule := s.createRule(t, ws, conn, "user.signup", map[string]any{"resource": "user"})
		otherConn := s.createConnection(t, s.creds.WorkspaceID, hook.url(), nil)
		s.createRule(t, s.creds.WorkspaceID, otherConn, "user.signup", nil)
		e1 := s.emit(t, ws, "user.signup", map[string]any{"resource": "user", "resource_id": "u1"})
		e2 := s.emit(t, ws, "order.paid", nil)
		s.emit(t, s.creds.WorkspaceID, "user.signup", nil)

		t.Run("a workspace's connections, rules and events are pages of only its own", func(t *testing.T) {
			var conns page[idOf]
			if code := s.call(t, "GET", path+"/connections", nil, nil, &conns); code != 200 || conns.Count != 1 || conns.Limit != 50 ||
				conns.NextCursor != nil || conns.Records[0].ID != conn {
				t.Fatalf("connections %d %+v", code, conns)
			}
			var rules page[idOf]
			if code := s.call(t, "GET", path+"/rules?event=user.signup&resource=user", nil, nil, &rules); code != 200 || rules.Count != 1 || rules.Records[0].ID != rule {
				t.Fatalf("rules %d %+v", code, rules)
			}
			s.call(t, "GET", path+"/rules?event=order.paid", nil, nil, &rules)
			if rules.Count != 0 || rules.Records == nil {
				t.Fatalf("filtered rules %+v, want an empty records array", rules)
			}
			var events page[eventJSON]
			if code := s.call(t, "GET", path+"/events?limit=1", nil, nil, &events); code != 200 || events.Count != 1 || events.Limit != 1 ||
				events.NextCursor == nil || events.Records[0].ID != e2 {
				t.Fatalf("first page %d %+v", code, events)
			}
			s.call(t, "GET", path+"/events?limit=1&cursor="+*events.NextCursor, nil, nil, &events)
			if events.Count != 1 || events.Records[0].ID != e1 || events.NextCursor != nil || len(events.Records[0].RuleEvents) != 1 {
				t.Fatalf("second page %+v", events)
			}
			q := url.Values{"event": {"user.signup"}, "resource": {"user"}, "resource_id": {"u1"}}
			s.call(t, "GET", path+"/events?"+q.Encode(), nil, nil, &events)
			if events.Count != 1 || events.Records[0].ID != e1 {
				t.Fatalf("filtered events %+v", events)
			}
			eventually(t, "the event to complete", func() bool {
				s.call(t, "GET", path+"/events?status=completed", nil, nil, &events)
				return events.Count == 2
			})
		})
		t.Run("event types and resources are bare arrays catalogued on first emit", func(t *testing.T) {
			type entry struct {
				ID          uuid.UUID `json:"id"`
				Key         string    `json:"key"`
				Label       string    `json:"label"`
				Description *string   `json:"description"`
				Active      bool      `json:"active"`
				CreatedBy   *string   `json:"created_by"`
				CreatedAt   time.Time `json:"created_at"`
				UpdatedAt   time.Time `json:"updated_at"`
			}
			var types []entry
			if code := s.call(t, "GET", path+"/event-types", nil, nil, &types); code != 200 || len(types) != 2 ||
				types[0].Key != "order.paid" || types[1].Key != "user.signup" {
				t.Fatalf("event types %d %+v", code, types)
			}
			if e := types[1]; e.Label != e.Key || !e.Active || e.Description != nil || e.CreatedBy == nil || *e.CreatedBy != s.creds.AccessKey || e.ID == uuid.Nil {
				t.Fatalf("entry %+v", e)
			}
			var resources []entry
			if code := s.call(t, "GET", path+"/resources", nil, nil, &resources); code != 200 || len(resources) != 2 ||
				resources[0].Key != "global" || resources[1].Key != "user" {
				t.Fatalf("resources %d %+v", code, resources)
			}
			empty := s.createWorkspace(t, "Empty")
			code, body := s.callRaw(t, "GET", "/api/v1/workspaces/"+empty.String()+"/event-types", "")
			if code != 200 || strings.TrimSpace(body) != "[]" {
				t.Fatalf("empty catalogue: %d %s", code, body)
			}
		})
		t.Run("list parameters are validated", func(t *testing.T) {
			var e apiError
			for _, q := range []string{"limit=0", "limit=201", "limit=ten", "cursor=bad*cursor", "cursor=" + strings.Repeat("A", 40),
				"status=lost", "resource_id=bad%20id", "event=%00"} {
				if code := s.call(t, "GET", path+"/events?"+q, nil, nil, &e); code != 400 {
					t.Fatalf("?%s: %d %+v", q, code, e)
				}
			}
			if code := s.call(t, "GET", path+"/events?limit=200", nil, nil, nil); code != 200 {
				t.Fatalf("limit=200: %d", code)
			}
			for _, sub := range []string{"connections", "rules", "events", "event-types", "resources"} {
				if code := s.call(t, "GET", "/api/v1/workspaces/"+uuid.NewString()+"/"+sub, nil, nil, &e); code != 404 {
					t.Fatalf("%s of an unknown workspace: %d", sub, code)
				}
				if code := s.call(t, "GET", "/api/v1/workspaces/x/"+sub, nil, nil, &e); code != 400 {
					t.Fatalf("%s of a malformed id: %d", sub, code)
				}
			}
		})
	})
}

func TestConnectionEndpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		ws := s.creds.WorkspaceID
		hook := newHook(t, 204)
		conn := s.createConnection(t, ws, hook.url(), map[string]any{"auth_scheme": "bearer", "bearer_token": "first-token"})
		path := "/api/v1/connections/" + conn.String()
		rule := s.createRule(t, ws, conn, "user.signup", nil)

		type connection struct {
			ID        uuid.UUID      `json:"id"`
			Workspace uuid.UUID      `json:"workspace"`
			Type      string         `json:"type"`
			Name      string         `json:"name"`
			Metadata  map[string]any `json:"metadata"`
			Active    bool           `json:"active"`
			Hidden    bool           `json:"hidden"`
		}
		deliveredWith := func(t *testing.T, want string) {
			t.Helper()
			before := hook.requests()
			e := s.emit(t, ws, "user.signup", nil)
			eventually(t, "the delivery", func() bool { return s.event(t, e).Status == "completed" })
			if hook.requests() != before+1 || hook.lastAuth() != want {
				t.Fatalf("delivered with Authorization %q, want %q", hook.lastAuth(), want)
			}
		}

		t.Run("GET /connections pages the whole organization", func(t *testing.T) {
			other := s.createWorkspace(t, "Second")
			second := s.createConnection(t, other, hook.url(), nil)
			var got page[connection]
			if code := s.call(t, "GET", "/api/v1/connections", nil, nil, &got); code != 200 || got.Count != 2 ||
				got.Records[0].ID != second || got.Records[1].ID != conn || got.Records[1].Metadata["bearer_token"] != "********" {
				t.Fatalf("connections %d %+v", code, got)
			}
		})
		t.Run("PUT with the secret masked or absent keeps the stored secret", func(t *testing.T) {
			var got connection
			if code := s.call(t, "PUT", path, map[string]any{"name": "Renamed", "metadata": map[string]any{"url": hook.url(),
				"skip_url_test": true, "auth_scheme": "bearer", "bearer_token": "********", "team": "crm"}}, nil, &got); code != 200 {
				t.Fatalf("status %d", code)
			}
			if got.Name != "Renamed" || got.Metadata["bearer_token"] != "********" || got.Metadata["team"] != "crm" || !got.Active || got.Hidden {
				t.Fatalf("updated connection %+v", got)
			}
			deliveredWith(t, "Bearer first-token")
			if code := s.call(t, "PUT", path, map[string]any{"name": "Renamed", "hidden": true, "metadata": map[string]any{"url": hook.url(),
				"skip_url_test": true, "auth_scheme": "bearer"}}, nil, &got); code != 200 || !got.Hidden {
				t.Fatalf("absent secret: %d %+v", code, got)
			}
			deliveredWith(t, "Bearer first-token")
		})
		t.Run("PUT with a new secret replaces it", func(t *testing.T) {
			if code := s.call(t, "PUT", path, map[string]any{"name": "Renamed", "metadata": map[string]any{"url": hook.url(),
				"skip_url_test": true, "auth_scheme": "bearer", "bearer_token": "second-token"}}, nil, nil); code != 200 {
				t.Fatalf("status %d", code)
			}
			deliveredWith(t, "Bearer second-token")
		})
		t.Run("PUT validates like create and tests the URL", func(t *testing.T) {
			var e apiError
			if code := s.call(t, "PUT", path, map[string]any{"metadata": map[string]any{"url": "ftp://x"}}, nil, &e); code != 400 ||
				strings.Join(e.params(), ",") != "name" {
				t.Fatalf("missing name: %d %+v", code, e)
			}
			if code := s.call(t, "PUT", path, map[string]any{"name": "ok", "metadata": map[string]any{"url": "ftp://x", "auth_scheme": "basic"}}, nil, &e); code != 400 ||
				!strings.Contains(strings.Join(e.params(), ","), "metadata.url") || !strings.Contains(strings.Join(e.params(), ","), "metadata.basic_username") {
				t.Fatalf("bad metadata: %d %+v", code, e)
			}
			if code := s.call(t, "PUT", path, map[string]any{"name": "ok", "metadata": map[string]any{"url": "http://127.0.0.1:1/closed"}}, nil, &e); code != 422 {
				t.Fatalf("a URL that fails its test: %d %+v", code, e)
			}
			if code := s.call(t, "PUT", path, map[string]any{"name": "ok", "metadata": map[string]any{"url": hook.url(), "note": "nul\x00"}}, nil, &e); code != 400 {
				t.Fatalf("NUL in metadata: %d %+v", code, e)
			}
			if code := s.call(t, "PUT", "/api/v1/connections/"+uuid.NewString(), map[string]any{"name": "ok", "metadata": map[string]any{}}, nil, &e); code != 404 {
				t.Fatalf("unknown connection: %d", code)
			}
		})
		t.Run("actions and fields describe a webhook: no action data, no destination fields", func(t *testing.T) {
			code, body := s.callRaw(t, "GET", path+"/actions", "")
			if code != 200 || strings.TrimSpace(body) != "{}" {
				t.Fatalf("actions %d %s", code, body)
			}
			var fields struct {
				ID              uuid.UUID `json:"id"`
				WorkspaceID     uuid.UUID `json:"workspace_id"`
				ConnectionID    uuid.UUID `json:"connection_id"`
				IntegrationType string    `json:"integration_type"`
				CatalogVersion  string    `json:"catalog_version"`
				RefreshedAt     time.Time `json:"refreshed_at"`
				CreatedBy       string    `json:"created_by"`
				Fields          []any     `json:"fields"`
			}
			if code := s.call(t, "GET", path+"/fields?refresh=true", nil, nil, &fields); code != 200 || fields.ConnectionID != conn ||
				fields.WorkspaceID != ws || fields.IntegrationType != "webhook" || fields.CatalogVersion == "" || fields.ID == uuid.Nil ||
				fields.Fields == nil || len(fields.Fields) != 0 || fields.RefreshedAt.IsZero() {
				t.Fatalf("fields %d %+v", code, fields)
			}
			if code := s.call(t, "GET", path+"/fields?refresh=maybe", nil, nil, nil); code != 400 {
				t.Fatalf("refresh=maybe: %d", code)
			}
		})

		type mappingResult struct {
			Status  string `json:"status"`
			Mapping struct {
				ID              uuid.UUID       `json:"id"`
				MappingID       uuid.UUID       `json:"mapping_id"`
				Version         int             `json:"version"`
				WorkspaceID     uuid.UUID       `json:"workspace_id"`
				ConnectionID    uuid.UUID       `json:"connection_id"`
				IntegrationType string          `json:"integration_type"`
				Name            string          `json:"name"`
				Schema          json.RawMessage `json:"schema"`
				CreatedBy       *string         `json:"created_by"`
			} `json:"mapping"`
		}
		mappings := path + "/mappings/default"
		var generated mappingResult
		t.Run("the default mapping is generated until one is saved", func(t *testing.T) {
			if code := s.call(t, "GET", mappings, nil, nil, &generated); code != 200 || generated.Status != "generated" ||
				generated.Mapping.Version != 0 || generated.Mapping.ConnectionID != conn || generated.Mapping.MappingID == uuid.Nil ||
				string(generated.Mapping.Schema) != `{"schema_version":1,"fields":[]}` {
				t.Fatalf("generated mapping %d %+v %s", code, generated, generated.Mapping.Schema)
			}
		})
		schema := map[string]any{"schema_version": 1, "fields": []any{
			map[string]any{"dest": "email", "source": map[string]any{"type": "path", "value": "user.email"},
				"transforms": []any{map[string]any{"type": "trim"}, map[string]any{"type": "lower"}}, "on_error": "fail_action"},
			map[string]any{"dest": "plan", "source": map[string]any{"type": "literal", "value": nil},
				"transforms": []any{map[string]any{"type": "default", "value": "free"}, map[string]any{"type": "substring", "start": 0, "length": 4}}},
		}, "meta": map[string]any{"name": "CRM"}}
		t.Run("saving a mapping validates the whole schema and answers 422 naming each failure", func(t *testing.T) {
			bad := map[string]any{"schema_version": 2, "fields": []any{
				map[string]any{"dest": "", "source": map[string]any{"type": "path", "value": "1bad path"}},
				map[string]any{"dest": "x", "source": map[string]any{"type": "literal", "value": map[string]any{}},
					"transforms": []any{map[string]any{"type": "explode"}, map[string]any{"type": "substring", "start": -1}}, "on_error": "panic"},
			}}
			var e apiError
			if code := s.call(t, "PUT", mappings, map[string]any{"schema": bad}, nil, &e); code != 422 {
				t.Fatalf("status %d %+v", code, e)
			}
			want := "schema.schema_version,schema.fields[0].dest,schema.fields[0].source.value,schema.fields[1].source.value," +
				"schema.fields[1].transforms[0].type,schema.fields[1].transforms[1].start,schema.fields[1].on_error"
			if got := strings.Join(e.params(), ","); got != want {
				t.Fatalf("failing params\n got %s\nwant %s", got, want)
			}
			if code := s.call(t, "PUT", mappings, map[string]any{"name": "x"}, nil, &e); code != 422 || e.params()[0] != "schema" {
				t.Fatalf("missing schema: %d %+v", code, e)
			}
			if code := s.call(t, "PUT", mappings, map[string]any{"schema": schema, "expected_version": 0}, nil, &e); code != 400 || e.params()[0] != "expected_version" {
				t.Fatalf("expected_version 0: %d %+v", code, e)
			}
			if code := s.call(t, "PUT", mappings, map[string]any{"schema": schema, "workspace_id": uuid.NewString()}, nil, &e); code != 400 || e.params()[0] != "workspace_id" {
				t.Fatalf("another workspace: %d %+v", code, e)
			}
		})
		t.Run("saving stores a new version and expected_version guards against lost updates", func(t *testing.T) {
			var v1 mappingResult
			if code := s.call(t, "PUT", mappings, map[string]any{"schema": schema, "mapping_id": generated.Mapping.MappingID,
				"workspace_id": ws, "name": "CRM sync"}, nil, &v1); code != 200 {
				t.Fatalf("status %d", code)
			}
			if v1.Status != "stored" || v1.Mapping.Version != 1 || v1.Mapping.MappingID != generated.Mapping.MappingID || v1.Mapping.Name != "CRM sync" ||
				v1.Mapping.CreatedBy == nil || *v1.Mapping.CreatedBy != s.creds.AccessKey {
				t.Fatalf("stored mapping %+v", v1)
			}
			var stored map[string]any
			if err := json.Unmarshal(v1.Mapping.Schema, &stored); err != nil || len(stored["fields"].([]any)) != 2 {
				t.Fatalf("stored schema %s", v1.Mapping.Schema)
			}
			var e apiError
			if code := s.call(t, "PUT", mappings, map[string]any{"schema": schema, "expected_version": 7}, nil, &e); code != 409 {
				t.Fatalf("stale expected_version: %d %+v", code, e)
			}
			if code := s.call(t, "PUT", mappings, map[string]any{"schema": schema, "mapping_id": uuid.NewString()}, nil, &e); code != 409 {
				t.Fatalf("another mapping_id: %d %+v", code, e)
			}
			var v2 mappingResult
			if code := s.call(t, "PUT", mappings, map[string]any{"schema": map[string]any{"schema_version": 1, "fields": []any{}},
				"expected_version": 1}, nil, &v2); code != 200 || v2.Mapping.Version != 2 || v2.Mapping.Name != "CRM sync" {
				t.Fatalf("second version %d %+v", code, v2)
			}
			var got mappingResult
			if s.call(t, "GET", mappings, nil, nil, &got); got.Status != "stored" || got.Mapping.Version != 2 || got.Mapping.ID != v2.Mapping.ID {
				t.Fatalf("GET after saves %+v", got)
			}
		})
		t.Run("deleting a connection with active rules needs force_delete", func(t *testing.T) {
			var e apiError
			if code := s.call(t, "DELETE", path, nil, nil, &e); code != 409 {
				t.Fatalf("delete with an active rule: %d %+v", code, e)
			}
			if code, _ := s.callRaw(t, "DELETE", path, "{oops"); code != 400 {
				t.Fatalf("malformed body: %d", code)
			}
			var gone struct {
				ID   uuid.UUID `json:"id"`
				Type string    `json:"type"`
			}
			if code := s.call(t, "DELETE", path, map[string]any{"force_delete": true}, nil, &gone); code != 200 || gone.ID != conn || gone.Type != "webhook" {
				t.Fatalf("forced delete %d %+v", code, gone)
			}
			for _, p := range []string{path, "/api/v1/rules/" + rule.String(), mappings} {
				if code := s.call(t, "GET", p, nil, nil, nil); code != 404 {
					t.Fatalf("GET %s after delete: %d", p, code)
				}
			}
			if code := s.call(t, "DELETE", path, nil, nil, &e); code != 404 {
				t.Fatalf("second delete: %d", code)
			}
			idle := s.createConnection(t, ws, hook.url(), nil)
			if code := s.call(t, "DELETE", "/api/v1/connections/"+idle.String(), nil, nil, nil); code != 200 {
				t.Fatalf("delete without rules: %d", code)
			}
		})
	})
}

func TestRuleEndpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		ws := s.creds.WorkspaceID
		other := s.createWorkspace(t, "Second")
		hook := newHook(t, 204)
		conn := s.createConnection(t, ws, hook.url(), nil)
		conn2 := s.createConnection(t, other, hook.url(), nil)
		signup := s.createRule(t, ws, conn, "user.signup", map[string]any{"resource": "user", "resource_id": "u1",
			"metadata": map[string]any{"action": "send_webhook", "team": "growth", "nested": map[string]any{"k": []any{1, "two"}}}})
		paid := s.createRule(t, other, conn2, "order.paid", nil)

		type rule struct {
			ID         uuid.UUID      `json:"id"`
			Resource   string         `json:"resource"`
			ResourceID string         `json:"resource_id"`
			Metadata   map[string]any `json:"metadata"`
		}
		t.Run("GET /rules lists the organization's rules, filtered exactly", func(t *testing.T) {
			var got page[rule]
			if code := s.call(t, "GET", "/api/v1/rules", nil, nil, &got); code != 200 || got.Count != 2 || got.Records[0].ID != paid || got.Records[1].ID != signup {
				t.Fatalf("rules %d %+v", code, got)
			}
			if got.Records[1].Metadata["team"] != "growth" || got.Records[1].Metadata["nested"] == nil {
				t.Fatalf("extra metadata keys were not kept: %+v", got.Records[1].Metadata)
			}
			for q, want := range map[string]int{"event=user.signup": 1, "resource=user": 1, "resource_id=u1": 1, "resource_id=u2": 0,
				"event=order.paid&resource=user": 0, "limit=1": 1} {
				if code := s.call(t, "GET", "/api/v1/rules?"+q, nil, nil, &got); code != 200 || got.Count != want {
					t.Fatalf("?%s: %d, %d rules, want %d", q, code, got.Count, want)
				}
			}
		})
		t.Run("DELETE echoes the rule and it is gone", func(t *testing.T) {
			var gone map[string]any
			if code := s.call(t, "DELETE", "/api/v1/rules/"+signup.String(), nil, nil, &gone); code != 200 {
				t.Fatalf("status %d", code)
			}
			want := map[string]any{"id": signup.String(), "connection": conn.String(), "type": "webhook", "event": "user.signup",
				"resource": "user", "resource_id": "u1"}
			if fmt.Sprint(gone) != fmt.Sprint(want) {
				t.Fatalf("deleted %v, want %v", gone, want)
			}
			if code := s.call(t, "GET", "/api/v1/rules/"+signup.String(), nil, nil, nil); code != 404 {
				t.Fatalf("GET after delete: %d", code)
			}
			if code := s.call(t, "DELETE", "/api/v1/rules/"+signup.String(), nil, nil, nil); code != 404 {
				t.Fatalf("second delete: %d", code)
			}
			if code := s.call(t, "DELETE", "/api/v1/rules/not-a-uuid", nil, nil, nil); code != 400 {
				t.Fatalf("malformed id: %d", code)
			}
		})
	})
}

func TestEventEndpoints(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		ws := s.creds.WorkspaceID
		hook := newHook(t, 204)
		conn := s.createConnection(t, ws, hook.url(), nil)
		s.createRule(t, ws, conn, "user.signup", nil)

		t.Run("GET /events pages the organization's events with their rule events", func(t *testing.T) {
			first := s.emit(t, ws, "user.signup", nil)
			second := s.emit(t, s.createWorkspace(t, "Second"), "user.signup", nil)
			var got page[eventJSON]
			if code := s.call(t, "GET", "/api/v1/events?limit=1", nil, nil, &got); code != 200 || got.Count != 1 || got.Records[0].ID != second ||
				got.NextCursor == nil || got.Records[0].Payload != nil || got.Records[0].RuleEvents == nil {
				t.Fatalf("first page %d %+v", code, got)
			}
			s.call(t, "GET", "/api/v1/events?limit=1&cursor="+*got.NextCursor, nil, nil, &got)
			if got.Records[0].ID != first || len(got.Records[0].RuleEvents) != 1 || got.Records[0].RuleEvents[0].Type != "rule" {
				t.Fatalf("second page %+v", got)
			}
		})
		t.Run("GET /events/{id}/payload adds the payload as emitted", func(t *testing.T) {
			id := s.emit(t, ws, "user.signup", map[string]any{"payload": map[string]any{"email": "ada@example.com", "plan": map[string]any{"tier": 2}}})
			var got eventJSON
			if code := s.call(t, "GET", "/api/v1/events/"+id.String()+"/payload", nil, nil, &got); code != 200 || got.ID != id ||
				got.Payload["email"] != "ada@example.com" || len(got.RuleEvents) != 1 {
				t.Fatalf("payload %d %+v", code, got)
			}
			if code := s.call(t, "GET", "/api/v1/events/"+uuid.NewString()+"/payload", nil, nil, nil); code != 404 {
				t.Fatalf("unknown event: %d", code)
			}
		})

		type bulkResult struct {
			Count      int               `json:"count"`
			ErrorCount *int              `json:"error_count"`
			Records    []json.RawMessage `json:"records"`
		}
		item := func(name string) map[string]any {
			return map[string]any{"workspace": ws, "event": name, "payload": map[string]any{"n": 1}}
		}
		t.Run("a bulk of valid events is 201 with one record per item in order", func(t *testing.T) {
			var got bulkResult
			if code := s.call(t, "POST", "/api/v1/events/bulk", []any{item("bulk.one"), item("user.signup"), item("bulk.three")}, nil, &got); code != 201 {
				t.Fatalf("status %d", code)
			}
			if got.Count != 3 || got.ErrorCount != nil || len(got.Records) != 3 {
				t.Fatalf("result %+v", got)
			}
			var signup eventJSON
			for i, want := range []string{"bulk.one", "user.signup", "bulk.three"} {
				var e eventJSON
				if err := json.Unmarshal(got.Records[i], &e); err != nil || e.Event != want || e.ID == uuid.Nil || e.Workspace != ws {
					t.Fatalf("record %d = %s, want event %s", i, got.Records[i], want)
				}
				if want == "user.signup" {
					signup = e
				}
			}
			eventually(t, "the bulk event to be delivered", func() bool { return s.event(t, signup.ID).Status == "completed" })
			var types []struct {
				Key string `json:"key"`
			}
			s.call(t, "GET", "/api/v1/workspaces/"+ws.String()+"/event-types", nil, nil, &types)
			if len(types) != 3 {
				t.Fatalf("catalogued %+v, want bulk.one, bulk.three and user.signup", types)
			}
		})
		t.Run("a bulk with bad items is 207 and accepts the good ones", func(t *testing.T) {
			items := []any{item("ok.first"), map[string]any{"workspace": ws, "payload": map[string]any{}},
				map[string]any{"workspace": uuid.NewString(), "event": "x", "payload": map[string]any{"a": 1}}, "not an object", item("ok.last")}
			var got bulkResult
			if code := s.call(t, "POST", "/api/v1/events/bulk", items, nil, &got); code != 207 {
				t.Fatalf("status %d", code)
			}
			if got.Count != 2 || got.ErrorCount == nil || *got.ErrorCount != 3 || len(got.Records) != 5 {
				t.Fatalf("result count %d errors %v records %d", got.Count, got.ErrorCount, len(got.Records))
			}
			for i, wantErr := range []bool{false, true, true, true, false} {
				var rec struct {
					ID      uuid.UUID `json:"id"`
					Message string    `json:"message"`
					Error   *struct {
						Data []struct {
							Param string `json:"param"`
						} `json:"data"`
					} `json:"error"`
				}
				if err := json.Unmarshal(got.Records[i], &rec); err != nil {
					t.Fatalf("record %d: %s", i, got.Records[i])
				}
				if wantErr != (rec.Error != nil) || wantErr == (rec.ID != uuid.Nil) {
					t.Fatalf("record %d = %s, want error %v", i, got.Records[i], wantErr)
				}
				if i == 1 && (rec.Message != "Bad Request" || rec.Error.Data[0].Param != "event") {
					t.Fatalf("record 1 = %s, want a 400 naming event", got.Records[i])
				}
			}
			var first struct {
				ID uuid.UUID `json:"id"`
			}
			_ = json.Unmarshal(got.Records[0], &first)
			if code := s.call(t, "GET", "/api/v1/events/"+first.ID.String(), nil, nil, nil); code != 200 {
				t.Fatalf("the accepted item was not stored: %d", code)
			}
		})
		t.Run("a publishable key bulk lands in the key's workspace", func(t *testing.T) {
			var got bulkResult
			pub := map[string]string{"X-Meshes-Publishable-Key": s.creds.PublishableKey}
			if code := s.call(t, "POST", "/api/v1/events/bulk", []any{map[string]any{"event": "browser.click", "payload": map[string]any{"x": 1}}}, pub, &got); code != 201 {
				t.Fatalf("status %d", code)
			}
			var e eventJSON
			if err := json.Unmarshal(got.Records[0], &e); err != nil || e.Workspace != ws {
				t.Fatalf("record %s", got.Records[0])
			}
		})
		t.Run("a bulk that is not an array of 1 to 100 events is 400", func(t *testing.T) {
			many := make([]any, 101)
			for i := range many {
				many[i] = item("too.many")
			}
			for name, body := range map[string]string{"empty": "[]", "object": `{"event":"x"}`, "not JSON": "[{", "nothing": ""} {
				if code, resp := s.callRaw(t, "POST", "/api/v1/events/bulk", body); code != 400 {
					t.Fatalf("%s: %d %s", name, code, resp)
				}
			}
			if code := s.call(t, "POST", "/api/v1/events/bulk", many, nil, nil); code != 400 {
				t.Fatalf("101 events: %d", code)
			}
		})
	})
}

func TestIntegrationsEndpoint(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		var got page[struct {
			Name           string                     `json:"name"`
			Type           string                     `json:"type"`
			Authentication map[string]any             `json:"authentication"`
			Actions        map[string]json.RawMessage `json:"actions"`
		}]
		if code := s.call(t, "GET", "/api/v1/integrations", nil, nil, &got); code != 200 || got.Limit != 50 || got.NextCursor != nil {
			t.Fatalf("status %d %+v", code, got)
		}
		var webhook bool
		for _, in := range got.Records {
			if in.Type == "webhook" {
				webhook = in.Name == "Webhook" && in.Authentication["type"] == "none" && in.Actions["send_webhook"] != nil
			}
		}
		if !webhook || got.Count != len(got.Records) {
			t.Fatalf("integrations %+v", got)
		}
		if code := s.call(t, "GET", "/api/v1/integrations?limit=0", nil, nil, nil); code != 400 {
			t.Fatalf("limit=0: %d", code)
		}
		if code := s.call(t, "GET", "/api/v1/integrations?cursor=%21", nil, nil, nil); code != 400 {
			t.Fatalf("bad cursor: %d", code)
		}
	})
}
