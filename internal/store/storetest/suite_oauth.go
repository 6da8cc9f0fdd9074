package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RunOAuth runs the conformance tests of managed OAuth: credentials and flow states.
func RunOAuth(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("An authorized connection is stored with its credential, and re-authorizing replaces it and reactivates", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		tn := NewTenant(t, s)
		c := NewConnection(tn.Workspace)
		c.Type = "hubspot"
		got, err := s.ConnectionAuthorize(ctx, store.ConnectionAuthorizeParams{Connection: c, OrganizationID: tn.Org.ID,
			Sealed: "sealed-1", Account: "hubspot:portal:1", Now: T0})
		if err != nil || got.ID != c.ID || !got.Active {
			t.Fatalf("authorize a new connection: %+v, %v", got, err)
		}
		cred, err := s.CredentialGet(ctx, store.CredentialGetParams{ConnectionID: c.ID})
		if err != nil || cred.Sealed != "sealed-1" || cred.Account != "hubspot:portal:1" || cred.Version != 1 || cred.OrganizationID != tn.Org.ID {
			t.Fatalf("credential: %+v, %v", cred, err)
		}
		if err := s.ConnectionDeactivate(ctx, store.ConnectionDeactivateParams{ConnectionID: c.ID,
			Reason: switchyard.InactiveOAuthAuthorizationRevoked, Now: T0}); err != nil {
			t.Fatal(err)
		}
		got, err = s.ConnectionAuthorize(ctx, store.ConnectionAuthorizeParams{ExistingID: c.ID, OrganizationID: tn.Org.ID,
			Sealed: "sealed-2", Account: "hubspot:portal:1", Now: T0.Add(time.Minute)})
		if err != nil || !got.Active || got.InactiveReason != "" {
			t.Fatalf("re-authorize: %+v, %v", got, err)
		}
		if cred, _ := s.CredentialGet(ctx, store.CredentialGetParams{ConnectionID: c.ID}); cred.Sealed != "sealed-2" || cred.Version != 3 {
			t.Fatalf("credential after re-authorizing: %+v", cred)
		}
		other := NewTenant(t, s)
		if _, err := s.ConnectionAuthorize(ctx, store.ConnectionAuthorizeParams{ExistingID: c.ID, OrganizationID: other.Org.ID,
			Sealed: "stolen", Now: T0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another organization re-authorizing the connection: %v, want ErrNotFound", err)
		}
		if _, err := s.CredentialGet(ctx, store.CredentialGetParams{ConnectionID: tn.Connection.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a connection without credential: %v, want ErrNotFound", err)
		}
	})

	t.Run("Credential updates compare and swap: of two refreshes from one version exactly one wins", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		tn := NewTenant(t, s)
		c := NewConnection(tn.Workspace)
		if _, err := s.ConnectionAuthorize(ctx, store.ConnectionAuthorizeParams{Connection: c, OrganizationID: tn.Org.ID,
			Sealed: "v1", Now: T0}); err != nil {
			t.Fatal(err)
		}
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			won, lost int
		)
		for i := range 8 {
			wg.Go(func() {
				_, err := s.CredentialUpdate(ctx, store.CredentialUpdateParams{ConnectionID: c.ID, ExpectedVersion: 1,
					Sealed: "refreshed-" + string(rune('a'+i)), Now: T0.Add(time.Second)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, store.ErrConflict):
					lost++
				default:
					t.Errorf("update: %v", err)
				}
			})
		}
		wg.Wait()
		if won != 1 || lost != 7 {
			t.Fatalf("%d refreshes won and %d lost, want 1 and 7", won, lost)
		}
		if cred, _ := s.CredentialGet(ctx, store.CredentialGetParams{ConnectionID: c.ID}); cred.Version != 2 {
			t.Fatalf("version after one refresh: %d", cred.Version)
		}
		if _, err := s.CredentialUpdate(ctx, store.CredentialUpdateParams{ConnectionID: uuid.New(), ExpectedVersion: 1,
			Sealed: "x", Now: T0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("updating a missing credential: %v, want ErrNotFound", err)
		}
		// Deleting the connection deletes its credential.
		if _, err := s.ConnectionDelete(ctx, store.ConnectionDeleteParams{OrganizationID: tn.Org.ID, ID: c.ID, Force: true, Now: T0}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CredentialGet(ctx, store.CredentialGetParams{ConnectionID: c.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("credential of a deleted connection: %v, want ErrNotFound", err)
		}
	})

	t.Run("An OAuth state is taken once, and never after it expires", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		tn := NewTenant(t, s)
		id := tn.Connection.ID
		st := &switchyard.OAuthState{StateHash: "hash-" + uuid.NewString(), OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
			IntegrationType: "hubspot", Name: "CRM", RedirectURL: "https://app.example.com/done", VerifierSealed: "sealed",
			ConnectionID: &id, CreatedBy: "mk_test", CreatedAt: T0, ExpiresAt: T0.Add(10 * time.Minute)}
		if err := s.OAuthStateInsert(ctx, st); err != nil {
			t.Fatal(err)
		}
		expired := *st
		expired.StateHash, expired.ConnectionID = "hash-"+uuid.NewString(), nil
		expired.ExpiresAt = T0.Add(time.Minute)
		if err := s.OAuthStateInsert(ctx, &expired); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OAuthStateTake(ctx, store.OAuthStateTakeParams{StateHash: expired.StateHash, Now: T0.Add(2 * time.Minute)}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an expired state was taken: %v", err)
		}
		got, err := s.OAuthStateTake(ctx, store.OAuthStateTakeParams{StateHash: st.StateHash, Now: T0.Add(2 * time.Minute)})
		if err != nil || got.WorkspaceID != tn.Workspace.ID || got.ConnectionID == nil || *got.ConnectionID != id ||
			got.RedirectURL != st.RedirectURL || got.VerifierSealed != "sealed" || got.UsedAt == nil || !got.ExpiresAt.Equal(st.ExpiresAt) {
			t.Fatalf("take: %+v, %v", got, err)
		}
		if _, err := s.OAuthStateTake(ctx, store.OAuthStateTakeParams{StateHash: st.StateHash, Now: T0.Add(3 * time.Minute)}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a state was taken twice: %v", err)
		}
		if _, err := s.OAuthStateTake(ctx, store.OAuthStateTakeParams{StateHash: "unknown", Now: T0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an unknown state: %v", err)
		}
	})
}
