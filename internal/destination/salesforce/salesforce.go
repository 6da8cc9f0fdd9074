// Package salesforce is the Salesforce destination (type "salesforce"): it adds the person an
// event is about to a Campaign, removes them from one, or sets a picklist field on their
// Contact, through the Salesforce REST API of the org the customer connected with OAuth 2.0.
// docs/integrations/salesforce.md is its user guide.
//
// The person is the Contact whose Email equals the event's email (Request.Fields["email"], else
// the payload's top-level "email"), found with a SOQL query and, for add_to_campaign and
// update_property, created when there is none. The mapped fields (keys from FieldCatalog: the
// Contact's field API names in lower case) are written when the Contact is created.
//
// Action data (GET /connections/{id}/actions):
//
//	{"add_to_campaign":      {"campaigns":  [{"id": "701…", "name": "Spring webinar"}]},
//	 "remove_from_campaign": {"campaigns":  [{"id": "701…", "name": "Spring webinar"}]},
//	 "update_property":      {"properties": [{"id": "LeadSource", "name": "Lead Source",
//	                                          "options": [{"label": "Web", "value": "Web"}]}]}}
//
// campaigns are the org's active Campaigns; properties are the Contact's updateable picklist
// fields with their active values.
//
// Every API call goes to the org's own instance: the token response's instance_url, never a
// fixed host. Salesforce documents a daily API request allowance per org rather than a request
// rate, so the rate-limit scope is the org ("salesforce:org:<orgId>") and a
// REQUEST_LIMIT_EXCEEDED answer pauses it for a long while (see RetryAfterLimitExceeded).
package salesforce

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Type is the integration type string of Salesforce connections.
const Type = "salesforce"

// The rule actions.
const (
	ActionAddToCampaign      = "add_to_campaign"
	ActionRemoveFromCampaign = "remove_from_campaign"
	ActionUpdateProperty     = "update_property"
)

// The rule metadata keys the actions use.
const (
	ParamID    = "id"
	ParamValue = "value"
)

// KeyMemberStatus is the optional connection-metadata key naming the Status given to new
// campaign members ("" leaves the campaign's default member status).
const KeyMemberStatus = "member_status"

// Documented endpoints. The login host is login.salesforce.com for production orgs and
// test.salesforce.com for sandboxes: a server that connects sandboxes overrides AuthURL and
// TokenURL (Options.Apps).
const (
	AuthURL  = "https://login.salesforce.com/services/oauth2/authorize"
	TokenURL = "https://login.salesforce.com/services/oauth2/token"
)

// APIVersion is the REST API version every call uses (Spring '24).
const APIVersion = "v60.0"

// DefaultUserAgent is sent when the server configures none.
const DefaultUserAgent = "Switchyard-Salesforce/1"

// callTimeout bounds one attempt (all of its API calls) when the engine's context allows more.
const callTimeout = 30 * time.Second

// Rate limiting. Salesforce counts API requests per org over a rolling 24 hours and documents no
// per-second rate; the engine still needs one to space the deliveries of an org's connections.
// The pace below is Switchyard's own ceiling, not Salesforce's: it stops a backlog from burning
// through a day's allowance in minutes, and is far above what an org's allowance sustains over a
// day anyway.
const (
	// RequestsPerSecond and Burst are what RateLimit reports.
	RequestsPerSecond = 10
	Burst             = 25
	// RetryAfterLimitExceeded is the pause after REQUEST_LIMIT_EXCEEDED for the org's total
	// (daily) allowance: the rolling window frees requests as the oldest calls age out of it.
	RetryAfterLimitExceeded = time.Hour
	// RetryAfterConcurrentLimit is the pause after REQUEST_LIMIT_EXCEEDED for the concurrent
	// long-running request limit, which frees as soon as those requests finish.
	RetryAfterConcurrentLimit = time.Minute
)

// Integration declares the Salesforce integration. Each call returns a new value.
func Integration() *destination.Integration {
	return &destination.Integration{
		Type:         Type,
		Name:         "Salesforce",
		AuthType:     destination.AuthOAuth,
		OAuthVersion: 2,
		OAuth: &destination.OAuthSpec{
			AuthURL:  AuthURL,
			TokenURL: TokenURL,
			// api: the REST API; refresh_token: a refresh token, so that the connection keeps
			// working after the session times out.
			Scopes:    []string{"api", "refresh_token"},
			PKCE:      true,
			AuthStyle: oauth2.AuthStyleInParams,
			// No PasteFields: Salesforce has no long-lived token a customer could paste.
		},
		// No fixed API host: every org has its own instance (the token's instance_url). A
		// server may still set one (Options.Apps), which then replaces every instance_url.
		APIBase: "",
		Mapped:  true,
		Fields: []destination.Field{{
			Key: KeyMemberStatus, Label: "Campaign member status", Type: destination.FieldText,
			HelpText: "Status of the campaign members Switchyard adds, e.g. Sent or Responded. Empty: the campaign's default status.",
		}},
		Actions: []destination.Action{
			{Key: ActionAddToCampaign, Label: "Add to campaign", Noun: "Campaign", Fields: []string{ParamID},
				Data: []destination.ActionInput{destination.Pick("campaigns", ParamID, "Campaign", "Campaign")},
				Display: &destination.Display{Label: "Add to campaign",
					Description: "Find the Contact by email (or create it) and add it to a Salesforce campaign."}},
			{Key: ActionRemoveFromCampaign, Label: "Remove from campaign", Noun: "Campaign", Fields: []string{ParamID},
				Data: []destination.ActionInput{destination.Pick("campaigns", ParamID, "Campaign", "Campaign")},
				Display: &destination.Display{Label: "Remove from campaign",
					Description: "Remove the Contact with the event's email from a Salesforce campaign."}},
			{Key: ActionUpdateProperty, Label: "Update property", Noun: "Property", Fields: []string{ParamID, ParamValue},
				Data: []destination.ActionInput{destination.PickWithOption("properties", ParamID, "Picklist field", "Field", "options", ParamValue, "Value")},
				Display: &destination.Display{Label: "Update property",
					Description: "Set a picklist field of the Contact with the event's email (creating the Contact if needed)."}},
		},
		New: func(opts destination.Options) destination.Provisioner { return New(opts) },
	}
}

// Provisioner is the server-wide part of the integration: one HTTP client shared by every
// Salesforce connection, and the app's endpoints. It is safe for concurrent use.
type Provisioner struct {
	http         *destination.HTTPClient
	app          destination.OAuthApp
	allowPrivate bool
	userAgent    string
	logger       *slog.Logger
}

var (
	_ destination.Provisioner = (*Provisioner)(nil)
	_ destination.Identifier  = (*Provisioner)(nil)
	_ destination.Cleaner     = (*Provisioner)(nil)
)

// New returns the provisioner. It has no side effects. Unless opts.AllowPrivate, every
// connection is checked when it is dialled and refused if it goes to a loopback, private,
// link-local, metadata or other special-purpose address; no proxy is used; redirects are not
// followed (an API that redirects is not where the integration thinks it is).
func New(opts destination.Options) *Provisioner {
	return &Provisioner{
		// Ports 80 and 443 only: Salesforce instances.
		http:         destination.NewHTTPClient(opts, destination.HTTPClientConfig{ResponseHeaderTimeout: callTimeout}),
		app:          opts.App(Integration()),
		allowPrivate: opts.AllowPrivate,
		userAgent:    opts.UserAgentOr(DefaultUserAgent),
		logger:       opts.LoggerOrDiscard(),
	}
}

// Cleanup closes idle keep-alive connections.
func (p *Provisioner) Cleanup() { p.http.Cleanup() }

// Identify names the org an access token belongs to: "salesforce:org:<orgId>", the org id taken
// from the token response's identity URL ("id": https://login.salesforce.com/id/<orgId>/<userId>).
// It also proves the token works with one cheap call (the Contact's basic information), which
// fails if the token lacks the api scope or the user cannot read Contacts.
func (p *Provisioner) Identify(ctx context.Context, tok *oauth2.Token) (string, error) {
	if tok == nil || tok.AccessToken == "" {
		return "", errors.New("salesforce: no access token")
	}
	org, err := orgID(tok)
	if err != nil {
		return "", err
	}
	base, err := p.instanceBase(tok)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/services/data/"+APIVersion+"/sobjects/Contact", nil)
	if err != nil {
		return "", errors.New("salesforce: cannot build the identify request")
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", p.userAgent)
	resp, err := p.http.Client.Do(req)
	if err != nil {
		u, _ := url.Parse(base)
		return "", errors.New("salesforce: " + destination.ClassifyTransportError(ctx, err, callTimeout, u).Message)
	}
	body, _ := destination.ReadBody(resp, 1<<20)
	if resp.StatusCode != http.StatusOK {
		res := destination.Classify(resp.StatusCode, resp.Header, body, baseRules(), time.Now())
		return "", errors.New("salesforce: " + redact(res.Message, tok, p.app.ClientSecret))
	}
	return AccountPrefix + org, nil
}

// AccountPrefix prefixes the org id in Identify's answer and in the rate-limit scope.
const AccountPrefix = "salesforce:org:"

// orgID reads the org id from the token's identity URL (…/id/<orgId>/<userId>).
func orgID(tok *oauth2.Token) (string, error) {
	id, _ := tok.Extra("id").(string)
	u, err := url.Parse(id)
	if id == "" || err != nil {
		return "", errors.New("salesforce: the token response has no identity URL (id)")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 3 || parts[len(parts)-3] != "id" || !validID(parts[len(parts)-2]) {
		return "", errors.New("salesforce: the identity URL does not name an org")
	}
	return parts[len(parts)-2], nil
}

// instanceBase is where the API calls of tok go: the server's API base override, else the
// token's instance_url (scheme and host only). Unless private destinations are allowed, it must
// be https.
func (p *Provisioner) instanceBase(tok *oauth2.Token) (string, error) {
	raw := p.app.APIBase
	if raw == "" && tok != nil {
		raw, _ = tok.Extra("instance_url").(string)
	}
	return p.checkBase(raw)
}

func (p *Provisioner) checkBase(raw string) (string, error) {
	if raw == "" {
		return "", errNoInstance
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && !(p.allowPrivate && u.Scheme == "http")) {
		return "", errors.New("salesforce: the instance URL is not an https URL")
	}
	return u.Scheme + "://" + u.Host, nil
}

var errNoInstance = errors.New("salesforce: the token has no instance_url")

// validID reports whether s looks like a Salesforce record id: 15 or 18 letters and digits.
func validID(s string) bool {
	if len(s) != 15 && len(s) != 18 {
		return false
	}
	for n := 0; n < len(s); n++ {
		c := s[n]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// redact masks the token's secrets and the client secret in s.
func redact(s string, tok *oauth2.Token, more ...string) string {
	secrets := more
	if tok != nil {
		secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
	}
	return destination.Redact(s, secrets)
}

// configError is a *switchyard.Error about connection metadata.
func configError(key, msg string) error {
	return &switchyard.Error{Code: switchyard.EINVALID, Message: "The Salesforce connection is invalid.",
		Fields: []switchyard.FieldError{{Param: destination.ParamPrefix + key, Msg: msg}}}
}
