package salesforce

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

const callback = "http://127.0.0.1/oauth/callback"

type resp struct {
	status int
	header http.Header
	body   string
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func do(t *testing.T, s *Server, method, url, token, contentType, body string) resp {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	r := fakekit.Send(t, s.Client(), req)
	return resp{r.Status, r.Header, string(r.Body)}
}

func api(t *testing.T, s *Server, method, path, token, body string) resp {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return do(t, s, method, s.APIBaseURL()+path, token, ct, body)
}

func query(t *testing.T, s *Server, token, soql string) resp {
	t.Helper()
	return api(t, s, "GET", "/query?q="+url.QueryEscape(soql), token, "")
}

func wantBody(t *testing.T, r resp, status int, body string) {
	t.Helper()
	fakekit.WantJSON(t, r.status, r.body, status, body)
}

func pkce() (verifier, challenge string) {
	return fakekit.PKCE("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
}

// authorize runs the consent step and returns the redirect Location.
func authorize(t *testing.T, s *Server, params url.Values) *url.URL {
	t.Helper()
	r := do(t, s, "GET", s.AuthorizeURL()+"?"+params.Encode(), "", "", "")
	if r.status != http.StatusFound {
		t.Fatalf("authorize status %d: %s", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func authParams(s *Server, challenge string) url.Values {
	v := url.Values{"response_type": {"code"}, "client_id": {s.ClientID()}, "redirect_uri": {callback},
		"state": {"st-123"}, "scope": {"api refresh_token"}}
	if challenge != "" {
		v.Set("code_challenge", challenge)
		v.Set("code_challenge_method", "S256")
	}
	return v
}

func tokenReq(t *testing.T, s *Server, form url.Values) resp {
	t.Helper()
	return do(t, s, "POST", s.TokenURL(), "", "application/x-www-form-urlencoded", form.Encode())
}

func codeForm(s *Server, code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {s.ClientID()},
		"client_secret": {s.ClientSecret()}, "redirect_uri": {callback}, "code_verifier": {verifier}}
}

func TestOAuthWebServerFlowWithPKCE(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()

	verifier, challenge := pkce()
	loc := authorize(t, s, authParams(s, challenge))
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
		t.Fatalf("redirected to %s", got)
	}
	if loc.Query().Get("state") != "st-123" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect query %v", loc.Query())
	}

	r := tokenReq(t, s, codeForm(s, loc.Query().Get("code"), verifier))
	if r.status != 200 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	var tok map[string]string
	r.json(t, &tok)
	for _, k := range []string{"access_token", "refresh_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"} {
		if tok[k] == "" {
			t.Errorf("token response lacks %s: %s", k, r.body)
		}
	}
	if tok["instance_url"] != s.URL() || tok["token_type"] != "Bearer" || tok["scope"] != "api refresh_token" {
		t.Errorf("token response %v", tok)
	}
	if want := s.signature(tok["id"], tok["issued_at"]); tok["signature"] != want {
		t.Errorf("signature %s, want %s", tok["signature"], want)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}

	q := query(t, s, tok["access_token"], "SELECT Id, Name FROM Campaign WHERE IsActive = true")
	wantBody(t, q, 200, `{"totalSize":0,"done":true,"records":[]}`)
	if got := q.header.Get("Sforce-Limit-Info"); got != "api-usage=1/100000" {
		t.Errorf("Sforce-Limit-Info %q", got)
	}

	// The code is single use.
	r = tokenReq(t, s, codeForm(s, loc.Query().Get("code"), verifier))
	wantBody(t, r, 400, `{"error":"invalid_grant","error_description":"expired authorization code"}`)
	if s.TokenRequests() != 2 {
		t.Errorf("TokenRequests = %d", s.TokenRequests())
	}
}

func TestOAuthTokenErrors(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()

	verifier, challenge := pkce()
	code := func() string { return authorize(t, s, authParams(s, challenge)).Query().Get("code") }

	f := codeForm(s, code(), "wrong-verifier-wrong-verifier-wrong-verifier")
	wantBody(t, tokenReq(t, s, f), 400, `{"error":"invalid_grant","error_description":"invalid code verifier"}`)

	f = codeForm(s, code(), "")
	wantBody(t, tokenReq(t, s, f), 400, `{"error":"invalid_grant","error_description":"invalid code verifier"}`)

	f = codeForm(s, code(), verifier)
	f.Set("redirect_uri", "http://127.0.0.1/other")
	wantBody(t, tokenReq(t, s, f), 400, `{"error":"redirect_uri_mismatch","error_description":"redirect_uri must match configuration"}`)

	f = codeForm(s, code(), verifier)
	f.Set("client_secret", "nope")
	wantBody(t, tokenReq(t, s, f), 400, `{"error":"invalid_client","error_description":"invalid client credentials"}`)

	f = codeForm(s, code(), verifier)
	f.Set("client_id", "someone-else")
	wantBody(t, tokenReq(t, s, f), 400, `{"error":"invalid_client_id","error_description":"client identifier invalid"}`)

	f = codeForm(s, code(), verifier)
	f.Set("grant_type", "password")
	wantBody(t, tokenReq(t, s, f), 400, `{"error":"unsupported_grant_type","error_description":"grant type not supported"}`)

	// Credentials in JSON instead of a form are refused.
	r := do(t, s, "POST", s.TokenURL(), "", "application/json", `{"grant_type":"authorization_code"}`)
	if r.status != 400 {
		t.Fatalf("JSON token request: %d", r.status)
	}
	r = do(t, s, "GET", s.TokenURL(), "", "", "")
	wantBody(t, r, 400, `{"error":"invalid_request","error_description":"must use HTTP POST"}`)
}

func TestAuthorizeRefusals(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()

	p := authParams(s, "")
	p.Set("redirect_uri", "https://evil.example/cb")
	r := do(t, s, "GET", s.AuthorizeURL()+"?"+p.Encode(), "", "", "")
	if r.status != 400 || r.header.Get("Location") != "" || !strings.Contains(r.body, "redirect_uri_mismatch") {
		t.Fatalf("unregistered redirect_uri: %d %q %q", r.status, r.header.Get("Location"), r.body)
	}

	p = authParams(s, "")
	p.Set("client_id", "unknown")
	r = do(t, s, "GET", s.AuthorizeURL()+"?"+p.Encode(), "", "", "")
	if r.status != 400 || !strings.Contains(r.body, "invalid_client_id") {
		t.Fatalf("unknown client: %d %q", r.status, r.body)
	}

	p = authParams(s, "")
	p.Set("scope", "api bogus_scope")
	loc := authorize(t, s, p)
	if loc.Query().Get("error") != "invalid_scope" || loc.Query().Get("state") != "st-123" {
		t.Fatalf("bad scope redirect %v", loc.Query())
	}

	p = authParams(s, "not-a-sha256-challenge")
	loc = authorize(t, s, p)
	if loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("bad challenge redirect %v", loc.Query())
	}

	s.SetDenyConsent(true)
	loc = authorize(t, s, authParams(s, ""))
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("error_description") != "end-user denied authorization" ||
		loc.Query().Get("code") != "" || loc.Query().Get("state") != "st-123" {
		t.Fatalf("denied redirect %v", loc.Query())
	}
}

func TestRefreshKeepsRefreshTokenByDefault(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken("")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()}}
	for i := 0; i < 2; i++ {
		r := tokenReq(t, s, form)
		if r.status != 200 {
			t.Fatalf("refresh %d: %d %s", i, r.status, r.body)
		}
		var body map[string]any
		r.json(t, &body)
		if _, ok := body["refresh_token"]; ok {
			t.Fatalf("refresh response has a refresh_token: %s", r.body)
		}
		if body["instance_url"] != s.URL() || body["access_token"] == "" {
			t.Fatalf("refresh response %s", r.body)
		}
		if q := query(t, s, body["access_token"].(string), "SELECT Id FROM Contact"); q.status != 200 {
			t.Fatalf("new access token refused: %d", q.status)
		}
	}
	if s.RefreshCount() != 2 {
		t.Fatalf("RefreshCount = %d", s.RefreshCount())
	}

	// The old access token still works until expired.
	if q := query(t, s, tok.AccessToken, "SELECT Id FROM Contact"); q.status != 200 {
		t.Fatalf("original access token: %d", q.status)
	}
	s.ExpireAccessTokens()
	wantBody(t, query(t, s, tok.AccessToken, "SELECT Id FROM Contact"), 401,
		`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)

	s.RevokeGrant()
	wantBody(t, tokenReq(t, s, form), 400, `{"error":"invalid_grant","error_description":"expired access/refresh token"}`)
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	s := New(Options{RotateRefreshTokens: true})
	defer s.Close()
	tok := s.IssueToken("api refresh_token")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()}}
	r := tokenReq(t, s, form)
	var body map[string]string
	r.json(t, &body)
	if body["refresh_token"] == "" || body["refresh_token"] == tok.RefreshToken {
		t.Fatalf("rotation gave %q", body["refresh_token"])
	}
	wantBody(t, tokenReq(t, s, form), 400, `{"error":"invalid_grant","error_description":"expired access/refresh token"}`)
	form.Set("refresh_token", body["refresh_token"])
	if r := tokenReq(t, s, form); r.status != 200 {
		t.Fatalf("rotated token refused: %s", r.body)
	}
}

func TestRevokeGrantRefusesAccessTokens(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken("")
	s.RevokeGrant()
	wantBody(t, query(t, s, tok.AccessToken, "SELECT Id FROM Contact"), 401,
		`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
	wantBody(t, query(t, s, "", "SELECT Id FROM Contact"), 401,
		`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
	wantBody(t, query(t, s, "garbage", "SELECT Id FROM Contact"), 401,
		`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
}

func TestContactCreateAndValidation(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken("").AccessToken

	wantBody(t, api(t, s, "POST", "/sobjects/Contact", tok, `{"FirstName":"Ada","Email":"ada@example.com"}`), 400,
		`[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]`)
	wantBody(t, api(t, s, "POST", "/sobjects/Contact", tok, `{"LastName":"","Email":"ada@example.com"}`), 400,
		`[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]`)
	wantBody(t, api(t, s, "POST", "/sobjects/Contact", tok, `{"LastName":"Lovelace","Shoe":"9"}`), 400,
		`[{"message":"No such column 'Shoe' on sobject of type Contact","errorCode":"INVALID_FIELD"}]`)
	wantBody(t, api(t, s, "POST", "/sobjects/Contact", tok, `{"Id":"003000000000001AAA","LastName":"L"}`), 400,
		`[{"message":"The Id field should not be specified in the sobject data.","errorCode":"INVALID_FIELD"}]`)
	wantBody(t, api(t, s, "POST", "/sobjects/Contact", tok, `{"LastName":"L","Email":"not-an-email"}`), 400,
		`[{"message":"Email: invalid email address: not-an-email","errorCode":"INVALID_EMAIL_ADDRESS","fields":["Email"]}]`)
	if r := api(t, s, "POST", "/sobjects/Contact", tok, `{"LastName":`); r.status != 400 || !strings.Contains(r.body, "JSON_PARSER_ERROR") {
		t.Fatalf("bad JSON: %d %s", r.status, r.body)
	}
	if r := api(t, s, "POST", "/sobjects/Contact", tok, `{"LastName":42}`); r.status != 400 || !strings.Contains(r.body, "JSON_PARSER_ERROR") {
		t.Fatalf("wrong type: %d %s", r.status, r.body)
	}
	r := do(t, s, "POST", s.APIBaseURL()+"/sobjects/Contact", tok, "text/plain", `{"LastName":"L"}`)
	if r.status != 415 || !strings.Contains(r.body, "UNSUPPORTED_MEDIA_TYPE") {
		t.Fatalf("text/plain: %d %s", r.status, r.body)
	}
	if got := len(s.Records("Contact")); got != 0 {
		t.Fatalf("refused creates stored %d contacts", got)
	}

	r = api(t, s, "POST", "/sobjects/Contact", tok, `{"FirstName":"Ada","LastName":"Lovelace","Email":"Ada@Example.com"}`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
		Errors  []any  `json:"errors"`
	}
	r.json(t, &created)
	if !created.Success || len(created.ID) != 18 || !strings.HasPrefix(created.ID, "003") || created.Errors == nil {
		t.Fatalf("create body %s", r.body)
	}
	rec, ok := s.Record("Contact", created.ID)
	if !ok || rec["Email"] != "Ada@Example.com" || rec["Name"] != "Ada Lovelace" {
		t.Fatalf("stored %v", rec)
	}

	g := api(t, s, "GET", "/sobjects/Contact/"+created.ID[:15], tok, "")
	if g.status != 200 || !strings.HasPrefix(g.body, `{"attributes":{"type":"Contact"`) || !strings.Contains(g.body, `"LastName":"Lovelace"`) {
		t.Fatalf("get: %d %s", g.status, g.body)
	}
}

func TestContactUpdateAndRestrictedPicklist(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken("").AccessToken
	id := s.AddContact(map[string]any{"LastName": "Hopper", "Email": "grace@example.com"})

	// Unrestricted picklist: any value is stored.
	if r := api(t, s, "PATCH", "/sobjects/Contact/"+id, tok, `{"LeadSource":"Conference booth"}`); r.status != 204 {
		t.Fatalf("unrestricted picklist: %d %s", r.status, r.body)
	}
	s.SetPicklist("Contact", "LeadSource", []string{"Web", "Other"}, true)
	wantBody(t, api(t, s, "PATCH", "/sobjects/Contact/"+id, tok, `{"LeadSource":"Carrier pigeon"}`), 400,
		`[{"message":"Lead Source: bad value for restricted picklist field: Carrier pigeon","errorCode":"INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST","fields":["LeadSource"]}]`)
	r := api(t, s, "PATCH", "/sobjects/Contact/"+id, tok, `{"LeadSource":"Web","Title":"Rear Admiral"}`)
	if r.status != 204 || r.body != "" || r.header.Get("Sforce-Limit-Info") == "" {
		t.Fatalf("patch: %d %q", r.status, r.body)
	}
	rec, _ := s.Record("Contact", id)
	if rec["LeadSource"] != "Web" || rec["Title"] != "Rear Admiral" {
		t.Fatalf("after patch %v", rec)
	}

	wantBody(t, api(t, s, "PATCH", "/sobjects/Contact/"+id, tok, `{"LastName":null}`), 400,
		`[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]`)
	wantBody(t, api(t, s, "PATCH", "/sobjects/Contact/"+id, tok, `{"Name":"x"}`), 400,
		`[{"message":"Unable to create/update fields: Name. Please check the security settings of this field and verify that it is read/write for your profile or permission set.","errorCode":"INVALID_FIELD_FOR_INSERT_UPDATE","fields":["Name"]}]`)
	wantBody(t, api(t, s, "PATCH", "/sobjects/Contact/003000000000999AAA", tok, `{"Title":"x"}`), 404,
		`[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]`)
	wantBody(t, api(t, s, "PUT", "/sobjects/Contact/"+id, tok, `{"Title":"x"}`), 405,
		`[{"message":"HTTP Method 'PUT' not allowed. Allowed are GET,PATCH,DELETE,HEAD","errorCode":"METHOD_NOT_ALLOWED"}]`)

	d := api(t, s, "GET", "/sobjects/Contact/describe", tok, "")
	var desc struct {
		Name   string  `json:"name"`
		Fields []Field `json:"fields"`
	}
	d.json(t, &desc)
	var ls *Field
	for i := range desc.Fields {
		if desc.Fields[i].Name == "LeadSource" {
			ls = &desc.Fields[i]
		}
	}
	if desc.Name != "Contact" || ls == nil || !ls.RestrictedPicklist || len(ls.PicklistValues) != 2 ||
		ls.PicklistValues[0] != (PicklistValue{Active: true, Label: "Web", Value: "Web"}) || !ls.Updateable || !ls.Nillable {
		t.Fatalf("describe: %s", d.body)
	}
	for _, k := range []string{`"label":"Last Name"`, `"type":"email"`, `"length":80`, `"picklistValues":[]`} {
		if !strings.Contains(d.body, k) {
			t.Errorf("describe lacks %s", k)
		}
	}
}

func TestSOQLQueries(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken("").AccessToken
	obrien := s.AddContact(map[string]any{"LastName": "O'Brien", "Email": "pat.obrien@example.com"})
	s.AddContact(map[string]any{"LastName": "Other", "Email": "other@example.com"})
	active := s.AddCampaign("Spring Webinar", true)
	s.AddCampaign("Old Campaign", false)
	active2 := s.AddCampaign("Autumn Launch", true)
	member := s.AddCampaignMember(active, obrien)

	wantBody(t, query(t, s, tok, "SELECT Id FROM Contact WHERE Email = 'PAT.OBRIEN@example.com' LIMIT 1"), 200,
		fmt.Sprintf(`{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Contact","url":"/services/data/v60.0/sobjects/Contact/%s"},"Id":"%s"}]}`, obrien, obrien))
	r := query(t, s, tok, `select id, LastName from contact where LastName = 'O\'Brien'`)
	if !strings.Contains(r.body, `"LastName":"O'Brien"`) || !strings.Contains(r.body, `"totalSize":1`) {
		t.Fatalf("escaped quote: %s", r.body)
	}
	wantBody(t, query(t, s, tok, "SELECT Id, Name FROM Campaign WHERE IsActive = true ORDER BY Name"), 200,
		fmt.Sprintf(`{"totalSize":2,"done":true,"records":[
			{"attributes":{"type":"Campaign","url":"/services/data/v60.0/sobjects/Campaign/%s"},"Id":"%s","Name":"Autumn Launch"},
			{"attributes":{"type":"Campaign","url":"/services/data/v60.0/sobjects/Campaign/%s"},"Id":"%s","Name":"Spring Webinar"}]}`,
			active2, active2, active, active))
	wantBody(t, query(t, s, tok, fmt.Sprintf("SELECT Id FROM CampaignMember WHERE CampaignId = '%s' AND ContactId = '%s'", active[:15], obrien)), 200,
		fmt.Sprintf(`{"totalSize":1,"done":true,"records":[{"attributes":{"type":"CampaignMember","url":"/services/data/v60.0/sobjects/CampaignMember/%s"},"Id":"%s"}]}`, member, member))
	if r := query(t, s, tok, fmt.Sprintf("SELECT Id FROM CampaignMember WHERE CampaignId = '%s' AND ContactId = '%s'", active2, obrien)); !strings.Contains(r.body, `"totalSize":0`) {
		t.Fatalf("no membership: %s", r.body)
	}

	// Refusals.
	cases := []struct{ soql, code, contains string }{
		{"SELECT Id FROM Contact WHERE", "MALFORMED_QUERY", "unexpected token: <EOF>"},
		{"SELECT Id FROM Contact WHERE Email = 'x", "MALFORMED_QUERY", ""},
		{"SELECT Id FROM Contact WHERE LastName = 'O'Brien'", "MALFORMED_QUERY", "unexpected token: 'Brien'"},
		{"SELECT Id FROM Contact WHERE Email = 'a\\qb'", "MALFORMED_QUERY", "Illegal character sequence"},
		{"SELECT Id FROM Contact WHERE Email = 'a\\%b'", "MALFORMED_QUERY", "Illegal character sequence"},
		{"SELEC Id FROM Contact", "MALFORMED_QUERY", "unexpected token: 'SELEC'"},
		{"SELECT Id FROM Contact GROUP BY Email", "MALFORMED_QUERY", "unexpected token: 'GROUP'"},
		{"SELECT Id, Shoe FROM Contact", "INVALID_FIELD", "No such column 'Shoe' on entity 'Contact'"},
		{"SELECT Id FROM Lead", "INVALID_TYPE", "sObject type 'Lead' is not supported"},
		{"SELECT Id FROM CampaignMember WHERE ContactId = 'abc'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: abc"},
		{"SELECT Id FROM Campaign WHERE IsActive = 'true'", "INVALID_QUERY_FILTER_OPERATOR", ""},
	}
	for _, c := range cases {
		r := query(t, s, tok, c.soql)
		var errs []apiError
		r.json(t, &errs)
		if r.status != 400 || len(errs) != 1 || errs[0].ErrorCode != c.code || !strings.Contains(errs[0].Message, c.contains) {
			t.Errorf("%s: %d %s", c.soql, r.status, r.body)
		}
	}
	r = query(t, s, tok, "SELECT Id FROM Contact WHERE")
	var errs []apiError
	r.json(t, &errs)
	if want := "\nSELECT Id FROM Contact WHERE\n                            ^\nERROR at Row:1:Column:29\nunexpected token: <EOF>"; errs[0].Message != want {
		t.Errorf("message %q\nwant    %q", errs[0].Message, want)
	}
	if r := api(t, s, "GET", "/query", tok, ""); r.status != 400 || !strings.Contains(r.body, "MALFORMED_QUERY") {
		t.Errorf("missing q: %d %s", r.status, r.body)
	}
	if r := api(t, s, "POST", "/query?q=SELECT+Id+FROM+Contact", tok, `{}`); r.status != 405 {
		t.Errorf("POST query: %d", r.status)
	}
}

func TestCampaignMembers(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken("").AccessToken
	contact := s.AddContact(map[string]any{"LastName": "Turing"})
	campaign := s.AddCampaign("Launch", true)

	body := fmt.Sprintf(`{"CampaignId":"%s","ContactId":"%s","Status":"Responded"}`, campaign, contact)
	r := api(t, s, "POST", "/sobjects/CampaignMember", tok, body)
	if r.status != 201 {
		t.Fatalf("create member: %d %s", r.status, r.body)
	}
	var created struct{ ID string }
	r.json(t, &created)
	rec, _ := s.Record("CampaignMember", created.ID)
	if rec["HasResponded"] != true || rec["ContactId"] != contact {
		t.Fatalf("member %v", rec)
	}
	wantBody(t, api(t, s, "POST", "/sobjects/CampaignMember", tok, body), 400,
		`[{"message":"Already a campaign member.","errorCode":"DUPLICATE_VALUE","fields":[]}]`)
	wantBody(t, api(t, s, "POST", "/sobjects/CampaignMember", tok, fmt.Sprintf(`{"ContactId":"%s"}`, contact)), 400,
		`[{"message":"Required fields are missing: [CampaignId]","errorCode":"REQUIRED_FIELD_MISSING","fields":["CampaignId"]}]`)
	wantBody(t, api(t, s, "POST", "/sobjects/CampaignMember", tok, fmt.Sprintf(`{"CampaignId":"%s","ContactId":"nonsense"}`, campaign)), 400,
		`[{"message":"Contact ID: id value of incorrect type: nonsense","errorCode":"MALFORMED_ID","fields":["ContactId"]}]`)
	wantBody(t, api(t, s, "POST", "/sobjects/CampaignMember", tok, fmt.Sprintf(`{"CampaignId":"%s","ContactId":"%s"}`, campaign, newID("003", 999999))), 400,
		`[{"message":"invalid cross reference id","errorCode":"INVALID_CROSS_REFERENCE_KEY","fields":["ContactId"]}]`)

	if r := api(t, s, "DELETE", "/sobjects/CampaignMember/"+created.ID, tok, ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantBody(t, api(t, s, "DELETE", "/sobjects/CampaignMember/"+created.ID, tok, ""), 404,
		`[{"message":"entity is deleted","errorCode":"ENTITY_IS_DELETED","fields":[]}]`)
	wantBody(t, api(t, s, "DELETE", "/sobjects/CampaignMember/"+newID("00v", 777), tok, ""), 404,
		`[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]`)
	wantBody(t, api(t, s, "DELETE", "/sobjects/CampaignMember/"+contact, tok, ""), 404,
		`[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]`)
	// Re-adding after removal works.
	if r := api(t, s, "POST", "/sobjects/CampaignMember", tok, body); r.status != 201 {
		t.Fatalf("re-add: %d %s", r.status, r.body)
	}
	if r := api(t, s, "GET", "/sobjects/Lead/describe", tok, ""); r.status != 404 {
		t.Fatalf("unknown sObject: %d", r.status)
	}
}

func TestRequestLimitAndUsageHeader(t *testing.T) {
	t.Parallel()
	s := New(Options{APILimit: 3})
	defer s.Close()
	tok := s.IssueToken("").AccessToken
	for i := 1; i <= 3; i++ {
		r := query(t, s, tok, "SELECT Id FROM Contact")
		if r.status != 200 || r.header.Get("Sforce-Limit-Info") != fmt.Sprintf("api-usage=%d/3", i) {
			t.Fatalf("call %d: %d %q", i, r.status, r.header.Get("Sforce-Limit-Info"))
		}
	}
	r := query(t, s, tok, "SELECT Id FROM Contact")
	wantBody(t, r, 403, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`)
	if r.header.Get("Sforce-Limit-Info") != "api-usage=3/3" {
		t.Fatalf("header at limit %q", r.header.Get("Sforce-Limit-Info"))
	}

	s.SetAPIUsage(10, 1000)
	if r := query(t, s, tok, "SELECT Id FROM Contact"); r.status != 200 {
		t.Fatalf("after reset %d", r.status)
	}
	s.ForceRequestLimit(true)
	wantBody(t, query(t, s, tok, "SELECT Id FROM Contact"), 403, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`)
	s.ForceRequestLimit(false)
	if used, limit := s.APIUsage(); used != 11 || limit != 1000 {
		t.Fatalf("usage %d/%d", used, limit)
	}
}

func TestFailNextAndRequestLog(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken("").AccessToken
	s.FailNext(2, 503, `[{"message":"down","errorCode":"SERVER_UNAVAILABLE"}]`, map[string]string{"Retry-After": "7"})
	for i := 0; i < 2; i++ {
		r := query(t, s, tok, "SELECT Id FROM Contact")
		if r.status != 503 || r.header.Get("Retry-After") != "7" || !strings.Contains(r.body, "SERVER_UNAVAILABLE") {
			t.Fatalf("failure %d: %d %v %s", i, r.status, r.header, r.body)
		}
	}
	if r := query(t, s, tok, "SELECT Id FROM Contact"); r.status != 200 {
		t.Fatalf("after failures %d", r.status)
	}
	s.FailNextToken(1, 500, `{"error":"server_error"}`, nil)
	if r := tokenReq(t, s, url.Values{}); r.status != 500 {
		t.Fatalf("token failure %d", r.status)
	}

	s.ResetRequests()
	api(t, s, "POST", "/sobjects/Contact", tok, `{"LastName":"Log"}`)
	req, ok := s.LastRequest("/services/data/")
	if !ok || req.Method != "POST" || req.Path != "/services/data/v60.0/sobjects/Contact" ||
		req.Header.Get("Authorization") != "Bearer "+tok || string(req.Body) != `{"LastName":"Log"}` ||
		req.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("logged %+v", req)
	}
	if len(s.Requests()) != 1 || s.APIRequests() != 4 {
		t.Fatalf("requests %d, api %d", len(s.Requests()), s.APIRequests())
	}
}

func TestHangProvokesClientTimeout(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken("").AccessToken
	s.Hang()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.APIBaseURL()+"/query?q=SELECT+Id+FROM+Contact", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	_, err := s.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung request: %v", err)
	}

	// A request made while hung completes once released.
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", s.APIBaseURL()+"/query?q=SELECT+Id+FROM+Contact", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := s.Client().Do(req)
		if err != nil {
			done <- -1
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	s.kit.Log.AwaitCount(t, "", "", 2)
	select {
	case <-done:
		t.Fatal("request answered while hung")
	default:
	}
	s.Release()
	if code := <-done; code != 200 {
		t.Fatalf("after release: %d", code)
	}
}

func TestCloseReleasesHungRequests(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	tok := s.IssueToken("").AccessToken
	s.Hang()
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", s.APIBaseURL()+"/query?q=SELECT+Id+FROM+Contact", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := s.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	s.kit.Log.AwaitCount(t, "", "", 1)
	s.Close()
	<-errc
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken("").AccessToken
	campaign := s.AddCampaign("Busy", true)
	contact := s.AddContact(map[string]any{"LastName": "Racer"})
	var wg sync.WaitGroup
	created := make(chan int, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest("POST", s.APIBaseURL()+"/sobjects/CampaignMember",
				strings.NewReader(fmt.Sprintf(`{"CampaignId":"%s","ContactId":"%s"}`, campaign, contact)))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			res, err := s.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			created <- res.StatusCode
			_ = s.Requests()
			_ = s.TokenRequests()
		}(i)
	}
	wg.Wait()
	close(created)
	ok := 0
	for c := range created {
		if c == 201 {
			ok++
		}
	}
	if ok != 1 || len(s.Records("CampaignMember")) != 1 {
		t.Fatalf("%d creates succeeded, %d members", ok, len(s.Records("CampaignMember")))
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	id := newID("003", 12345)
	if len(id) != 18 {
		t.Fatal(id)
	}
	if full, ok := normalizeID(id[:15]); !ok || full != id {
		t.Fatalf("normalize %s → %s", id[:15], full)
	}
	if _, ok := normalizeID(id[:15] + "ZZZ"); ok && idSuffix(id[:15]) != "ZZZ" {
		t.Fatal("bad suffix accepted")
	}
	// Worked example: upper-case letters at chunk positions 3, none, 1.
	if got := idSuffix("001A0000006Vm9r"); got != "IAC" {
		t.Fatalf("suffix %s", got)
	}
}
