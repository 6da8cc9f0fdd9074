package salesforce

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/providerfake/fakekit"
)

const codeTTL = 15 * time.Minute

var randToken = fakekit.RandToken

// authorizeError writes the answer for an authorize request that cannot be
// redirected (unknown client or unregistered redirect URI): Salesforce shows
// an error page instead of sending the browser to an unvetted URL.
func authorizeError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, "error="+code+"&error_description="+url.QueryEscape(desc))
}

var redirectWith = fakekit.RedirectWith

// handleAuthorize models GET /services/oauth2/authorize of the web server
// flow ("OAuth 2.0 Web Server Flow for Web App Integration"; errors from
// "OAuth 2.0 Authorization Errors"). The user is taken to have logged in and
// approved (or, with SetDenyConsent, denied) the app.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	_ = r.ParseForm()
	q := r.Form
	clientID, redirectURI, state := q.Get("client_id"), q.Get("redirect_uri"), q.Get("state")
	if clientID != s.opts.ClientID {
		authorizeError(w, "invalid_client_id", "client identifier invalid")
		return
	}
	if !slices.Contains(s.opts.RedirectURIs, redirectURI) {
		authorizeError(w, "redirect_uri_mismatch", "redirect_uri must match configuration")
		return
	}
	fail := func(code, desc string) {
		v := url.Values{"error": {code}, "error_description": {desc}}
		if state != "" {
			v.Set("state", state)
		}
		redirectWith(w, r, redirectURI, v)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "response type not supported")
		return
	}
	scope := strings.Join(strings.Fields(q.Get("scope")), " ")
	for _, sc := range strings.Fields(scope) {
		if !slices.Contains(s.opts.Scopes, sc) {
			fail("invalid_scope", "the requested scope is not allowed")
			return
		}
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" {
		if method != "" && method != "S256" {
			fail("invalid_request", "invalid code challenge method")
			return
		}
		if !fakekit.IsS256Challenge(challenge, false) {
			fail("invalid_request", "invalid code challenge")
			return
		}
	}
	s.mu.Lock()
	deny := s.deny
	var code string
	if !deny {
		code = "aPrx" + randToken(40)
		if scope == "" {
			scope = "api refresh_token"
		}
		s.codes.Add(code, fakekit.Code{ClientID: clientID, RedirectURI: redirectURI, Scopes: strings.Fields(scope),
			Challenge: challenge, ChallengeMethod: method, Expires: s.opts.Now().Add(codeTTL)})
	}
	s.mu.Unlock()
	if deny {
		fail("access_denied", "end-user denied authorization")
		return
	}
	v := url.Values{"code": {code}}
	if state != "" {
		v.Set("state", state)
	}
	redirectWith(w, r, redirectURI, v)
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Signature    string `json:"signature"`
	Scope        string `json:"scope"`
	InstanceURL  string `json:"instance_url"`
	ID           string `json:"id"`
	TokenType    string `json:"token_type"`
	IssuedAt     string `json:"issued_at"`
}

type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, nil, oauthError{code, desc})
}

// handleToken models POST /services/oauth2/token for the authorization_code
// and refresh_token grants ("OAuth 2.0 Web Server Flow for Web App
// Integration", "OAuth 2.0 Refresh Token Flow for Renewed Sessions"). Client
// credentials travel in the form body.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, body []byte) {
	s.tokenRequests.Add(1)
	if s.failToken.Serve(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusBadRequest, "invalid_request", "must use HTTP POST")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "unsupported content type; use application/x-www-form-urlencoded")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "malformed request body")
		return
	}
	grantType := form.Get("grant_type")
	if grantType != "authorization_code" && grantType != "refresh_token" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	if form.Get("client_id") != s.opts.ClientID {
		tokenError(w, http.StatusBadRequest, "invalid_client_id", "client identifier invalid")
		return
	}
	secret := form.Get("client_secret")
	if (!s.opts.PublicClient || secret != "") && subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		tokenError(w, http.StatusBadRequest, "invalid_client", "invalid client credentials")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	resp := tokenResponse{InstanceURL: s.kit.URL(), ID: s.identityURL(), TokenType: "Bearer", IssuedAt: strconv.FormatInt(now.UnixMilli(), 10)}
	resp.Signature = s.signature(resp.ID, resp.IssuedAt)

	switch grantType {
	case "authorization_code":
		c, problem := s.codes.Peek(form.Get("code"), fakekit.Redemption{ClientID: s.opts.ClientID,
			RedirectURI: form.Get("redirect_uri"), Verifier: form.Get("code_verifier")}, now)
		switch {
		case problem == fakekit.CodeUnknown || problem == fakekit.CodeExpired:
			tokenError(w, http.StatusBadRequest, "invalid_grant", "expired authorization code")
			return
		case problem == fakekit.CodeRedirectMismatch:
			tokenError(w, http.StatusBadRequest, "redirect_uri_mismatch", "redirect_uri must match configuration")
			return
		case problem == fakekit.CodeVerifierMismatch:
			tokenError(w, http.StatusBadRequest, "invalid_grant", "invalid code verifier")
			return
		case c.Challenge == "" && s.opts.PublicClient && secret == "":
			tokenError(w, http.StatusBadRequest, "invalid_client", "invalid client credentials")
			return
		}
		s.codes.Use(form.Get("code"))
		scope := strings.Join(c.Scopes, " ")
		g := s.newGrantLocked(scope)
		resp.AccessToken = s.newAccessLocked(g)
		if hasOffline(scope) {
			resp.RefreshToken = s.newRefreshLocked(g)
		}
		resp.Scope = scope
	case "refresh_token":
		rt, ok := s.refresh[form.Get("refresh_token")]
		if !ok || rt.revoked || rt.grant.revoked {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "expired access/refresh token")
			return
		}
		resp.AccessToken = s.newAccessLocked(rt.grant)
		if s.opts.RotateRefreshTokens {
			rt.revoked = true
			resp.RefreshToken = s.newRefreshLocked(rt.grant)
		}
		resp.Scope = rt.grant.scope
		s.refreshCount.Add(1)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, nil, resp)
}

// hasOffline reports whether a scope grants a refresh token.
func hasOffline(scope string) bool {
	for _, sc := range strings.Fields(scope) {
		if sc == "refresh_token" || sc == "offline_access" || sc == "full" {
			return true
		}
	}
	return false
}

// signature is the token response's signature: Base64 of HMAC-SHA256 over
// the identity URL concatenated with issued_at, keyed with the client secret.
func (s *Server) signature(id, issuedAt string) string {
	m := hmac.New(sha256.New, []byte(s.opts.ClientSecret))
	m.Write([]byte(id + issuedAt))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
