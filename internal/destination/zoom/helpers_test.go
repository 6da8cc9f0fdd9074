package zoom

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
	"go.uber.org/goleak"
	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	zoomfake "github.com/switchyardhq/switchyard/internal/providerfake/zoom"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// TestMain checks that no test leaves a goroutine behind (idle connections are closed by the
// provisioners' Cleanup, hung requests end with their contexts).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newFake starts a fake Zoom; its per-second limits are off unless opts enables them.
func newFake(t *testing.T, opts zoomfake.Options) *zoomfake.Server {
	t.Helper()
	srv := zoomfake.New(opts)
	t.Cleanup(srv.Close)
	return srv
}

// options point the integration at srv.
func options(srv *zoomfake.Server) destination.Options {
	return destination.Options{AllowPrivate: true, Apps: map[string]destination.OAuthApp{Type: {
		ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		AuthURL: srv.AuthorizeURL(), TokenURL: srv.TokenURL(), APIBase: srv.URL(),
	}}}
}

func newProvisioner(t *testing.T, srv *zoomfake.Server) *Provisioner {
	t.Helper()
	p := New(options(srv))
	t.Cleanup(p.Cleanup)
	return p
}

func connection(meta map[string]any) *switchyard.Connection {
	if meta == nil {
		meta = map[string]any{}
	}
	return &switchyard.Connection{ID: uuid.New(), OrganizationID: uuid.New(), WorkspaceID: uuid.New(), Type: Type,
		Name: "Zoom", Metadata: meta, Active: true}
}

// oauthTokens is a test stand-in for the managed Tokens: it holds a user-level grant and
// refreshes it against the fake's token endpoint with golang.org/x/oauth2, storing the rotated
// refresh token.
type oauthTokens struct {
	cfg    *oauth2.Config
	client *http.Client

	mu        sync.Mutex
	tok       *oauth2.Token
	refreshes int
}

func newOAuthTokens(srv *zoomfake.Server) *oauthTokens {
	in := Integration()
	cfg := options(srv).App(in).Config(in.OAuth, srv.RedirectURIs()[0])
	issued := srv.IssueToken()
	return &oauthTokens{cfg: cfg, client: srv.Client(), tok: &oauth2.Token{AccessToken: issued.AccessToken,
		RefreshToken: issued.RefreshToken, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}}
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
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusBadRequest {
			return nil, fmt.Errorf("%w: %s", destination.ErrGrantRevoked, re.ErrorCode)
		}
		return nil, err
	}
	o.refreshes++
	o.tok = t
	return t, nil
}

func (o *oauthTokens) secrets() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return []string{o.tok.AccessToken, o.tok.RefreshToken, o.cfg.ClientSecret}
}

func (o *oauthTokens) refreshCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refreshes
}

// oauthSender provisions a sender of a connection authorized with the OAuth flow.
func oauthSender(t *testing.T, srv *zoomfake.Server) (*sender, *oauthTokens) {
	t.Helper()
	tokens := newOAuthTokens(srv)
	s, err := newProvisioner(t, srv).Provision(context.Background(), destination.Provision{
		Connection: connection(nil), Tokens: tokens, Account: AccountScope(srv.AccountID())})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*sender), tokens
}

// s2sMeta is the metadata of a pasted Server-to-Server credential for srv.
func s2sMeta(srv *zoomfake.Server) map[string]any {
	return map[string]any{KeyAccountID: srv.AccountID(), KeyClientID: srv.ClientID(), KeyClientSecret: srv.ClientSecret()}
}

// s2sSender provisions a sender of a pasted Server-to-Server credential.
func s2sSender(t *testing.T, srv *zoomfake.Server, meta map[string]any) *sender {
	t.Helper()
	s, err := newProvisioner(t, srv).Provision(context.Background(), destination.Provision{Connection: connection(meta)})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*sender)
}

// request is one attempt of action for the meeting id with the mapped fields.
func request(action string, id any, fields map[string]any) *destination.Request {
	params := map[string]any{"action": action}
	if id != nil {
		params[ParamID] = id
	}
	payload, _ := json.Marshal(fields)
	return &destination.Request{DeliveryID: uuid.New(), Attempt: 1, Action: action, Params: params, Fields: fields,
		SentAt: time.Now(), Event: &switchyard.Event{ID: uuid.New(), Name: "user.signup", Resource: switchyard.DefaultResource, Payload: payload}}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// want checks a result's outcome and that neither its message nor its response holds a secret.
func want(t *testing.T, res destination.Result, outcome switchyard.Outcome, secrets ...string) {
	t.Helper()
	if res.Outcome != outcome {
		t.Fatalf("outcome = %s, want %s; message %q; response %q", res.Outcome, outcome, res.Message, res.Response)
	}
	noSecrets(t, res, secrets...)
}

func noSecrets(t *testing.T, res destination.Result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(res.Message, s) || strings.Contains(res.Response, s) {
			t.Fatalf("a secret leaked into the result: message %q, response %q", res.Message, res.Response)
		}
	}
}

func meetingID(id int64) string { return fmt.Sprint(id) }
