package zoom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// DefaultUserAgent is sent when the server configures none.
const DefaultUserAgent = "Switchyard-Zoom/1"

// requestTimeout bounds one API call (connect, send, answer).
const requestTimeout = 30 * time.Second

// Rate limits ("Rate limits" in the Zoom API reference): limits are per account, shared by every
// app installed on it, per second by the endpoint's category. "Add a meeting registrant" and
// "Add a webinar registrant" are Light: 30 requests/s on Pro, 80/s on Business and above
// (registration needs a licensed host, so Free's 4/s does not apply). Switchyard keeps to a
// third of Pro's Light limit, leaving room for the customer's other apps.
const (
	RatePerSecond = 10
	RateBurst     = 5
)

// Provisioner is the Zoom integration's server-wide part: one HTTP client shared by every
// connection, and the endpoints (API base, token URL) from the server configuration. It is
// safe for concurrent use.
type Provisioner struct {
	client    *http.Client
	transport *http.Transport
	apiBase   string
	tokenURL  string
	userAgent string
	logger    *slog.Logger
	// clientSecret is the OAuth app's client secret: never shown, even when Zoom echoes it.
	clientSecret string
}

var (
	_ destination.Provisioner = (*Provisioner)(nil)
	_ destination.Identifier  = (*Provisioner)(nil)
	_ destination.Cleaner     = (*Provisioner)(nil)
)

// New returns the Zoom provisioner. It has no side effects. Unless opts.AllowPrivate, every
// connection is checked when it is dialled and refused if it goes to a loopback, private,
// link-local or metadata address (the endpoints may be overridden in the server configuration).
// Redirects are not followed: Zoom's API does not redirect, and following one could lead
// anywhere with our token.
func New(opts destination.Options) *Provisioner {
	hc := destination.NewHTTPClient(opts, destination.HTTPClientConfig{ResponseHeaderTimeout: requestTimeout})
	app := opts.App(Integration())
	return &Provisioner{
		client:       hc.Client,
		transport:    hc.Transport,
		apiBase:      strings.TrimRight(app.APIBase, "/"),
		tokenURL:     app.TokenURL,
		userAgent:    opts.UserAgentOr(DefaultUserAgent),
		logger:       opts.LoggerOrDiscard(),
		clientSecret: app.ClientSecret,
	}
}

// Cleanup closes the idle connections when the server stops.
func (p *Provisioner) Cleanup() { p.transport.CloseIdleConnections() }

// Provision decodes a connection value once and returns its sender.
func (p *Provisioner) Provision(_ context.Context, pr destination.Provision) (destination.Sender, error) {
	if pr.Connection == nil {
		return nil, &switchyard.Error{Code: switchyard.EINVALID, Message: "Zoom: no connection to provision."}
	}
	c, errs := parseConfig(pr.Connection.Metadata)
	if len(errs) > 0 {
		return nil, &switchyard.Error{Code: switchyard.EINVALID, Message: "The Zoom configuration is invalid.", Fields: errs}
	}
	s := &sender{p: p, c: c, conn: pr.Connection, questions: newQuestionCache()}
	switch {
	case c.serverToServer():
		s.tokens = NewAccountTokens(p.client, p.tokenURL, c.AccountID, c.ClientID, c.ClientSecret)
		s.scope = AccountScope(c.AccountID)
		s.secrets = []string{c.ClientSecret}
	case pr.Tokens != nil:
		s.tokens = pr.Tokens
		s.scope = scopeOf(pr.Account)
	default:
		s.tokens = destination.NoCredentials{}
	}
	if s.scope == "" {
		// Unknown account: space this connection's own calls at the account's rate.
		s.scope = Type + ":connection:" + pr.Connection.ID.String()
	}
	return s, nil
}

// AccountScope is the rate-limit scope and account name of a Zoom account: "zoom:account:<id>".
func AccountScope(accountID string) string { return Type + ":account:" + accountID }

// scopeOf turns Provision.Account (what Identify answered, "zoom:account:<id>") into a scope;
// a bare account ID is accepted too.
func scopeOf(account string) string {
	switch {
	case account == "":
		return ""
	case strings.HasPrefix(account, Type+":"):
		return account
	}
	return AccountScope(account)
}

// Identify names the Zoom account tok belongs to, "zoom:account:<account_id>", from GET
// /users/me (Light).
func (p *Provisioner) Identify(ctx context.Context, tok *oauth2.Token) (string, error) {
	if tok == nil || tok.AccessToken == "" {
		return "", errors.New("zoom: no access token to identify")
	}
	me, res := p.me(ctx, destination.StaticTokens{AccessToken: tok.AccessToken}, []string{tok.AccessToken})
	if res != nil {
		return "", fmt.Errorf("zoom: identifying the account with GET /users/me failed (%s, HTTP %d): %s", res.Outcome, res.HTTPStatus, res.Message)
	}
	return AccountScope(me.AccountID), nil
}

// user is what the integration reads of GET /users/me.
type user struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	AccountID string `json:"account_id"`
}

// me calls GET /users/me. On failure it returns the classified result instead.
func (p *Provisioner) me(ctx context.Context, tokens destination.Tokens, secrets []string) (*user, *destination.Result) {
	var u user
	if res := p.getJSON(ctx, tokens, "/users/me", nil, &u, secrets); res != nil {
		return nil, res
	}
	if u.AccountID == "" {
		return nil, &destination.Result{Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: http.StatusOK,
			Message: "Zoom answered GET /users/me without an account_id"}
	}
	return &u, nil
}

// answer is a 2xx answer: its body, and its result (delivered, with its status and excerpt,
// free of secrets).
type answer struct {
	body []byte
	res  destination.Result
}

// call makes one authorized API call (refreshing the token once on a 401) and returns the 2xx
// answer, or the result the call came to otherwise: Zoom's refusal classified (RateLimitScope
// scope on rate_limited), a transport failure, a token problem. Every token used (access and
// refresh), secrets and the app's client secret are kept out of the result.
func (p *Provisioner) call(ctx context.Context, tokens destination.Tokens, method, path string, query url.Values, body []byte,
	scope string, secrets []string) (*answer, *destination.Result) {
	target, err := url.Parse(p.apiBase + path)
	if err != nil {
		return nil, &destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: "the Zoom API base URL is invalid"}
	}
	if len(query) > 0 {
		target.RawQuery = query.Encode()
	}
	c := &destination.Caller{Client: p.client, Tokens: tokens, Rules: rules, Refine: refine, Scope: scope,
		Secrets: append(secrets[:len(secrets):len(secrets)], p.clientSecret), Timeout: requestTimeout, UserAgent: p.userAgent, MaxBody: maxBody}
	call := destination.Call{Method: method, URL: target.String()}
	if body != nil {
		call.Body = json.RawMessage(body)
	}
	a, res := c.Send(ctx, call)
	if res != nil {
		return nil, res
	}
	return &answer{body: a.Body, res: c.Delivered()}, nil
}

// maxBody bounds the answers read whole (listings of 300 meetings stay far below it).
const maxBody = 4 << 20

// getJSON makes an authorized GET and decodes a 2xx answer into v; any other answer is
// classified.
func (p *Provisioner) getJSON(ctx context.Context, tokens destination.Tokens, path string, query url.Values, v any,
	secrets []string) *destination.Result {
	a, res := p.call(ctx, tokens, http.MethodGet, path, query, nil, "", secrets)
	if res != nil {
		return res
	}
	return decode(a, path, v)
}
