// Package fakekit is the plumbing shared by the in-process provider fakes
// under internal/providerfake (hubspot, salesforce, intercom, zoom): what
// each of them needs in order to stand in for a provider in a test, and
// nothing that belongs to one provider.
//
//   - Server: an httptest server on 127.0.0.1 that reads and logs every
//     request (Log), can delay (SetLatency) or hold (Hang, Release) requests,
//     and releases held requests on Close.
//   - Faults: queued injected responses (FailNext / InjectFailure).
//   - Clock: a replaceable clock that tests can Advance.
//   - Windows: fixed rate-limit windows keyed by app or token.
//   - Lookup: method and path-pattern routing ("/lists/{listId}").
//   - OAuth helpers: redirect-URI checks, PKCE (S256 and plain), Codes
//     (single-use authorization codes with expiry), RedirectWith.
//   - Random identifiers (RandHex, RandToken, UUID) and WriteJSON.
//   - Test helpers for the fakes' own tests: NewRequest, Send, WantJSON.
//
// Provider-specific behaviour (error bodies, headers, OAuth error texts,
// token formats and rotation rules) stays in each fake; the kit takes it as
// values and functions.
package fakekit
