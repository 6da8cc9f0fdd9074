package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/providerfake/fakekit"
)

const redirect = "http://127.0.0.1:9999/callback"

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func do(t *testing.T, s *Server, method, path, token string, body any) resp {
	t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = s.URL() + path
	}
	r := fakekit.Send(t, s.HTTPClient(), fakekit.NewRequest(t, method, target, token, body))
	return resp{status: r.Status, header: r.Header, body: r.Body}
}

func wantStatus(t *testing.T, r resp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
}

func wantErrorBody(t *testing.T, r resp, status int, category string) map[string]any {
	t.Helper()
	wantStatus(t, r, status)
	m := r.json(t)
	if m["status"] != "error" || m["correlationId"] == nil || m["message"] == nil {
		t.Fatalf("not a HubSpot error body: %s", r.body)
	}
	if category != "" && m["category"] != category {
		t.Fatalf("category = %v, want %s; body %s", m["category"], category, r.body)
	}
	return m
}

func authorize(t *testing.T, s *Server, q url.Values) *url.URL {
	t.Helper()
	r := do(t, s, "GET", s.AuthorizeURL()+"?"+q.Encode(), "", nil)
	wantStatus(t, r, http.StatusFound)
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func authQuery(s *Server) url.Values {
	return url.Values{
		"client_id":    {s.ClientID()},
		"redirect_uri": {redirect},
		"scope":        {"crm.objects.contacts.read crm.objects.contacts.write"},
		"state":        {"st-123"},
	}
}

func TestOAuthAuthorizationCodeWithPKCE(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	verifier := strings.Repeat("v", 50)
	q := authQuery(s)
	q.Set("code_challenge", S256Challenge(verifier))
	q.Set("code_challenge_method", "S256")
	loc := authorize(t, s, q)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect {
		t.Fatalf("redirected to %s", got)
	}
	code := loc.Query().Get("code")
	if code == "" || loc.Query().Get("state") != "st-123" {
		t.Fatalf("redirect query = %v", loc.Query())
	}

	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()},
		"redirect_uri": {redirect}, "code": {code}, "code_verifier": {verifier}}
	r := do(t, s, "POST", "/oauth/v1/token", "", form)
	wantStatus(t, r, http.StatusOK)
	tok := r.json(t)
	if tok["token_type"] != "bearer" || tok["access_token"] == "" || tok["refresh_token"] == "" || tok["expires_in"] != float64(1800) {
		t.Fatalf("token body = %s", r.body)
	}
	access := tok["access_token"].(string)
	refresh := tok["refresh_token"].(string)

	// The access token works and is scoped to the portal.
	wantStatus(t, do(t, s, "POST", "/crm/v3/objects/contacts/search", access, map[string]any{}), http.StatusOK)
	info := do(t, s, "GET", "/oauth/v1/access-tokens/"+access, "", nil)
	wantStatus(t, info, http.StatusOK)
	if m := info.json(t); m["hub_id"] != float64(s.HubID()) || m["token"] != access {
		t.Fatalf("token info = %s", info.body)
	}

	// The code is single use.
	r = do(t, s, "POST", "/oauth/v1/token", "", form)
	wantStatus(t, r, http.StatusBadRequest)
	if m := r.json(t); m["status"] != "BAD_AUTH_CODE" {
		t.Fatalf("reuse body = %s", r.body)
	}

	// Refresh gives a new access token and keeps the refresh token.
	r = do(t, s, "POST", "/oauth/v1/token", "", url.Values{"grant_type": {"refresh_token"}, "client_id": {s.ClientID()},
		"client_secret": {s.ClientSecret()}, "refresh_token": {refresh}})
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["access_token"] == access || m["refresh_token"] != refresh {
		t.Fatalf("refresh body = %s", r.body)
	}
	if s.TokenRequests() != 3 || s.RefreshCount() != 1 || s.CodeExchanges() != 2 {
		t.Fatalf("counters: token=%d refresh=%d code=%d", s.TokenRequests(), s.RefreshCount(), s.CodeExchanges())
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	t.Parallel()
	s := New(t, Options{RedirectURIs: []string{redirect}})
	cases := map[string]func(url.Values){
		"unknown client": func(q url.Values) { q.Set("client_id", "nope") },
		"wrong redirect": func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9999/other") },
		"missing scope":  func(q url.Values) { q.Del("scope") },
		"unknown scope":  func(q url.Values) { q.Set("scope", "crm.objects.deals.read") },
		"plain pkce": func(q url.Values) {
			q.Set("code_challenge", strings.Repeat("a", 43))
			q.Set("code_challenge_method", "plain")
		},
		"short challenge":  func(q url.Values) { q.Set("code_challenge", "abc"); q.Set("code_challenge_method", "S256") },
		"method no challe": func(q url.Values) { q.Set("code_challenge_method", "S256") },
	}
	for name, mutate := range cases {
		q := authQuery(s)
		mutate(q)
		r := do(t, s, "GET", s.AuthorizeURL()+"?"+q.Encode(), "", nil)
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Errorf("%s: status %d location %q", name, r.status, r.header.Get("Location"))
		}
	}

	s.DenyConsent(true)
	loc := authorize(t, s, authQuery(s))
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("code") != "" || loc.Query().Get("state") != "st-123" {
		t.Fatalf("denied redirect = %s", loc)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	newCode := func(challenge string) string {
		q := authQuery(s)
		if challenge != "" {
			q.Set("code_challenge", challenge)
			q.Set("code_challenge_method", "S256")
		}
		return authorize(t, s, q).Query().Get("code")
	}
	base := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()},
			"redirect_uri": {redirect}, "code": {code}}
	}
	wantTokenError := func(name string, r resp, status string) {
		t.Helper()
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d body %s", name, r.status, r.body)
			return
		}
		if m := r.json(t); m["status"] != status || m["correlationId"] == nil {
			t.Errorf("%s: body %s, want status %s", name, r.body, status)
		}
	}

	f := base(newCode(S256Challenge(strings.Repeat("x", 43))))
	f.Set("code_verifier", strings.Repeat("y", 43))
	wantTokenError("pkce mismatch", do(t, s, "POST", "/oauth/v1/token", "", f), "BAD_AUTH_CODE")
	f.Del("code_verifier")
	wantTokenError("pkce missing", do(t, s, "POST", "/oauth/v1/token", "", f), "BAD_AUTH_CODE")

	f = base(newCode(""))
	f.Set("redirect_uri", "http://127.0.0.1:9999/elsewhere")
	wantTokenError("redirect mismatch", do(t, s, "POST", "/oauth/v1/token", "", f), "BAD_REDIRECT_URI")
	f = base(newCode(""))
	f.Set("client_secret", "wrong")
	wantTokenError("bad secret", do(t, s, "POST", "/oauth/v1/token", "", f), "BAD_CLIENT_SECRET")
	f.Set("client_id", "wrong")
	wantTokenError("bad client", do(t, s, "POST", "/oauth/v1/token", "", f), "BAD_CLIENT_ID")
	f = base(newCode(""))
	f.Set("grant_type", "password")
	wantTokenError("bad grant", do(t, s, "POST", "/oauth/v1/token", "", f), "BAD_GRANT_TYPE")

	// JSON is not the documented encoding: the parameters are not seen.
	code := newCode("")
	j := fmt.Sprintf(`{"grant_type":"authorization_code","client_id":%q,"client_secret":%q,"redirect_uri":%q,"code":%q}`,
		s.ClientID(), s.ClientSecret(), redirect, code)
	wantTokenError("json body", do(t, s, "POST", "/oauth/v1/token", "", j), "BAD_GRANT_TYPE")

	// Codes expire.
	f = base(code)
	s.Advance(DefaultCodeTTL + time.Second)
	wantTokenError("expired code", do(t, s, "POST", "/oauth/v1/token", "", f), "BAD_AUTH_CODE")

	// Revoked grant: refresh tokens are refused, access tokens answer 401.
	tok := s.IssueToken()
	s.RevokeGrant()
	wantTokenError("revoked refresh", do(t, s, "POST", "/oauth/v1/token", "", url.Values{"grant_type": {"refresh_token"},
		"client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()}, "refresh_token": {tok.RefreshToken}}), "BAD_REFRESH_TOKEN")
	wantErrorBody(t, do(t, s, "GET", "/crm/v3/lists/1", tok.AccessToken, nil), http.StatusUnauthorized, "INVALID_AUTHENTICATION")
	wantStatus(t, do(t, s, "GET", "/oauth/v1/token", "", nil), http.StatusMethodNotAllowed)
}

func TestAuthenticationAndScopes(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	wantErrorBody(t, do(t, s, "GET", "/crm/v3/properties/contacts", "", nil), http.StatusUnauthorized, "INVALID_AUTHENTICATION")
	wantErrorBody(t, do(t, s, "GET", "/crm/v3/properties/contacts", "garbage", nil), http.StatusUnauthorized, "INVALID_AUTHENTICATION")

	tok := s.IssueToken()
	wantStatus(t, do(t, s, "GET", "/crm/v3/properties/contacts", tok.AccessToken, nil), http.StatusOK)
	s.ExpireAccessTokens()
	m := wantErrorBody(t, do(t, s, "GET", "/crm/v3/properties/contacts", tok.AccessToken, nil), http.StatusUnauthorized, "EXPIRED_AUTHENTICATION")
	if !strings.Contains(m["message"].(string), "expired") {
		t.Fatalf("message = %v", m["message"])
	}
	// The refresh token still works after expiry.
	r := do(t, s, "POST", "/oauth/v1/token", "", url.Values{"grant_type": {"refresh_token"}, "client_id": {s.ClientID()},
		"client_secret": {s.ClientSecret()}, "refresh_token": {tok.RefreshToken}})
	wantStatus(t, r, http.StatusOK)
	wantStatus(t, do(t, s, "GET", "/crm/v3/properties/contacts", r.json(t)["access_token"].(string), nil), http.StatusOK)

	// Tokens expire by themselves too.
	tok2 := s.IssueToken()
	s.Advance(DefaultAccessTokenTTL)
	wantErrorBody(t, do(t, s, "GET", "/crm/v3/properties/contacts", tok2.AccessToken, nil), http.StatusUnauthorized, "EXPIRED_AUTHENTICATION")

	// Missing scopes.
	ro := s.IssueToken("crm.objects.contacts.read")
	m = wantErrorBody(t, do(t, s, "POST", "/crm/v3/objects/contacts", ro.AccessToken, map[string]any{"properties": map[string]any{"email": "a@b.co"}}),
		http.StatusForbidden, "MISSING_SCOPES")
	if !strings.Contains(string(mustJSON(m["errors"])), "crm.objects.contacts.write") {
		t.Fatalf("errors = %v", m["errors"])
	}

	// Private-app tokens never expire and report the portal via account info.
	pat := s.IssuePrivateAppToken()
	s.ExpireAccessTokens()
	s.RevokeGrant()
	r = do(t, s, "GET", "/account-info/v3/details", pat, nil)
	wantStatus(t, r, http.StatusOK)
	if r.json(t)["portalId"] != float64(s.HubID()) {
		t.Fatalf("details = %s", r.body)
	}
	s.RevokeToken(pat)
	wantStatus(t, do(t, s, "GET", "/account-info/v3/details", pat, nil), http.StatusUnauthorized)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestContacts(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	s.AddProperty(Property{Name: "plan", Label: "Plan", Type: "enumeration", FieldType: "select",
		Options: []Option{{Label: "Free", Value: "free"}, {Label: "Pro", Value: "pro"}}})
	tok := s.IssueToken().AccessToken

	r := do(t, s, "POST", "/crm/v3/objects/contacts", tok, map[string]any{"properties": map[string]any{"email": "Ada@Example.com", "firstname": "Ada", "plan": "pro"}})
	wantStatus(t, r, http.StatusCreated)
	created := r.json(t)
	id := created["id"].(string)
	props := created["properties"].(map[string]any)
	if props["email"] != "ada@example.com" || props["plan"] != "pro" || props["hs_object_id"] != id || created["createdAt"] == nil {
		t.Fatalf("create body = %s", r.body)
	}

	m := wantErrorBody(t, do(t, s, "POST", "/crm/v3/objects/contacts", tok, map[string]any{"properties": map[string]any{"email": "ada@example.com"}}),
		http.StatusConflict, "CONFLICT")
	if m["message"] != "Contact already exists. Existing ID: "+id {
		t.Fatalf("conflict message = %v", m["message"])
	}

	r = do(t, s, "GET", "/crm/v3/objects/contacts/ada@example.com?idProperty=email&properties=plan", tok, nil)
	wantStatus(t, r, http.StatusOK)
	got := r.json(t)
	if got["id"] != id || got["properties"].(map[string]any)["plan"] != "pro" {
		t.Fatalf("get body = %s", r.body)
	}
	wantErrorBody(t, do(t, s, "GET", "/crm/v3/objects/contacts/nobody@example.com?idProperty=email", tok, nil), http.StatusNotFound, "")
	wantErrorBody(t, do(t, s, "GET", "/crm/v3/objects/contacts/999999", tok, nil), http.StatusNotFound, "")

	search := map[string]any{"filterGroups": []any{map[string]any{"filters": []any{
		map[string]any{"propertyName": "email", "operator": "EQ", "value": "ADA@example.com"}}}}, "properties": []string{"email", "plan"}, "limit": 1}
	r = do(t, s, "POST", "/crm/v3/objects/contacts/search", tok, search)
	wantStatus(t, r, http.StatusOK)
	sr := r.json(t)
	if sr["total"] != float64(1) || len(sr["results"].([]any)) != 1 {
		t.Fatalf("search body = %s", r.body)
	}

	r = do(t, s, "PATCH", "/crm/v3/objects/contacts/"+id, tok, map[string]any{"properties": map[string]any{"plan": "free", "lastname": "Lovelace"}})
	wantStatus(t, r, http.StatusOK)
	if c, _ := s.Contact("ada@example.com"); c.Properties["plan"] != "free" || c.Properties["lastname"] != "Lovelace" {
		t.Fatalf("stored contact = %+v", c)
	}

	bad := []struct {
		name  string
		props map[string]any
		code  string
	}{
		{"enumeration option", map[string]any{"plan": "enterprise"}, "INVALID_OPTION"},
		{"unknown property", map[string]any{"shoe_size": "42"}, "PROPERTY_DOESNT_EXIST"},
		{"read only", map[string]any{"hs_object_id": "5"}, "READ_ONLY_VALUE"},
		{"email", map[string]any{"email": "not an email"}, "INVALID_EMAIL"},
	}
	for _, b := range bad {
		m := wantErrorBody(t, do(t, s, "PATCH", "/crm/v3/objects/contacts/"+id, tok, map[string]any{"properties": b.props}), http.StatusBadRequest, "VALIDATION_ERROR")
		msg := m["message"].(string)
		if !strings.HasPrefix(msg, "Property values were not valid: ") || !strings.Contains(msg, b.code) {
			t.Errorf("%s: message %q", b.name, msg)
		}
	}
	if c, _ := s.Contact("ada@example.com"); c.Properties["plan"] != "free" {
		t.Fatalf("refused update changed the contact: %+v", c)
	}

	wantErrorBody(t, do(t, s, "POST", "/crm/v3/objects/contacts", tok, `{"properties":`), http.StatusBadRequest, "VALIDATION_ERROR")
	wantErrorBody(t, do(t, s, "POST", "/crm/v3/objects/contacts", tok, `{}`), http.StatusBadRequest, "VALIDATION_ERROR")
	wantErrorBody(t, do(t, s, "POST", "/crm/v3/objects/contacts/search", tok, map[string]any{"filterGroups": []any{map[string]any{"filters": []any{
		map[string]any{"propertyName": "email", "operator": "LIKE", "value": "x"}}}}}), http.StatusBadRequest, "VALIDATION_ERROR")
	wantErrorBody(t, do(t, s, "DELETE", "/crm/v3/objects/contacts/search", tok, nil), http.StatusMethodNotAllowed, "")
	wantErrorBody(t, do(t, s, "PUT", "/crm/v3/objects/contacts/"+id, tok, `{}`), http.StatusMethodNotAllowed, "")
}

func TestSearchPagingAndOperators(t *testing.T) {
	t.Parallel()
	s := New(t, Options{SearchPerSecond: -1})
	tok := s.IssueToken().AccessToken
	for i := 0; i < 5; i++ {
		s.AddContact(map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "company": "Acme"})
	}
	s.AddContact(map[string]string{"email": "other@example.com"})
	body := map[string]any{"filterGroups": []any{map[string]any{"filters": []any{
		map[string]any{"propertyName": "company", "operator": "EQ", "value": "acme"}}}}, "limit": 2}
	var seen []string
	after := ""
	for page := 0; page < 5; page++ {
		if after != "" {
			body["after"] = after
		}
		r := do(t, s, "POST", "/crm/v3/objects/contacts/search", tok, body)
		wantStatus(t, r, http.StatusOK)
		m := r.json(t)
		if m["total"] != float64(5) {
			t.Fatalf("total = %v", m["total"])
		}
		for _, res := range m["results"].([]any) {
			seen = append(seen, res.(map[string]any)["properties"].(map[string]any)["email"].(string))
		}
		p, ok := m["paging"].(map[string]any)
		if !ok {
			break
		}
		after = p["next"].(map[string]any)["after"].(string)
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %v", seen)
	}
	r := do(t, s, "POST", "/crm/v3/objects/contacts/search", tok, map[string]any{"filterGroups": []any{
		map[string]any{"filters": []any{map[string]any{"propertyName": "company", "operator": "NOT_HAS_PROPERTY"}}}}})
	if m := r.json(t); m["total"] != float64(1) {
		t.Fatalf("NOT_HAS_PROPERTY = %s", r.body)
	}
}

func TestProperties(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	s.AddProperty(Property{Name: "tier", Label: "Tier", Type: "enumeration", FieldType: "select",
		Options: []Option{{Label: "Gold", Value: "gold"}}})
	tok := s.IssueToken("crm.schemas.contacts.read").AccessToken
	r := do(t, s, "GET", "/crm/v3/properties/contacts", tok, nil)
	wantStatus(t, r, http.StatusOK)
	var body struct {
		Results []struct {
			Name                 string   `json:"name"`
			Type                 string   `json:"type"`
			FieldType            string   `json:"fieldType"`
			Options              []Option `json:"options"`
			ModificationMetadata struct {
				ReadOnlyValue bool `json:"readOnlyValue"`
			} `json:"modificationMetadata"`
		} `json:"results"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, p := range body.Results {
		found[p.Name] = true
		if p.Name == "tier" && (p.Type != "enumeration" || len(p.Options) != 1 || p.Options[0].Value != "gold") {
			t.Fatalf("tier = %+v", p)
		}
		if p.Name == "hs_object_id" && !p.ModificationMetadata.ReadOnlyValue {
			t.Fatalf("hs_object_id not read only")
		}
	}
	if !found["email"] || !found["tier"] || !found["lifecyclestage"] {
		t.Fatalf("properties = %v", found)
	}
	wantStatus(t, do(t, s, "GET", "/crm/v3/properties/contacts/tier", tok, nil), http.StatusOK)
	wantErrorBody(t, do(t, s, "GET", "/crm/v3/properties/contacts/nope", tok, nil), http.StatusNotFound, "")
	wantErrorBody(t, do(t, s, "GET", "/crm/v3/properties/spaceships", tok, nil), http.StatusBadRequest, "VALIDATION_ERROR")
}

func TestListsAndMemberships(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	tok := s.IssueToken().AccessToken
	manual := s.AddList("Trial users", ListManual)
	snapshot := s.AddList("Imported", ListSnapshot)
	dynamic := s.AddList("Active users", ListDynamic)
	c1 := s.AddContact(map[string]string{"email": "one@example.com"})
	c2 := s.AddContact(map[string]string{"email": "two@example.com"})

	r := do(t, s, "POST", "/crm/v3/lists/search", tok, map[string]any{"query": "users", "offset": 0, "processingTypes": []string{"MANUAL", "DYNAMIC"}})
	wantStatus(t, r, http.StatusOK)
	sr := r.json(t)
	if sr["total"] != float64(2) || sr["hasMore"] != false || len(sr["lists"].([]any)) != 2 {
		t.Fatalf("search = %s", r.body)
	}
	first := sr["lists"].([]any)[0].(map[string]any)
	if first["listId"] != manual || first["processingType"] != "MANUAL" || first["objectTypeId"] != "0-1" {
		t.Fatalf("first list = %v", first)
	}

	r = do(t, s, "PUT", "/crm/v3/lists/"+manual+"/memberships/add", tok, []string{c1, c2, "424242"})
	wantStatus(t, r, http.StatusOK)
	var upd struct {
		Added   []string `json:"recordsIdsAdded"`
		Removed []string `json:"recordIdsRemoved"`
		Missing []string `json:"recordIdsMissing"`
	}
	if err := json.Unmarshal(r.body, &upd); err != nil {
		t.Fatal(err)
	}
	if strings.Join(upd.Added, ",") != c1+","+c2 || len(upd.Removed) != 0 || strings.Join(upd.Missing, ",") != "424242" {
		t.Fatalf("add = %s", r.body)
	}
	// Adding again is ignored.
	r = do(t, s, "PUT", "/crm/v3/lists/"+manual+"/memberships/add", tok, []string{c1})
	if err := json.Unmarshal(r.body, &upd); err != nil || len(upd.Added) != 0 {
		t.Fatalf("re-add = %s", r.body)
	}
	if got := s.ListMembers(manual); strings.Join(got, ",") != c1+","+c2 {
		t.Fatalf("members = %v", got)
	}
	r = do(t, s, "PUT", "/crm/v3/lists/"+manual+"/memberships/remove", tok, []string{c2})
	wantStatus(t, r, http.StatusOK)
	if err := json.Unmarshal(r.body, &upd); err != nil || strings.Join(upd.Removed, ",") != c2 {
		t.Fatalf("remove = %s", r.body)
	}
	wantStatus(t, do(t, s, "PUT", "/crm/v3/lists/"+snapshot+"/memberships/add", tok, []string{c2}), http.StatusOK)

	r = do(t, s, "GET", "/crm/v3/lists/"+manual+"/memberships", tok, nil)
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["total"] != float64(1) || m["results"].([]any)[0].(map[string]any)["recordId"] != c1 {
		t.Fatalf("memberships = %s", r.body)
	}
	r = do(t, s, "GET", "/crm/v3/lists/"+manual, tok, nil)
	wantStatus(t, r, http.StatusOK)
	if l := r.json(t)["list"].(map[string]any); l["size"] != float64(1) || l["name"] != "Trial users" {
		t.Fatalf("list = %s", r.body)
	}

	wantErrorBody(t, do(t, s, "PUT", "/crm/v3/lists/"+dynamic+"/memberships/add", tok, []string{c1}), http.StatusBadRequest, "VALIDATION_ERROR")
	if len(s.ListMembers(dynamic)) != 0 {
		t.Fatal("dynamic list was changed")
	}
	wantErrorBody(t, do(t, s, "PUT", "/crm/v3/lists/9999/memberships/add", tok, []string{c1}), http.StatusNotFound, "")
	wantErrorBody(t, do(t, s, "GET", "/crm/v3/lists/9999", tok, nil), http.StatusNotFound, "")
	wantErrorBody(t, do(t, s, "PUT", "/crm/v3/lists/"+manual+"/memberships/add", tok, `{"ids":["1"]}`), http.StatusBadRequest, "VALIDATION_ERROR")
	wantErrorBody(t, do(t, s, "POST", "/crm/v3/lists/"+manual+"/memberships/add", tok, []string{c1}), http.StatusMethodNotAllowed, "")

	ro := s.IssueToken("crm.lists.read").AccessToken
	wantErrorBody(t, do(t, s, "PUT", "/crm/v3/lists/"+manual+"/memberships/add", ro, []string{c1}), http.StatusForbidden, "MISSING_SCOPES")

	// The outbound request is logged exactly.
	reqs := s.RequestsTo("PUT", "/crm/v3/lists/"+snapshot+"/memberships/add")
	if len(reqs) != 1 || string(reqs[0].Body) != `["`+c2+`"]` || reqs[0].Header.Get("Authorization") != "Bearer "+tok {
		t.Fatalf("logged = %+v", reqs)
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	s := New(t, Options{RateLimitMax: 3})
	tok := s.IssueToken().AccessToken
	for i := 0; i < 3; i++ {
		r := do(t, s, "GET", "/crm/v3/properties/contacts", tok, nil)
		wantStatus(t, r, http.StatusOK)
		if r.header.Get("X-HubSpot-RateLimit-Max") != "3" || r.header.Get("X-HubSpot-RateLimit-Remaining") != fmt.Sprint(2-i) ||
			r.header.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "10000" {
			t.Fatalf("headers = %v", r.header)
		}
		if r.header.Get("X-HubSpot-RateLimit-Daily") != "" {
			t.Fatal("OAuth calls must not carry the daily headers")
		}
	}
	r := do(t, s, "GET", "/crm/v3/properties/contacts", tok, nil)
	wantStatus(t, r, http.StatusTooManyRequests)
	m := r.json(t)
	if m["policyName"] != "TEN_SECONDLY_ROLLING" || m["errorType"] != "RATE_LIMIT" || m["status"] != "error" || r.header.Get("X-HubSpot-RateLimit-Remaining") != "0" {
		t.Fatalf("429 = %s %v", r.body, r.header)
	}
	s.Advance(10 * time.Second)
	wantStatus(t, do(t, s, "GET", "/crm/v3/properties/contacts", tok, nil), http.StatusOK)

	pat := s.IssuePrivateAppToken()
	r = do(t, s, "GET", "/crm/v3/properties/contacts", pat, nil)
	wantStatus(t, r, http.StatusOK)
	if r.header.Get("X-HubSpot-RateLimit-Daily") != fmt.Sprint(DefaultDailyLimit) || r.header.Get("X-HubSpot-RateLimit-Daily-Remaining") != fmt.Sprint(DefaultDailyLimit-1) {
		t.Fatalf("private app headers = %v", r.header)
	}

	s.ForceRateLimit(1, "DAILY")
	r = do(t, s, "GET", "/crm/v3/properties/contacts", pat, nil)
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.json(t)["policyName"] != "DAILY" {
		t.Fatalf("forced = %s", r.body)
	}
	wantStatus(t, do(t, s, "GET", "/crm/v3/properties/contacts", pat, nil), http.StatusOK)
}

func TestSearchSecondlyLimit(t *testing.T) {
	t.Parallel()
	s := New(t, Options{SearchPerSecond: 2})
	tok := s.IssueToken().AccessToken
	wantStatus(t, do(t, s, "POST", "/crm/v3/objects/contacts/search", tok, map[string]any{}), http.StatusOK)
	wantStatus(t, do(t, s, "POST", "/crm/v3/objects/contacts/search", tok, map[string]any{}), http.StatusOK)
	r := do(t, s, "POST", "/crm/v3/objects/contacts/search", tok, map[string]any{})
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.json(t)["policyName"] != "SECONDLY" {
		t.Fatalf("body = %s", r.body)
	}
	s.Advance(time.Second)
	wantStatus(t, do(t, s, "POST", "/crm/v3/objects/contacts/search", tok, map[string]any{}), http.StatusOK)
}

func TestFailNextAndHang(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	tok := s.IssueToken().AccessToken
	s.FailNext(2, http.StatusBadGateway, "<html>bad gateway</html>", map[string]string{"Retry-After": "1"})
	for i := 0; i < 2; i++ {
		r := do(t, s, "GET", "/crm/v3/lists/1", tok, nil)
		if r.status != http.StatusBadGateway || r.header.Get("Retry-After") != "1" || string(r.body) != "<html>bad gateway</html>" {
			t.Fatalf("injected = %d %s", r.status, r.body)
		}
	}
	wantStatus(t, do(t, s, "GET", "/crm/v3/lists/1", tok, nil), http.StatusNotFound)

	s.InjectFailure(1, Failure{Status: 503, Body: "down", PathPrefix: "/oauth/v1/token"})
	wantStatus(t, do(t, s, "GET", "/crm/v3/lists/1", tok, nil), http.StatusNotFound)
	wantStatus(t, do(t, s, "POST", "/oauth/v1/token", "", url.Values{}), http.StatusServiceUnavailable)

	s.Hang()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"/crm/v3/lists/1", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	_, err := s.HTTPClient().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung request err = %v", err)
	}

	// A request that is hanging completes once released.
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", s.URL()+"/crm/v3/lists/1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := s.HTTPClient().Do(req)
		if err != nil {
			done <- -1
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	s.kit.Log.AwaitCount(t, "GET", "/crm/v3/lists/1", 6)
	s.Release()
	if code := <-done; code != http.StatusNotFound {
		t.Fatalf("released status = %d", code)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := New(t, Options{RateLimitMax: -1, SearchPerSecond: -1})
	tok := s.IssueToken().AccessToken
	list := s.AddList("All", ListManual)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			email := fmt.Sprintf("c%d@example.com", i)
			r := do(t, s, "POST", "/crm/v3/objects/contacts", tok, map[string]any{"properties": map[string]any{"email": email}})
			if r.status != http.StatusCreated {
				errs <- string(r.body)
				return
			}
			id := r.json(t)["id"].(string)
			if r := do(t, s, "PUT", "/crm/v3/lists/"+list+"/memberships/add", tok, []string{id}); r.status != http.StatusOK {
				errs <- string(r.body)
			}
			do(t, s, "POST", "/crm/v3/objects/contacts/search", tok, map[string]any{})
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := len(s.ListMembers(list)); n != 32 {
		t.Fatalf("members = %d", n)
	}
	if n := len(s.Contacts()); n != 32 {
		t.Fatalf("contacts = %d", n)
	}
}

func TestSearchDelay(t *testing.T) {
	t.Parallel()
	s := New(t, Options{SearchDelay: time.Minute})
	tok := s.IssueToken().AccessToken
	wantStatus(t, do(t, s, "POST", "/crm/v3/objects/contacts", tok, map[string]any{"properties": map[string]any{"email": "new@example.com"}}), http.StatusCreated)
	q := map[string]any{"filterGroups": []any{map[string]any{"filters": []any{
		map[string]any{"propertyName": "email", "operator": "EQ", "value": "new@example.com"}}}}}
	if r := do(t, s, "POST", "/crm/v3/objects/contacts/search", tok, q); r.json(t)["total"] != float64(0) {
		t.Fatalf("fresh contact visible: %s", r.body)
	}
	wantErrorBody(t, do(t, s, "POST", "/crm/v3/objects/contacts", tok, map[string]any{"properties": map[string]any{"email": "new@example.com"}}), http.StatusConflict, "CONFLICT")
	s.Advance(time.Minute)
	if r := do(t, s, "POST", "/crm/v3/objects/contacts/search", tok, q); r.json(t)["total"] != float64(1) {
		t.Fatalf("contact still hidden: %s", r.body)
	}
}

// batchInputs builds the inputs of a batch create: one per email, traced (objectWriteTraceId
// "t<i>") when traced.
func batchInputs(traced bool, emails ...string) map[string]any {
	inputs := make([]any, len(emails))
	for i, e := range emails {
		in := map[string]any{"properties": map[string]any{"email": e}, "associations": []any{}}
		if traced {
			in["objectWriteTraceId"] = fmt.Sprintf("t%d", i)
		}
		inputs[i] = in
	}
	return map[string]any{"inputs": inputs}
}

func TestContactBatchCreate(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	tok := s.IssueToken().AccessToken
	const path = "/crm/v3/objects/contacts/batch/create"

	t.Run("every input created: 201 with each result's trace id", func(t *testing.T) {
		r := do(t, s, "POST", path, tok, batchInputs(true, "a1@example.com", "A2@example.com"))
		wantStatus(t, r, http.StatusCreated)
		m := r.json(t)
		results := m["results"].([]any)
		if m["status"] != "COMPLETE" || len(results) != 2 || m["errors"] != nil || m["completedAt"] == nil {
			t.Fatalf("body = %s", r.body)
		}
		for i, x := range results {
			res := x.(map[string]any)
			email := res["properties"].(map[string]any)["email"]
			c, ok := s.Contact(fmt.Sprint(email))
			if !ok || res["id"] != c.ID || res["objectWriteTraceId"] != fmt.Sprintf("t%d", i) {
				t.Fatalf("result %d = %v (stored %+v)", i, res, c)
			}
		}
		if c, _ := s.Contact("a2@example.com"); c.Properties["email"] != "a2@example.com" {
			t.Fatalf("email not lower-cased: %+v", c)
		}
	})

	t.Run("multi-status: a conflict and a refused value fail alone, the others are created", func(t *testing.T) {
		existing := s.AddContact(map[string]string{"email": "old@example.com"})
		body := batchInputs(true, "new1@example.com", "old@example.com", "not an email", "new2@example.com", "new1@example.com")
		r := do(t, s, "POST", path, tok, body)
		wantStatus(t, r, http.StatusMultiStatus)
		m := r.json(t)
		if len(m["results"].([]any)) != 2 || m["numErrors"] != float64(3) {
			t.Fatalf("body = %s", r.body)
		}
		new1, _ := s.Contact("new1@example.com")
		want := map[string]string{ // trace id → category and the start of the message
			"t1": "CONFLICT Contact already exists. Existing ID: " + existing,
			"t2": "VALIDATION_ERROR Property values were not valid: ",
			"t4": "CONFLICT Contact already exists. Existing ID: " + new1.ID,
		}
		for _, x := range m["errors"].([]any) {
			e := x.(map[string]any)
			ids := e["context"].(map[string]any)["objectWriteTraceId"].([]any)
			got := fmt.Sprint(e["category"], " ", e["message"])
			if len(ids) != 1 || e["status"] != "error" || !strings.HasPrefix(got, want[fmt.Sprint(ids[0])]) || want[fmt.Sprint(ids[0])] == "" {
				t.Fatalf("error %v; want one of %v", e, want)
			}
			delete(want, fmt.Sprint(ids[0]))
		}
		if len(want) != 0 {
			t.Fatalf("errors not reported: %v", want)
		}
		if _, ok := s.Contact("new2@example.com"); !ok {
			t.Fatal("the valid input after the refused ones was not created")
		}
	})

	t.Run("without trace ids the batch is all or nothing", func(t *testing.T) {
		s.AddContact(map[string]string{"email": "taken@example.com"})
		before := len(s.Contacts())
		m := wantErrorBody(t, do(t, s, "POST", path, tok, batchInputs(false, "fresh@example.com", "taken@example.com")), http.StatusConflict, "CONFLICT")
		if !strings.HasPrefix(fmt.Sprint(m["message"]), "Contact already exists. Existing ID: ") {
			t.Fatalf("409 = %v", m)
		}
		wantErrorBody(t, do(t, s, "POST", path, tok, batchInputs(false, "fresh@example.com", "bad email")), http.StatusBadRequest, "VALIDATION_ERROR")
		if n := len(s.Contacts()); n != before {
			t.Fatalf("a refused batch created %d contacts", n-before)
		}
	})

	t.Run("at most 100 inputs", func(t *testing.T) {
		emails := make([]string, MaxBatchInputs+1)
		for i := range emails {
			emails[i] = fmt.Sprintf("many%d@example.com", i)
		}
		wantErrorBody(t, do(t, s, "POST", path, tok, batchInputs(true, emails...)), http.StatusBadRequest, "VALIDATION_ERROR")
		if _, ok := s.Contact("many0@example.com"); ok {
			t.Fatal("an oversized batch created contacts")
		}
		wantStatus(t, do(t, s, "POST", path, tok, batchInputs(true, emails[:MaxBatchInputs]...)), http.StatusCreated)
	})

	t.Run("malformed batches are refused", func(t *testing.T) {
		for name, body := range map[string]any{
			"no inputs":           `{}`,
			"empty inputs":        `{"inputs":[]}`,
			"no properties":       `{"inputs":[{"objectWriteTraceId":"x"}]}`,
			"duplicate trace ids": `{"inputs":[{"properties":{"email":"d1@example.com"},"objectWriteTraceId":"x"},{"properties":{"email":"d2@example.com"},"objectWriteTraceId":"x"}]}`,
			"associations":        `{"inputs":[{"properties":{"email":"d3@example.com"},"associations":[{"to":{"id":"1"},"types":[]}]}]}`,
			"not JSON":            `{"inputs":`,
		} {
			r := do(t, s, "POST", path, tok, body)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s: status %d, body %s", name, r.status, r.body)
			}
		}
	})

	t.Run("rate limits and scopes apply to the batch as one call", func(t *testing.T) {
		limited := New(t, Options{RateLimitMax: 1})
		lt := limited.IssueToken().AccessToken
		r := do(t, limited, "POST", path, lt, batchInputs(true, "r1@example.com", "r2@example.com"))
		wantStatus(t, r, http.StatusCreated)
		if r.header.Get("X-HubSpot-RateLimit-Remaining") != "0" {
			t.Fatalf("a batch of two counted as more than one call: %v", r.header)
		}
		r = do(t, limited, "POST", path, lt, batchInputs(true, "r3@example.com"))
		wantStatus(t, r, http.StatusTooManyRequests)
		if r.json(t)["policyName"] != "TEN_SECONDLY_ROLLING" {
			t.Fatalf("429 = %s", r.body)
		}
		if _, ok := limited.Contact("r3@example.com"); ok {
			t.Fatal("a rate-limited batch created a contact")
		}
		ro := s.IssueToken("crm.objects.contacts.read").AccessToken
		wantErrorBody(t, do(t, s, "POST", path, ro, batchInputs(true, "scope@example.com")), http.StatusForbidden, "MISSING_SCOPES")
	})
}
