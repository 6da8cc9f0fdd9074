package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
)

// NewSession builds (does not insert) a workspace session of tn's workspace created at T0,
// its access token valid for 30 minutes and its launch token for 30 seconds. The token hashes
// are unique per call.
func NewSession(tn *Tenant) *store.Session {
	return &store.Session{ID: uuid.Must(uuid.NewV7()), OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID,
		Role: "member", Type: "workspace", LaunchPage: "dashboard", TTL: 30 * time.Minute,
		TokenHash: "token-" + uuid.NewString(), LaunchHash: "launch-" + uuid.NewString(), LaunchExpiresAt: T0.Add(30 * time.Second),
		CreatedBy: tn.Key.AccessKey, CreatedAt: T0, ExpiresAt: T0.Add(30 * time.Minute)}
}

// RunSessions is the conformance suite of embed sessions: storage of every field, tenancy,
// listing with its filters, the refresh compare-and-swap, idempotent revocation and the
// single-use launch token. Every dialect must pass it; open is as for Run.
func RunSessions(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("A session is stored with every field and found only by its organization", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		ss := NewSession(a)
		ss.Role, ss.Type, ss.Resource, ss.ResourceID, ss.LaunchPage = "admin", "resource", "user", "usr_1", "events"
		ext := "user-42"
		ss.ExternalUserID = &ext
		ss.AllowedOrigins = []string{"https://app.example.com", "http://localhost:3000"}
		ss.Scopes = []string{"events.payload:read"}
		ss.TTL = 5 * time.Minute
		ss.ExpiresAt = T0.Add(5 * time.Minute)
		if err := s.SessionInsert(ctx, store.SessionInsertParams{Session: ss}); err != nil {
			t.Fatal(err)
		}
		got, err := s.SessionGet(ctx, store.SessionGetParams{OrganizationID: a.Org.ID, ID: ss.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != ss.ID || got.OrganizationID != a.Org.ID || got.WorkspaceID != a.Workspace.ID || got.Role != "admin" ||
			got.Type != "resource" || got.Resource != "user" || got.ResourceID != "usr_1" || got.ExternalUserID == nil ||
			*got.ExternalUserID != ext || !slices.Equal(got.AllowedOrigins, ss.AllowedOrigins) || !slices.Equal(got.Scopes, ss.Scopes) ||
			got.LaunchPage != "events" || got.TTL != 5*time.Minute || got.TokenHash != ss.TokenHash || got.TokenVersion != 0 ||
			got.LaunchHash != ss.LaunchHash || !got.LaunchExpiresAt.Equal(ss.LaunchExpiresAt) || got.LaunchUsedAt != nil ||
			got.CreatedBy != a.Key.AccessKey || !got.CreatedAt.Equal(T0) || !got.ExpiresAt.Equal(ss.ExpiresAt) ||
			got.RefreshedAt != nil || got.RevokedAt != nil {
			t.Fatalf("read back %+v\nwant %+v", got, ss)
		}
		plain := NewSession(a)
		if err := s.SessionInsert(ctx, store.SessionInsertParams{Session: plain}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.SessionGet(ctx, store.SessionGetParams{OrganizationID: a.Org.ID, ID: plain.ID}); err != nil ||
			got.ExternalUserID != nil || got.AllowedOrigins != nil || got.Scopes != nil || got.Resource != "" {
			t.Fatalf("a session without options read back as %+v, %v", got, err)
		}
		if _, err := s.SessionGet(ctx, store.SessionGetParams{OrganizationID: b.Org.ID, ID: ss.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another organization's session: %v, want ErrNotFound", err)
		}
		if _, err := s.SessionGet(ctx, store.SessionGetParams{OrganizationID: a.Org.ID, ID: uuid.New()}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an unknown session: %v, want ErrNotFound", err)
		}
		orphan := NewSession(a)
		orphan.WorkspaceID = uuid.New()
		if err := s.SessionInsert(ctx, store.SessionInsertParams{Session: orphan}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a session of an unknown workspace: %v, want ErrNotFound", err)
		}
	})

	t.Run("Sessions list per workspace, newest first, in pages, filtered by status and resource", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b := NewTenant(t, s), NewTenant(t, s)
		second := NewWorkspace(a.Org.ID, "Second")
		if err := s.WorkspaceInsert(ctx, second); err != nil {
			t.Fatal(err)
		}
		var all []*store.Session
		for i := range 5 {
			ss := NewSession(a)
			ss.CreatedAt = T0.Add(time.Duration(i) * time.Minute)
			if i%2 == 1 {
				ss.Type, ss.Resource, ss.ResourceID = "resource", "user", "usr_"+string(rune('a'+i))
			}
			if err := s.SessionInsert(ctx, store.SessionInsertParams{Session: ss}); err != nil {
				t.Fatal(err)
			}
			all = append(all, ss)
		}
		elsewhere := NewSession(a) // of a's other workspace
		elsewhere.WorkspaceID = second.ID
		for _, other := range []*store.Session{NewSession(b), elsewhere} {
			if err := s.SessionInsert(ctx, store.SessionInsertParams{Session: other}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.SessionRevoke(ctx, store.SessionRevokeParams{OrganizationID: a.Org.ID, ID: all[2].ID, Now: T0}); err != nil {
			t.Fatal(err)
		}
		ids := func(p store.SessionListParams) []uuid.UUID {
			t.Helper()
			var out []uuid.UUID
			for {
				page, err := s.SessionList(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Records) > p.Limit {
					t.Fatalf("page of %d records, limit %d", len(page.Records), p.Limit)
				}
				for _, r := range page.Records {
					out = append(out, r.ID)
				}
				if page.NextCursor == "" {
					return out
				}
				p.Cursor = page.NextCursor
			}
		}
		list := store.SessionListParams{ListParams: store.ListParams{OrganizationID: a.Org.ID, Limit: 2}, WorkspaceID: a.Workspace.ID}
		want := []uuid.UUID{all[4].ID, all[3].ID, all[2].ID, all[1].ID, all[0].ID}
		if got := ids(list); !slices.Equal(got, want) {
			t.Fatalf("all: %v, want %v", got, want)
		}
		active, revoked, user, one := list, list, list, list
		active.Status, revoked.Status = store.SessionActive, store.SessionRevoked
		user.Resource = "user"
		one.Resource, one.ResourceID = "user", "usr_d"
		for _, c := range []struct {
			name string
			p    store.SessionListParams
			want []uuid.UUID
		}{
			{"active", active, []uuid.UUID{all[4].ID, all[3].ID, all[1].ID, all[0].ID}},
			{"revoked", revoked, []uuid.UUID{all[2].ID}},
			{"resource", user, []uuid.UUID{all[3].ID, all[1].ID}},
			{"resource and resource id", one, []uuid.UUID{all[3].ID}},
		} {
			if got := ids(c.p); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
		foreign := list
		foreign.OrganizationID = b.Org.ID
		if got := ids(foreign); len(got) != 0 {
			t.Fatalf("another organization listing a's workspace: %v", got)
		}
		limited := list
		limited.Workspaces = []uuid.UUID{second.ID}
		if got := ids(limited); len(got) != 0 {
			t.Fatalf("a key limited to another workspace listing this one: %v", got)
		}
	})

	t.Run("A refresh compare-and-swaps the token: of two refreshes from one version exactly one wins", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		ss := NewSession(tn)
		if err := s.SessionInsert(ctx, store.SessionInsertParams{Session: ss}); err != nil {
			t.Fatal(err)
		}
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			won, lost int
			winner    *store.Session
		)
		for i := range 8 {
			wg.Go(func() {
				got, err := s.SessionRefresh(ctx, store.SessionRefreshParams{OrganizationID: tn.Org.ID, ID: ss.ID, ExpectedVersion: 0,
					TokenHash: "refreshed-" + string(rune('a'+i)), ExpiresAt: T0.Add(40 * time.Minute), Now: T0.Add(10 * time.Minute)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
					winner = got
				case errors.Is(err, store.ErrConflict):
					lost++
				default:
					t.Errorf("refresh: %v", err)
				}
			})
		}
		wg.Wait()
		if won != 1 || lost != 7 {
			t.Fatalf("%d refreshes won and %d lost, want 1 and 7", won, lost)
		}
		got, err := s.SessionGet(ctx, store.SessionGetParams{OrganizationID: tn.Org.ID, ID: ss.ID})
		if err != nil || got.TokenVersion != 1 || got.TokenHash != winner.TokenHash || !got.ExpiresAt.Equal(T0.Add(40*time.Minute)) ||
			got.RefreshedAt == nil || !got.RefreshedAt.Equal(T0.Add(10*time.Minute)) || winner.TokenVersion != 1 {
			t.Fatalf("after one refresh: %+v, %v (winner %+v)", got, err, winner)
		}
		other := NewTenant(t, s)
		if _, err := s.SessionRefresh(ctx, store.SessionRefreshParams{OrganizationID: other.Org.ID, ID: ss.ID, ExpectedVersion: 1,
			TokenHash: "stolen", ExpiresAt: T0.Add(time.Hour), Now: T0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another organization refreshing: %v, want ErrNotFound", err)
		}
		// Past its expiry a session is not refreshed, even from its current version.
		if _, err := s.SessionRefresh(ctx, store.SessionRefreshParams{OrganizationID: tn.Org.ID, ID: ss.ID, ExpectedVersion: 1,
			TokenHash: "late", ExpiresAt: T0.Add(2 * time.Hour), Now: T0.Add(40 * time.Minute)}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("refreshing an expired session: %v, want ErrConflict", err)
		}
		// Nor after revocation.
		if _, err := s.SessionRevoke(ctx, store.SessionRevokeParams{OrganizationID: tn.Org.ID, ID: ss.ID, Now: T0.Add(11 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionRefresh(ctx, store.SessionRefreshParams{OrganizationID: tn.Org.ID, ID: ss.ID, ExpectedVersion: 1,
			TokenHash: "revived", ExpiresAt: T0.Add(time.Hour), Now: T0.Add(12 * time.Minute)}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("refreshing a revoked session: %v, want ErrConflict", err)
		}
		if got, _ := s.SessionGet(ctx, store.SessionGetParams{OrganizationID: tn.Org.ID, ID: ss.ID}); got.TokenHash != winner.TokenHash {
			t.Fatalf("a refused refresh changed the token: %+v", got)
		}
	})

	t.Run("Revoking is idempotent and keeps the first revocation time", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn, other := NewTenant(t, s), NewTenant(t, s)
		ss := NewSession(tn)
		if err := s.SessionInsert(ctx, store.SessionInsertParams{Session: ss}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionRevoke(ctx, store.SessionRevokeParams{OrganizationID: other.Org.ID, ID: ss.ID, Now: T0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another organization revoking: %v, want ErrNotFound", err)
		}
		first, err := s.SessionRevoke(ctx, store.SessionRevokeParams{OrganizationID: tn.Org.ID, ID: ss.ID, Now: T0.Add(time.Minute)})
		if err != nil || first.RevokedAt == nil || !first.RevokedAt.Equal(T0.Add(time.Minute)) {
			t.Fatalf("revoke: %+v, %v", first, err)
		}
		again, err := s.SessionRevoke(ctx, store.SessionRevokeParams{OrganizationID: tn.Org.ID, ID: ss.ID, Now: T0.Add(2 * time.Minute)})
		if err != nil || again.RevokedAt == nil || !again.RevokedAt.Equal(T0.Add(time.Minute)) {
			t.Fatalf("revoke again: %+v, %v", again, err)
		}
		if _, err := s.SessionRevoke(ctx, store.SessionRevokeParams{OrganizationID: tn.Org.ID, ID: uuid.New(), Now: T0}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoking an unknown session: %v, want ErrNotFound", err)
		}
	})

	t.Run("A launch token is taken once, within its expiry, on a live session", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tn := NewTenant(t, s)
		insert := func() *store.Session {
			ss := NewSession(tn)
			if err := s.SessionInsert(ctx, store.SessionInsertParams{Session: ss}); err != nil {
				t.Fatal(err)
			}
			return ss
		}
		take := func(hash string, at time.Time) (*store.Session, error) {
			return s.SessionTakeLaunch(ctx, store.SessionTakeLaunchParams{LaunchHash: hash, Now: at})
		}
		ss := insert()
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			taken int
		)
		for range 8 {
			wg.Go(func() {
				got, err := take(ss.LaunchHash, T0.Add(10*time.Second))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && got.ID == ss.ID && got.LaunchUsedAt != nil:
					taken++
				case errors.Is(err, store.ErrNotFound):
				default:
					t.Errorf("take: %+v, %v", got, err)
				}
			})
		}
		wg.Wait()
		if taken != 1 {
			t.Fatalf("the launch token was taken %d times, want once", taken)
		}
		late := insert()
		if _, err := take(late.LaunchHash, late.LaunchExpiresAt); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a launch token at its expiry: %v, want ErrNotFound", err)
		}
		if _, err := take(late.LaunchHash, late.LaunchExpiresAt.Add(-time.Microsecond)); err != nil {
			t.Fatalf("a launch token just before its expiry: %v", err)
		}
		revoked := insert()
		if _, err := s.SessionRevoke(ctx, store.SessionRevokeParams{OrganizationID: tn.Org.ID, ID: revoked.ID, Now: T0}); err != nil {
			t.Fatal(err)
		}
		if _, err := take(revoked.LaunchHash, T0.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the launch token of a revoked session: %v, want ErrNotFound", err)
		}
		if _, err := take("launch-unknown", T0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an unknown launch token: %v, want ErrNotFound", err)
		}
	})
}
