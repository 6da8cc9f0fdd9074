package intercom

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"

	"github.com/switchyardhq/switchyard/internal/providerfake/fakekit"
)

type accessToken struct {
	token   string
	oauth   bool
	appKey  string
	revoked bool
}

// IssueToken returns an OAuth access token as if the customer had completed
// the install flow. Intercom OAuth tokens do not expire and come without a
// refresh token.
func (s *Server) IssueToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newTokenLocked(true).token
}

// IssueAccessToken returns a workspace access token of a private app (the
// kind a customer pastes). Each call creates a new private app, with its own
// rate-limit window.
func (s *Server) IssueAccessToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newTokenLocked(false).token
}

func (s *Server) newTokenLocked(oauth bool) *accessToken {
	raw := "tok:" + newUUID() + ":1:0"
	t := &accessToken{token: base64.StdEncoding.EncodeToString([]byte(raw)), oauth: oauth, appKey: "oauth:" + s.opts.ClientID}
	if !oauth {
		s.nextPrivateApp++
		t.appKey = fmt.Sprintf("private:%d", s.nextPrivateApp)
	}
	s.tokens[t.token] = t
	return t
}

// RevokeGrant simulates the customer uninstalling the app: every OAuth token
// answers 401 unauthorized. Private-app access tokens are not affected.
func (s *Server) RevokeGrant() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t.oauth {
			t.revoked = true
		}
	}
}

// RevokeToken revokes one token (OAuth or access token).
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[token]; ok {
		t.revoked = true
	}
}

// ExpireAccessTokens exists for symmetry with other fakes: Intercom access
// tokens do not expire, so the closest real event is revocation, and this
// revokes every token (OAuth and private-app) — all answer 401.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.revoked = true
	}
}

// DenyConsent makes the authorize page simulate the customer declining
// (redirect with error=access_denied) until called with false.
func (s *Server) DenyConsent(deny bool) {
	s.mu.Lock()
	s.denyConsent = deny
	s.mu.Unlock()
}

// TokenRequests counts POSTs to the token endpoint (any outcome).
func (s *Server) TokenRequests() int { return int(s.tokenRequests.Load()) }

// CodeExchanges counts token requests that carried a code.
func (s *Server) CodeExchanges() int { return int(s.codeExchanges.Load()) }

// RefreshCount is always 0: Intercom has no refresh tokens; token requests
// with grant_type=refresh_token are refused and counted by TokenRequests.
func (s *Server) RefreshCount() int { return 0 }

var authorizePage = fakekit.AuthorizeFailurePage

// S256Challenge returns the PKCE S256 code_challenge for verifier.
func S256Challenge(verifier string) string { return fakekit.S256Challenge(verifier) }

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request, _ *call) {
	q := r.URL.Query()
	if q.Get("client_id") != s.opts.ClientID || q.Get("client_id") == "" {
		authorizePage(w, http.StatusBadRequest, "invalid client_id")
		return
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" && len(s.opts.RedirectURIs) > 0 {
		redirectURI = s.opts.RedirectURIs[0]
	}
	if redirectURI == "" || !fakekit.RedirectAllowed(s.opts.RedirectURIs, redirectURI) {
		authorizePage(w, http.StatusBadRequest, "redirect_uri is not one of the app's redirect URLs")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if msg := fakekit.S256ChallengeProblem(challenge, method); msg != "" {
		authorizePage(w, http.StatusBadRequest, msg)
		return
	}
	target, _ := url.Parse(redirectURI)
	params := target.Query()
	if st := q.Get("state"); st != "" {
		params.Set("state", st)
	}
	s.mu.Lock()
	deny := s.denyConsent
	code := ""
	if !deny {
		code = randHex(16)
		s.codes.Add(code, fakekit.Code{ClientID: s.opts.ClientID, RedirectURI: redirectURI, Challenge: challenge,
			ChallengeMethod: method, Expires: s.now().Add(s.opts.CodeTTL)})
	}
	s.mu.Unlock()
	if deny {
		params.Set("error", "access_denied")
		params.Set("error_description", "The user denied access to the app.")
	} else {
		params.Set("code", code)
	}
	target.RawQuery = params.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// tokenError answers a refused token request. Intercom does not document
// these bodies; the fake answers its usual error.list with an RFC 6749
// error code, and the RFC 6749 "error"/"error_description" fields alongside.
func tokenError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{
		"type":              "error.list",
		"request_id":        newUUID(),
		"errors":            []errorItem{{Code: code, Message: msg}},
		"error":             code,
		"error_description": msg,
	})
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, c *call) {
	s.tokenRequests.Add(1)

	// Parameters: code, client_id, client_secret; accepted form-encoded or
	// as a JSON object (and in the query string).
	params := url.Values{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]any
		if err := json.Unmarshal(c.body, &m); err != nil {
			tokenError(w, http.StatusBadRequest, "invalid_request", "request body is not valid JSON")
			return
		}
		for k, v := range m {
			if sv, ok := v.(string); ok {
				params.Set(k, sv)
			}
		}
	default:
		_ = r.ParseForm()
		params = r.Form
	}
	for k, v := range r.URL.Query() {
		if params.Get(k) == "" && len(v) > 0 {
			params.Set(k, v[0])
		}
	}
	if gt := params.Get("grant_type"); gt != "" && gt != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only the authorization code grant is supported")
		return
	}
	if params.Get("client_id") != s.opts.ClientID ||
		subtle.ConstantTimeCompare([]byte(params.Get("client_secret")), []byte(s.opts.ClientSecret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client_id or client_secret is invalid")
		return
	}
	code := params.Get("code")
	if code == "" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "code is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codeExchanges.Add(1)
	_, problem := s.codes.Redeem(code, fakekit.Redemption{ClientID: params.Get("client_id"), RedirectURI: params.Get("redirect_uri"),
		RedirectOptional: true, Verifier: params.Get("code_verifier")}, s.now())
	switch problem {
	case fakekit.CodeUnknown:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the authorization code is invalid or has already been used")
		return
	case fakekit.CodeExpired:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the authorization code has expired")
		return
	case fakekit.CodeRedirectMismatch:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
		return
	case fakekit.CodeVerifierMismatch:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match code_challenge")
		return
	}
	t := s.newTokenLocked(true)
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "token": t.token, "access_token": t.token})
}
