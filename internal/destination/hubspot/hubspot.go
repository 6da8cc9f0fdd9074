// Package hubspot is the HubSpot destination (type "hubspot"): it adds HubSpot contacts to static
// lists, removes them from lists, and sets contact properties, finding the contact by email or
// creating it with the mapped fields. docs/integrations/hubspot.md is its user guide.
//
// # Authentication
//
// A connection is made through HubSpot's OAuth flow (the engine's managed Tokens: access tokens
// live 30 minutes and are refreshed with the refresh token; a refresh HubSpot refuses with
// BAD_REFRESH_TOKEN means the app was uninstalled), or with a private app's access token the
// customer pastes (metadata private_app_token), used as destination.StaticTokens. A 401 is
// answered by DoAuthorized's one refresh; a pasted token that HubSpot refuses deactivates the
// connection (authentication_invalid).
//
// # Actions
//
// add_to_list and remove_from_list take the rule parameter id, a list id (ILS list id of the
// v3 Lists API). update_property takes id, the internal name of a contact property, and value,
// its new value. Every attempt:
//
//  1. For the list actions, GET /crm/v3/lists/{id} the first time a sender meets the list: a
//     list that is not a contact list, or is DYNAMIC (active), is refused (invalid_request)
//     before any contact is touched; an unknown list is destination_not_found. The answer is
//     kept for the life of the sender (a list's processing type never changes).
//  2. GET /crm/v3/objects/contacts/{email}?idProperty=email. HubSpot's search index lags behind
//     writes, so a contact is never looked up through search.
//  3. Not found (404): POST /crm/v3/objects/contacts with the mapped fields as properties (and,
//     for update_property, the property being set). A 409 "Contact already exists. Existing
//     ID: N" names the contact, which is then used.
//  4. PUT /crm/v3/lists/{id}/memberships/add or …/remove with the contact's record id, or
//     PATCH /crm/v3/objects/contacts/{contactId} {"properties": {id: value}} for a contact that
//     was found. A contact already in the list (add) or not in it (remove; a contact just
//     created) is delivered: HubSpot ignores such records, and the call is skipped for a new
//     contact's removal.
//
// # Action data
//
// ActionData answers {"add_to_list": {"lists": [{"id","name","processing_type"}]},
// "remove_from_list": {"lists": […]}, "update_property": {"properties": [{"id","name","type",
// "field_type","options": [{"label","value"}]}]}}: the portal's MANUAL and SNAPSHOT contact
// lists (POST /crm/v3/lists/search) and its writable contact properties (GET
// /crm/v3/properties/contacts).
//
// # Field catalog
//
// FieldCatalog lists the portal's contact properties (GET /crm/v3/properties/contacts; archived
// and hidden ones left out), keyed by internal name: type string → string (format phone for
// fieldType phonenumber, email for email), number → number, bool → boolean, date → date,
// datetime → datetime, enumeration → enum (multi_enum for fieldType checkbox, boolean for
// booleancheckbox) with the visible options' values as allowed values; read-only values and
// calculated properties are flagged read_only; email is required.
package hubspot

import (
	"strings"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Type is the integration type string of HubSpot connections.
const Type = "hubspot"

// The rule actions.
const (
	ActionAddToList      = "add_to_list"
	ActionRemoveFromList = "remove_from_list"
	ActionUpdateProperty = "update_property"
)

// The rule metadata keys of the actions.
const (
	// ParamID is the list id (list actions) or the property's internal name (update_property).
	ParamID = "id"
	// ParamValue is update_property's value.
	ParamValue = "value"
)

// KeyPrivateAppToken is the metadata key of the pasted private-app access token (the
// alternative to OAuth).
const KeyPrivateAppToken = "private_app_token"

// The provider's documented endpoints.
const (
	APIBase  = "https://api.hubapi.com"
	AuthURL  = "https://app.hubspot.com/oauth/authorize"
	TokenURL = "https://api.hubapi.com/oauth/v1/token"
)

// DefaultScopes are requested by the OAuth flow: read and write contacts, read and change
// lists, read the contact property definitions, and oauth (required of every app).
var DefaultScopes = []string{
	"oauth",
	"crm.objects.contacts.read",
	"crm.objects.contacts.write",
	"crm.lists.read",
	"crm.lists.write",
	"crm.schemas.contacts.read",
}

// The documented rate limit this integration spaces attempts by, per portal: a public (OAuth)
// app may make 110 calls every 10 seconds to each portal that installed it, and a private app
// 100 (Free and Starter portals; 190 on Professional and Enterprise). An attempt usually makes
// two or three calls (look up the contact, maybe create it, change the list or the property;
// at most four, and one more the first time a list is met), so 3 attempts a second with a burst
// of 3 stays under 100 calls in any 10 seconds at three calls an attempt.
const (
	RatePerSecond = 3
	RateBurst     = 3
)

// AccountPrefix prefixes the portal id in the account Identify returns (and the rate-limit
// scope).
const AccountPrefix = Type + ":portal:"

// Integration declares the HubSpot integration. Each call returns a new value.
func Integration() *destination.Integration {
	return &destination.Integration{
		Type:         Type,
		Name:         "HubSpot",
		AuthType:     destination.AuthOAuth,
		OAuthVersion: 2,
		OAuth: &destination.OAuthSpec{
			AuthURL:  AuthURL,
			TokenURL: TokenURL,
			Scopes:   append([]string(nil), DefaultScopes...),
			// HubSpot's authorize endpoint takes an S256 code_challenge, and its token endpoint
			// reads client_id and client_secret from the form body.
			PKCE:      true,
			AuthStyle: oauth2.AuthStyleInParams,
			// HubSpot answers a revoked or unknown refresh token with 400
			// {"status":"BAD_REFRESH_TOKEN",…}, not RFC 6749's invalid_grant.
			RevokedErrors: []string{"BAD_REFRESH_TOKEN"},
			PasteFields:   []string{KeyPrivateAppToken},
		},
		APIBase: APIBase,
		Mapped:  true,
		Fields: []destination.Field{{
			Key: KeyPrivateAppToken, Label: "Private app access token", Type: destination.FieldPassword, Secret: true,
			HelpText: "Instead of connecting through OAuth: the access token of a private app in your HubSpot account " +
				"(Settings → Integrations → Private Apps → your app → Auth), with the scopes crm.objects.contacts.read, " +
				"crm.objects.contacts.write, crm.lists.read, crm.lists.write and crm.schemas.contacts.read.",
		}},
		Actions: []destination.Action{
			{
				Key: ActionAddToList, Label: "Add to List", Noun: "List", Fields: []string{ParamID},
				Data: []destination.ActionInput{destination.Pick("lists", ParamID, "List", "List")},
				Display: &destination.Display{Label: "Add to List",
					Description: "Find or create the contact by email and add it to a static (manual or snapshot) list."},
			},
			{
				Key: ActionRemoveFromList, Label: "Remove from List", Noun: "List", Fields: []string{ParamID},
				Data: []destination.ActionInput{destination.Pick("lists", ParamID, "List", "List")},
				Display: &destination.Display{Label: "Remove from List",
					Description: "Find or create the contact by email and remove it from a static (manual or snapshot) list."},
			},
			{
				Key: ActionUpdateProperty, Label: "Update Property", Noun: "Property", Fields: []string{ParamID, ParamValue},
				Data: []destination.ActionInput{destination.PickWithOption("properties", ParamID, "Property", "Property", "options", ParamValue, "Value")},
				Display: &destination.Display{Label: "Update Property",
					Description: "Find or create the contact by email and set one of its properties to a value."},
			},
		},
		Check: check,
		New:   func(opts destination.Options) destination.Provisioner { return New(opts) },
	}
}

// check refuses a pasted token that cannot be one (white space inside, as when two values were
// pasted together).
func check(meta map[string]any, _ destination.Options) []switchyard.FieldError {
	tok, _ := meta[KeyPrivateAppToken].(string)
	if tok != "" && tok != destination.MaskedValue && strings.ContainsAny(strings.TrimSpace(tok), " \t\r\n") {
		return []switchyard.FieldError{{Param: destination.ParamPrefix + KeyPrivateAppToken, Msg: "must be a single token without spaces"}}
	}
	return nil
}
