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
		// First round: one answered, the two slots busy, four more kept; then everything
		// delivered once.
		events := g.emit(t, 11)
		stop := startEngine(t, g.f.store, delivery.Config{ConnectionConcurrency: 2})
		g.waitKept(t, events, 4)
		g.deliverAll(t, events)
		stop()
		g.checkDeliveredOnce(t, len(events))

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
		events := g.emit(t, 13)
		cfg := delivery.Config{ConnectionConcurrency: 2, SharedLimits: true}
		stopA := startEngine(t, g.f.store, cfg)
		g.waitKept(t, events, 8)
		// Another node counts what the first keeps as taken: it starts nothing while the
		// endpoint hangs, and shares the connection's two slots once it answers.
		stopB := startEngine(t, g.f.store, cfg)
		g.deliverAll(t, append(events, g.emit(t, 100)...))
		stopA()
		stopB()
		g.checkDeliveredOnce(t, len(events)+100)

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
	g.waitKept(t, events, kept)
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
		_, ds, err := f.store.EventGetWithDeliveries(context.Background(), store.EventGetParams{OrganizationID: f.tenant.Org.ID, ID: e.ID})
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

// waitKept waits until, of events, two deliveries are in flight at the endpoint (the
// connection's concurrency) and kept more are leased and kept ahead.
func (g *gated) waitKept(t *testing.T, events []*switchyard.Event, kept int) {
	t.Helper()
	testutil.Eventually(t, 15*time.Second, fmt.Sprintf("2 attempts in flight and %d deliveries kept ahead", kept), func() bool {
		return g.inflight.Load() == 2 && processingDeliveries(t, g.f, events) == 2+kept
	})
}

// deliverAll lets the endpoint answer and waits until every one of events is completed.
func (g *gated) deliverAll(t *testing.T, events []*switchyard.Event) {
	t.Helper()
	g.open()
	for _, e := range events {
		g.f.waitEvent(t, e.ID, "the event to complete", func(e *switchyard.Event) bool { return e.Status == switchyard.StatusCompleted })
	}
}

// checkDeliveredOnce checks that the endpoint never held more than the connection's two
// attempts at once and got one request for each of n events.
func (g *gated) checkDeliveredOnce(t *testing.T, n int) {
	t.Helper()
	if p := g.peak.Load(); p > 2 {
		t.Fatalf("the endpoint saw %d attempts at once, over the connection's concurrency of 2", p)
	}
	if got := g.f.hits.Load(); got != int64(n) {
		t.Fatalf("the endpoint got %d requests for %d events", got, n)
	}
}
