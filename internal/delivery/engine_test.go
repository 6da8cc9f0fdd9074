package delivery_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

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

// fixture is a real store with one tenant whose webhook connection points at a local server.
type fixture struct {
	store  store.Store
	tenant *storetest.Tenant
	conn   *switchyard.Connection
	hits   atomic.Int64
}

// setup opens a store of the dialect, points a webhook connection at a server answering with
// respond (called with the 1-based request number), and adds a rule for user.signup.
func setup(t *testing.T, d storetest.Dialect, respond func(n int64, w http.ResponseWriter)) *fixture {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), d.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{store: db}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respond(f.hits.Add(1), w)
	}))
	t.Cleanup(srv.Close)
	f.tenant = storetest.NewTenant(t, db)
	f.conn = storetest.NewConnection(f.tenant.Workspace)
	f.conn.Metadata = map[string]any{"url": srv.URL, "skip_url_test": true}
	if err := db.ConnectionInsert(context.Background(), f.conn); err != nil {
		t.Fatal(err)
	}
	storetest.NewRule(t, db, f.tenant, storetest.RuleOpts{Connection: f.conn})
	return f
}

// run starts an engine with a fast retry schedule until the test ends.
func (f *fixture) run(t *testing.T, schedule ...time.Duration) {
	t.Helper()
	f.runWith(t, delivery.Config{PollInterval: 10 * time.Millisecond, Schedule: schedule})
}

// runWith starts an engine configured as cfg on the fixture's store until the test ends, and
// returns it.
func (f *fixture) runWith(t *testing.T, cfg delivery.Config) *delivery.Engine {
	t.Helper()
	box, err := secret.New(secret.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Integrations, cfg.Box, cfg.Options = f.store, builtin.Registry(), box, destination.Options{AllowPrivate: true}
	e := delivery.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})
	return e
}

// emit inserts an event now and returns it.
func (f *fixture) emit(t *testing.T) *switchyard.Event {
	t.Helper()
	e, ds := storetest.NewEvent(t, f.store, f.tenant, storetest.EventOpts{CreatedAt: time.Now()})
	if len(ds) != 1 {
		t.Fatalf("event matched %d rules, want 1", len(ds))
	}
	return e
}

// waitEvent polls the event until cond holds or the deadline passes.
func (f *fixture) waitEvent(t *testing.T, id uuid.UUID, what string, cond func(*switchyard.Event) bool) *switchyard.Event {
	t.Helper()
	var e *switchyard.Event
	ok := testutil.Poll(15*time.Second, func() bool {
		var err error
		e, err = f.store.EventGet(context.Background(), store.EventGetParams{OrganizationID: f.tenant.Org.ID, ID: id})
		return err == nil && cond(e)
	})
	if !ok {
		t.Fatalf("timed out waiting for %s; event is %+v", what, e)
	}
	return e
}

func (f *fixture) delivery(t *testing.T, eventID uuid.UUID) (*switchyard.Delivery, []*switchyard.Attempt) {
	t.Helper()
	_, ds, err := f.store.EventGetWithDeliveries(context.Background(), store.EventGetParams{OrganizationID: f.tenant.Org.ID, ID: eventID})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries: %v (err %v)", ds, err)
	}
	as, err := f.store.AttemptListByDelivery(context.Background(), store.AttemptListByDeliveryParams{OrganizationID: f.tenant.Org.ID, DeliveryID: ds[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	return ds[0], as
}

func outcomes(as []*switchyard.Attempt) []switchyard.Outcome {
	var out []switchyard.Outcome
	for _, a := range as {
		out = append(out, a.Outcome)
	}
	return out
}

func terminal(e *switchyard.Event) bool { return e.Status.Terminal() }

func TestEngine(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		t.Run("a failing destination is retried until it accepts", func(t *testing.T) {
			t.Parallel()
			f := setup(t, d, func(n int64, w http.ResponseWriter) {
				if n <= 2 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			f.run(t, 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond)
			ev := f.waitEvent(t, f.emit(t).ID, "completion", terminal)
			if ev.Status != switchyard.StatusCompleted || ev.CompletedCount != 1 {
				t.Fatalf("event %+v, want completed", ev)
			}
			del, as := f.delivery(t, ev.ID)
			got := outcomes(as)
			want := []switchyard.Outcome{switchyard.OutcomeRejectedServerError, switchyard.OutcomeRejectedServerError, switchyard.OutcomeDelivered}
			if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
				t.Fatalf("attempt outcomes %v, want %v", got, want)
			}
			if del.AttemptCount != 3 || del.Status != switchyard.StatusCompleted || as[0].HTTPStatus != 503 || as[2].Number != 3 {
				t.Fatalf("delivery %+v attempts %+v", del, as)
			}
		})

		t.Run("a delivery fails once its schedule is spent", func(t *testing.T) {
			t.Parallel()
			f := setup(t, d, func(_ int64, w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) })
			f.run(t, 5*time.Millisecond, 5*time.Millisecond)
			ev := f.waitEvent(t, f.emit(t).ID, "failure", terminal)
			del, as := f.delivery(t, ev.ID)
			if ev.Status != switchyard.StatusFailed || ev.FailedCount != 1 || del.Status != switchyard.StatusFailed || len(as) != 3 || f.hits.Load() != 3 {
				t.Fatalf("event %+v delivery %+v, %d attempts, %d requests; want failed after 3", ev, del, len(as), f.hits.Load())
			}
			if del.LastError == "" || del.NextAttemptAt != nil {
				t.Fatalf("failed delivery %+v, want last_error and no next attempt", del)
			}
		})

		t.Run("a client error fails at once without retrying", func(t *testing.T) {
			t.Parallel()
			f := setup(t, d, func(_ int64, w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) })
			f.run(t, 5*time.Millisecond)
			ev := f.waitEvent(t, f.emit(t).ID, "failure", terminal)
			_, as := f.delivery(t, ev.ID)
			if ev.Status != switchyard.StatusFailed || len(as) != 1 || as[0].Outcome != switchyard.OutcomeRejectedClientError {
				t.Fatalf("event %+v attempts %v", ev, outcomes(as))
			}
		})

		t.Run("410 Gone fails the delivery and deactivates the connection", func(t *testing.T) {
			t.Parallel()
			f := setup(t, d, func(_ int64, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) })
			var logs testutil.SyncBuffer
			f.runWith(t, delivery.Config{PollInterval: 10 * time.Millisecond, Schedule: []time.Duration{5 * time.Millisecond},
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			ev := f.waitEvent(t, f.emit(t).ID, "failure", terminal)
			del, as := f.delivery(t, ev.ID)
			if ev.Status != switchyard.StatusFailed || len(as) != 1 || as[0].Outcome != switchyard.OutcomeDestinationGone {
				t.Fatalf("event %+v attempts %v", ev, outcomes(as))
			}
			// The attempt's warning says which delivery and event it is about (its logger is made
			// only when it logs).
			want := "delivery_id=" + del.ID.String() + " event_id=" + ev.ID.String()
			if got := logs.String(); !strings.Contains(got, "connection deactivated") || !strings.Contains(got, want) {
				t.Fatalf("log %q, want the deactivation with %s", got, want)
			}
			c, err := f.store.ConnectionGet(context.Background(), store.ConnectionGetParams{OrganizationID: f.tenant.Org.ID, ID: f.conn.ID})
			if err != nil || c.Active || c.InactiveReason != "destination_gone" {
				t.Fatalf("connection %+v (err %v), want inactive with reason destination_gone", c, err)
			}
			// A later event matches no rule on the inactive connection.
			if _, ds := storetest.NewEvent(t, f.store, f.tenant, storetest.EventOpts{}); len(ds) != 0 {
				t.Fatalf("event after deactivation got %d deliveries", len(ds))
			}
		})

		t.Run("Retry-After from the destination sets the next attempt", func(t *testing.T) {
			t.Parallel()
			f := setup(t, d, func(_ int64, w http.ResponseWriter) {
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(http.StatusTooManyRequests)
			})
			f.run(t, 5*time.Millisecond, 5*time.Millisecond)
			ev := f.emit(t)
			f.waitEvent(t, ev.ID, "a retry to be scheduled", func(e *switchyard.Event) bool { return e.Status == switchyard.StatusRetrying })
			del, as := f.delivery(t, ev.ID)
			if len(as) != 1 || as[0].Outcome != switchyard.OutcomeRateLimited || del.NextAttemptAt == nil {
				t.Fatalf("delivery %+v attempts %v", del, outcomes(as))
			}
			if wait := del.NextAttemptAt.Sub(as[0].CompletedAt); wait < 119*time.Second || wait > 121*time.Second {
				t.Fatalf("next attempt in %v, want the 120 s the destination asked for", wait)
			}
		})

		t.Run("a delivery whose claimer died is delivered when the lease expires", func(t *testing.T) {
			t.Parallel()
			f := setup(t, d, func(_ int64, w http.ResponseWriter) { w.WriteHeader(http.StatusOK) })
			ev := f.emit(t)
			now := time.Now()
			claimed, err := f.store.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(300 * time.Millisecond), Limit: 10})
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %d (err %v)", len(claimed), err)
			}
			// The claimer "crashes": it never records. A fresh engine must pick the delivery up.
			f.run(t, 5*time.Millisecond)
			done := f.waitEvent(t, ev.ID, "completion", terminal)
			if done.Status != switchyard.StatusCompleted || f.hits.Load() != 1 {
				t.Fatalf("event %+v after %d requests", done, f.hits.Load())
			}
			if del, _ := f.delivery(t, ev.ID); del.CompletedAt == nil || del.CompletedAt.Before(now.Add(300*time.Millisecond)) {
				t.Fatalf("delivered at %v, before the lease expired", del.CompletedAt)
			}
		})

		t.Run("with shared limits one connection's backlog drains without waiting for the poll", func(t *testing.T) {
			t.Parallel()
			// Every claim after the first must come from a finished attempt (the poll is an
			// hour away): a freed slot the claim did not see — its outcome not yet written, or
			// finished while the claim ran — would stall the connection.
			f := setup(t, d, func(_ int64, w http.ResponseWriter) { w.WriteHeader(http.StatusOK) })
			const n = 150
			evs := make([]*switchyard.Event, n)
			for i := range evs {
				evs[i] = f.emit(t)
			}
			f.runWith(t, delivery.Config{SharedLimits: true, PollInterval: time.Hour, ConnectionConcurrency: 3})
			if !testutil.Poll(15*time.Second, func() bool { return f.hits.Load() >= n }) {
				t.Fatalf("%d of %d delivered; the rest waited for the poll", f.hits.Load(), n)
			}
			for _, ev := range evs[n-3:] {
				f.waitEvent(t, ev.ID, "completion", terminal)
			}
			if got := f.hits.Load(); got != n {
				t.Fatalf("%d requests for %d deliveries", got, n)
			}
		})

		t.Run("a busy connection's backlog does not hide another connection's due work", func(t *testing.T) {
			t.Parallel()
			if testing.Short() {
				t.Skip("inserts 2,000 events")
			}
			// The hog's backlog is older than the quiet connection's event and larger than a
			// claim's candidate window (8 × 128 rows). Every claim after the first is made for a
			// freed hog slot (the poll is an hour away), and its window is all hog: without the
			// sweep the quiet event waited until fewer than 1,024 hog deliveries were left.
			f := setup(t, d, func(_ int64, w http.ResponseWriter) { w.WriteHeader(http.StatusOK) })
			var hogHitsAtQuiet atomic.Int64
			hogHitsAtQuiet.Store(-1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hogHitsAtQuiet.CompareAndSwap(-1, f.hits.Load())
			}))
			t.Cleanup(srv.Close)
			quiet := storetest.NewConnection(f.tenant.Workspace)
			quiet.Metadata = map[string]any{"url": srv.URL, "skip_url_test": true}
			if err := f.store.ConnectionInsert(context.Background(), quiet); err != nil {
				t.Fatal(err)
			}
			storetest.NewRule(t, f.store, f.tenant, storetest.RuleOpts{Event: "quiet", Connection: quiet})
			const hog = 2000
			at := time.Now().Add(-time.Minute)
			for i := range hog {
				storetest.NewEvent(t, f.store, f.tenant, storetest.EventOpts{CreatedAt: at.Add(time.Duration(i) * time.Microsecond)})
			}
			storetest.NewEvent(t, f.store, f.tenant, storetest.EventOpts{Name: "quiet", CreatedAt: at.Add(time.Second)})
			f.runWith(t, delivery.Config{PollInterval: time.Hour})
			if !testutil.Poll(30*time.Second, func() bool { return hogHitsAtQuiet.Load() >= 0 }) {
				t.Fatalf("the quiet connection's event was not delivered (%d of the hog's %d were)", f.hits.Load(), hog)
			}
			if n := hogHitsAtQuiet.Load(); n > 500 {
				t.Fatalf("the quiet connection's event waited for %d of the hog's deliveries", n)
			}
		})

		t.Run("a delivery to a connection deactivated meanwhile fails without an attempt", func(t *testing.T) {
			t.Parallel()
			f := setup(t, d, func(_ int64, w http.ResponseWriter) { w.WriteHeader(http.StatusOK) })
			ev := f.emit(t)
			if err := f.store.ConnectionDeactivate(context.Background(), store.ConnectionDeactivateParams{
				ConnectionID: f.conn.ID, Reason: switchyard.InactiveManuallyInactivated, Now: time.Now()}); err != nil {
				t.Fatal(err)
			}
			f.run(t, 5*time.Millisecond)
			done := f.waitEvent(t, ev.ID, "failure", terminal)
			del, as := f.delivery(t, ev.ID)
			if done.Status != switchyard.StatusFailed || len(as) != 0 || f.hits.Load() != 0 || del.LastError == "" {
				t.Fatalf("event %+v delivery %+v attempts %d requests %d", done, del, len(as), f.hits.Load())
			}
		})
	})
}

func TestCleaner(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := openStore(t, d)
		tn := storetest.NewTenant(t, s)
		for i := range 7 {
			storetest.NewEvent(t, s, tn, storetest.EventOpts{CreatedAt: storetest.T0.Add(time.Duration(i) * time.Minute)})
		}
		fresh, _ := storetest.NewEvent(t, s, tn, storetest.EventOpts{CreatedAt: storetest.T0.Add(40 * 24 * time.Hour)})
		c := &delivery.Cleaner{Store: s, Batch: 3, Now: func() time.Time { return storetest.T0.Add(35 * 24 * time.Hour) }}
		c.Run(canceled()) // defaults applied, returns at once
		n, err := c.Clean(context.Background())
		if err != nil || n != 7 {
			t.Fatalf("cleaned %d (err %v), want the 7 events older than 30 days", n, err)
		}
		if _, err := s.EventGet(context.Background(), store.EventGetParams{OrganizationID: tn.Org.ID, ID: fresh.ID}); err != nil {
			t.Fatalf("a recent event was deleted: %v", err)
		}
	})
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// A slot freed while the engine waits out its wake delay is refilled at once. The delay gathers
// the events of the next moment into one claim; under steady ingest the engine is woken all the
// time, and waiting out the delay with a busy connection's slot free held its deliveries below
// its ingest. Here the delay is an hour: the second delivery is claimed only because the first
// attempt's end freed the connection's one slot.
func TestFreedSlotEndsTheWakeDelay(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		release := make(chan struct{})
		var once sync.Once
		f := setup(t, d, func(n int64, w http.ResponseWriter) {
			if n == 1 {
				<-release // the first attempt holds the connection's one slot
			}
			w.WriteHeader(http.StatusOK)
		})
		t.Cleanup(func() { once.Do(func() { close(release) }) })
		first := f.emit(t)
		e := f.runWith(t, delivery.Config{ConnectionConcurrency: 1, PollInterval: time.Hour, WakeDelay: time.Hour})
		testutil.Eventually(t, 10*time.Second, "the first attempt to start", func() bool { return f.hits.Load() == 1 })

		second := f.emit(t)
		e.Wake() // the engine now waits out the delay before it claims
		// The connection's one slot is held: nothing else may start. (Asserting it for 100 ms
		// also lets the engine take the wake before the slot frees; should the freed slot come
		// first, the engine may claim at once either way and this run proves less, but it
		// cannot fail with the change in place.)
		if testutil.Poll(100*time.Millisecond, func() bool { return f.hits.Load() > 1 }) {
			t.Fatal("the second delivery was attempted while the first held the only slot")
		}
		once.Do(func() { close(release) })
		f.waitEvent(t, first.ID, "the first event to complete", terminal)
		f.waitEvent(t, second.ID, "the second event to complete within the test, not the hour's delay", terminal)
	})
}
