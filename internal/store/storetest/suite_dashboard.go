package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RunDashboard runs the conformance tests of the operator dashboard: single-use login tokens,
// sessions, and the overview's aggregates.
func RunDashboard(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("A login token is taken once, within its expiry, and only by its hash", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		tn := NewTenant(t, s)
		if err := s.DashboardLoginInsert(ctx, store.DashboardLoginInsertParams{TokenHash: "h1", OrganizationID: tn.Org.ID,
			CreatedAt: T0, ExpiresAt: T0.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if err := s.DashboardLoginInsert(ctx, store.DashboardLoginInsertParams{TokenHash: "h1", OrganizationID: tn.Org.ID,
			CreatedAt: T0, ExpiresAt: T0.Add(5 * time.Minute)}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a second token with the same hash: %v, want ErrConflict", err)
		}
		if _, err := s.DashboardLoginTake(ctx, store.DashboardLoginTakeParams{TokenHash: "unknown", Now: T0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an unknown token: %v, want ErrNotFound", err)
		}
		l, err := s.DashboardLoginTake(ctx, store.DashboardLoginTakeParams{TokenHash: "h1", Now: T0.Add(time.Minute)})
		if err != nil || l.OrganizationID != tn.Org.ID || l.UsedAt == nil || !l.UsedAt.Equal(T0.Add(time.Minute)) ||
			!l.ExpiresAt.Equal(T0.Add(5*time.Minute)) {
			t.Fatalf("take: %+v, %v", l, err)
		}
		if _, err := s.DashboardLoginTake(ctx, store.DashboardLoginTakeParams{TokenHash: "h1", Now: T0.Add(time.Minute)}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a used token: %v, want ErrNotFound", err)
		}
		if err := s.DashboardLoginInsert(ctx, store.DashboardLoginInsertParams{TokenHash: "h2", OrganizationID: tn.Org.ID,
			CreatedAt: T0, ExpiresAt: T0.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DashboardLoginTake(ctx, store.DashboardLoginTakeParams{TokenHash: "h2", Now: T0.Add(5 * time.Minute)}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a token at its expiry: %v, want ErrNotFound", err)
		}
	})

	t.Run("Of concurrent takes of one login token exactly one wins", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		tn := NewTenant(t, s)
		if err := s.DashboardLoginInsert(ctx, store.DashboardLoginInsertParams{TokenHash: "race", OrganizationID: tn.Org.ID,
			CreatedAt: T0, ExpiresAt: T0.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
		)
		for range 8 {
			wg.Go(func() {
				_, err := s.DashboardLoginTake(ctx, store.DashboardLoginTakeParams{TokenHash: "race", Now: T0.Add(time.Second)})
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("take: %v", err)
				}
				if err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d takes won, want 1", wins)
		}
	})

	t.Run("Expired login tokens are deleted by the next insert", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		tn := NewTenant(t, s)
		if err := s.DashboardLoginInsert(ctx, store.DashboardLoginInsertParams{TokenHash: "old", OrganizationID: tn.Org.ID,
			CreatedAt: T0, ExpiresAt: T0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if err := s.DashboardLoginInsert(ctx, store.DashboardLoginInsertParams{TokenHash: "new", OrganizationID: tn.Org.ID,
			CreatedAt: T0.Add(time.Hour), ExpiresAt: T0.Add(time.Hour + time.Minute)}); err != nil {
			t.Fatal(err)
		}
		// Were "old" still there, an insert with its hash would conflict.
		if err := s.DashboardLoginInsert(ctx, store.DashboardLoginInsertParams{TokenHash: "old", OrganizationID: tn.Org.ID,
			CreatedAt: T0.Add(time.Hour), ExpiresAt: T0.Add(time.Hour + time.Minute)}); err != nil {
			t.Fatalf("the expired token's hash is still taken: %v", err)
		}
	})

	t.Run("A session is found until it expires or is revoked", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		tn := NewTenant(t, s)
		if err := s.DashboardSessionInsert(ctx, store.DashboardSessionInsertParams{IDHash: "s1", OrganizationID: tn.Org.ID,
			CreatedAt: T0, ExpiresAt: T0.Add(12 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.DashboardSessionInsert(ctx, store.DashboardSessionInsertParams{IDHash: "s1", OrganizationID: tn.Org.ID,
			CreatedAt: T0, ExpiresAt: T0.Add(12 * time.Hour)}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a second session with the same id hash: %v, want ErrConflict", err)
		}
		ss, err := s.DashboardSessionGet(ctx, store.DashboardSessionGetParams{IDHash: "s1", Now: T0.Add(time.Hour)})
		if err != nil || ss.OrganizationID != tn.Org.ID || !ss.ExpiresAt.Equal(T0.Add(12*time.Hour)) || ss.RevokedAt != nil {
			t.Fatalf("get: %+v, %v", ss, err)
		}
		if _, err := s.DashboardSessionGet(ctx, store.DashboardSessionGetParams{IDHash: "s1", Now: T0.Add(12 * time.Hour)}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an expired session: %v, want ErrNotFound", err)
		}
		if _, err := s.DashboardSessionGet(ctx, store.DashboardSessionGetParams{IDHash: "nope", Now: T0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an unknown session: %v, want ErrNotFound", err)
		}
		if err := s.DashboardSessionRevoke(ctx, store.DashboardSessionRevokeParams{IDHash: "s1", Now: T0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DashboardSessionGet(ctx, store.DashboardSessionGetParams{IDHash: "s1", Now: T0.Add(2 * time.Minute)}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a revoked session: %v, want ErrNotFound", err)
		}
		if err := s.DashboardSessionRevoke(ctx, store.DashboardSessionRevokeParams{IDHash: "s1", Now: T0.Add(time.Hour)}); err != nil {
			t.Fatalf("revoking again: %v", err)
		}
		if err := s.DashboardSessionRevoke(ctx, store.DashboardSessionRevokeParams{IDHash: "unknown", Now: T0}); err != nil {
			t.Fatalf("revoking an unknown session: %v", err)
		}
	})

	t.Run("The overview counts events by workspace and status, and the queue by connection, per organization", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		tn := NewTenant(t, s)
		other := NewTenant(t, s)
		NewRule(t, s, tn, RuleOpts{})
		NewEvent(t, s, tn, EventOpts{})
		NewEvent(t, s, tn, EventOpts{})
		NewEvent(t, s, tn, EventOpts{Name: "nobody.listens"})
		NewEvent(t, s, other, EventOpts{})
		counts, err := s.EventStatusCounts(ctx, store.EventStatusCountsParams{OrganizationID: tn.Org.ID})
		if err != nil {
			t.Fatal(err)
		}
		got := map[switchyard.Status]int{}
		for _, c := range counts {
			if c.WorkspaceID != tn.Workspace.ID {
				t.Fatalf("a count of another workspace: %+v", c)
			}
			got[c.Status] += c.N
		}
		if got[switchyard.StatusPending] != 2 || len(got) != 2 {
			t.Fatalf("counts: %v", got)
		}
		qs, err := s.DeliveryQueueByConnection(ctx, store.DeliveryQueueByConnectionParams{OrganizationID: tn.Org.ID, Now: T0.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) != 1 || qs[0].ConnectionID != tn.Connection.ID || qs[0].WorkspaceID != tn.Workspace.ID || qs[0].Due != 2 ||
			qs[0].Scheduled != 0 || qs[0].Processing != 0 || qs[0].OldestDue == nil {
			t.Fatalf("queue: %+v", qs)
		}
		qs, err = s.DeliveryQueueByConnection(ctx, store.DeliveryQueueByConnectionParams{OrganizationID: tn.Org.ID, Now: T0.Add(-time.Hour)})
		if err != nil || len(qs) != 1 || qs[0].Due != 0 || qs[0].Scheduled != 2 || qs[0].OldestDue != nil {
			t.Fatalf("queue before the deliveries are due: %+v, %v", qs, err)
		}
		claimed, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: T0.Add(time.Second), LeaseUntil: T0.Add(time.Minute), Limit: 1})
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v, %v", claimed, err)
		}
		qs, err = s.DeliveryQueueByConnection(ctx, store.DeliveryQueueByConnectionParams{OrganizationID: tn.Org.ID, Now: T0.Add(2 * time.Second)})
		if err != nil || len(qs) != 1 || qs[0].Due != 1 || qs[0].Processing != 1 {
			t.Fatalf("queue with one delivery leased: %+v, %v", qs, err)
		}
		none, err := s.DeliveryQueueByConnection(ctx, store.DeliveryQueueByConnectionParams{OrganizationID: other.Org.ID, Now: T0.Add(time.Second)})
		if err != nil || len(none) != 0 {
			t.Fatalf("the other organization's queue: %+v, %v", none, err)
		}
	})
}
