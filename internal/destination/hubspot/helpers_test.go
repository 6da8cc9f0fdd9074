package hubspot_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/destination/hubspot"
	fake "github.com/switchyardhq/switchyard/internal/providerfake/hubspot"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// newFake starts a fake HubSpot with its rate limits off unless opts sets them.
func newFake(t *testing.T, opts fake.Options) *fake.Server {
	t.Helper()
	if opts.RateLimitMax == 0 {
		opts.RateLimitMax = -1
	}
	if opts.DailyLimit == 0 {
		opts.DailyLimit = -1
	}
	if opts.SearchPerSecond == 0 {
		opts.SearchPerSecond = -1
	}
	return fake.New(t, opts)
}

// options point the integration at srv.
func options(srv *fake.Server) destination.Options {
	return destination.Options{AllowPrivate: true, Apps: map[string]destination.OAuthApp{hubspot.Type: {
		ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		AuthURL: srv.AuthorizeURL(), TokenURL: srv.TokenURL(), APIBase: srv.URL(),
	}}}
}

func newProvisioner(t *testing.T, srv *fake.Server) *hubspot.Provisioner {
	t.Helper()
	p := hubspot.New(options(srv))
	t.Cleanup(p.Cleanup)
	return p
}

// connection is a connection value with meta normalised by the integration's schema, as the
// engine provisions it.
func connection(t *testing.T, srv *fake.Server, meta map[string]any) *switchyard.Connection {
	t.Helper()
	if meta == nil {
		meta = map[string]any{}
	}
	norm, errs := hubspot.Integration().ValidateMetadata(meta, options(srv))
	if len(errs) > 0 {
		t.Fatalf("the schema refuses %v: %v", meta, errs)
	}
	return &switchyard.Connection{ID: uuid.New(), OrganizationID: uuid.New(), WorkspaceID: uuid.New(), Type: hubspot.Type,
		Name: "HubSpot", Metadata: norm, Active: true}
}

// pasted provisions a sender with a pasted private-app token.
func pasted(t *testing.T, srv *fake.Server) (*hubspot.Sender, string) {
	t.Helper()
	tok := srv.IssuePrivateAppToken()
	s, err := newProvisioner(t, srv).Provision(t.Context(), destination.Provision{
		Connection: connection(t, srv, map[string]any{hubspot.KeyPrivateAppToken: tok})})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*hubspot.Sender), tok
}

// managed provisions a sender with a managed OAuth credential, for the fake's portal.
func managed(t *testing.T, srv *fake.Server, tokens destination.Tokens) *hubspot.Sender {
	t.Helper()
	s, err := newProvisioner(t, srv).Provision(t.Context(), destination.Provision{
		Connection: connection(t, srv, nil), Tokens: tokens, Account: portal(srv)})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*hubspot.Sender)
}

func portal(srv *fake.Server) string { return fmt.Sprintf("%s%d", hubspot.AccountPrefix, srv.HubID()) }

// oauthTokens stands in for the engine's managed Tokens: it holds a grant the fake issued and
// refreshes it against the fake's token endpoint with golang.org/x/oauth2. HubSpot's refusal of
// a refresh token (400 BAD_REFRESH_TOKEN) is a revoked grant.
type oauthTokens struct {
	cfg    *oauth2.Config
	client *http.Client

	mu        sync.Mutex
	tok       *oauth2.Token
	refreshes int
	seen      []string
}

func newOAuthTokens(srv *fake.Server) *oauthTokens {
	in := hubspot.Integration()
	cfg := options(srv).App(in).Config(in.OAuth, "http://127.0.0.1/api/v1/oauth/callback")
	issued := srv.IssueToken()
	o := &oauthTokens{cfg: cfg, client: srv.HTTPClient(), tok: &oauth2.Token{AccessToken: issued.AccessToken,
		RefreshToken: issued.RefreshToken, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}}
	o.seen = append(o.seen, issued.AccessToken, issued.RefreshToken)
	return o
}

func (o *oauthTokens) Token(context.Context) (*oauth2.Token, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tok, nil
}

func (o *oauthTokens) Refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if stale != nil && o.tok.AccessToken != stale.AccessToken {
		return o.tok, nil
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.client)
	t, err := o.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: o.tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && strings.Contains(string(re.Body), "BAD_REFRESH_TOKEN") {
			return nil, fmt.Errorf("%w: BAD_REFRESH_TOKEN", destination.ErrGrantRevoked)
		}
		return nil, errors.New("the token endpoint failed")
	}
	o.refreshes++
	o.tok = t
	o.seen = append(o.seen, t.AccessToken, t.RefreshToken)
	return t, nil
}

func (o *oauthTokens) secrets() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string{o.cfg.ClientSecret}, o.seen...)
}

func (o *oauthTokens) refreshCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refreshes
}

// fixedTokens hands out one token; Refresh hands out next (or fails with err).
type fixedTokens struct {
	mu        sync.Mutex
	tok       string
	next      string
	err       error
	refreshes int
}

func (f *fixedTokens) Token(context.Context) (*oauth2.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &oauth2.Token{AccessToken: f.tok, TokenType: "Bearer"}, nil
}

func (f *fixedTokens) Refresh(context.Context, *oauth2.Token) (*oauth2.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshes++
	if f.err != nil {
		return nil, f.err
	}
	f.tok = f.next
	return &oauth2.Token{AccessToken: f.tok, TokenType: "Bearer"}, nil
}

// request is one attempt of action with the rule's params and the mapped fields.
func request(action string, params, fields map[string]any) *destination.Request {
	payload, _ := json.Marshal(map[string]any{"email": fields["email"]})
	p := map[string]any{"action": action}
	for k, v := range params {
		p[k] = v
	}
	return &destination.Request{DeliveryID: uuid.New(), Attempt: 1, Action: action, Params: p, Fields: fields,
		Event: &switchyard.Event{ID: uuid.New(), Name: "user.signup", Payload: payload}}
}

func listRequest(action, listID, email string) *destination.Request {
	return request(action, map[string]any{hubspot.ParamID: listID}, map[string]any{"email": email})
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

// count is how many logged requests have this method and path.
func count(srv *fake.Server, method, path string) int { return len(srv.RequestsTo(method, path)) }
