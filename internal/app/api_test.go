package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// apiError is the Meshes error shape.
type apiError struct {
	Message string `json:"message"`
	Error   struct {
		Name    string `json:"name"`
		Message string `json:"message"`
		Data    []struct {
			Param string `json:"param"`
			Msg   string `json:"msg"`
		} `json:"data"`
	} `json:"error"`
}

func (e *apiError) params() []string {
	var ps []string
	for _, d := range e.Error.Data {
		ps = append(ps, d.Param)
	}
	return ps
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		ws := s.creds.WorkspaceID.String()
		pub := map[string]string{"X-Meshes-Publishable-Key": s.creds.PublishableKey}

		t.Run("management without credentials is 401 in the Meshes error shape", func(t *testing.T) {
			var e apiError
			if code := s.call(t, "GET", "/api/v1/workspaces", nil, map[string]string{}, &e); code != 401 {
				t.Fatalf("status %d", code)
			}
			if e.Message != "Unauthorized" || e.Error.Name != "Unauthorized" || e.Error.Message == "" {
				t.Fatalf("error body %+v", e)
			}
		})
		t.Run("a token signed with the wrong secret is 401", func(t *testing.T) {
			tok, _ := auth.Mint(s.creds.AccessKey, strings.Repeat("x", 43), s.creds.OrganizationID, time.Now(), 30*time.Second)
			var e apiError
			if code := s.call(t, "GET", "/api/v1/workspaces", nil, map[string]string{"Authorization": "Bearer " + tok}, &e); code != 401 {
				t.Fatalf("status %d %+v", code, e)
			}
		})
		t.Run("a publishable key cannot manage", func(t *testing.T) {
			if code := s.call(t, "GET", "/api/v1/workspaces", nil, pub, nil); code != 401 {
				t.Fatalf("status %d", code)
			}
		})
		t.Run("an unknown publishable key cannot emit", func(t *testing.T) {
			var e apiError
			code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": "a", "payload": map[string]any{"x": 1}},
				map[string]string{"X-Meshes-Publishable-Key": "mesh_pub_aaaa_bbbb_cccc"}, &e)
			if code != 401 || e.Error.Message != "Invalid publishable key." {
				t.Fatalf("status %d %+v", code, e)
			}
		})
		t.Run("an event without name or payload names both fields", func(t *testing.T) {
			var e apiError
			if code := s.call(t, "POST", "/api/v1/events", map[string]any{"resource_id": "bad id!"}, pub, &e); code != 400 {
				t.Fatalf("status %d", code)
			}
			if got := strings.Join(e.params(), ","); got != "event,payload,resource_id" {
				t.Fatalf("failing params %q, want event,payload,resource_id", got)
			}
		})
		t.Run("a payload that is not an object is 400", func(t *testing.T) {
			var e apiError
			if code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": "a", "payload": []int{1}}, pub, &e); code != 400 || e.params()[0] != "payload" {
				t.Fatalf("status %d %+v", code, e)
			}
		})
		t.Run("a field of the wrong JSON type is named", func(t *testing.T) {
			var e apiError
			if code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": 42, "payload": map[string]any{}}, pub, &e); code != 400 || e.params()[0] != "event" {
				t.Fatalf("status %d %+v", code, e)
			}
		})
		t.Run("a machine JWT must name the workspace it emits into", func(t *testing.T) {
			var e apiError
			if code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": "a", "payload": map[string]any{"x": 1}}, nil, &e); code != 400 || e.params()[0] != "workspace" {
				t.Fatalf("status %d %+v", code, e)
			}
			if code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": "a", "workspace": uuid.NewString(), "payload": map[string]any{"x": 1}}, nil, &e); code != 400 {
				t.Fatalf("unknown workspace: status %d", code)
			}
			if code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": "a", "workspace": ws, "payload": map[string]any{"x": 1}}, nil, nil); code != 201 {
				t.Fatalf("status %d", code)
			}
		})
		t.Run("an oversized payload is 413", func(t *testing.T) {
			big := strings.Repeat("x", 300<<10)
			var e apiError
			if code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": "a", "payload": map[string]any{"x": big}}, pub, &e); code != 413 {
				t.Fatalf("status %d %+v", code, e)
			}
		})
		t.Run("ids in paths are validated and unknown ids are 404", func(t *testing.T) {
			var e apiError
			if code := s.call(t, "GET", "/api/v1/events/not-a-uuid", nil, nil, &e); code != 400 || e.params()[0] != "event_id" {
				t.Fatalf("status %d %+v", code, e)
			}
			for _, p := range []string{"/api/v1/events/", "/api/v1/workspaces/", "/api/v1/connections/", "/api/v1/rules/"} {
				if code := s.call(t, "GET", p+uuid.NewString(), nil, nil, &e); code != 404 {
					t.Fatalf("GET %s<unknown>: status %d", p, code)
				}
			}
			if code := s.call(t, "GET", "/api/v1/nope", nil, nil, &e); code != 404 || e.Message != "Not Found" {
				t.Fatalf("unknown route: %d %+v", code, e)
			}
		})
		t.Run("workspace names are validated and unique", func(t *testing.T) {
			var e apiError
			if code := s.call(t, "POST", "/api/v1/workspaces", map[string]any{"name": "ab"}, nil, &e); code != 400 || e.params()[0] != "name" {
				t.Fatalf("short name: %d %+v", code, e)
			}
			if code := s.call(t, "POST", "/api/v1/workspaces", map[string]any{"name": "Default"}, nil, &e); code != 409 {
				t.Fatalf("duplicate: %d %+v", code, e)
			}
			if code := s.call(t, "POST", "/api/v1/workspaces", "{not json", nil, &e); code != 400 {
				t.Fatalf("bad JSON: %d", code)
			}
		})
		t.Run("connections and rules validate their references", func(t *testing.T) {
			var e apiError
			if code := s.call(t, "POST", "/api/v1/connections", map[string]any{"workspace": ws, "type": "carrier-pigeon", "name": "x", "metadata": map[string]any{}}, nil, &e); code != 400 || e.params()[0] != "type" {
				t.Fatalf("unknown type: %d %+v", code, e)
			}
			if code := s.call(t, "POST", "/api/v1/connections", map[string]any{"workspace": ws, "type": "webhook", "name": "x", "metadata": map[string]any{"url": "https://example.com", "skip_url_test": true}}, nil, nil); code != 201 {
				t.Fatalf("create: %d", code)
			}
			var other struct {
				Workspace struct{ ID string } `json:"workspace"`
			}
			s.call(t, "POST", "/api/v1/workspaces", map[string]any{"name": "Other"}, nil, &other)
			var conn struct {
				Connection struct{ ID string } `json:"connection"`
			}
			s.call(t, "POST", "/api/v1/connections", map[string]any{"workspace": other.Workspace.ID, "type": "webhook", "name": "x",
				"metadata": map[string]any{"url": "https://example.com", "skip_url_test": true}}, nil, &conn)
			if code := s.call(t, "POST", "/api/v1/rules", map[string]any{"workspace": ws, "connection": conn.Connection.ID, "event": "a",
				"metadata": map[string]any{"action": "send_webhook"}}, nil, &e); code != 400 || e.params()[0] != "connection" {
				t.Fatalf("cross-workspace rule: %d %+v", code, e)
			}
			if code := s.call(t, "POST", "/api/v1/rules", map[string]any{"workspace": other.Workspace.ID, "connection": conn.Connection.ID, "event": "a",
				"metadata": map[string]any{"action": "post_to_fax"}}, nil, &e); code != 400 || e.params()[0] != "metadata.action" {
				t.Fatalf("unknown action: %d %+v", code, e)
			}
			if code := s.call(t, "POST", "/api/v1/rules", map[string]any{"workspace": ws, "connection": uuid.NewString(), "event": "a",
				"metadata": map[string]any{"action": "send_webhook"}}, nil, &e); code != 404 {
				t.Fatalf("unknown connection: %d %+v", code, e)
			}
		})
		t.Run("probes answer", func(t *testing.T) {
			for _, p := range []string{"/healthz", "/readyz"} {
				resp, err := http.Get(s.url + p)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("%s: %d", p, resp.StatusCode)
				}
			}
		})
	})
}
