package mcp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// TestBadArgumentsAreToolErrors sends arguments the schema or the API refuses: each is a
// result with isError and a message a model can act on, never a protocol error.
func TestBadArgumentsAreToolErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cs := s.httpSession(t, s.ownerKey())
	ws := s.creds.WorkspaceID.String()
	cases := []struct {
		name, tool string
		args       map[string]any
		want       string
	}{
		{"a required argument missing", "meshes_get_workspace", map[string]any{}, "workspace_id"},
		{"a string where an object belongs", "meshes_emit_event", map[string]any{"workspace": ws, "event": "e", "payload": "text"}, "payload"},
		{"a name too short", "meshes_create_workspace", map[string]any{"name": "ab"}, "name"},
		{"a limit out of range", "meshes_list_events", map[string]any{"limit": 500}, "limit"},
		{"an unknown argument", "meshes_list_workspaces", map[string]any{"workspace": ws}, "workspace"},
		{"a value outside the enum", "meshes_create_connection", map[string]any{"workspace": ws, "type": "carrier-pigeon", "name": "x", "metadata": map[string]any{}}, "type"},
		{"too many bulk events", "meshes_emit_bulk_events", map[string]any{"events": make([]any, 101)}, "events"},
		{"a malformed UUID", "meshes_get_event", map[string]any{"event_id": "../../workspaces"}, "Invalid arguments: event_id must be a UUID"},
		{"a record that does not exist", "meshes_get_event", map[string]any{"event_id": uuid.NewString()}, "Meshes API 404: "},
		{"a body the API refuses", "meshes_create_connection", map[string]any{"workspace": ws, "type": "webhook", "name": "x",
			"metadata": map[string]any{"url": "not a url"}}, "Meshes API 4"},
	}
	for _, c := range cases {
		text, isErr := callTool(t, cs, c.tool, c.args)
		if !isErr || !strings.Contains(text, c.want) {
			t.Errorf("%s (%s): error %v, %q; want a tool error mentioning %q", c.name, c.tool, isErr, text, c.want)
		}
	}
	// A failed call leaves the session usable.
	mustCall(t, cs, "meshes_get_workspace", map[string]any{"workspace_id": ws})
}

// TestLimitedKeysCannotCallWriteTools: the tools run with the caller's own token, so a key
// without the write permission, or limited to another workspace, gets the API's 403 as a tool
// error, over both transports.
func TestLimitedKeysCannotCallWriteTools(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ws := s.creds.WorkspaceID.String()
	owner := s.httpSession(t, s.ownerKey())
	other := inner(mustCall(t, owner, "meshes_create_workspace", map[string]any{"name": "Other"}), "workspace")["id"].(string)

	readOnly := s.newKey(t, nil, switchyard.PermissionRead)
	for transport, cs := range map[string]*sdk.ClientSession{"http": s.httpSession(t, readOnly), "stdio": s.stdioSession(t, readOnly)} {
		if text, isErr := callTool(t, cs, "meshes_create_workspace", map[string]any{"name": "Sneaky"}); !isErr || !strings.HasPrefix(text, "Meshes API 403: ") {
			t.Errorf("%s: a read-only key creating a workspace: %v %q, want Meshes API 403", transport, isErr, text)
		}
		if text, isErr := callTool(t, cs, "meshes_emit_event", map[string]any{"workspace": ws, "event": "e", "payload": map[string]any{"a": 1}}); !isErr || !strings.HasPrefix(text, "Meshes API 403: ") {
			t.Errorf("%s: a read-only key emitting: %v %q, want Meshes API 403", transport, isErr, text)
		}
		mustCall(t, cs, "meshes_get_workspace", map[string]any{"workspace_id": ws})
	}

	limited := s.newKey(t, []uuid.UUID{s.creds.WorkspaceID})
	cs := s.httpSession(t, limited)
	if text, isErr := callTool(t, cs, "meshes_create_connection", map[string]any{"workspace": other, "type": "webhook", "name": "x",
		"metadata": map[string]any{"url": "http://127.0.0.1:9/"}}); !isErr || !strings.HasPrefix(text, "Meshes API 403: ") {
		t.Errorf("a key limited to one workspace creating a connection in another: %v %q, want Meshes API 403", isErr, text)
	}
	if got := records(mustCall(t, cs, "meshes_list_workspaces", nil)); len(got) != 1 || got[0]["id"] != ws {
		t.Errorf("a key limited to one workspace lists %v", got)
	}
}

// TestMCPEndpointNeedsAMachineJWT: /mcp answers 401 in the API's error shape without a token or
// with a bad one, before any MCP handling.
func TestMCPEndpointNeedsAMachineJWT(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	for name, header := range map[string]string{"no token": "", "a malformed token": "Bearer nonsense",
		"a token of an unknown key": "Bearer eyJhbGciOiJIUzI1NiIsImtpZCI6Im1rX3Vua25vd24iLCJ0eXAiOiJKV1QifQ.e30.c2ln"} {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/mcp", strings.NewReader(initialize))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Message string `json:"message"`
			Error   struct {
				Name string `json:"name"`
			} `json:"error"`
		}
		if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal(body, &e) != nil || e.Message == "" ||
			!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") || resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: %d %s (WWW-Authenticate %q), want 401 in the API's error shape", name, resp.StatusCode, body,
				resp.Header.Get("WWW-Authenticate"))
		}
	}

	// An embed session's token is a credential of the API, confined to the embed routes: not
	// this one.
	owner := s.httpSession(t, s.ownerKey())
	token := mustCall(t, owner, "meshes_create_session", map[string]any{"workspace_id": s.creds.WorkspaceID.String(), "role": "owner"})["access_token"].(string)
	req, _ := http.NewRequest(http.MethodPost, s.url+"/mcp", strings.NewReader(initialize))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("/mcp with an embed session token: %d, want 403", resp.StatusCode)
	}
}
