package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
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
// never more than its concurrency at once, each delivered once. When the engine stops, what it
// kept is handed back, due at once, not left leased until the lease runs out.
func TestClaimAhead(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		g := newGated(t, d)
		f, inflight, peak, open := g.f, &g.inflight, &g.peak, g.open

		events := g.emit(t, 11)
		processing := func() int { return processingDeliveries(t, f, events) }

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
		g.handsBackOnStop(t, delivery.Config{ConnectionConcurrency: 2}, 4)
	})
}

// With shared limits (a cluster on one database) a node keeps deliveries ahead beyond what the
// cluster lets it start, and starts them only in the slots of its own attempts as they finish:
// four times the concurrency kept, and two nodes together never over the connection's
// concurrency, each delivery attempted once.
func TestClaimAheadSharedLimits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		g := newGated(t, d)
		f, inflight, peak, open := g.f, &g.inflight, &g.peak, g.open

		events := g.emit(t, 13)
		processing := func() int { return processingDeliveries(t, f, events) }
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
		g.handsBackOnStop(t, delivery.Config{ConnectionConcurrency: 2, SharedLimits: true}, 8)
	})
}

// gated is a fixture whose endpoint counts the requests it holds at once (and their peak),
// answers the first request of a round at once (so that the connection has answered, which
// claiming ahead needs) and holds the others until open.
type gated struct {
	f              *fixture
	inflight, peak atomic.Int64
	quick          atomic.Int64
	mu             sync.Mutex
	gate           chan struct{}
	opened         bool
}

func newGated(t *testing.T, d storetest.Dialect) *gated {
	g := &gated{gate: make(chan struct{})}
	g.quick.Store(1)
	g.f = setup(t, d, func(_ int64, w http.ResponseWriter) {
		n := g.inflight.Add(1)
		defer g.inflight.Add(-1)
		for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
		}
		if g.quick.Add(-1) < 0 {
			g.mu.Lock()
			gate := g.gate
			g.mu.Unlock()
			<-gate
		}
		w.WriteHeader(http.StatusOK)
	})
	t.Cleanup(g.open) // before the server closes (cleanups run last first)
	return g
}

// open lets the held requests through, and the next ones.
func (g *gated) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.opened {
		g.opened = true
		close(g.gate)
	}
}

// round starts holding requests again, the first answered at once.
func (g *gated) round() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate, g.opened = make(chan struct{}), false
	g.quick.Store(1)
}

// handsBackOnStop runs a round of 11 events through an engine configured as cfg (concurrency 2)
// until, the first answered, two attempts hang and kept more are kept ahead; then it stops the
// engine and checks that the ten not delivered are claimable at once: what was kept went back.
func (g *gated) handsBackOnStop(t *testing.T, cfg delivery.Config, kept int) {
	t.Helper()
	g.round()
	events := g.emit(t, 11)
	cfg.ShutdownGrace = 50 * time.Millisecond
	stop := startEngine(t, g.f.store, cfg)
	testutil.Eventually(t, 15*time.Second, fmt.Sprintf("2 attempts in flight and %d deliveries kept ahead", kept), func() bool {
		return g.inflight.Load() == 2 && processingDeliveries(t, g.f, events) == 2+kept
	})
	stop()
	now := time.Now()
	claimed, err := g.f.store.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute),
		Limit: 100, PerConnection: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 10 {
		t.Fatalf("%d deliveries claimable after the engine stopped, want the 10 not delivered", len(claimed))
	}
}

// processingDeliveries counts the events' deliveries (one each) that are processing: leased,
// whether attempted or kept ahead. (An event's own status stays processing once a claim started
// it, even if its delivery was handed back.)
func processingDeliveries(t *testing.T, f *fixture, events []*switchyard.Event) int {
	t.Helper()
	n := 0
	for _, e := range events {
		ds, err := f.store.DeliveryListByEvent(context.Background(), store.DeliveryListByEventParams{OrganizationID: f.tenant.Org.ID, EventID: e.ID})
		if err != nil {
			t.Fatal(err)
		}
		if ds[0].Status == switchyard.StatusProcessing {
			n++
		}
	}
	return n
}

// emit emits n events to the fixture's one connection.
func (g *gated) emit(t *testing.T, n int) []*switchyard.Event {
	t.Helper()
	events := make([]*switchyard.Event, n)
	for i := range events {
		events[i] = g.f.emit(t)
	}
	return events
}
