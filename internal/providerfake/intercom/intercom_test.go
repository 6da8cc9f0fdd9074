package intercom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/providerfake/fakekit"
)

const redirect = "http://127.0.0.1:9999/intercom/callback"

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
	req := fakekit.NewRequest(t, method, target, token, body)
	req.Header.Set("Intercom-Version", "2.14")
	r := fakekit.Send(t, s.HTTPClient(), req)
	return resp{status: r.Status, header: r.Header, body: r.Body}
}

func wantStatus(t *testing.T, r resp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
}

// wantError checks Intercom's error.list body.
func wantError(t *testing.T, r resp, status int, code, message string) {
	t.Helper()
	wantStatus(t, r, status)
	var e errorList
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body: %v: %s", err, r.body)
	}
	if e.Type != "error.list" || e.RequestID == "" || len(e.Errors) != 1 || e.Errors[0].Code != code {
		t.Fatalf("error body = %s, want code %s", r.body, code)
	}
	if message != "" && !strings.Contains(e.Errors[0].Message, message) {
		t.Fatalf("message = %q, want it to contain %q", e.Errors[0].Message, message)
	}
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

func TestOAuthFlow(t *testing.T) {
	t.Parallel()
	s := New(t, Options{RedirectURIs: []string{redirect}})
	verifier := strings.Repeat("k", 64)
	loc := authorize(t, s, url.Values{"client_id": {s.ClientID()}, "state": {"xyz"},
		"code_challenge": {S256Challenge(verifier)}, "code_challenge_method": {"S256"}})
	if loc.Scheme+"://"+loc.Host+loc.Path != redirect || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect = %s", loc)
	}
	code := loc.Query().Get("code")
	form := url.Values{"code": {code}, "client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()}, "code_verifier": {verifier}}
	r := do(t, s, "POST", "/auth/eagle/token", "", form)
	wantStatus(t, r, http.StatusOK)
	body := r.json(t)
	tok, _ := body["access_token"].(string)
	if body["token_type"] != "Bearer" || tok == "" || body["token"] != tok {
		t.Fatalf("token body = %s", r.body)
	}
	if _, ok := body["refresh_token"]; ok {
		t.Fatal("Intercom issues no refresh token")
	}
	if _, ok := body["expires_in"]; ok {
		t.Fatal("Intercom tokens do not expire")
	}

	me := do(t, s, "GET", "/me", tok, nil)
	wantStatus(t, me, http.StatusOK)
	m := me.json(t)
	if m["type"] != "admin" || m["app"].(map[string]any)["id_code"] != s.AppIDCode() {
		t.Fatalf("/me = %s", me.body)
	}

	// Code reuse.
	r = do(t, s, "POST", "/auth/eagle/token", "", form)
	wantStatus(t, r, http.StatusBadRequest)
	if r.json(t)["error"] != "invalid_grant" {
		t.Fatalf("reuse = %s", r.body)
	}
	if s.TokenRequests() != 2 || s.CodeExchanges() != 2 {
		t.Fatalf("counters %d %d", s.TokenRequests(), s.CodeExchanges())
	}

	// Tokens never expire; revocation makes them 401.
	s.Advance(365 * 24 * time.Hour)
	wantStatus(t, do(t, s, "GET", "/me", tok, nil), http.StatusOK)
	s.RevokeGrant()
	wantError(t, do(t, s, "GET", "/me", tok, nil), http.StatusUnauthorized, "unauthorized", "Access Token Invalid")

	// JSON-encoded token requests are accepted too.
	code = authorize(t, s, url.Values{"client_id": {s.ClientID()}}).Query().Get("code")
	j := fmt.Sprintf(`{"code":%q,"client_id":%q,"client_secret":%q}`, code, s.ClientID(), s.ClientSecret())
	wantStatus(t, do(t, s, "POST", "/auth/eagle/token", "", j), http.StatusOK)
}

func TestOAuthRefusals(t *testing.T) {
	t.Parallel()
	s := New(t, Options{RedirectURIs: []string{redirect}})
	for name, q := range map[string]url.Values{
		"unknown client":     {"client_id": {"nope"}},
		"wrong redirect":     {"client_id": {s.ClientID()}, "redirect_uri": {"http://127.0.0.1:9999/evil"}},
		"plain pkce":         {"client_id": {s.ClientID()}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"plain"}},
		"method w/o challen": {"client_id": {s.ClientID()}, "code_challenge_method": {"S256"}},
	} {
		r := do(t, s, "GET", s.AuthorizeURL()+"?"+q.Encode(), "", nil)
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Errorf("%s: %d %q", name, r.status, r.header.Get("Location"))
		}
	}
	s.DenyConsent(true)
	loc := authorize(t, s, url.Values{"client_id": {s.ClientID()}, "state": {"s1"}})
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "s1" || loc.Query().Get("code") != "" {
		t.Fatalf("denied = %s", loc)
	}
	s.DenyConsent(false)

	newCode := func(challenge string) string {
		q := url.Values{"client_id": {s.ClientID()}, "redirect_uri": {redirect}}
		if challenge != "" {
			q.Set("code_challenge", challenge)
			q.Set("code_challenge_method", "S256")
		}
		return authorize(t, s, q).Query().Get("code")
	}
	tokenErr := func(name string, f url.Values, status int, code string) {
		t.Helper()
		r := do(t, s, "POST", "/auth/eagle/token", "", f)
		if r.status != status || r.json(t)["error"] != code {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	base := func(code string) url.Values {
		return url.Values{"code": {code}, "client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()}}
	}
	f := base(newCode(S256Challenge(strings.Repeat("a", 43))))
	f.Set("code_verifier", strings.Repeat("b", 43))
	tokenErr("pkce mismatch", f, http.StatusBadRequest, "invalid_grant")
	f = base(newCode(""))
	f.Set("redirect_uri", "http://127.0.0.1:9999/other")
	tokenErr("redirect mismatch", f, http.StatusBadRequest, "invalid_grant")
	f = base(newCode(""))
	f.Set("client_secret", "wrong")
	tokenErr("bad secret", f, http.StatusUnauthorized, "invalid_client")
	f = base(newCode(""))
	f.Set("grant_type", "refresh_token")
	tokenErr("refresh grant", f, http.StatusBadRequest, "unsupported_grant_type")
	f = base(newCode(""))
	s.Advance(DefaultCodeTTL + time.Second)
	tokenErr("expired code", f, http.StatusBadRequest, "invalid_grant")
	tokenErr("missing code", base(""), http.StatusBadRequest, "invalid_request")
	wantStatus(t, do(t, s, "GET", "/auth/eagle/token", "", nil), http.StatusMethodNotAllowed)
}

func TestAuthVersionAndRateLimit(t *testing.T) {
	t.Parallel()
	s := New(t, Options{RateLimit: 3})
	// No credentials: 401 and no rate-limit headers.
	r := do(t, s, "GET", "/tags", "", nil)
	wantError(t, r, http.StatusUnauthorized, "unauthorized", "Access Token Invalid")
	if r.header.Get("X-RateLimit-Limit") != "" {
		t.Fatal("rate-limit headers sent without credentials")
	}
	wantError(t, do(t, s, "GET", "/tags", "bogus", nil), http.StatusUnauthorized, "unauthorized", "")

	tok := s.IssueAccessToken()
	for i := 0; i < 3; i++ {
		r := do(t, s, "GET", "/tags", tok, nil)
		wantStatus(t, r, http.StatusOK)
		reset, err := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64)
		if r.header.Get("X-RateLimit-Limit") != "3" || r.header.Get("X-RateLimit-Remaining") != fmt.Sprint(2-i) || err != nil || reset < time.Now().Unix() {
			t.Fatalf("headers = %v", r.header)
		}
	}
	r = do(t, s, "GET", "/tags", tok, nil)
	wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded", "Exceeded rate limit of 3 in 10_seconds")
	if r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("429 headers = %v", r.header)
	}
	// Another app has its own window.
	other := s.IssueToken()
	wantStatus(t, do(t, s, "GET", "/tags", other, nil), http.StatusOK)
	s.Advance(10 * time.Second)
	wantStatus(t, do(t, s, "GET", "/tags", tok, nil), http.StatusOK)

	s.ForceRateLimit(1)
	wantError(t, do(t, s, "GET", "/tags", tok, nil), http.StatusTooManyRequests, "rate_limit_exceeded", "")

	// Intercom-Version: optional, but must be known when sent.
	req, _ := http.NewRequest("GET", s.URL()+"/tags", nil)
	req.Header.Set("Authorization", "Bearer "+other)
	req.Header.Set("Intercom-Version", "9.9")
	res, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad version status = %d", res.StatusCode)
	}
	req.Header.Del("Intercom-Version")
	res, err = s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("no version status = %d", res.StatusCode)
	}

	strict := New(t, Options{RequireVersionHeader: true})
	req, _ = http.NewRequest("GET", strict.URL()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+strict.IssueToken())
	res, err = strict.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("strict missing version = %d", res.StatusCode)
	}
}

func TestContactsCreateUpdateConflict(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	s.AddDataAttribute(DataAttribute{Name: "plan", DataType: "string", Options: []string{"free", "pro"}})
	s.AddDataAttribute(DataAttribute{Name: "seats", DataType: "integer"})
	tok := s.IssueToken()

	r := do(t, s, "POST", "/contacts", tok, map[string]any{"role": "user", "email": "ada@example.com", "external_id": "u-1",
		"name": "Ada", "custom_attributes": map[string]any{"plan": "pro", "seats": 3}})
	wantStatus(t, r, http.StatusOK)
	c := r.json(t)
	id := c["id"].(string)
	if c["type"] != "contact" || c["role"] != "user" || c["email"] != "ada@example.com" || c["external_id"] != "u-1" ||
		c["custom_attributes"].(map[string]any)["seats"] != float64(3) || c["workspace_id"] != s.AppIDCode() {
		t.Fatalf("create = %s", r.body)
	}
	if _, ok := c["phone"]; !ok {
		t.Fatal("null fields must be present")
	}

	wantError(t, do(t, s, "POST", "/contacts", tok, map[string]any{"email": "ADA@example.com"}), http.StatusConflict, "conflict",
		"A contact matching those details already exists with id="+id)
	wantError(t, do(t, s, "POST", "/contacts", tok, map[string]any{"external_id": "u-1", "email": "x@example.com"}), http.StatusConflict, "conflict", id)
	// Leads may share an email.
	wantStatus(t, do(t, s, "POST", "/contacts", tok, map[string]any{"role": "lead", "email": "ada@example.com"}), http.StatusOK)

	wantError(t, do(t, s, "POST", "/contacts", tok, map[string]any{"role": "admin", "email": "b@example.com"}), http.StatusBadRequest, "parameter_invalid", "role")
	wantError(t, do(t, s, "POST", "/contacts", tok, map[string]any{"name": "nobody"}), http.StatusBadRequest, "parameter_invalid", "")
	wantError(t, do(t, s, "POST", "/contacts", tok, map[string]any{"email": "c@example.com", "custom_attributes": map[string]any{"shoe": 1}}),
		http.StatusBadRequest, "parameter_invalid", "'shoe' does not exist")
	wantError(t, do(t, s, "POST", "/contacts", tok, map[string]any{"email": "c@example.com", "custom_attributes": map[string]any{"seats": "many"}}),
		http.StatusBadRequest, "parameter_invalid", "integer")
	wantError(t, do(t, s, "POST", "/contacts", tok, map[string]any{"email": "c@example.com", "custom_attributes": map[string]any{"plan": "gold"}}),
		http.StatusBadRequest, "parameter_invalid", "one of")
	wantError(t, do(t, s, "POST", "/contacts", tok, `{"email":`), http.StatusBadRequest, "bad_request", "")
	if len(s.Contacts()) != 2 {
		t.Fatalf("refused creates stored contacts: %d", len(s.Contacts()))
	}

	r = do(t, s, "PUT", "/contacts/"+id, tok, map[string]any{"name": "Ada Lovelace", "phone": "+441234", "custom_attributes": map[string]any{"plan": "free"}})
	wantStatus(t, r, http.StatusOK)
	got, _ := s.ContactByID(id)
	if got.Name != "Ada Lovelace" || got.Phone != "+441234" || got.CustomAttributes["plan"] != "free" || got.CustomAttributes["seats"] != float64(3) || got.Email != "ada@example.com" {
		t.Fatalf("after update = %+v", got)
	}
	wantError(t, do(t, s, "PUT", "/contacts/000000000000000000000000", tok, map[string]any{"name": "x"}), http.StatusNotFound, "not_found", "User Not Found")
	wantError(t, do(t, s, "PATCH", "/contacts/"+id, tok, map[string]any{"name": "x"}), http.StatusMethodNotAllowed, "method_not_allowed", "")
	wantStatus(t, do(t, s, "GET", "/contacts/"+id, tok, nil), http.StatusOK)

	// The outbound request is logged exactly.
	reqs := s.RequestsTo("PUT", "/contacts/"+id)
	var sent map[string]any
	if len(reqs) != 1 || reqs[0].JSON(&sent) != nil || sent["name"] != "Ada Lovelace" || reqs[0].Header.Get("Intercom-Version") != "2.14" {
		t.Fatalf("logged = %+v", reqs)
	}
}

func TestContactSearch(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	s.AddDataAttribute(DataAttribute{Name: "plan", DataType: "string"})
	tok := s.IssueToken()
	a := s.AddContact(ContactInput{Email: "ada@example.com", ExternalID: "u-1", CustomAttributes: map[string]any{"plan": "pro"}})
	s.AddContact(ContactInput{Email: "bob@example.org", ExternalID: "u-2", Role: "lead"})
	for i := 0; i < 4; i++ {
		s.AddContact(ContactInput{Email: fmt.Sprintf("bulk%d@example.net", i)})
	}
	search := func(q any, pag map[string]any) map[string]any {
		t.Helper()
		body := map[string]any{"query": q}
		if pag != nil {
			body["pagination"] = pag
		}
		r := do(t, s, "POST", "/contacts/search", tok, body)
		wantStatus(t, r, http.StatusOK)
		return r.json(t)
	}
	res := search(map[string]any{"field": "email", "operator": "=", "value": "ADA@example.com"}, nil)
	if res["type"] != "list" || res["total_count"] != float64(1) || res["data"].([]any)[0].(map[string]any)["id"] != a {
		t.Fatalf("by email = %v", res)
	}
	res = search(map[string]any{"field": "external_id", "operator": "=", "value": "u-2"}, nil)
	if res["total_count"] != float64(1) {
		t.Fatalf("by external_id = %v", res)
	}
	res = search(map[string]any{"operator": "OR", "value": []any{
		map[string]any{"field": "external_id", "operator": "=", "value": "u-1"},
		map[string]any{"operator": "AND", "value": []any{
			map[string]any{"field": "role", "operator": "=", "value": "lead"},
			map[string]any{"field": "email", "operator": "$", "value": ".org"},
		}},
	}}, nil)
	if res["total_count"] != float64(2) {
		t.Fatalf("nested = %v", res)
	}
	res = search(map[string]any{"field": "custom_attributes.plan", "operator": "IN", "value": []string{"pro", "free"}}, nil)
	if res["total_count"] != float64(1) {
		t.Fatalf("custom attr = %v", res)
	}

	// Paging with starting_after.
	seen := 0
	pag := map[string]any{"per_page": 4}
	for i := 0; i < 5; i++ {
		res = search(map[string]any{"field": "email", "operator": "~", "value": "@"}, pag)
		seen += len(res["data"].([]any))
		pages := res["pages"].(map[string]any)
		if pages["type"] != "pages" || pages["total_pages"] != float64(2) {
			t.Fatalf("pages = %v", pages)
		}
		next, ok := pages["next"].(map[string]any)
		if !ok {
			break
		}
		pag = map[string]any{"per_page": 4, "starting_after": next["starting_after"]}
	}
	if seen != 6 {
		t.Fatalf("paged over %d contacts", seen)
	}

	bad := []any{
		map[string]any{"field": "shoe_size", "operator": "=", "value": "1"},
		map[string]any{"field": "created_at", "operator": ">=", "value": 1},
		map[string]any{"field": "email", "operator": "IN", "value": "x"},
		map[string]any{"field": "email", "operator": "LIKE", "value": "x"},
		map[string]any{"operator": "XOR", "value": []any{}},
		map[string]any{"operator": "AND", "value": []any{map[string]any{"operator": "OR", "value": []any{
			map[string]any{"operator": "AND", "value": []any{map[string]any{"field": "email", "operator": "=", "value": "x"}}}}}}},
	}
	for i, q := range bad {
		wantError(t, do(t, s, "POST", "/contacts/search", tok, map[string]any{"query": q}), http.StatusBadRequest, "parameter_invalid", "")
		_ = i
	}
	wantError(t, do(t, s, "POST", "/contacts/search", tok, map[string]any{}), http.StatusBadRequest, "parameter_not_found", "query")
}

func TestSearchDelay(t *testing.T) {
	t.Parallel()
	s := New(t, Options{SearchDelay: time.Minute})
	tok := s.IssueToken()
	wantStatus(t, do(t, s, "POST", "/contacts", tok, map[string]any{"email": "new@example.com"}), http.StatusOK)
	q := map[string]any{"query": map[string]any{"field": "email", "operator": "=", "value": "new@example.com"}}
	if r := do(t, s, "POST", "/contacts/search", tok, q); r.json(t)["total_count"] != float64(0) {
		t.Fatalf("fresh contact visible: %s", r.body)
	}
	// The create-conflict path still sees it.
	wantError(t, do(t, s, "POST", "/contacts", tok, map[string]any{"email": "new@example.com"}), http.StatusConflict, "conflict", "")
	s.Advance(time.Minute)
	if r := do(t, s, "POST", "/contacts/search", tok, q); r.json(t)["total_count"] != float64(1) {
		t.Fatalf("contact still hidden: %s", r.body)
	}
}

func TestTagsAndDataAttributes(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	tok := s.IssueToken()
	vip := s.AddTag("VIP")
	s.AddTag("Trial")
	c := s.AddContact(ContactInput{Email: "ada@example.com"})

	r := do(t, s, "GET", "/tags", tok, nil)
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["type"] != "list" || len(m["data"].([]any)) != 2 || m["data"].([]any)[0].(map[string]any)["name"] != "VIP" {
		t.Fatalf("tags = %s", r.body)
	}

	r = do(t, s, "POST", "/contacts/"+c+"/tags", tok, map[string]any{"id": vip})
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["type"] != "tag" || m["id"] != vip || m["name"] != "VIP" || m["applied_by"] == nil || m["applied_at"] == nil {
		t.Fatalf("attach = %s", r.body)
	}
	n, _ := strconv.Atoi(vip)
	wantStatus(t, do(t, s, "POST", "/contacts/"+c+"/tags", tok, map[string]any{"id": n}), http.StatusOK) // numeric ids too; idempotent
	if got := s.ContactTags(c); len(got) != 1 || got[0].Name != "VIP" {
		t.Fatalf("contact tags = %v", got)
	}
	res := do(t, s, "POST", "/contacts/search", tok, map[string]any{"query": map[string]any{"field": "tag_id", "operator": "=", "value": vip}})
	if res.json(t)["total_count"] != float64(1) {
		t.Fatalf("tag search = %s", res.body)
	}

	wantError(t, do(t, s, "POST", "/contacts/"+c+"/tags", tok, map[string]any{"id": "999999"}), http.StatusNotFound, "not_found", "Resource Not Found")
	wantError(t, do(t, s, "POST", "/contacts/nope/tags", tok, map[string]any{"id": vip}), http.StatusNotFound, "not_found", "User Not Found")
	wantError(t, do(t, s, "POST", "/contacts/"+c+"/tags", tok, map[string]any{"name": "VIP"}), http.StatusBadRequest, "parameter_not_found", "")

	r = do(t, s, "DELETE", "/contacts/"+c+"/tags/"+vip, tok, nil)
	wantStatus(t, r, http.StatusOK)
	if r.json(t)["id"] != vip || len(s.ContactTags(c)) != 0 {
		t.Fatalf("detach = %s", r.body)
	}
	wantError(t, do(t, s, "DELETE", "/contacts/"+c+"/tags/999999", tok, nil), http.StatusNotFound, "not_found", "Resource Not Found")
	wantError(t, do(t, s, "DELETE", "/contacts/nope/tags/"+vip, tok, nil), http.StatusNotFound, "not_found", "User Not Found")

	s.AddDataAttribute(DataAttribute{Name: "plan", Label: "Plan", DataType: "string", Options: []string{"free", "pro"}})
	s.AddDataAttribute(DataAttribute{Name: "old", DataType: "string", Archived: true})
	r = do(t, s, "GET", "/data_attributes?model=contact", tok, nil)
	wantStatus(t, r, http.StatusOK)
	var list struct {
		Type string `json:"type"`
		Data []struct {
			Name     string   `json:"name"`
			FullName string   `json:"full_name"`
			DataType string   `json:"data_type"`
			Custom   bool     `json:"custom"`
			Model    string   `json:"model"`
			Options  []string `json:"options"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	var plan bool
	for _, a := range list.Data {
		if a.Model != "contact" || a.Name == "old" {
			t.Fatalf("unexpected attribute %+v", a)
		}
		if a.Name == "plan" {
			plan = a.Custom && a.FullName == "custom_attributes.plan" && len(a.Options) == 2
		}
	}
	if list.Type != "list" || !plan {
		t.Fatalf("data attributes = %s", r.body)
	}
	wantError(t, do(t, s, "GET", "/data_attributes?model=spaceship", tok, nil), http.StatusBadRequest, "parameter_invalid", "")
}

func TestFailuresHangAndConcurrency(t *testing.T) {
	t.Parallel()
	s := New(t, Options{RateLimit: -1})
	tok := s.IssueToken()
	s.FailNext(1, http.StatusServiceUnavailable, `{"type":"error.list","errors":[{"code":"service_unavailable"}]}`, map[string]string{"Content-Type": "application/json"})
	r := do(t, s, "GET", "/me", tok, nil)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "service_unavailable") {
		t.Fatalf("injected = %d %s", r.status, r.body)
	}
	wantStatus(t, do(t, s, "GET", "/me", tok, nil), http.StatusOK)

	s.Hang()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := s.HTTPClient().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung err = %v", err)
	}
	s.Release()

	tagID := s.AddTag("Bulk")
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := do(t, s, "POST", "/contacts", tok, map[string]any{"email": fmt.Sprintf("c%d@example.com", i)})
			if r.status != http.StatusOK {
				errs <- string(r.body)
				return
			}
			id := r.json(t)["id"].(string)
			if r := do(t, s, "POST", "/contacts/"+id+"/tags", tok, map[string]any{"id": tagID}); r.status != http.StatusOK {
				errs <- string(r.body)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	tagged := 0
	for _, c := range s.Contacts() {
		if len(s.ContactTags(c.ID)) == 1 {
			tagged++
		}
	}
	if tagged != 32 {
		t.Fatalf("tagged = %d", tagged)
	}
}
