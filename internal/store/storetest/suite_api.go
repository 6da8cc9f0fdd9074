package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RunAPI is the conformance suite of the store methods behind the rest of the Meshes API
// surface: updates and deletes, filtered lists, the catalogue, mappings, bulk inserts and
// delivery control. Every dialect must pass it; open is as for Run.
func RunAPI(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("Workspaces update their name and description and names stay unique", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		second := NewWorkspace(a.Org.ID, "Second")
		if err := s.WorkspaceInsert(ctx, second); err != nil {
			t.Fatal(err)
		}
		desc := "renamed"
		later := T0.Add(time.Minute)
		got, err := s.WorkspaceUpdate(ctx, store.WorkspaceUpdateParams{OrganizationID: a.Org.ID, ID: a.Workspace.ID, Name: "Prod",
			Description: &desc, Now: later})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Prod" || got.Description == nil || *got.Description != desc || !got.UpdatedAt.Equal(later) ||
			!got.CreatedAt.Equal(T0) || got.PublishableKey != a.Workspace.PublishableKey {
			t.Fatalf("updated workspace %+v", got)
		}
		if got, err = s.WorkspaceUpdate(ctx, store.WorkspaceUpdateParams{OrganizationID: a.Org.ID, ID: a.Workspace.ID, Name: "Prod", Now: later}); err != nil || got.Description != nil {
			t.Fatalf("clearing the description: %+v, %v", got, err)
		}
		if _, err := s.WorkspaceUpdate(ctx, store.WorkspaceUpdateParams{OrganizationID: a.Org.ID, ID: second.ID, Name: "Prod", Now: later}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("taking another workspace's name: err = %v, want ErrConflict", err)
		}
		if _, err := s.WorkspaceUpdate(ctx, store.WorkspaceUpdateParams{OrganizationID: b.Org.ID, ID: a.Workspace.ID, Name: "Mine", Now: later}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("updating another organization's workspace: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Connections list per organization or workspace, newest first, in pages", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		other := NewWorkspace(a.Org.ID, "Other")
		if err := s.WorkspaceInsert(ctx, other); err != nil {
			t.Fatal(err)
		}
		want := []uuid.UUID{a.Connection.ID}
		for i := range 3 {
			c := NewConnection(other)
			c.CreatedAt = T0.Add(time.Duration(i+1) * time.Second)
			if err := s.ConnectionInsert(ctx, c); err != nil {
				t.Fatal(err)
			}
			want = append([]uuid.UUID{c.ID}, want...)
		}
		got := pageAll(t, func(cursor string) (*store.Page[*switchyard.Connection], error) {
			return s.ConnectionList(ctx, store.ConnectionListParams{ListParams: store.ListParams{OrganizationID: a.Org.ID, Limit: 3, Cursor: cursor}})
		}, func(c *switchyard.Connection) uuid.UUID { return c.ID })
		sameIDs(t, "organization-wide connections", got, want)
		ws, err := s.ConnectionList(ctx, store.ConnectionListParams{ListParams: store.ListParams{OrganizationID: a.Org.ID, Limit: 50}, WorkspaceID: a.Workspace.ID})
		if err != nil || len(ws.Records) != 1 || ws.Records[0].ID != a.Connection.ID {
			t.Fatalf("one workspace's connections: %v, %v", ws, err)
		}
		leaked, err := s.ConnectionList(ctx, store.ConnectionListParams{ListParams: store.ListParams{OrganizationID: b.Org.ID, Limit: 50}, WorkspaceID: a.Workspace.ID})
		if err != nil || len(leaked.Records) != 0 {
			t.Fatalf("another organization lists %d connections of this workspace (err %v)", len(leaked.Records), err)
		}
	})

	t.Run("Updating a connection replaces its fields and reactivates it", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		if err := s.ConnectionDeactivate(ctx, store.ConnectionDeactivateParams{ConnectionID: a.Connection.ID, Reason: switchyard.InactiveAuthenticationInvalid, Now: T0}); err != nil {
			t.Fatal(err)
		}
		later := T0.Add(time.Hour)
		got, err := s.ConnectionUpdate(ctx, store.ConnectionUpdateParams{OrganizationID: a.Org.ID, ID: a.Connection.ID, Name: "renamed",
			Metadata: map[string]any{"url": "https://example.org/new"}, Hidden: true, Now: later})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "renamed" || got.Metadata["url"] != "https://example.org/new" || !got.Hidden || !got.Active ||
			got.InactiveReason != "" || !got.UpdatedAt.Equal(later) || got.Type != "webhook" || got.WorkspaceID != a.Workspace.ID {
			t.Fatalf("updated connection %+v", got)
		}
		if _, err := s.ConnectionUpdate(ctx, store.ConnectionUpdateParams{OrganizationID: b.Org.ID, ID: a.Connection.ID, Name: "x", Now: later}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("updating another organization's connection: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Deleting a connection with active rules needs force and takes its rules and unfinished deliveries", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		rule := NewRule(t, s, a, RuleOpts{})
		e, ds := NewEvent(t, s, a, EventOpts{})
		if len(ds) != 1 {
			t.Fatalf("%d deliveries", len(ds))
		}
		if _, err := s.MappingSave(ctx, store.MappingSaveParams{OrganizationID: a.Org.ID, ConnectionID: a.Connection.ID, NewMappingID: uuid.New(),
			Schema: []byte(`{"schema_version":1,"fields":[]}`), CreatedBy: "test", Now: T0}); err != nil {
			t.Fatal(err)
		}
		del := store.ConnectionDeleteParams{OrganizationID: a.Org.ID, ID: a.Connection.ID, Now: T0.Add(time.Second)}
		if _, err := s.ConnectionDelete(ctx, del); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("deleting a connection with an active rule: err = %v, want ErrConflict", err)
		}
		if _, err := s.RuleGet(ctx, store.RuleGetParams{OrganizationID: a.Org.ID, ID: rule.ID}); err != nil {
			t.Fatalf("the refused delete removed the rule: %v", err)
		}
		if _, err := s.ConnectionDelete(ctx, store.ConnectionDeleteParams{OrganizationID: b.Org.ID, ID: a.Connection.ID, Force: true, Now: T0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleting another organization's connection: err = %v, want ErrNotFound", err)
		}
		del.Force = true
		gone, err := s.ConnectionDelete(ctx, del)
		if err != nil || gone.ID != a.Connection.ID || gone.Type != "webhook" {
			t.Fatalf("forced delete: %+v, %v", gone, err)
		}
		if _, err := s.ConnectionGet(ctx, store.ConnectionGetParams{OrganizationID: a.Org.ID, ID: a.Connection.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted connection: err = %v", err)
		}
		if _, err := s.RuleGet(ctx, store.RuleGetParams{OrganizationID: a.Org.ID, ID: rule.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("its rule: err = %v", err)
		}
		if _, err := s.MappingGet(ctx, store.MappingGetParams{OrganizationID: a.Org.ID, ConnectionID: a.Connection.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("its mapping: err = %v", err)
		}
		_, got, _ := s.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: a.Org.ID, ID: e.ID})
		if len(got) != 1 || got[0].Status != switchyard.StatusCanceled || got[0].NextAttemptAt != nil || got[0].CompletedAt == nil {
			t.Fatalf("its pending delivery %+v, want canceled", got[0])
		}
		if ev, _ := s.EventGet(ctx, store.EventGetParams{OrganizationID: a.Org.ID, ID: e.ID}); ev.Status != switchyard.StatusCanceled {
			t.Fatalf("its event is %s, want canceled", ev.Status)
		}

		idle := NewConnection(a.Workspace)
		if err := s.ConnectionInsert(ctx, idle); err != nil {
			t.Fatal(err)
		}
		NewRule(t, s, a, RuleOpts{Connection: idle, Inactive: true})
		if _, err := s.ConnectionDelete(ctx, store.ConnectionDeleteParams{OrganizationID: a.Org.ID, ID: idle.ID, Now: T0}); err != nil {
			t.Fatalf("a connection with only inactive rules needs no force: %v", err)
		}
	})

	t.Run("Rules list with exact filters and deleting one cancels its unfinished deliveries", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		signup := NewRule(t, s, a, RuleOpts{})
		user := NewRule(t, s, a, RuleOpts{Resource: "user", ResourceID: "u1"})
		other := NewRule(t, s, a, RuleOpts{Event: "order.paid"})
		NewRule(t, s, b, RuleOpts{})
		list := func(p store.RuleListParams) []uuid.UUID {
			t.Helper()
			p.OrganizationID, p.Limit = a.Org.ID, 50
			page, err := s.RuleList(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			var ids []uuid.UUID
			for _, r := range page.Records {
				ids = append(ids, r.ID)
			}
			return ids
		}
		sameIDs(t, "all rules", list(store.RuleListParams{}), []uuid.UUID{other.ID, user.ID, signup.ID})
		sameIDs(t, "by event", list(store.RuleListParams{Event: "user.signup"}), []uuid.UUID{user.ID, signup.ID})
		sameIDs(t, "by resource", list(store.RuleListParams{Resource: "user"}), []uuid.UUID{user.ID})
		sameIDs(t, "by resource id", list(store.RuleListParams{ResourceID: "u1", Event: "user.signup"}), []uuid.UUID{user.ID})
		sameIDs(t, "by workspace", list(store.RuleListParams{WorkspaceID: b.Workspace.ID}), nil)

		e, ds := NewEvent(t, s, a, EventOpts{Resource: "user", ResourceID: "u1"})
		if len(ds) != 2 {
			t.Fatalf("%d deliveries", len(ds))
		}
		if _, err := s.RuleDelete(ctx, store.RuleDeleteParams{OrganizationID: b.Org.ID, ID: user.ID, Now: T0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleting another organization's rule: err = %v", err)
		}
		gone, err := s.RuleDelete(ctx, store.RuleDeleteParams{OrganizationID: a.Org.ID, ID: user.ID, Now: T0.Add(time.Second)})
		if err != nil || gone.ID != user.ID || gone.Resource != "user" || gone.ConnectionID != a.Connection.ID {
			t.Fatalf("deleted %+v, %v", gone, err)
		}
		if _, err := s.RuleGet(ctx, store.RuleGetParams{OrganizationID: a.Org.ID, ID: user.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted rule: err = %v", err)
		}
		for _, d := range mustDeliveries(t, s, a.Org.ID, e.ID) {
			want := switchyard.StatusPending
			if d.RuleID == user.ID {
				want = switchyard.StatusCanceled
			}
			if d.Status != want {
				t.Fatalf("delivery through rule %s is %s, want %s", d.RuleID, d.Status, want)
			}
		}
	})

	t.Run("Events catalogue their name and resource once per workspace", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		first, _ := NewEvent(t, s, a, EventOpts{Name: "user.signup", Resource: "user"})
		NewEvent(t, s, a, EventOpts{Name: "user.signup", Resource: "user"})
		NewEvent(t, s, a, EventOpts{Name: "order.paid"})
		NewEvent(t, s, b, EventOpts{Name: "tenant.b.only"})
		types, err := s.CatalogList(ctx, store.CatalogListParams{OrganizationID: a.Org.ID, WorkspaceID: a.Workspace.ID, Kind: switchyard.CatalogEventType})
		if err != nil {
			t.Fatal(err)
		}
		if len(types) != 2 || types[0].Key != "order.paid" || types[1].Key != "user.signup" {
			t.Fatalf("event types %+v, want order.paid and user.signup", types)
		}
		u := types[1]
		if u.Label != u.Key || !u.Active || u.Description != nil || u.CreatedBy != first.CreatedBy || !u.CreatedAt.Equal(T0) ||
			u.WorkspaceID != a.Workspace.ID || u.Kind != switchyard.CatalogEventType {
			t.Fatalf("catalogue entry %+v", u)
		}
		resources, err := s.CatalogList(ctx, store.CatalogListParams{OrganizationID: a.Org.ID, WorkspaceID: a.Workspace.ID, Kind: switchyard.CatalogResource})
		if err != nil || len(resources) != 2 || resources[0].Key != switchyard.DefaultResource || resources[1].Key != "user" {
			t.Fatalf("resources %+v (err %v), want global and user", resources, err)
		}
		if leaked, _ := s.CatalogList(ctx, store.CatalogListParams{OrganizationID: b.Org.ID, WorkspaceID: a.Workspace.ID, Kind: switchyard.CatalogEventType}); len(leaked) != 0 {
			t.Fatalf("another organization sees %d event types", len(leaked))
		}
	})

	t.Run("A batch stores every event with its deliveries and catalogue entries", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := NewTenant(t, s)
		NewRule(t, s, a, RuleOpts{})
		var events []*switchyard.Event
		for i, name := range []string{"user.signup", "nobody.listens", "user.signup"} {
			events = append(events, &switchyard.Event{ID: uuid.Must(uuid.NewV7()), OrganizationID: a.Org.ID, WorkspaceID: a.Workspace.ID,
				Name: name, Resource: switchyard.DefaultResource, Payload: []byte(`{"n":1}`), CreatedBy: "bulk",
				CreatedAt: T0.Add(time.Duration(i) * time.Millisecond)})
		}
		out, err := s.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: events})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 3 || len(out[0]) != 1 || len(out[1]) != 0 || len(out[2]) != 1 || out[2][0].EventID != events[2].ID {
			t.Fatalf("deliveries per event %v", out)
		}
		if events[1].Status != switchyard.StatusCompleted || events[0].Status != switchyard.StatusPending || events[0].TotalRules != 1 {
			t.Fatalf("statuses %s/%s", events[0].Status, events[1].Status)
		}
		for _, e := range events {
			if _, err := s.EventGet(ctx, store.EventGetParams{OrganizationID: a.Org.ID, ID: e.ID}); err != nil {
				t.Fatalf("event %s not stored: %v", e.ID, err)
			}
		}
		types, _ := s.CatalogList(ctx, store.CatalogListParams{OrganizationID: a.Org.ID, WorkspaceID: a.Workspace.ID, Kind: switchyard.CatalogEventType})
		if len(types) != 2 || types[0].CreatedBy != "bulk" {
			t.Fatalf("catalogued %+v", types)
		}
		if out, err := s.EventInsertBatch(ctx, store.EventInsertBatchParams{}); err != nil || len(out) != 0 {
			t.Fatalf("empty batch: %v, %v", out, err)
		}
	})

	t.Run("Event lists filter exactly and page newest first", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		NewRule(t, s, a, RuleOpts{Event: "order.paid"})
		second := NewWorkspace(a.Org.ID, "Second")
		if err := s.WorkspaceInsert(ctx, second); err != nil {
			t.Fatal(err)
		}
		at := func(i int) time.Time { return T0.Add(time.Duration(i) * time.Second) }
		e1, _ := NewEvent(t, s, a, EventOpts{Name: "user.signup", Resource: "user", ResourceID: "u1", CreatedAt: at(1)})
		e2, _ := NewEvent(t, s, a, EventOpts{Name: "order.paid", Resource: "order", ResourceID: "o1", CreatedAt: at(2)})
		e3, _ := NewEvent(t, s, a, EventOpts{Name: "user.signup", Resource: "user", ResourceID: "u2", CreatedAt: at(3)})
		e4, _ := NewEvent(t, s, &Tenant{Org: a.Org, Workspace: second}, EventOpts{Name: "user.signup", CreatedAt: at(4)})
		NewEvent(t, s, b, EventOpts{Name: "user.signup", CreatedAt: at(5)})
		list := func(p store.EventListParams) []uuid.UUID {
			t.Helper()
			p.OrganizationID = a.Org.ID
			return pageAll(t, func(cursor string) (*store.Page[*switchyard.Event], error) {
				p.Limit, p.Cursor = 2, cursor
				page, _, err := s.EventListWithDeliveries(ctx, p)
				return page, err
			}, func(e *switchyard.Event) uuid.UUID { return e.ID })
		}
		sameIDs(t, "organization-wide", list(store.EventListParams{}), []uuid.UUID{e4.ID, e3.ID, e2.ID, e1.ID})
		sameIDs(t, "one workspace", list(store.EventListParams{WorkspaceID: a.Workspace.ID}), []uuid.UUID{e3.ID, e2.ID, e1.ID})
		sameIDs(t, "by event", list(store.EventListParams{WorkspaceID: a.Workspace.ID, Event: "user.signup"}), []uuid.UUID{e3.ID, e1.ID})
		sameIDs(t, "by resource", list(store.EventListParams{Resource: "order"}), []uuid.UUID{e2.ID})
		sameIDs(t, "by resource id", list(store.EventListParams{ResourceID: "u2"}), []uuid.UUID{e3.ID})
		sameIDs(t, "by status", list(store.EventListParams{Status: switchyard.StatusPending}), []uuid.UUID{e2.ID})
		sameIDs(t, "by status completed", list(store.EventListParams{Status: switchyard.StatusCompleted, WorkspaceID: a.Workspace.ID}), []uuid.UUID{e3.ID, e1.ID})
		page, ds, err := s.EventListWithDeliveries(ctx, store.EventListParams{ListParams: store.ListParams{OrganizationID: a.Org.ID, Limit: 50}})
		if err != nil || page.Records[0].Payload != nil {
			t.Fatalf("lists must not carry payloads (err %v)", err)
		}
		if _, _, err := s.EventListWithDeliveries(ctx, store.EventListParams{ListParams: store.ListParams{OrganizationID: a.Org.ID, Limit: 5, Cursor: "not*a*cursor"}}); switchyard.ErrorCode(err) != switchyard.EINVALID {
			t.Fatalf("bad cursor: err = %v, want EINVALID", err)
		}
		if len(ds) != 1 || ds[0].EventID != e2.ID {
			t.Fatalf("deliveries of the listed events: %v", ds)
		}
		if _, ds, _ := s.EventListWithDeliveries(ctx, store.EventListParams{ListParams: store.ListParams{OrganizationID: a.Org.ID, Limit: 2}}); len(ds) != 0 {
			t.Fatalf("deliveries of events not on the page: %v", ds)
		}
		if bPage, leaked, _ := s.EventListWithDeliveries(ctx, store.EventListParams{ListParams: store.ListParams{OrganizationID: b.Org.ID, Limit: 50}}); len(bPage.Records) != 1 || len(leaked) != 0 {
			t.Fatalf("another organization's list: %d events, deliveries %v", len(bPage.Records), leaked)
		}
	})

	t.Run("A page of events is read with its deliveries as of one moment", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		const n = 120
		// Each event has one delivery, so its status is its delivery's in every committed state.
		whileOutcomesCommit(t, s, tn, n, func(reads int, final bool) {
			page, ds, err := s.EventListWithDeliveries(context.Background(), store.EventListParams{ListParams: store.ListParams{OrganizationID: tn.Org.ID, Limit: n}})
			if err != nil || len(page.Records) != n || len(ds) != n {
				t.Fatalf("read %d: %d events, %d deliveries (err %v), want %d of each", reads, len(page.Records), len(ds), err, n)
			}
			status := make(map[uuid.UUID]switchyard.Status, n)
			for _, d := range ds {
				status[d.EventID] = d.Status
			}
			for _, e := range page.Records {
				if e.Status != status[e.ID] {
					t.Fatalf("read %d: event %s is %s beside its delivery %s", reads, e.ID, e.Status, status[e.ID])
				}
				if final && e.Status != switchyard.StatusCompleted {
					t.Fatalf("after every outcome: event %s is %s", e.ID, e.Status)
				}
			}
		})
	})

	t.Run("Mappings save versions with optimistic concurrency", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		get := store.MappingGetParams{OrganizationID: a.Org.ID, ConnectionID: a.Connection.ID}
		if _, err := s.MappingGet(ctx, get); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("mapping before any save: err = %v", err)
		}
		mappingID := uuid.New()
		save := store.MappingSaveParams{OrganizationID: a.Org.ID, ConnectionID: a.Connection.ID, NewMappingID: mappingID,
			Schema: []byte(`{"schema_version":1,"fields":[]}`), CreatedBy: "test", Now: T0}
		if _, err := s.MappingSave(ctx, withVersion(save, 1)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("expecting version 1 before any save: err = %v, want ErrConflict", err)
		}
		v1, err := s.MappingSave(ctx, save)
		if err != nil {
			t.Fatal(err)
		}
		if v1.Version != 1 || v1.MappingID != mappingID || v1.Name != "Default" || v1.WorkspaceID != a.Workspace.ID ||
			v1.IntegrationType != "webhook" || !v1.CreatedAt.Equal(T0) {
			t.Fatalf("first version %+v", v1)
		}
		if _, err := s.MappingSave(ctx, withVersion(save, 2)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale expected version: err = %v, want ErrConflict", err)
		}
		wrong := save
		wrong.MappingID = uuid.New()
		if _, err := s.MappingSave(ctx, wrong); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("another mapping id: err = %v, want ErrConflict", err)
		}
		next := withVersion(save, 1)
		next.MappingID, next.Name, next.Now = mappingID, "CRM sync", T0.Add(time.Minute)
		next.Schema = []byte(`{"schema_version":1,"fields":[{"dest":"email","source":{"type":"path","value":"email"}}]}`)
		v2, err := s.MappingSave(ctx, next)
		if err != nil {
			t.Fatal(err)
		}
		if v2.Version != 2 || v2.MappingID != mappingID || v2.ID == v1.ID || v2.Name != "CRM sync" || !v2.CreatedAt.Equal(T0) || !v2.UpdatedAt.Equal(next.Now) {
			t.Fatalf("second version %+v", v2)
		}
		got, err := s.MappingGet(ctx, get)
		if err != nil || got.Version != 2 || string(got.Schema) != string(next.Schema) {
			t.Fatalf("latest mapping %+v, %v", got, err)
		}
		v3, err := s.MappingSave(ctx, withVersion(save, 2))
		if err != nil || v3.Name != "CRM sync" {
			t.Fatalf("a save without a name keeps the name: %+v, %v", v3, err)
		}
		if _, err := s.MappingGet(ctx, store.MappingGetParams{OrganizationID: b.Org.ID, ConnectionID: a.Connection.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another organization's mapping: err = %v", err)
		}
		other := save
		other.OrganizationID = b.Org.ID
		if _, err := s.MappingSave(ctx, other); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("saving on another organization's connection: err = %v", err)
		}
	})

	t.Run("A manual retry follows the delivery's state", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		rule := NewRule(t, s, a, RuleOpts{})
		now := T0.Add(time.Second)
		retry := func(e *switchyard.Event, at time.Time) (*switchyard.Delivery, error) {
			return s.DeliveryRetry(ctx, store.DeliveryRetryParams{DeliveryGetParams: store.DeliveryGetParams{OrganizationID: a.Org.ID,
				EventID: e.ID, RuleID: rule.ID}, ImminentWithin: 5 * time.Second, Now: at})
		}

		pending, _ := NewEvent(t, s, a, EventOpts{})
		if _, err := retry(pending, now); !errors.Is(err, store.ErrTooEarly) {
			t.Fatalf("a pending delivery due now: err = %v, want ErrTooEarly", err)
		}
		c := claimOne(t, s, now)
		if _, err := retry(pending, now); !errors.Is(err, store.ErrTooEarly) {
			t.Fatalf("a delivery in flight: err = %v, want ErrTooEarly", err)
		}
		soon := now.Add(3 * time.Second)
		record(t, s, c, switchyard.StatusRetrying, &soon, now)
		if _, err := retry(pending, now); !errors.Is(err, store.ErrTooEarly) {
			t.Fatalf("a retry due in 3 s: err = %v, want ErrTooEarly", err)
		}
		c = claimOne(t, s, soon)
		inAMinute := soon.Add(time.Minute)
		record(t, s, c, switchyard.StatusRetrying, &inAMinute, soon)
		got, err := retry(pending, soon)
		if err != nil {
			t.Fatalf("a retry due in a minute: %v", err)
		}
		if got.Status != switchyard.StatusPending || got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(soon) || got.AttemptCount != 2 {
			t.Fatalf("retried delivery %+v, want pending and due now", got)
		}

		failed, _ := NewEvent(t, s, a, EventOpts{})
		c = claimOne(t, s, now)
		record(t, s, c, switchyard.StatusFailed, nil, now)
		if ev, _ := s.EventGet(ctx, store.EventGetParams{OrganizationID: a.Org.ID, ID: failed.ID}); ev.Status != switchyard.StatusFailed || ev.CompletedAt == nil {
			t.Fatalf("failed event %+v", ev)
		}
		later := now.Add(time.Minute)
		if got, err = retry(failed, later); err != nil || got.Status != switchyard.StatusPending || got.CompletedAt != nil || !got.NextAttemptAt.Equal(later) {
			t.Fatalf("retrying a failed delivery: %+v, %v", got, err)
		}
		if ev, _ := s.EventGet(ctx, store.EventGetParams{OrganizationID: a.Org.ID, ID: failed.ID}); ev.Status != switchyard.StatusPending || ev.CompletedAt != nil {
			t.Fatalf("the retried delivery's event %+v, want pending again", ev)
		}

		if _, err := s.DeliveryCancel(ctx, store.DeliveryCancelParams{DeliveryGetParams: store.DeliveryGetParams{OrganizationID: a.Org.ID,
			EventID: failed.ID, RuleID: rule.ID}, Now: later}); err != nil {
			t.Fatal(err)
		}
		if got, err = retry(failed, later); err != nil || got.Status != switchyard.StatusPending {
			t.Fatalf("retrying a canceled delivery: %+v, %v", got, err)
		}

		done, _ := NewEvent(t, s, a, EventOpts{CreatedAt: T0.Add(-time.Hour)})
		c = claimOne(t, s, T0)
		if c.Delivery.EventID != done.ID {
			t.Fatalf("claimed %s, want the oldest event's delivery", c.Delivery.EventID)
		}
		record(t, s, c, switchyard.StatusCompleted, nil, T0)
		if _, err := retry(done, later); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a completed delivery: err = %v, want ErrConflict", err)
		}
		if _, err := retry(&switchyard.Event{ID: uuid.New()}, later); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an unknown delivery: err = %v, want ErrNotFound", err)
		}
		if _, err := s.DeliveryRetry(ctx, store.DeliveryRetryParams{DeliveryGetParams: store.DeliveryGetParams{OrganizationID: b.Org.ID,
			EventID: failed.ID, RuleID: rule.ID}, Now: later}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another organization's delivery: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Canceling stops a delivery and its claimer loses the lease but logs the attempt", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		rule := NewRule(t, s, a, RuleOpts{})
		e, _ := NewEvent(t, s, a, EventOpts{})
		now := T0.Add(time.Second)
		c := claimOne(t, s, now)
		cancel := store.DeliveryCancelParams{DeliveryGetParams: store.DeliveryGetParams{OrganizationID: a.Org.ID, EventID: e.ID, RuleID: rule.ID}, Now: now}
		got, err := s.DeliveryCancel(ctx, cancel)
		if err != nil || got.Status != switchyard.StatusCanceled || got.NextAttemptAt != nil || got.CompletedAt == nil {
			t.Fatalf("canceled %+v, %v", got, err)
		}
		if ev, _ := s.EventGet(ctx, store.EventGetParams{OrganizationID: a.Org.ID, ID: e.ID}); ev.Status != switchyard.StatusCanceled {
			t.Fatalf("event is %s, want canceled", ev.Status)
		}
		err = RecordDelivery(ctx, s, store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: e.ID, LeaseUntil: c.LeaseUntil,
			Attempt: newAttempt(c, now), Status: switchyard.StatusCompleted, Now: now.Add(time.Second)})
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("recording after the cancel: err = %v, want ErrLeaseLost", err)
		}
		d, _ := s.DeliveryGet(ctx, cancel.DeliveryGetParams)
		if d.Status != switchyard.StatusCanceled {
			t.Fatalf("the in-flight outcome overwrote the cancel: %s", d.Status)
		}
		page, err := s.AttemptList(ctx, store.AttemptListParams{ListParams: store.ListParams{OrganizationID: a.Org.ID, Limit: 10}, DeliveryID: d.ID})
		if err != nil || len(page.Records) != 1 {
			t.Fatalf("the in-flight attempt was not logged: %v, %v", page, err)
		}
		if _, err := s.DeliveryCancel(ctx, cancel); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("canceling twice: err = %v, want ErrConflict", err)
		}
		retried, err := s.DeliveryRetry(ctx, store.DeliveryRetryParams{DeliveryGetParams: cancel.DeliveryGetParams, Now: now.Add(time.Minute)})
		if err != nil || retried.Status != switchyard.StatusPending || retried.AttemptCount != 1 {
			t.Fatalf("retrying after the cancel: %+v, %v; want pending with the logged attempt counted", retried, err)
		}
		other := cancel
		other.OrganizationID = b.Org.ID
		if _, err := s.DeliveryCancel(ctx, other); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another organization's delivery: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Canceling an event cancels each unfinished delivery and leaves finished ones", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		first := NewRule(t, s, a, RuleOpts{})
		NewRule(t, s, a, RuleOpts{})
		e, _ := NewEvent(t, s, a, EventOpts{})
		now := T0.Add(time.Second)
		cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
		if err != nil || len(cs) != 2 {
			t.Fatalf("claimed %d (err %v)", len(cs), err)
		}
		for _, c := range cs {
			if c.Delivery.RuleID == first.ID {
				record(t, s, c, switchyard.StatusCompleted, nil, now)
			}
		}
		if _, err := s.EventCancel(ctx, store.EventCancelParams{OrganizationID: b.Org.ID, ID: e.ID, Now: now}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another organization's event: err = %v", err)
		}
		got, err := s.EventCancel(ctx, store.EventCancelParams{OrganizationID: a.Org.ID, ID: e.ID, Now: now})
		if err != nil || got.Status != switchyard.StatusCompleted || got.CompletedCount != 1 || got.CompletedAt == nil {
			t.Fatalf("canceled event %+v, %v", got, err)
		}
		for _, d := range mustDeliveries(t, s, a.Org.ID, e.ID) {
			want := switchyard.StatusCanceled
			if d.RuleID == first.ID {
				want = switchyard.StatusCompleted
			}
			if d.Status != want {
				t.Fatalf("delivery through %s is %s, want %s", d.RuleID, d.Status, want)
			}
		}
		if again, err := s.EventCancel(ctx, store.EventCancelParams{OrganizationID: a.Org.ID, ID: e.ID, Now: now}); err != nil || again.Status != got.Status {
			t.Fatalf("canceling a finished event again: %+v, %v", again, err)
		}
	})

	t.Run("Attempts page newest first and stay in their organization", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		NewRule(t, s, a, RuleOpts{})
		e, _ := NewEvent(t, s, a, EventOpts{})
		now := T0.Add(time.Second)
		var want []uuid.UUID
		for i := range 3 {
			at := now.Add(time.Duration(i) * time.Minute)
			c := claimOne(t, s, at)
			next := at.Add(time.Second)
			rec := store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID, LeaseUntil: c.LeaseUntil,
				Attempt: newAttempt(c, at), Status: switchyard.StatusRetrying, NextAttemptAt: &next, LastError: "HTTP 503", Now: at}
			if err := RecordDelivery(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			want = append([]uuid.UUID{rec.Attempt.ID}, want...)
		}
		d := mustDeliveries(t, s, a.Org.ID, e.ID)[0]
		got := pageAll(t, func(cursor string) (*store.Page[*switchyard.Attempt], error) {
			return s.AttemptList(ctx, store.AttemptListParams{ListParams: store.ListParams{OrganizationID: a.Org.ID, Limit: 2, Cursor: cursor}, DeliveryID: d.ID})
		}, func(a *switchyard.Attempt) uuid.UUID { return a.ID })
		sameIDs(t, "attempts", got, want)
		one, err := s.AttemptGet(ctx, store.AttemptGetParams{OrganizationID: a.Org.ID, DeliveryID: d.ID, ID: want[2]})
		if err != nil || one.Number != 1 || one.HTTPStatus != 503 || one.Outcome != switchyard.OutcomeRejectedServerError || one.ResponseExcerpt == "" {
			t.Fatalf("first attempt %+v, %v", one, err)
		}
		if _, err := s.AttemptGet(ctx, store.AttemptGetParams{OrganizationID: b.Org.ID, DeliveryID: d.ID, ID: want[2]}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another organization's attempt: err = %v", err)
		}
		if _, err := s.AttemptGet(ctx, store.AttemptGetParams{OrganizationID: a.Org.ID, DeliveryID: uuid.New(), ID: want[2]}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an attempt under another delivery: err = %v", err)
		}
		if leaked, _ := s.AttemptList(ctx, store.AttemptListParams{ListParams: store.ListParams{OrganizationID: b.Org.ID, Limit: 10}, DeliveryID: d.ID}); len(leaked.Records) != 0 {
			t.Fatal("another organization lists the attempts")
		}
	})
}

// pageAll follows next cursors and returns every record's id in order.
func pageAll[T any](t *testing.T, list func(cursor string) (*store.Page[T], error), id func(T) uuid.UUID) []uuid.UUID {
	t.Helper()
	var (
		ids    []uuid.UUID
		cursor string
	)
	for range 100 {
		page, err := list(cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			ids = append(ids, id(r))
		}
		if page.NextCursor == "" {
			return ids
		}
		cursor = page.NextCursor
	}
	t.Fatal("paging never ended")
	return nil
}

func sameIDs(t *testing.T, what string, got, want []uuid.UUID) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d records %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

func mustDeliveries(t *testing.T, s store.Store, orgID, eventID uuid.UUID) []*switchyard.Delivery {
	t.Helper()
	_, ds, err := s.EventGetWithDeliveries(context.Background(), store.EventGetParams{OrganizationID: orgID, ID: eventID})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func withVersion(p store.MappingSaveParams, v int) store.MappingSaveParams {
	p.ExpectedVersion = v
	return p
}

// claimOne claims exactly one due delivery at now, with a one-minute lease.
func claimOne(t *testing.T, s store.Store, now time.Time) *store.Claimed {
	t.Helper()
	cs, err := s.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 1})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claimed %d deliveries (err %v), want 1", len(cs), err)
	}
	return cs[0]
}

func newAttempt(c *store.Claimed, at time.Time) *switchyard.Attempt {
	return &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID,
		Number: c.Delivery.AttemptCount + 1, StartedAt: at, CompletedAt: at.Add(2 * time.Millisecond),
		Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: 503, Message: "HTTP 503", ResponseExcerpt: "HTTP/1.1 503 Service Unavailable"}
}

// record stores an outcome with an attempt for a claimed delivery.
func record(t *testing.T, s store.Store, c *store.Claimed, status switchyard.Status, next *time.Time, now time.Time) {
	t.Helper()
	if err := RecordDelivery(context.Background(), s, store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID,
		LeaseUntil: c.LeaseUntil, Attempt: newAttempt(c, now), Status: status, NextAttemptAt: next, Now: now}); err != nil {
		t.Fatal(err)
	}
}

// whileOutcomesCommit stores n events on the tenant, each routed by one rule to one delivery,
// claims them all, and records their outcomes (delivered, completed) one by one, each in its own
// commit, in a goroutine, while it calls read over and over — and once more after the last
// outcome, with final true. A read that takes part of its answer from before an outcome and
// part from after it shows there.
func whileOutcomesCommit(t *testing.T, s store.Store, tn *Tenant, n int, read func(reads int, final bool)) {
	t.Helper()
	ctx := context.Background()
	NewRule(t, s, tn, RuleOpts{})
	for i := range n {
		NewEvent(t, s, tn, EventOpts{CreatedAt: T0.Add(time.Duration(i) * time.Millisecond)})
	}
	now := T0.Add(time.Minute)
	cs, err := s.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Hour), Limit: n})
	if err != nil || len(cs) != n {
		t.Fatalf("claimed %d deliveries (err %v), want %d", len(cs), err, n)
	}
	done := make(chan error, 1)
	go func() {
		for _, c := range cs {
			a := &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID, Number: 1,
				StartedAt: now, CompletedAt: now, Outcome: switchyard.OutcomeDelivered, HTTPStatus: 200}
			if err := RecordDelivery(ctx, s, store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID,
				LeaseUntil: c.LeaseUntil, Attempt: a, Status: switchyard.StatusCompleted, Now: now}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for reads, final := 0, false; !final; reads++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			final = true
		default:
		}
		read(reads, final)
	}
}
