package delivery_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/delivery"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

// A connection whose every slot is busy, and which has answered, is claimed ahead for: twice
// its concurrency in deliveries are leased and kept, and started as its attempts finish —
// never more than its concurrency at once, each delivered once. When the engine stops, what it kept is handed back,
// due at once, not left leased until the lease runs out.
func TestClaimAhead(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		gate := make(chan struct{})
		var inflight, peak, quick atomic.Int64
		quick.Store(1) // the first request of a round is answered at once: the connection has answered
		f := setup(t, d, func(_ int64, w http.ResponseWriter) {
			n := inflight.Add(1)
			defer inflight.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			if quick.Add(-1) < 0 {
				<-gate
			}
			w.WriteHeader(http.StatusOK)
		})
		opened := false
		open := func() {
			if !opened {
				opened = true
				close(gate)
			}
		}
		t.Cleanup(open) // before the server closes (cleanups run last first)

		ctx := context.Background()
		var events []*switchyard.Event
		for range 11 {
			events = append(events, f.emit(t))
		}
		processing := func() int {
			n := 0
			for _, e := range events {
				ds, err := f.store.DeliveryListByEvent(ctx, store.DeliveryListByEventParams{OrganizationID: f.tenant.Org.ID, EventID: e.ID})
				if err != nil {
					t.Fatal(err)
				}
				if ds[0].Status == switchyard.StatusProcessing {
					n++
				}
			}
			return n
		}

		// First round: one answered, the two slots busy, four more kept; then everything
		// delivered once.
		stop := startEngine(t, f.store, delivery.Config{ConnectionConcurrency: 2})
		testutil.Eventually(t, 15*time.Second, "2 attempts in flight and 4 deliveries kept ahead", func() bool {
			return inflight.Load() == 2 && processing() == 6
		})
		open()
		for _, e := range events {
			f.waitEvent(t, e.ID, "the event to complete", func(e *switchyard.Event) bool { return e.Status == switchyard.StatusCompleted })
		}
		stop()
		if p := peak.Load(); p > 2 {
			t.Fatalf("the endpoint saw %d attempts at once, over the connection's concurrency of 2", p)
		}
		if n := f.hits.Load(); n != 11 {
			t.Fatalf("the endpoint got %d requests for 11 events", n)
		}

		// Second round: stopped while the endpoint hangs, the engine hands back the kept
		// deliveries (and abandons the two in flight): all ten are claimable at once.
		gate, opened = make(chan struct{}), false
		quick.Store(1)
		events = events[:0]
		for range 11 {
			events = append(events, f.emit(t))
		}
		stop = startEngine(t, f.store, delivery.Config{ConnectionConcurrency: 2, ShutdownGrace: 50 * time.Millisecond})
		testutil.Eventually(t, 15*time.Second, "2 attempts in flight and 4 deliveries kept ahead", func() bool {
			return inflight.Load() == 2 && processing() == 6
		})
		stop()
		now := time.Now()
		claimed, err := f.store.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 100, PerConnection: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) != 10 {
			t.Fatalf("%d deliveries claimable after the engine stopped, want the 10 not delivered", len(claimed))
		}
	})
}

// With shared limits (a cluster on one database) a node keeps deliveries ahead beyond what the
// cluster lets it start, and starts them only in the slots of its own attempts as they finish:
// four times the concurrency kept, and two nodes together never over the connection's
// concurrency, each delivery attempted once.
func TestClaimAheadSharedLimits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		gate := make(chan struct{})
		var inflight, peak, quick atomic.Int64
		quick.Store(1) // the first request of a round is answered at once: the connection has answered
		f := setup(t, d, func(_ int64, w http.ResponseWriter) {
			n := inflight.Add(1)
			defer inflight.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			if quick.Add(-1) < 0 {
				<-gate
			}
			w.WriteHeader(http.StatusOK)
		})
		opened := false
		open := func() {
			if !opened {
				opened = true
				close(gate)
			}
		}
		t.Cleanup(open)

		ctx := context.Background()
		var events []*switchyard.Event
		for range 13 {
			events = append(events, f.emit(t))
		}
		processing := func() int { return countStatus(t, f.store, f.tenant, events, switchyard.StatusProcessing) }
		cfg := delivery.Config{ConnectionConcurrency: 2, SharedLimits: true}
		stopA := startEngine(t, f.store, cfg)
		testutil.Eventually(t, 15*time.Second, "one answered, 2 attempts in flight and 8 deliveries kept ahead", func() bool {
			return inflight.Load() == 2 && processing() == 10
		})
		// Another node counts what the first keeps as taken: it starts nothing while the
		// endpoint hangs, and shares the connection's two slots once it answers.
		stopB := startEngine(t, f.store, cfg)
		open()
		for range 100 {
			events = append(events, f.emit(t))
		}
		for _, e := range events {
			f.waitEvent(t, e.ID, "the event to complete", func(e *switchyard.Event) bool { return e.Status == switchyard.StatusCompleted })
		}
		stopA()
		stopB()
		if p := peak.Load(); p > 2 {
			t.Fatalf("the endpoint saw %d attempts at once from two nodes, over the connection's concurrency of 2", p)
		}
		if n := f.hits.Load(); n != int64(len(events)) {
			t.Fatalf("the endpoint got %d requests for %d events", n, len(events))
		}

		// Stopped while the endpoint hangs, a node hands back what it kept.
		gate, opened = make(chan struct{}), false
		quick.Store(1)
		events = events[:0]
		for range 11 {
			events = append(events, f.emit(t))
		}
		stop := startEngine(t, f.store, delivery.Config{ConnectionConcurrency: 2, SharedLimits: true, ShutdownGrace: 50 * time.Millisecond})
		testutil.Eventually(t, 15*time.Second, "2 attempts in flight and 8 deliveries kept ahead", func() bool {
			return inflight.Load() == 2 && processing() == 10
		})
		stop()
		now := time.Now()
		claimed, err := f.store.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 100, PerConnection: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) != 10 {
			t.Fatalf("%d deliveries claimable after the engine stopped, want the 10 not delivered", len(claimed))
		}
	})
}
