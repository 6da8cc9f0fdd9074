package mcp_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchyardhq/switchyard/internal/testutil"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
	buildOut  []byte
)

// switchyardBinary builds cmd/switchyard once per test run.
func switchyardBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: does not build the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchyard-mcp-test")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "switchyard")
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", binary, "github.com/switchyardhq/switchyard/cmd/switchyard")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building switchyard: %v\n%s", buildErr, buildOut)
	}
	return binary
}

// commandSession starts `switchyard mcp args…` with env as its whole environment and connects
// the SDK's client to it over its stdin and stdout.
func commandSession(t *testing.T, env []string, args ...string) *sdk.ClientSession {
	t.Helper()
	cmd := exec.Command(switchyardBinary(t), append([]string{"mcp"}, args...)...)
	cmd.Env = append(env, "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &sdk.CommandTransport{Command: cmd, TerminateDuration: 5 * time.Second}, nil)
	if err != nil {
		t.Fatalf("starting switchyard mcp: %v\nstderr: %s", err, stderr.String())
	}
	t.Cleanup(func() {
		cs.Close()
		if strings.Contains(stderr.String(), "ERROR") || strings.Contains(stderr.String(), "secret") {
			t.Errorf("switchyard mcp's standard error: %s", stderr.String())
		}
	})
	return cs
}

// TestAgentDeliversAndRetriesWithToolsOnly is issue #14's "done means": an agent configured with
// `switchyard mcp` — here with the Meshes MCP server's variables, as an agent configuration
// written for Meshes has them — creates a webhook connection and a rule, sends a test event, sees
// it delivered, and retries a failed delivery, using only tools.
func TestAgentDeliversAndRetriesWithToolsOnly(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cs := commandSession(t, []string{"MESHES_API_URL=" + s.url + "/api/v1/", "MESHES_ACCESS_KEY=" + s.creds.AccessKey,
		"MESHES_SECRET_KEY=" + s.creds.SecretKey, "MESHES_ORGANIZATION_ID=" + s.creds.OrganizationID.String()})
	h := newHook(t)

	ws := records(mustCall(t, cs, "meshes_list_workspaces", nil))[0]["id"].(string)
	conn := inner(mustCall(t, cs, "meshes_create_connection", map[string]any{"workspace": ws, "type": "webhook",
		"name": "Receiver", "metadata": map[string]any{"url": h.srv.URL + "/hook"}}), "connection")["id"].(string)
	rule := inner(mustCall(t, cs, "meshes_create_rule", map[string]any{"workspace": ws, "connection": conn,
		"event": "order.paid", "action": "send_webhook"}), "rule")["id"].(string)
	status := func(event string) string {
		return mustCall(t, cs, "meshes_get_event", map[string]any{"event_id": event})["status"].(string)
	}
	emit := func() string {
		return inner(mustCall(t, cs, "meshes_emit_event", map[string]any{"workspace": ws, "event": "order.paid",
			"payload": map[string]any{"order": "A-1", "amount": 42}}), "event")["id"].(string)
	}

	delivered := emit()
	testutil.Eventually(t, 15*time.Second, "the event delivered", func() bool { return status(delivered) == "completed" })

	h.status.Store(http.StatusBadRequest)
	failed := emit()
	testutil.Eventually(t, 15*time.Second, "the event failed", func() bool { return status(failed) == "failed" })
	attempts := list(mustCall(t, cs, "switchyard_list_delivery_attempts", map[string]any{"event_id": failed})["deliveries"])
	if len(attempts) != 1 || list(attempts[0]["attempts"])[0]["http_status"] != float64(400) {
		t.Fatalf("the failed delivery's attempts: %v", attempts)
	}

	h.status.Store(http.StatusOK)
	mustCall(t, cs, "meshes_retry_event_rule", map[string]any{"event_id": failed, "rule_id": rule})
	testutil.Eventually(t, 15*time.Second, "the retried event delivered", func() bool { return status(failed) == "completed" })
	if got := len(list(mustCall(t, cs, "switchyard_list_delivery_attempts", map[string]any{"event_id": failed, "rule_id": rule})["records"])); got != 2 {
		t.Errorf("the retried delivery has %d attempts, want 2", got)
	}
}

// TestStdioOnALocalStore runs `switchyard mcp --database-url` on the store of a running server:
// the tools work through an in-process API authenticated with the store's newest unlimited key,
// and the server delivers what they emit.
func TestStdioOnALocalStore(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cs := commandSession(t, []string{"SWITCHYARD_ENCRYPTION_KEY=" + s.encryptionKey, "SWITCHYARD_ALLOW_PRIVATE_DESTINATIONS=true"},
		"--database-url", s.databaseURL)
	h := newHook(t)
	ws := s.creds.WorkspaceID.String()
	conn := inner(mustCall(t, cs, "meshes_create_connection", map[string]any{"workspace": ws, "type": "webhook",
		"name": "Local", "metadata": map[string]any{"url": h.srv.URL}}), "connection")["id"].(string)
	mustCall(t, cs, "meshes_create_rule", map[string]any{"workspace": ws, "connection": conn, "event": "local", "action": "send_webhook"})
	ev := inner(mustCall(t, cs, "meshes_emit_event", map[string]any{"workspace": ws, "event": "local",
		"payload": map[string]any{"a": 1}}), "event")
	if ev["created_by"] != s.creds.AccessKey {
		t.Errorf("the event was created by %v, want the owner key %s", ev["created_by"], s.creds.AccessKey)
	}
	testutil.Eventually(t, 15*time.Second, "the server delivering the event", func() bool {
		return mustCall(t, cs, "meshes_get_event", map[string]any{"event_id": ev["id"]})["status"] == "completed"
	})

	// A named key is used as it is: a read-only one cannot write.
	ro := s.newKey(t, nil, "read")
	cs2 := commandSession(t, []string{"SWITCHYARD_ENCRYPTION_KEY=" + s.encryptionKey}, "--database-url", s.databaseURL,
		"--access-key", ro.AccessKey)
	if text, isErr := callTool(t, cs2, "meshes_create_workspace", map[string]any{"name": "Nope"}); !isErr || !strings.HasPrefix(text, "Meshes API 403: ") {
		t.Errorf("a read-only key over the local store: %v %q, want Meshes API 403", isErr, text)
	}
}

// TestMcpCommandRefusesIncompleteConfiguration: the command explains what is missing and exits
// non-zero without touching stdout.
func TestMcpCommandRefusesIncompleteConfiguration(t *testing.T) {
	t.Parallel()
	bin := switchyardBinary(t)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"nothing":         {nil, "--url"},
		"no secret":       {[]string{"--url", "http://127.0.0.1:1", "--access-key", "mk_x", "--org", "0190c5a2-7f3e-4b1a-9c4d-2e6f8a1b3c5d"}, "--secret-key"},
		"both modes":      {[]string{"--url", "http://127.0.0.1:1", "--database-url", "sqlite://x.db"}, "not both"},
		"a malformed org": {[]string{"--url", "http://127.0.0.1:1", "--access-key", "a", "--secret-key", "b", "--org", "x"}, "UUID"},
	} {
		cmd := exec.Command(bin, append([]string{"mcp"}, tc.args...)...)
		cmd.Env = []string{"HOME=" + t.TempDir()}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err == nil || stdout.Len() != 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s: err %v, stdout %q, stderr %q; want a failure naming %q", name, err, stdout.String(), stderr.String(), tc.want)
		}
	}
}

// TestStdioUsesTheLoginProfile: after 'switchyard login', 'switchyard mcp' needs no flags.
func TestStdioUsesTheLoginProfile(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	configFile := filepath.Join(t.TempDir(), "config.json")
	login := exec.Command(switchyardBinary(t), "login", "--server", s.url, "--access-key", s.creds.AccessKey,
		"--org", s.creds.OrganizationID.String())
	login.Env = []string{"HOME=" + t.TempDir(), "SWITCHYARD_CONFIG=" + configFile, "SWITCHYARD_SECRET_KEY=" + s.creds.SecretKey}
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("switchyard login: %v\n%s", err, out)
	}
	cs := commandSession(t, []string{"SWITCHYARD_CONFIG=" + configFile})
	if got := records(mustCall(t, cs, "meshes_list_workspaces", nil)); len(got) != 1 || got[0]["id"] != s.creds.WorkspaceID.String() {
		t.Errorf("meshes_list_workspaces with the login profile: %v", got)
	}
}
