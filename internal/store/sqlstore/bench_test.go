package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// The store benchmarks run on SQLite in a temporary directory, and on PostgreSQL too when
// TEST_DATABASE_URL is set (a fresh schema each). Each builds its rows through the store itself.

// benchPayload is an event payload of about 200 bytes, the size `switchyard bench` sends.
var benchPayload = []byte(`{"email":"user2048@example.com","name":"Ada Lovelace","plan":"pro","seats":3,"source":"switchyard-bench",` +
	`"utm":{"campaign":"spring_launch","medium":"email"},"note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)

// eachDialect runs fn as a sub-benchmark per available dialect on a fresh store.
func eachDialect(b *testing.B, fn func(b *testing.B, db *sqlstore.DB)) {
	for _, d := range storetest.Dialects(b) {
		b.Run(d.Name, func(b *testing.B) {
			db, err := sqlstore.Open(context.Background(), d.NewURL(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			fn(b, db)
		})
	}
}

// benchTenant is a tenant whose workspace routes "bench.event" through rules rules, each on its
// own connection, plus one rule for another event that never matches (so routing always has a
// rule to skip).
func benchTenant(b *testing.B, db store.Store, rules int) *storetest.Tenant {
	b.Helper()
	tn := storetest.NewTenant(b, db)
	storetest.NewRule(b, db, tn, storetest.RuleOpts{Event: "bench.other"})
	for range rules {
		c := storetest.NewConnection(tn.Workspace)
		if err := db.ConnectionInsert(context.Background(), c); err != nil {
			b.Fatal(err)
		}
		storetest.NewRule(b, db, tn, storetest.RuleOpts{Event: "bench.event", Connection: c})
	}
	return tn
}

// benchEvent builds (does not insert) an accepted event of the tenant's workspace.
func benchEvent(tn *storetest.Tenant, name string) *switchyard.Event {
	return &switchyard.Event{ID: uuid.Must(uuid.NewV7()), OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID, Name: name,
		Resource: "user", ResourceID: "usr_2048", Payload: benchPayload, CreatedBy: "publishable_key", CreatedAt: time.Now().UTC()}
}

// BenchmarkEventInsert measures routing and inserting one event with its deliveries in one
// transaction (store.EventInsert), with 0, 1 and 10 matching rules.
func BenchmarkEventInsert(b *testing.B) {
	eachDialect(b, func(b *testing.B, db *sqlstore.DB) {
		for _, rules := range []int{0, 1, 10} {
			b.Run(fmt.Sprintf("rules=%d", rules), func(b *testing.B) {
				tn := benchTenant(b, db, rules)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					ds, err := storetest.InsertEvent(ctx, db, benchEvent(tn, "bench.event"))
					if err != nil {
						b.Fatal(err)
					}
					if len(ds) != rules {
						b.Fatalf("%d deliveries, want %d", len(ds), rules)
					}
				}
			})
		}
	})
}

// BenchmarkEventInsertBatch100 measures store.EventInsertBatch with 100 events (a bulk request,
// or a full group commit of single events), with 0 and 1 matching rules. ns/event is per event.
func BenchmarkEventInsertBatch100(b *testing.B) {
	eachDialect(b, func(b *testing.B, db *sqlstore.DB) {
		for _, rules := range []int{0, 1} {
			b.Run(fmt.Sprintf("rules=%d", rules), func(b *testing.B) {
				tn := benchTenant(b, db, rules)
				ctx := context.Background()
				events := make([]*switchyard.Event, 100)
				b.ReportAllocs()
				for b.Loop() {
					for i := range events {
						events[i] = benchEvent(tn, "bench.event")
					}
					if _, err := db.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: events}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
			})
		}
	})
}

// claimBatch is the engine's largest claim with its default 64 workers, spread over connections
// of the default per-connection concurrency (16).
const (
	claimBatch   = 64
	claimPerConn = 16
)

// claimTenant is a tenant with claimBatch/claimPerConn connections, each routing its own event
// name, so that one claim of claimBatch takes claimPerConn deliveries of each.
func claimTenant(b *testing.B, db store.Store) (*storetest.Tenant, []string) {
	b.Helper()
	tn := storetest.NewTenant(b, db)
	var names []string
	for i := range claimBatch / claimPerConn {
		c := storetest.NewConnection(tn.Workspace)
		if err := db.ConnectionInsert(context.Background(), c); err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("bench.claim.%d", i)
		storetest.NewRule(b, db, tn, storetest.RuleOpts{Event: name, Connection: c})
		names = append(names, name)
	}
	return tn, names
}

// queueBatch inserts n events, each with one due delivery, spread over the tenant's connections.
func queueBatch(b *testing.B, db store.Store, tn *storetest.Tenant, names []string, n int) {
	b.Helper()
	events := make([]*switchyard.Event, n)
	for i := range events {
		events[i] = benchEvent(tn, names[i%len(names)])
	}
	if _, err := db.EventInsertBatch(context.Background(), store.EventInsertBatchParams{Events: events}); err != nil {
		b.Fatal(err)
	}
}

// claim leases up to n due deliveries, as the engine does with n free workers.
func claim(b *testing.B, db store.Store, n int) []*store.Claimed {
	b.Helper()
	return claimWith(b, db, n, false)
}

// claimWith is claim, within cluster-wide limits when shared.
func claimWith(b *testing.B, db store.Store, n int, shared bool) []*store.Claimed {
	b.Helper()
	now := time.Now()
	cs, err := db.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(2 * time.Minute),
		Limit: n, PerConnection: claimPerConn, Shared: shared})
	if err != nil {
		b.Fatal(err)
	}
	if len(cs) != n {
		b.Fatalf("claimed %d, want %d", len(cs), n)
	}
	return cs
}

// delivered is the successful outcome of each claim, as the engine records it.
func delivered(cs []*store.Claimed) []store.DeliveryRecordParams {
	now := time.Now()
	out := make([]store.DeliveryRecordParams, len(cs))
	for i, c := range cs {
		// EventTotalRules as the engine passes it: an event with one delivery is not counted.
		out[i] = store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID, LeaseUntil: c.LeaseUntil,
			EventTotalRules: c.Event.TotalRules, Status: switchyard.StatusCompleted, Now: now,
			Attempt: &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID, Number: 1,
				StartedAt: now.Add(-time.Millisecond), CompletedAt: now, Outcome: switchyard.OutcomeDelivered, HTTPStatus: 200,
				ResponseExcerpt: "HTTP/1.1 200 OK\r\n"}}
	}
	return out
}

// BenchmarkDeliveryClaim measures one claim of 1, 8 and 64 due deliveries over 4 connections
// (fair ordering, lease, and loading events with payloads, rules and connections): the engine
// claims as many as it has free workers, so the sizes show the fixed cost of a claim beside its
// cost per delivery. Each iteration queues the deliveries first and records them afterwards,
// untimed. ns/delivery is per claimed delivery.
func BenchmarkDeliveryClaim(b *testing.B) {
	eachDialect(b, func(b *testing.B, db *sqlstore.DB) {
		tn, names := claimTenant(b, db)
		for _, c := range []struct {
			n      int
			shared bool
		}{{1, false}, {8, false}, {claimBatch, false}, {1, true}, {8, true}} {
			name := fmt.Sprintf("batch=%d", c.n)
			if c.shared {
				name += "/shared" // within cluster-wide limits, as on PostgreSQL by default
			}
			n := c.n
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					queueBatch(b, db, tn, names, n)
					b.StartTimer()
					cs := claimWith(b, db, n, c.shared)
					b.StopTimer()
					if _, err := db.DeliveryRecordBatch(context.Background(), delivered(cs)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
			})
		}
	})
}

// BenchmarkDeliveryClaimPastBacklog measures the claims that look past a busy connection with a
// backlog of 20,000 due deliveries, older than another connection's 8: a claim that leaves the
// busy one out (as the engine's claims do while all its slots are taken), which reads past at
// most 8 × its window of the backlog, and the sweep that reaches the other connection's
// deliveries by walking connections (store.DeliveryClaimParams.Sweep). Sweeps record what they
// claimed, untimed.
func BenchmarkDeliveryClaimPastBacklog(b *testing.B) {
	eachDialect(b, func(b *testing.B, db *sqlstore.DB) {
		tn, names := claimTenant(b, db) // names[0]'s connection is the busy one
		ctx := context.Background()
		for range 20 {
			events := make([]*switchyard.Event, 1000)
			for i := range events {
				events[i] = benchEvent(tn, names[0])
			}
			if _, err := db.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: events}); err != nil {
				b.Fatal(err)
			}
		}
		now := time.Now()
		probe, err := db.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now, Limit: 1})
		if err != nil || len(probe) != 1 {
			b.Fatalf("claimed %d (err %v)", len(probe), err)
		}
		exclude := []uuid.UUID{probe[0].Delivery.ConnectionID}
		for _, sweep := range []bool{false, true} {
			name := "excluded"
			if sweep {
				name = "sweep"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					if sweep {
						queueBatch(b, db, tn, names[1:2], 8)
					}
					now := time.Now()
					b.StartTimer()
					cs, err := db.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(2 * time.Minute),
						Limit: 8, PerConnection: claimPerConn, Window: 32, Exclude: exclude, Sweep: sweep})
					b.StopTimer()
					if err != nil || sweep && len(cs) != 8 {
						b.Fatalf("claimed %d (err %v)", len(cs), err)
					}
					if _, err := db.DeliveryRecordBatch(ctx, delivered(cs)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	})
}

// BenchmarkDeliveryRecordBatch measures recording 64 successful outcomes in one transaction
// (attempts, fenced delivery updates, each event's status — from its one delivery, without a
// count, as the engine's outcomes say how many deliveries their event has), as the recorder's
// group commit does. Each iteration queues and claims the 64 deliveries first, untimed.
func BenchmarkDeliveryRecordBatch(b *testing.B) {
	eachDialect(b, func(b *testing.B, db *sqlstore.DB) {
		tn, names := claimTenant(b, db)
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			queueBatch(b, db, tn, names, claimBatch)
			records := delivered(claim(b, db, claimBatch))
			b.StartTimer()
			errs, err := db.DeliveryRecordBatch(ctx, records)
			if err != nil {
				b.Fatal(err)
			}
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*claimBatch), "ns/delivery")
	})
}

// BenchmarkDeliveryClaimBusyConnection measures the cycle of one busy connection with a deep
// backlog, as the backlog scenario of `switchyard bench` drives it: 20,000 due deliveries of
// one connection, about 32 of them leased (in flight or kept ahead), and each iteration claims
// the next batch with the engine's window for one active connection (32) and records the batch
// claimed before. ns/delivery is per claimed and recorded delivery. The batch sizes are what the
// engine's claims took there before and after they waited for a connection's queue to run low
// (internal/delivery/ahead.go, "Topping up"): a claim's fixed cost is most of the difference.
func BenchmarkDeliveryClaimBusyConnection(b *testing.B) {
	const (
		backlog  = 20000
		inFlight = 32
	)
	for _, batch := range []int{10, 20} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			eachDialect(b, func(b *testing.B, db *sqlstore.DB) {
				tn, names := claimTenant(b, db)
				ctx := context.Background()
				queue := func(n int) {
					for n > 0 {
						events := make([]*switchyard.Event, min(n, 1000))
						for i := range events {
							events[i] = benchEvent(tn, names[0])
						}
						if _, err := db.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: events}); err != nil {
							b.Fatal(err)
						}
						n -= len(events)
					}
				}
				claimN := func(n int) []*store.Claimed {
					now := time.Now()
					cs, err := db.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(2 * time.Minute),
						Limit: n, PerConnection: 3 * claimPerConn, Window: 32})
					if err != nil || len(cs) != n {
						b.Fatalf("claimed %d of %d (err %v)", len(cs), n, err)
					}
					return cs
				}
				queue(backlog)
				var leased [][]*store.Claimed
				for range inFlight / batch {
					leased = append(leased, claimN(batch))
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if i%(backlog/2/batch) == 0 && i > 0 { // keep the backlog deep, untimed
						b.StopTimer()
						queue(backlog / 2)
						b.StartTimer()
					}
					leased = append(leased, claimN(batch))
					if _, err := db.DeliveryRecordBatch(ctx, delivered(leased[0])); err != nil {
						b.Fatal(err)
					}
					leased = leased[1:]
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/delivery")
			})
		})
	}
}
