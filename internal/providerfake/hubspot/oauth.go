package hubspot

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/providerfake/fakekit"
)

type accessToken struct {
	token     string
	private   bool
	appKey    string
	appID     int
	scopes    []string
	expiresAt time.Time // zero: never expires (private-app tokens)
	revoked   bool
	refresh   string
}

type refreshToken struct {
	token    string
	clientID string
	scopes   []string
	revoked  bool
}

// Token is an OAuth token pair issued by the fake.
type Token struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int
	Scopes       []string
}

// IssueToken issues an OAuth access/refresh token pair as if the customer had
// installed the app, without running the authorize flow. With no scopes the
// app's configured scopes are granted.
func (s *Server) IssueToken(scopes ...string) Token {
	if len(scopes) == 0 {
		scopes = s.opts.Scopes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.newRefreshLocked(s.opts.ClientID, scopes)
	at := s.newAccessLocked(rt)
	return Token{AccessToken: at.token, RefreshToken: rt.token, ExpiresIn: int(s.opts.AccessTokenTTL / time.Second), Scopes: append([]string(nil), scopes...)}
}

// IssuePrivateAppToken returns a private-app access token (the kind a
// customer pastes, "pat-na1-…"). It never expires and is not affected by
// ExpireAccessTokens or RevokeGrant. With no scopes the app's configured
// scopes are granted. Each call creates a new private app with its own
// per-app rate-limit window; the daily limit is shared by all of them.
func (s *Server) IssuePrivateAppToken(scopes ...string) string {
	if len(scopes) == 0 {
		scopes = s.opts.Scopes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextPrivateApp++
	tok := &accessToken{
		token:   "pat-na1-" + newUUID(),
		private: true,
		appKey:  fmt.Sprintf("private:%d", s.nextPrivateApp),
		appID:   s.opts.AppID + 1000 + s.nextPrivateApp,
		scopes:  append([]string(nil), scopes...),
	}
	s.access[tok.token] = tok
	return tok.token
}

func (s *Server) newRefreshLocked(clientID string, scopes []string) *refreshToken {
	rt := &refreshToken{token: "na1-" + newUUID()[4:], clientID: clientID, scopes: append([]string(nil), scopes...)}
	s.refresh[rt.token] = rt
	return rt
}

func (s *Server) newAccessLocked(rt *refreshToken) *accessToken {
	at := &accessToken{
		token:     "CK" + randHex(40),
		appKey:    "oauth:" + s.opts.ClientID,
		appID:     s.opts.AppID,
		scopes:    append([]string(nil), rt.scopes...),
		expiresAt: s.now().Add(s.opts.AccessTokenTTL),
		refresh:   rt.token,
	}
	s.access[at.token] = at
	return at
}

// ExpireAccessTokens makes every OAuth access token issued so far expired:
// API calls with them answer 401 EXPIRED_AUTHENTICATION. Refresh tokens keep
// working. Private-app tokens are not affected.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.now().Add(-time.Second)
	for _, t := range s.access {
		if !t.private {
			t.expiresAt = past
		}
	}
}

// ExpireAccessToken expires one OAuth access token.
func (s *Server) ExpireAccessToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.access[token]; ok && !t.private {
		t.expiresAt = s.now().Add(-time.Second)
	}
}

// RevokeGrant simulates the customer uninstalling the app: every refresh
// token answers 400 BAD_REFRESH_TOKEN and every OAuth access token 401.
func (s *Server) RevokeGrant() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.refresh {
		t.revoked = true
	}
	for _, t := range s.access {
		if !t.private {
			t.revoked = true
		}
	}
}

// RevokeToken revokes one access token or private-app token (401 on use).
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.access[token]; ok {
		t.revoked = true
	}
	if t, ok := s.refresh[token]; ok {
		t.revoked = true
	}
}

// DenyConsent makes the authorize endpoint simulate the customer declining
// (redirect with error=access_denied) until called with false.
func (s *Server) DenyConsent(deny bool) {
	s.mu.Lock()
	s.denyConsent = deny
	s.mu.Unlock()
}

// TokenRequests counts POSTs to the token endpoint (any outcome).
func (s *Server) TokenRequests() int { return int(s.tokenRequests.Load()) }

// RefreshCount counts token requests with grant_type=refresh_token.
func (s *Server) RefreshCount() int { return int(s.refreshCount.Load()) }

// CodeExchanges counts token requests with grant_type=authorization_code.
func (s *Server) CodeExchanges() int { return int(s.codeExchanges.Load()) }

// ---- authorize ----

// authorizePage answers an error the way HubSpot's install page does: an
// error page for the user, no redirect.
var authorizePage = fakekit.AuthorizeFailurePage

func splitScopes(v string) []string {
	return strings.Fields(strings.ReplaceAll(v, "+", " "))
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request, _ *call) {
	q := r.URL.Query()
	clientID := q.Get("client_id")
	if clientID == "" || clientID != s.opts.ClientID {
		authorizePage(w, http.StatusBadRequest, "invalid client_id")
		return
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" || !fakekit.RedirectAllowed(s.opts.RedirectURIs, redirectURI) {
		authorizePage(w, http.StatusBadRequest, "redirect_uri does not match the app's redirect URLs")
		return
	}
	requested := splitScopes(q.Get("scope"))
	if len(requested) == 0 {
		authorizePage(w, http.StatusBadRequest, "missing scope")
		return
	}
	configured := map[string]bool{}
	for _, sc := range s.opts.Scopes {
		configured[sc] = true
	}
	var granted []string
	seen := map[string]bool{}
	for _, sc := range requested {
		if !configured[sc] {
			authorizePage(w, http.StatusBadRequest, fmt.Sprintf("scope %q does not match the app's configured scopes", sc))
			return
		}
		if !seen[sc] {
			seen[sc] = true
			granted = append(granted, sc)
		}
	}
	for _, sc := range splitScopes(q.Get("optional_scope")) {
		if configured[sc] && !seen[sc] {
			seen[sc] = true
			granted = append(granted, sc)
		}
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
	var code string
	if !deny {
		code = randHex(20)
		s.codes.Add(code, fakekit.Code{ClientID: clientID, RedirectURI: redirectURI, Scopes: granted,
			Challenge: challenge, ChallengeMethod: method, Expires: s.now().Add(s.opts.CodeTTL)})
	}
	s.mu.Unlock()

	if deny {
		params.Set("error", "access_denied")
		params.Set("error_description", "The user declined to install the app.")
	} else {
		params.Set("code", code)
	}
	target.RawQuery = params.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// S256Challenge returns the PKCE S256 code_challenge for verifier.
func S256Challenge(verifier string) string { return fakekit.S256Challenge(verifier) }

// ---- token endpoint ----

func tokenError(w http.ResponseWriter, status, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"status":        status,
		"message":       msg,
		"correlationId": newUUID(),
		"category":      "VALIDATION_ERROR",
	})
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, _ *call) {
	s.tokenRequests.Add(1)

	// The token endpoint takes application/x-www-form-urlencoded parameters
	// (client_secret and refresh_token may also be given in the query).
	_ = r.ParseForm()
	f := r.Form
	grant := f.Get("grant_type")
	switch grant {
	case "authorization_code":
		s.codeExchanges.Add(1)
	case "refresh_token":
		s.refreshCount.Add(1)
	default:
		tokenError(w, "BAD_GRANT_TYPE", "missing or unknown grant_type")
		return
	}
	if f.Get("client_id") != s.opts.ClientID {
		tokenError(w, "BAD_CLIENT_ID", "missing or invalid client_id")
		return
	}
	if subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(s.opts.ClientSecret)) != 1 {
		tokenError(w, "BAD_CLIENT_SECRET", "missing or invalid client_secret")
		return
	}
	if grant == "authorization_code" {
		s.exchangeCode(w, f)
		return
	}
	s.refreshGrant(w, f)
}

func (s *Server) exchangeCode(w http.ResponseWriter, f url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, problem := s.codes.Redeem(f.Get("code"), fakekit.Redemption{ClientID: f.Get("client_id"),
		RedirectURI: f.Get("redirect_uri"), Verifier: f.Get("code_verifier")}, s.now())
	switch problem {
	case fakekit.CodeUnknown:
		tokenError(w, "BAD_AUTH_CODE", "missing or unknown auth code")
		return
	case fakekit.CodeExpired:
		tokenError(w, "BAD_AUTH_CODE", "auth code has expired")
		return
	case fakekit.CodeRedirectMismatch:
		tokenError(w, "BAD_REDIRECT_URI", "redirect_uri does not match initial redirect_uri")
		return
	case fakekit.CodeVerifierMismatch:
		tokenError(w, "BAD_AUTH_CODE", "code_verifier does not match code_challenge")
		return
	}
	rt := s.newRefreshLocked(c.ClientID, c.Scopes)
	at := s.newAccessLocked(rt)
	s.writeTokenLocked(w, at, rt)
}

func (s *Server) refreshGrant(w http.ResponseWriter, f url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[f.Get("refresh_token")]
	if !ok || rt.revoked {
		tokenError(w, "BAD_REFRESH_TOKEN", "missing or invalid refresh token")
		return
	}
	if rt.clientID != f.Get("client_id") {
		tokenError(w, "BAD_REFRESH_TOKEN", "refresh token was not issued to this client")
		return
	}
	at := s.newAccessLocked(rt)
	s.writeTokenLocked(w, at, rt)
}

func (s *Server) writeTokenLocked(w http.ResponseWriter, at *accessToken, rt *refreshToken) {
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":    "bearer",
		"access_token":  at.token,
		"refresh_token": rt.token,
		"expires_in":    int(s.opts.AccessTokenTTL / time.Second),
		"hub_id":        s.opts.HubID,
		"user_id":       s.opts.UserID,
		"scopes":        at.scopes,
		"token_use":     "access_token",
	})
}

// ---- token metadata ----

func (s *Server) handleAccessTokenInfo(w http.ResponseWriter, _ *http.Request, c *call) {
	s.mu.Lock()
	t, ok := s.access[c.params["token"]]
	now := s.now()
	valid := ok && !t.private && !t.revoked && now.Before(t.expiresAt)
	var info map[string]any
	if valid {
		info = map[string]any{
			"token":                   t.token,
			"user":                    s.opts.User,
			"hub_domain":              s.opts.HubDomain,
			"scopes":                  t.scopes,
			"hub_id":                  s.opts.HubID,
			"app_id":                  t.appID,
			"expires_in":              int(t.expiresAt.Sub(now) / time.Second),
			"user_id":                 s.opts.UserID,
			"token_type":              "access",
			"is_private_distribution": false,
		}
	}
	s.mu.Unlock()
	if !valid {
		writeError(w, http.StatusNotFound, apiError{Status: "error", Message: "access token not found, expired or revoked", Category: "OBJECT_NOT_FOUND"})
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handleRefreshTokenInfo(w http.ResponseWriter, _ *http.Request, c *call) {
	s.mu.Lock()
	t, ok := s.refresh[c.params["token"]]
	valid := ok && !t.revoked
	var info map[string]any
	if valid {
		info = map[string]any{
			"token":      t.token,
			"user":       s.opts.User,
			"hub_domain": s.opts.HubDomain,
			"scopes":     t.scopes,
			"hub_id":     s.opts.HubID,
			"client_id":  t.clientID,
			"user_id":    s.opts.UserID,
			"token_type": "refresh",
		}
	}
	s.mu.Unlock()
	if !valid {
		writeError(w, http.StatusNotFound, apiError{Status: "error", Message: "refresh token not found or revoked", Category: "OBJECT_NOT_FOUND"})
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handleRefreshTokenDelete(w http.ResponseWriter, _ *http.Request, c *call) {
	s.mu.Lock()
	t, ok := s.refresh[c.params["token"]]
	if ok {
		t.revoked = true
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, apiError{Status: "error", Message: "refresh token not found", Category: "OBJECT_NOT_FOUND"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAccountDetails(w http.ResponseWriter, _ *http.Request, _ *call) {
	writeJSON(w, http.StatusOK, map[string]any{
		"portalId":              s.opts.HubID,
		"accountType":           "STANDARD",
		"timeZone":              "US/Eastern",
		"companyCurrency":       "USD",
		"additionalCurrencies":  []string{},
		"utcOffset":             "-05:00",
		"utcOffsetMilliseconds": -18000000,
		"uiDomain":              "app.hubspot.com",
		"dataHostingLocation":   "na1",
	})
}
