package sqlstore

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// A claim on SQLite takes its events from those the store has just inserted: what it returns
// must be exactly what reading them back would have given.
func TestClaimedEventsFromRecentAreWhatTheDatabaseHolds(t *testing.T) {
	t.Parallel()
	db, err := Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	tn := storetest.NewTenant(t, db)
	storetest.NewRule(t, db, tn, storetest.RuleOpts{Event: "one"})
	second := storetest.NewConnection(tn.Workspace)
	if err := db.ConnectionInsert(ctx, second); err != nil {
		t.Fatal(err)
	}
	storetest.NewRule(t, db, tn, storetest.RuleOpts{Event: "fan"})
	storetest.NewRule(t, db, tn, storetest.RuleOpts{Event: "fan", Connection: second})

	created := time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.Local) // finer than the database keeps
	event := func(name string) *switchyard.Event {
		return &switchyard.Event{ID: uuid.Must(uuid.NewV7()), OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
			Name: name, Resource: "user", ResourceID: "u_1", Payload: []byte(`{"n": 1, "s": "é"}`), CreatedBy: "test", CreatedAt: created}
	}
	one, fan, none := event("one"), event("fan"), event("unrouted")
	if _, err := db.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: []*switchyard.Event{one, fan, none}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.recent.len(); n != 2 {
		t.Fatalf("%d events kept, want the 2 with deliveries", n)
	}

	now := created.Add(1500 * time.Nanosecond)
	claims, err := db.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
	if err != nil || len(claims) != 3 {
		t.Fatalf("claimed %d (%v), want 3", len(claims), err)
	}
	for _, c := range claims {
		stored, err := db.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: c.Event.ID, WithPayload: true})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.Event, stored) {
			t.Errorf("claimed event\n%+v\nstored\n%+v", c.Event, stored)
		}
	}
	if n, _ := db.recent.len(); n != 1 {
		t.Fatalf("%d events kept after the claim, want the fan-out one only", n)
	}

	// A retry of the one-delivery event is claimed later: its event comes from the database.
	var retry *store.Claimed
	for _, c := range claims {
		if c.Event.ID == one.ID {
			retry = c
		}
	}
	again := now.Add(time.Second)
	if err := storetest.RecordDelivery(ctx, db, store.DeliveryRecordParams{DeliveryID: retry.Delivery.ID, EventID: one.ID,
		LeaseUntil: retry.LeaseUntil, Status: switchyard.StatusRetrying, NextAttemptAt: &again, LastError: "boom", Now: now}); err != nil {
		t.Fatal(err)
	}
	claims, err = db.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: again, LeaseUntil: again.Add(time.Minute), Limit: 10})
	if err != nil || len(claims) != 1 || claims[0].Event.ID != one.ID || !bytes.Equal(claims[0].Event.Payload, one.Payload) {
		t.Fatalf("the retry's claim: %d claims (%v), want one with the event's payload", len(claims), err)
	}
}

func TestRecentEventsAreBounded(t *testing.T) {
	t.Parallel()
	ev := func(payload int, rules int) *switchyard.Event {
		return &switchyard.Event{ID: uuid.Must(uuid.NewV7()), Name: "e", Payload: bytes.Repeat([]byte("x"), payload), TotalRules: rules,
			Status: switchyard.StatusPending}
	}
	t.Run("by the slots", func(t *testing.T) {
		c := &recentEvents{m: map[uuid.UUID]*switchyard.Event{}, budget: 1 << 20, slots: 8}
		var all []*switchyard.Event
		for range 11 {
			all = append(all, ev(10, 1))
		}
		c.add(all)
		if n, _ := c.len(); n != 8 {
			t.Fatalf("%d kept, want 8", n)
		}
		for i, e := range all {
			if got := c.take(e.ID, time.Now()) != nil; got != (i >= 3) {
				t.Errorf("event %d kept: %v", i, got)
			}
		}
		if n, b := c.len(); n != 0 || b != 0 {
			t.Fatalf("after every take: %d events, %d bytes", n, b)
		}
	})
	t.Run("by the bytes", func(t *testing.T) {
		c := &recentEvents{m: map[uuid.UUID]*switchyard.Event{}, budget: 100 * (1000 + recentOverhead + 1), slots: 1000}
		var all []*switchyard.Event
		for range 150 {
			all = append(all, ev(1000, 2))
		}
		c.add(all[:120])
		c.add(all[120:])
		n, b := c.len()
		if n != 100 || b > c.budget {
			t.Fatalf("%d kept in %d bytes, want 100 within %d", n, b, c.budget)
		}
		if c.take(all[49].ID, time.Now()) != nil || c.take(all[50].ID, time.Now()) == nil {
			t.Fatal("the oldest were not the ones dropped")
		}
		// A fan-out event stays after a take; the cache keeps its own payload, and a take's
		// status is the caller's own.
		all[51].Payload[0] = 'y'
		got := c.take(all[51].ID, time.Now())
		got.Status = switchyard.StatusFailed
		again := c.take(all[51].ID, time.Now())
		if again == nil || again.Payload[0] != 'x' || again.Status != switchyard.StatusProcessing || again.StartedAt == nil {
			t.Fatalf("the fan-out event's second take: %+v", again)
		}
	})
	t.Run("left out", func(t *testing.T) {
		c := newRecentEvents()
		replayed := ev(10, 1)
		replayed.Replayed = true
		c.add([]*switchyard.Event{replayed, ev(10, 0), ev(recentBudget/16, 1)})
		if n, b := c.len(); n != 0 || b != 0 {
			t.Fatalf("%d kept (%d bytes), want none: replayed, no deliveries, too large", n, b)
		}
	})
}
