package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func testConn(meta map[string]any) *switchyard.Connection {
	return &switchyard.Connection{ID: uuid.New(), Metadata: meta, UpdatedAt: t0, Active: true}
}

func newTestController() *controller {
	return newController(4, DefaultSchedule, breakerConfig{threshold: 3, cooldown: time.Second, maxCooldown: 4 * time.Second}, nil)
}

func TestControllerConcurrency(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	c := testConn(map[string]any{destination.KeyMaxConcurrency: 2.0})
	answer(t, ctl, c)
	if !ctl.acquire(c, t0) || !ctl.acquire(c, t0) {
		t.Fatal("could not take the connection's two slots")
	}
	if ctl.acquire(c, t0) {
		t.Fatal("took a third slot over max_concurrency 2")
	}
	// Saturated, it may still be claimed ahead for (ahead.go) up to twice its concurrency; once
	// that many are kept, claims skip it.
	if b := blockedIDs(ctl, t0); len(b) != 0 {
		t.Fatalf("blocked = %v, want none: the saturated connection may be claimed ahead for", b)
	}
	if b, _ := ctl.blocked(t0, map[uuid.UUID]int{c.ID: 3}); len(b) != 0 {
		t.Fatalf("blocked = %v, want none with 3 of 4 kept ahead", b)
	}
	if b, _ := ctl.blocked(t0, map[uuid.UUID]int{c.ID: 4}); len(b) != 1 || b[0] != c.ID {
		t.Fatalf("blocked = %v, want the saturated connection with 4 kept ahead", b)
	}
	ctl.release(c.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
	if len(blockedIDs(ctl, t0)) != 0 || !ctl.acquire(c, t0) {
		t.Fatal("a released slot was not available again")
	}
	other := testConn(nil)
	for range 4 {
		if !ctl.acquire(other, t0) {
			t.Fatal("the server default of 4 did not apply")
		}
	}
	if ctl.acquire(other, t0) {
		t.Fatal("took a fifth slot over the default of 4")
	}
}

func TestControllerSlowsDownOn429(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	c := testConn(map[string]any{destination.KeyMaxConcurrency: 8.0})
	ctl.acquire(c, t0)
	ctl.release(c.ID, switchyard.OutcomeRateLimited, true, 3*time.Second, 0, t0)
	if ctl.acquire(c, t0.Add(2*time.Second)) {
		t.Fatal("started an attempt during the 429 pause")
	}
	after := t0.Add(3 * time.Second)
	n := 0
	for ctl.acquire(c, after) {
		n++
	}
	if n != 4 {
		t.Fatalf("after a 429, %d slots; want the limit halved from 8 to 4", n)
	}
	// Successes grow the limit back, one step at a time.
	for range 4 {
		ctl.release(c.ID, switchyard.OutcomeDelivered, true, 0, 0, after)
	}
	if got := ctl.conns[c.ID].limit; got <= 4 || got > 8 {
		t.Fatalf("limit after four successes = %v, want between 4 and 8", got)
	}
}

func TestControllerRateLimit(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	c := testConn(map[string]any{destination.KeyRateLimitPerSecond: 2.0, destination.KeyMaxConcurrency: 100.0})
	n := 0
	for ctl.acquire(c, t0) {
		n++
		ctl.release(c.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
	}
	if n != 2 {
		t.Fatalf("%d attempts in the same instant, want the burst of 2", n)
	}
	if !ctl.acquire(c, t0.Add(500*time.Millisecond)) {
		t.Fatal("no token after half a second at 2/s")
	}
}

func TestControllerCircuitBreaker(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	c := testConn(nil)
	fail := func(at time.Time) time.Time {
		t.Helper()
		if !ctl.acquire(c, at) {
			t.Fatalf("could not start an attempt at %v", at.Sub(t0))
		}
		return ctl.release(c.ID, switchyard.OutcomeTimeout, true, 0, 0, at)
	}
	if !fail(t0).IsZero() || !fail(t0).IsZero() {
		t.Fatal("the circuit opened before the threshold")
	}
	// A refused request shows the destination answering: it resets the count of failures.
	ctl.acquire(c, t0)
	ctl.release(c.ID, switchyard.OutcomeRejectedClientError, true, 0, 0, t0)
	fail(t0)
	fail(t0)
	until := fail(t0)
	if !until.Equal(t0.Add(time.Second)) {
		t.Fatalf("third consecutive failure: defer until %v, want the 1 s cool-down", until)
	}
	if ctl.acquire(c, t0.Add(500*time.Millisecond)) {
		t.Fatal("attempt allowed while the circuit is open")
	}
	probeAt := t0.Add(time.Second)
	if !ctl.acquire(c, probeAt) {
		t.Fatal("no probe after the cool-down")
	}
	if ctl.acquire(c, probeAt) {
		t.Fatal("a second attempt while the probe is in flight")
	}
	until = ctl.release(c.ID, switchyard.OutcomeNetworkError, true, 0, 0, probeAt)
	if !until.Equal(probeAt.Add(2 * time.Second)) {
		t.Fatalf("failed probe: defer until %v, want the doubled 2 s cool-down", until.Sub(probeAt))
	}
	probeAt = probeAt.Add(2 * time.Second)
	if !ctl.acquire(c, probeAt) {
		t.Fatal("no second probe")
	}
	ctl.release(c.ID, switchyard.OutcomeDelivered, true, 0, 0, probeAt)
	for range 4 {
		if !ctl.acquire(c, probeAt) {
			t.Fatal("the closed circuit did not give back the full concurrency")
		}
	}
	if st := ctl.conns[c.ID]; st.state != closed || st.cooldown != time.Second {
		t.Fatalf("after a good probe: state %v cooldown %v, want closed and reset", st.state, st.cooldown)
	}
}

// A hanging destination fails every slot's attempt in one wave when the timeouts come: the
// circuit opens once, and only that opening asks for the waiting deliveries to be deferred
// (each deferral is a write; one per failure in the wave stalled the store's writer).
func TestControllerTimeoutWaveOpensOnce(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	c := testConn(nil)
	for range 4 {
		if !ctl.acquire(c, t0) {
			t.Fatal("could not fill the connection's 4 slots")
		}
	}
	wave := t0.Add(5 * time.Second)
	var defers []time.Time
	for i := range 4 {
		if until := ctl.release(c.ID, switchyard.OutcomeTimeout, true, 0, 0, wave.Add(time.Duration(i)*time.Millisecond)); !until.IsZero() {
			defers = append(defers, until)
		}
	}
	if len(defers) != 1 || !defers[0].Equal(wave.Add(2*time.Millisecond+time.Second)) {
		t.Fatalf("deferrals %v, want exactly one, at the third failure + the 1 s cool-down", defers)
	}
	if st := ctl.conns[c.ID]; st.inflight != 0 || !st.openTo.Equal(defers[0]) {
		t.Fatalf("inflight %d, open until %v: the late failure moved the cool-down", st.inflight, st.openTo)
	}
}

func TestControllerReadsNewSettings(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	c := testConn(map[string]any{destination.KeyRetrySchedule: "1s,2s"})
	if s := ctl.scheduleOf(c); len(s) != 2 || s[1] != 2*time.Second {
		t.Fatalf("schedule %v, want the connection's", s)
	}
	c.Metadata = map[string]any{}
	c.UpdatedAt = t0.Add(time.Minute)
	if s := ctl.scheduleOf(c); len(s) != len(DefaultSchedule) {
		t.Fatalf("after the connection changed, schedule %v, want the default", s)
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	s := []time.Duration{10 * time.Second, time.Minute}
	if d, ok := retryDelay(s, 1, 0); !ok || d < 9*time.Second || d > 11*time.Second {
		t.Fatalf("after attempt 1: %v %v, want 10 s ± 10 %%", d, ok)
	}
	if d, ok := retryDelay(s, 2, 5*time.Second); !ok || d != 5*time.Second {
		t.Fatalf("Retry-After 5 s: %v %v", d, ok)
	}
	if d, _ := retryDelay(s, 2, 5*time.Hour); d != MaxRetryAfter {
		t.Fatalf("Retry-After 5 h: %v, want the cap %v", d, MaxRetryAfter)
	}
	if _, ok := retryDelay(s, 3, 0); ok {
		t.Fatal("a retry after the schedule is spent")
	}
}

func TestControllerFindsStuckConnections(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	hung, busy := testConn(nil), testConn(nil)
	for range 4 {
		ctl.acquire(hung, t0)
		ctl.acquire(busy, t0)
	}
	// busy keeps finishing attempts (and starting new ones); hung finishes nothing.
	ctl.release(busy.ID, switchyard.OutcomeDelivered, true, 0, 0, t0.Add(2500*time.Millisecond))
	ctl.acquire(busy, t0.Add(2500*time.Millisecond))
	if got := ctl.toPark(t0.Add(time.Second), 2*time.Second, 5*time.Second, 5*time.Second); len(got) != 0 {
		t.Fatalf("stuck after 1 s: %v", got)
	}
	got := ctl.toPark(t0.Add(3*time.Second), 2*time.Second, 5*time.Second, 5*time.Second)
	if len(got) != 1 || got[0].id != hung.ID || !got[0].until.Equal(t0.Add(8*time.Second)) {
		t.Fatalf("stuck after 3 s = %v, want only the connection that finished nothing", got)
	}
	if again := ctl.toPark(t0.Add(4*time.Second), 2*time.Second, 5*time.Second, 5*time.Second); len(again) != 0 {
		t.Fatalf("parked connection reported again before its park ended: %v", again)
	}
	ctl.release(busy.ID, switchyard.OutcomeDelivered, true, 0, 0, t0.Add(7*time.Second))
	ctl.acquire(busy, t0.Add(7*time.Second))
	if again := ctl.toPark(t0.Add(8*time.Second), 2*time.Second, 5*time.Second, 5*time.Second); len(again) != 1 || again[0].id != hung.ID {
		t.Fatalf("after the park ended: %v, want it reported again", again)
	}
}

// Connections that cannot take an attempt for a while have their due deliveries parked until
// they can: an open circuit until it half-opens, a long 429 pause until it ends; each is
// reported again only after recheck, and not at all once it can take attempts again.
func TestControllerParksOpenCircuitsAndPauses(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	broken, limited, fine := testConn(nil), testConn(nil), testConn(nil)
	for range 3 {
		ctl.acquire(broken, t0)
		ctl.release(broken.ID, switchyard.OutcomeTimeout, true, 0, 0, t0)
	}
	ctl.acquire(limited, t0)
	ctl.release(limited.ID, switchyard.OutcomeRateLimited, true, 3*time.Second, 0, t0)
	ctl.acquire(fine, t0)
	ctl.release(fine.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)

	const recheck = 200 * time.Millisecond
	got := map[uuid.UUID]time.Time{}
	for _, p := range ctl.toPark(t0, time.Minute, 5*time.Second, recheck) {
		got[p.id] = p.until
	}
	if len(got) != 2 || !got[broken.ID].Equal(t0.Add(time.Second)) || !got[limited.ID].Equal(t0.Add(3*time.Second)) {
		t.Fatalf("parked %v, want the open circuit until its 1 s cool-down ends and the paused one until its 3 s pause ends", got)
	}
	if again := ctl.toPark(t0.Add(recheck/2), time.Minute, 5*time.Second, recheck); len(again) != 0 {
		t.Fatalf("reported again before recheck: %v", again)
	}
	again := ctl.toPark(t0.Add(900*time.Millisecond), time.Minute, 5*time.Second, recheck)
	if len(again) != 1 || again[0].id != limited.ID {
		t.Fatalf("at 0.9 s: %v, want only the paused connection (the circuit half-opens within recheck)", again)
	}
}

// Connections to one provider account share its documented rate, and a 429 that names the
// account pauses all of them; a connection of another account is not held back.
func TestControllerScopes(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	a, b, other := testConn(nil), testConn(nil), testConn(nil)
	ctl.setScope(a, "crm:portal:1", 2, 2) // 2 per second, burst 2
	ctl.setScope(b, "crm:portal:1", 2, 2)
	ctl.setScope(other, "crm:portal:2", 2, 2)
	if !ctl.acquire(a, t0) || !ctl.acquire(b, t0) {
		t.Fatal("the account's burst of 2 was not available")
	}
	if ctl.acquire(a, t0) || ctl.acquire(b, t0) {
		t.Fatal("a third attempt within the account's burst started")
	}
	if !ctl.acquire(other, t0) {
		t.Fatal("another account's connection was held back")
	}
	if !ctl.acquire(b, t0.Add(600*time.Millisecond)) {
		t.Fatal("the account's rate did not refill")
	}
	ctl.release(a.ID, switchyard.OutcomeRateLimited, true, 0, 0, t0)
	ctl.pauseScope("crm:portal:1", t0.Add(10*time.Second))
	blocked := map[uuid.UUID]bool{}
	for _, id := range blockedIDs(ctl, t0.Add(5*time.Second)) {
		blocked[id] = true
	}
	if !blocked[a.ID] || !blocked[b.ID] || blocked[other.ID] {
		t.Fatalf("blocked %v during the account's pause; want both of its connections and not the other", blocked)
	}
	if ctl.acquire(b, t0.Add(5*time.Second)) {
		t.Fatal("a connection of the paused account started an attempt")
	}
	if !ctl.acquire(b, t0.Add(11*time.Second)) {
		t.Fatal("the pause did not end")
	}
}

// The engine reports circuits that are not closed and connections paused after a 429.
func TestEngineHealth(t *testing.T) {
	t.Parallel()
	e := &Engine{ctl: newTestController()}
	broken, limited, fine := testConn(nil), testConn(nil), testConn(nil)
	for _, c := range []*switchyard.Connection{broken, limited, fine} {
		if !e.ctl.acquire(c, t0) {
			t.Fatal("could not start an attempt")
		}
	}
	for range 3 { // the threshold
		e.ctl.release(broken.ID, switchyard.OutcomeTimeout, true, 0, 0, t0)
		e.ctl.acquire(broken, t0)
	}
	e.ctl.release(limited.ID, switchyard.OutcomeRateLimited, true, 10*time.Second, 0, t0)
	e.ctl.release(fine.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
	hs, err := e.Health(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uuid.UUID]ConnectionHealth{}
	for _, h := range hs {
		got[h.ConnectionID] = h
	}
	if h, ok := got[broken.ID]; !ok || h.Circuit != "open" || !h.OpenUntil.After(t0) {
		t.Errorf("the broken connection: %+v", h)
	}
	if h, ok := got[limited.ID]; !ok || h.Circuit != "closed" || !h.PausedUntil.Equal(t0.Add(10*time.Second)) {
		t.Errorf("the rate-limited connection: %+v", h)
	}
	if _, ok := got[fine.ID]; ok || len(got) != 2 {
		t.Errorf("health lists %d connections, the healthy one included: %v", len(got), ok)
	}
}

func TestControllerRoomCapsClaimsOfBusyConnections(t *testing.T) {
	t.Parallel()
	ctl := newTestController() // default concurrency 4
	busy, idle := testConn(nil), testConn(nil)
	limited := testConn(map[string]any{destination.KeyRateLimitPerSecond: 2.0})
	if room, _, active := ctl.room(t0, 4, nil); len(room) != 0 || active != 0 {
		t.Fatalf("room = %v, active %d before any attempt, want none", room, active)
	}
	ctl.get(idle) // known, nothing in flight: the claim's own cap applies
	answer(t, ctl, busy)
	for range 3 {
		if !ctl.acquire(busy, t0) {
			t.Fatal("could not take a slot")
		}
	}
	if !ctl.acquire(limited, t0) {
		t.Fatal("could not take the rate-limited connection's first token")
	}
	// The busy connection may be claimed for up to twice its concurrency ahead (ahead.go): its 1
	// free slot and 8 more is more than the claim's own cap, so it is not listed. The rate-limited
	// one is never claimed ahead for.
	room, _, active := ctl.room(t0, 4, nil)
	if len(room) != 1 || room[limited.ID] != 1 {
		t.Fatalf("room = %v, want only the limited connection's 1 token left", room)
	}
	if active != 2 {
		t.Fatalf("active = %d, want the two connections with attempts in flight", active)
	}
	if _, _, active := ctl.room(t0.Add(2*time.Second), 4, nil); active != 2 {
		t.Fatalf("active = %d later, want the two still in flight", active)
	}
	if room, _, _ := ctl.room(t0, 4, map[uuid.UUID]int{busy.ID: 8}); len(room) != 2 || room[busy.ID] != 1 {
		t.Fatalf("room with 8 kept ahead = %v, want the busy connection's 1 free slot", room)
	}
	if !ctl.acquire(busy, t0) {
		t.Fatal("could not take the last slot")
	}
	if room, _, _ := ctl.room(t0, 4, map[uuid.UUID]int{busy.ID: 8}); room[busy.ID] != 0 || len(room) != 2 {
		t.Fatalf("room of a saturated connection with a full queue = %v, want 0", room)
	}
	if room, _, _ := ctl.room(t0, 4, map[uuid.UUID]int{busy.ID: 5}); room[busy.ID] != 3 {
		t.Fatalf("room of a saturated connection with 5 kept ahead = %d, want 3", room[busy.ID])
	}
	if n := ctl.claimsAhead(busy, t0); n != 8 {
		t.Fatalf("claimsAhead(busy) = %d, want twice its concurrency", n)
	}
	if n := ctl.claimsAhead(limited, t0); n != 0 {
		t.Fatalf("claimsAhead(limited) = %d, want 0", n)
	}
	if n := ctl.claimsAhead(idle, t0); n != 0 {
		t.Fatalf("claimsAhead(idle) = %d, want 0: nothing in flight to start it", n)
	}

	// An attempt that failed (below the breaker's threshold: the circuit stays closed) stops the
	// claiming ahead until one succeeds: the failing connection's slots may hang for a timeout.
	ctl.release(busy.ID, switchyard.OutcomeTimeout, true, 0, 0, t0)
	if !ctl.acquire(busy, t0) {
		t.Fatal("could not take the slot again")
	}
	if n := ctl.claimsAhead(busy, t0); n != 0 {
		t.Fatalf("claimsAhead(busy) after a timeout = %d, want 0", n)
	}
	ctl.release(busy.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
	if !ctl.acquire(busy, t0) {
		t.Fatal("could not take the slot again")
	}
	if n := ctl.claimsAhead(busy, t0); n != 8 {
		t.Fatalf("claimsAhead(busy) after a success = %d, want 8 again", n)
	}
}

// A busy connection's finish asks for a claim only once what is kept ahead for it has fallen to
// one concurrency's worth (ahead.go, aheadRefill): each claim then tops up at least that much,
// instead of the one or two deliveries finished since the last claim.
func TestControllerAsksForAClaimWhenTheAheadQueueRunsLow(t *testing.T) {
	t.Parallel()
	ctl := newTestController() // default concurrency 4: up to 8 kept ahead
	busy := testConn(nil)
	answer(t, ctl, busy)
	for range 4 {
		if !ctl.acquire(busy, t0) {
			t.Fatal("could not take a slot")
		}
	}
	asked := func() bool {
		select {
		case <-ctl.freed:
			return true
		default:
			return false
		}
	}
	for _, c := range []struct {
		kept int
		want bool
	}{{8, false}, {5, false}, {4, true}, {0, true}} {
		ctl.release(busy.ID, switchyard.OutcomeDelivered, true, 0, c.kept, t0)
		if got := asked(); got != c.want {
			t.Fatalf("finish with %d kept ahead asked for a claim: %v, want %v", c.kept, got, c.want)
		}
		if !ctl.acquire(busy, t0) { // the worker starts the next one kept
			t.Fatal("could not take the slot again")
		}
	}
	// A connection not claimed ahead for (its last attempt failed) asks at every finish of a
	// saturated slot, whatever is still kept (next hands that back).
	ctl.release(busy.ID, switchyard.OutcomeTimeout, true, 0, 0, t0)
	asked()
	if !ctl.acquire(busy, t0) {
		t.Fatal("could not take the slot again")
	}
	ctl.release(busy.ID, switchyard.OutcomeDelivered, true, 0, 8, t0)
	if !asked() {
		t.Fatal("a failing connection's finish did not ask for a claim")
	}
}

// answer makes one delivered attempt on c: a connection that has answered may be claimed ahead
// for (aheadMax).
func answer(t *testing.T, ctl *controller, c *switchyard.Connection) {
	t.Helper()
	if !ctl.acquire(c, t0) {
		t.Fatal("could not take a slot")
	}
	ctl.release(c.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
	select {
	case <-ctl.freed:
	default:
	}
}

// A connection that has not answered yet on this node is not claimed ahead for: a destination
// that hangs from its first request has no failure counted until its first timeout.
func TestControllerClaimsAheadOnlyForAConnectionThatHasAnswered(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		ctl := newTestController()
		ctl.shared = shared
		c := testConn(nil)
		for range 4 {
			if !ctl.take(c, t0, false) {
				t.Fatal("could not take a slot")
			}
		}
		if n := ctl.claimsAhead(c, t0); n != 0 {
			t.Fatalf("shared %v: %d may be claimed ahead for a connection that never answered, want 0", shared, n)
		}
		ctl.release(c.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
		ctl.take(c, t0, false)
		want := aheadDepth * 4
		if shared {
			want = sharedAheadDepth * 4
		}
		if n := ctl.claimsAhead(c, t0); n != want {
			t.Fatalf("shared %v: %d may be claimed ahead once it answered, want %d", shared, n, want)
		}
		if _, room, _ := ctl.room(t0, 4, map[uuid.UUID]int{c.ID: 3}); shared && room[c.ID] != want-3 {
			t.Fatalf("ahead room %v with 3 kept, want %d", room, want-3)
		}
	}
}
