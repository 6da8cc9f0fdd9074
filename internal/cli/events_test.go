package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/testutil"
)

// eventOut is an event as the commands print it with --output json.
type eventOut struct {
	ID         uuid.UUID `json:"id"`
	Event      string    `json:"event"`
	Status     string    `json:"status"`
	Resource   string    `json:"resource"`
	ResourceID string    `json:"resource_id"`
	RuleEvents []struct {
		Rule         uuid.UUID `json:"rule"`
		Status       string    `json:"status"`
		AttemptCount int       `json:"attempt_count"`
	} `json:"rule_events"`
	Payload json.RawMessage `json:"payload"`
}

func (sh *shell) event(id uuid.UUID) *eventOut {
	sh.t.Helper()
	var ev eventOut
	if err := json.Unmarshal([]byte(sh.ok("events", "get", id.String(), "-o", "json")), &ev); err != nil {
		sh.t.Fatal(err)
	}
	return &ev
}

// waitStatus polls the event until it has the status.
func (sh *shell) waitStatus(id uuid.UUID, status string) {
	sh.t.Helper()
	testutil.Eventually(sh.t, 15*time.Second, "event "+id.String()+" to be "+status, func() bool {
		return sh.event(id).Status == status
	})
}

// routed creates a webhook connection to h and a rule for event, with the CLI.
func (sh *shell) routed(h *hook, event string) (conn, rule uuid.UUID) {
	sh.t.Helper()
	conn = idFrom(sh.t, sh.ok("connections", "create", "--type", "webhook", "--name", "Hook", "--set", "url="+h.srv.URL+"/hook",
		"--metadata", `{"skip_url_test":true}`, "-o", "json"))
	rule = idFrom(sh.t, sh.ok("rules", "create", "--connection", conn.String(), "--event", event, "--action", "send_webhook", "-o", "json"))
	return conn, rule
}

func TestEventsSend(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	sh := s.shell(t)
	h := newHook(t, 204)
	sh.routed(h, "order.paid")

	t.Run("the payload comes from a flag, a file or standard input", func(t *testing.T) {
		var n normalizer
		out := sh.ok("events", "send", "order.paid", "--payload", `{"order":1}`, "--resource", "order", "--resource-id", "1")
		golden(t, &n, "events_send_table", out)

		file := filepath.Join(t.TempDir(), "payload.json")
		if err := os.WriteFile(file, []byte(`{"order":2}`), 0o600); err != nil {
			t.Fatal(err)
		}
		id2 := idFrom(t, sh.ok("events", "send", "order.paid", "-f", file, "-o", "json"))

		piped := *sh
		piped.stdin = `{"order":3}`
		id3 := idFrom(t, piped.ok("events", "send", "order.paid", "-o", "json"))
		for id, want := range map[uuid.UUID]string{id2: `{"order":2}`, id3: `{"order":3}`} {
			var ev eventOut
			if err := json.Unmarshal([]byte(sh.ok("events", "get", id.String(), "--payload", "-o", "json")), &ev); err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, ev.Payload); err != nil || compact.String() != want {
				t.Fatalf("event %s payload %s, want %s", id, ev.Payload, want)
			}
		}
	})

	t.Run("bad payloads are usage errors, before anything is sent", func(t *testing.T) {
		for _, args := range [][]string{
			{"events", "send", "order.paid", "--payload", `[1]`},
			{"events", "send", "order.paid", "--payload", `{"a":`},
			{"events", "send", "order.paid"}, // a terminal on stdin: no payload
			{"events", "send", "--payload", `{}`},
			{"events", "send", "order.paid", "--payload", `{}`, "--file", "x.json"},
		} {
			if r := sh.run(args...); r.code != exitUsage {
				t.Errorf("%v: exit %d (%s), want %d", args, r.code, r.stderr, exitUsage)
			}
		}
	})

	t.Run("--wait shows the deliveries once they finished", func(t *testing.T) {
		var n normalizer
		out := sh.ok("events", "send", "order.paid", "-d", `{"order":4}`, "--wait", "15s")
		golden(t, &n, "events_send_wait_table", out)
	})

	t.Run("an idempotency key answers a repeat with the first event", func(t *testing.T) {
		a := sh.run("events", "send", "order.paid", "-d", `{"order":5}`, "--idempotency-key", "order-5", "-o", "json")
		b := sh.run("events", "send", "order.paid", "-d", `{"order":5}`, "--idempotency-key", "order-5", "-o", "json")
		if a.code != 0 || b.code != 0 || idFrom(t, a.stdout) != idFrom(t, b.stdout) || !strings.Contains(b.stderr, "used before") {
			t.Fatalf("first %+v\nrepeat %+v", a, b)
		}
	})

	t.Run("a publishable key emits into its workspace without a machine key", func(t *testing.T) {
		var ws struct {
			PublishableKey struct {
				PublicKey string `json:"public_key"`
			} `json:"publishable_key"`
		}
		if err := json.Unmarshal([]byte(sh.ok("workspaces", "get", s.creds.WorkspaceID.String(), "-o", "json")), &ws); err != nil {
			t.Fatal(err)
		}
		browser := newShell(t)
		browser.vars["SWITCHYARD_SERVER"] = s.url
		browser.vars["SWITCHYARD_PUBLISHABLE_KEY"] = ws.PublishableKey.PublicKey
		id := idFrom(t, browser.ok("events", "send", "order.paid", "-d", `{"order":6}`, "-o", "json"))
		if ev := sh.event(id); ev.Event != "order.paid" {
			t.Fatalf("event emitted with the publishable key: %+v", ev)
		}
		// With a machine key configured too, --publishable-key chooses the publishable key.
		id = idFrom(t, sh.ok("events", "send", "order.paid", "-d", `{}`, "--publishable-key", ws.PublishableKey.PublicKey, "-o", "json"))
		if sh.event(id).Event != "order.paid" {
			t.Fatal("the event sent with --publishable-key is missing")
		}
		if r := browser.run("events", "list"); r.code != exitUsage || !strings.Contains(r.stderr, "no machine key") {
			t.Fatalf("events list with only a publishable key: exit %d, %q", r.code, r.stderr)
		}
	})
}

func TestEventsSendBulk(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	sh := s.shell(t)
	var lines []string
	for i := range 250 {
		lines = append(lines, `{"event":"signup","payload":{"n":`+string(rune('0'+i%10))+`}}`)
	}
	lines = append(lines, `{"n":"bare"}`, `not json`, `{"event":"","payload":{}}`, ``)
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("good lines are accepted, bad ones reported by line, and the exit code says some were refused", func(t *testing.T) {
		r := sh.run("events", "send", "signup", "--bulk", file)
		if r.code != exitAPI || !strings.Contains(r.stdout, "Accepted 251 events, refused 2.") ||
			!strings.Contains(r.stderr, "line 252: not a JSON object") || !strings.Contains(r.stderr, "line 253: ") {
			t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, "\r") {
			t.Fatal("a progress line was drawn on a stderr that is not a terminal")
		}
		var page struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal([]byte(sh.ok("events", "list", "--event", "signup", "--all", "--limit", "200", "-o", "json")), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Records) != 251 {
			t.Fatalf("%d signup events stored, want 251", len(page.Records))
		}
	})

	t.Run("jsonl reports every line; a terminal gets a progress line with the rate", func(t *testing.T) {
		term := *sh
		term.tty = true
		term.stdin = strings.Join(lines[:120], "\n")
		r := term.run("events", "send", "--bulk", "-", "-o", "jsonl")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if n := strings.Count(r.stdout, "\n"); n != 120 {
			t.Fatalf("%d jsonl lines, want 120", n)
		}
		if !strings.Contains(r.stderr, "\r120 events sent, 0 refused, ") || !strings.Contains(r.stderr, "events/s") {
			t.Fatalf("no progress line on a terminal: %q", r.stderr)
		}
	})

	t.Run("json reports the counts and the errors", func(t *testing.T) {
		r := sh.run("events", "send", "signup", "--bulk", file, "-o", "json")
		var rep struct {
			Accepted, Refused int
			Errors            []struct{ Line int }
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Accepted != 251 || rep.Refused != 2 || len(rep.Errors) != 2 || rep.Errors[0].Line != 252 {
			t.Fatalf("exit %d, %s (%v)", r.code, r.stdout, err)
		}
	})
}

func TestEventsListGetRetryCancel(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	sh := s.shell(t)
	h := newHook(t, 204)
	_, rule := sh.routed(h, "order.paid")
	var ids []uuid.UUID
	for _, p := range []string{`{"order":1}`, `{"order":2}`} {
		ids = append(ids, idFrom(t, sh.ok("events", "send", "order.paid", "-d", p, "--resource", "order", "--resource-id", "7", "-o", "json")))
	}
	ids = append(ids, idFrom(t, sh.ok("events", "send", "unrouted", "-d", `{}`, "-o", "json")))
	for _, id := range ids[:2] {
		sh.waitStatus(id, "completed")
	}

	t.Run("list, with filters, as a table and as JSON", func(t *testing.T) {
		var n normalizer
		golden(t, &n, "events_list_table", sh.ok("events", "list"))
		n = normalizer{}
		golden(t, &n, "events_list_json", sh.ok("events", "list", "--event", "order.paid", "-o", "json"))
		out := sh.ok("events", "list", "--resource", "order", "--resource-id", "7", "--status", "completed", "--workspace",
			s.creds.WorkspaceID.String(), "-o", "jsonl")
		if strings.Count(out, "\n") != 2 {
			t.Fatalf("filtered list: %s", out)
		}
		if out := sh.ok("events", "list", "--status", "failed", "-o", "jsonl"); out != "" {
			t.Fatalf("no event failed, yet: %s", out)
		}
		r := sh.run("events", "list", "--limit", "1")
		if r.code != 0 || strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stderr, "--cursor ") {
			t.Fatalf("one page of one: %+v", r)
		}
		if r := sh.run("events", "list", "--limit", "500"); r.code != exitUsage {
			t.Fatalf("--limit 500: exit %d", r.code)
		}
		if r := sh.run("events", "list", "--status", "lost"); r.code != exitUsage {
			t.Fatalf("--status lost: exit %d", r.code)
		}
	})

	t.Run("colours only on a terminal without NO_COLOR", func(t *testing.T) {
		term := *sh
		term.tty = true
		if out := term.ok("events", "list", "--event", "order.paid"); !strings.Contains(out, ansiGreen+"completed"+ansiReset) {
			t.Fatalf("no colour on a terminal: %q", out)
		}
		term.vars = map[string]string{"NO_COLOR": "1"}
		for k, v := range sh.vars {
			term.vars[k] = v
		}
		if out := term.ok("events", "list"); strings.Contains(out, "\x1b[") {
			t.Fatalf("colour despite NO_COLOR: %q", out)
		}
		if out := sh.ok("events", "list"); strings.Contains(out, "\x1b[") {
			t.Fatalf("colour on a pipe: %q", out)
		}
	})

	t.Run("get shows the deliveries, the payload and the attempts", func(t *testing.T) {
		var n normalizer
		golden(t, &n, "events_get_table", sh.ok("events", "get", ids[0].String(), "--payload"))
		out := sh.ok("events", "get", ids[0].String(), "--attempts")
		if !strings.Contains(out, "ATTEMPT") || !strings.Contains(out, "delivered") {
			t.Fatalf("get --attempts: %s", out)
		}
		var ev struct {
			Attempts []struct {
				OutcomeCode string `json:"outcome_code"`
			} `json:"attempts"`
		}
		if err := json.Unmarshal([]byte(sh.ok("events", "get", ids[0].String(), "--attempts", "-o", "json")), &ev); err != nil ||
			len(ev.Attempts) != 1 || ev.Attempts[0].OutcomeCode != "delivered" {
			t.Fatalf("get --attempts -o json: %+v (%v)", ev, err)
		}
	})

	t.Run("cancel stops a delivery that is retrying; retry delivers it", func(t *testing.T) {
		h.status.Store(500)
		id := idFrom(t, sh.ok("events", "send", "order.paid", "-d", `{"order":9}`, "-o", "json"))
		testutil.Eventually(t, 15*time.Second, "the delivery to be retrying", func() bool {
			ev := sh.event(id)
			return len(ev.RuleEvents) == 1 && ev.RuleEvents[0].Status == "retrying"
		})
		out := sh.ok("events", "cancel", id.String())
		if !strings.Contains(out, "canceled") {
			t.Fatalf("cancel: %s", out)
		}
		if ev := sh.event(id); ev.RuleEvents[0].Status != "canceled" {
			t.Fatalf("after cancel: %+v", ev)
		}
		h.status.Store(204)
		out = sh.ok("events", "retry", id.String())
		if !strings.Contains(out, rule.String()) || !strings.Contains(out, "pending") {
			t.Fatalf("retry: %s", out)
		}
		sh.waitStatus(id, "completed")
		r := sh.run("events", "retry", id.String(), "--rule", rule.String())
		if r.code != exitAPI || !strings.Contains(r.stderr, "409") {
			t.Fatalf("retry of a completed delivery: exit %d, %q", r.code, r.stderr)
		}
		r = sh.run("events", "retry", id.String())
		if r.code != exitFailure || !strings.Contains(r.stderr, "no failed or canceled delivery") {
			t.Fatalf("retry with nothing to retry: exit %d, %q", r.code, r.stderr)
		}
	})
}

// TestEventsSendRetriesSafely loses the server's answer to the first emit (a proxy forwards the
// request, then answers 502): the command retries and the event is still stored once, thanks to
// the idempotency key it gave the event.
func TestEventsSendRetriesSafely(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	target, err := url.Parse(s.url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var lost atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/events") && lost.Add(1) == 1 {
			proxy.ServeHTTP(httptest.NewRecorder(), r) // the server accepts it; the answer is lost
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	sh := s.shell(t)
	sh.vars["SWITCHYARD_SERVER"] = front.URL

	for _, args := range [][]string{
		{"events", "send", "lost.answer", "-d", `{}`, "--retries", "1", "-o", "json"},
		{"events", "send", "--bulk", "-", "--retries", "1"},
	} {
		lost.Store(0)
		sh.stdin = ""
		if args[2] == "--bulk" {
			sh.stdin = `{"event":"lost.bulk","payload":{}}` + "\n" + `{"event":"lost.bulk","payload":{}}`
		}
		sh.ok(args...)
		if lost.Load() < 2 {
			t.Fatalf("%v: the command did not retry (%d requests)", args, lost.Load())
		}
	}
	sh.stdin = ""
	for event, want := range map[string]int{"lost.answer": 1, "lost.bulk": 2} {
		out := sh.ok("events", "list", "--event", event, "-o", "jsonl")
		if n := strings.Count(out, "\n"); n != want {
			t.Errorf("%d %s events stored, want %d:\n%s", n, event, want, out)
		}
	}
}
