package mcp_test

import (
	"context"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchyardhq/switchyard/client"
)

// BenchmarkAPICall is the baseline: the same read with the Go client over loopback HTTP.
func BenchmarkAPICall(b *testing.B) {
	s := startServer(b)
	c, err := client.New(s.url, client.WithMachineKey(s.ownerKey()))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.GetWorkspace(context.Background(), s.creds.WorkspaceID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToolCall measures one meshes_get_workspace call end to end: over /mcp (HTTP,
// stateless, the API called in-process) and over stdio pipes (the API called over loopback
// HTTP with a minted JWT).
func BenchmarkToolCall(b *testing.B) {
	for _, transport := range []string{"http", "stdio"} {
		b.Run(transport, func(b *testing.B) {
			s := startServer(b)
			var cs *sdk.ClientSession
			if transport == "http" {
				cs = s.httpSession(b, s.ownerKey())
			} else {
				cs = s.stdioSession(b, s.ownerKey())
			}
			args := &sdk.CallToolParams{Name: "meshes_get_workspace", Arguments: map[string]any{"workspace_id": s.creds.WorkspaceID.String()}}
			b.ResetTimer()
			for b.Loop() {
				res, err := cs.CallTool(context.Background(), args)
				if err != nil || res.IsError {
					b.Fatalf("%v %+v", err, res)
				}
			}
		})
	}
}
