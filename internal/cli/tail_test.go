package cli

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/testutil"
)

// following waits until a tail has read its first page and says it is following.
func following(t *testing.T, stderr *testutil.SyncBuffer) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "tail to start following", func() bool {
		return strings.Contains(stderr.String(), "following events")
	})
}

func TestEventsTail(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	sh := s.shell(t)
	h := newHook(t, 204)
	_, rule := sh.routed(h, "order.paid")
	old := idFrom(t, sh.ok("events", "send", "order.paid", "-d", `{"order":0}`, "-o", "json"))

	t.Run("an event emitted after tail started shows within a second, then its delivery", func(t *testing.T) {
		stdout, stderr, stop := sh.start("events", "tail")
		following(t, stderr)
		id := idFrom(t, sh.ok("events", "send", "order.paid", "-d", `{"order":1}`, "-o", "json"))
		sent := time.Now()
		if !testutil.Poll(time.Second, func() bool { return strings.Contains(stdout.String(), id.String()) }) {
			t.Fatalf("the event was not shown within a second of being emitted; output so far:\n%s", stdout.String())
		}
		t.Logf("shown %v after the emit returned", time.Since(sent).Round(time.Millisecond))
		testutil.Eventually(t, 15*time.Second, "the delivery outcome line", func() bool {
			return strings.Contains(stdout.String(), "webhook via rule "+rule.String()+", 1 attempt  completed")
		})
		if code := stop(); code != 0 {
			t.Fatalf("tail stopped with exit %d: %s", code, stderr.String())
		}
		if strings.Contains(stdout.String(), old.String()) {
			t.Fatalf("an event from before tail started was shown without --last:\n%s", stdout.String())
		}
		if strings.Contains(stdout.String(), "\x1b[") {
			t.Fatal("colours on a pipe")
		}
	})

	t.Run("--last shows recent events first; jsonl gives the API's objects, failures included", func(t *testing.T) {
		h.status.Store(400)
		stdout, stderr, stop := sh.start("events", "tail", "--interval", "100ms", "--last", "1", "-o", "jsonl", "--event", "order.paid")
		following(t, stderr)
		id := idFrom(t, sh.ok("events", "send", "order.paid", "-d", `{"order":2}`, "-o", "json"))
		sh.ok("events", "send", "other.event", "-d", `{}`) // filtered out
		type line struct {
			Type    string    `json:"type"`
			ID      uuid.UUID `json:"id"`
			EventID uuid.UUID `json:"event_id"`
			Event   string    `json:"event"`
			Status  string    `json:"status"`
		}
		var lines []line
		testutil.Eventually(t, 15*time.Second, "the failed delivery in the stream", func() bool {
			lines = lines[:0]
			sc := bufio.NewScanner(strings.NewReader(stdout.String()))
			for sc.Scan() {
				var l line
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatalf("not JSON: %q", sc.Text())
				}
				lines = append(lines, l)
			}
			n := len(lines)
			return n > 0 && lines[n-1].Type == "rule" && lines[n-1].EventID == id && lines[n-1].Status == "failed"
		})
		stop()
		if lines[0].Type != "event" || lines[0].Event != "order.paid" || lines[0].ID == id {
			t.Fatalf("first line is not the most recent earlier event: %+v", lines)
		}
		for _, l := range lines {
			if l.Event != "order.paid" {
				t.Fatalf("the --event filter let %q through", l.Event)
			}
		}
	})

	t.Run("a terminal gets coloured outcomes", func(t *testing.T) {
		h.status.Store(204)
		term := *sh
		term.tty = true
		stdout, stderr, stop := term.start("events", "tail", "--interval", "100ms")
		following(t, stderr)
		sh.ok("events", "send", "order.paid", "-d", `{"order":3}`)
		testutil.Eventually(t, 15*time.Second, "a green completed", func() bool {
			return strings.Contains(stdout.String(), ansiGreen+"completed"+ansiReset)
		})
		stop()
	})

	t.Run("bad credentials end the tail with an API error", func(t *testing.T) {
		bad := *sh
		bad.vars = map[string]string{}
		for k, v := range sh.vars {
			bad.vars[k] = v
		}
		bad.vars["SWITCHYARD_SECRET_KEY"] = "wrong"
		if r := bad.run("events", "tail"); r.code != exitAPI {
			t.Fatalf("exit %d, %q", r.code, r.stderr)
		}
	})
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	sh := newShell(t)
	scripts := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		scripts[shell] = sh.ok("completion", shell)
		for _, want := range []string{"events", "send", "tail", "connections", "workspaces", "rotate-key", "output", "publishable-key", "jsonl"} {
			if !strings.Contains(scripts[shell], want) {
				t.Errorf("%s script lacks %q", shell, want)
			}
		}
	}
	if r := sh.run("completion", "powershell"); r.code != exitUsage {
		t.Fatalf("completion powershell: exit %d", r.code)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to run the bash script in")
	}
	complete := func(words ...string) string {
		t.Helper()
		// COMP_WORDS holds the words typed, the last one being completed.
		script := scripts["bash"] + `
COMP_WORDS=(` + strings.Join(quoteAll(words), " ") + `)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_switchyard
echo "${COMPREPLY[*]}"`
		out, err := exec.Command(bash, "--norc", "--noprofile", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"switchyard", "ev"}, "events"},
		{[]string{"switchyard", "events", "t"}, "tail"},
		{[]string{"switchyard", "events", "list", "--status", "f"}, "failed"},
		{[]string{"switchyard", "events", "list", "-o", ""}, "table json jsonl"},
		{[]string{"switchyard", "--help", "workspaces", "r"}, "rotate-key"},
		{[]string{"switchyard", "completion", "z"}, "zsh"},
		{[]string{"switchyard", "rules", "create", "--conn"}, "--connection"},
		{[]string{"switchyard", "events", "send", "--file", "x"}, ""}, // file names: bash's own (-o default)
	} {
		if got := complete(tc.words...); got != tc.want {
			t.Errorf("completing %q: %q, want %q", tc.words, got, tc.want)
		}
	}
}

func quoteAll(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = shellQuote(w)
	}
	return out
}

// TestCLIAlone is issue 14's "done means" for people: with the command line alone, create a
// webhook connection and a rule, send an event, see it delivered, and retry a failed delivery.
func TestCLIAlone(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	h := newHook(t, 204)
	sh := newShell(t)
	sh.stdin = s.creds.SecretKey
	sh.ok("login", "--server", s.url, "--access-key", s.creds.AccessKey, "--org", s.creds.OrganizationID.String(), "--secret-key-stdin")
	sh.stdin = ""

	// The server sends a test request to the URL when the connection is created.
	conn := idFrom(t, sh.ok("connections", "create", "--type", "webhook", "--name", "Receiver", "--set", "url="+h.srv.URL+"/in", "-o", "json"))
	if h.requests.Load() != 1 {
		t.Fatalf("the receiver got %d requests when the connection was created, want its test request", h.requests.Load())
	}
	rule := idFrom(t, sh.ok("rules", "create", "--connection", conn.String(), "--event", "contact.created", "--action", "send_webhook", "-o", "json"))

	out := sh.ok("events", "send", "contact.created", "-d", `{"email":"ada@example.com"}`, "--wait", "15s")
	if !strings.Contains(out, "1/1 delivered") || !strings.Contains(out, rule.String()) {
		t.Fatalf("events send --wait: %s", out)
	}

	h.status.Store(400)
	r := sh.run("events", "send", "contact.created", "-d", `{"email":"grace@example.com"}`, "--wait", "15s", "-o", "json")
	if r.code != exitFailure || !strings.Contains(r.stderr, "1 of 1 deliveries failed") {
		t.Fatalf("a refused delivery: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	failed := idFrom(t, r.stdout)
	if out := sh.ok("events", "list", "--status", "failed"); !strings.Contains(out, failed.String()) {
		t.Fatalf("events list --status failed: %s", out)
	}

	h.status.Store(204)
	sh.ok("events", "retry", failed.String())
	sh.waitStatus(failed, "completed")
	out = sh.ok("events", "get", failed.String(), "--attempts")
	if !strings.Contains(out, "delivered") || !strings.Contains(out, "rejected_client_error") {
		t.Fatalf("attempts after the retry: %s", out)
	}
}
