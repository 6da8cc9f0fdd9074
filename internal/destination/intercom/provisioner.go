package intercom

import (
	"context"
	"net/http"
	"slices"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// DefaultUserAgent is sent when the server configures none.
const DefaultUserAgent = "Switchyard-Intercom/1"

// callTimeout bounds each API call (the attempt's context may bound it more).
const callTimeout = 30 * time.Second

// Provisioner is the Intercom integration's server-wide part (destination.REST: the one HTTP client
// every connection shares and the provider's endpoints). It is safe for concurrent use.
type Provisioner struct {
	destination.REST
}

var (
	_ destination.Provisioner = (*Provisioner)(nil)
	_ destination.Identifier  = (*Provisioner)(nil)
	_ destination.Cleaner     = (*Provisioner)(nil)
)

// New returns the Intercom provisioner. It has no side effects. Its endpoints are
// opts.App(Integration()): the documented ones unless the server configuration overrides them
// (tests point them at a fake). Unless opts.AllowPrivate, connections to loopback, private,
// link-local and metadata addresses are refused when dialled.
func New(opts destination.Options) *Provisioner {
	return &Provisioner{REST: destination.NewREST(opts, Integration(), DefaultUserAgent, callTimeout)}
}

// Provision builds the sender of one connection value: the managed credential when the
// connection was made through OAuth, else the pasted access token. It makes no network call.
func (p *Provisioner) Provision(_ context.Context, pv destination.Provision) (destination.Sender, error) {
	if pv.Connection == nil {
		return nil, &switchyard.Error{Code: switchyard.EINVALID, Message: "Intercom: no connection to provision."}
	}
	s := &Sender{p: p, conn: pv.Connection, secrets: slices.Clone(p.Secrets)}
	cred := destination.BearerCredentials(pv, Type, KeyAccessToken)
	s.tokens, s.scope, s.pasted = cred.Tokens, cred.Scope, cred.Pasted != ""
	if s.pasted {
		s.secrets = append(s.secrets, cred.Pasted)
	}
	return s, nil
}

// Identify names the workspace a token belongs to, "intercom:app:<id_code>", from GET /me.
func (p *Provisioner) Identify(ctx context.Context, tok *oauth2.Token) (string, error) {
	if tok == nil || tok.AccessToken == "" {
		return "", &switchyard.Error{Code: switchyard.EINVALID, Message: "Intercom: no access token to identify."}
	}
	c := p.newCaller(destination.StaticTokens{AccessToken: tok.AccessToken}, "", append(slices.Clone(p.Secrets), tok.AccessToken))
	var me meResponse
	if res := c.call(ctx, http.MethodGet, "/me", nil, nil, &me); res != nil {
		return "", resultError(*res)
	}
	if me.App.IDCode == "" {
		return "", &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "Intercom: GET /me named no workspace (app.id_code)."}
	}
	return AccountPrefix + me.App.IDCode, nil
}

// AccountPrefix prefixes the workspace id in the account Identify returns (and the rate-limit
// scope).
const AccountPrefix = Type + ":app:"

type meResponse struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Email string `json:"email"`
	App   struct {
		IDCode string `json:"id_code"`
		Name   string `json:"name"`
		Region string `json:"region"`
	} `json:"app"`
}

// resultError turns the result of a failed call outside a delivery into an error the API can
// show.
func resultError(res destination.Result) error {
	code := switchyard.EUNPROCESSABLE
	switch res.Outcome {
	case switchyard.OutcomeRateLimited:
		code = switchyard.ERATELIMITED
	case switchyard.OutcomeInternalError:
		code = switchyard.EINTERNAL
	}
	return &switchyard.Error{Code: code, Message: "Intercom: " + res.Message}
}
