package app_test

// Crash safety end to end (issue 4): the real switchyard binary is killed (SIGKILL) or stopped
// (SIGTERM) while it delivers, then started again on the same store. No accepted event may be
// lost, and a delivery made twice must carry the same delivery id both times so receivers can
// deduplicate. The helpers here (prefixed crash) are shared with twonode_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

func TestCrashKilledServerLosesNoEvent(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and runs thousands of events through crashes")
	}
	bin := crashBinary(t)
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		t.Run("every accepted event is delivered after a SIGKILL and a restart, under one delivery id", func(t *testing.T) {
			const events = 3000
			dbURL, key := d.NewURL(t), crashKey()
			creds := crashInit(t, bin, dbURL, key)
			recv := newCrashReceiver(t, func(int) time.Duration { return time.Duration(1+rand.IntN(3)) * time.Millisecond })
			// A short lease, so the deliveries the killed process had claimed come due again soon.
			flags := []string{"--delivery-lease", "3s", "--poll-interval", "50ms"}
			first := crashServe(t, bin, dbURL, key, flags...)
			crashRoute(t, &server{url: first.url, creds: creds}, recv.URL)

			var target crashTarget
			target.set(first.url)
			em := crashEmit(t, creds.PublishableKey, events, func(int) string { return target.get() })
			crashPoll(t, "the receiver to see a third of the events", 20*time.Second, func() bool {
				em.failNow(t)
				return recv.seen() >= events/3
			})
			target.set("")
			first.kill(t)
			acceptedAtKill, seenAtKill := em.count(), recv.seen()

			second := crashServe(t, bin, dbURL, key, flags...)
			target.set(second.url)
			accepted := em.wait(t, 30*time.Second)
			if len(accepted) != events {
				t.Fatalf("%d events accepted, want %d (every emission is retried until it is accepted)", len(accepted), events)
			}
			crashPoll(t, "the receiver to see every accepted event", 25*time.Second, func() bool {
				return recv.missing(accepted) == 0
			})
			crashAwaitCompleted(t, creds, accepted, func(int) string { return second.url }, 15*time.Second)
			dups := recv.checkStableIDs(t, accepted)
			t.Logf("killed with %d events accepted and %d received; after the restart %d of %d events were delivered "+
				"more than once (%d requests in all); warnings after the restart: %v",
				acceptedAtKill, seenAtKill, dups, len(accepted), recv.total(), second.log.warnings())
		})
	})
}

func TestCrashTermStoppedServerLeavesNothingInFlight(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and runs thousands of events through crashes")
	}
	bin := crashBinary(t)
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		t.Run("SIGTERM exits 0, every delivery in flight is finished or handed back, and all complete after a restart", func(t *testing.T) {
			const (
				events = 1500
				grace  = 2 * time.Second
			)
			dbURL, key := d.NewURL(t), crashKey()
			creds := crashInit(t, bin, dbURL, key)
			// A slow receiver, so many attempts are in flight; every 50th request before the restart
			// outlasts the shutdown grace, so some attempts must be handed back.
			var restarted atomic.Bool
			recv := newCrashReceiver(t, func(n int) time.Duration {
				if n%50 == 0 && !restarted.Load() {
					return 2*grace + time.Second
				}
				return 20 * time.Millisecond
			})
			// The lease is long on purpose: a delivery left "processing" by the stop would stay stuck
			// for a minute, past every deadline below, instead of healing quietly.
			flags := []string{"--delivery-lease", "1m", "--poll-interval", "50ms", "--shutdown-grace", grace.String(),
				"--workers", "64", "--connection-concurrency", "64"}
			first := crashServe(t, bin, dbURL, key, flags...)
			crashRoute(t, &server{url: first.url, creds: creds}, recv.URL)

			var target crashTarget
			target.set(first.url)
			em := crashEmit(t, creds.PublishableKey, events, func(int) string { return target.get() })
			crashPoll(t, "the receiver to see a third of the events", 20*time.Second, func() bool {
				em.failNow(t)
				return recv.seen() >= events/3
			})
			target.set("")
			inFlight, slowInFlight := recv.inFlightNow()
			termAt := time.Now()
			if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatalf("sending SIGTERM: %v", err)
			}
			if err := first.wait(t, 30*time.Second); err != nil {
				t.Fatalf("after SIGTERM switchyard exited with %v, want status 0\n%s", err, first.log.lastLines())
			}
			stoppedAt := time.Now()
			if slowInFlight > 0 && first.log.count("WARN", "shutdown grace period over") == 0 {
				t.Errorf("%d attempts outlasting the grace period were in flight at SIGTERM, but the server logged no hand-back\n%s",
					slowInFlight, first.log.lastLines())
			}

			// With no server running, nothing may be left claimed.
			acceptedAtStop := em.snapshot()
			statuses := crashCheckSettled(t, dbURL, creds.OrganizationID, acceptedAtStop, stoppedAt)
			if t.Failed() {
				t.Fatalf("the stopped server's warnings: %v\n%s", first.log.warnings(), first.log.lastLines())
			}

			restarted.Store(true)
			second := crashServe(t, bin, dbURL, key, flags...)
			target.set(second.url)
			accepted := em.wait(t, 30*time.Second)
			if len(accepted) != events {
				t.Fatalf("%d events accepted, want %d (every emission is retried until it is accepted)", len(accepted), events)
			}
			crashPoll(t, "the receiver to see every accepted event", 25*time.Second, func() bool {
				return recv.missing(accepted) == 0
			})
			crashAwaitCompleted(t, creds, accepted, func(int) string { return second.url }, 15*time.Second)
			dups := recv.checkStableIDs(t, accepted)
			t.Logf("SIGTERM with %d attempts in flight (%d slower than the grace period); exited 0 after %v; "+
				"deliveries of the %d events accepted by then: %v; %d of %d events delivered more than once; warnings: %v",
				inFlight, slowInFlight, stoppedAt.Sub(termAt).Round(time.Millisecond), len(acceptedAtStop), statuses,
				dups, len(accepted), first.log.warnings())
		})
	})
}

// crashCheckSettled opens the stopped server's store and checks each event's one delivery: none
// may be processing, and one not yet finished must be due by the time the server stopped (handed
// back, not waiting out a lease). It returns how many deliveries are in each status.
func crashCheckSettled(t *testing.T, dbURL string, orgID uuid.UUID, events []uuid.UUID, stoppedAt time.Time) map[switchyard.Status]int {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("opening the stopped server's store: %v", err)
	}
	defer st.Close()
	statuses := map[switchyard.Status]int{}
	var bad []string
	for _, id := range events {
		_, ds, err := st.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: orgID, ID: id})
		if err != nil {
			t.Fatalf("listing the deliveries of event %s: %v", id, err)
		}
		if len(ds) != 1 {
			bad = append(bad, fmt.Sprintf("event %s has %d deliveries, want 1", id, len(ds)))
			continue
		}
		d := ds[0]
		statuses[d.Status]++
		switch {
		case d.Status == switchyard.StatusProcessing:
			bad = append(bad, fmt.Sprintf("delivery %s is still processing (lease until %v)", d.ID, d.NextAttemptAt))
		case d.Status.Terminal():
		case d.NextAttemptAt == nil || d.NextAttemptAt.After(stoppedAt):
			bad = append(bad, fmt.Sprintf("delivery %s is %s but due only at %v, after the stop at %v",
				d.ID, d.Status, d.NextAttemptAt, stoppedAt))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d deliveries were not settled by the shutdown (statuses %v), e.g.:\n%s",
			len(bad), len(events), statuses, strings.Join(bad[:min(len(bad), 5)], "\n"))
	}
	return statuses
}

// crashKey returns a fresh encryption key, base64.
func crashKey() string { return base64.StdEncoding.EncodeToString(secret.GenerateKey()) }

// crashBin is the switchyard binary built for this test process. The first test that asks builds
// it and the last to finish removes it; tests that run together share one build. (A count rather
// than a bare sync.Once: the package has no TestMain that could remove the file at the very end,
// and adding one to a package others are editing invites a clash.)
var crashBin struct {
	mu    sync.Mutex
	dir   string
	users int
}

// crashBinary builds ./cmd/switchyard (from the module root, two levels up) if it is not built
// yet, and returns its path, valid until t ends.
func crashBinary(t *testing.T) string {
	t.Helper()
	crashBin.mu.Lock()
	defer crashBin.mu.Unlock()
	if crashBin.dir == "" {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			t.Fatalf("module root not found from %s: %v", root, err)
		}
		dir, err := os.MkdirTemp("", "switchyard-e2e-")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "switchyard"), "./cmd/switchyard")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			t.Fatalf("building switchyard: %v\n%s", err, out)
		}
		crashBin.dir = dir
	}
	crashBin.users++
	t.Cleanup(func() {
		crashBin.mu.Lock()
		defer crashBin.mu.Unlock()
		if crashBin.users--; crashBin.users == 0 {
			os.RemoveAll(crashBin.dir)
			crashBin.dir = ""
		}
	})
	return filepath.Join(crashBin.dir, "switchyard")
}

// crashEnv is the environment of a child: ours without SWITCHYARD_ settings, plus the key.
func crashEnv(key string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SWITCHYARD_") })
	return append(env, "SWITCHYARD_ENCRYPTION_KEY="+key)
}

// crashInit runs `switchyard init --json` on an empty store and returns the new credentials.
func crashInit(t *testing.T, bin, dbURL, key string) *app.Credentials {
	t.Helper()
	cmd := exec.Command(bin, "init", "--json", "--database-url", dbURL)
	cmd.Env = crashEnv(key)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("switchyard init: %v\n%s", err, stderr.Bytes())
	}
	var creds app.Credentials
	if err := json.Unmarshal(out, &creds); err != nil {
		t.Fatalf("switchyard init --json printed %q: %v", out, err)
	}
	if !creds.Created || creds.SecretKey == "" || creds.AccessKey == "" || creds.PublishableKey == "" ||
		creds.OrganizationID == uuid.Nil || creds.WorkspaceID == uuid.Nil {
		t.Fatalf("switchyard init --json on an empty store: %s", out)
	}
	return &creds
}

// crashChild is a running `switchyard serve`.
type crashChild struct {
	cmd    *exec.Cmd
	url    string
	log    *crashLog
	exited chan struct{} // closed once the process has exited and err is set
	err    error         // cmd.Wait's result
}

// crashServe starts `switchyard serve` on 127.0.0.1:0 with a JSON log and waits until it serves.
// The process is killed when t ends if it is still running.
func crashServe(t *testing.T, bin, dbURL, key string, flags ...string) *crashChild {
	t.Helper()
	// No rate limits: the tests emit and poll thousands of requests a second on purpose.
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json", "--allow-private-destinations",
		"--rate-limit-machine", "0", "--rate-limit-publishable", "0", "--metrics-addr", "", "--database-url", dbURL}, flags...)
	c := &crashChild{log: newCrashLog(), exited: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Env = crashEnv(key)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting switchyard serve: %v", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	})
	select {
	case addr := <-c.log.addr:
		c.url = "http://" + addr
	case <-c.exited:
		t.Fatalf("switchyard serve exited before serving: %v\n%s", c.err, c.log.lastLines())
	case <-time.After(20 * time.Second):
		t.Fatalf("switchyard serve did not report its address within 20s\n%s", c.log.lastLines())
	}
	return c
}

// wait waits for the process to exit and returns how it ended.
func (c *crashChild) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-c.exited:
		return c.err
	case <-time.After(within):
		t.Fatalf("switchyard serve still running %v later\n%s", within, c.log.lastLines())
		return nil
	}
}

// kill ends the process with SIGKILL and checks that the kill is what ended it.
func (c *crashChild) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing switchyard serve: %v\n%s", err, c.log.lastLines())
	}
	_ = c.wait(t, 10*time.Second)
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("switchyard serve ended with %v before it was killed\n%s", c.cmd.ProcessState, c.log.lastLines())
	}
}

// crashLog takes a process's JSON log: it reports the address of the "switchyard serving" line,
// counts warnings and errors by message, and keeps the last lines for failure messages.
type crashLog struct {
	addr chan string

	mu      sync.Mutex
	partial []byte
	tail    []string
	counts  map[string]int // "LEVEL: message" → lines
}

func newCrashLog() *crashLog { return &crashLog{addr: make(chan string, 1), counts: map[string]int{}} }

func (l *crashLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if l.tail = append(l.tail, line); len(l.tail) > 40 {
			l.tail = slices.Clone(l.tail[len(l.tail)-30:])
		}
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Addr  string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch {
		case rec.Msg == "switchyard serving":
			select {
			case l.addr <- rec.Addr:
			default:
			}
		case rec.Level == "WARN" || rec.Level == "ERROR":
			l.counts[rec.Level+": "+rec.Msg]++
		}
	}
}

// count returns how many lines of the level had a message starting with prefix.
func (l *crashLog) count(level, prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k, v := range l.counts {
		if strings.HasPrefix(k, level+": "+prefix) {
			n += v
		}
	}
	return n
}

func (l *crashLog) warnings() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.counts)
}

func (l *crashLog) lastLines() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return "last log lines:\n" + strings.Join(l.tail, "\n") + "\n" + string(l.partial)
}

// crashRoute creates, through s's API, a webhook connection to hookURL and a rule sending
// user.signup events to it, in the default workspace.
func crashRoute(t *testing.T, s *server, hookURL string) {
	t.Helper()
	var conn struct {
		Connection struct {
			ID uuid.UUID `json:"id"`
		} `json:"connection"`
	}
	if code := s.call(t, "POST", "/api/v1/connections", map[string]any{
		"workspace": s.creds.WorkspaceID, "type": "webhook", "name": "Crash receiver",
		"metadata": map[string]any{"url": hookURL, "skip_url_test": true},
	}, nil, &conn); code != http.StatusCreated || conn.Connection.ID == uuid.Nil {
		t.Fatalf("create connection: %d %+v", code, conn)
	}
	var rule struct {
		Rule struct {
			ID uuid.UUID `json:"id"`
		} `json:"rule"`
	}
	if code := s.call(t, "POST", "/api/v1/rules", map[string]any{
		"workspace": s.creds.WorkspaceID, "connection": conn.Connection.ID, "event": "user.signup",
		"metadata": map[string]any{"action": "send_webhook"},
	}, nil, &rule); code != http.StatusCreated || rule.Rule.ID == uuid.Nil {
		t.Fatalf("create rule: %d %+v", code, rule)
	}
}

// crashReceiver is a webhook endpoint that answers 200 after a delay and records every request
// by the envelope's event id (uuid) and its X-Meshes-Delivery-Id.
type crashReceiver struct {
	URL   string
	delay func(n int) time.Duration // the wait before answering the n-th request (from 1)

	mu         sync.Mutex
	requests   int
	events     map[uuid.UUID][]uuid.UUID // event id → the delivery id of each request for it
	deliveries map[uuid.UUID]int         // delivery id → requests
	inFlight   int
	slow       int // requests in flight that wait longer than a second
	malformed  []string
}

func newCrashReceiver(t *testing.T, delay func(n int) time.Duration) *crashReceiver {
	t.Helper()
	r := &crashReceiver{delay: delay, events: map[uuid.UUID][]uuid.UUID{}, deliveries: map[uuid.UUID]int{}}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.malformed) > 0 {
			t.Errorf("the receiver got %d malformed deliveries, e.g. %s", len(r.malformed), r.malformed[0])
		}
	})
	r.URL = srv.URL + "/hook"
	return r
}

func (r *crashReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return // the sender went away mid-request: this one was not received
	}
	var env struct {
		UUID uuid.UUID `json:"uuid"`
	}
	deliveryID, idErr := uuid.Parse(req.Header.Get("X-Meshes-Delivery-Id"))
	if err := json.Unmarshal(body, &env); err != nil || env.UUID == uuid.Nil || idErr != nil {
		r.mu.Lock()
		r.malformed = append(r.malformed, fmt.Sprintf("delivery id %q, body %.200s", req.Header.Get("X-Meshes-Delivery-Id"), body))
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	r.mu.Lock()
	r.requests++
	wait := r.delay(r.requests)
	slow := wait > time.Second
	r.events[env.UUID] = append(r.events[env.UUID], deliveryID)
	r.deliveries[deliveryID]++
	r.inFlight++
	if slow {
		r.slow++
	}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inFlight--
		if slow {
			r.slow--
		}
		r.mu.Unlock()
	}()
	// The receiver's own processing time, not a wait for something: it ends early if the
	// sender gives up.
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		w.WriteHeader(http.StatusOK)
	case <-req.Context().Done():
	}
}

// seen returns how many distinct events were received.
func (r *crashReceiver) seen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// total returns how many deliveries were received, repeats included.
func (r *crashReceiver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// inFlightNow returns the requests being answered now, and how many of those are slow ones.
func (r *crashReceiver) inFlightNow() (all, slow int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight, r.slow
}

// missing returns how many of the events were never received.
func (r *crashReceiver) missing(events []uuid.UUID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, id := range events {
		if len(r.events[id]) == 0 {
			n++
		}
	}
	return n
}

// checkStableIDs checks that every request for one event carried the same delivery id (one rule
// makes one delivery per event) and returns how many events were received more than once.
func (r *crashReceiver) checkStableIDs(t *testing.T, events []uuid.UUID) (repeated int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var bad []string
	for _, id := range events {
		got := r.events[id]
		if len(got) > 1 {
			repeated++
		}
		if ids := slices.Compact(slices.SortedFunc(slices.Values(got), func(a, b uuid.UUID) int {
			return bytes.Compare(a[:], b[:])
		})); len(ids) != 1 {
			bad = append(bad, fmt.Sprintf("event %s arrived under delivery ids %v", id, ids))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d events did not arrive under exactly one delivery id, e.g.:\n%s",
			len(bad), len(events), strings.Join(bad[:min(len(bad), 5)], "\n"))
	}
	return repeated
}

// crashTarget is the base URL of the server emissions go to, "" while none is running.
type crashTarget struct {
	mu  sync.Mutex
	url string
}

func (c *crashTarget) set(url string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.url = url
}

func (c *crashTarget) get() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.url
}

// crashEmitWorkers is how many goroutines emit at once.
const crashEmitWorkers = 16

// crashEmitter emits user.signup events with a publishable key from crashEmitWorkers goroutines.
// Event i goes to the server target(i) names. While it names none, or when a request fails in
// transit (the server was killed or stopped), the emitter tries again, so emission carries on
// across a restart. Only a 201's event id counts as accepted; any other status is an error.
type crashEmitter struct {
	done chan struct{}

	mu       sync.Mutex
	accepted []uuid.UUID
	errs     []error
}

func crashEmit(t *testing.T, publishableKey string, n int, target func(i int) string) *crashEmitter {
	t.Helper()
	e := &crashEmitter{done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: crashEmitWorkers}}
	next := make(chan int)
	var wg sync.WaitGroup
	for range crashEmitWorkers {
		wg.Go(func() {
			for i := range next {
				id, err := crashEmitOne(ctx, client, publishableKey, i, target)
				e.mu.Lock()
				if err != nil {
					e.errs = append(e.errs, err)
				} else {
					e.accepted = append(e.accepted, id)
				}
				e.mu.Unlock()
			}
		})
	}
	go func() {
		defer close(e.done)
	feed:
		for i := range n {
			select {
			case next <- i:
			case <-ctx.Done():
				break feed
			}
		}
		close(next)
		wg.Wait()
		cancel()
		client.CloseIdleConnections()
	}()
	t.Cleanup(func() {
		cancel()
		<-e.done
	})
	return e
}

func crashEmitOne(ctx context.Context, client *http.Client, publishableKey string, i int, target func(int) string) (uuid.UUID, error) {
	body := fmt.Sprintf(`{"event":"user.signup","resource":"user","resource_id":"usr_%d","payload":{"n":%d}}`, i, i)
	for {
		if err := ctx.Err(); err != nil {
			return uuid.Nil, fmt.Errorf("event %d was never accepted: %w", i, err)
		}
		base := target(i)
		if base == "" {
			crashPause(ctx, 5*time.Millisecond) // no server right now: poll for the next one
			continue
		}
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/events", strings.NewReader(body))
		if err != nil {
			return uuid.Nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Meshes-Publishable-Key", publishableKey)
		resp, err := client.Do(req)
		if err != nil {
			crashPause(ctx, 5*time.Millisecond) // the server went away: try again with whichever serves next
			continue
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			crashPause(ctx, 5*time.Millisecond)
			continue
		}
		if resp.StatusCode != http.StatusCreated {
			return uuid.Nil, fmt.Errorf("emitting event %d: %d %s", i, resp.StatusCode, raw)
		}
		var out struct {
			Event struct {
				ID uuid.UUID `json:"id"`
			} `json:"event"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || out.Event.ID == uuid.Nil {
			return uuid.Nil, fmt.Errorf("emitting event %d: 201 with %q", i, raw)
		}
		return out.Event.ID, nil
	}
}

// crashPause waits d or until ctx ends, between two tries of a poll.
func crashPause(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// count returns how many events have been accepted so far.
func (e *crashEmitter) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.accepted)
}

// snapshot returns the events accepted so far.
func (e *crashEmitter) snapshot() []uuid.UUID {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.accepted)
}

// failNow fails the test if an emission failed.
func (e *crashEmitter) failNow(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) > 0 {
		t.Fatalf("%d emissions failed, e.g. %v", len(e.errs), e.errs[0])
	}
}

// wait waits until every event was emitted and returns the accepted ids.
func (e *crashEmitter) wait(t *testing.T, within time.Duration) []uuid.UUID {
	t.Helper()
	select {
	case <-e.done:
	case <-time.After(within):
		t.Fatalf("emission not finished %v later (%d accepted)", within, e.count())
	}
	e.failNow(t)
	return e.snapshot()
}

// crashPoll polls cond until it holds, failing the test when within has passed.
func crashPoll(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, within, what, cond)
}

// crashAwaitCompleted reads every event through the API (event i from the server base(i)), with
// a few workers, until each is completed or within has passed, and reports those that are not.
func crashAwaitCompleted(t *testing.T, creds *app.Credentials, events []uuid.UUID, base func(i int) string, within time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(within)
	var (
		mu       sync.Mutex
		statuses = map[string]int{}
		examples []string
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				var (
					status string
					err    error
				)
				testutil.Poll(time.Until(deadline), func() bool {
					status, err = crashEventStatus(client, base(i), creds, events[i])
					return err == nil && status == "completed"
				})
				if err != nil {
					status = "error: " + err.Error()
				}
				mu.Lock()
				statuses[status]++
				if status != "completed" && len(examples) < 5 {
					examples = append(examples, events[i].String()+": "+status)
				}
				mu.Unlock()
			}
		})
	}
	for i := range events {
		next <- i
	}
	close(next)
	wg.Wait()
	if statuses["completed"] != len(events) {
		t.Errorf("%d of %d accepted events did not complete within %v (statuses %v), e.g. %v",
			len(events)-statuses["completed"], len(events), within, statuses, examples)
	}
}

// crashEventStatus returns an event's status from GET /api/v1/events/{id}.
func crashEventStatus(client *http.Client, base string, creds *app.Credentials, id uuid.UUID) (string, error) {
	tok, err := auth.Mint(creds.AccessKey, creds.SecretKey, creds.OrganizationID, time.Now(), 30*time.Second)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest("GET", base+"/api/v1/events/"+id.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET event: %d %s", resp.StatusCode, raw)
	}
	var ev struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return "", fmt.Errorf("GET event: %q: %w", raw, err)
	}
	return ev.Status, nil
}

// crashMetric returns the value of one sample (name with labels, as printed) from a server's
// GET /metrics, or an error when it is absent.
func crashMetric(base, sample string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s/metrics has no sample %s: %w", base, sample, errNoSample)
}

// errNoSample: the metric has no sample yet (a counter appears once it is first incremented).
var errNoSample = errors.New("no such sample")
