// Package salesforce is an in-process fake of a customer's Salesforce org and
// of the connected app Switchyard uses to reach it, for testing outbound
// integration code without contacting Salesforce. It is a real HTTP server on
// 127.0.0.1 (net/http/httptest) built from Salesforce's public documentation.
//
// # What it models
//
// OAuth 2.0 web server flow (Salesforce Help, "OAuth 2.0 Web Server Flow for
// Web App Integration", "OAuth 2.0 Refresh Token Flow for Renewed Sessions",
// "OAuth 2.0 Authorization Errors"; REST API Developer Guide, older
// "Understanding the Web Server OAuth Authentication Flow"):
//
//   - GET /services/oauth2/authorize: checks client_id (unknown →
//     error page, 400, error=invalid_client_id "client identifier invalid"),
//     redirect_uri against the registered callback URLs (mismatch → error page,
//     400, error=redirect_uri_mismatch "redirect_uri must match
//     configuration"; no redirect to an unregistered URL), response_type=code
//     (else redirect with unsupported_response_type), scope against the
//     connected app's scopes (else invalid_scope) and the PKCE code_challenge
//     (base64url SHA-256, method S256). The user is taken to have logged in
//     and approved: 302 to redirect_uri with code and state. SetDenyConsent
//     makes it redirect with error=access_denied&error_description=end-user
//     denied authorization.
//   - POST /services/oauth2/token, form-encoded, client_id and client_secret
//     in the body. authorization_code: the code is single use and expires
//     after 15 minutes (reuse → 400 invalid_grant "expired authorization
//     code"); redirect_uri must equal the authorize request's (else 400
//     redirect_uri_mismatch); with a code_challenge the code_verifier must
//     hash to it (missing or wrong → 400 invalid_grant "invalid code
//     verifier"). refresh_token: unknown or revoked → 400 invalid_grant
//     "expired access/refresh token". Wrong secret → 400 invalid_client
//     "invalid client credentials"; unknown client → 400 invalid_client_id
//     "client identifier invalid"; other grant types → 400
//     unsupported_grant_type "grant type not supported".
//   - The success body has access_token, refresh_token (authorization_code
//     grant only, and only when the scope includes refresh_token,
//     offline_access or full), signature (Base64 HMAC-SHA256 of id+issued_at
//     keyed with the client secret), scope, instance_url (this server), id
//     (identity URL), token_type "Bearer" and issued_at (milliseconds).
//   - Refresh: by default the response carries no refresh_token and the
//     original refresh token stays valid. Options.RotateRefreshTokens models
//     the "refresh token rotation" connected-app setting: each refresh returns
//     a new refresh token and invalidates the previous one.
//
// REST API under /services/data/<APIVersion> (REST API Developer Guide:
// "Status Codes and Error Responses", "Limit Info Header", "Create a Record",
// "Update a Record", "Delete a Record", "sObject Describe", "Execute a SOQL
// Query"; Object Reference: Contact, Campaign, CampaignMember):
//
//   - Every request needs Authorization: Bearer <access token>; otherwise
//     401 [{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}].
//   - Every authenticated response carries Sforce-Limit-Info:
//     api-usage=<used>/<limit>. When usage reaches the limit, or
//     ForceRequestLimit is on, requests answer 403
//     [{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}].
//   - GET /query?q=<SOQL>: the SOQL subset described in soql.go (field list,
//     FROM, WHERE with AND/OR/NOT, = != < <= > >= LIKE IN, ORDER BY, LIMIT,
//     OFFSET), with backslash escapes in string literals ("Quoted String
//     Escape Sequences"). Text = compares case-insensitively; IDs match in
//     15- or 18-character form. Syntax errors → 400 MALFORMED_QUERY with the
//     "ERROR at Row:..:Column:.." message; unknown fields → INVALID_FIELD;
//     unknown objects → INVALID_TYPE; bad ID literals →
//     INVALID_QUERY_FILTER_OPERATOR.
//   - sObjects Contact, Campaign and CampaignMember: POST /sobjects/<type>
//     (201 {"id","success":true,"errors":[]}), GET/PATCH/DELETE
//     /sobjects/<type>/<id> (PATCH and DELETE answer 204), GET
//     /sobjects/<type>/describe. Validation errors use the documented array
//     body [{"message","errorCode","fields"}]: REQUIRED_FIELD_MISSING
//     ("Required fields are missing: [LastName]"), INVALID_FIELD (unknown
//     field, or Id in the body), INVALID_FIELD_FOR_INSERT_UPDATE (read-only
//     field), INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST ("<Label>: bad value for
//     restricted picklist field: <value>"), INVALID_EMAIL_ADDRESS,
//     STRING_TOO_LONG, MALFORMED_ID and INVALID_CROSS_REFERENCE_KEY for
//     references, DUPLICATE_VALUE "Already a campaign member." for a second
//     CampaignMember with the same CampaignId and ContactId, JSON_PARSER_ERROR,
//     415 UNSUPPORTED_MEDIA_TYPE for a non-JSON Content-Type. Unknown IDs →
//     404 NOT_FOUND "The requested resource does not exist"; deleted ones →
//     404 ENTITY_IS_DELETED. Wrong methods → 405 METHOD_NOT_ALLOWED.
//
// # Test controls
//
// IssueToken, ExpireAccessTokens, RevokeGrant, FailNext/FailNextToken,
// ForceRequestLimit, SetAPIUsage, Hang/Release, SetDelay, SetDenyConsent,
// TokenRequests, RefreshCount, APIRequests, Requests/LastRequest, seeding
// (AddContact, AddCampaign, AddCampaignMember, SetPicklist, AddField) and
// inspection (Record, Records).
//
// # Not modelled
//
// Other OAuth flows (JWT bearer, client credentials, device, username-
// password, user-agent), token introspection and revocation endpoints, the
// identity URL itself, access-token expiry by time (use ExpireAccessTokens),
// the five-grants-per-user cap, Leads and every other object, field-level
// security, validation rules, triggers, duplicate rules, query pagination
// (nextRecordsUrl; every result is done=true), relationship queries,
// aggregates, date literals, SOSL, composite and bulk APIs, XML, the
// per-app usage and api-bursts parts of Sforce-Limit-Info, and concurrent
// request limits. Authorize-endpoint error pages are plain text, not
// Salesforce's HTML.
package salesforce
