package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/oauth"
	"github.com/switchyardhq/switchyard/internal/providerfake/hubspot"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// The tests run the flow against the HubSpot fake with an integration declared here, so that
// they exercise this package alone: the HubSpot integration has its own tests.

// identifyingProvisioner is an Identifier that names the account from the token and counts calls.
type identifyingProvisioner struct{ calls atomic.Int32 }

func (p *identifyingProvisioner) Provision(context.Context, destination.Provision) (destination.Sender, error) {
	return nil, errors.New("not used")
}

func (p *identifyingProvisioner) Identify(_ context.Context, tok *oauth2.Token) (string, error) {
	p.calls.Add(1)
	if tok.AccessToken == "" {
		return "", errors.New("no token")
	}
	return "test:portal:42", nil
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type harness struct {
	fake   *hubspot.Server
	st     store.Store
	box    *secret.Box
	tenant *storetest.Tenant
	clock  *clock
	reg    *destination.Registry
	opts   destination.Options
}

// node is one Switchyard node's OAuth service on the shared store.
func (h *harness) node() *oauth.Service {
	return &oauth.Service{Store: h.st, Box: h.box, Integrations: h.reg, Options: h.opts,
		CallbackURL: "http://127.0.0.1:9/api/v1/oauth/callback", Now: h.clock.now}
}

func newHarness(t *testing.T, d storetest.Dialect) *harness {
	t.Helper()
	fake := hubspot.New(t, hubspot.Options{ClientID: "client-1", ClientSecret: "secret-1", RateLimitMax: -1, SearchPerSecond: -1})
	db, err := sqlstore.Open(context.Background(), d.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, err := secret.New(secret.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	prov := &identifyingProvisioner{}
	in := &destination.Integration{Type: "testcrm", Name: "Test CRM", AuthType: destination.AuthOAuth, OAuthVersion: 2,
		OAuth: &destination.OAuthSpec{AuthURL: "https://provider.invalid/authorize", TokenURL: "https://provider.invalid/token",
			Scopes: []string{"crm.objects.contacts.read"}, PKCE: true, RevokedErrors: []string{"BAD_REFRESH_TOKEN"},
			AuthStyle: oauth2.AuthStyleInParams},
		New: func(destination.Options) destination.Provisioner { return prov }}
	reg := destination.NewRegistry(in)
	opts := destination.Options{AllowPrivate: true, Apps: map[string]destination.OAuthApp{"testcrm": {
		ClientID: "client-1", ClientSecret: "secret-1", AuthURL: fake.AuthorizeURL(), TokenURL: fake.TokenURL()}}}
	return &harness{fake: fake, st: db, box: box, tenant: storetest.NewTenant(t, db), clock: &clock{t: time.Now()}, reg: reg, opts: opts}
}

// connect runs the whole flow: start, the customer's consent at the fake, the callback.
func (h *harness) connect(t *testing.T, svc *oauth.Service) *switchyard.Connection {
	t.Helper()
	ctx := context.Background()
	started, err := svc.Start(ctx, oauth.StartParams{OrganizationID: h.tenant.Org.ID, WorkspaceID: h.tenant.Workspace.ID,
		Type: "testcrm", Name: "CRM", RedirectURL: "https://app.example.com/connected?tab=crm", CreatedBy: "mk_test"})
	if err != nil {
		t.Fatal(err)
	}
	code, state := h.consent(t, started.AuthorizationURL)
	if state != started.State {
		t.Fatalf("the provider returned state %q, want %q", state, started.State)
	}
	done, err := svc.Complete(ctx, state, code, "")
	if err != nil || done.Connection == nil {
		t.Fatalf("complete: %+v, %v", done, err)
	}
	return done.Connection
}

// consent follows the authorization URL at the fake and returns the code and state it redirects
// back with.
func (h *harness) consent(t *testing.T, authURL string) (code, state string) {
	t.Helper()
	resp, err := h.fake.HTTPClient().Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query().Get("code"), loc.Query().Get("state")
}

func TestFlow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		h := newHarness(t, d)
		svc := h.node()
		ctx := context.Background()

		t.Run("the authorization URL carries the app, the callback, the state and a PKCE challenge", func(t *testing.T) {
			started, err := svc.Start(ctx, oauth.StartParams{OrganizationID: h.tenant.Org.ID, WorkspaceID: h.tenant.Workspace.ID,
				Type: "testcrm", Name: "CRM", RedirectURL: "https://app.example.com/done"})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(started.AuthorizationURL)
			q := u.Query()
			if q.Get("client_id") != "client-1" || q.Get("redirect_uri") != svc.CallbackURL || q.Get("state") != started.State ||
				q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 || q.Get("response_type") != "code" {
				t.Fatalf("authorization URL %s", started.AuthorizationURL)
			}
			if got := started.ExpiresAt.Sub(h.clock.now()); got < 9*time.Minute || got > 10*time.Minute {
				t.Fatalf("the state expires in %s, want 10 minutes", got)
			}
		})

		t.Run("a completed flow creates the connection with its sealed credential and redirects with its id", func(t *testing.T) {
			started, err := svc.Start(ctx, oauth.StartParams{OrganizationID: h.tenant.Org.ID, WorkspaceID: h.tenant.Workspace.ID,
				Type: "testcrm", Name: "My CRM", RedirectURL: "https://app.example.com/connected?tab=crm", CreatedBy: "mk_test"})
			if err != nil {
				t.Fatal(err)
			}
			code, state := h.consent(t, started.AuthorizationURL)
			done, err := svc.Complete(ctx, state, code, "")
			if err != nil {
				t.Fatal(err)
			}
			c := done.Connection
			if c.Name != "My CRM" || c.Type != "testcrm" || c.WorkspaceID != h.tenant.Workspace.ID || !c.Active || c.CreatedBy != "mk_test" {
				t.Fatalf("connection %+v", c)
			}
			loc, _ := url.Parse(done.RedirectURL)
			if loc.Host != "app.example.com" || loc.Query().Get("tab") != "crm" || loc.Query().Get("connection_id") != c.ID.String() ||
				loc.Query().Get("status") != "connected" {
				t.Fatalf("redirect %s", done.RedirectURL)
			}
			cred, err := h.st.CredentialGet(ctx, store.CredentialGetParams{ConnectionID: c.ID})
			if err != nil || cred.Account != "test:portal:42" {
				t.Fatalf("credential %+v, %v", cred, err)
			}
			tokens, account, err := svc.Tokens(ctx, c)
			if err != nil || account != "test:portal:42" {
				t.Fatalf("tokens: %v, %q", err, account)
			}
			tok, err := tokens.Token(ctx)
			if err != nil || tok.AccessToken == "" || strings.Contains(cred.Sealed, tok.AccessToken) || strings.Contains(cred.Sealed, tok.RefreshToken) {
				t.Fatalf("token %v (err %v): the stored credential must hold it sealed", tok, err)
			}
			if _, err := svc.Complete(ctx, state, code, ""); !errors.Is(err, oauth.ErrUnknownState) {
				t.Fatalf("the state was accepted twice: %v", err)
			}
		})

		t.Run("a refused consent redirects with access_denied and creates nothing", func(t *testing.T) {
			started, err := svc.Start(ctx, oauth.StartParams{OrganizationID: h.tenant.Org.ID, WorkspaceID: h.tenant.Workspace.ID,
				Type: "testcrm", Name: "Denied", RedirectURL: "https://app.example.com/done"})
			if err != nil {
				t.Fatal(err)
			}
			done, err := svc.Complete(ctx, started.State, "", "access_denied")
			if err != nil || done.Connection != nil || !strings.Contains(done.RedirectURL, "error=access_denied") {
				t.Fatalf("denied: %+v, %v", done, err)
			}
		})

		t.Run("an expired state is refused", func(t *testing.T) {
			started, err := svc.Start(ctx, oauth.StartParams{OrganizationID: h.tenant.Org.ID, WorkspaceID: h.tenant.Workspace.ID,
				Type: "testcrm", Name: "Late", RedirectURL: "https://app.example.com/done"})
			if err != nil {
				t.Fatal(err)
			}
			code, state := h.consent(t, started.AuthorizationURL)
			late := &oauth.Service{Store: h.st, Box: h.box, Integrations: h.reg, Options: h.opts, CallbackURL: svc.CallbackURL,
				Now: func() time.Time { return h.clock.now().Add(oauth.StateTTL + time.Second) }}
			if _, err := late.Complete(ctx, state, code, ""); !errors.Is(err, oauth.ErrUnknownState) {
				t.Fatalf("a state past its expiry: %v", err)
			}
		})

		t.Run("an app that is not configured is said so", func(t *testing.T) {
			bare := &oauth.Service{Store: h.st, Box: h.box, Integrations: h.reg, CallbackURL: svc.CallbackURL}
			if _, err := bare.Start(ctx, oauth.StartParams{OrganizationID: h.tenant.Org.ID, WorkspaceID: h.tenant.Workspace.ID,
				Type: "testcrm", Name: "x", RedirectURL: "https://app.example.com"}); !errors.Is(err, oauth.ErrNotConfigured) {
				t.Fatalf("start without an app: %v", err)
			}
		})
	})
}

// Tokens are refreshed ahead of expiry and after a 401 — once, however many attempts on however
// many nodes want a fresh one at the same moment — and a revoked grant says so.
func TestRefresh(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		t.Run("many callers on two nodes refresh an expiring token exactly once", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, d)
			first := h.node()
			conn := h.connect(t, first)
			nodes := []*oauth.Service{first, h.node()}
			// The token expires in 30 minutes; 29 minutes later it is due for refreshing.
			h.clock.set(h.clock.now().Add(29 * time.Minute))
			h.fake.Advance(29 * time.Minute)
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				seen = map[string]bool{}
			)
			for i := range 20 {
				wg.Go(func() {
					tokens, _, err := nodes[i%2].Tokens(context.Background(), conn)
					if err != nil {
						t.Error(err)
						return
					}
					tok, err := tokens.Token(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					seen[tok.AccessToken] = true
					mu.Unlock()
				})
			}
			wg.Wait()
			if n := h.fake.RefreshCount(); n != 1 {
				t.Fatalf("the token was refreshed %d times, want once", n)
			}
			if len(seen) != 1 {
				t.Fatalf("callers got %d different tokens, want the one refreshed token", len(seen))
			}
		})

		t.Run("a refused token is refreshed once for all the callers that saw it refused", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, d)
			svc := h.node()
			conn := h.connect(t, svc)
			tokens, _, err := svc.Tokens(context.Background(), conn)
			if err != nil {
				t.Fatal(err)
			}
			stale, err := tokens.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			h.fake.ExpireAccessTokens()
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					tok, err := tokens.Refresh(context.Background(), stale)
					if err != nil || tok.AccessToken == stale.AccessToken {
						t.Errorf("refresh: %v, %v", tok, err)
					}
				})
			}
			wg.Wait()
			if n := h.fake.RefreshCount(); n != 1 {
				t.Fatalf("refreshed %d times, want once", n)
			}
		})

		t.Run("a revoked grant is reported as such", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, d)
			svc := h.node()
			conn := h.connect(t, svc)
			h.fake.RevokeGrant()
			h.clock.set(h.clock.now().Add(29 * time.Minute))
			h.fake.Advance(29 * time.Minute)
			tokens, _, err := svc.Tokens(context.Background(), conn)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tokens.Token(context.Background()); !errors.Is(err, destination.ErrGrantRevoked) {
				t.Fatalf("refresh of a revoked grant: %v, want ErrGrantRevoked", err)
			}
			if res := destination.TokenResult(destination.ErrGrantRevoked); res.Deactivate != switchyard.InactiveOAuthAuthorizationRevoked {
				t.Fatalf("TokenResult: %+v", res)
			}
		})

		t.Run("re-authorizing a connection replaces its credential", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, d)
			svc := h.node()
			conn := h.connect(t, svc)
			tokens, _, _ := svc.Tokens(context.Background(), conn)
			before, _ := tokens.Token(context.Background())
			id := conn.ID
			started, err := svc.Start(context.Background(), oauth.StartParams{OrganizationID: h.tenant.Org.ID, WorkspaceID: h.tenant.Workspace.ID,
				Type: "testcrm", RedirectURL: "https://app.example.com/done", ConnectionID: &id})
			if err != nil {
				t.Fatal(err)
			}
			code, state := h.consent(t, started.AuthorizationURL)
			done, err := svc.Complete(context.Background(), state, code, "")
			if err != nil || done.Connection == nil || done.Connection.ID != id {
				t.Fatalf("re-authorize: %+v, %v", done, err)
			}
			tokens, _, _ = svc.Tokens(context.Background(), done.Connection)
			after, _ := tokens.Token(context.Background())
			if after == nil || after.AccessToken == before.AccessToken {
				t.Fatal("the re-authorized connection still uses its old token")
			}
		})
	})
}
