package zoom

import (
	"crypto/subtle"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/providerfake/fakekit"
)

// Authorization codes live five minutes ("OAuth for Zoom Apps": "The OAuth
// code expires in 5 minutes").
const codeTTL = 5 * time.Minute

var redirectWith = fakekit.RedirectWith

// errorPage is what the authorize endpoint shows when it must not redirect
// (unknown app or a redirect URL outside the allow list).
func errorPage(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, msg)
}

// handleAuthorize models GET https://zoom.us/oauth/authorize ("OAuth 2.0"
// in the Zoom developer docs, "Using Proof Key for Code Exchange (PKCE)").
// The user is taken to have signed in and clicked Allow (or, with
// SetDenyConsent, Decline).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	clientID, redirectURI, state := q.Get("client_id"), q.Get("redirect_uri"), q.Get("state")
	if clientID != s.opts.ClientID {
		errorPage(w, "Invalid client_id: "+clientID)
		return
	}
	if !slices.Contains(s.opts.RedirectURIs, redirectURI) {
		errorPage(w, "Invalid redirect: "+redirectURI)
		return
	}
	fail := func(code, desc string) {
		v := url.Values{"error": {code}}
		if desc != "" {
			v.Set("error_description", desc)
		}
		if state != "" {
			v.Set("state", state)
		}
		redirectWith(w, r, redirectURI, v)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "response_type must be code")
		return
	}
	for _, sc := range strings.Fields(q.Get("scope")) {
		if !slices.Contains(s.opts.Scopes, sc) {
			fail("invalid_scope", "The requested scope is not configured for this app")
			return
		}
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" {
		switch method {
		case "", "plain":
			method = "plain"
		case "S256":
			if !fakekit.IsS256Challenge(challenge, true) {
				fail("invalid_request", "Invalid code_challenge")
				return
			}
		default:
			fail("invalid_request", "Invalid code_challenge_method")
			return
		}
	} else if method != "" {
		fail("invalid_request", "Missing code_challenge")
		return
	}
	s.mu.Lock()
	deny := s.deny
	code := ""
	if !deny {
		code = randToken(32)
		s.codes.Add(code, fakekit.Code{ClientID: s.opts.ClientID, RedirectURI: redirectURI, Challenge: challenge,
			ChallengeMethod: method, Expires: s.opts.Now().Add(codeTTL)})
	}
	s.mu.Unlock()
	if deny {
		fail("access_denied", "")
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
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	APIURL       string `json:"api_url"`
}

type oauthError struct {
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

func tokenError(w http.ResponseWriter, status int, reason, code string) {
	writeJSON(w, status, nil, oauthError{reason, code})
}

// handleToken models POST https://zoom.us/oauth/token: client credentials
// in HTTP Basic, parameters form-encoded in the body or in the query string;
// grants authorization_code (with PKCE), refresh_token and
// account_credentials (Server-to-Server OAuth).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, body []byte) {
	s.tokenRequests.Add(1)
	if s.failToken.Serve(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		tokenError(w, http.StatusMethodNotAllowed, "Method Not Allowed", "invalid_request")
		return
	}
	form := r.URL.Query()
	if len(body) > 0 {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
			tokenError(w, http.StatusBadRequest, "Unsupported content type; use application/x-www-form-urlencoded", "invalid_request")
			return
		}
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			tokenError(w, http.StatusBadRequest, "Malformed request body", "invalid_request")
			return
		}
		for k, v := range bf {
			form[k] = v
		}
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id == "" || secret == "" {
		tokenError(w, http.StatusBadRequest, "Client ID or client secret is missing.", "invalid_request")
		return
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) != 1 || subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "Invalid client_id or client_secret", "invalid_client")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	scope := strings.Join(s.opts.Scopes, " ")
	resp := tokenResponse{TokenType: "bearer", ExpiresIn: 3599, Scope: scope, APIURL: s.kit.URL()}
	switch gt := form.Get("grant_type"); gt {
	case "":
		tokenError(w, http.StatusBadRequest, "Missing grant type.", "invalid_request")
		return
	case "authorization_code":
		code := form.Get("code")
		switch _, problem := s.codes.Redeem(code, fakekit.Redemption{ClientID: s.opts.ClientID,
			RedirectURI: form.Get("redirect_uri"), Verifier: form.Get("code_verifier")}, now); problem {
		case fakekit.CodeUnknown, fakekit.CodeExpired:
			tokenError(w, http.StatusBadRequest, "Invalid authorization code "+code, "invalid_request")
			return
		case fakekit.CodeRedirectMismatch:
			tokenError(w, http.StatusBadRequest, "Redirect URI mismatch.", "invalid_request")
			return
		case fakekit.CodeVerifierMismatch:
			tokenError(w, http.StatusBadRequest, "Invalid code_verifier", "invalid_request")
			return
		}
		g := &grant{}
		s.grants = append(s.grants, g)
		resp.AccessToken = s.newAccessLocked(g, scope)
		resp.RefreshToken = s.newRefreshLocked(g, scope)
	case "refresh_token":
		rt, ok := s.refresh[form.Get("refresh_token")]
		if !ok || rt.used || rt.grant.revoked {
			tokenError(w, http.StatusBadRequest, "Invalid Token!", "invalid_request")
			return
		}
		if !s.opts.KeepPreviousRefreshToken {
			rt.used = true
		}
		resp.AccessToken = s.newAccessLocked(rt.grant, rt.scope)
		resp.RefreshToken = s.newRefreshLocked(rt.grant, rt.scope)
		resp.Scope = rt.scope
		s.refreshCount.Add(1)
	case "account_credentials":
		if form.Get("account_id") != s.opts.AccountID {
			tokenError(w, http.StatusBadRequest, "Invalid account_id", "invalid_request")
			return
		}
		g := &grant{}
		s.grants = append(s.grants, g)
		resp.AccessToken = s.newAccessLocked(g, scope)
	default:
		tokenError(w, http.StatusBadRequest, "Grant type is not supported from token endpoint.", "unsupported_grant_type")
		return
	}
	writeJSON(w, http.StatusOK, nil, resp)
}
