package zoom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/switchyardhq/switchyard/internal/destination"
)

// tokenTimeout bounds one request to the token endpoint. The request is not tied to the
// caller's context (it is shared by every caller waiting for it), so it needs its own bound.
const tokenTimeout = 30 * time.Second

// ErrCredentialsRefused wraps destination.ErrGrantRevoked when Zoom's token endpoint refuses a
// Server-to-Server credential for good (invalid_client, an unknown account ID, an app that is
// not a Server-to-Server app): asking again will not help until the customer saves a valid one.
var ErrCredentialsRefused = fmt.Errorf("zoom: the Server-to-Server credential was refused: %w", destination.ErrGrantRevoked)

// AccountTokens is the destination.Tokens of a pasted Server-to-Server OAuth credential
// ("Server-to-Server OAuth" in Zoom's documentation): it asks the token endpoint for an access
// token with grant_type=account_credentials and the account ID, the client credentials in HTTP
// Basic. Zoom gives no refresh token; a new access token is requested the same way. The token is
// cached until destination.RefreshAhead before it expires, and concurrent callers share one
// request. It is safe for concurrent use.
type AccountTokens struct {
	client       *http.Client
	tokenURL     string
	accountID    string
	clientID     string
	clientSecret string
	now          func() time.Time

	mu  sync.Mutex
	tok *oauth2.Token
	sf  singleflight.Group
}

var _ destination.Tokens = (*AccountTokens)(nil)

// NewAccountTokens returns the token source of a Server-to-Server credential, requesting tokens
// from tokenURL (https://zoom.us/oauth/token, or a test server) with client.
func NewAccountTokens(client *http.Client, tokenURL, accountID, clientID, clientSecret string) *AccountTokens {
	return &AccountTokens{client: client, tokenURL: tokenURL, accountID: accountID, clientID: clientID,
		clientSecret: clientSecret, now: time.Now}
}

// Token returns the cached access token, or a new one when it expires within
// destination.RefreshAhead.
func (a *AccountTokens) Token(ctx context.Context) (*oauth2.Token, error) {
	a.mu.Lock()
	tok := a.tok
	a.mu.Unlock()
	if a.fresh(tok) {
		return tok, nil
	}
	return a.fetch(ctx)
}

// Refresh returns a token other than stale: the cached one if another caller already replaced
// stale, a new one otherwise.
func (a *AccountTokens) Refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	a.mu.Lock()
	tok := a.tok
	if tok != nil && stale != nil && tok.AccessToken == stale.AccessToken {
		a.tok = nil // refused by Zoom: never hand it out again
		tok = nil
	}
	a.mu.Unlock()
	if a.fresh(tok) {
		return tok, nil
	}
	return a.fetch(ctx)
}

func (a *AccountTokens) fresh(tok *oauth2.Token) bool {
	return tok != nil && tok.AccessToken != "" && (tok.Expiry.IsZero() || a.now().Add(destination.RefreshAhead).Before(tok.Expiry))
}

// fetch requests a new token once for every caller waiting at the time. The request runs on
// its own deadline so that one caller giving up does not fail the others; each caller still
// stops waiting when its own context ends.
func (a *AccountTokens) fetch(ctx context.Context) (*oauth2.Token, error) {
	ch := a.sf.DoChan("token", func() (any, error) {
		// A caller that found no fresh token just before another caller's request finished
		// arrives after that flight: the token it stored is the answer.
		a.mu.Lock()
		tok := a.tok
		a.mu.Unlock()
		if a.fresh(tok) {
			return tok, nil
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenTimeout)
		defer cancel()
		tok, err := a.request(rctx)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		a.tok = tok
		a.mu.Unlock()
		return tok, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*oauth2.Token), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// tokenBody is the token endpoint's answer, success or error.
type tokenBody struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	APIURL      string `json:"api_url"`
	Error       string `json:"error"`
	Reason      string `json:"reason"`
}

func (a *AccountTokens) request(ctx context.Context) (*oauth2.Token, error) {
	form := url.Values{"grant_type": {"account_credentials"}, "account_id": {a.accountID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, errors.New("zoom: invalid token URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(a.clientID, a.clientSecret)
	resp, err := a.client.Do(req)
	if err != nil {
		u, _ := url.Parse(a.tokenURL)
		if u == nil {
			u = &url.URL{}
		}
		return nil, fmt.Errorf("zoom: token request failed: %s", destination.TransportMessage(err, u))
	}
	body, _ := destination.ReadBody(resp, 64<<10)
	var tb tokenBody
	_ = json.Unmarshal(body, &tb)
	secrets := []string{a.clientSecret}
	if resp.StatusCode == http.StatusOK && tb.AccessToken != "" {
		tok := &oauth2.Token{AccessToken: tb.AccessToken, TokenType: "Bearer"}
		if tb.ExpiresIn > 0 {
			tok.Expiry = a.now().Add(time.Duration(tb.ExpiresIn) * time.Second)
		}
		return tok.WithExtra(map[string]any{"scope": tb.Scope, "api_url": tb.APIURL}), nil
	}
	reason := destination.Redact(strings.TrimSpace(tb.Error+" "+tb.Reason), secrets)
	if reason == "" {
		reason = "no explanation"
	}
	msg := fmt.Sprintf("Zoom's token endpoint answered %s (%s)", destination.StatusMessage(resp.StatusCode), reason)
	switch {
	case resp.StatusCode == http.StatusUnauthorized, tb.Error == "invalid_client", tb.Error == "unsupported_grant_type",
		resp.StatusCode == http.StatusBadRequest && tb.Error == "invalid_request":
		// Wrong client credentials, an account ID not the app's, or not a Server-to-Server app.
		return nil, fmt.Errorf("%s: %w", msg, ErrCredentialsRefused)
	}
	return nil, errors.New(msg)
}
