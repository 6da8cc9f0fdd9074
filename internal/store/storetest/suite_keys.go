package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RunKeys is the conformance suite of keys and tenancy: machine keys with their limits, their
// listing and revocation, atomic organization creation, publishable key rotation, and the lists
// a workspace-limited key sees. Every dialect must pass it; open is as for Run.
func RunKeys(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("Machine keys keep their workspace and permission limits", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := NewTenant(t, s)
		limited := NewMachineKey(a.Org.ID, "limited")
		limited.Workspaces = []uuid.UUID{a.Workspace.ID}
		limited.Permissions = []switchyard.Permission{switchyard.PermissionRead, switchyard.PermissionEmit}
		if err := s.MachineKeyInsert(ctx, limited); err != nil {
			t.Fatal(err)
		}
		got, err := s.MachineKeyGetByAccessKey(ctx, limited.AccessKey)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Workspaces, limited.Workspaces) || !slices.Equal(got.Permissions, limited.Permissions) ||
			got.Name != "limited" || got.Unlimited() {
			t.Fatalf("limited key read back as %+v", got)
		}
		owner, err := s.MachineKeyGetByAccessKey(ctx, a.Key.AccessKey)
		if err != nil {
			t.Fatal(err)
		}
		if owner.Workspaces != nil || owner.Permissions != nil || !owner.Unlimited() {
			t.Fatalf("a key without limits read back with limits: %+v", owner)
		}
	})

	t.Run("Machine keys list per organization, newest first, in pages, revoked ones included", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		want := []uuid.UUID{}
		for i := range 3 {
			k := NewMachineKey(a.Org.ID, "key")
			k.CreatedAt = T0.Add(time.Duration(i+1) * time.Minute)
			if err := s.MachineKeyInsert(ctx, k); err != nil {
				t.Fatal(err)
			}
			want = append([]uuid.UUID{k.ID}, want...)
		}
		want = append(want, a.Key.ID)
		if _, err := s.MachineKeyRevoke(ctx, store.MachineKeyRevokeParams{OrganizationID: a.Org.ID, ID: want[1], Now: T0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		var got []uuid.UUID
		cursor := ""
		for {
			page, err := s.MachineKeyList(ctx, store.MachineKeyListParams{ListParams: store.ListParams{OrganizationID: a.Org.ID, Limit: 3, Cursor: cursor}})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range page.Records {
				got = append(got, k.ID)
				if k.OrganizationID != a.Org.ID {
					t.Fatalf("listed another organization's key %+v", k)
				}
				if (k.ID == want[1]) != (k.RevokedAt != nil) {
					t.Fatalf("key %s revoked_at %v", k.ID, k.RevokedAt)
				}
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
		page, err := s.MachineKeyList(ctx, store.MachineKeyListParams{ListParams: store.ListParams{OrganizationID: b.Org.ID, Limit: 50}})
		if err != nil || len(page.Records) != 1 || page.Records[0].ID != b.Key.ID {
			t.Fatalf("the other organization's keys: %+v, %v", page, err)
		}
	})

	t.Run("Revoking a key is idempotent and confined to its organization", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		first := T0.Add(time.Hour)
		got, err := s.MachineKeyRevoke(ctx, store.MachineKeyRevokeParams{OrganizationID: a.Org.ID, ID: a.Key.ID, Now: first})
		if err != nil || got.RevokedAt == nil || !got.RevokedAt.Equal(first) || got.AccessKey != a.Key.AccessKey {
			t.Fatalf("revoked %+v, %v", got, err)
		}
		again, err := s.MachineKeyRevoke(ctx, store.MachineKeyRevokeParams{OrganizationID: a.Org.ID, ID: a.Key.ID, Now: first.Add(time.Hour)})
		if err != nil || again.RevokedAt == nil || !again.RevokedAt.Equal(first) {
			t.Fatalf("revoking again: %+v, %v; want the first revocation time kept", again, err)
		}
		if k, _ := s.MachineKeyGetByAccessKey(ctx, a.Key.AccessKey); k.RevokedAt == nil {
			t.Fatal("the revocation was not stored")
		}
		if _, err := s.MachineKeyRevoke(ctx, store.MachineKeyRevokeParams{OrganizationID: b.Org.ID, ID: a.Key.ID, Now: first}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoking another organization's key: err = %v, want ErrNotFound", err)
		}
		if _, err := s.MachineKeyRevoke(ctx, store.MachineKeyRevokeParams{OrganizationID: a.Org.ID, ID: uuid.New(), Now: first}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoking an unknown key: err = %v, want ErrNotFound", err)
		}
		if k, _ := s.MachineKeyGetByAccessKey(ctx, b.Key.AccessKey); k.RevokedAt != nil {
			t.Fatal("another organization's key was revoked")
		}
	})

	t.Run("OrganizationCreate stores the organization, its key and its workspace, or none of them", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := NewTenant(t, s)
		p := newOrganization("Second", T0.Add(time.Minute))
		if err := s.OrganizationCreate(ctx, p); err != nil {
			t.Fatal(err)
		}
		if o, err := s.OrganizationGet(ctx, store.OrganizationGetParams{ID: p.Organization.ID}); err != nil || o.Name != "Second" || !o.CreatedAt.Equal(T0.Add(time.Minute)) {
			t.Fatalf("organization %+v, %v", o, err)
		}
		if k, err := s.MachineKeyGetByAccessKey(ctx, p.MachineKey.AccessKey); err != nil || k.OrganizationID != p.Organization.ID {
			t.Fatalf("key %+v, %v", k, err)
		}
		if w, err := s.WorkspaceGet(ctx, store.WorkspaceGetParams{OrganizationID: p.Organization.ID, ID: p.Workspace.ID}); err != nil || w.Name != "Default" {
			t.Fatalf("workspace %+v, %v", w, err)
		}

		failing := newOrganization("Third", T0.Add(2*time.Minute))
		failing.MachineKey.AccessKey = a.Key.AccessKey // taken: the second insert fails
		if err := s.OrganizationCreate(ctx, failing); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a taken access key: err = %v, want ErrConflict", err)
		}
		if _, err := s.OrganizationGet(ctx, store.OrganizationGetParams{ID: failing.Organization.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the failed organization was kept: err = %v, want ErrNotFound", err)
		}
		if _, err := s.WorkspaceGetByPublishableKey(ctx, failing.Workspace.PublishableKey); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the failed organization's workspace was kept: err = %v, want ErrNotFound", err)
		}

		mismatched := newOrganization("Fourth", T0)
		mismatched.Workspace.OrganizationID = a.Org.ID
		if err := s.OrganizationCreate(ctx, mismatched); err == nil {
			t.Fatal("created an organization whose workspace belongs to another")
		}
	})

	t.Run("OrganizationGet finds one organization by id, or the first one created", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if _, err := s.OrganizationGet(ctx, store.OrganizationGetParams{}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("first organization of an empty store: err = %v, want ErrNotFound", err)
		}
		a := NewTenant(t, s)
		later := newOrganization("Later", T0.Add(time.Minute))
		if err := s.OrganizationCreate(ctx, later); err != nil {
			t.Fatal(err)
		}
		if o, err := s.OrganizationGet(ctx, store.OrganizationGetParams{}); err != nil || o.ID != a.Org.ID {
			t.Fatalf("first organization %+v, %v; want %s", o, err, a.Org.ID)
		}
		if o, err := s.OrganizationGet(ctx, store.OrganizationGetParams{ID: later.Organization.ID}); err != nil || o.ID != later.Organization.ID {
			t.Fatalf("organization by id %+v, %v", o, err)
		}
		if _, err := s.OrganizationGet(ctx, store.OrganizationGetParams{ID: uuid.New()}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown organization: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Rotating a publishable key retires the old one at once", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		old := a.Workspace.PublishableKey
		fresh := NewWorkspace(a.Org.ID, "unused").PublishableKey
		later := T0.Add(time.Minute)
		got, err := s.WorkspacePublishableKeyRotate(ctx, store.WorkspacePublishableKeyRotateParams{OrganizationID: a.Org.ID,
			ID: a.Workspace.ID, PublishableKey: fresh, Now: later})
		if err != nil || got.PublishableKey != fresh || got.PublishableKeyName != "Default" || !got.UpdatedAt.Equal(later) || got.Name != "Default" {
			t.Fatalf("rotated %+v, %v", got, err)
		}
		if _, err := s.WorkspaceGetByPublishableKey(ctx, old); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the old key still finds the workspace: err = %v", err)
		}
		if w, err := s.WorkspaceGetByPublishableKey(ctx, fresh); err != nil || w.ID != a.Workspace.ID {
			t.Fatalf("the new key: %+v, %v", w, err)
		}
		if _, err := s.WorkspacePublishableKeyRotate(ctx, store.WorkspacePublishableKeyRotateParams{OrganizationID: b.Org.ID,
			ID: a.Workspace.ID, PublishableKey: "mesh_pub_x_y_z", Now: later}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rotating another organization's key: err = %v, want ErrNotFound", err)
		}
		if _, err := s.WorkspacePublishableKeyRotate(ctx, store.WorkspacePublishableKeyRotateParams{OrganizationID: b.Org.ID,
			ID: b.Workspace.ID, PublishableKey: fresh, Now: later}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("taking another workspace's key: err = %v, want ErrConflict", err)
		}
	})

	t.Run("Lists limited to some workspaces hold only those workspaces' records", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := NewTenant(t, s)
		second := NewWorkspace(a.Org.ID, "Second")
		third := NewWorkspace(a.Org.ID, "Third")
		for _, w := range []*switchyard.Workspace{second, third} {
			if err := s.WorkspaceInsert(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
		in := &Tenant{Org: a.Org, Key: a.Key, Workspace: second, Connection: NewConnection(second)}
		if err := s.ConnectionInsert(ctx, in.Connection); err != nil {
			t.Fatal(err)
		}
		inRule := NewRule(t, s, in, RuleOpts{})
		NewRule(t, s, a, RuleOpts{})
		inEvent, inDeliveries := NewEvent(t, s, in, EventOpts{})
		outEvent, outDeliveries := NewEvent(t, s, a, EventOpts{})
		now := T0.Add(time.Second)
		for range 2 {
			record(t, s, claimOne(t, s, now), switchyard.StatusCompleted, nil, now)
		}
		limit := store.ListParams{OrganizationID: a.Org.ID, Limit: 50, Workspaces: []uuid.UUID{second.ID, third.ID}}

		ws, err := s.WorkspaceList(ctx, limit)
		if err != nil || len(ws.Records) != 2 || ws.Records[0].ID != third.ID || ws.Records[1].ID != second.ID {
			t.Fatalf("workspaces %+v, %v; want Third and Second", ws, err)
		}
		conns, err := s.ConnectionList(ctx, store.ConnectionListParams{ListParams: limit})
		if err != nil || len(conns.Records) != 1 || conns.Records[0].ID != in.Connection.ID {
			t.Fatalf("connections %+v, %v", conns, err)
		}
		rules, err := s.RuleList(ctx, store.RuleListParams{ListParams: limit})
		if err != nil || len(rules.Records) != 1 || rules.Records[0].ID != inRule.ID {
			t.Fatalf("rules %+v, %v", rules, err)
		}
		events, _, err := s.EventListWithDeliveries(ctx, store.EventListParams{ListParams: limit})
		if err != nil || len(events.Records) != 1 || events.Records[0].ID != inEvent.ID {
			t.Fatalf("events %+v, %v", events, err)
		}
		// A workspace filter inside the limit narrows it; one outside it finds nothing.
		if events, _, _ := s.EventListWithDeliveries(ctx, store.EventListParams{ListParams: limit, WorkspaceID: a.Workspace.ID}); len(events.Records) != 0 {
			t.Fatalf("a workspace outside the limit listed %+v", events.Records)
		}
		if attempts, err := s.AttemptList(ctx, store.AttemptListParams{ListParams: limit, DeliveryID: inDeliveries[0].ID}); err != nil || len(attempts.Records) != 1 {
			t.Fatalf("attempts inside the limit: %+v, %v", attempts, err)
		}
		if attempts, err := s.AttemptList(ctx, store.AttemptListParams{ListParams: limit, DeliveryID: outDeliveries[0].ID}); err != nil || len(attempts.Records) != 0 {
			t.Fatalf("attempts outside the limit: %+v, %v", attempts, err)
		}
		all, _, err := s.EventListWithDeliveries(ctx, store.EventListParams{ListParams: store.ListParams{OrganizationID: a.Org.ID, Limit: 50}})
		if err != nil || len(all.Records) != 2 || all.Records[0].ID != outEvent.ID && all.Records[1].ID != outEvent.ID {
			t.Fatalf("without a limit: %+v, %v", all, err)
		}
	})
}

// NewMachineKey builds (does not insert) a machine key without limits.
func NewMachineKey(orgID uuid.UUID, name string) *switchyard.MachineKey {
	return &switchyard.MachineKey{ID: uuid.Must(uuid.NewV7()), OrganizationID: orgID, Name: name,
		AccessKey: "mk_" + uuid.NewString(), SecretSealed: "sealed", CreatedAt: T0}
}

// newOrganization builds the records of a new organization created at.
func newOrganization(name string, at time.Time) store.OrganizationCreateParams {
	o := &switchyard.Organization{ID: uuid.New(), Name: name, CreatedAt: at}
	k := NewMachineKey(o.ID, "owner")
	k.CreatedAt = at
	return store.OrganizationCreateParams{Organization: o, MachineKey: k, Workspace: NewWorkspace(o.ID, "Default")}
}
