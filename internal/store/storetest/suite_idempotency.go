package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RunIdempotency is the conformance suite for idempotent event inserts.
func RunIdempotency(t *testing.T, open func(t *testing.T) store.Store) {
	keyed := func(tn *Tenant, key string, at time.Time) *switchyard.Event {
		return &switchyard.Event{ID: uuid.Must(uuid.NewV7()), OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
			Name: "user.signup", Resource: switchyard.DefaultResource, Payload: []byte(`{"n":1}`), CreatedBy: "test",
			CreatedAt: at, IdempotencyKey: key}
	}

	t.Run("A repeated idempotency key replays the first event and stores nothing", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		NewRule(t, s, tn, RuleOpts{})
		first := keyed(tn, "order-1", T0)
		if ds, err := InsertEvent(ctx, s, first); err != nil || len(ds) != 1 || first.Replayed {
			t.Fatalf("first insert: %d deliveries, replayed %v, err %v", len(ds), first.Replayed, err)
		}
		again := keyed(tn, "order-1", T0.Add(time.Hour))
		ds, err := InsertEvent(ctx, s, again)
		if err != nil || len(ds) != 0 || !again.Replayed || again.ID != first.ID || !again.CreatedAt.Equal(T0) {
			t.Fatalf("repeat: %d deliveries, %+v, err %v; want the first event replayed", len(ds), again, err)
		}
		// In one batch too: the second of two events with one key is the first's replay.
		a, b := keyed(tn, "order-2", T0), keyed(tn, "order-2", T0)
		if _, err := s.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: []*switchyard.Event{a, b}}); err != nil {
			t.Fatal(err)
		}
		if a.Replayed || !b.Replayed || b.ID != a.ID {
			t.Fatalf("batch: a replayed %v, b replayed %v, same id %v", a.Replayed, b.Replayed, a.ID == b.ID)
		}
		page, _, err := s.EventListWithDeliveries(ctx, store.EventListParams{ListParams: store.ListParams{OrganizationID: tn.Org.ID, Limit: 50}})
		if err != nil || len(page.Records) != 2 {
			t.Fatalf("stored %d events (err %v), want 2", len(page.Records), err)
		}
	})

	t.Run("Keys are per workspace and expire after the window", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn, other := NewTenant(t, s), NewTenant(t, s)
		ctx := context.Background()
		first := keyed(tn, "k", T0)
		if _, err := InsertEvent(ctx, s, first); err != nil {
			t.Fatal(err)
		}
		elsewhere := keyed(other, "k", T0)
		if _, err := InsertEvent(ctx, s, elsewhere); err != nil || elsewhere.Replayed {
			t.Fatalf("same key in another workspace: replayed %v err %v", elsewhere.Replayed, err)
		}
		later := keyed(tn, "k", T0.Add(switchyard.IdempotencyWindow+time.Second))
		if _, err := InsertEvent(ctx, s, later); err != nil || later.Replayed || later.ID == first.ID {
			t.Fatalf("expired key: replayed %v err %v", later.Replayed, err)
		}
		n, err := s.IdempotencyKeyDeleteBefore(ctx, store.IdempotencyKeyDeleteBeforeParams{Before: T0.Add(time.Hour), Limit: 10})
		if err != nil || n != 1 {
			t.Fatalf("deleted %d expired keys (err %v), want the other workspace's one", n, err)
		}
	})
}
