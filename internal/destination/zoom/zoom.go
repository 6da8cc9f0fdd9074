// Package zoom is the Zoom destination: it registers the people of events for a Zoom
// meeting (add_meeting_registrant) or webinar (add_webinar_registrant) chosen in the rule, with
// the Meetings API's "Add a meeting registrant" and "Add a webinar registrant" calls.
// docs/integrations/zoom.md is its user guide.
//
// # Credentials
//
// A connection is authorized in one of two ways:
//
//   - the OAuth flow of a user-level Zoom app (the managed Provision.Tokens; Zoom rotates the
//     refresh token on every refresh, which the managed Tokens stores);
//   - a pasted Server-to-Server OAuth credential: metadata account_id, client_id and
//     client_secret (secret). The sender then gets its own access tokens from the token
//     endpoint with grant_type=account_credentials (see AccountTokens).
//
// # Rule actions
//
// Both actions take the rule parameter id: the meeting or webinar ID (digits; spaces are
// ignored, so "858 3849 1234" is accepted). The registrant is built from the mapped fields
// (Request.Fields): email (required; the event payload's top-level email when no field is
// mapped), first_name (the email's local part when none is mapped), the other registrant fields
// of the catalog, and custom_questions for mapped fields whose key is the title of one of the
// meeting's custom registration questions. Registering an email that is already registered is
// a success: Zoom returns the existing registration.
//
// # Action data
//
// ActionData answers
//
//	{"add_meeting_registrant": {"meetings": [{"id": "85746065123", "name": "Weekly demo", "start_time": "2026-03-01T17:00:00Z"}]},
//	 "add_webinar_registrant": {"webinars": [{"id": "…", "name": "…", "start_time": "…"}]}}
//
// listing the user's upcoming meetings and webinars whose registration is on
// (settings.approval_type 0 or 1). start_time is "" for recurring meetings without a fixed time.
//
// # Field catalog
//
// The registrant fields of the API (email, first_name, last_name, address, city, country,
// zip, state, phone, industry, org, job_title, purchasing_time_frame,
// role_in_purchase_process, no_of_employees, comments), then the custom questions of the
// upcoming registration-enabled meetings and webinars, keyed by their title.
package zoom

import (
	"strings"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Type is the integration type string of Zoom connections.
const Type = "zoom"

// The rule actions.
const (
	ActionAddMeetingRegistrant = "add_meeting_registrant"
	ActionAddWebinarRegistrant = "add_webinar_registrant"
)

// ParamID is the rule parameter naming the meeting or webinar.
const ParamID = "id"

// Metadata keys of the pasted Server-to-Server OAuth credential.
const (
	KeyAccountID    = "account_id"
	KeyClientID     = "client_id"
	KeyClientSecret = "client_secret"
)

// Zoom's documented endpoints ("OAuth 2.0", "Server-to-Server OAuth", "Using Zoom APIs").
const (
	AuthURL  = "https://zoom.us/oauth/authorize"
	TokenURL = "https://zoom.us/oauth/token"
	APIBase  = "https://api.zoom.us/v2"
)

// DefaultScopes are the classic user-level scopes the actions need: user:read for Identify and
// Test, meeting:read and webinar:read for the action data and field catalog, meeting:write and
// webinar:write to add registrants. Apps built with granular scopes configure theirs in the
// server configuration (docs/integrations/zoom.md lists them).
var DefaultScopes = []string{"meeting:read", "meeting:write", "webinar:read", "webinar:write", "user:read"}

// Integration declares the Zoom integration. Each call returns a new value.
func Integration() *destination.Integration {
	return &destination.Integration{
		Type:         Type,
		Name:         "Zoom",
		AuthType:     destination.AuthOAuth,
		OAuthVersion: 2,
		OAuth: &destination.OAuthSpec{
			AuthURL:  AuthURL,
			TokenURL: TokenURL,
			Scopes:   append([]string(nil), DefaultScopes...),
			PKCE:     true,
			// Zoom's token endpoint takes the client credentials in HTTP Basic only.
			AuthStyle:   oauth2.AuthStyleInHeader,
			PasteFields: []string{KeyAccountID, KeyClientID, KeyClientSecret},
		},
		APIBase: APIBase,
		Mapped:  true,
		Fields: []destination.Field{
			{
				Key: KeyAccountID, Label: "Server-to-Server account ID", Type: destination.FieldText,
				HelpText: "Instead of connecting with OAuth: the Account ID of a Server-to-Server OAuth app (App Credentials page). Set it with client_id and client_secret.",
			},
			{
				Key: KeyClientID, Label: "Server-to-Server client ID", Type: destination.FieldText,
				HelpText: "The Client ID of the same Server-to-Server OAuth app.",
			},
			{
				Key: KeyClientSecret, Label: "Server-to-Server client secret", Type: destination.FieldPassword, Secret: true,
				HelpText: "The Client secret of the same Server-to-Server OAuth app.",
			},
		},
		Actions: []destination.Action{
			{
				Key: ActionAddMeetingRegistrant, Label: "Add Meeting Registrant", Noun: "Meeting", Fields: []string{ParamID},
				Data: []destination.ActionInput{destination.Pick("meetings", ParamID, "Meeting", "Meeting")},
				Display: &destination.Display{Label: "Add Meeting Registrant",
					Description: "Register the person for a Zoom meeting that has registration turned on."},
			},
			{
				Key: ActionAddWebinarRegistrant, Label: "Add Webinar Registrant", Noun: "Webinar", Fields: []string{ParamID},
				Data: []destination.ActionInput{destination.Pick("webinars", ParamID, "Webinar", "Webinar")},
				Display: &destination.Display{Label: "Add Webinar Registrant",
					Description: "Register the person for a Zoom webinar that has registration turned on."},
			},
		},
		Check: check,
		New:   func(opts destination.Options) destination.Provisioner { return New(opts) },
	}
}

// config is a connection value's typed configuration.
type config struct {
	// AccountID, ClientID and ClientSecret are the pasted Server-to-Server credential; all
	// empty for a connection authorized with the OAuth flow.
	AccountID    string
	ClientID     string
	ClientSecret string
}

// serverToServer reports whether the connection uses a pasted Server-to-Server credential.
func (c *config) serverToServer() bool { return c.AccountID != "" }

// parseConfig reads normalised metadata. The three credential fields go together: some but not
// all of them is an error naming each one missing.
func parseConfig(meta map[string]any) (*config, []switchyard.FieldError) {
	str := func(k string) string {
		s, _ := meta[k].(string)
		return strings.TrimSpace(s)
	}
	c := &config{AccountID: str(KeyAccountID), ClientID: str(KeyClientID), ClientSecret: str(KeyClientSecret)}
	if c.AccountID == "" && c.ClientID == "" && c.ClientSecret == "" {
		return c, nil
	}
	var errs []switchyard.FieldError
	for _, kv := range []struct{ key, val string }{{KeyAccountID, c.AccountID}, {KeyClientID, c.ClientID}, {KeyClientSecret, c.ClientSecret}} {
		if kv.val == "" {
			errs = append(errs, switchyard.FieldError{Param: destination.ParamPrefix + kv.key,
				Msg: "is required with a Server-to-Server credential (account_id, client_id and client_secret go together)"})
		}
	}
	return c, errs
}

func check(meta map[string]any, _ destination.Options) []switchyard.FieldError {
	_, errs := parseConfig(meta)
	return errs
}
