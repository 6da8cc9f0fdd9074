package hubspot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// DefaultUserAgent is sent when the server configures none.
const DefaultUserAgent = "Switchyard-HubSpot/1"

// callTimeout bounds each API call (the attempt's context may bound it more).
const callTimeout = 30 * time.Second

// Provisioner is the HubSpot integration's server-wide part (destination.REST: the one HTTP client
// every connection shares and the provider's endpoints). It is safe for concurrent use.
type Provisioner struct {
	destination.REST
}

var (
	_ destination.Provisioner = (*Provisioner)(nil)
	_ destination.Identifier  = (*Provisioner)(nil)
	_ destination.Cleaner     = (*Provisioner)(nil)
)

// New returns the HubSpot provisioner. It has no side effects. Its endpoints are
// opts.App(Integration()): the documented ones unless the server configuration overrides them
// (tests point them at a fake). Unless opts.AllowPrivate, connections to loopback, private,
// link-local and metadata addresses are refused when dialled.
func New(opts destination.Options) *Provisioner {
	return &Provisioner{REST: destination.NewREST(opts, Integration(), DefaultUserAgent, callTimeout)}
}

// Provision builds the sender of one connection value: the managed credential when the
// connection was made through OAuth, else the pasted private-app token. It makes no network
// call.
func (p *Provisioner) Provision(_ context.Context, pv destination.Provision) (destination.Sender, error) {
	if pv.Connection == nil {
		return nil, &switchyard.Error{Code: switchyard.EINVALID, Message: "HubSpot: no connection to provision."}
	}
	s := &Sender{p: p, conn: pv.Connection, secrets: slices.Clone(p.Secrets)}
	s.members.s = s
	s.creates.s = s
	cred := destination.BearerCredentials(pv, Type, KeyPrivateAppToken)
	s.tokens, s.scope, s.pasted = cred.Tokens, cred.Scope, cred.Pasted != ""
	if s.pasted {
		s.secrets = append(s.secrets, cred.Pasted)
	}
	return s, nil
}

// Identify names the portal a token belongs to, "hubspot:portal:<hub id>". An OAuth access
// token is looked up with GET /oauth/v1/access-tokens/{token} (its hub_id); a private-app token
// ("pat-…"), or a token that endpoint does not know, with GET /account-info/v3/details (its
// portalId).
func (p *Provisioner) Identify(ctx context.Context, tok *oauth2.Token) (string, error) {
	if tok == nil || tok.AccessToken == "" {
		return "", &switchyard.Error{Code: switchyard.EINVALID, Message: "HubSpot: no access token to identify."}
	}
	c := p.newCaller(destination.StaticTokens{AccessToken: tok.AccessToken}, "", append(slices.Clone(p.Secrets), tok.AccessToken))
	if !strings.HasPrefix(tok.AccessToken, "pat-") {
		var info struct {
			HubID json.Number `json:"hub_id"`
		}
		res := c.call(ctx, http.MethodGet, "/oauth/v1/access-tokens/"+url.PathEscape(tok.AccessToken), nil, nil, &info)
		switch {
		case res == nil && info.HubID != "":
			return AccountPrefix + info.HubID.String(), nil
		case res == nil:
			return "", &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "HubSpot: the access token's details name no portal (hub_id)."}
		case res.HTTPStatus != http.StatusNotFound:
			return "", resultError(*res)
		}
	}
	var details struct {
		PortalID json.Number `json:"portalId"`
	}
	if res := c.call(ctx, http.MethodGet, "/account-info/v3/details", nil, nil, &details); res != nil {
		return "", resultError(*res)
	}
	if details.PortalID == "" {
		return "", &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "HubSpot: the account details name no portal (portalId)."}
	}
	if _, err := strconv.ParseInt(details.PortalID.String(), 10, 64); err != nil {
		return "", &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "HubSpot: the account details name no portal (portalId)."}
	}
	return AccountPrefix + details.PortalID.String(), nil
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
	return &switchyard.Error{Code: code, Message: "HubSpot: " + res.Message}
}

// listInfo is what a sender remembers of a list it has checked.
type listInfo struct {
	name           string
	processingType string
	objectTypeID   string
}

// listCache remembers checked lists for the life of a sender.
type listCache struct{ m sync.Map }

func (lc *listCache) get(id string) (listInfo, bool) {
	v, ok := lc.m.Load(id)
	if !ok {
		return listInfo{}, false
	}
	return v.(listInfo), true
}

func (lc *listCache) put(id string, li listInfo) { lc.m.Store(id, li) }
