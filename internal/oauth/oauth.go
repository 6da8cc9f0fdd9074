// Package oauth is Switchyard's managed OAuth 2.0: it starts authorization-code flows (with PKCE
// where the provider supports it), completes them when the provider redirects the customer back,
// and keeps every connection's access token fresh for its sender — refreshing ahead of expiry
// and on a 401, once per connection across every node that shares the store.
//
// Credentials live in their own table, sealed with the server's encryption key; a refresh never
// moves the routing version, so it flushes no node's caches. docs/oauth.md is the user guide.
package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// StateTTL is how long a started flow may take to come back through the callback.
const StateTTL = 10 * time.Minute

// Service runs OAuth flows and hands out connections' tokens. It is safe for concurrent use.
type Service struct {
	Store        store.Store
	Box          *secret.Box
	Integrations *destination.Registry
	// Options carries the provider apps (Options.Apps) and is passed to integrations.
	Options destination.Options
	// CallbackURL is where providers send the customer back: <public URL>/api/v1/oauth/callback.
	// It must be registered as the redirect URL of every provider app.
	CallbackURL string
	// HTTPClient calls the providers' token endpoints (nil: a client with a 30 s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	provisioners sync.Map // integration type → destination.Provisioner (for Identify)
	tokens       sync.Map // connection id → *connTokens
	flight       singleflight.Group
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ctx returns ctx carrying the client the oauth2 package uses for token requests.
func (s *Service) ctx(ctx context.Context) context.Context {
	c := s.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	return context.WithValue(ctx, oauth2.HTTPClient, c)
}

// Errors of Start and Complete that the API reports to the caller.
var (
	ErrNotOAuth      = errors.New("the integration does not use OAuth")
	ErrNotConfigured = errors.New("the integration's OAuth app is not configured on this server")
	// ErrUnknownState: the state is unknown, already used or expired.
	ErrUnknownState = errors.New("the OAuth state is unknown, already used or expired")
)

// integration returns the OAuth integration of type typ and its app, or an error saying what
// is missing.
func (s *Service) integration(typ string) (*destination.Integration, destination.OAuthApp, error) {
	in, ok := s.Integrations.Get(typ)
	if !ok || in.AuthType != destination.AuthOAuth || in.OAuth == nil {
		return nil, destination.OAuthApp{}, ErrNotOAuth
	}
	app := s.Options.App(in)
	if !app.Configured() {
		return in, app, ErrNotConfigured
	}
	return in, app, nil
}

// AppConfigured reports whether integration typ has its OAuth app configured.
func (s *Service) AppConfigured(typ string) bool {
	_, _, err := s.integration(typ)
	return err == nil
}

// StartParams starts a flow.
type StartParams struct {
	OrganizationID uuid.UUID
	WorkspaceID    uuid.UUID
	Type           string
	// Name is the new connection's name (ignored when re-authorizing).
	Name string
	// RedirectURL is the caller's page the customer is sent back to when the flow ends.
	RedirectURL string
	// ConnectionID, when set, re-authorizes that connection instead of creating one.
	ConnectionID *uuid.UUID
	CreatedBy    string
}

// Started is a flow waiting for the customer's consent.
type Started struct {
	AuthorizationURL string
	State            string
	ExpiresAt        time.Time
}

// Start begins a flow: a single-use state (bound to the workspace and type, stored hashed) and a
// PKCE verifier (stored sealed), and the provider's authorization URL to send the customer to.
func (s *Service) Start(ctx context.Context, p StartParams) (*Started, error) {
	in, app, err := s.integration(p.Type)
	if err != nil {
		return nil, err
	}
	state := randomToken()
	now := s.now().UTC()
	st := &switchyard.OAuthState{StateHash: hashState(state), OrganizationID: p.OrganizationID, WorkspaceID: p.WorkspaceID,
		IntegrationType: in.Type, Name: p.Name, RedirectURL: p.RedirectURL, ConnectionID: p.ConnectionID,
		CreatedBy: p.CreatedBy, CreatedAt: now, ExpiresAt: now.Add(StateTTL)}
	var opts []oauth2.AuthCodeOption
	if in.OAuth.PKCE {
		verifier := oauth2.GenerateVerifier()
		if st.VerifierSealed, err = s.Box.Seal([]byte(verifier)); err != nil {
			return nil, fmt.Errorf("sealing the PKCE verifier: %w", err)
		}
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	for k, v := range in.OAuth.ExtraAuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	if err := s.Store.OAuthStateInsert(ctx, st); err != nil {
		return nil, fmt.Errorf("storing the OAuth state: %w", err)
	}
	authURL := app.Config(in.OAuth, s.CallbackURL).AuthCodeURL(state, opts...)
	return &Started{AuthorizationURL: authURL, State: state, ExpiresAt: st.ExpiresAt}, nil
}

// Completed is where a finished flow sends the customer: the caller's redirect URL with the
// connection id, or with an error code the caller's page can show.
type Completed struct {
	RedirectURL string
	Connection  *switchyard.Connection
}

// Callback errors, as the error query parameter of the redirect (and in the API's answer when
// there is no redirect URL to go to).
const (
	CallbackDenied       = "access_denied"         // the customer (or the provider) refused consent
	CallbackExchange     = "token_exchange_failed" // the provider did not exchange the code
	CallbackIdentify     = "account_check_failed"  // the token did not work for a first call
	CallbackStoreFailure = "server_error"
)

// Complete finishes the flow the state names: it exchanges the code (with the PKCE verifier),
// names the account through the integration's Identifier (the first call with the token, so a
// token that does not work is refused here), and creates the connection — or re-authorizes and
// reactivates the existing one — with its sealed credential. providerError is the error query
// parameter the provider sent instead of a code, if any. The state is spent whatever happens.
func (s *Service) Complete(ctx context.Context, state, code, providerError string) (*Completed, error) {
	st, err := s.Store.OAuthStateTake(ctx, store.OAuthStateTakeParams{StateHash: hashState(state), Now: s.now().UTC()})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnknownState
	} else if err != nil {
		return nil, err
	}
	fail := func(reason string, err error) (*Completed, error) {
		if err != nil {
			s.log().Warn("OAuth flow failed", slog.String("type", st.IntegrationType), slog.String("reason", reason), slog.Any("error", err))
		}
		return &Completed{RedirectURL: withQuery(st.RedirectURL, "error", reason)}, nil
	}
	if providerError != "" || code == "" {
		return fail(CallbackDenied, nil)
	}
	in, app, err := s.integration(st.IntegrationType)
	if err != nil {
		return fail(CallbackExchange, err)
	}
	var opts []oauth2.AuthCodeOption
	if st.VerifierSealed != "" {
		verifier, err := s.Box.Open(st.VerifierSealed)
		if err != nil {
			return fail(CallbackStoreFailure, err)
		}
		opts = append(opts, oauth2.VerifierOption(string(verifier)))
	}
	tok, err := app.Config(in.OAuth, s.CallbackURL).Exchange(s.ctx(ctx), code, opts...)
	if err != nil {
		return fail(CallbackExchange, err)
	}
	s.stampExpiry(tok)
	account, err := s.identify(ctx, in, tok)
	if err != nil {
		return fail(CallbackIdentify, err)
	}
	sealed, err := s.seal(tok, nil)
	if err != nil {
		return fail(CallbackStoreFailure, err)
	}
	now := s.now().UTC()
	params := store.ConnectionAuthorizeParams{OrganizationID: st.OrganizationID, Sealed: sealed, Account: account, Now: now}
	if st.ConnectionID != nil {
		params.ExistingID = *st.ConnectionID
	} else {
		meta, errs := in.ValidateMetadata(map[string]any{}, s.Options)
		if len(errs) > 0 {
			meta = map[string]any{}
		}
		params.Connection = &switchyard.Connection{ID: uuid.Must(uuid.NewV7()), OrganizationID: st.OrganizationID,
			WorkspaceID: st.WorkspaceID, Type: in.Type, Name: st.Name, Metadata: meta, Active: true, CreatedBy: st.CreatedBy,
			CreatedAt: now, UpdatedAt: now}
	}
	conn, err := s.Store.ConnectionAuthorize(ctx, params)
	if err != nil {
		return fail(CallbackStoreFailure, err)
	}
	s.tokens.Delete(conn.ID) // a re-authorized connection starts from its new token
	return &Completed{RedirectURL: withQuery(withQuery(st.RedirectURL, "connection_id", conn.ID.String()), "status", "connected"),
		Connection: conn}, nil
}

// identify names the token's account through the integration's Identifier, if it has one.
func (s *Service) identify(ctx context.Context, in *destination.Integration, tok *oauth2.Token) (string, error) {
	v, ok := s.provisioners.Load(in.Type)
	if !ok {
		v, _ = s.provisioners.LoadOrStore(in.Type, in.New(s.Options))
	}
	id, ok := v.(destination.Identifier)
	if !ok {
		return "", nil
	}
	return id.Identify(ctx, tok)
}

// stampExpiry sets tok's expiry from its expires_in on the service's clock (the oauth2 package
// uses the wall clock), so that every expiry decision is made on one clock.
func (s *Service) stampExpiry(tok *oauth2.Token) {
	if tok.ExpiresIn > 0 {
		tok.Expiry = s.now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
}

// storedToken is a credential's sealed content.
type storedToken struct {
	AccessToken  string         `json:"access_token"`
	RefreshToken string         `json:"refresh_token,omitempty"`
	TokenType    string         `json:"token_type,omitempty"`
	Expiry       time.Time      `json:"expiry,omitzero"`
	Extra        map[string]any `json:"extra,omitempty"`
}

// seal seals tok, keeping the extras of previous that tok does not repeat (a refresh answer
// often omits what the first grant said, like Salesforce's id).
func (s *Service) seal(tok *oauth2.Token, previous map[string]any) (string, error) {
	st := storedToken{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: tok.TokenType,
		Expiry: tok.Expiry, Extra: map[string]any{}}
	for k, v := range previous {
		st.Extra[k] = v
	}
	for _, k := range []string{"instance_url", "id", "scope", "hub_id", "api_url", "signature", "issued_at"} {
		if v := tok.Extra(k); v != nil {
			st.Extra[k] = v
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	return s.Box.Seal(b)
}

// open opens a credential's sealed token.
func (s *Service) open(c *switchyard.Credential) (*oauth2.Token, map[string]any, error) {
	b, err := s.Box.Open(c.Sealed)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the credential: %w", err)
	}
	var st storedToken
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, nil, fmt.Errorf("decoding the credential: %w", err)
	}
	tok := &oauth2.Token{AccessToken: st.AccessToken, RefreshToken: st.RefreshToken, TokenType: st.TokenType, Expiry: st.Expiry}
	return tok.WithExtra(st.Extra), st.Extra, nil
}

// randomToken is 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashState(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// withQuery adds key=value to raw's query.
func withQuery(raw, key, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// revoked reports whether a token endpoint's refusal means the grant is gone for good: the
// standard invalid_grant, or a provider's own word for it (OAuthSpec.RevokedErrors).
func revoked(err error, spec *destination.OAuthSpec) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	if re.ErrorCode == "invalid_grant" {
		return true
	}
	if spec != nil {
		body := string(re.Body)
		for _, marker := range spec.RevokedErrors {
			if strings.Contains(body, marker) {
				return true
			}
		}
	}
	return false
}
