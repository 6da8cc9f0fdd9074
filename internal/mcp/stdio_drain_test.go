package mcp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/client"
	"github.com/switchyardhq/switchyard/internal/mcp"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

// TestServeStdioAnswersWhatWasReadBeforeTheInputEnded: a script that writes its requests and
// closes stdin still gets every answer.
func TestServeStdioAnswersWhatWasReadBeforeTheInputEnded(t *testing.T) {
	t.Parallel()
	api, err := client.New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(mcp.Config{Client: mcp.StaticClient(api)})
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"meshes_get_event","arguments":{"event_id":"nope"}}}`,
	}, "\n") + "\n"
	var out testutil.SyncBuffer
	if err := mcp.ServeStdio(context.Background(), srv, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{`"id":1,"result"`, `"id":2,"result"`, `"id":3,"result"`, `event_id must be a UUID`} {
		if !strings.Contains(got, want) {
			t.Errorf("the output lacks %s:\n%s", want, got)
		}
	}
}
