package zoom

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

func send(t *testing.T, s *Server, req *http.Request) resp {
	t.Helper()
	r := fakekit.Send(t, s.Client(), req)
	return resp{r.Status, r.Header, string(r.Body)}
}

func api(t *testing.T, s *Server, method, path, token, body string) resp {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(t, s, req)
}

func token(t *testing.T, s *Server, form url.Values, id, secret string) resp {
	t.Helper()
	req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	return send(t, s, req)
}

func wantBody(t *testing.T, r resp, status int, body string) {
	t.Helper()
	fakekit.WantJSON(t, r.status, r.body, status, body)
}

func pkce() (verifier, challenge string) {
	return fakekit.PKCE("M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag")
}

func authorize(t *testing.T, s *Server, params url.Values) *url.URL {
	t.Helper()
	req, _ := http.NewRequest("GET", s.AuthorizeURL()+"?"+params.Encode(), nil)
	r := send(t, s, req)
	if r.status != http.StatusFound {
		t.Fatalf("authorize %d: %s", r.status, r.body)
	}
	loc, _ := url.Parse(r.header.Get("Location"))
	return loc
}

func authParams(s *Server, challenge string) url.Values {
	v := url.Values{"response_type": {"code"}, "client_id": {s.ClientID()}, "redirect_uri": {callback}, "state": {"xyz"}}
	if challenge != "" {
		v.Set("code_challenge", challenge)
		v.Set("code_challenge_method", "S256")
	}
	return v
}

func TestAuthorizationCodeFlowWithPKCE(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	verifier, challenge := pkce()
	loc := authorize(t, s, authParams(s, challenge))
	if loc.Query().Get("state") != "xyz" || loc.Query().Get("code") == "" || loc.Host != "127.0.0.1" {
		t.Fatalf("redirect %s", loc)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {callback}, "code_verifier": {verifier}}
	r := token(t, s, form, s.ClientID(), s.ClientSecret())
	if r.status != 200 {
		t.Fatalf("token %d %s", r.status, r.body)
	}
	var tok map[string]any
	r.json(t, &tok)
	if tok["token_type"] != "bearer" || tok["expires_in"] != float64(3599) || tok["refresh_token"] == "" ||
		tok["scope"] != "meeting:read meeting:write user:read webinar:read webinar:write" || tok["api_url"] == "" {
		t.Fatalf("token body %s", r.body)
	}
	me := api(t, s, "GET", "/users/me", tok["access_token"].(string), "")
	if me.status != 200 || !strings.Contains(me.body, `"account_id":"`+s.AccountID()+`"`) {
		t.Fatalf("users/me %d %s", me.status, me.body)
	}
	if me.header.Get("X-RateLimit-Category") != "Light" || me.header.Get("X-RateLimit-Type") != "QPS" ||
		me.header.Get("X-RateLimit-Limit") != "30" || me.header.Get("X-RateLimit-Remaining") == "" {
		t.Fatalf("rate-limit headers %v", me.header)
	}

	// The code is single use.
	wantBody(t, token(t, s, form, s.ClientID(), s.ClientSecret()), 400,
		fmt.Sprintf(`{"reason":"Invalid authorization code %s","error":"invalid_request"}`, loc.Query().Get("code")))
}

func TestTokenEndpointRefusals(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	verifier, challenge := pkce()
	code := func() string { return authorize(t, s, authParams(s, challenge)).Query().Get("code") }
	form := func(c string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {callback}, "code_verifier": {verifier}}
	}

	wantBody(t, token(t, s, form(code()), s.ClientID(), "wrong"), 401, `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`)
	wantBody(t, token(t, s, form(code()), "", ""), 400, `{"reason":"Client ID or client secret is missing.","error":"invalid_request"}`)
	// Credentials in the body instead of HTTP Basic are not accepted.
	f := form(code())
	f.Set("client_id", s.ClientID())
	f.Set("client_secret", s.ClientSecret())
	wantBody(t, token(t, s, f, "", ""), 400, `{"reason":"Client ID or client secret is missing.","error":"invalid_request"}`)

	f = form(code())
	f.Set("code_verifier", "not-the-verifier-not-the-verifier-not-the-verifier")
	wantBody(t, token(t, s, f, s.ClientID(), s.ClientSecret()), 400, `{"reason":"Invalid code_verifier","error":"invalid_request"}`)
	f = form(code())
	f.Del("code_verifier")
	wantBody(t, token(t, s, f, s.ClientID(), s.ClientSecret()), 400, `{"reason":"Invalid code_verifier","error":"invalid_request"}`)
	f = form(code())
	f.Set("redirect_uri", "http://127.0.0.1/elsewhere")
	wantBody(t, token(t, s, f, s.ClientID(), s.ClientSecret()), 400, `{"reason":"Redirect URI mismatch.","error":"invalid_request"}`)
	f = form(code())
	f.Set("grant_type", "password")
	wantBody(t, token(t, s, f, s.ClientID(), s.ClientSecret()), 400, `{"reason":"Grant type is not supported from token endpoint.","error":"unsupported_grant_type"}`)
	if s.TokenRequests() != 7 {
		t.Fatalf("TokenRequests %d", s.TokenRequests())
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	p := authParams(s, "")
	p.Set("redirect_uri", "https://evil.example/cb")
	req, _ := http.NewRequest("GET", s.AuthorizeURL()+"?"+p.Encode(), nil)
	if r := send(t, s, req); r.status != 400 || r.header.Get("Location") != "" {
		t.Fatalf("bad redirect_uri: %d %v", r.status, r.header)
	}
	p = authParams(s, "")
	p.Set("client_id", "nobody")
	req, _ = http.NewRequest("GET", s.AuthorizeURL()+"?"+p.Encode(), nil)
	if r := send(t, s, req); r.status != 400 {
		t.Fatalf("bad client_id: %d", r.status)
	}
	p = authParams(s, "short")
	if loc := authorize(t, s, p); loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("bad challenge: %s", loc)
	}
	p = authParams(s, "")
	p.Set("scope", "meeting:read phone:write")
	if loc := authorize(t, s, p); loc.Query().Get("error") != "invalid_scope" {
		t.Fatalf("bad scope: %s", loc)
	}
	s.SetDenyConsent(true)
	loc := authorize(t, s, authParams(s, ""))
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "xyz" || loc.Query().Has("code") {
		t.Fatalf("deny: %s", loc)
	}
}

func TestRefreshRotatesRefreshToken(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	r := token(t, s, form, s.ClientID(), s.ClientSecret())
	var body map[string]any
	r.json(t, &body)
	newRT, _ := body["refresh_token"].(string)
	if r.status != 200 || newRT == "" || newRT == tok.RefreshToken {
		t.Fatalf("refresh %d %s", r.status, r.body)
	}
	wantBody(t, token(t, s, form, s.ClientID(), s.ClientSecret()), 400, `{"reason":"Invalid Token!","error":"invalid_request"}`)
	form.Set("refresh_token", newRT)
	if r := token(t, s, form, s.ClientID(), s.ClientSecret()); r.status != 200 {
		t.Fatalf("new refresh token: %s", r.body)
	}
	if s.RefreshCount() != 2 {
		t.Fatalf("RefreshCount %d", s.RefreshCount())
	}
	// Refresh tokens travel in the query string too, as the docs allow.
	s.RevokeGrant()
	req, _ := http.NewRequest("POST", s.TokenURL()+"?grant_type=refresh_token&refresh_token="+url.QueryEscape(newRT), nil)
	req.SetBasicAuth(s.ClientID(), s.ClientSecret())
	wantBody(t, send(t, s, req), 400, `{"reason":"Invalid Token!","error":"invalid_request"}`)
	wantBody(t, api(t, s, "GET", "/users/me", tok.AccessToken, ""), 401, `{"code":124,"message":"Invalid access token."}`)
}

func TestKeepPreviousRefreshToken(t *testing.T) {
	t.Parallel()
	s := New(Options{KeepPreviousRefreshToken: true})
	defer s.Close()
	tok := s.IssueToken()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	for i := 0; i < 2; i++ {
		if r := token(t, s, form, s.ClientID(), s.ClientSecret()); r.status != 200 {
			t.Fatalf("refresh %d: %s", i, r.body)
		}
	}
}

func TestAccountCredentials(t *testing.T) {
	t.Parallel()
	s := New(Options{AccountID: "acct-123"})
	defer s.Close()
	r := token(t, s, url.Values{"grant_type": {"account_credentials"}, "account_id": {"acct-123"}}, s.ClientID(), s.ClientSecret())
	var body map[string]any
	r.json(t, &body)
	if r.status != 200 || body["refresh_token"] != nil || body["access_token"] == "" || body["token_type"] != "bearer" {
		t.Fatalf("s2s %d %s", r.status, r.body)
	}
	if me := api(t, s, "GET", "/users/me", body["access_token"].(string), ""); me.status != 200 {
		t.Fatalf("s2s token refused: %d", me.status)
	}
	if r := token(t, s, url.Values{"grant_type": {"account_credentials"}, "account_id": {"other"}}, s.ClientID(), s.ClientSecret()); r.status != 400 {
		t.Fatalf("wrong account: %d", r.status)
	}
}

func TestAPIAuthentication(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken()
	wantBody(t, api(t, s, "GET", "/users/me", "", ""), 401, `{"code":124,"message":"Invalid access token."}`)
	wantBody(t, api(t, s, "GET", "/users/me", "forged", ""), 401, `{"code":124,"message":"Invalid access token."}`)
	wantBody(t, api(t, s, "GET", "/users/me?access_token="+tok.AccessToken, "", ""), 401,
		`{"code":124,"message":"Invalid access token, this access token is not supported as query parameter string."}`)
	s.ExpireAccessTokens()
	wantBody(t, api(t, s, "GET", "/users/me", tok.AccessToken, ""), 401, `{"code":124,"message":"Access token is expired."}`)
	// A refresh still works and its access token is accepted.
	r := token(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, s.ClientID(), s.ClientSecret())
	var body struct {
		AccessToken string `json:"access_token"`
	}
	r.json(t, &body)
	if me := api(t, s, "GET", "/users/me", body.AccessToken, ""); me.status != 200 {
		t.Fatalf("after refresh %d", me.status)
	}
}

func TestMeetingsListingAndPagination(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	defer s.Close()
	tok := s.IssueToken().AccessToken
	past := s.AddMeeting(Meeting{Topic: "Past", StartTime: now.Add(-48 * time.Hour)})
	var upcoming []int64
	for i := 0; i < 5; i++ {
		upcoming = append(upcoming, s.AddMeeting(Meeting{Topic: fmt.Sprintf("Up %d", i), StartTime: now.Add(time.Duration(i+1) * time.Hour)}))
	}
	s.AddWebinar(Meeting{Topic: "Web"})

	var got []int64
	next := ""
	for pages := 0; ; pages++ {
		r := api(t, s, "GET", "/users/me/meetings?type=upcoming&page_size=2&next_page_token="+next, tok, "")
		if r.status != 200 || r.header.Get("X-RateLimit-Category") != "Medium" {
			t.Fatalf("list %d %s %v", r.status, r.body, r.header)
		}
		var body struct {
			PageSize     int    `json:"page_size"`
			TotalRecords int    `json:"total_records"`
			Next         string `json:"next_page_token"`
			Meetings     []struct {
				ID        int64  `json:"id"`
				Topic     string `json:"topic"`
				StartTime string `json:"start_time"`
				JoinURL   string `json:"join_url"`
				Type      int    `json:"type"`
			} `json:"meetings"`
		}
		r.json(t, &body)
		if body.PageSize != 2 || body.TotalRecords != 5 {
			t.Fatalf("page %s", r.body)
		}
		for _, m := range body.Meetings {
			if m.Type != 2 || m.JoinURL == "" || !strings.HasSuffix(m.StartTime, "Z") {
				t.Fatalf("item %+v", m)
			}
			got = append(got, m.ID)
		}
		if body.Next == "" {
			break
		}
		next = body.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(upcoming) {
		t.Fatalf("upcoming %v, want %v", got, upcoming)
	}
	r := api(t, s, "GET", "/users/me/meetings?type=previous_meetings", tok, "")
	if !strings.Contains(r.body, fmt.Sprint(past)) || !strings.Contains(r.body, `"total_records":1`) {
		t.Fatalf("previous %s", r.body)
	}
	if r := api(t, s, "GET", "/users/me/meetings?type=bogus", tok, ""); r.status != 400 {
		t.Fatalf("bad type %d", r.status)
	}
	if r := api(t, s, "GET", "/users/me/meetings?next_page_token=nope", tok, ""); r.status != 400 {
		t.Fatalf("bad token %d", r.status)
	}
	w := api(t, s, "GET", "/users/me/webinars", tok, "")
	if w.status != 200 || !strings.Contains(w.body, `"webinars":[{`) || !strings.Contains(w.body, `"type":5`) {
		t.Fatalf("webinars %s", w.body)
	}
}

func TestGetMeetingApprovalType(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken().AccessToken
	on := s.AddMeeting(Meeting{Topic: "Reg on", ApprovalType: 0})
	off := s.AddMeeting(Meeting{Topic: "Reg off", ApprovalType: 2})
	var m struct {
		ID              int64  `json:"id"`
		Topic           string `json:"topic"`
		RegistrationURL string `json:"registration_url"`
		Settings        struct {
			ApprovalType int `json:"approval_type"`
		} `json:"settings"`
	}
	api(t, s, "GET", fmt.Sprintf("/meetings/%d", on), tok, "").json(t, &m)
	if m.ID != on || m.Settings.ApprovalType != 0 || m.RegistrationURL == "" {
		t.Fatalf("meeting %+v", m)
	}
	m.RegistrationURL = ""
	api(t, s, "GET", fmt.Sprintf("/meetings/%d", off), tok, "").json(t, &m)
	if m.Settings.ApprovalType != 2 || m.RegistrationURL != "" {
		t.Fatalf("meeting %+v", m)
	}
	wantBody(t, api(t, s, "GET", "/meetings/123456789", tok, ""), 404, `{"code":3001,"message":"Meeting 123456789 is not found or has expired."}`)
	wantBody(t, api(t, s, "GET", "/meetings/abc", tok, ""), 400, `{"code":300,"message":"Invalid meeting id."}`)
	if r := api(t, s, "DELETE", fmt.Sprintf("/meetings/%d", on), tok, ""); r.status != 405 {
		t.Fatalf("DELETE %d", r.status)
	}
	if r := api(t, s, "GET", "/nothing/here", tok, ""); r.status != 404 {
		t.Fatalf("unknown path %d", r.status)
	}
}

func TestAddMeetingRegistrant(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 1, 15, 0, 0, 0, time.UTC)
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken().AccessToken
	id := s.AddMeeting(Meeting{Topic: "Launch", StartTime: start, Questions: []Question{{FieldName: "last_name", Required: true}}})

	r := api(t, s, "POST", fmt.Sprintf("/meetings/%d/registrants", id), tok, `{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","org":"Engines"}`)
	if r.status != 201 {
		t.Fatalf("add %d %s", r.status, r.body)
	}
	var reg map[string]any
	r.json(t, &reg)
	if reg["id"] != float64(id) || reg["registrant_id"] == "" || reg["topic"] != "Launch" || reg["start_time"] != "2026-05-01T15:00:00Z" ||
		!strings.Contains(reg["join_url"].(string), "?tk=") {
		t.Fatalf("registrant body %s", r.body)
	}
	stored := s.Registrants(id)
	if len(stored) != 1 || stored[0].Email != "ada@example.com" || stored[0].Status != "approved" || stored[0].Fields["org"] != "Engines" {
		t.Fatalf("stored %+v", stored)
	}
	// Same email again: the existing registration comes back.
	r2 := api(t, s, "POST", fmt.Sprintf("/meetings/%d/registrants", id), tok, `{"email":"ada@example.com","first_name":"Ada","last_name":"L"}`)
	var reg2 map[string]any
	r2.json(t, &reg2)
	if r2.status != 201 || reg2["registrant_id"] != reg["registrant_id"] || len(s.Registrants(id)) != 1 {
		t.Fatalf("re-register %s", r2.body)
	}

	wantBody(t, api(t, s, "POST", fmt.Sprintf("/meetings/%d/registrants", id), tok, `{"first_name":"NoMail","last_name":"X"}`), 400,
		`{"code":300,"message":"Validation Failed.","errors":[{"field":"email","message":"Invalid field."}]}`)
	wantBody(t, api(t, s, "POST", fmt.Sprintf("/meetings/%d/registrants", id), tok, `{"email":"x@example.com","last_name":"X"}`), 400,
		`{"code":300,"message":"Validation Failed.","errors":[{"field":"first_name","message":"Invalid field."}]}`)
	wantBody(t, api(t, s, "POST", fmt.Sprintf("/meetings/%d/registrants", id), tok, `{"email":"x@example.com","first_name":"X"}`), 400,
		`{"code":300,"message":"Validation Failed.","errors":[{"field":"last_name","message":"Invalid field."}]}`)
	wantBody(t, api(t, s, "POST", fmt.Sprintf("/meetings/%d/registrants", id), tok, `not json`), 400,
		`{"code":300,"message":"Request Body should be a valid JSON object."}`)
	wantBody(t, api(t, s, "POST", "/meetings/99999999999/registrants", tok, `{"email":"x@example.com","first_name":"X"}`), 404,
		`{"code":3001,"message":"Meeting does not exist: 99999999999."}`)

	s.SetApprovalType(id, 2)
	wantBody(t, api(t, s, "POST", fmt.Sprintf("/meetings/%d/registrants", id), tok, `{"email":"y@example.com","first_name":"Y","last_name":"Y"}`), 404,
		fmt.Sprintf(`{"code":404,"message":"Registration has not been enabled for this meeting: %d."}`, id))

	s.SetApprovalType(id, 1)
	r = api(t, s, "POST", fmt.Sprintf("/meetings/%d/registrants", id), tok, `{"email":"manual@example.com","first_name":"M","last_name":"M"}`)
	var pending map[string]any
	r.json(t, &pending)
	if r.status != 201 || pending["join_url"] != nil {
		t.Fatalf("manual approval %s", r.body)
	}
	list := api(t, s, "GET", fmt.Sprintf("/meetings/%d/registrants?status=pending", id), tok, "")
	if !strings.Contains(list.body, "manual@example.com") || !strings.Contains(list.body, `"total_records":1`) {
		t.Fatalf("pending list %s", list.body)
	}
	list = api(t, s, "GET", fmt.Sprintf("/meetings/%d/registrants", id), tok, "")
	if !strings.Contains(list.body, "ada@example.com") || strings.Contains(list.body, "manual@example.com") {
		t.Fatalf("approved list %s", list.body)
	}

	req, _ := http.NewRequest("POST", s.URL()+fmt.Sprintf("/meetings/%d/registrants", id), strings.NewReader(`{"email":"z@example.com","first_name":"Z","last_name":"Z"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	rec, ok := s.LastRequest("/v2/meetings/")
	if !ok || rec.Method != "GET" {
		t.Fatalf("last request %+v", rec)
	}
	send(t, s, req)
	rec, _ = s.LastRequest("/v2/meetings/")
	if rec.Method != "POST" || rec.Header.Get("Authorization") != "Bearer "+tok || !strings.Contains(string(rec.Body), "z@example.com") {
		t.Fatalf("recorded %+v", rec)
	}
}

func TestQuestionsAndWebinarRegistrants(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken().AccessToken
	m := s.AddMeeting(Meeting{Questions: []Question{{FieldName: "org", Required: true}},
		CustomQuestions: []CustomQuestion{{Title: "Why?", Type: "short", Required: true}}})
	wantBody(t, api(t, s, "GET", fmt.Sprintf("/meetings/%d/registrants/questions", m), tok, ""), 200,
		`{"questions":[{"field_name":"org","required":true}],"custom_questions":[{"title":"Why?","type":"short","required":true}]}`)
	if r := api(t, s, "POST", fmt.Sprintf("/meetings/%d/registrants", m), tok,
		`{"email":"q@example.com","first_name":"Q","org":"Acme","custom_questions":[{"title":"Why?","value":"Because"}]}`); r.status != 201 {
		t.Fatalf("answered %d %s", r.status, r.body)
	}
	r := api(t, s, "POST", fmt.Sprintf("/meetings/%d/registrants", m), tok, `{"email":"q2@example.com","first_name":"Q"}`)
	wantBody(t, r, 400, `{"code":300,"message":"Validation Failed.","errors":[{"field":"org","message":"Invalid field."},{"field":"custom_questions","message":"Invalid field."}]}`)
	wantBody(t, api(t, s, "GET", "/meetings/77777777777/registrants/questions", tok, ""), 404, `{"code":3001,"message":"Meeting does not exist: 77777777777."}`)

	wb := s.AddWebinar(Meeting{Topic: "Webinar"})
	r = api(t, s, "POST", fmt.Sprintf("/webinars/%d/registrants", wb), tok, `{"email":"w@example.com","first_name":"W"}`)
	if r.status != 201 || !strings.Contains(r.body, `"registrant_id"`) || !strings.Contains(r.body, "/w/") {
		t.Fatalf("webinar registrant %d %s", r.status, r.body)
	}
	wantBody(t, api(t, s, "GET", fmt.Sprintf("/webinars/%d/registrants/questions", wb), tok, ""), 200, `{"questions":[],"custom_questions":[]}`)
	wantBody(t, api(t, s, "POST", fmt.Sprintf("/webinars/%d/registrants", m), tok, `{"email":"w@example.com","first_name":"W"}`), 404,
		fmt.Sprintf(`{"code":3001,"message":"Webinar does not exist: %d."}`, m))
	s.SetApprovalType(wb, 2)
	wantBody(t, api(t, s, "POST", fmt.Sprintf("/webinars/%d/registrants", wb), tok, `{"email":"w2@example.com","first_name":"W"}`), 400,
		fmt.Sprintf(`{"code":3000,"message":"Registration not enabled for this webinar: %d"}`, wb))
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	defer s.Close()
	tok := s.IssueToken().AccessToken
	s.ForceRateLimit(RateLimitQPS)
	r := api(t, s, "GET", "/users/me", tok, "")
	wantBody(t, r, 429, `{"code":429,"message":"You have reached the maximum per-second rate limit for this API. Try again later."}`)
	if r.header.Get("X-RateLimit-Type") != "QPS" || r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("Retry-After") == "" {
		t.Fatalf("QPS headers %v", r.header)
	}
	s.ForceRateLimit(RateLimitDaily)
	r = api(t, s, "GET", "/users/me", tok, "")
	if r.status != 429 || r.header.Get("X-RateLimit-Type") != "Daily-limit" || r.header.Get("Retry-After") != "2026-03-11T00:00:00Z" ||
		r.header.Get("X-RateLimit-Category") != "Light" {
		t.Fatalf("daily %d %v", r.status, r.header)
	}
	s.ClearRateLimit()
	if r := api(t, s, "GET", "/users/me", tok, ""); r.status != 200 {
		t.Fatalf("after clear %d", r.status)
	}

	// With enforcement on, the 31st Light request in one second is refused.
	e := New(Options{EnforceQPS: true, Now: func() time.Time { return now }})
	defer e.Close()
	etok := e.IssueToken().AccessToken
	for i := 0; i < 30; i++ {
		if r := api(t, e, "GET", "/users/me", etok, ""); r.status != 200 || r.header.Get("X-RateLimit-Remaining") != fmt.Sprint(29-i) {
			t.Fatalf("request %d: %d %v", i, r.status, r.header)
		}
	}
	if r := api(t, e, "GET", "/users/me", etok, ""); r.status != 429 {
		t.Fatalf("31st: %d", r.status)
	}
	// Another category has its own budget.
	if r := api(t, e, "GET", "/users/me/meetings", etok, ""); r.status != 200 {
		t.Fatalf("medium: %d", r.status)
	}
}

func TestFailNextHangAndCounters(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken().AccessToken
	s.FailNext(1, 502, "<html>bad gateway</html>", map[string]string{"Content-Type": "text/html"})
	r := api(t, s, "GET", "/users/me", tok, "")
	if r.status != 502 || r.header.Get("Content-Type") != "text/html" {
		t.Fatalf("injected %d %v", r.status, r.header)
	}
	if r := api(t, s, "GET", "/users/me", tok, ""); r.status != 200 {
		t.Fatalf("after injection %d", r.status)
	}
	s.FailNextToken(1, 503, `{"reason":"busy","error":"server_error"}`, nil)
	if r := token(t, s, url.Values{}, s.ClientID(), s.ClientSecret()); r.status != 503 {
		t.Fatalf("token injection %d", r.status)
	}
	if s.APIRequests() != 2 || s.TokenRequests() != 1 {
		t.Fatalf("counters %d %d", s.APIRequests(), s.TokenRequests())
	}

	s.Hang()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := s.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung request: %v", err)
	}
	s.Release()
	if r := api(t, s, "GET", "/users/me", tok, ""); r.status != 200 {
		t.Fatalf("after release %d", r.status)
	}
}

func TestConcurrentRegistrations(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	tok := s.IssueToken().AccessToken
	id := s.AddMeeting(Meeting{Topic: "Busy"})
	var wg sync.WaitGroup
	for i := 0; i < 25; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/meetings/%d/registrants", s.URL(), id),
				strings.NewReader(fmt.Sprintf(`{"email":"p%d@example.com","first_name":"P"}`, i%5)))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			res, err := s.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			if res.StatusCode != 201 {
				t.Errorf("status %d", res.StatusCode)
			}
			_ = s.Requests()
		}(i)
	}
	wg.Wait()
	if n := len(s.Registrants(id)); n != 5 {
		t.Fatalf("%d registrants, want 5", n)
	}
}
