package cli

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// closedURL is the URL of a port on 127.0.0.1 that nothing listens on any more.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

func TestLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	sh := newShell(t)
	sh.stdin = s.creds.SecretKey + "\n"
	out := sh.ok("login", "--server", s.url, "--access-key", s.creds.AccessKey, "--org", s.creds.OrganizationID.String(),
		"--secret-key-stdin")
	path := filepath.Join(sh.configDir, "switchyard", "config.json")
	if !strings.Contains(out, "Logged in to "+s.url) || !strings.Contains(out, `Saved profile "default" in `+path) ||
		!strings.Contains(out, "Default workspace: Default ("+s.creds.WorkspaceID.String()+")") {
		t.Fatalf("login: %s", out)
	}
	sh.stdin = ""

	t.Run("the file is the owner's alone and holds the key", func(t *testing.T) {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("config file mode %04o, want 0600", st.Mode().Perm())
		}
		dst, err := os.Stat(filepath.Dir(path))
		if err != nil || dst.Mode().Perm() != 0o700 {
			t.Fatalf("config directory: %v %v, want mode 0700", dst.Mode().Perm(), err)
		}
		var cf configFile
		raw, _ := os.ReadFile(path)
		if err := json.Unmarshal(raw, &cf); err != nil {
			t.Fatal(err)
		}
		p := cf.Profiles["default"]
		if cf.Current != "default" || p == nil || p.SecretKey != s.creds.SecretKey || p.Workspace != s.creds.WorkspaceID.String() {
			t.Fatalf("config file: %s", raw)
		}
	})

	t.Run("commands use the profile without flags or variables", func(t *testing.T) {
		if out := sh.ok("workspaces", "list"); !strings.Contains(out, s.creds.WorkspaceID.String()) {
			t.Fatalf("workspaces list: %s", out)
		}
		// The profile's workspace is the default of events send.
		if out := sh.ok("events", "send", "x.y", "-d", "{}", "-o", "json"); !strings.Contains(out, s.creds.WorkspaceID.String()) {
			t.Fatalf("events send: %s", out)
		}
	})

	t.Run("a variable overrides the file, and a flag overrides the variable", func(t *testing.T) {
		env := *sh
		env.vars = map[string]string{"SWITCHYARD_SERVER": closedURL(t)}
		if r := env.run("workspaces", "list", "--retries", "0"); r.code != exitNetwork {
			t.Fatalf("SWITCHYARD_SERVER of a closed port: exit %d (%s), want %d", r.code, r.stderr, exitNetwork)
		}
		if r := env.run("workspaces", "list", "--server", s.url); r.code != 0 {
			t.Fatalf("--server over SWITCHYARD_SERVER: exit %d (%s)", r.code, r.stderr)
		}
		env.vars = map[string]string{"SWITCHYARD_SECRET_KEY": "wrong"}
		if r := env.run("workspaces", "list"); r.code != exitAPI || !strings.Contains(r.stderr, "401") {
			t.Fatalf("SWITCHYARD_SECRET_KEY=wrong: exit %d (%s), want %d", r.code, r.stderr, exitAPI)
		}
		if r := env.run("workspaces", "list", "--secret-key", s.creds.SecretKey); r.code != 0 {
			t.Fatalf("--secret-key over SWITCHYARD_SECRET_KEY: exit %d (%s)", r.code, r.stderr)
		}
	})

	t.Run("named profiles", func(t *testing.T) {
		bad := newShell(t)
		bad.configDir = sh.configDir
		bad.vars["SWITCHYARD_SECRET_KEY"] = "not-the-secret"
		r := bad.run("login", "--profile", "staging", "--server", s.url, "--access-key", s.creds.AccessKey, "--org",
			s.creds.OrganizationID.String())
		if r.code != exitAPI || !strings.Contains(r.stderr, "checking the key") {
			t.Fatalf("login with a wrong secret: exit %d, %q", r.code, r.stderr)
		}
		r = bad.run("login", "--profile", "staging", "--server", s.url, "--access-key", s.creds.AccessKey, "--org",
			s.creds.OrganizationID.String(), "--no-verify")
		if r.code != 0 {
			t.Fatalf("login --no-verify: exit %d, %q", r.code, r.stderr)
		}
		// staging is now current, and its secret is wrong.
		if r := sh.run("workspaces", "list"); r.code != exitAPI {
			t.Fatalf("the current profile (staging) has a wrong secret, yet: exit %d", r.code)
		}
		if r := sh.run("workspaces", "list", "--profile", "default"); r.code != 0 {
			t.Fatalf("--profile default: exit %d, %q", r.code, r.stderr)
		}
		env := *sh
		env.vars = map[string]string{"SWITCHYARD_PROFILE": "default"}
		if r := env.run("workspaces", "list"); r.code != 0 {
			t.Fatalf("SWITCHYARD_PROFILE=default: exit %d, %q", r.code, r.stderr)
		}
		if r := sh.run("workspaces", "list", "--profile", "nope"); r.code != exitUsage || !strings.Contains(r.stderr, `no profile "nope"`) {
			t.Fatalf("--profile nope: exit %d, %q", r.code, r.stderr)
		}
		var n normalizer
		golden(t, &n, "login_list_table", sh.ok("login", "--list"))
		out := sh.ok("login", "--list", "-o", "json")
		if strings.Contains(out, s.creds.SecretKey) || !strings.Contains(out, `"has_secret_key": true`) {
			t.Fatalf("login --list -o json shows the secret or hides that there is one: %s", out)
		}
		if out := sh.ok("logout", "--profile", "staging"); !strings.Contains(out, `Removed profile "staging"`) {
			t.Fatalf("logout: %s", out)
		}
		if out := sh.ok("login", "--list"); strings.Contains(out, "staging") {
			t.Fatalf("after logout: %s", out)
		}
		// No current profile now: "default" is used.
		if r := sh.run("workspaces", "list"); r.code != 0 {
			t.Fatalf("after logging out of the current profile: exit %d, %q", r.code, r.stderr)
		}
	})

	t.Run("a file others can read gets a warning", func(t *testing.T) {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		r := sh.run("workspaces", "list")
		if r.code != 0 || !strings.Contains(r.stderr, "readable by others") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		sh.ok("login", "--workspace", s.creds.WorkspaceID.String()) // rewrites it 0600
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Fatalf("after login: mode %04o", st.Mode().Perm())
		}
	})
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	sh := s.shell(t)
	for _, tc := range []struct {
		name   string
		sh     *shell
		args   []string
		code   int
		stderr string
	}{
		{"an unknown flag is a usage error", sh, []string{"events", "list", "--no-such-flag"}, exitUsage, "unknown flag"},
		{"a missing argument is a usage error", sh, []string{"events", "get"}, exitUsage, "expected"},
		{"an id that is not a UUID is a usage error", sh, []string{"events", "get", "42"}, exitUsage, `event id "42" is not a UUID`},
		{"no server configured is a usage error", newShell(t), []string{"events", "list"}, exitUsage, "no server"},
		{"an unknown event is an API error", sh, []string{"events", "get", "0190e0c1-0000-7000-8000-000000000000"}, exitAPI,
			"(404 from GET /events/0190e0c1-0000-7000-8000-000000000000, request id "},
		{"an invalid filter is an API error naming the field", sh, []string{"events", "list", "--event", " "}, exitAPI, "  event: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.sh.run(tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d, want %d; stderr %q, want it to contain %q", r.code, tc.code, r.stderr, tc.stderr)
			}
		})
	}
	t.Run("a server that cannot be reached is a network error", func(t *testing.T) {
		down := s.shell(t)
		down.vars["SWITCHYARD_SERVER"] = closedURL(t)
		r := down.run("events", "list", "--retries", "0")
		if r.code != exitNetwork || !strings.Contains(r.stderr, "connection refused") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		r = down.run("events", "send", "a", "-d", "{}", "--retries", "0")
		if r.code != exitNetwork {
			t.Fatalf("send: exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("the API error shows the message and request id once", func(t *testing.T) {
		r := sh.run("events", "get", "0190e0c1-0000-7000-8000-000000000000")
		if strings.Count(r.stderr, "switchyard:") != 1 || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("stderr %q", r.stderr)
		}
	})
}

func TestEveryClientCommandHasExamples(t *testing.T) {
	t.Parallel()
	parser, err := kong.New(&CLI{}, kong.Name("switchyard"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, leaf := range parser.Model.Leaves(true) {
		top := leaf
		for top.Parent != nil && top.Parent.Type != kong.ApplicationNode {
			top = top.Parent
		}
		if top.Group == nil || !strings.HasPrefix(top.Group.Title, "API client") {
			continue
		}
		n++
		if !strings.Contains(leaf.Detail, "Example") {
			t.Errorf("switchyard %s --help has no examples", leaf.Path())
		}
	}
	if n < 20 {
		t.Fatalf("found %d client commands; the group tag changed?", n)
	}
}
