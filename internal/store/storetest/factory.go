package storetest

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Tenant is an organization with one workspace and one active webhook connection, created
// through the store's own bootstrap so every test starts from real rows.
type Tenant struct {
	Org        *switchyard.Organization
	Key        *switchyard.MachineKey
	Workspace  *switchyard.Workspace
	Connection *switchyard.Connection
}

// T0 is the fixed time factories use, so tests control the clock.
var T0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// NewTenant creates an organization, key, workspace and connection. The first tenant of a store
// is made by Bootstrap; later ones by OrganizationCreate.
func NewTenant(t testing.TB, s store.Store) *Tenant {
	t.Helper()
	ctx := context.Background()
	tn := &Tenant{
		Org: &switchyard.Organization{ID: uuid.New(), Name: "Org " + uuid.NewString()[:8], CreatedAt: T0},
	}
	tn.Key = &switchyard.MachineKey{ID: uuid.New(), OrganizationID: tn.Org.ID, Name: "owner",
		AccessKey: "mk_" + uuid.NewString(), SecretSealed: "sealed", CreatedAt: T0}
	tn.Workspace = NewWorkspace(tn.Org.ID, "Default")
	res, err := s.Bootstrap(ctx, store.BootstrapParams{Organization: tn.Org, MachineKey: tn.Key, Workspace: tn.Workspace})
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	if !res.Created {
		// The store already had its first organization: this tenant is created as the API's
		// tenant creation does it.
		if err := s.OrganizationCreate(ctx, store.OrganizationCreateParams{Organization: tn.Org, MachineKey: tn.Key, Workspace: tn.Workspace}); err != nil {
			t.Fatalf("creating organization: %v", err)
		}
	}
	tn.Connection = NewConnection(tn.Workspace)
	if err := s.ConnectionInsert(ctx, tn.Connection); err != nil {
		t.Fatalf("inserting connection: %v", err)
	}
	return tn
}

// NewWorkspace builds (does not insert) a workspace.
func NewWorkspace(orgID uuid.UUID, name string) *switchyard.Workspace {
	return &switchyard.Workspace{ID: uuid.Must(uuid.NewV7()), OrganizationID: orgID, Name: name,
		PublishableKey: "mesh_pub_test_" + uuid.NewString()[:8] + "_" + uuid.NewString()[:8], PublishableKeyName: "Default",
		CreatedAt: T0, UpdatedAt: T0}
}

// NewConnection builds (does not insert) an active webhook connection.
func NewConnection(w *switchyard.Workspace) *switchyard.Connection {
	return &switchyard.Connection{ID: uuid.Must(uuid.NewV7()), OrganizationID: w.OrganizationID, WorkspaceID: w.ID,
		Type: "webhook", Name: "hook", Metadata: map[string]any{"url": "https://example.com/hook"}, Active: true,
		CreatedBy: "test", CreatedAt: T0, UpdatedAt: T0}
}

// RuleOpts customises NewRule.
type RuleOpts struct {
	Event, Resource, ResourceID string
	Inactive                    bool
	Connection                  *switchyard.Connection
	// Metadata holds keys to store beside the send_webhook action.
	Metadata map[string]any
}

// NewRule inserts a rule on the tenant's connection (or opts.Connection).
func NewRule(t testing.TB, s store.Store, tn *Tenant, opts RuleOpts) *switchyard.Rule {
	t.Helper()
	c := tn.Connection
	if opts.Connection != nil {
		c = opts.Connection
	}
	if opts.Event == "" {
		opts.Event = "user.signup"
	}
	r := &switchyard.Rule{ID: uuid.Must(uuid.NewV7()), OrganizationID: c.OrganizationID, WorkspaceID: c.WorkspaceID,
		ConnectionID: c.ID, Type: c.Type, Event: opts.Event, Resource: opts.Resource, ResourceID: opts.ResourceID,
		Metadata: map[string]any{"action": "send_webhook"}, Active: !opts.Inactive, CreatedBy: "test", CreatedAt: T0, UpdatedAt: T0}
	maps.Copy(r.Metadata, opts.Metadata)
	if err := s.RuleInsert(context.Background(), r); err != nil {
		t.Fatalf("inserting rule: %v", err)
	}
	return r
}

// EventOpts customises NewEvent.
type EventOpts struct {
	Name, Resource, ResourceID string
	CreatedAt                  time.Time
}

// NewEvent inserts an event into the tenant's workspace and returns it with its deliveries.
func NewEvent(t testing.TB, s store.Store, tn *Tenant, opts EventOpts) (*switchyard.Event, []*switchyard.Delivery) {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "user.signup"
	}
	if opts.Resource == "" {
		opts.Resource = switchyard.DefaultResource
	}
	if opts.CreatedAt.IsZero() {
		opts.CreatedAt = T0
	}
	e := &switchyard.Event{ID: uuid.Must(uuid.NewV7()), OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
		Name: opts.Name, Resource: opts.Resource, ResourceID: opts.ResourceID, Payload: []byte(`{"email":"a@example.com"}`),
		CreatedBy: "test", CreatedAt: opts.CreatedAt}
	ds, err := InsertEvent(context.Background(), s, e)
	if err != nil {
		t.Fatalf("inserting event: %v", err)
	}
	return e, ds
}

// InsertEvent stores one event and its deliveries through EventInsertBatch, the store's only
// insert path, and returns its deliveries.
func InsertEvent(ctx context.Context, s store.Store, e *switchyard.Event) ([]*switchyard.Delivery, error) {
	ds, err := s.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: []*switchyard.Event{e}})
	if err != nil {
		return nil, err
	}
	return ds[0], nil
}

// ClaimOne inserts a rule on the tenant's connection and one event that matches it, claims the
// event's delivery at T0 + 1 s with a minute's lease, and returns the event, the claim and the
// claim's time.
func ClaimOne(t testing.TB, s store.Store, tn *Tenant) (*switchyard.Event, *store.Claimed, time.Time) {
	t.Helper()
	NewRule(t, s, tn, RuleOpts{})
	e, _ := NewEvent(t, s, tn, EventOpts{})
	now := T0.Add(time.Second)
	cs, err := s.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claimed %d deliveries (err %v), want 1", len(cs), err)
	}
	return e, cs[0], now
}

// ClaimDelivered inserts a rule on the tenant's connection and n events it matches, claims their
// deliveries at T0+1 s and returns for each an outcome that completes it (attempt 1, delivered),
// in claim order.
func ClaimDelivered(t testing.TB, s store.Store, tn *Tenant, n int) []store.DeliveryRecordParams {
	t.Helper()
	NewRule(t, s, tn, RuleOpts{})
	for range n {
		NewEvent(t, s, tn, EventOpts{})
	}
	now := T0.Add(time.Second)
	cs, err := s.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Limit: n + 10})
	if err != nil || len(cs) != n {
		t.Fatalf("claimed %d of %d (err %v)", len(cs), n, err)
	}
	ps := make([]store.DeliveryRecordParams, 0, n)
	for _, c := range cs {
		ps = append(ps, store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID, LeaseUntil: c.LeaseUntil,
			Attempt: &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID,
				Number: 1, StartedAt: now, CompletedAt: now, Outcome: switchyard.OutcomeDelivered, HTTPStatus: 200},
			Status: switchyard.StatusCompleted, Now: now})
	}
	return ps
}

// RecordDelivery records one outcome through DeliveryRecordBatch, the store's only record path,
// and returns that record's error (store.ErrLeaseLost when its lease no longer held).
func RecordDelivery(ctx context.Context, s store.Store, p store.DeliveryRecordParams) error {
	errs, err := s.DeliveryRecordBatch(ctx, []store.DeliveryRecordParams{p})
	if err != nil {
		return err
	}
	return errs[0]
}
