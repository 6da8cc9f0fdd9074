// Package destinationtest is the conformance suite every integration must pass, in the spirit
// of River's driver test suite: an integration's test describes itself in a Harness and calls
// Run, which runs one named subtest per situation an outbound call can meet, each against a
// fake provider of its own on loopback.
//
// # What the suite checks
//
// Each subtest scripts the fake (Fake: FailNext, Hang, Reset; Target.ExpireToken), makes one
// attempt with the Target's sender and checks its Result:
//
//   - success: delivered, a 2xx status, no deactivation.
//   - validation: the provider's 400/422 comes to validation_failed or rejected_client_error,
//     as the harness declares the provider means.
//   - unauthorized_refresh: with the access token expired, one refresh, then delivered; the
//     next attempt needs no other refresh. Skipped, with the reason, for connections without a
//     refreshable credential (webhooks); required of OAuth integrations.
//   - unauthorized: a 401 that persists comes to auth_failed with the harness's Deactivate,
//     after at most one refresh.
//   - forbidden: 403 comes to auth_failed, or rate_limited where the provider's body says so.
//   - not_found: destination_not_found. gone: destination_gone.
//   - conflict: 409 comes to destination_conflict, or delivered where the provider means
//     "already done".
//   - rate_limited: 429 with the provider's reset headers comes to rate_limited with
//     RetryAfter > 0 and the Target's RateLimitScope.
//   - server_error: 5xx comes to rejected_server_error, which is retried.
//   - timeout: a provider that never answers, under a short caller deadline, comes to timeout
//     within the deadline.
//   - connection_reset: network_error.
//   - oversized_success_body, oversized_error_body, malformed_success_body,
//     malformed_error_body: a 4 MiB body, or HTML with invalid UTF-8 and a NUL where JSON is
//     expected, comes to a definite outcome, never a panic.
//   - echoed_secrets: a provider that echoes every secret back (body, Location,
//     WWW-Authenticate), in an error and in a success, gets none of them into the result.
//
// And in every subtest: the outcome is one of the shared codes and not internal_error (unless
// Harness.InternalError says why it is right there), a failure has a message, Message and
// Response hold none of the Target's secrets, are valid UTF-8 without NUL and bounded
// (MaxMessage, MaxResponse), Deactivate is a known inactive reason and the status is the
// provider's.
//
// # Writing a harness
//
// For an HTTP API the work is small:
//
//   - Start runs the integration's fake provider (internal/providerfake/<name>) behind a
//     Faults: Serve(t, handler) when the fake is a handler, Serve(t, Proxy(t, fake.URL()))
//     when it runs its own server; set Faults.Match so that faults hit the API and not the
//     token endpoint. It provisions the connection with Provision (normalised metadata, as
//     the engine does), with the fake's URLs in the integration's Options.Apps, and returns
//     the Target: the sender, a representative Request, the Faults as Fake, the fake's
//     ExpireAccessTokens and refresh count, and every secret.
//   - Each Case carries the answer the provider's API reference documents for it (body and
//     headers, e.g. HubSpot's {"status":"error","category":"RATE_LIMITS",…} with
//     X-HubSpot-RateLimit-*), and, where the suite lets the provider decide, what it means.
//
// The webhook's harness (internal/destination/webhook/webhook_conformance_test.go) is the
// smallest example.
//
// # How to add an integration
//
//  1. Write the package internal/destination/<type>: Integration() declaring the type, the
//     connection-metadata schema (Fields: the one source of defaults, choices and types), the
//     actions, the Check for what a schema cannot say, OAuth and APIBase where the provider
//     has them, and New, whose Provisioner decodes normalised metadata once per connection
//     value into a Sender (destination/lifecycle.go). Classify answers with
//     destination.Classify and ProviderRules; send with destination.DoAuthorized when the
//     credential is a token.
//  2. Register it: one line, its Integration(), in internal/destination/builtin.
//  3. Write its fake provider, internal/providerfake/<name>, from the provider's public API
//     reference: the endpoints the integration calls, their documented bodies, errors and
//     rate-limit headers, OAuth with token expiry, and test controls.
//  4. Add the conformance harness: a <type>_conformance_test.go in the integration's package
//     that calls Run with a Harness built on the fake. It must pass, with no subtest skipped
//     except for a reason the integration documents.
//  5. Document it in docs/integrations/<type>.md: the metadata, each action, the outcomes
//     the provider's answers come to, and what deactivates a connection.
package destinationtest
