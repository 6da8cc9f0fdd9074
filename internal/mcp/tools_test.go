package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

var update = flag.Bool("update", false, "rewrite testdata/tools.golden.json")

// meshesTools are the 33 tools of Meshes' MCP server (docs/mcp.md), which must all be here
// under the same names.
var meshesTools = []string{
	"meshes_list_workspaces", "meshes_get_workspace", "meshes_create_workspace", "meshes_update_workspace",
	"meshes_get_workspace_connections", "meshes_get_workspace_event_types", "meshes_get_workspace_resources",
	"meshes_get_workspace_rules", "meshes_list_connections", "meshes_get_connection", "meshes_create_connection",
	"meshes_update_connection", "meshes_delete_connection", "meshes_get_connection_actions", "meshes_get_connection_fields",
	"meshes_get_connection_default_mappings", "meshes_update_connection_default_mappings", "meshes_list_integrations",
	"meshes_list_rules", "meshes_get_rule", "meshes_create_rule", "meshes_delete_rule", "meshes_emit_event",
	"meshes_emit_bulk_events", "meshes_list_events", "meshes_get_workspace_events", "meshes_get_event",
	"meshes_get_event_payload", "meshes_retry_event_rule", "meshes_create_session", "meshes_list_sessions",
	"meshes_refresh_session", "meshes_revoke_session",
}

func listTools(t *testing.T, cs *sdk.ClientSession) []*sdk.Tool {
	t.Helper()
	var tools []*sdk.Tool
	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		tools = append(tools, tool)
	}
	return tools
}

// TestToolsMatchTheGoldenFile lists the tools over both transports and holds their names and
// input schemas to testdata/tools.golden.json (go test -update rewrites it).
func TestToolsMatchTheGoldenFile(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	type entry struct {
		Name        string `json:"name"`
		InputSchema any    `json:"inputSchema"`
	}
	render := func(tools []*sdk.Tool) []byte {
		var entries []entry
		for _, tool := range tools {
			entries = append(entries, entry{tool.Name, tool.InputSchema})
		}
		slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare([]byte(a.Name), []byte(b.Name)) })
		b, err := json.MarshalIndent(entries, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	}
	overHTTP := listTools(t, s.httpSession(t, s.ownerKey()))
	overStdio := listTools(t, s.stdioSession(t, s.ownerKey()))
	got := render(overHTTP)
	if !bytes.Equal(got, render(overStdio)) {
		t.Error("the tools listed over stdio differ from those over HTTP")
	}

	var names []string
	for _, tool := range overHTTP {
		names = append(names, tool.Name)
		if tool.Description == "" {
			t.Errorf("%s has no description", tool.Name)
		}
	}
	for _, want := range meshesTools {
		if !slices.Contains(names, want) {
			t.Errorf("Meshes tool %s is missing", want)
		}
	}
	if len(names) != len(meshesTools)+8 {
		t.Errorf("%d tools, want the 33 of Meshes and our 8: %v", len(names), names)
	}

	golden := filepath.Join("testdata", "tools.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("tool names or input schemas differ from %s (go test -update rewrites it after a deliberate change):\n%s", golden, got)
	}
}
