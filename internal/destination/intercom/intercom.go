// Package intercom is the Intercom destination (type "intercom"): it tags and untags Intercom
// contacts, finding the contact by email (or by external_id when the mapping carries one) or
// creating it, and writing the mapped fields to it. docs/integrations/intercom.md is its user
// guide.
//
// # Authentication
//
// A connection is made through Intercom's OAuth flow (the engine's managed Tokens), or with an
// access token the customer pastes (metadata access_token, a private app's token), used as
// destination.StaticTokens. Intercom's tokens do not expire and come without a refresh token,
// so a 401 means the app was uninstalled or the token revoked: DoAuthorized's refresh fails and
// the connection is deactivated (oauth_authorization_revoked for a managed credential,
// authentication_invalid for a pasted one).
//
// # Actions
//
// add_tag and remove_tag take the rule parameter id, a tag id of the workspace. Every attempt:
//
//  1. POST /contacts/search for the contact: email = E, or (external_id = X OR email = E) when
//     the mapped fields carry external_id. A contact with the external_id wins, then a user,
//     then the first lead.
//  2. None found: POST /contacts (role user when external_id is known; otherwise Intercom's
//     default, a user) with the mapped fields. A 409 conflict names the existing contact's id
//     ("…already exists with id=…"), which is read (GET /contacts/{id}) and used: a contact created
//     moments ago may not be searchable yet.
//     Found: PUT /contacts/{id} with the mapped fields whose values differ, if any.
//  3. POST /contacts/{id}/tags {"id": tag} (add_tag) or DELETE /contacts/{id}/tags/{tag}
//     (remove_tag). A tag the contact already has (add) or does not have (remove) is delivered
//     without that call.
//
// # Action data
//
// ActionData answers {"add_tag": {"tags": [{"id": "17", "name": "VIP"}, …]}, "remove_tag":
// {"tags": […]}} from GET /tags.
//
// # Field catalog
//
// FieldCatalog lists email (format email, required), external_id, name and phone (format
// phone), then the workspace's custom contact attributes from GET /data_attributes?model=contact
// (custom, not archived), keyed by their name: data_type string → string (enum with the
// attribute's options as allowed values), integer and float → number, boolean → boolean, date
// → datetime (Unix seconds). Mapped fields other than the four standard ones are written into
// custom_attributes.
package intercom

import (
	"strings"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Type is the integration type string of Intercom connections.
const Type = "intercom"

// The rule actions.
const (
	ActionAddTag    = "add_tag"
	ActionRemoveTag = "remove_tag"
)

// ParamID is the rule metadata key of the tag id.
const ParamID = "id"

// KeyAccessToken is the metadata key of the pasted access token (the alternative to OAuth).
const KeyAccessToken = "access_token"

// The provider's documented endpoints.
const (
	// APIBase is Intercom's US-hosted REST API; EU and Australian workspaces use
	// api.eu.intercom.io and api.au.intercom.io (a server-level API base override).
	APIBase  = "https://api.intercom.io"
	AuthURL  = "https://app.intercom.com/oauth"
	TokenURL = "https://api.intercom.io/auth/eagle/token"
)

// APIVersion is the Intercom-Version header sent with every API call.
const APIVersion = "2.11"

// The documented rate limit this integration spaces attempts by, per workspace: 10,000 calls a
// minute per app, enforced over 10-second windows (about 1,666 calls per window). An attempt
// usually makes two or three calls (search, maybe create or update, tag; at most five), so 50
// attempts a second with a burst of 50 stays under 1,666 calls in any 10 seconds.
const (
	RatePerSecond = 50
	RateBurst     = 50
)

// Integration declares the Intercom integration. Each call returns a new value.
func Integration() *destination.Integration {
	return &destination.Integration{
		Type:         Type,
		Name:         "Intercom",
		AuthType:     destination.AuthOAuth,
		OAuthVersion: 2,
		OAuth: &destination.OAuthSpec{
			AuthURL:  AuthURL,
			TokenURL: TokenURL,
			// Intercom's permissions are chosen on the app in the Developer Hub; the authorize
			// URL takes no scope. PKCE is not documented.
			Scopes:      nil,
			AuthStyle:   oauth2.AuthStyleInParams,
			PasteFields: []string{KeyAccessToken},
		},
		APIBase: APIBase,
		Mapped:  true,
		Fields: []destination.Field{{
			Key: KeyAccessToken, Label: "Access token", Type: destination.FieldPassword, Secret: true,
			HelpText: "Instead of connecting through OAuth: the access token of a private app in your Intercom workspace (Developer Hub → your app → Authentication).",
		}},
		Actions: []destination.Action{
			{
				Key: ActionAddTag, Label: "Add Tag", Noun: "Tag", Fields: []string{ParamID},
				Data:    []destination.ActionInput{destination.Pick("tags", ParamID, "Tag", "Tag")},
				Display: &destination.Display{Label: "Add Tag", Description: "Find or create the contact by email and tag it."},
			},
			{
				Key: ActionRemoveTag, Label: "Remove Tag", Noun: "Tag", Fields: []string{ParamID},
				Data:    []destination.ActionInput{destination.Pick("tags", ParamID, "Tag", "Tag")},
				Display: &destination.Display{Label: "Remove Tag", Description: "Find or create the contact by email and remove the tag from it."},
			},
		},
		Check: check,
		New:   func(opts destination.Options) destination.Provisioner { return New(opts) },
	}
}

// check refuses a pasted token that cannot be one (white space inside, as when two values were
// pasted together).
func check(meta map[string]any, _ destination.Options) []switchyard.FieldError {
	tok, _ := meta[KeyAccessToken].(string)
	if tok != "" && tok != destination.MaskedValue && strings.ContainsAny(strings.TrimSpace(tok), " \t\r\n") {
		return []switchyard.FieldError{{Param: destination.ParamPrefix + KeyAccessToken, Msg: "must be a single token without spaces"}}
	}
	return nil
}
