package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RunActivity runs the conformance tests of a workspace's dashboard activity.
func RunActivity(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Activity counts events by hour and status, attempts by outcome, and finds the oldest due delivery", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		tn := NewTenant(t, s)
		NewRule(t, s, tn, RuleOpts{})
		since := T0.Add(-3 * time.Hour)
		NewEvent(t, s, tn, EventOpts{CreatedAt: T0.Add(-2*time.Hour - time.Minute)}) // hour 0
		NewEvent(t, s, tn, EventOpts{CreatedAt: T0.Add(-30 * time.Minute)})          // hour 2
		e3, _ := NewEvent(t, s, tn, EventOpts{CreatedAt: T0.Add(-20 * time.Minute), Resource: "order", ResourceID: "o_1"})
		NewEvent(t, s, tn, EventOpts{CreatedAt: T0.Add(-4 * time.Hour)}) // before since
		other := NewTenant(t, s)
		NewEvent(t, s, other, EventOpts{CreatedAt: T0.Add(-10 * time.Minute)})

		// Before any claim every delivery waits, due since its event: the oldest is the one from
		// before the period.
		before, err := s.WorkspaceActivity(ctx, store.WorkspaceActivityParams{OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
			Since: since, Now: T0})
		if err != nil {
			t.Fatal(err)
		}
		if before.OldestDue == nil || !before.OldestDue.Equal(T0.Add(-4*time.Hour)) {
			t.Fatalf("oldest due %v, want %v", before.OldestDue, T0.Add(-4*time.Hour))
		}

		// One attempt of e3's delivery fails.
		now := T0.Add(-10 * time.Minute)
		cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Delivery.EventID != e3.ID {
				continue
			}
			next := now.Add(time.Hour)
			if err := RecordDelivery(ctx, s, store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: e3.ID, LeaseUntil: c.LeaseUntil,
				Attempt: &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: c.Delivery.ID, EventID: e3.ID, Number: 1,
					StartedAt: now, CompletedAt: now, Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: 503},
				Status: switchyard.StatusRetrying, NextAttemptAt: &next, Now: now}); err != nil {
				t.Fatal(err)
			}
		}

		a, err := s.WorkspaceActivity(ctx, store.WorkspaceActivityParams{OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
			Since: since, Now: T0})
		if err != nil {
			t.Fatal(err)
		}
		total := func(h map[switchyard.Status]int) (n int) {
			for _, v := range h {
				n += v
			}
			return n
		}
		if len(a.Hours) != 4 || total(a.Hours[0]) != 1 || total(a.Hours[1]) != 0 || total(a.Hours[2]) != 2 || total(a.Hours[3]) != 0 {
			t.Fatalf("hours %v, want 1, 0, 2, 0", a.Hours)
		}
		if a.Hours[2][switchyard.StatusRetrying] != 1 {
			t.Fatalf("hour 2 by status %v, want one retrying", a.Hours[2])
		}
		if a.Attempts != 1 || a.Delivered != 0 || a.FailedAttempts[switchyard.OutcomeRejectedServerError] != 1 {
			t.Fatalf("attempts %d, delivered %d, failed %v", a.Attempts, a.Delivered, a.FailedAttempts)
		}
		// Claimed deliveries are leased, not due, and the retry is due later: nothing waits.
		if a.OldestDue != nil {
			t.Fatalf("oldest due %v, want none", a.OldestDue)
		}

		r, err := s.WorkspaceActivity(ctx, store.WorkspaceActivityParams{OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
			Resource: "order", ResourceID: "o_1", Since: since, Now: T0})
		if err != nil {
			t.Fatal(err)
		}
		if total(r.Hours[0]) != 0 || total(r.Hours[2]) != 1 || r.Attempts != 1 {
			t.Fatalf("the resource's activity: hours %v, attempts %d", r.Hours, r.Attempts)
		}
	})

	t.Run("Activity is read as of one moment", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		const n = 120
		// Each outcome completes an event and adds its delivered attempt in one transaction, so
		// every committed state has as many completed events as delivered attempts.
		whileOutcomesCommit(t, s, tn, n, func(reads int, final bool) {
			a, err := s.WorkspaceActivity(context.Background(), store.WorkspaceActivityParams{OrganizationID: tn.Org.ID,
				WorkspaceID: tn.Workspace.ID, Since: T0.Add(-time.Hour), Now: T0.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			completed := 0
			for _, h := range a.Hours {
				completed += h[switchyard.StatusCompleted]
			}
			if completed != a.Delivered || (final && completed != n) {
				t.Fatalf("read %d: %d events completed beside %d attempts delivered", reads, completed, a.Delivered)
			}
		})
	})
}
