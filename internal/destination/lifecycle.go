package destination

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// The life of an integration follows Caddy's module lifecycle:
//
//  1. Integration.New builds the integration's server-wide part once per server: a Provisioner
//     holding what all its connections share (an HTTP transport, the provider's endpoints and
//     app credentials from the server configuration). It has no side effects.
//  2. Provisioner.Provision decodes one stored connection value — metadata normalised by the
//     schema, secrets opened — into the integration's typed config, once, and returns a Sender
//     for it (clients, token source, cached lookups). Nothing is parsed per attempt.
//  3. The Sender delivers every attempt for that connection value. When the stored value changes
//     (or the connection goes away) the engine drops it, calling Cleanup if it has one.
//
// Capabilities are optional interfaces a Sender may implement; the engine and the API check for
// them, never for a type string: ActionDataSource, FieldCatalogSource, DefaultMapper, Tester,
// Cleaner.

// Provisioner is an integration's server-wide part.
type Provisioner interface {
	// Provision builds the sender of one connection value. It may refuse metadata it cannot
	// use (a *switchyard.Error with field errors), but must not make network calls: a Tester's
	// Test is where a connection is tried.
	Provision(ctx context.Context, p Provision) (Sender, error)
}

// Provision is what a connection value gives its sender.
type Provision struct {
	// Connection's Metadata is normalised (defaults filled, choices canonical) and has its secret
	// fields opened; the sender may keep it, read-only.
	Connection *switchyard.Connection
	// Tokens is the connection's managed OAuth credential, for integrations that declare OAuth
	// and connections created through the OAuth flow; nil otherwise (a connection with a pasted
	// credential builds its own, e.g. StaticTokens). Each Token's Extra holds the token
	// response's other fields (Salesforce's instance_url).
	Tokens Tokens
	// Account is the provider account the managed credential belongs to, as the provisioner's
	// Identifier named it when the OAuth flow completed ("" when unknown). It scopes rate limits
	// shared by every connection to one account.
	Account string
}

// Identifier is a provisioner that can name the provider account an access token belongs to
// (HubSpot's portal, Zoom's account, Intercom's workspace). The OAuth callback calls it once
// the code is exchanged — which also proves the token works, the OAuth connection's test call —
// and stores the answer with the credential.
type Identifier interface {
	Identify(ctx context.Context, tok *oauth2.Token) (account string, err error)
}

// Sender delivers for one connection value. Deliver must honour ctx's deadline, must not sleep
// or retry (beyond the one refresh-and-retry of an expired OAuth token), and must classify every
// failure into an outcome code.
type Sender interface {
	Deliver(ctx context.Context, req *Request) Result
}

// ActionDataSource is a sender that loads live action data from the connected account (lists,
// properties with their options, tags, campaigns, meetings …) for GET /connections/{id}/actions.
// The answer is keyed by action, each holding arrays of selectable items, e.g.
// {"add_to_list": {"lists": [{"id": "5", "name": "Customers"}]}}.
type ActionDataSource interface {
	ActionData(ctx context.Context) (map[string]any, error)
}

// FieldCatalogSource is a sender that can list the destination fields a mapping may write, for
// GET /connections/{id}/fields (the API caches the answer; refresh=true reloads it).
type FieldCatalogSource interface {
	FieldCatalog(ctx context.Context) ([]CatalogField, error)
}

// Tester is a sender that can try its connection with one harmless call (the "test call" when
// a connection is saved): nil means the credentials and settings work. A failure should be a
// *switchyard.Error naming what to fix.
type Tester interface {
	Test(ctx context.Context) error
}

// Previewer is a sender that can say what request it would send for req without sending it:
// the dry run of a rule's test. Secret values (credentials, signatures) are masked with
// MaskedValue. An integration that makes several calls previews the one that carries the
// action.
type Previewer interface {
	Preview(ctx context.Context, req *Request) (*PreviewRequest, error)
}

// PreviewRequest is a request a sender would send.
type PreviewRequest struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Header map[string][]string `json:"headers"`
	// Body is the body as sent: JSON as it is, anything else as a JSON string.
	Body json.RawMessage `json:"body,omitempty"`
}

// Cleaner is a sender that holds something to release (idle connections, goroutines) when its
// connection value is dropped, or a provisioner that does when the server stops.
type Cleaner interface {
	Cleanup()
}

// CatalogField is one destination field of a field catalog (the Meshes FieldCatalog's fields).
type CatalogField struct {
	Key         string            `json:"key"`
	Label       string            `json:"label,omitempty"`
	Type        string            `json:"type"` // string, number, boolean, date, datetime, enum, multi_enum, json, object, array, unknown
	Description string            `json:"description,omitempty"`
	Constraints *FieldConstraints `json:"constraints,omitempty"`
	// ProviderMeta is what the provider says of the field that the other keys do not carry.
	ProviderMeta map[string]any `json:"provider_meta,omitempty"`
}

// FieldConstraints are a catalog field's documented constraints.
type FieldConstraints struct {
	Format        string   `json:"format,omitempty"` // email, phone, url, uuid, date, datetime, unknown
	Required      bool     `json:"required,omitempty"`
	ReadOnly      bool     `json:"read_only,omitempty"`
	MaxLength     int      `json:"max_length,omitempty"`
	AllowedValues []string `json:"allowed_values,omitempty"`
}

// Tokens is a connection's managed OAuth credential. Implementations refresh ahead of expiry,
// once per connection at a time across every node (compare-and-swap in the store), and never
// use up a delivery attempt doing so.
type Tokens interface {
	// Token returns a valid access token, refreshing it first when it expires soon.
	Token(ctx context.Context) (*oauth2.Token, error)
	// Refresh is called after the provider refused stale with a 401: it returns a newer token
	// (refreshing unless another caller already has).
	Refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error)
}

// The errors a Tokens returns that are not passing failures.
var (
	// ErrGrantRevoked: the provider answered invalid_grant to a refresh; the customer revoked
	// the app or the grant expired. The connection is deactivated
	// (oauth_authorization_revoked) until the OAuth flow is run again.
	ErrGrantRevoked = errors.New("the OAuth grant was revoked or has expired")
	// ErrNoCredentials: the connection has no stored credential (it was never authorized).
	ErrNoCredentials = errors.New("the connection has no OAuth credential: run the OAuth flow")
)

// TokenResult turns a Tokens error into the attempt's result: a revoked grant deactivates the
// connection; any other failure to get a token is Switchyard's side (an internal error, retried
// later without using up an attempt).
func TokenResult(err error) Result {
	switch {
	case errors.Is(err, ErrGrantRevoked):
		return Result{Outcome: switchyard.OutcomeAuthFailed, Message: "The OAuth authorization was revoked: connect the account again.",
			Deactivate: switchyard.InactiveOAuthAuthorizationRevoked}
	case errors.Is(err, ErrNoCredentials):
		return Result{Outcome: switchyard.OutcomeAuthFailed, Message: "The connection was never authorized: connect the account.",
			Deactivate: switchyard.InactiveOAuthReauthorizationNeeded}
	}
	return Result{Outcome: switchyard.OutcomeInternalError, Message: "Could not refresh the OAuth token: " + err.Error()}
}

// OAuthSpec declares an integration's OAuth 2.0 provider: facts from its documentation, each
// overridable in the server configuration (sandboxes, EU data centres, tests).
type OAuthSpec struct {
	// AuthURL and TokenURL are the provider's authorization and token endpoints.
	AuthURL  string
	TokenURL string
	// Scopes are requested by default.
	Scopes []string
	// PKCE: send an S256 code challenge (the provider supports it).
	PKCE bool
	// AuthStyle says where the client credentials go at the token endpoint.
	AuthStyle oauth2.AuthStyle
	// ExtraAuthParams are added to the authorization URL (e.g. prompt=consent).
	ExtraAuthParams map[string]string
	// RevokedErrors are what the provider's token endpoint says, besides the standard
	// invalid_grant, when a refresh token is revoked or expired (HubSpot's BAD_REFRESH_TOKEN):
	// text found in its error body. Such a refusal deactivates the connection.
	RevokedErrors []string
	// PasteFields are the metadata fields of the integration's alternative to the OAuth flow:
	// a credential the customer pastes (HubSpot's private-app token, Intercom's access token,
	// Zoom's Server-to-Server account credentials). A connection created with POST
	// /connections must set the first of them; one created by the OAuth flow sets none.
	PasteFields []string
}

// OAuthApp is a provider app's credentials and endpoints as this server is configured with them.
type OAuthApp struct {
	ClientID     string
	ClientSecret string
	Scopes       []string
	AuthURL      string
	TokenURL     string
	// APIBase overrides the integration's API base URL ("" keeps the documented one).
	APIBase string
	// RateLimit, when set, replaces the per-account rate the integration's senders declare
	// (destination.RateLimited): attempts per second per provider account, 0 for no spacing —
	// for accounts with higher limits than the documented default, and for load tests.
	RateLimit *float64
}

// Configured reports whether the app has credentials.
func (a OAuthApp) Configured() bool { return a.ClientID != "" && a.ClientSecret != "" }

// Config is the golang.org/x/oauth2 configuration of the app, redirecting to redirectURL.
func (a OAuthApp) Config(spec *OAuthSpec, redirectURL string) *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if spec != nil {
		style = spec.AuthStyle
	}
	return &oauth2.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, Scopes: a.Scopes, RedirectURL: redirectURL,
		Endpoint: oauth2.Endpoint{AuthURL: a.AuthURL, TokenURL: a.TokenURL, AuthStyle: style}}
}

// RefreshAhead is how long before its expiry an access token is refreshed.
const RefreshAhead = 2 * time.Minute

// TestConnection provisions a sender for a connection about to be saved (p.Connection's
// metadata normalised, secrets in the clear) and runs its test call, if it has one: what the API
// does before it stores a connection. The sender and the provisioner built for the test are
// cleaned up afterwards.
func TestConnection(ctx context.Context, in *Integration, opts Options, p Provision) error {
	prov := in.New(opts)
	if c, ok := prov.(Cleaner); ok {
		defer c.Cleanup()
	}
	s, err := prov.Provision(ctx, p)
	if err != nil {
		return err
	}
	if c, ok := s.(Cleaner); ok {
		defer c.Cleanup()
	}
	if t, ok := s.(Tester); ok {
		return t.Test(ctx)
	}
	return nil
}

// PastedCredential reports whether a connection's metadata carries the integration's pasted
// credential (OAuthSpec.PasteFields), which replaces the managed OAuth one.
func (i *Integration) PastedCredential(meta map[string]any) bool {
	if i.OAuth == nil {
		return false
	}
	for _, k := range i.OAuth.PasteFields {
		if v, ok := meta[k]; ok && v != nil && v != "" {
			return true
		}
	}
	return false
}
