// Package zoom is an in-process fake of Zoom's OAuth service (zoom.us) and
// REST API (api.zoom.us/v2) for testing outbound integration code without
// contacting Zoom. It is a real HTTP server on 127.0.0.1 (net/http/httptest)
// serving both hosts' paths, built from Zoom's public documentation.
//
// # What it models
//
// OAuth (Zoom developer docs: "OAuth 2.0", "Using Proof Key for Code
// Exchange (PKCE)", "Server-to-Server OAuth", "OAuth error messages"):
//
//   - GET /oauth/authorize: checks client_id and redirect_uri against the
//     app's allow list (either wrong → 400 error page, no redirect),
//     response_type=code, scope (a subset of the app's scopes) and PKCE
//     (code_challenge_method S256 or plain). The user is taken to have
//     clicked Allow: 302 to redirect_uri with code and state. SetDenyConsent
//     redirects with error=access_denied. Codes are single use and expire
//     after 5 minutes.
//   - POST /oauth/token: client credentials in HTTP Basic (missing → 400
//     "Client ID or client secret is missing."; wrong → 401
//     {"reason":"Invalid client_id or client_secret","error":"invalid_client"}),
//     parameters form-encoded in the body or in the query string.
//     authorization_code: unknown, used or expired code → 400
//     {"reason":"Invalid authorization code <code>","error":"invalid_request"};
//     redirect_uri differing from the authorize request → "Redirect URI
//     mismatch."; a code_verifier that does not match the challenge →
//     "Invalid code_verifier". refresh_token: every refresh returns a new
//     access token and a new refresh token, and the refresh token presented
//     stops working (Options.KeepPreviousRefreshToken turns that off); an
//     unknown, used or revoked refresh token → 400
//     {"reason":"Invalid Token!","error":"invalid_request"}.
//     account_credentials (Server-to-Server OAuth): account_id must be the
//     account's; the response has no refresh token. Other grant types → 400
//     "Grant type is not supported from token endpoint." with
//     unsupported_grant_type. Success bodies: access_token, token_type
//     "bearer", refresh_token (user-level grants), expires_in 3599, scope,
//     api_url.
//
// API under /v2 (Zoom API reference for the Meetings and Users APIs; "Error
// Codes"; "Rate limits"):
//
//   - Authorization: Bearer <access token>. Missing or unknown → 401
//     {"code":124,"message":"Invalid access token."}; expired
//     (ExpireAccessTokens) → {"code":124,"message":"Access token is expired."};
//     a token in the access_token query parameter → 401 code 124 "Invalid
//     access token, this access token is not supported as query parameter
//     string."
//   - Every handled response carries X-RateLimit-Category (the endpoint's
//     Rate Limit Label: Light or Medium), X-RateLimit-Type (QPS),
//     X-RateLimit-Limit (Pro plan per-second limit) and X-RateLimit-Remaining.
//     ForceRateLimit(RateLimitQPS) answers 429 {"code":429,"message":"You have
//     reached the maximum per-second rate limit for this API. Try again
//     later."}; ForceRateLimit(RateLimitDaily) answers 429 with
//     X-RateLimit-Type: Daily-limit and Retry-After at the next 00:00 UTC, as
//     in the documented example header. Options.EnforceQPS enforces the
//     per-second limits for real.
//   - GET /users/me (or the user's ID or email): the user object, with
//     account_id.
//   - GET /users/me/meetings?type=scheduled|live|upcoming|upcoming_meetings|previous_meetings
//     and GET /users/me/webinars, paginated with page_size (default 30, at
//     most 300) and next_page_token; bodies page_size, total_records,
//     next_page_token, meetings/webinars (uuid, id, host_id, topic, type,
//     start_time, duration, timezone, agenda, created_at, join_url).
//   - GET /meetings/{id} and /webinars/{id}: the object with
//     settings.approval_type (0 automatic, 1 manual, 2 no registration) and
//     registration_url when registration is on. Unknown → 404 code 3001;
//     non-numeric IDs → 400 code 300.
//   - POST /meetings/{id}/registrants and /webinars/{id}/registrants: JSON
//     body; email and first_name required, standard and custom questions
//     marked required must be answered (→ 400 {"code":300,"message":"Validation
//     Failed.","errors":[{"field":…,"message":"Invalid field."}]}); a body that
//     is not a JSON object → 400 code 300 "Request Body should be a valid JSON
//     object.". Success 201 with id, registrant_id, join_url (left out while
//     the registration awaits manual approval), start_time, topic,
//     occurrences. Unknown meeting → 404 {"code":3001,"message":"Meeting does
//     not exist: <id>."}; registration off → 404 {"code":404,"message":
//     "Registration has not been enabled for this meeting: <id>."} (webinars:
//     400 code 3000 "Registration not enabled for this webinar: <id>").
//     Registering an email already registered returns that registration.
//   - GET /meetings/{id}/registrants and /webinars/{id}/registrants
//     (status=approved by default, pending, denied; paginated) and
//     GET …/registrants/questions ({"questions":[{field_name,required}],
//     "custom_questions":[{title,type,required,answers}]}).
//
// # Test controls
//
// IssueToken, IssueAccountToken, ExpireAccessTokens, RevokeGrant,
// FailNext/FailNextToken, ForceRateLimit/ClearRateLimit, Hang/Release,
// SetDelay, SetDenyConsent, TokenRequests, RefreshCount, APIRequests,
// Requests/LastRequest, seeding (AddMeeting, AddWebinar, SetApprovalType) and
// inspection (Registrants).
//
// # Not modelled
//
// Token expiry by time (use ExpireAccessTokens), refresh-token lifetime,
// the device and client_credentials grants, token revocation, scope checks
// on API calls (granular scopes), other users and account-level user lists,
// creating or updating meetings through the API, recurring-meeting
// occurrences, registrant status updates, deletion, batch registration,
// per-user daily limits, the 15-minute expiry of next_page_token, webhooks,
// and Zoom's HTML error pages (the authorize endpoint's errors are plain
// text).
package zoom
