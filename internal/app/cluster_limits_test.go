package app_test

// Per-connection limits across nodes (docs/delivery.md, "Limits across nodes"): three `serve`
// processes of the built binary on one PostgreSQL store must together respect each connection's
// max_concurrency, rate_limit_per_second, a 429's pause and an open circuit, and lose nothing
// when one of them is SIGKILLed mid-load.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

func TestClusterLimitsHoldAcrossThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers and runs for about a minute")
	}
	t.Parallel()
	top := t                          // processes started in subtests must outlive them
	dbURL := storetest.PostgresURL(t) // skips without TEST_DATABASE_URL
	bin := crashBinary(t)
	key := crashKey()
	creds := crashInit(t, bin, dbURL, key)
	// A lease short enough for the killed node's deliveries to come back soon, long enough that
	// a live node stalled by a busy machine does not lose its leases (which would make repeats
	// that the test would blame on the kill).
	flags := []string{"--delivery-lease", "10s", "--poll-interval", "50ms"}
	// A small pool per node: three nodes must fit beside whatever else uses the test server.
	nodeURL := dbURL + "&pool_max_conns=8"
	var nodes clusterNodes
	for range 3 {
		nodes.add(crashServe(t, bin, nodeURL, key, flags...))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range 3 {
				t.Logf("node %d: %s", i+1, nodes.child(i).log.lastLines())
			}
		}
	})
	api := &server{url: nodes.url(0), creds: creds}
	recv := newClusterReceiver(t)
	st, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// The circuit goes first: its cool-down (30 s) runs while the other limits are checked.
	circuitConn := clusterRoute(t, api, recv.url("/circuit"), "circuit.test", map[string]any{"max_concurrency": 4})
	recv.failing.Store(true)
	clusterEmitAll(t, creds.PublishableKey, "circuit.test", 40, nodes.url)
	// openedAt is when the test first saw the circuit open in the database: from then on, no
	// node's claim may take an attempt (one claimed just before may still be sending).
	var openedAt, openUntil time.Time
	testutil.Eventually(t, 30*time.Second, "the circuit to open", func() bool {
		ls, err := st.LimitList(context.Background(), store.LimitListParams{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if l.ConnectionID == circuitConn && l.Circuit == store.CircuitOpen {
				openUntil, openedAt = l.OpenUntil, time.Now()
				return true
			}
		}
		return false
	})

	t.Run("max_concurrency holds for the cluster, and a SIGKILL loses nothing", func(t *testing.T) {
		const events = 1500
		clusterRoute(t, api, recv.url("/busy"), "user.signup", map[string]any{"max_concurrency": 4})
		em := crashEmit(t, creds.PublishableKey, events, func(i int) string { return nodes.pick(i) })
		testutil.Eventually(t, 30*time.Second, "the receiver to see a third of the events", func() bool {
			em.failNow(t)
			return recv.stats("/busy").events() >= events/3
		})
		nodes.remove(1)
		nodes.child(1).kill(t)
		killedAt, killedAfter := recv.stats("/busy").events(), recv.stats("/busy").requests()
		nodes.replace(1, crashServe(top, bin, nodeURL, key, flags...))
		accepted := em.wait(t, 45*time.Second)
		if len(accepted) != events {
			t.Fatalf("%d events accepted, want %d", len(accepted), events)
		}
		busy := recv.stats("/busy")
		testutil.Eventually(t, 60*time.Second, "the receiver to see every accepted event", func() bool {
			return busy.missing(accepted) == 0
		})
		crashAwaitCompleted(t, creds, accepted, func(i int) string { return nodes.pick(i) }, 30*time.Second)
		dups, mixed := busy.repeats(accepted)
		if mixed > 0 {
			t.Errorf("%d events arrived under more than one delivery id", mixed)
		}
		// Only what the killed node held could be delivered twice: its attempts in flight (at most
		// max_concurrency across the cluster) and those answered whose outcome it had not written
		// yet (a claim does not count them: their slots are free). Each was first sent before the
		// kill; an event first sent after it and repeated would be a duplicate of the survivors'.
		if late := busy.repeatedAfter(accepted, killedAfter); late > 0 {
			t.Errorf("%d events first sent after the kill were delivered twice", late)
		}
		if m := busy.maxInFlight(); m > 4 {
			t.Errorf("the receiver saw %d requests at once, over the connection's max_concurrency 4", m)
		}
		t.Logf("%d events; killed a node after %d had arrived; %d delivered twice (all first sent before the kill); at most %d requests at once",
			len(accepted), killedAt, dups, busy.maxInFlight())
	})

	t.Run("rate_limit_per_second holds for the cluster", func(t *testing.T) {
		const (
			events = 500
			rate   = 50
			window = 5 * time.Second
		)
		clusterRoute(t, api, recv.url("/rate"), "rate.test", map[string]any{"rate_limit_per_second": rate})
		clusterEmitAll(t, creds.PublishableKey, "rate.test", events, nodes.url)
		// The bucket holds one second's worth: a second after the backlog is complete it is
		// empty, and stays so while the backlog lasts (10 s at 50/s).
		start := time.Now().Add(time.Second)
		s := recv.stats("/rate")
		testutil.Eventually(t, 40*time.Second, "every rate-limited delivery", func() bool { return s.events() >= events })
		times := s.times()
		// The backlog lasts about 10 s from the first delivery; on a busy machine emitting takes
		// part of that, so the window ends at the last delivery if that comes first — but it must
		// still be long enough for 10 % to mean something.
		w := window
		if last := times[len(times)-1]; last.Before(start.Add(w)) {
			w = last.Sub(start)
		}
		if w < 2*time.Second {
			t.Fatalf("the last delivery arrived %v after the measured window began: the load did not saturate it for 2 s", w)
		}
		n := 0
		for _, at := range times {
			if !at.Before(start) && at.Before(start.Add(w)) {
				n++
			}
		}
		got := float64(n) / w.Seconds()
		if got > rate*1.1 {
			t.Errorf("%d requests in %v = %.1f/s across three nodes, over %d/s + 10%%", n, w.Round(time.Millisecond), got, rate)
		}
		dups, _ := s.repeats(nil)
		t.Logf("rate limit %d/s: %.1f/s measured over %v across three nodes (%d requests for %d events, %d repeated)", rate, got, w.Round(time.Millisecond),
			len(times), s.events(), dups)
	})

	t.Run("a 429 pauses every node", func(t *testing.T) {
		const events = 300
		conn := clusterRoute(t, api, recv.url("/pause"), "pause.test", map[string]any{"max_concurrency": 4})
		recv.tooManyAt.Store(30) // the 30th request is answered 429, Retry-After: 3
		// Watch for the pause in the database: from the moment it is there no node may claim an
		// attempt; only the (at most max_concurrency) attempts claimed before may still arrive.
		var seenAt, pausedUntil time.Time
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			testutil.Poll(40*time.Second, func() bool {
				ls, err := st.LimitList(context.Background(), store.LimitListParams{Now: time.Now()})
				for _, l := range ls {
					if err == nil && l.ConnectionID == conn && !l.PausedUntil.IsZero() {
						seenAt, pausedUntil = time.Now(), l.PausedUntil
						return true
					}
				}
				return false
			})
		}()
		clusterEmitAll(t, creds.PublishableKey, "pause.test", events, nodes.url)
		s := recv.stats("/pause")
		testutil.Eventually(t, 40*time.Second, "every paused delivery", func() bool { return s.ok() >= events })
		<-watched
		if s.tooManyAt().IsZero() || seenAt.IsZero() {
			t.Fatalf("429 answered at %v, pause seen in the database at %v: want both", s.tooManyAt(), seenAt)
		}
		if n := s.between(seenAt, pausedUntil); n > 4 {
			t.Errorf("%d requests arrived during the pause (%v to %v), want at most the 4 claimed before it", n,
				seenAt.Format(time.StampMilli), pausedUntil.Format(time.StampMilli))
		}
		t.Logf("429 answered at %v; pause in the database from %v until %v: %d requests then; %d in all", s.tooManyAt().Format(time.StampMilli),
			seenAt.Format(time.StampMilli), pausedUntil.Format(time.StampMilli), s.between(seenAt, pausedUntil), len(s.times()))
	})

	t.Run("an open circuit stops every node but for one probe", func(t *testing.T) {
		s := recv.stats("/circuit")
		// At most the 4 (max_concurrency) claimed before the circuit opened may arrive after.
		if n := s.between(openedAt, openUntil); n > 4 {
			var at []string
			for _, a := range s.times() {
				at = append(at, a.Sub(openedAt).Round(time.Millisecond).String())
			}
			t.Errorf("%d requests arrived while the circuit was open (%v to %v); arrivals after the opening was seen: %v",
				n, openedAt, openUntil, at)
		}
		testutil.Eventually(t, 20*time.Second, "the half-open probe", func() bool { return s.between(openUntil, openUntil.Add(time.Hour)) > 0 })
		probeSeen := time.Now()
		// Give any second probe the time to show up: it must not.
		testutil.Eventually(t, 10*time.Second, "two seconds after the probe", func() bool { return time.Since(probeSeen) > 2*time.Second })
		if n := s.between(openUntil, openUntil.Add(time.Hour)); n != 1 {
			t.Errorf("%d requests after the cool-down, want the one probe (which failed and reopened the circuit)", n)
		}
		ls, err := st.LimitList(context.Background(), store.LimitListParams{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		reopened := slices.ContainsFunc(ls, func(l store.LimitState) bool {
			return l.ConnectionID == circuitConn && l.Circuit == store.CircuitOpen && l.OpenUntil.After(openUntil.Add(45*time.Second))
		})
		if !reopened {
			t.Errorf("after the failed probe the limits are %+v, want the circuit open again for twice as long", ls)
		}
		for i := range 3 {
			t.Logf("node %d warnings: %v", i+1, nodes.child(i).log.warnings())
		}
		t.Logf("circuit open %v–%v: %d requests before, %d while open, %d after", openedAt.Format(time.StampMilli), openUntil.Format(time.StampMilli),
			s.between(time.Time{}, openedAt), s.between(openedAt, openUntil), s.between(openUntil, openUntil.Add(time.Hour)))
	})
}

// clusterNodes is the running nodes; emissions go to the live ones.
type clusterNodes struct {
	mu       sync.Mutex
	children []*crashChild
	down     map[int]bool
}

func (n *clusterNodes) add(c *crashChild) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.children = append(n.children, c)
}

func (n *clusterNodes) child(i int) *crashChild {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.children[i]
}

func (n *clusterNodes) url(i int) string { return n.child(i % 3).url }

// remove takes node i out of the emissions' targets.
func (n *clusterNodes) remove(i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down == nil {
		n.down = map[int]bool{}
	}
	n.down[i] = true
}

// replace puts a new process in node i's place.
func (n *clusterNodes) replace(i int, c *crashChild) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.children[i] = c
	delete(n.down, i)
}

// pick returns a live node's URL for emission i.
func (n *clusterNodes) pick(i int) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k := range len(n.children) {
		j := (i + k) % len(n.children)
		if !n.down[j] {
			return n.children[j].url
		}
	}
	return ""
}

// clusterRoute creates a webhook connection to hookURL with extra metadata and a rule sending
// the event to it, and returns the connection's id.
func clusterRoute(t *testing.T, s *server, hookURL, event string, meta map[string]any) uuid.UUID {
	t.Helper()
	md := map[string]any{"url": hookURL, "skip_url_test": true}
	for k, v := range meta {
		md[k] = v
	}
	var conn struct {
		Connection struct {
			ID uuid.UUID `json:"id"`
		} `json:"connection"`
		Message string `json:"message"`
	}
	if code := s.call(t, "POST", "/api/v1/connections", map[string]any{
		"workspace": s.creds.WorkspaceID, "type": "webhook", "name": "Cluster " + strings.ReplaceAll(event, ".", " "), "metadata": md,
	}, nil, &conn); code != http.StatusCreated || conn.Connection.ID == uuid.Nil {
		t.Fatalf("create connection: %d %+v", code, conn)
	}
	if code := s.call(t, "POST", "/api/v1/rules", map[string]any{
		"workspace": s.creds.WorkspaceID, "connection": conn.Connection.ID, "event": event,
		"metadata": map[string]any{"action": "send_webhook"},
	}, nil, nil); code != http.StatusCreated {
		t.Fatalf("create rule: %d", code)
	}
	return conn.Connection.ID
}

// clusterEmitAll emits n events named name through the three nodes (event i to node(i)) with a
// few workers and returns once all are accepted.
func clusterEmitAll(t *testing.T, publishableKey, name string, n int, node func(i int) string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var (
		wg   sync.WaitGroup
		errs = make(chan error, n)
		next = make(chan int)
	)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				body := fmt.Sprintf(`{"event":%q,"resource":"user","resource_id":"usr_%d","payload":{"n":%d}}`, name, i, i)
				req, err := http.NewRequestWithContext(ctx, "POST", node(i)+"/api/v1/events", strings.NewReader(body))
				if err != nil {
					errs <- err
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Meshes-Publishable-Key", publishableKey)
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("event %d: %d %s", i, resp.StatusCode, raw)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("emitting %s: %v", name, err)
	}
}

// clusterReceiver is a loopback webhook endpoint with one record per path: when each request
// arrived, the requests in flight at once, and (by event) the delivery ids received.
type clusterReceiver struct {
	srv *httptest.Server
	// failing makes /circuit answer 500; tooManyAt makes the n-th request to /pause a 429.
	failing   atomic.Bool
	tooManyAt atomic.Int64

	mu    sync.Mutex
	paths map[string]*pathStats
}

type pathStats struct {
	mu       sync.Mutex
	arrivals []time.Time
	inFlight int
	most     int
	okCount  int
	tooMany  time.Time
	byEvent  map[uuid.UUID][]uuid.UUID
	first    map[uuid.UUID]int // each event's first arrival (1: the first request of the path)
}

func newClusterReceiver(t *testing.T) *clusterReceiver {
	t.Helper()
	r := &clusterReceiver{paths: map[string]*pathStats{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *clusterReceiver) url(path string) string { return r.srv.URL + path }

func (r *clusterReceiver) stats(path string) *pathStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.paths[path]
	if s == nil {
		s = &pathStats{byEvent: map[uuid.UUID][]uuid.UUID{}, first: map[uuid.UUID]int{}}
		r.paths[path] = s
	}
	return s
}

func (r *clusterReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	var env struct {
		UUID uuid.UUID `json:"uuid"`
	}
	_ = json.Unmarshal(body, &env)
	deliveryID, _ := uuid.Parse(req.Header.Get("X-Meshes-Delivery-Id"))
	s := r.stats(req.URL.Path)
	s.mu.Lock()
	s.arrivals = append(s.arrivals, time.Now())
	n := len(s.arrivals)
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	s.byEvent[env.UUID] = append(s.byEvent[env.UUID], deliveryID)
	if _, ok := s.first[env.UUID]; !ok {
		s.first[env.UUID] = n
	}
	s.mu.Unlock()
	status, wait := http.StatusOK, time.Millisecond
	switch {
	case req.URL.Path == "/busy":
		wait = 10 * time.Millisecond
	case req.URL.Path == "/circuit" && r.failing.Load():
		status = http.StatusInternalServerError
	case req.URL.Path == "/pause" && int64(n) == r.tooManyAt.Load():
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", "3")
	}
	// The receiver's own processing time; it ends early if the sender gives up.
	timer := time.NewTimer(wait)
	select {
	case <-timer.C:
	case <-req.Context().Done():
	}
	timer.Stop()
	s.mu.Lock()
	s.inFlight--
	switch status {
	case http.StatusOK:
		s.okCount++
	case http.StatusTooManyRequests:
		s.tooMany = time.Now()
	}
	s.mu.Unlock()
	w.WriteHeader(status)
}

func (s *pathStats) events() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byEvent)
}

func (s *pathStats) ok() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.okCount
}

func (s *pathStats) maxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.most
}

func (s *pathStats) tooManyAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tooMany
}

// times returns the arrival times, in order.
func (s *pathStats) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.arrivals)
}

// between counts the requests that arrived in [from, to).
func (s *pathStats) between(from, to time.Time) int {
	n := 0
	for _, at := range s.times() {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// missing counts the events never received.
func (s *pathStats) missing(events []uuid.UUID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range events {
		if len(s.byEvent[id]) == 0 {
			n++
		}
	}
	return n
}

// requests is how many requests the path has received.
func (s *pathStats) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrivals)
}

// repeatedAfter is how many of events arrived more than once having first arrived after the
// path's request number after.
func (s *pathStats) repeatedAfter(events []uuid.UUID, after int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range events {
		if len(s.byEvent[id]) > 1 && s.first[id] > after {
			n++
		}
	}
	return n
}

// repeats counts the events received more than once, and those received under more than one
// delivery id.
func (s *pathStats) repeats(events []uuid.UUID) (dups, mixed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if events == nil {
		for id := range s.byEvent {
			events = append(events, id)
		}
	}
	for _, id := range events {
		got := s.byEvent[id]
		if len(got) > 1 {
			dups++
		}
		if len(slices.Compact(slices.SortedFunc(slices.Values(got), func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) }))) > 1 {
			mixed++
		}
	}
	return dups, mixed
}
