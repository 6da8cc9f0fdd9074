package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RunLimits is the conformance suite of the limits that hold across nodes: shared claims
// (concurrency from leased rows, the rate budget, pauses and the circuit with its one probe) and
// the limit rows the nodes write.
func RunLimits(t *testing.T, open func(t *testing.T) store.Store) {
	// setup inserts a connection with metadata and n due deliveries to it.
	setup := func(t *testing.T, s store.Store, meta map[string]any, n int) *switchyard.Connection {
		t.Helper()
		tn := NewTenant(t, s)
		c := NewConnection(tn.Workspace)
		for k, v := range meta {
			c.Metadata[k] = v
		}
		if err := s.ConnectionInsert(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		NewRule(t, s, tn, RuleOpts{Event: "limited", Connection: c})
		for i := range n {
			NewEvent(t, s, tn, EventOpts{Name: "limited", CreatedAt: T0.Add(time.Duration(i) * time.Millisecond)})
		}
		return c
	}
	claim := func(t *testing.T, s store.Store, at time.Time) []*store.Claimed {
		t.Helper()
		cs, err := s.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: at, LeaseUntil: at.Add(time.Minute),
			Limit: 100, PerConnection: 16, Shared: true})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	complete := func(t *testing.T, s store.Store, c *store.Claimed, at time.Time) {
		t.Helper()
		if err := RecordDelivery(context.Background(), s, store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID,
			LeaseUntil: c.LeaseUntil, Status: switchyard.StatusCompleted, Now: at, EventTotalRules: 1,
			Attempt: &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID,
				Number: 1, StartedAt: at, CompletedAt: at, Outcome: switchyard.OutcomeDelivered, HTTPStatus: 200}}); err != nil {
			t.Fatal(err)
		}
	}
	now := T0.Add(time.Minute)

	t.Run("Shared claims take max_concurrency minus what is leased on any node", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		setup(t, s, map[string]any{"max_concurrency": float64(3)}, 10)
		if cs := claim(t, s, now); len(cs) != 3 {
			t.Fatalf("first claim took %d, want max_concurrency 3", len(cs))
		}
		second := claim(t, s, now)
		if len(second) != 0 {
			t.Fatalf("a second claimer took %d while 3 are leased, want 0", len(second))
		}
		cs := claim(t, s, now)
		if len(cs) != 0 {
			t.Fatalf("took %d, want 0", len(cs))
		}
		// One finishes: exactly one slot is free.
		all := claim(t, s, now.Add(2*time.Minute)) // the leases ran out: the rows are due again and not in flight
		if len(all) != 3 {
			t.Fatalf("after the leases expired a claim took %d, want 3", len(all))
		}
		later := now.Add(2 * time.Minute)
		complete(t, s, all[0], later)
		if cs := claim(t, s, later); len(cs) != 1 {
			t.Fatalf("after one of 3 finished a claim took %d, want 1", len(cs))
		}
	})

	t.Run("Deliveries the claimer settled but has not recorded do not hold a slot", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		setup(t, s, map[string]any{"max_concurrency": float64(3)}, 10)
		first := claim(t, s, now)
		if len(first) != 3 {
			t.Fatalf("first claim took %d, want 3", len(first))
		}
		// Two attempts finished; their outcomes are still on their way to the table.
		settled := []uuid.UUID{first[0].Delivery.ID, first[1].Delivery.ID}
		called := 0
		var full []uuid.UUID
		cs, err := s.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute),
			Limit: 100, PerConnection: 16, Shared: true, Settled: func() []uuid.UUID { called++; return settled },
			Full: func(id uuid.UUID) { full = append(full, id) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 2 || called != 1 {
			t.Fatalf("took %d with 2 of 3 leases settled (Settled called %d times), want 2", len(cs), called)
		}
		// It took all the connection allowed (5 more are due): the claimer is told.
		if len(full) == 0 || full[len(full)-1] != cs[0].Delivery.ConnectionID {
			t.Fatalf("Full told of %v after a claim that took the whole budget, want the connection", full)
		}
		// Once written, they are gone from the table's count and from the list alike: the
		// connection is full again (the third first claim and the two new ones).
		complete(t, s, first[0], now)
		complete(t, s, first[1], now)
		if cs := claim(t, s, now); len(cs) != 0 {
			t.Fatalf("took %d with 3 leased, want 0", len(cs))
		}
	})

	t.Run("A shared claim takes Ahead beyond the budget, which every other claim counts as taken", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := setup(t, s, map[string]any{"max_concurrency": float64(2)}, 12)
		claimAhead := func(ahead int, settled []uuid.UUID) ([]*store.Claimed, []*store.Claimed, []uuid.UUID) {
			t.Helper()
			var full []uuid.UUID
			cs, err := s.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute),
				Limit: 100, PerConnection: 16, Shared: true, Ahead: map[uuid.UUID]int{c.ID: ahead},
				Settled: func() []uuid.UUID { return settled }, Full: func(id uuid.UUID) { full = append(full, id) }})
			if err != nil {
				t.Fatal(err)
			}
			var start, kept []*store.Claimed
			for _, cl := range cs {
				if cl.Ahead {
					kept = append(kept, cl)
				} else {
					start = append(start, cl)
				}
			}
			return start, kept, full
		}
		running, kept, full := claimAhead(4, nil)
		if len(running) != 2 || len(kept) != 4 || len(full) != 1 {
			t.Fatalf("took %d to start and %d ahead (Full %v), want 2, 4 and the connection", len(running), len(kept), full)
		}
		for _, k := range kept {
			for _, r := range running {
				if bytes.Compare(k.Delivery.ID[:], r.Delivery.ID[:]) < 0 {
					t.Fatal("a delivery kept ahead is older than one to start now: the oldest start first")
				}
			}
		}
		// Another node (not listing them) counts all six as taken.
		if cs := claim(t, s, now); len(cs) != 0 {
			t.Fatalf("another claimer took %d while 2 run and 4 are kept, want 0", len(cs))
		}
		// The keeper lists what it keeps: the two running hold the slots, nothing to start,
		// and it may keep more.
		var keptIDs []uuid.UUID
		for _, k := range kept {
			keptIDs = append(keptIDs, k.Delivery.ID)
		}
		start, more, _ := claimAhead(3, keptIDs)
		if len(start) != 0 || len(more) != 3 {
			t.Fatalf("the keeper took %d to start and %d ahead, want 0 and 3", len(start), len(more))
		}
		for _, m := range more {
			keptIDs = append(keptIDs, m.Delivery.ID)
		}
		// One attempt finished (settled) and handed its slot over to the first kept: still
		// two running, nothing to start.
		handed := append([]uuid.UUID{running[0].Delivery.ID}, keptIDs[1:]...)
		if start, _, _ := claimAhead(0, handed); len(start) != 0 {
			t.Fatalf("took %d to start after a slot was handed over, want 0", len(start))
		}
		// Finished with nothing handed over: one slot is free.
		vacated := append([]uuid.UUID{running[0].Delivery.ID}, keptIDs...)
		if start, _, _ := claimAhead(0, vacated); len(start) != 1 {
			t.Fatalf("took %d to start after a slot was vacated, want 1", len(start))
		}
	})

	t.Run("A shared claim gives no Ahead to a rate-limited or paused connection", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		rated := setup(t, s, map[string]any{"max_concurrency": float64(2), "rate_limit_per_second": float64(100)}, 6)
		paused := setup(t, s, map[string]any{"max_concurrency": float64(2)}, 6)
		if err := s.LimitPause(context.Background(), store.LimitPauseParams{Key: store.LimitKeyConnection(paused.ID), Until: now.Add(time.Minute), Now: now}); err != nil {
			t.Fatal(err)
		}
		cs, err := s.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute),
			Limit: 100, PerConnection: 16, Shared: true, Ahead: map[uuid.UUID]int{rated.ID: 4, paused.ID: 4}})
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range cs {
			if cl.Ahead || cl.Delivery.ConnectionID == paused.ID {
				t.Fatalf("claimed %v (ahead %v): want only the rate-limited connection's two, none ahead", cl.Delivery.ConnectionID, cl.Ahead)
			}
		}
		if len(cs) != 2 {
			t.Fatalf("took %d, want the rate-limited connection's max_concurrency of 2", len(cs))
		}
	})

	t.Run("A shared claim that took less than the connection allowed does not report it full", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		setup(t, s, map[string]any{"max_concurrency": float64(5)}, 2)
		var full []uuid.UUID
		cs, err := s.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute),
			Limit: 100, PerConnection: 16, Shared: true, Full: func(id uuid.UUID) { full = append(full, id) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 2 || len(full) != 0 {
			t.Fatalf("took %d of 2 due (limit 5), Full told of %v: want 2 and none", len(cs), full)
		}
	})

	t.Run("Concurrent shared claimers never lease more than max_concurrency together", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		setup(t, s, map[string]any{"max_concurrency": float64(4)}, 150)
		var (
			mu              sync.Mutex
			leased, most    int // a lower bound of what is leased: taken off before each record starts
			claimed, rounds int
			wg              sync.WaitGroup
		)
		for range 12 {
			wg.Go(func() {
				for range 25 {
					at := time.Now()
					cs, err := s.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: at, LeaseUntil: at.Add(time.Hour),
						Limit: 100, PerConnection: 16, Shared: true})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					leased += len(cs)
					most = max(most, leased)
					claimed += len(cs)
					rounds++
					mu.Unlock()
					for _, c := range cs {
						mu.Lock()
						leased--
						mu.Unlock()
						complete(t, s, c, time.Now())
					}
				}
			})
		}
		wg.Wait()
		if most > 4 || claimed == 0 {
			t.Fatalf("12 concurrent claimers had up to %d deliveries of a connection with max_concurrency 4 leased at once (%d claimed in %d claims)",
				most, claimed, rounds)
		}
	})

	t.Run("The rate budget is shared: a burst of the rate, then one per interval", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		setup(t, s, map[string]any{"rate_limit_per_second": float64(5)}, 40)
		if cs := claim(t, s, now); len(cs) != 5 {
			t.Fatalf("first claim took %d, want the burst of 5", len(cs))
		}
		if cs := claim(t, s, now); len(cs) != 0 {
			t.Fatalf("an immediate second claim took %d, want 0", len(cs))
		}
		if cs := claim(t, s, now.Add(400*time.Millisecond)); len(cs) != 2 {
			t.Fatalf("400 ms later a claim took %d, want 2 (5/s)", len(cs))
		}
		if cs := claim(t, s, now.Add(400*time.Millisecond)); len(cs) != 0 {
			t.Fatalf("a repeated claim took %d, want 0", len(cs))
		}
		if cs := claim(t, s, now.Add(10*time.Second)); len(cs) != 5 {
			t.Fatalf("after a long idle spell a claim took %d, want the burst of 5, not more", len(cs))
		}
	})

	// The API refuses rates below destination.MinRatePerSecond; one stored before it did is
	// read as that minimum. (A rate of 1e-300 made the interval overflow into 1 µs: no limit.)
	for _, tiny := range []float64{1e-300, 1e-12} {
		t.Run(fmt.Sprintf("A rate below the smallest (%g) still limits", tiny), func(t *testing.T) {
			t.Parallel()
			s := open(t)
			setup(t, s, map[string]any{"rate_limit_per_second": tiny}, 10)
			if cs := claim(t, s, now); len(cs) != 1 {
				t.Fatalf("first claim took %d, want the burst of 1", len(cs))
			}
			for _, later := range []time.Duration{0, time.Second, 10 * time.Minute} {
				if cs := claim(t, s, now.Add(later)); len(cs) != 0 {
					t.Fatalf("a claim %s later took %d, want 0", later, len(cs))
				}
			}
			if cs := claim(t, s, now.Add(1001*time.Second)); len(cs) != 1 {
				t.Fatalf("a claim 1,001 s later took %d, want 1", len(cs))
			}
		})
	}

	t.Run("A pause stops shared claims until it ends and is never shortened", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := setup(t, s, nil, 5)
		ctx := context.Background()
		key := store.LimitKeyConnection(c.ID)
		if err := s.LimitPause(ctx, store.LimitPauseParams{Key: key, Until: now.Add(10 * time.Second), Now: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.LimitPause(ctx, store.LimitPauseParams{Key: key, Until: now.Add(time.Second), Now: now}); err != nil {
			t.Fatal(err)
		}
		if cs := claim(t, s, now.Add(5*time.Second)); len(cs) != 0 {
			t.Fatalf("a paused connection's claim took %d", len(cs))
		}
		ls, err := s.LimitList(ctx, store.LimitListParams{Now: now})
		if err != nil || len(ls) != 1 || ls[0].ConnectionID != c.ID || !ls[0].PausedUntil.Equal(now.Add(10*time.Second)) {
			t.Fatalf("limits %+v (err %v), want the connection paused until +10s", ls, err)
		}
		if err := s.LimitPause(ctx, store.LimitPauseParams{Key: "", Until: now, Now: now}); err == nil {
			t.Fatal("a pause without a key was accepted")
		}
		if cs := claim(t, s, now.Add(10*time.Second)); len(cs) != 5 {
			t.Fatalf("after the pause a claim took %d, want 5", len(cs))
		}
	})

	t.Run("Each claim honours the limits of every connection it takes from, whichever the claim before it took from", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		a := setup(t, s, map[string]any{"max_concurrency": float64(2)}, 4)
		if cs := claim(t, s, now); len(cs) != 2 {
			t.Fatalf("first claim took %d, want a's max_concurrency 2", len(cs))
		}
		// Connections the first claim never saw: one paused, one with max_concurrency 1.
		paused := setup(t, s, nil, 2)
		if err := s.LimitPause(ctx, store.LimitPauseParams{Key: store.LimitKeyConnection(paused.ID), Until: now.Add(time.Hour), Now: now}); err != nil {
			t.Fatal(err)
		}
		one := setup(t, s, map[string]any{"max_concurrency": float64(1)}, 3)
		blocked := map[uuid.UUID]bool{}
		cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 100, PerConnection: 16,
			Shared: true, Blocked: func(id uuid.UUID, _ time.Time) { blocked[id] = true }})
		if err != nil {
			t.Fatal(err)
		}
		took := map[uuid.UUID]int{}
		for _, c := range cs {
			took[c.Delivery.ConnectionID]++
		}
		if len(cs) != 1 || took[one.ID] != 1 {
			t.Fatalf("second claim took %v, want one delivery of one's (max_concurrency 1), none of a's (saturated) or paused's", took)
		}
		if len(blocked) != 2 || !blocked[a.ID] || !blocked[paused.ID] {
			t.Fatalf("connections reported blocked %v, want a (saturated) and paused", blocked)
		}
	})

	t.Run("An open circuit lets exactly one probe through for the whole cluster", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := setup(t, s, nil, 10)
		ctx := context.Background()
		op := store.CircuitOpenParams{ConnectionID: c.ID, Cooldown: 30 * time.Second, MaxCooldown: 45 * time.Second, Now: now}
		res, err := s.CircuitOpen(ctx, op)
		if err != nil || !res.Opened || !res.OpenUntil.Equal(now.Add(30*time.Second)) {
			t.Fatalf("opening: %+v (err %v)", res, err)
		}
		op.Now = now.Add(time.Second)
		if res, err := s.CircuitOpen(ctx, op); err != nil || res.Opened || !res.OpenUntil.Equal(now.Add(30*time.Second)) {
			t.Fatalf("a second node's opening: %+v (err %v), want the first opening kept", res, err)
		}
		if cs := claim(t, s, now.Add(10*time.Second)); len(cs) != 0 {
			t.Fatalf("an open circuit's claim took %d", len(cs))
		}
		at := now.Add(30 * time.Second)
		probe := claim(t, s, at)
		if len(probe) != 1 || !probe[0].Probe {
			t.Fatalf("after the cool-down a claim took %d (probe %v), want one probe", len(probe), len(probe) == 1 && probe[0].Probe)
		}
		if cs := claim(t, s, at); len(cs) != 0 {
			t.Fatalf("while the probe runs another claim took %d", len(cs))
		}
		// The probe fails: open again for twice as long, capped at MaxCooldown.
		res, err = s.CircuitOpen(ctx, store.CircuitOpenParams{ConnectionID: c.ID, Cooldown: 30 * time.Second, MaxCooldown: 45 * time.Second,
			Probe: true, Now: at})
		if err != nil || !res.Opened || !res.OpenUntil.Equal(at.Add(45*time.Second)) {
			t.Fatalf("reopening after a failed probe: %+v (err %v), want open until +45s", res, err)
		}
		ls, err := s.LimitList(ctx, store.LimitListParams{Now: at})
		if err != nil || len(ls) != 1 || ls[0].Circuit != store.CircuitOpen {
			t.Fatalf("limits %+v (err %v)", ls, err)
		}
		at = at.Add(45 * time.Second)
		probe = claim(t, s, at)
		if len(probe) != 1 || !probe[0].Probe {
			t.Fatalf("second probe: took %d", len(probe))
		}
		// The probe never ran (our failure): the next claim probes again at once.
		if err := s.CircuitClose(ctx, store.CircuitCloseParams{ConnectionID: c.ID, Reprobe: true, Now: at}); err != nil {
			t.Fatal(err)
		}
		probe = claim(t, s, at)
		if len(probe) != 1 || !probe[0].Probe {
			t.Fatalf("after a hand-back: took %d, want another probe", len(probe))
		}
		// The probe's lease runs out (its node died): another probe.
		at = probe[0].LeaseUntil
		probe = claim(t, s, at)
		if len(probe) != 1 || !probe[0].Probe {
			t.Fatalf("after the probe's lease ran out: took %d, want another probe", len(probe))
		}
		// It succeeds: closed for everyone.
		if err := s.CircuitClose(ctx, store.CircuitCloseParams{ConnectionID: c.ID, Now: at}); err != nil {
			t.Fatal(err)
		}
		cs := claim(t, s, at)
		if len(cs) == 0 || cs[0].Probe {
			t.Fatalf("after the circuit closed a claim took %d", len(cs))
		}
		if ls, err := s.LimitList(ctx, store.LimitListParams{Now: at}); err != nil || len(ls) != 0 {
			t.Fatalf("limits after closing: %+v (err %v), want none", ls, err)
		}
	})

	t.Run("Claims without Shared ignore the limit rows", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := setup(t, s, map[string]any{"max_concurrency": float64(2)}, 5)
		if err := s.LimitPause(context.Background(), store.LimitPauseParams{Key: store.LimitKeyConnection(c.ID), Until: now.Add(time.Hour), Now: now}); err != nil {
			t.Fatal(err)
		}
		cs, err := s.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10, PerConnection: 16})
		if err != nil || len(cs) != 5 {
			t.Fatalf("a node-local claim took %d (err %v), want all 5: its controller decides", len(cs), err)
		}
	})
}
