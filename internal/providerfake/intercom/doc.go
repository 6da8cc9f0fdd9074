// Package intercom is an in-process fake of the Intercom REST API for tests:
// a real HTTP server on 127.0.0.1 (net/http/httptest) that checks requests
// the way Intercom documents, keeps state, and offers Go methods to seed,
// inspect and misbehave. It never contacts an Intercom host.
//
// # What it models, and where each behaviour comes from
//
// OAuth ("Setting up OAuth" and "Authorization FAQ",
// developers.intercom.com/docs/build-an-integration/learn-more/authentication/setting-up-oauth):
//   - GET /oauth (stands in for https://app.intercom.com/oauth) with client_id,
//     state and optional redirect_uri (the first registered URL when absent).
//     Consent is simulated: 302 to the redirect URL with code and state.
//     Unknown client_id or redirect_uri: an error page (400), no redirect.
//     DenyConsent switches to a redirect with error=access_denied.
//   - POST /auth/eagle/token with code, client_id, client_secret (form or
//     JSON). Success: {"token_type":"Bearer","token":T,"access_token":T}.
//     Codes are single use and expire after about five minutes (CodeTTL).
//     There is no refresh token and tokens do not expire ("we do not expire
//     your OAuth token"); revocation (RevokeGrant, RevokeToken) makes the
//     token answer 401 on use.
//   - Workspace access tokens of private apps (IssueAccessToken), the kind a
//     customer pastes, work the same way.
//
// REST API (OpenAPI descriptions, github.com/intercom/Intercom-OpenAPI,
// descriptions/2.14/api.intercom.io.yaml):
//   - GET /me: the admin and the app (workspace id_code, name, region,
//     timezone) of the token.
//   - POST /contacts (role user|lead, external_id, email, phone, name, avatar,
//     signed_up_at, last_seen_at, owner_id, unsubscribed_from_emails,
//     custom_attributes; at least one of email, external_id, role). A second
//     user with the same email, or any contact with the same external_id,
//     answers 409 {"type":"error.list","errors":[{"code":"conflict","message":
//     "A contact matching those details already exists with id=…"}]} (the
//     409 documented in intercom/Intercom-OpenAPI pull request #543).
//     Leads may share an email.
//   - GET and PUT /contacts/{id} (partial update; 404 code not_found "User
//     Not Found").
//   - POST /contacts/search with the documented query language: single
//     filters {field, operator, value} and AND/OR groups (at most 2 levels of
//     nesting, 15 filters per group), the documented fields (email,
//     external_id, role, name, phone, email_domain, id, created_at …, tag_id,
//     custom_attributes.X) and operators per type (= != IN NIN ~ !~ ^ $ for
//     strings, < > <= >= for integers, only = < > for dates, which match by
//     calendar day in the workspace time zone — UTC here; tag_id only = !=),
//     pagination {per_page ≤150, starting_after} → {"type":"list","data",
//     "total_count","pages":{"type":"pages","page","per_page","total_pages",
//     "next":{"starting_after"}}}. Recently created contacts can be hidden
//     from search with Options.SearchDelay ("Contact Creation Delay").
//   - GET /tags, POST /contacts/{id}/tags {"id": tag_id} and DELETE
//     /contacts/{id}/tags/{tag_id} → the tag object with applied_at and
//     applied_by; unknown contact 404 "User Not Found", unknown tag 404
//     "Resource Not Found". GET /contacts/{id}/tags.
//   - GET /data_attributes?model=contact[&include_archived=true]: standard and
//     custom attributes (name, full_name "custom_attributes.X", label,
//     data_type, options, api_writable, custom, archived). Custom attribute
//     values in contact writes must name an existing attribute and match its
//     data_type (and options when set): 400 parameter_invalid otherwise.
//   - The Intercom-Version header is optional (the app's default version
//     applies); when present it must be a known version, else 400.
//     Options.RequireVersionHeader makes it mandatory for stricter tests.
//
// Errors and rate limits ("Error codes" and "Rate Limiting" pages of the REST
// API reference):
//   - Error body {"type":"error.list","request_id":…,"errors":[{"code",
//     "message"[,"field"]}]}; 401 code unauthorized "Access Token Invalid"
//     for a missing, unknown or revoked token.
//   - Authenticated responses carry X-RateLimit-Limit, X-RateLimit-Remaining
//     and X-RateLimit-Reset (Unix time the 10-second window resets); they are
//     not sent without valid credentials. The default limit is 10,000 calls a
//     minute per app, spread over 10-second windows (1667 per window). Over
//     it: 429 with code rate_limit_exceeded, "Exceeded rate limit of N in
//     10_seconds".
//
// Test controls: IssueToken, IssueAccessToken, RevokeGrant, RevokeToken,
// ExpireAccessTokens (revokes: Intercom tokens do not expire), DenyConsent,
// FailNext/InjectFailure, ForceRateLimit, Hang/Release, SetLatency, Advance
// (clock), Requests (log), TokenRequests, CodeExchanges, APIRequests and
// seeding/inspection with AddContact, Contact, ContactByID,
// ContactByExternalID, Contacts, AddTag, ContactTags, AddDataAttribute.
//
// # What it deliberately does not model
//
// OAuth permission scopes (every token may call every modelled endpoint),
// workspace-wide limits across apps, companies, conversations, segments,
// notes, subscriptions, archiving/merging/deleting contacts, GET /contacts
// listing and find_by_external_id, tag creation through the API, data
// attribute creation, sorting of search results, per-version response
// differences, and error wording Intercom does not document: the token
// endpoint's error bodies (the fake answers error.list plus RFC 6749
// "error"/"error_description"), PKCE (Intercom does not document it; the fake
// enforces code_challenge/code_verifier only when a challenge is sent), the
// invalid Intercom-Version and unknown custom attribute messages.
package intercom
