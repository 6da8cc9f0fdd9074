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
	if n, _ := db.recent.held(); n != 2 {
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
	if n, _ := db.recent.held(); n != 1 {
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
