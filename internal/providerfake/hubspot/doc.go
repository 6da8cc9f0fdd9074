// Package hubspot is an in-process fake of the HubSpot API for tests: a real
// HTTP server on 127.0.0.1 (net/http/httptest) that checks requests the way
// HubSpot documents, keeps state, and offers Go methods to seed, inspect and
// misbehave. It never contacts a HubSpot host.
//
// # What it models, and where each behaviour comes from
//
// OAuth 2.0 (legacy public apps, v1 token API):
//   - GET /oauth/authorize (stands in for https://app.hubspot.com/oauth/authorize,
//     also /oauth/{hubId}/authorize): client_id, redirect_uri, scope (space
//     separated, must be among the app's configured scopes), optional_scope
//     (dropped when not configured), state, and PKCE code_challenge with
//     code_challenge_method=S256. Consent is simulated: 302 to redirect_uri with
//     code and state. Bad client_id / redirect_uri / scope give an error page
//     (400) instead of a redirect, as HubSpot shows an error screen.
//     Source: "OAuth Quickstart Guide" and "Working with OAuth"
//     (developers.hubspot.com/docs/apps/legacy-apps/authentication/oauth-quickstart-guide).
//   - POST /oauth/v1/token, application/x-www-form-urlencoded, with
//     grant_type=authorization_code (client_id, client_secret, redirect_uri,
//     code, code_verifier) or grant_type=refresh_token (client_id,
//     client_secret, refresh_token). Success: {"token_type":"bearer",
//     "access_token","refresh_token","expires_in":1800,"hub_id","user_id",
//     "scopes","token_use"}. Codes are single use and expire (CodeTTL).
//     Refresh returns a new access token and the same refresh token.
//     Errors are 400 with {"status":"BAD_AUTH_CODE"|"BAD_REFRESH_TOKEN"|
//     "BAD_REDIRECT_URI"|"BAD_CLIENT_ID"|"BAD_CLIENT_SECRET"|"BAD_GRANT_TYPE",
//     "message","correlationId","category":"VALIDATION_ERROR"}.
//     Source: "OAuth tokens v1" reference and OpenAPI spec
//     (github.com/HubSpot/HubSpot-public-api-spec-collection,
//     PublicApiSpecs/Auth/Oauth/.../v1/oauth.json); the status strings are the
//     ones HubSpot returns in practice (e.g. "missing or invalid refresh
//     token"), HubSpot does not use RFC 6749 "error":"invalid_grant".
//   - GET /oauth/v1/access-tokens/{token} (hub_id, app_id, user, hub_domain,
//     scopes, expires_in, token_type), GET and DELETE
//     /oauth/v1/refresh-tokens/{token}. Source: the same v1 OAuth spec.
//   - GET /account-info/v3/details (portalId …), useful with private-app
//     tokens. Source: Account Info API v3 spec (accountInfo.json).
//
// CRM (Bearer token; scopes as listed in the OpenAPI specs):
//   - Contacts v3 (contacts.json): POST /crm/v3/objects/contacts/search
//     (filterGroups ≤5, filters ≤6 per group and ≤18 in all, operators EQ, NEQ,
//     IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, GT(E), LT(E), BETWEEN,
//     CONTAINS_TOKEN; limit ≤200; after paging; total), POST
//     /crm/v3/objects/contacts (201; 409 {"message":"Contact already exists.
//     Existing ID: N","category":"CONFLICT"} on a duplicate email), GET
//     /crm/v3/objects/contacts/{id}[?idProperty=email&properties=…] (404
//     "resource not found"), PATCH /crm/v3/objects/contacts/{id}, POST
//     /crm/v3/objects/contacts/batch/create (inputs[{properties,
//     associations, objectWriteTraceId}], at most MaxBatchInputs = 100; "the
//     same rules as creating an individual object"; without an
//     objectWriteTraceId on every input the batch is all or nothing — the first
//     refused input's 400/409 is the answer and nothing is created; with one on
//     every input, HubSpot's multi-status errors: 201 when all were created,
//     else 207 with results (each echoing its objectWriteTraceId) and errors
//     [{status, category, message, context{objectWriteTraceId}}]; source:
//     contacts.json BatchResponseSimplePublicObject(WithErrors), StandardError,
//     and the "Error handling" guide's multi-status section). Property
//     values are validated against the property definitions: unknown property
//     (PROPERTY_DOESNT_EXIST), read-only property (READ_ONLY_VALUE), value
//     outside an enumeration's options (INVALID_OPTION), bad email, number,
//     bool or date — all 400 {"status":"error","message":"Property values were
//     not valid: [...]","category":"VALIDATION_ERROR"} as in HubSpot's
//     changelog examples. Scopes crm.objects.contacts.read / .write.
//   - Lists v3 (lists.json): GET /crm/v3/lists/{listId}, GET
//     /crm/v3/lists?listIds=…, GET /crm/v3/lists/object-type-id/{type}/name/{name},
//     POST /crm/v3/lists/search (query, processingTypes, listIds, offset,
//     count → offset, hasMore, lists, total), GET /crm/v3/lists/{id}/memberships,
//     PUT /crm/v3/lists/{id}/memberships/add and /remove (JSON array of record
//     ids → {"recordsIdsAdded","recordIdsRemoved","recordIdsMissing"} — note the
//     documented spelling "recordsIdsAdded"), PUT …/memberships/add-and-remove.
//     Only MANUAL and SNAPSHOT lists accept membership changes; a DYNAMIC list
//     answers 400 VALIDATION_ERROR; an unknown list 404. Records that do not
//     exist are reported missing; records already (not) in the list are ignored.
//     Scopes crm.lists.read (+ crm.lists.write for changes).
//   - Properties v3 (properties.json): GET /crm/v3/properties/contacts and
//     /crm/v3/properties/contacts/{name} (name, label, type, fieldType,
//     groupName, options[{label,value,displayOrder,hidden}],
//     modificationMetadata{readOnlyValue,…}). Unknown object type: 400
//     "Unable to infer object type from: …".
//
// Errors, auth and rate limits ("Handling errors", "API usage guidelines and
// limits", changelog "Rate limit headers will now appear for OAuth
// authenticated calls"):
//   - Error body {"status":"error","message","correlationId","category",…}.
//   - 401 without/with an unknown or revoked token (INVALID_AUTHENTICATION),
//     401 EXPIRED_AUTHENTICATION ("The OAuth token used to make this call
//     expired N second(s) ago.") for an expired OAuth token; 403 MISSING_SCOPES
//     with errors[0].context.requiredGranularScopes; 405 for a wrong method.
//   - Every authenticated API response carries X-HubSpot-RateLimit-Max,
//     -Remaining and -Interval-Milliseconds (10 s window, per app); private-app
//     tokens also get X-HubSpot-RateLimit-Daily and -Daily-Remaining (OAuth
//     calls have no daily limit). Over the limit: 429 {"status":"error",
//     "message":"You have reached your ten_secondly_rolling limit.",
//     "errorType":"RATE_LIMIT","category":"RATE_LIMITS","policyName":
//     "TEN_SECONDLY_ROLLING"|"DAILY"|"SECONDLY","correlationId","requestId"}.
//     The search endpoint also has its own per-token per-second limit
//     (SearchPerSecond, "CRM search" limitations), and Options.SearchDelay
//     can hide newly created contacts from search, as HubSpot's search index
//     lags behind writes.
//
// Test controls: IssueToken, IssuePrivateAppToken, ExpireAccessTokens,
// RevokeGrant, RevokeToken, DenyConsent, FailNext/InjectFailure,
// ForceRateLimit, Hang/Release, SetLatency, Advance (clock), Requests (log),
// TokenRequests, RefreshCount, CodeExchanges, APIRequests, and seeding /
// inspection with AddProperty, AddContact, Contact, ContactByID, Contacts,
// ContactEmail, ContactCount, AddList, AddListMembers, ListMembers.
//
// # What it deliberately does not model
//
// Multiple portals per server (start one Server per portal), the OAuth v3
// token endpoints, client-credentials grants, companies/deals and
// associations (a batch input with associations is refused), the other
// batch endpoints (read, update, upsert, archive), archiving and merging, list creation,
// folders and filter definitions, dynamic-list evaluation, search sorting,
// property history, the hs_* calculated properties, per-property
// validation rules configured in a portal, and exact error
// message wording where HubSpot does not document it (the DYNAMIC-list
// refusal, PKCE mismatch, token-info 404 and 415 bodies, and the batch
// refusals — more than 100 inputs, none, a repeated trace id, two inputs with
// one email in an all-or-nothing batch — are plausible stand-ins). The authorize denial redirect (error=access_denied) is a
// convenience: HubSpot's docs say no request is sent when the user declines.
package hubspot
