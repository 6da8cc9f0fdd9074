package delivery

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestControllerForgetsIdleHealthyConnections(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	idle, busy, paused, broken := testConn(nil), testConn(nil), testConn(nil), testConn(nil)
	for _, c := range []*switchyard.Connection{idle, busy, paused, broken} {
		if !ctl.acquire(c, t0) {
			t.Fatal("could not take a slot")
		}
	}
	ctl.release(idle.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
	ctl.release(paused.ID, switchyard.OutcomeRateLimited, true, time.Minute, 0, t0)
	for range 3 {
		ctl.release(broken.ID, switchyard.OutcomeTimeout, true, 0, 0, t0)
		ctl.acquire(broken, t0)
	}
	later := t0.Add(30 * time.Second)
	if n := ctl.prune(later, t0.Add(-time.Minute)); n != 0 {
		t.Fatalf("pruned %d connections used after the idle cut-off", n)
	}
	if n := ctl.prune(later, t0.Add(time.Second)); n != 1 {
		t.Fatalf("pruned %d, want only the idle, healthy connection", n)
	}
	ctl.mu.Lock()
	_, idleKept := ctl.conns[idle.ID]
	kept := len(ctl.conns)
	ctl.mu.Unlock()
	if idleKept || kept != 3 {
		t.Fatalf("after pruning: idle kept %v, %d connections kept, want the busy, paused and open ones", idleKept, kept)
	}
	// A forgotten connection comes back as new, with its settings.
	if !ctl.acquire(idle, later) {
		t.Fatal("a pruned connection could not be used again")
	}
}

func TestControllerSharedLeavesLimitsToTheClaim(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	ctl.shared = true
	c := testConn(map[string]any{destination.KeyMaxConcurrency: 2.0, destination.KeyRateLimitPerSecond: 1.0})
	if !ctl.take(c, t0, false) || !ctl.take(c, t0, false) {
		t.Fatal("the rate limit was applied on the node: the claim draws on the cluster's budget")
	}
	if ctl.take(c, t0, false) {
		t.Fatal("took a third slot over the node's concurrency limit")
	}
	if !ctl.take(c, t0, true) {
		t.Fatal("the cluster's probe was refused")
	}

	// A connection the claim found saturated on the cluster is left out until it ends, or
	// until this node frees one of its slots.
	other := testConn(nil)
	ctl.take(other, t0, false)
	ctl.sharedBlocked(other.ID, t0.Add(time.Second), t0)
	if !contains(blockedIDs(ctl, t0), other) {
		t.Fatal("a connection saturated on the cluster was not left out of the claim")
	}
	if contains(blockedIDs(ctl, t0.Add(time.Second)), other) {
		t.Fatal("still left out after the claim's recheck time")
	}
	ctl.sharedBlocked(other.ID, t0.Add(time.Second), t0)
	ctl.release(other.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
	select {
	case <-ctl.freed:
	default:
		t.Fatal("freeing a slot of a connection saturated on the cluster did not ask for a claim")
	}
	if contains(blockedIDs(ctl, t0), other) {
		t.Fatal("still left out after this node freed a slot")
	}
	// A claim that began before one of the connection's attempts here finished may have
	// counted that slot as taken: its verdict is dropped, and the finish's claim looks again.
	// (The finish, the connection being neither full nor saturated then, did not ask for a
	// claim; the dropped verdict does.)
	ctl.take(other, t0, false)
	ctl.release(other.ID, switchyard.OutcomeDelivered, true, 0, 0, t0.Add(10*time.Millisecond))
	ctl.sharedBlocked(other.ID, t0.Add(time.Second), t0.Add(5*time.Millisecond))
	if contains(blockedIDs(ctl, t0.Add(20*time.Millisecond)), other) {
		t.Fatal("left out on the word of a claim older than the slot freed here")
	}
	select {
	case <-ctl.freed:
	default:
		t.Fatal("dropping a claim's stale verdict did not ask for another claim")
	}
	if ids, recheck := ctl.blocked(t0, nil); contains(ids, other) || !recheck.IsZero() {
		t.Fatalf("blocked %v, recheck %v: want no saturated connection", ids, recheck)
	}
	ctl.sharedBlocked(other.ID, t0.Add(time.Second), t0.Add(20*time.Millisecond))
	if _, recheck := ctl.blocked(t0.Add(30*time.Millisecond), nil); !recheck.Equal(t0.Add(time.Second)) {
		t.Fatalf("recheck at %v, want when the saturation's recheck is due", recheck)
	}
	ctl.release(other.ID, switchyard.OutcomeDelivered, true, 0, 0, t0.Add(40*time.Millisecond))
	<-ctl.freed

	// A connection this node never attempted is left out all the same, and then used normally.
	unseen := testConn(map[string]any{destination.KeyMaxConcurrency: 1.0})
	ctl.sharedBlocked(unseen.ID, t0.Add(time.Second), t0)
	if !contains(blockedIDs(ctl, t0), unseen) || contains(blockedIDs(ctl, t0.Add(time.Second)), unseen) {
		t.Fatal("a connection not yet attempted here was not left out until the claim's recheck time")
	}
	if !ctl.take(unseen, t0.Add(time.Second), false) || ctl.take(unseen, t0.Add(time.Second), false) {
		t.Fatal("a connection first seen blocked did not get its settings (max_concurrency 1) on first use")
	}

	// The cluster's circuits and pauses are followed.
	ctl.syncShared([]store.LimitState{{Key: store.LimitKeyConnection(other.ID), ConnectionID: other.ID,
		Circuit: store.CircuitOpen, OpenUntil: t0.Add(time.Minute)}})
	if !contains(blockedIDs(ctl, t0), other) {
		t.Fatal("a circuit open on the cluster was not followed")
	}
	if h := ctl.conns[other.ID]; h.state != open {
		t.Fatalf("state %v, want open", h.state)
	}
	ctl.syncShared(nil)
	if contains(blockedIDs(ctl, t0), other) {
		t.Fatal("a circuit closed on the cluster still blocks")
	}
	ctl.syncShared([]store.LimitState{{Key: store.LimitKeyConnection(other.ID), ConnectionID: other.ID,
		Circuit: store.CircuitClosed, PausedUntil: t0.Add(time.Minute)}})
	if !contains(blockedIDs(ctl, t0), other) {
		t.Fatal("a pause on the cluster was not followed")
	}
}

// blockedIDs is ctl.blocked's list alone.
func blockedIDs(ctl *controller, now time.Time) []uuid.UUID {
	ids, _ := ctl.blocked(now, nil)
	return ids
}

func contains(ids []uuid.UUID, c *switchyard.Connection) bool {
	for _, id := range ids {
		if id == c.ID {
			return true
		}
	}
	return false
}

func TestControllerSharedFinishAsksForAClaimOnlyWhenMoreMayBeDue(t *testing.T) {
	t.Parallel()
	ctl := newTestController()
	ctl.shared = true
	c := testConn(map[string]any{destination.KeyMaxConcurrency: 8.0})
	drained := func() bool {
		select {
		case <-ctl.freed:
			return false
		default:
			return true
		}
	}

	// The last claim took less than the cluster allowed: nothing more was due, and a finish
	// here need not claim (the poll and new events do).
	ctl.take(c, t0, false)
	ctl.release(c.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
	if !drained() {
		t.Fatal("a finish asked for a claim although the last claim left budget unused")
	}

	// The claim took the whole budget: the next finish asks, once.
	ctl.take(c, t0, false)
	ctl.take(c, t0, false)
	ctl.claimedFull(c.ID)
	ctl.release(c.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
	if drained() {
		t.Fatal("a finish after a claim that took the whole budget did not ask for a claim")
	}
	ctl.release(c.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
	if !drained() {
		t.Fatal("a second finish asked again before any claim ran")
	}

	// A connection first seen in a claim (no attempt started here yet) is remembered as full.
	unseen := testConn(map[string]any{destination.KeyMaxConcurrency: 1.0})
	ctl.claimedFull(unseen.ID)
	if !ctl.take(unseen, t0, false) || ctl.take(unseen, t0, false) {
		t.Fatal("a connection first seen full did not get its settings (max_concurrency 1) on first use")
	}
	ctl.release(unseen.ID, switchyard.OutcomeDelivered, true, 0, 0, t0)
	if drained() {
		t.Fatal("a finish of a connection first seen full did not ask for a claim")
	}
}
