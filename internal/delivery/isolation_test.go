package delivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/delivery"
	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/builtin"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

// hangingServer accepts requests and holds them until the test ends (or the client gives up).
// It reports the most requests it ever held at once.
func hangingServer(t *testing.T) (url string, held, peak *atomic.Int64) {
	t.Helper()
	release := make(chan struct{})
	held, peak = &atomic.Int64{}, &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := held.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer held.Add(-1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.URL, held, peak
}

// failingServer answers 503 until healthy is set, then 200; hits counts its requests.
func failingServer(t *testing.T) (url string, healthy *atomic.Bool, hits *atomic.Int64) {
	t.Helper()
	healthy, hits = &atomic.Bool{}, &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, healthy, hits
}

// emit stores n events named event, created now.
func emit(t *testing.T, s store.Store, tn *storetest.Tenant, event string, n int) []*switchyard.Event {
	t.Helper()
	events := make([]*switchyard.Event, n)
	for i := range events {
		events[i], _ = storetest.NewEvent(t, s, tn, storetest.EventOpts{Name: event, CreatedAt: time.Now()})
	}
	return events
}

func addConnection(t *testing.T, s store.Store, tn *storetest.Tenant, event string, meta map[string]any) *switchyard.Connection {
	t.Helper()
	c := storetest.NewConnection(tn.Workspace)
	c.Metadata = meta
	if err := s.ConnectionInsert(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	storetest.NewRule(t, s, tn, storetest.RuleOpts{Event: event, Connection: c})
	return c
}

func startEngine(t *testing.T, s store.Store, cfg delivery.Config) (stop func()) {
	t.Helper()
	box, err := secret.New(secret.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Integrations, cfg.Box = s, builtin.Registry(), box
	cfg.Options = destination.Options{AllowPrivate: true}
	cfg.PollInterval = 10 * time.Millisecond
	e := delivery.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("engine: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func countStatus(t *testing.T, s store.Store, tn *storetest.Tenant, events []*switchyard.Event, want switchyard.Status) int {
	t.Helper()
	n := 0
	for _, e := range events {
		got, err := s.EventGet(context.Background(), store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == want {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, what, cond)
}

func openStore(t *testing.T, d storetest.Dialect) store.Store {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), d.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestIsolation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := openStore(t, d)
		tn := storetest.NewTenant(t, s)
		hangURL, held, peak := hangingServer(t)
		var healthyHits atomic.Int64
		healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { healthyHits.Add(1) }))
		t.Cleanup(healthy.Close)
		addConnection(t, s, tn, "to.hanging", map[string]any{"url": hangURL, "timeout_seconds": 60.0})
		addConnection(t, s, tn, "to.healthy", map[string]any{"url": healthy.URL})

		// Most of the traffic goes to the destination that hangs, and it is emitted first.
		var hanging, good []*switchyard.Event
		for range 200 {
			e, _ := storetest.NewEvent(t, s, tn, storetest.EventOpts{Name: "to.hanging", CreatedAt: time.Now()})
			hanging = append(hanging, e)
		}
		startEngine(t, s, delivery.Config{Workers: 16, ConnectionConcurrency: 4, ShutdownGrace: 50 * time.Millisecond})
		waitFor(t, "the hanging destination to hold its share of workers", func() bool { return held.Load() == 4 })
		for range 50 {
			e, _ := storetest.NewEvent(t, s, tn, storetest.EventOpts{Name: "to.healthy", CreatedAt: time.Now()})
			good = append(good, e)
		}
		// Every healthy delivery completes while the hanging destination still holds its
		// requests and its backlog waits: one dead endpoint does not delay anyone else.
		waitFor(t, "the healthy deliveries", func() bool { return countStatus(t, s, tn, good, switchyard.StatusCompleted) == len(good) })
		if healthyHits.Load() != int64(len(good)) {
			t.Fatalf("healthy destination got %d requests, want %d", healthyHits.Load(), len(good))
		}
		if p := peak.Load(); p > 4 {
			t.Fatalf("the hanging destination held %d requests at once, over its concurrency of 4", p)
		}
		if n := countStatus(t, s, tn, hanging, switchyard.StatusCompleted); n != 0 {
			t.Fatalf("%d hanging deliveries completed", n)
		}
	})
}

func TestCircuitBreakerDefersWithoutUsingAttempts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := openStore(t, d)
		tn := storetest.NewTenant(t, s)
		url, healthy, hits := failingServer(t)
		// One at a time, and retries far in the future, so only the breaker decides what runs.
		addConnection(t, s, tn, "e", map[string]any{"url": url, "max_concurrency": 1.0, "retry_schedule": "1h"})
		events := emit(t, s, tn, "e", 10)
		startEngine(t, s, delivery.Config{BreakerThreshold: 3, BreakerCooldown: 300 * time.Millisecond})
		waitFor(t, "the circuit to open after 3 failures", func() bool {
			return countStatus(t, s, tn, events, switchyard.StatusRetrying) >= 3
		})
		if n := hits.Load(); n > 4 {
			t.Fatalf("%d requests reached the failing destination; the circuit should have stopped them after 3 (and a probe)", n)
		}
		healthy.Store(true)
		// The half-open probe may have gone out (and failed) before the destination turned
		// healthy — on a busy machine the check above can see the third failure late — and a failed
		// delivery waits an hour: so recovery is every delivery not failed completing, at least six.
		waitFor(t, "recovery after a successful probe", func() bool {
			done := countStatus(t, s, tn, events, switchyard.StatusCompleted)
			return done >= 6 && done+countStatus(t, s, tn, events, switchyard.StatusRetrying) == len(events)
		})
		// The deliveries the breaker held back completed on their first attempt.
		once := 0
		for _, e := range events {
			_, ds, _ := s.EventGetWithDeliveries(context.Background(), store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
			if ds[0].Status == switchyard.StatusCompleted && ds[0].AttemptCount == 1 {
				once++
			}
		}
		if once < 6 {
			t.Fatalf("%d deliveries completed on their first attempt; the deferred ones should not have used attempts", once)
		}
	})
}

// Deliveries accepted while a circuit is open are parked until it half-opens (not left due,
// where every claim would have to skip over them), and still use no attempt.
func TestOpenCircuitParksNewDeliveries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := openStore(t, d)
		tn := storetest.NewTenant(t, s)
		url, healthy, _ := failingServer(t)
		addConnection(t, s, tn, "e", map[string]any{"url": url, "max_concurrency": 1.0, "retry_schedule": "1h"})
		first := emit(t, s, tn, "e", 3)
		startEngine(t, s, delivery.Config{BreakerThreshold: 3, BreakerCooldown: 1500 * time.Millisecond})
		waitFor(t, "the circuit to open after 3 failures", func() bool {
			return countStatus(t, s, tn, first, switchyard.StatusRetrying) == 3
		})
		opened := time.Now()
		later := emit(t, s, tn, "e", 5)
		waitFor(t, "the deliveries accepted while open to be parked", func() bool {
			for _, e := range later {
				_, ds, err := s.EventGetWithDeliveries(context.Background(), store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
				if err != nil {
					t.Fatal(err)
				}
				if ds[0].NextAttemptAt == nil || ds[0].NextAttemptAt.Before(opened.Add(500*time.Millisecond)) {
					return false
				}
			}
			return true
		})
		healthy.Store(true)
		waitFor(t, "the parked deliveries to complete once the circuit closes", func() bool {
			return countStatus(t, s, tn, later, switchyard.StatusCompleted) == len(later)
		})
		for _, e := range later {
			_, ds, _ := s.EventGetWithDeliveries(context.Background(), store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
			if ds[0].AttemptCount != 1 {
				t.Fatalf("a parked delivery used %d attempts, want 1", ds[0].AttemptCount)
			}
		}
	})
}

func TestShutdownHandsBackAttemptsInFlight(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := openStore(t, d)
		tn := storetest.NewTenant(t, s)
		url, held, _ := hangingServer(t)
		addConnection(t, s, tn, "e", map[string]any{"url": url, "timeout_seconds": 60.0})
		e, _ := storetest.NewEvent(t, s, tn, storetest.EventOpts{Name: "e", CreatedAt: time.Now()})
		stop := startEngine(t, s, delivery.Config{ShutdownGrace: 50 * time.Millisecond})
		waitFor(t, "the attempt to start", func() bool { return held.Load() == 1 })
		stop()
		_, ds, err := s.EventGetWithDeliveries(context.Background(), store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
		if err != nil {
			t.Fatal(err)
		}
		del := ds[0]
		if del.Status != switchyard.StatusPending || del.AttemptCount != 0 || del.NextAttemptAt == nil || time.Until(*del.NextAttemptAt) > time.Second {
			t.Fatalf("after shutdown: %+v; want it handed back, pending, due now, no attempt used", del)
		}
		now := time.Now()
		if cs, err := s.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 5}); err != nil || len(cs) != 1 {
			t.Fatalf("the handed-back delivery could not be claimed: %d (err %v)", len(cs), err)
		}
	})
}
