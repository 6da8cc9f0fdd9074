package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	sffake "github.com/switchyardhq/switchyard/internal/providerfake/salesforce"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

const testOrgID = "00D5g000004SLBmEAO"

// env is one fake org and a provisioned sender for a connection to it.
type env struct {
	t      *testing.T
	fake   *sffake.Server
	prov   *Provisioner
	tokens *testTokens
	sender *sender
}

type envOption func(*envConfig)

type envConfig struct {
	fakeOpts sffake.Options
	meta     map[string]any
	apiBase  bool // configure the fake as the server's API base override
	noTokens bool
	account  string
}

func withMeta(m map[string]any) envOption { return func(c *envConfig) { c.meta = m } }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	cfg := envConfig{
		// The org's daily allowance is effectively unlimited unless a test sets it.
		fakeOpts: sffake.Options{OrgID: testOrgID, APILimit: 1 << 30},
		meta:     map[string]any{},
		account:  AccountPrefix + testOrgID,
	}
	for _, o := range opts {
		o(&cfg)
	}
	fake := sffake.New(cfg.fakeOpts)
	t.Cleanup(fake.Close)
	app := destination.OAuthApp{ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(), AuthURL: fake.AuthorizeURL(), TokenURL: fake.TokenURL()}
	if cfg.apiBase {
		app.APIBase = fake.URL()
	}
	prov := New(destination.Options{AllowPrivate: true, Apps: map[string]destination.OAuthApp{Type: app}})
	t.Cleanup(prov.Cleanup)
	e := &env{t: t, fake: fake, prov: prov}
	var tokens destination.Tokens
	if !cfg.noTokens {
		e.tokens = newTestTokens(t, fake, prov.app)
		tokens = e.tokens
	}
	conn := &switchyard.Connection{ID: uuid.New(), Type: Type, Name: "Acme org", Metadata: cfg.meta, Active: true}
	s, err := prov.Provision(context.Background(), destination.Provision{Connection: conn, Tokens: tokens, Account: cfg.account})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	e.sender = s.(*sender)
	return e
}

// secrets are the values no Message or Response may contain.
func (e *env) secrets() []string {
	out := []string{e.fake.ClientSecret()}
	if e.tokens != nil {
		out = append(out, e.tokens.seen()...)
	}
	return out
}

// deliver runs one attempt and checks that it leaks no secret.
func (e *env) deliver(action string, params, fields map[string]any) destination.Result {
	e.t.Helper()
	return e.deliverCtx(context.Background(), action, params, fields)
}

func (e *env) deliverCtx(ctx context.Context, action string, params, fields map[string]any) destination.Result {
	e.t.Helper()
	payload := map[string]any{}
	if em, ok := fields["email"]; ok {
		payload["email"] = em
	}
	body, _ := json.Marshal(payload)
	req := &destination.Request{
		DeliveryID: uuid.New(), Attempt: 1, Action: action, Params: params, Fields: fields, SentAt: time.Now(),
		Event:      &switchyard.Event{ID: uuid.New(), Name: "user.signup", Payload: body},
		Connection: e.sender.conn,
	}
	res := e.sender.Deliver(ctx, req)
	e.noSecrets(res.Message, res.Response)
	return res
}

func (e *env) noSecrets(texts ...string) {
	e.t.Helper()
	for _, text := range texts {
		for _, s := range e.secrets() {
			if s != "" && strings.Contains(text, s) {
				e.t.Fatalf("a secret leaked into %q", text)
			}
		}
	}
}

func want(t *testing.T, res destination.Result, outcome switchyard.Outcome) {
	t.Helper()
	if res.Outcome != outcome {
		t.Fatalf("outcome = %s, want %s (status %d, message %q)\n%s", res.Outcome, outcome, res.HTTPStatus, res.Message, res.Response)
	}
}

// testTokens is a managed credential for tests: it holds the fake's grant and refreshes it at
// the fake's token endpoint with golang.org/x/oauth2, like the server's Tokens.
type testTokens struct {
	cfg  *oauth2.Config
	mu   sync.Mutex
	tok  *oauth2.Token
	all  []string
	fake *sffake.Server
}

func newTestTokens(t *testing.T, fake *sffake.Server, app destination.OAuthApp) *testTokens {
	t.Helper()
	issued := fake.IssueToken("api refresh_token")
	tok := (&oauth2.Token{AccessToken: issued.AccessToken, RefreshToken: issued.RefreshToken, TokenType: "Bearer"}).
		WithExtra(map[string]any{"instance_url": issued.InstanceURL, "id": issued.ID})
	return &testTokens{cfg: app.Config(Integration().OAuth, "http://127.0.0.1/oauth/callback"), tok: tok,
		all: []string{issued.AccessToken, issued.RefreshToken}, fake: fake}
}

func (tt *testTokens) Token(context.Context) (*oauth2.Token, error) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.tok, nil
}

func (tt *testTokens) Refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if stale != nil && stale.AccessToken != tt.tok.AccessToken {
		return tt.tok, nil // someone else refreshed already
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, tt.fake.Client())
	fresh, err := tt.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tt.tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		return nil, destination.ErrGrantRevoked
	}
	if err != nil {
		return nil, err
	}
	tt.tok = fresh
	tt.all = append(tt.all, fresh.AccessToken, fresh.RefreshToken)
	return fresh, nil
}

// set replaces the current token (to test tokens without some of the response's fields).
func (tt *testTokens) set(tok *oauth2.Token) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.tok = tok
	tt.all = append(tt.all, tok.AccessToken)
}

func (tt *testTokens) seen() []string {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return append([]string(nil), tt.all...)
}

// person is the mapped fields of a typical event.
func person(email string) map[string]any {
	return map[string]any{"email": email, "firstname": "Ada", "lastname": "Lovelace", "phone": "+44 20 7946 0000"}
}

// contactsWithEmail returns the fake's Contacts whose Email is email (case-insensitively).
func contactsWithEmail(fake *sffake.Server, email string) []map[string]any {
	var out []map[string]any
	for _, c := range fake.Records("Contact") {
		if e, _ := c["Email"].(string); strings.EqualFold(e, email) {
			out = append(out, c)
		}
	}
	return out
}

// members returns the fake's CampaignMembers of a campaign.
func members(fake *sffake.Server, campaign string) []map[string]any {
	var out []map[string]any
	for _, m := range fake.Records("CampaignMember") {
		if m["CampaignId"] == campaign {
			out = append(out, m)
		}
	}
	return out
}
