package intercom_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/intercom"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/intercom"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// newFake starts a fake Intercom with its rate limit off unless opts sets one.
func newFake(t *testing.T, opts fake.Options) *fake.Server {
	t.Helper()
	if opts.RateLimit == 0 {
		opts.RateLimit = -1
	}
	return fake.New(t, opts)
}

// options point the integration at srv.
func options(srv *fake.Server) destination.Options {
	return destination.Options{AllowPrivate: true, Apps: map[string]destination.OAuthApp{intercom.Type: {
		ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		AuthURL: srv.AuthorizeURL(), TokenURL: srv.TokenURL(), APIBase: srv.URL(),
	}}}
}

func newProvisioner(t *testing.T, srv *fake.Server) *intercom.Provisioner {
	t.Helper()
	p := intercom.New(options(srv))
	t.Cleanup(p.Cleanup)
	return p
}

func connection(meta map[string]any) *switchyard.Connection {
	if meta == nil {
		meta = map[string]any{}
	}
	return &switchyard.Connection{ID: uuid.New(), OrganizationID: uuid.New(), WorkspaceID: uuid.New(), Type: intercom.Type,
		Name: "Intercom", Metadata: meta, Active: true}
}

// pasted provisions a sender with a pasted private-app access token.
func pasted(t *testing.T, srv *fake.Server) (*intercom.Sender, string) {
	t.Helper()
	tok := srv.IssueAccessToken()
	s, err := newProvisioner(t, srv).Provision(context.Background(), destination.Provision{
		Connection: connection(map[string]any{intercom.KeyAccessToken: tok})})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*intercom.Sender), tok
}

// managed provisions a sender with a managed OAuth credential.
func managed(t *testing.T, srv *fake.Server, tokens destination.Tokens) *intercom.Sender {
	t.Helper()
	s, err := newProvisioner(t, srv).Provision(context.Background(), destination.Provision{
		Connection: connection(nil), Tokens: tokens, Account: intercom.AccountPrefix + srv.AppIDCode()})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*intercom.Sender)
}

// testTokens is a managed credential for tests: Refresh asks refresh for a new token (the
// engine's Tokens would run the refresh against the store and the provider).
type testTokens struct {
	mu        sync.Mutex
	tok       string
	refreshes int
	refresh   func() (string, error)
}

func (tt *testTokens) Token(context.Context) (*oauth2.Token, error) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return &oauth2.Token{AccessToken: tt.tok, TokenType: "Bearer"}, nil
}

func (tt *testTokens) Refresh(_ context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.refreshes++
	if tt.refresh == nil {
		return nil, destination.ErrGrantRevoked
	}
	tok, err := tt.refresh()
	if err != nil {
		return nil, err
	}
	tt.tok = tok
	return &oauth2.Token{AccessToken: tok, TokenType: "Bearer"}, nil
}

func (tt *testTokens) count() int {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.refreshes
}

// tagRequest is one attempt of action for the tag, with the mapped fields.
func tagRequest(action, tagID string, fields map[string]any) *destination.Request {
	payload, _ := json.Marshal(map[string]any{"email": fields["email"]})
	params := map[string]any{"action": action}
	if tagID != "" {
		params[intercom.ParamID] = tagID
	}
	return &destination.Request{DeliveryID: uuid.New(), Attempt: 1, Action: action, Params: params, Fields: fields,
		Event: &switchyard.Event{ID: uuid.New(), Name: "user.signup", Payload: payload}}
}

// expect fails unless res has outcome o, and checks that no secret leaked into it.
func expect(t *testing.T, res destination.Result, o switchyard.Outcome, secrets ...string) {
	t.Helper()
	if res.Outcome != o {
		t.Fatalf("outcome %q, want %q (status %d, message %q)\n%s", res.Outcome, o, res.HTTPStatus, res.Message, res.Response)
	}
	noSecrets(t, res, secrets...)
}

func noSecrets(t *testing.T, res destination.Result, secrets ...string) {
	t.Helper()
	secrets = append(secrets, fake.DefaultClientSecret)
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(res.Message, s) || strings.Contains(res.Response, s) {
			t.Fatalf("secret %q leaked into the result: message %q response %q", s, res.Message, res.Response)
		}
	}
}

func tagIDs(tags []fake.Tag) []string {
	out := []string{}
	for _, t := range tags {
		out = append(out, t.ID)
	}
	return out
}
