package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RunEngine is the conformance suite for what the delivery engine needs beyond Run: fair
// claims, batched records, releases, deferrals, queue statistics and retention.
func RunEngine(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Claims take every connection's oldest delivery before any connection's second", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		busy, quiet := busyAndQuiet(t, s, 20)
		now := T0.Add(time.Minute)
		cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 4, PerConnection: 3})
		if err != nil {
			t.Fatal(err)
		}
		perConn := map[uuid.UUID]int{}
		for _, c := range cs {
			perConn[c.Delivery.ConnectionID]++
		}
		if len(cs) != 4 || perConn[quiet.ID] != 1 || perConn[busy.ID] != 3 {
			t.Fatalf("claimed %d: %v; want the quiet connection's one and 3 of the busy one's", len(cs), perConn)
		}
		excluded, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10, Exclude: []uuid.UUID{busy.ID}})
		if err != nil || len(excluded) != 0 {
			t.Fatalf("claimed %d deliveries of an excluded connection (err %v)", len(excluded), err)
		}
	})

	t.Run("A sweep reaches due work that an excluded backlog hides from a claim's window", func(t *testing.T) {
		t.Parallel()
		for _, shared := range []bool{false, true} {
			s := open(t)
			ctx := context.Background()
			// A window of 4 reads past at most 8 × 4 deliveries of excluded connections: the
			// busy connection's 40 are older than the quiet one's.
			busy, quiet := busyAndQuiet(t, s, 40)
			now := T0.Add(time.Minute)
			p := store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 4, Window: 4,
				Exclude: []uuid.UUID{busy.ID}, Shared: shared}
			if cs, err := s.DeliveryClaim(ctx, p); err != nil || len(cs) != 0 {
				t.Fatalf("shared %v: a claim read %d deliveries past 32 of an excluded connection (err %v)", shared, len(cs), err)
			}
			var swept []uuid.UUID
			p.Sweep, p.Swept = true, func(last uuid.UUID) { swept = append(swept, last) }
			// Walking from the later of the two connections finds nothing after it.
			p.SweepAfter = busy.ID
			if bytes.Compare(quiet.ID[:], busy.ID[:]) > 0 {
				p.SweepAfter = quiet.ID
			}
			if cs, err := s.DeliveryClaim(ctx, p); err != nil || len(cs) != 0 {
				t.Fatalf("shared %v: a sweep from the last connection claimed %d (err %v)", shared, len(cs), err)
			}
			p.SweepAfter = uuid.Nil
			cs, err := s.DeliveryClaim(ctx, p)
			if err != nil || len(cs) != 1 || cs[0].Delivery.ConnectionID != quiet.ID || cs[0].Event == nil || cs[0].Connection == nil {
				t.Fatalf("shared %v: a sweep claimed %d (err %v), want the quiet connection's one delivery", shared, len(cs), err)
			}
			// Fewer connections than a walk's bound: each walk reached the end.
			if len(swept) != 2 || swept[0] != uuid.Nil || swept[1] != uuid.Nil {
				t.Fatalf("shared %v: sweeps reported %v, want the end twice", shared, swept)
			}
			// The busy connection was left out of the sweep too.
			p.Exclude = nil
			p.Sweep = false
			if cs, err := s.DeliveryClaim(ctx, p); err != nil || len(cs) != 4 || cs[0].Delivery.ConnectionID != busy.ID {
				t.Fatalf("shared %v: the busy connection's claim after the sweep: %d (err %v)", shared, len(cs), err)
			}
		}
	})

	t.Run("A sweep walks a bounded number of connections and the next goes on from there", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		all := map[uuid.UUID]bool{}
		for range store.SweepConnections + 4 {
			c := NewConnection(tn.Workspace)
			if err := s.ConnectionInsert(ctx, c); err != nil {
				t.Fatal(err)
			}
			NewRule(t, s, tn, RuleOpts{Event: "wide", Connection: c})
			all[c.ID] = true
		}
		NewEvent(t, s, tn, EventOpts{Name: "wide", CreatedAt: T0})
		now := T0.Add(time.Minute)
		var last uuid.UUID
		p := store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Sweep: true, Swept: func(l uuid.UUID) { last = l }}
		claimed := map[uuid.UUID]bool{}
		// A sweep for 3 takes 3 connections' deliveries and goes on after the third next time;
		// then a walk of SweepConnections, and the rest, at the end.
		for i, step := range []struct{ limit, want int }{{3, 3}, {2 * store.SweepConnections, store.SweepConnections}, {2 * store.SweepConnections, 1}} {
			p.Limit = step.limit
			cs, err := s.DeliveryClaim(ctx, p)
			if err != nil || len(cs) != step.want {
				t.Fatalf("sweep %d: claimed %d (err %v), want %d", i+1, len(cs), err, step.want)
			}
			var highest uuid.UUID
			for _, c := range cs {
				id := c.Delivery.ConnectionID
				if claimed[id] || !all[id] {
					t.Fatalf("sweep %d: connection %s claimed again, or not one of the test's", i+1, id)
				}
				claimed[id] = true
				if bytes.Compare(id[:], highest[:]) > 0 {
					highest = id
				}
			}
			if end := i == 2; end != (last == uuid.Nil) || !end && last != highest {
				t.Fatalf("sweep %d stopped at %v; its last connection was %v", i+1, last, highest)
			}
			p.SweepAfter = last
		}
	})

	t.Run("Claims take no more than a connection's Room", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		busy, other, full, few := tn.Connection, NewConnection(tn.Workspace), NewConnection(tn.Workspace), NewConnection(tn.Workspace)
		for _, c := range []*switchyard.Connection{other, full, few} {
			if err := s.ConnectionInsert(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		NewRule(t, s, tn, RuleOpts{Event: "busy", Connection: busy})
		NewRule(t, s, tn, RuleOpts{Event: "other", Connection: other})
		NewRule(t, s, tn, RuleOpts{Event: "full", Connection: full})
		NewRule(t, s, tn, RuleOpts{Event: "few", Connection: few})
		NewEvent(t, s, tn, EventOpts{Name: "few", CreatedAt: T0})
		for i := range 10 {
			at := T0.Add(time.Duration(i) * time.Millisecond)
			for _, name := range []string{"busy", "other", "full"} {
				NewEvent(t, s, tn, EventOpts{Name: name, CreatedAt: at})
			}
		}
		now := T0.Add(time.Minute)
		reported := map[uuid.UUID]bool{}
		cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 30, PerConnection: 4,
			Room: map[uuid.UUID]int{busy.ID: 2, full.ID: 0}, Full: func(id uuid.UUID) { reported[id] = true }})
		if err != nil {
			t.Fatal(err)
		}
		perConn := map[uuid.UUID]int{}
		for _, c := range cs {
			perConn[c.Delivery.ConnectionID]++
		}
		if perConn[busy.ID] != 2 || perConn[other.ID] != 4 || perConn[full.ID] != 0 {
			t.Fatalf("claimed busy %d, other %d, full %d; want 2 (its room), 4 (PerConnection), 0 (no room)",
				perConn[busy.ID], perConn[other.ID], perConn[full.ID])
		}
		// Full: the connections the claim took all it was allowed from, so more may be due.
		if perConn[few.ID] != 1 || len(reported) != 2 || !reported[busy.ID] || !reported[other.ID] {
			t.Fatalf("Full reported %v (few claimed %d); want the busy and the other connection only", reported, perConn[few.ID])
		}
	})

	t.Run("Claims hand over the event, rule and connection as they are now", func(t *testing.T) {
		// Claims cache rules and connections: a change between two claims must show in the second.
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		rule := NewRule(t, s, tn, RuleOpts{})
		claimOne := func(what string, at time.Time) *store.Claimed {
			t.Helper()
			e, _ := NewEvent(t, s, tn, EventOpts{CreatedAt: at})
			cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: at, LeaseUntil: at.Add(time.Minute), Limit: 10})
			if err != nil || len(cs) != 1 {
				t.Fatalf("%s: claimed %d (err %v), want 1", what, len(cs), err)
			}
			c := cs[0]
			if c.Event == nil || c.Event.ID != e.ID || string(c.Event.Payload) != `{"email":"a@example.com"}` || c.Event.StartedAt == nil {
				t.Fatalf("%s: claimed event %+v, want the new event, started, with its payload", what, c.Event)
			}
			return c
		}
		c := claimOne("first claim", T0)
		if c.Rule == nil || c.Rule.ID != rule.ID || c.Connection == nil || c.Connection.ID != tn.Connection.ID {
			t.Fatalf("first claim: rule %v connection %v", c.Rule, c.Connection)
		}
		if _, err := s.ConnectionUpdate(ctx, store.ConnectionUpdateParams{OrganizationID: tn.Org.ID, ID: tn.Connection.ID,
			Name: "Renamed", Metadata: map[string]any{"url": "https://example.com/v2"}, Now: T0.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		c = claimOne("after the connection changed", T0.Add(2*time.Second))
		if c.Connection == nil || c.Connection.Name != "Renamed" || c.Connection.Metadata["url"] != "https://example.com/v2" {
			t.Fatalf("after the connection changed: %+v", c.Connection)
		}
		// An event routed before its rule was deleted: the claim finds no rule.
		e, _ := NewEvent(t, s, tn, EventOpts{CreatedAt: T0.Add(3 * time.Second)})
		if _, err := s.RuleDelete(ctx, store.RuleDeleteParams{OrganizationID: tn.Org.ID, ID: rule.ID, Now: T0.Add(3 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		at := T0.Add(4 * time.Second)
		cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: at, LeaseUntil: at.Add(time.Minute), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Delivery.EventID == e.ID && c.Rule != nil {
				t.Fatalf("a claim after the rule was deleted still carries it: %+v", c.Rule)
			}
		}
	})

	// With EventTotalRules 1 (each event has only this delivery) an event's status follows from
	// the delivery's without counting the others; without it, it is counted.
	for _, total := range []int{0, 1} {
		t.Run(fmt.Sprintf("A batch of records is applied per record, refusing lost leases (event total rules %d)", total), func(t *testing.T) {
			t.Parallel()
			s := open(t)
			tn := NewTenant(t, s)
			ctx := context.Background()
			ps := ClaimDelivered(t, s, tn, 3)
			now := ps[0].Now
			for i := range ps {
				ps[i].EventTotalRules = total
			}
			ps[1].LeaseUntil = now // a lease this claimer never held
			ps[2].Status, ps[2].Attempt.Outcome, ps[2].Attempt.HTTPStatus = switchyard.StatusFailed, switchyard.OutcomeAuthFailed, 401
			errs, err := s.DeliveryRecordBatch(ctx, ps)
			if err != nil {
				t.Fatal(err)
			}
			if errs[0] != nil || errs[1] != store.ErrLeaseLost || errs[2] != nil {
				t.Fatalf("per-record errors %v, want [nil ErrLeaseLost nil]", errs)
			}
			// Each event follows its own delivery; the lost lease's is left as the claim made it.
			for i, want := range []struct {
				status            switchyard.Status
				completed, failed int
				done              bool
			}{{switchyard.StatusCompleted, 1, 0, true}, {switchyard.StatusProcessing, 0, 0, false}, {switchyard.StatusFailed, 0, 1, true}} {
				e, err := s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: ps[i].EventID})
				if err != nil {
					t.Fatal(err)
				}
				if e.Status != want.status || e.CompletedCount != want.completed || e.FailedCount != want.failed || (e.CompletedAt != nil) != want.done {
					t.Errorf("record %d: event %s completed %d failed %d completed_at %v, want %s %d %d (completed_at set: %v)",
						i, e.Status, e.CompletedCount, e.FailedCount, e.CompletedAt, want.status, want.completed, want.failed, want.done)
				}
			}
			// Both attempts were made: both are logged and counted, the lost lease's too.
			for i, p := range ps {
				as, err := s.AttemptListByDelivery(ctx, store.AttemptListByDeliveryParams{OrganizationID: tn.Org.ID, DeliveryID: p.DeliveryID})
				if err != nil || len(as) != 1 {
					t.Fatalf("record %d: %d attempts logged (err %v), want 1", i, len(as), err)
				}
				_, ds, err := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: p.EventID})
				if err != nil || len(ds) != 1 || ds[0].AttemptCount != 1 {
					t.Fatalf("record %d: deliveries %+v (err %v), want one with attempt_count 1", i, ds, err)
				}
				if want := ps[i].Status; (ds[0].Status == want) != (i != 1) {
					t.Fatalf("record %d: delivery status %s (recorded %s, lease held: %v)", i, ds[0].Status, want, i != 1)
				}
			}
		})
	}

	t.Run("An event with one delivery follows that delivery's status", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		NewRule(t, s, tn, RuleOpts{})
		e, _ := NewEvent(t, s, tn, EventOpts{})
		for _, step := range []struct {
			status                  switchyard.Status
			wantCompleted, wantFail int
		}{{switchyard.StatusRetrying, 0, 0}, {switchyard.StatusFailed, 0, 1}} {
			now := T0.Add(time.Hour)
			cs, _ := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 1})
			if len(cs) != 1 {
				t.Fatalf("claimed %d", len(cs))
			}
			var next *time.Time
			if !step.status.Terminal() {
				next = &now
			}
			if err := RecordDelivery(ctx, s, store.DeliveryRecordParams{DeliveryID: cs[0].Delivery.ID, EventID: e.ID,
				LeaseUntil: cs[0].LeaseUntil, Status: step.status, NextAttemptAt: next, Now: now, EventTotalRules: 1}); err != nil {
				t.Fatal(err)
			}
			got, _ := s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
			if got.Status != step.status || got.CompletedCount != step.wantCompleted || got.FailedCount != step.wantFail ||
				(got.CompletedAt != nil) != step.status.Terminal() {
				t.Fatalf("after %s: event %+v", step.status, got)
			}
		}
	})

	t.Run("An attempt whose lease was lost is still counted", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		e, c, now := ClaimOne(t, s, tn)
		err := RecordDelivery(ctx, s, store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: e.ID, LeaseUntil: now, // not our lease
			Attempt: &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: c.Delivery.ID, EventID: e.ID, Number: 1,
				StartedAt: now, CompletedAt: now, Outcome: switchyard.OutcomeDelivered},
			Status: switchyard.StatusCompleted, Now: now})
		if err != store.ErrLeaseLost {
			t.Fatalf("err = %v, want ErrLeaseLost", err)
		}
		_, ds, _ := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
		as, _ := s.AttemptListByDelivery(ctx, store.AttemptListByDeliveryParams{OrganizationID: tn.Org.ID, DeliveryID: c.Delivery.ID})
		if ds[0].AttemptCount != 1 || len(as) != 1 || ds[0].Status != switchyard.StatusProcessing {
			t.Fatalf("delivery %+v with %d attempts; want the attempt logged and counted, the status untouched", ds[0], len(as))
		}
	})

	// An outcome's text comes from the destination (a provider's error message, the start of
	// its answer), which may hold anything; PostgreSQL's text refuses NUL and invalid UTF-8.
	// Refusing the outcome would lose it and every other outcome of its batch, again at every
	// retry of the delivery: the store keeps the text with those replaced instead.
	t.Run("An outcome is recorded whatever its text holds", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		e, c, now := ClaimOne(t, s, tn)
		const bad = "caf\xc3\x28 \x00null\x00 \xff end"
		err := RecordDelivery(ctx, s, store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: e.ID, LeaseUntil: c.LeaseUntil,
			Attempt: &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: c.Delivery.ID, EventID: e.ID, Number: 1,
				StartedAt: now, CompletedAt: now, Outcome: switchyard.OutcomeValidationFailed, HTTPStatus: 400,
				Message: "HubSpot answered 400: " + bad, ResponseExcerpt: bad},
			Status: switchyard.StatusFailed, LastError: "HubSpot answered 400: " + bad, Now: now})
		if err != nil {
			t.Fatalf("recording an outcome with NUL and invalid UTF-8 in its text: %v", err)
		}
		const want = "caf\uFFFD( null \uFFFD end"
		_, ds, _ := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
		as, _ := s.AttemptListByDelivery(ctx, store.AttemptListByDeliveryParams{OrganizationID: tn.Org.ID, DeliveryID: c.Delivery.ID})
		if len(ds) != 1 || ds[0].Status != switchyard.StatusFailed || ds[0].LastError != "HubSpot answered 400: "+want {
			t.Fatalf("deliveries %+v, want one failed with last error %q", ds, "HubSpot answered 400: "+want)
		}
		if len(as) != 1 || as[0].Message != "HubSpot answered 400: "+want || as[0].ResponseExcerpt != want {
			t.Fatalf("attempts %+v, want one with the text kept, NUL dropped and invalid bytes replaced", as)
		}
	})

	// Metadata holding a number beyond a float64's range (the API accepted one until it refused
	// them) must stay readable: such a rule failed every list it was on and every claim that met
	// its deliveries, on PostgreSQL stopping the deliveries of every tenant behind it.
	t.Run("Metadata with a number beyond a float64 is read back, and its deliveries are claimed", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		conn := NewConnection(tn.Workspace)
		conn.Metadata["huge"] = json.Number("1e400")
		if err := s.ConnectionInsert(ctx, conn); err != nil {
			t.Fatal(err)
		}
		r := NewRule(t, s, tn, RuleOpts{Connection: conn, Metadata: map[string]any{"tiny": json.Number("-1e400"), "n": json.Number("7"),
			"deep": map[string]any{"list": []any{json.Number("1e999"), json.Number("2.5")}}}})
		got, err := s.RuleGet(ctx, store.RuleGetParams{OrganizationID: tn.Org.ID, ID: r.ID})
		if err != nil {
			t.Fatalf("reading the rule: %v", err)
		}
		deep, _ := got.Metadata["deep"].(map[string]any)
		list, _ := deep["list"].([]any)
		if _, ok := got.Metadata["tiny"].(json.Number); !ok || got.Metadata["n"] != 7.0 || len(list) != 2 || list[1] != 2.5 {
			t.Fatalf("rule metadata read back as %#v: want the numbers a float64 holds as float64, the others kept", got.Metadata)
		}
		if _, ok := list[0].(json.Number); !ok {
			t.Fatalf("rule metadata read back as %#v", got.Metadata)
		}
		if page, err := s.RuleList(ctx, store.RuleListParams{ListParams: store.ListParams{OrganizationID: tn.Org.ID, Limit: 10}}); err != nil || len(page.Records) != 1 {
			t.Fatalf("listing the rules: %v", err)
		}
		c, err := s.ConnectionGet(ctx, store.ConnectionGetParams{OrganizationID: tn.Org.ID, ID: conn.ID})
		if err != nil {
			t.Fatalf("reading the connection: %v", err)
		}
		if _, ok := c.Metadata["huge"].(json.Number); !ok {
			t.Fatalf("connection metadata read back as %#v", c.Metadata)
		}
		NewEvent(t, s, tn, EventOpts{})
		now := T0.Add(time.Second)
		cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
		if err != nil || len(cs) != 1 || cs[0].Rule == nil || cs[0].Connection == nil {
			t.Fatalf("claimed %d (err %v), want the rule's delivery with its rule and connection", len(cs), err)
		}
	})

	t.Run("Inserting a rule on a connection that no longer exists is not found", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		r := &switchyard.Rule{ID: uuid.Must(uuid.NewV7()), OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
			ConnectionID: uuid.New(), Type: "webhook", Event: "e", Metadata: map[string]any{"action": "send_webhook"},
			Active: true, CreatedBy: "test", CreatedAt: T0, UpdatedAt: T0}
		if err := s.RuleInsert(context.Background(), r); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Released claims are due again with their previous status", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		_, c, now := ClaimOne(t, s, tn)
		if err := s.DeliveryRelease(ctx, store.DeliveryReleaseParams{Claims: []store.ClaimRef{{DeliveryID: c.Delivery.ID, LeaseUntil: c.LeaseUntil}},
			DueAt: now, Now: now}); err != nil {
			t.Fatal(err)
		}
		again, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
		if err != nil || len(again) != 1 || again[0].Delivery.AttemptCount != 0 {
			t.Fatalf("after release claimed %v (err %v)", again, err)
		}
		_, ds, _ := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: again[0].Delivery.EventID})
		if ds[0].Status != switchyard.StatusProcessing {
			t.Fatalf("status %s", ds[0].Status)
		}
	})

	t.Run("Deferring a connection moves only its waiting deliveries", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		other := NewConnection(tn.Workspace)
		if err := s.ConnectionInsert(ctx, other); err != nil {
			t.Fatal(err)
		}
		NewRule(t, s, tn, RuleOpts{})
		NewRule(t, s, tn, RuleOpts{Connection: other})
		for range 3 {
			NewEvent(t, s, tn, EventOpts{})
		}
		until := T0.Add(time.Hour)
		n, err := s.DeliveryDefer(ctx, store.DeliveryDeferParams{ConnectionID: tn.Connection.ID, Until: until, Now: T0})
		if err != nil || n != 3 {
			t.Fatalf("deferred %d (err %v), want 3", n, err)
		}
		stats, err := s.DeliveryQueueStats(ctx, store.DeliveryQueueStatsParams{Now: T0.Add(time.Minute)})
		if err != nil || stats.Due != 3 || stats.OldestDue == nil || !stats.OldestDue.Equal(T0) {
			t.Fatalf("queue stats %+v (err %v), want the other connection's 3 due since T0", stats, err)
		}
		cs, _ := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: T0.Add(time.Minute), LeaseUntil: T0.Add(2 * time.Minute), Limit: 10})
		for _, c := range cs {
			if c.Delivery.ConnectionID != other.ID {
				t.Fatal("claimed a deferred delivery")
			}
		}
		if empty, _ := s.DeliveryQueueStats(ctx, store.DeliveryQueueStatsParams{Now: T0.Add(time.Minute)}); empty.Due != 0 || empty.OldestDue != nil {
			t.Fatalf("stats with everything claimed or deferred: %+v", empty)
		}
		// With DueBy, only what is due by then moves: a later delivery keeps its time.
		later, _ := NewEvent(t, s, tn, EventOpts{CreatedAt: T0.Add(2 * time.Hour)})
		if n, err := s.DeliveryDefer(ctx, store.DeliveryDeferParams{ConnectionID: tn.Connection.ID, Until: T0.Add(3 * time.Hour),
			DueBy: T0.Add(90 * time.Minute), Now: T0}); err != nil || n != 3 {
			t.Fatalf("deferred %d due by 90 min (err %v), want the 3 parked ones", n, err)
		}
		_, ds, _ := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: later.ID})
		for _, d := range ds {
			if d.ConnectionID == tn.Connection.ID && (d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(T0.Add(2*time.Hour))) {
				t.Fatalf("a delivery not yet due was moved: %v", d.NextAttemptAt)
			}
		}
	})

	t.Run("Retention deletes old finished events with their deliveries and keeps the rest", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ctx := context.Background()
		type orgEvent struct{ org, id uuid.UUID }
		var old []orgEvent
		for i := range 5 {
			e, _ := NewEvent(t, s, tn, EventOpts{CreatedAt: T0.Add(time.Duration(i) * time.Second)}) // no rules: completed at once
			old = append(old, orgEvent{tn.Org.ID, e.ID})
		}
		// Retention goes organization by organization: another one's old events go too.
		NewTenant(t, s) // one with no events at all
		other := NewTenant(t, s)
		for i := range 3 {
			e, _ := NewEvent(t, s, other, EventOpts{CreatedAt: T0.Add(time.Duration(i) * time.Minute)})
			old = append(old, orgEvent{other.Org.ID, e.ID})
		}
		NewRule(t, s, tn, RuleOpts{})
		pending, _ := NewEvent(t, s, tn, EventOpts{CreatedAt: T0})
		recent, _ := NewEvent(t, s, tn, EventOpts{Name: "other", CreatedAt: T0.Add(48 * time.Hour)})
		total := 0
		for {
			n, err := s.EventDeleteBefore(ctx, store.EventDeleteBeforeParams{Before: T0.Add(24 * time.Hour), Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			total += n
		}
		if total != len(old) {
			t.Fatalf("deleted %d events, want the %d old finished ones", total, len(old))
		}
		for _, e := range old {
			if _, err := s.EventGet(ctx, store.EventGetParams{OrganizationID: e.org, ID: e.id}); err == nil {
				t.Fatal("an old event survived")
			}
		}
		for _, id := range []uuid.UUID{pending.ID, recent.ID} {
			if _, err := s.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: id}); err != nil {
				t.Fatalf("kept event %s: %v", id, err)
			}
		}
		if _, ds, _ := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: pending.ID}); len(ds) != 1 {
			t.Fatal("the pending event lost its delivery")
		}
	})
}

// busyAndQuiet sets up a tenant whose connection (busy) has n due deliveries, one a millisecond
// from T0, and a second connection (quiet) with one delivery due a second after T0.
func busyAndQuiet(t *testing.T, s store.Store, n int) (busy, quiet *switchyard.Connection) {
	t.Helper()
	tn := NewTenant(t, s)
	busy, quiet = tn.Connection, NewConnection(tn.Workspace)
	if err := s.ConnectionInsert(context.Background(), quiet); err != nil {
		t.Fatal(err)
	}
	NewRule(t, s, tn, RuleOpts{Event: "busy", Connection: busy})
	NewRule(t, s, tn, RuleOpts{Event: "quiet", Connection: quiet})
	for i := range n {
		NewEvent(t, s, tn, EventOpts{Name: "busy", CreatedAt: T0.Add(time.Duration(i) * time.Millisecond)})
	}
	NewEvent(t, s, tn, EventOpts{Name: "quiet", CreatedAt: T0.Add(time.Second)})
	return busy, quiet
}
