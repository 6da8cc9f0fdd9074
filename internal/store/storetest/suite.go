package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Run is the conformance suite: every dialect must pass it. open returns a fresh, migrated,
// empty store private to the test that calls it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Bootstrap creates the first tenant once and then reports it", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		res, err := s.Bootstrap(context.Background(), store.BootstrapParams{
			Organization: &switchyard.Organization{ID: uuid.New(), Name: "other", CreatedAt: T0},
			MachineKey:   &switchyard.MachineKey{ID: uuid.New(), AccessKey: "mk_other", SecretSealed: "x", CreatedAt: T0},
			Workspace:    NewWorkspace(uuid.New(), "other"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Created {
			t.Fatal("second bootstrap created records")
		}
		if res.Organization.ID != tn.Org.ID || res.Workspace.ID != tn.Workspace.ID || res.MachineKey.AccessKey != tn.Key.AccessKey {
			t.Fatalf("bootstrap reported %v/%v/%v, want the first tenant", res.Organization.ID, res.Workspace.ID, res.MachineKey.AccessKey)
		}
	})

	t.Run("Machine keys are found by access key with their revocation", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		got, err := s.MachineKeyGetByAccessKey(ctx, tn.Key.AccessKey)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != tn.Key.ID || got.OrganizationID != tn.Org.ID || got.SecretSealed != "sealed" || got.RevokedAt != nil {
			t.Fatalf("got %+v", got)
		}
		if _, err := s.MachineKeyGetByAccessKey(ctx, "mk_nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown key: err = %v, want ErrNotFound", err)
		}
		dup := *tn.Key
		dup.ID = uuid.New()
		if err := s.MachineKeyInsert(ctx, &dup); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate access key: err = %v, want ErrConflict", err)
		}
	})

	t.Run("Workspaces are isolated per organization and names are unique within one", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		ctx := context.Background()
		got, err := s.WorkspaceGet(ctx, store.WorkspaceGetParams{OrganizationID: a.Org.ID, ID: a.Workspace.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Default" || got.PublishableKey != a.Workspace.PublishableKey || !got.CreatedAt.Equal(T0) || got.Description != nil {
			t.Fatalf("got %+v", got)
		}
		if _, err := s.WorkspaceGet(ctx, store.WorkspaceGetParams{OrganizationID: b.Org.ID, ID: a.Workspace.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other org's workspace: err = %v, want ErrNotFound", err)
		}
		if err := s.WorkspaceInsert(ctx, NewWorkspace(a.Org.ID, "Default")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate name: err = %v, want ErrConflict", err)
		}
		byKey, err := s.WorkspaceGetByPublishableKey(ctx, b.Workspace.PublishableKey)
		if err != nil || byKey.ID != b.Workspace.ID {
			t.Fatalf("by publishable key: %v, %v", byKey, err)
		}
		desc := "with a description"
		w := NewWorkspace(a.Org.ID, "Second")
		w.Description = &desc
		if err := s.WorkspaceInsert(ctx, w); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.WorkspaceGet(ctx, store.WorkspaceGetParams{OrganizationID: a.Org.ID, ID: w.ID}); got == nil || got.Description == nil || *got.Description != desc {
			t.Fatalf("description not kept: %+v", got)
		}
	})

	t.Run("Lists page newest first and cursors survive concurrent inserts", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		want := []uuid.UUID{tn.Workspace.ID}
		for i := range 4 {
			w := NewWorkspace(tn.Org.ID, "ws"+string(rune('a'+i)))
			w.CreatedAt = T0.Add(time.Duration(i+1) * time.Second)
			if err := s.WorkspaceInsert(ctx, w); err != nil {
				t.Fatal(err)
			}
			want = append([]uuid.UUID{w.ID}, want...)
		}
		page, err := s.WorkspaceList(ctx, store.ListParams{OrganizationID: tn.Org.ID, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		var got []uuid.UUID
		for _, w := range page.Records {
			got = append(got, w.ID)
		}
		// A newer workspace arrives between pages: it must not shift the next page.
		late := NewWorkspace(tn.Org.ID, "late")
		late.CreatedAt = T0.Add(time.Hour)
		if err := s.WorkspaceInsert(ctx, late); err != nil {
			t.Fatal(err)
		}
		for page.NextCursor != "" {
			if page, err = s.WorkspaceList(ctx, store.ListParams{OrganizationID: tn.Org.ID, Limit: 2, Cursor: page.NextCursor}); err != nil {
				t.Fatal(err)
			}
			for _, w := range page.Records {
				got = append(got, w.ID)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("paged %d workspaces, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("page order %v, want %v", got, want)
			}
		}
		other := NewTenant(t, s)
		if page, err := s.WorkspaceList(ctx, store.ListParams{OrganizationID: other.Org.ID, Limit: 50}); err != nil || len(page.Records) != 1 {
			t.Fatalf("other org sees %d workspaces (err %v), want its own 1", len(page.Records), err)
		}
		if _, err := s.WorkspaceList(ctx, store.ListParams{OrganizationID: tn.Org.ID, Limit: 2, Cursor: "garbage!"}); switchyard.ErrorCode(err) != switchyard.EINVALID {
			t.Fatalf("bad cursor: err = %v, want EINVALID", err)
		}
	})

	t.Run("Connections and rules round-trip and stay in their organization", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		ctx := context.Background()
		c, err := s.ConnectionGet(ctx, store.ConnectionGetParams{OrganizationID: a.Org.ID, ID: a.Connection.ID})
		if err != nil {
			t.Fatal(err)
		}
		if c.Metadata["url"] != "https://example.com/hook" || !c.Active || c.Type != "webhook" {
			t.Fatalf("got %+v", c)
		}
		if _, err := s.ConnectionGet(ctx, store.ConnectionGetParams{OrganizationID: b.Org.ID, ID: a.Connection.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other org's connection: err = %v", err)
		}
		r := NewRule(t, s, a, RuleOpts{Resource: "user"})
		got, err := s.RuleGet(ctx, store.RuleGetParams{OrganizationID: a.Org.ID, ID: r.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got.Resource != "user" || got.ResourceID != "" || got.Metadata["action"] != "send_webhook" || !got.Active {
			t.Fatalf("got %+v", got)
		}
		if _, err := s.RuleGet(ctx, store.RuleGetParams{OrganizationID: b.Org.ID, ID: r.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other org's rule: err = %v", err)
		}
	})

	t.Run("Events fan out to every matching active rule and to nothing else", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn, other := NewTenant(t, s), NewTenant(t, s)
		ctx := context.Background()
		any1 := NewRule(t, s, tn, RuleOpts{})
		user := NewRule(t, s, tn, RuleOpts{Resource: "user"})
		exact := NewRule(t, s, tn, RuleOpts{Resource: "user", ResourceID: "u1"})
		NewRule(t, s, tn, RuleOpts{Resource: "order"})
		NewRule(t, s, tn, RuleOpts{Resource: "user", ResourceID: "u2"})
		NewRule(t, s, tn, RuleOpts{Event: "user.deleted"})
		NewRule(t, s, tn, RuleOpts{Inactive: true})
		NewRule(t, s, other, RuleOpts{})
		deadConn := NewConnection(tn.Workspace)
		if err := s.ConnectionInsert(ctx, deadConn); err != nil {
			t.Fatal(err)
		}
		NewRule(t, s, tn, RuleOpts{Connection: deadConn})
		if err := s.ConnectionDeactivate(ctx, store.ConnectionDeactivateParams{ConnectionID: deadConn.ID, Reason: switchyard.InactiveManuallyInactivated, Now: T0}); err != nil {
			t.Fatal(err)
		}

		e, ds := NewEvent(t, s, tn, EventOpts{Resource: "user", ResourceID: "u1"})
		gotRules := map[uuid.UUID]bool{}
		for _, d := range ds {
			gotRules[d.RuleID] = true
			if d.Status != switchyard.StatusPending || d.EventID != e.ID || d.IntegrationType != "webhook" {
				t.Fatalf("delivery %+v", d)
			}
		}
		if len(ds) != 3 || !gotRules[any1.ID] || !gotRules[user.ID] || !gotRules[exact.ID] {
			t.Fatalf("matched %d rules %v, want the 3 matching ones", len(ds), gotRules)
		}
		got, err := s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID, WithPayload: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.TotalRules != 3 || got.Status != switchyard.StatusPending || string(got.Payload) != `{"email":"a@example.com"}` {
			t.Fatalf("event %+v", got)
		}
		if noPayload, _ := s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID}); noPayload == nil || noPayload.Payload != nil {
			t.Fatal("payload returned without WithPayload")
		}
		if _, err := s.EventGet(ctx, store.EventGetParams{OrganizationID: other.Org.ID, ID: e.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other org's event: err = %v", err)
		}

		unmatched, none := NewEvent(t, s, tn, EventOpts{Name: "nobody.cares"})
		if len(none) != 0 {
			t.Fatalf("unmatched event got %d deliveries", len(none))
		}
		if got, _ := s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: unmatched.ID}); got.Status != switchyard.StatusCompleted || got.CompletedAt == nil {
			t.Fatalf("event without rules: %+v, want completed", got)
		}

		// Read together: the event is what EventGet gives, the deliveries are the three stored.
		both, withDs, err := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID, WithPayload: true})
		if err != nil || !reflect.DeepEqual(both, got) || len(withDs) != 3 {
			t.Fatalf("event with deliveries: %+v, %d deliveries (err %v), want %+v and 3", both, len(withDs), err, got)
		}
		for i, d := range withDs {
			if d.EventID != e.ID || !gotRules[d.RuleID] || (i > 0 && withDs[i-1].ID.String() > d.ID.String()) {
				t.Fatalf("delivery %d: %+v, not one of the event's, oldest first", i, d)
			}
		}
		if bare, _, _ := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID}); bare == nil || bare.Payload != nil {
			t.Fatal("payload returned without WithPayload")
		}
		alone, noDs, err := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: unmatched.ID})
		if err != nil || alone.ID != unmatched.ID || alone.Status != switchyard.StatusCompleted || len(noDs) != 0 {
			t.Fatalf("event without deliveries: %+v %v (err %v)", alone, noDs, err)
		}
		for _, id := range []uuid.UUID{e.ID, unmatched.ID} {
			if _, _, err := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: other.Org.ID, ID: id}); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("other org's event with deliveries: err = %v", err)
			}
		}
	})

	t.Run("A batch routes each event by its own resource and stores every event and delivery", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		any1 := NewRule(t, s, tn, RuleOpts{})
		u1 := NewRule(t, s, tn, RuleOpts{Resource: "user", ResourceID: "u1"})
		orders := NewRule(t, s, tn, RuleOpts{Event: "order.paid", Resource: "order"})
		// 101 events: more than one multi-row statement's worth (64 + 32 + 4 + 1), names and
		// resources mixed so that one workspace's rules for a name serve different events.
		var events []*switchyard.Event
		want := map[uuid.UUID][]uuid.UUID{}
		for i := range 101 {
			e := &switchyard.Event{ID: uuid.Must(uuid.NewV7()), OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
				Name: "user.signup", Resource: "user", ResourceID: fmt.Sprintf("u%d", i%3), Payload: []byte(`{"n":1}`),
				CreatedBy: "test", CreatedAt: T0.Add(time.Duration(i) * time.Millisecond)}
			switch {
			case i%5 == 4:
				e.Name, e.Resource = "order.paid", "order"
				want[e.ID] = []uuid.UUID{orders.ID}
			case e.ResourceID == "u1":
				want[e.ID] = []uuid.UUID{any1.ID, u1.ID}
			default:
				want[e.ID] = []uuid.UUID{any1.ID}
			}
			events = append(events, e)
		}
		out, err := s.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: events})
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range events {
			var got []uuid.UUID
			for _, d := range out[i] {
				got = append(got, d.RuleID)
			}
			if fmt.Sprint(got) != fmt.Sprint(want[e.ID]) || e.TotalRules != len(want[e.ID]) {
				t.Fatalf("event %d (%s, %s): rules %v, total %d; want %v", i, e.Name, e.ResourceID, got, e.TotalRules, want[e.ID])
			}
			_, stored, err := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
			if err != nil || len(stored) != len(want[e.ID]) {
				t.Fatalf("event %d: %d deliveries stored (err %v), want %d", i, len(stored), err, len(want[e.ID]))
			}
			got2, err := s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID, WithPayload: true})
			if err != nil || got2.TotalRules != len(want[e.ID]) || got2.ResourceID != e.ResourceID || string(got2.Payload) != `{"n":1}` {
				t.Fatalf("event %d stored as %+v (err %v)", i, got2, err)
			}
		}
	})

	t.Run("Routing follows every change to rules and connections at once", func(t *testing.T) {
		// Ingestion caches a workspace's rules per event name: each change below must be seen
		// by the very next event.
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		routed := func(want int, what string) {
			t.Helper()
			for _, batch := range []bool{false, true} {
				var ds []*switchyard.Delivery
				if batch {
					e := &switchyard.Event{ID: uuid.Must(uuid.NewV7()), OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
						Name: "user.signup", Resource: "user", Payload: []byte(`{}`), CreatedBy: "test", CreatedAt: T0}
					out, err := s.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: []*switchyard.Event{e}})
					if err != nil {
						t.Fatal(err)
					}
					ds = out[0]
				} else {
					_, ds = NewEvent(t, s, tn, EventOpts{Resource: "user"})
				}
				if len(ds) != want {
					t.Fatalf("%s (batch %v): %d deliveries, want %d", what, batch, len(ds), want)
				}
			}
		}
		routed(0, "no rules")
		first := NewRule(t, s, tn, RuleOpts{})
		routed(1, "after a rule was added")
		conn := NewConnection(tn.Workspace)
		if err := s.ConnectionInsert(ctx, conn); err != nil {
			t.Fatal(err)
		}
		second := NewRule(t, s, tn, RuleOpts{Connection: conn})
		routed(2, "after a second rule on a new connection")
		if err := s.ConnectionDeactivate(ctx, store.ConnectionDeactivateParams{ConnectionID: conn.ID,
			Reason: switchyard.InactiveManuallyInactivated, Now: T0}); err != nil {
			t.Fatal(err)
		}
		routed(1, "after its connection was deactivated")
		if _, err := s.RuleDelete(ctx, store.RuleDeleteParams{OrganizationID: tn.Org.ID, ID: first.ID, Now: T0}); err != nil {
			t.Fatal(err)
		}
		routed(0, "after the first rule was deleted")
		if _, err := s.ConnectionDelete(ctx, store.ConnectionDeleteParams{OrganizationID: tn.Org.ID, ID: conn.ID, Force: true, Now: T0}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RuleGet(ctx, store.RuleGetParams{OrganizationID: tn.Org.ID, ID: second.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the deleted connection's rule: err = %v, want not found", err)
		}
		NewRule(t, s, tn, RuleOpts{Resource: "order"})
		routed(0, "after a rule for another resource was added")
		NewRule(t, s, tn, RuleOpts{Resource: "user"})
		routed(1, "after a rule for the event's resource was added")
	})

	t.Run("Claims lease each due delivery to one claimer until the lease expires", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		NewRule(t, s, tn, RuleOpts{})
		const n = 40
		for range n {
			NewEvent(t, s, tn, EventOpts{})
		}
		if early, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: T0.Add(-time.Second), LeaseUntil: T0.Add(time.Minute), Limit: 100}); err != nil || len(early) != 0 {
			t.Fatalf("claimed %d deliveries before they were due (err %v)", len(early), err)
		}
		now := T0.Add(time.Second)
		lease := now.Add(time.Minute)
		var (
			mu   sync.Mutex
			seen = map[uuid.UUID]int{}
			wg   sync.WaitGroup
		)
		for range 4 {
			wg.Go(func() {
				for {
					cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: lease, Limit: 7})
					if err != nil {
						t.Error(err)
						return
					}
					if len(cs) == 0 {
						return
					}
					mu.Lock()
					for _, c := range cs {
						seen[c.Delivery.ID]++
						if c.Event == nil || c.Rule == nil || c.Connection == nil || c.Event.Payload == nil {
							t.Errorf("claim without its work: %+v", c)
						}
						if c.Delivery.Status != switchyard.StatusProcessing {
							t.Errorf("claimed delivery status %s", c.Delivery.Status)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("claimed %d distinct deliveries, want %d", len(seen), n)
		}
		for id, k := range seen {
			if k != 1 {
				t.Fatalf("delivery %s claimed %d times", id, k)
			}
		}
		if again, _ := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: lease.Add(-time.Microsecond), LeaseUntil: lease.Add(time.Hour), Limit: 100}); len(again) != 0 {
			t.Fatalf("re-claimed %d deliveries while leased", len(again))
		}
		expired, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: lease, LeaseUntil: lease.Add(time.Minute), Limit: 100})
		if err != nil || len(expired) != n {
			t.Fatalf("after lease expiry re-claimed %d, want %d (err %v)", len(expired), n, err)
		}
	})

	t.Run("Recording outcomes moves deliveries and derives the event status and counters", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn, other := NewTenant(t, s), NewTenant(t, s)
		ctx := context.Background()
		NewRule(t, s, tn, RuleOpts{})
		NewRule(t, s, tn, RuleOpts{})
		e, _ := NewEvent(t, s, tn, EventOpts{})
		now := T0.Add(time.Second)
		cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
		if err != nil || len(cs) != 2 {
			t.Fatalf("claimed %d (err %v)", len(cs), err)
		}
		if got, _ := s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID}); got.Status != switchyard.StatusProcessing || got.StartedAt == nil {
			t.Fatalf("claimed event %+v, want processing and started", got)
		}
		attempt := func(c *store.Claimed, o switchyard.Outcome) *switchyard.Attempt {
			return &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: c.Delivery.ID, EventID: e.ID, Number: c.Delivery.AttemptCount + 1,
				StartedAt: now, CompletedAt: now.Add(3 * time.Millisecond), Outcome: o, HTTPStatus: 200, Message: "ok", ResponseExcerpt: "HTTP/1.1 200 OK"}
		}
		ok, bad := cs[0], cs[1]
		if err := RecordDelivery(ctx, s, store.DeliveryRecordParams{DeliveryID: ok.Delivery.ID, EventID: e.ID, LeaseUntil: ok.LeaseUntil,
			Attempt: attempt(ok, switchyard.OutcomeDelivered), Status: switchyard.StatusCompleted, Now: now}); err != nil {
			t.Fatal(err)
		}
		retryAt := now.Add(5 * time.Second)
		if err := RecordDelivery(ctx, s, store.DeliveryRecordParams{DeliveryID: bad.Delivery.ID, EventID: e.ID, LeaseUntil: bad.LeaseUntil,
			Attempt: attempt(bad, switchyard.OutcomeRejectedServerError), Status: switchyard.StatusRetrying, NextAttemptAt: &retryAt,
			LastError: "HTTP 503", Now: now}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
		if got.Status != switchyard.StatusRetrying || got.CompletedCount != 1 || got.FailedCount != 0 || got.CompletedAt != nil {
			t.Fatalf("event after one success, one retry: %+v", got)
		}
		// Recording again with the spent lease is refused.
		if err := RecordDelivery(ctx, s, store.DeliveryRecordParams{DeliveryID: ok.Delivery.ID, EventID: e.ID, LeaseUntil: ok.LeaseUntil,
			Status: switchyard.StatusFailed, Now: now}); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("stale record: err = %v, want ErrLeaseLost", err)
		}
		retry, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: retryAt, LeaseUntil: retryAt.Add(time.Minute), Limit: 10})
		if err != nil || len(retry) != 1 || retry[0].Delivery.ID != bad.Delivery.ID || retry[0].Delivery.AttemptCount != 1 {
			t.Fatalf("retry claim: %v (err %v)", retry, err)
		}
		if err := RecordDelivery(ctx, s, store.DeliveryRecordParams{DeliveryID: bad.Delivery.ID, EventID: e.ID, LeaseUntil: retry[0].LeaseUntil,
			Attempt: attempt(retry[0], switchyard.OutcomeDestinationGone), Status: switchyard.StatusFailed, LastError: "HTTP 410", Now: retryAt}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
		if got.Status != switchyard.StatusFailed || got.CompletedCount != 1 || got.FailedCount != 1 || got.CompletedAt == nil {
			t.Fatalf("event after success + failure: %+v", got)
		}
		_, ds, _ := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
		for _, d := range ds {
			if d.ID == bad.Delivery.ID && (d.AttemptCount != 2 || d.LastError != "HTTP 410" || d.NextAttemptAt != nil || d.CompletedAt == nil) {
				t.Fatalf("failed delivery %+v", d)
			}
		}
		as, err := s.AttemptListByDelivery(ctx, store.AttemptListByDeliveryParams{OrganizationID: tn.Org.ID, DeliveryID: bad.Delivery.ID})
		if err != nil || len(as) != 2 || as[0].Number != 1 || as[1].Number != 2 || as[1].Outcome != switchyard.OutcomeDestinationGone ||
			as[0].Duration() != 3*time.Millisecond || as[0].ResponseExcerpt != "HTTP/1.1 200 OK" {
			t.Fatalf("attempts %+v (err %v)", as, err)
		}
		if leaked, _ := s.AttemptListByDelivery(ctx, store.AttemptListByDeliveryParams{OrganizationID: other.Org.ID, DeliveryID: bad.Delivery.ID}); len(leaked) != 0 {
			t.Fatal("other org sees attempts")
		}
	})

	t.Run("One batch records many outcomes: each event follows its deliveries, a lost lease is refused and its attempt still counted", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		NewRule(t, s, tn, RuleOpts{Event: "two"})
		NewRule(t, s, tn, RuleOpts{Event: "two"})
		NewRule(t, s, tn, RuleOpts{Event: "one"})
		fan, _ := NewEvent(t, s, tn, EventOpts{Name: "two"})
		solo, _ := NewEvent(t, s, tn, EventOpts{Name: "one"})
		stale, _ := NewEvent(t, s, tn, EventOpts{Name: "one"})
		now := T0.Add(time.Second)
		cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
		if err != nil || len(cs) != 4 {
			t.Fatalf("claimed %d (err %v)", len(cs), err)
		}
		byEvent := map[uuid.UUID][]*store.Claimed{}
		for _, c := range cs {
			byEvent[c.Delivery.EventID] = append(byEvent[c.Delivery.EventID], c)
		}
		record := func(c *store.Claimed, rules int, st switchyard.Status, o switchyard.Outcome) store.DeliveryRecordParams {
			return store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID, LeaseUntil: c.LeaseUntil,
				EventTotalRules: rules, Status: st, Now: now, Attempt: &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()),
					DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID, Number: 1, StartedAt: now, CompletedAt: now, Outcome: o}}
		}
		lost := record(byEvent[stale.ID][0], 1, switchyard.StatusCompleted, switchyard.OutcomeDelivered)
		lost.LeaseUntil = lost.LeaseUntil.Add(-time.Second) // another lease than the one it holds
		errs, err := s.DeliveryRecordBatch(ctx, []store.DeliveryRecordParams{
			record(byEvent[fan.ID][0], 2, switchyard.StatusCompleted, switchyard.OutcomeDelivered),
			lost,
			record(byEvent[solo.ID][0], 1, switchyard.StatusCompleted, switchyard.OutcomeDelivered),
			record(byEvent[fan.ID][1], 2, switchyard.StatusFailed, switchyard.OutcomeDestinationGone),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != 4 || errs[0] != nil || !errors.Is(errs[1], store.ErrLeaseLost) || errs[2] != nil || errs[3] != nil {
			t.Fatalf("errors %v, want only the second ErrLeaseLost", errs)
		}
		for _, want := range []struct {
			e                 *switchyard.Event
			status            switchyard.Status
			completed, failed int
		}{{fan, switchyard.StatusFailed, 1, 1}, {solo, switchyard.StatusCompleted, 1, 0}, {stale, switchyard.StatusProcessing, 0, 0}} {
			got, err := s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: want.e.ID})
			if err != nil || got.Status != want.status || got.CompletedCount != want.completed || got.FailedCount != want.failed ||
				(got.CompletedAt != nil) != want.status.Terminal() {
				t.Fatalf("event %s: %+v (err %v), want %s with %d completed, %d failed", want.e.Name, got, err, want.status, want.completed, want.failed)
			}
		}
		_, ds, _ := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: stale.ID})
		if len(ds) != 1 || ds[0].Status != switchyard.StatusProcessing || ds[0].AttemptCount != 1 {
			t.Fatalf("the lost lease's delivery %+v, want still processing with its attempt counted", ds)
		}
		if as, err := s.AttemptListByDelivery(ctx, store.AttemptListByDeliveryParams{OrganizationID: tn.Org.ID, DeliveryID: ds[0].ID}); err != nil || len(as) != 1 {
			t.Fatalf("the lost lease's attempts %+v (err %v), want its one attempt logged", as, err)
		}
	})

	t.Run("Two outcomes of one delivery in one batch: the first holds its lease, the second is refused and still counted", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		e, c, now := ClaimOne(t, s, tn)
		retryAt := now.Add(5 * time.Second) // not the lease's end: the lease no longer matches after the first
		record := func(n int, st switchyard.Status) store.DeliveryRecordParams {
			p := store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: e.ID, LeaseUntil: c.LeaseUntil, EventTotalRules: 1,
				Status: st, Now: now, Attempt: &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: c.Delivery.ID, EventID: e.ID,
					Number: n, StartedAt: now, CompletedAt: now, Outcome: switchyard.OutcomeRejectedServerError}}
			if st == switchyard.StatusRetrying {
				p.NextAttemptAt = &retryAt
			}
			return p
		}
		errs, err := s.DeliveryRecordBatch(ctx, []store.DeliveryRecordParams{record(1, switchyard.StatusRetrying), record(2, switchyard.StatusFailed)})
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != 2 || errs[0] != nil || !errors.Is(errs[1], store.ErrLeaseLost) {
			t.Fatalf("errors %v, want nil then ErrLeaseLost", errs)
		}
		_, ds, _ := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
		if len(ds) != 1 || ds[0].Status != switchyard.StatusRetrying || ds[0].AttemptCount != 2 {
			t.Fatalf("delivery %+v, want retrying (the first outcome) with both attempts counted", ds)
		}
		if got, _ := s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID}); got.Status != switchyard.StatusRetrying {
			t.Fatalf("event %+v, want retrying", got)
		}
	})
}
