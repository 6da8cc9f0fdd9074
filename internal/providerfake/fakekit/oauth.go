package fakekit

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// RedirectAllowed reports whether uri may receive an authorization
// response: one of registered exactly, or, when nothing is registered, any
// absolute http(s) URL without fragment on a loopback host (127.0.0.1, ::1,
// localhost).
func RedirectAllowed(registered []string, uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Fragment != "" {
		return false
	}
	if len(registered) > 0 {
		return slices.Contains(registered, uri)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AuthorizeFailurePage answers an authorize request that must not be
// redirected with a plain-text error page, "Authorization failed: msg".
func AuthorizeFailurePage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "Authorization failed: %s\n", msg)
}

// RedirectWith answers 302 to redirectURI with params added to its query.
func RedirectWith(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values) {
	u, _ := url.Parse(redirectURI)
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// S256Challenge returns the PKCE S256 code_challenge for verifier (RFC 7636).
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ValidChallenge reports whether c has the form RFC 7636 gives a
// code_challenge: 43 to 128 characters of A-Z a-z 0-9 - . _ ~.
func ValidChallenge(c string) bool {
	if len(c) < 43 || len(c) > 128 {
		return false
	}
	for _, ch := range c {
		switch {
		case ch >= 'A' && ch <= 'Z', ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9', ch == '-', ch == '_', ch == '.', ch == '~':
		default:
			return false
		}
	}
	return true
}

// IsS256Challenge reports whether c is unpadded base64url of a SHA-256 sum
// (trailing "=" are ignored when trimPadding is set).
func IsS256Challenge(c string, trimPadding bool) bool {
	if trimPadding {
		c = strings.TrimRight(c, "=")
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(raw) == sha256.Size
}

// VerifyPKCE reports whether verifier answers challenge: equal to it for
// method "plain", its S256 transform for any other method. Trailing "=" on
// the challenge are ignored; an empty verifier never matches.
func VerifyPKCE(method, challenge, verifier string) bool {
	if verifier == "" {
		return false
	}
	got := verifier
	if method != "plain" {
		got = S256Challenge(verifier)
	}
	return got == strings.TrimRight(challenge, "=")
}

// Code is an authorization code's grant, as the authorize endpoint recorded
// it; Scopes are what it grants.
type Code struct {
	ClientID        string
	RedirectURI     string
	Scopes          []string
	Challenge       string
	ChallengeMethod string
	Expires         time.Time
	used            bool
}

// CodeProblem says why a code cannot be redeemed.
type CodeProblem int

const (
	CodeOK CodeProblem = iota
	// CodeUnknown: no such code, already used, or issued to another client.
	CodeUnknown
	// CodeExpired: the code is past its expiry.
	CodeExpired
	// CodeRedirectMismatch: redirect_uri differs from the authorize request's.
	CodeRedirectMismatch
	// CodeVerifierMismatch: code_verifier does not answer code_challenge.
	CodeVerifierMismatch
)

// Redemption is what a token request presents with a code.
type Redemption struct {
	ClientID    string
	RedirectURI string
	// RedirectOptional skips the redirect_uri check when RedirectURI is
	// empty.
	RedirectOptional bool
	Verifier         string
}

// Codes holds authorization codes: single use, with expiry. It is not
// locked; the fake guards it with its own lock.
type Codes struct {
	// ValidAtExpiry keeps a code usable at the instant it expires
	// (otherwise it expires at that instant).
	ValidAtExpiry bool
	m             map[string]*Code
}

// Add records code.
func (cs *Codes) Add(code string, c Code) {
	if cs.m == nil {
		cs.m = map[string]*Code{}
	}
	cs.m[code] = &c
}

// Redeem checks a token request's code as Peek does and uses the code up
// when all checks pass.
func (cs *Codes) Redeem(code string, red Redemption, now time.Time) (Code, CodeProblem) {
	c, problem := cs.Peek(code, red, now)
	if problem == CodeOK {
		cs.Use(code)
	}
	return c, problem
}

// Peek checks a token request's code — known, unused and of this client,
// then not expired, then the redirect URI, then PKCE when the code has a
// challenge — without using it up.
func (cs *Codes) Peek(code string, red Redemption, now time.Time) (Code, CodeProblem) {
	c, ok := cs.m[code]
	switch {
	case !ok || code == "" || c.used || c.ClientID != red.ClientID:
		return Code{}, CodeUnknown
	case now.After(c.Expires) || (!cs.ValidAtExpiry && now.Equal(c.Expires)):
		return *c, CodeExpired
	case red.RedirectURI != c.RedirectURI && !(red.RedirectOptional && red.RedirectURI == ""):
		return *c, CodeRedirectMismatch
	case c.Challenge != "" && !VerifyPKCE(c.ChallengeMethod, c.Challenge, red.Verifier):
		return *c, CodeVerifierMismatch
	}
	return *c, CodeOK
}

// Use marks code used: it can no longer be redeemed.
func (cs *Codes) Use(code string) {
	if c, ok := cs.m[code]; ok {
		c.used = true
	}
}

// S256ChallengeProblem checks an authorize request's PKCE parameters where
// only S256 is accepted and the challenge must have RFC 7636's form; it
// returns what is wrong, or "" (also when there is no challenge at all).
func S256ChallengeProblem(challenge, method string) string {
	switch {
	case challenge == "" && method != "":
		return "code_challenge_method without code_challenge"
	case challenge != "" && method != "S256":
		return "code_challenge_method must be S256"
	case challenge != "" && !ValidChallenge(challenge):
		return "code_challenge must be 43 to 128 base64url characters"
	}
	return ""
}
