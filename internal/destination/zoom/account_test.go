package zoom

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	zoomfake "github.com/switchyardhq/switchyard/internal/providerfake/zoom"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestDeclaration(t *testing.T) {
	t.Parallel()
	in := Integration()
	reg := destination.NewRegistry(in) // panics on a malformed declaration
	got, _ := reg.Get(Type)
	if _, err := json.Marshal(got.Describe()); err != nil {
		t.Fatal(err)
	}
	d := in.Describe()
	if d.Authentication.Type != destination.AuthOAuth || d.Authentication.OAuth.Version != 2 {
		t.Fatalf("authentication = %+v", d.Authentication)
	}
	for _, a := range []string{ActionAddMeetingRegistrant, ActionAddWebinarRegistrant} {
		if ad := d.Actions[a]; len(ad.Fields) != 1 || ad.Fields[0] != ParamID || ad.Display == nil {
			t.Fatalf("action %s = %+v", a, ad)
		}
	}
	if !in.OAuth.PKCE || in.OAuth.AuthStyle != oauth2.AuthStyleInHeader || in.OAuth.PasteFields[0] != KeyAccountID {
		t.Fatalf("oauth = %+v", in.OAuth)
	}
	if secrets := in.SecretFields(); len(secrets) != 1 || secrets[0] != KeyClientSecret {
		t.Fatalf("secret fields = %v", secrets)
	}

	// The three credential fields go together.
	if _, errs := in.ValidateMetadata(map[string]any{}, destination.Options{}); len(errs) != 0 {
		t.Fatalf("OAuth connection: %v", errs)
	}
	if _, errs := in.ValidateMetadata(map[string]any{KeyAccountID: "acc", KeyClientID: "id", KeyClientSecret: "secret"}, destination.Options{}); len(errs) != 0 {
		t.Fatalf("S2S connection: %v", errs)
	}
	_, errs := in.ValidateMetadata(map[string]any{KeyAccountID: "acc"}, destination.Options{})
	if len(errs) != 2 || errs[0].Param != "metadata.client_id" || errs[1].Param != "metadata.client_secret" {
		t.Fatalf("partial S2S: %v", errs)
	}
	_, err := New(destination.Options{}).Provision(context.Background(), destination.Provision{Connection: connection(map[string]any{KeyClientSecret: "s"})})
	var se *switchyard.Error
	if !errors.As(err, &se) || len(se.Fields) != 2 {
		t.Fatalf("Provision of a partial credential: %v", err)
	}
}

func TestServerToServer(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddWebinar(zoomfake.Meeting{})
	s := s2sSender(t, srv, s2sMeta(srv))
	if scope, _, _ := s.RateLimit(); scope != "zoom:account:"+srv.AccountID() {
		t.Fatalf("scope = %q", scope)
	}
	for _, email := range []string{"a@example.com", "b@example.com"} {
		want(t, s.Deliver(context.Background(), request(ActionAddWebinarRegistrant, meetingID(id), map[string]any{"email": email})),
			switchyard.OutcomeDelivered, srv.ClientSecret())
	}
	if n := srv.TokenRequests(); n != 1 {
		t.Fatalf("token requests = %d, want 1 (the token is cached)", n)
	}
	tr, _ := srv.LastRequest("/oauth/token")
	if !strings.Contains(string(tr.Body), "grant_type=account_credentials") || !strings.HasPrefix(tr.Header.Get("Authorization"), "Basic ") {
		t.Fatalf("token request: %s %v", tr.Body, tr.Header)
	}

	// An expired token: one new token, the attempt succeeds.
	srv.ExpireAccessTokens()
	want(t, s.Deliver(context.Background(), request(ActionAddWebinarRegistrant, meetingID(id), map[string]any{"email": "c@example.com"})),
		switchyard.OutcomeDelivered, srv.ClientSecret())
	if n := srv.TokenRequests(); n != 2 {
		t.Fatalf("token requests = %d, want 2", n)
	}
	if n := len(srv.Registrants(id)); n != 3 {
		t.Fatalf("registrants = %d", n)
	}
	if err := s.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestServerToServerRefused(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{})
	for _, c := range []struct {
		name string
		meta map[string]any
		msg  string
	}{
		{"wrong secret", map[string]any{KeyAccountID: srv.AccountID(), KeyClientID: srv.ClientID(), KeyClientSecret: "wrong-secret-value"}, "invalid_client"},
		{"wrong account", map[string]any{KeyAccountID: "someone-else", KeyClientID: srv.ClientID(), KeyClientSecret: srv.ClientSecret()}, "Invalid account_id"},
	} {
		s := s2sSender(t, srv, c.meta)
		res := s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
		want(t, res, switchyard.OutcomeAuthFailed, srv.ClientSecret(), "wrong-secret-value")
		if res.Deactivate != switchyard.InactiveAuthenticationInvalid || !strings.Contains(res.Message, c.msg) ||
			!strings.Contains(res.Message, "save a valid account_id, client_id and client_secret") {
			t.Errorf("%s: %+v", c.name, res)
		}
		err := s.Test(context.Background())
		var se *switchyard.Error
		if !errors.As(err, &se) || se.Code != switchyard.EINVALID || len(se.Fields) != 3 || strings.Contains(se.Error(), "wrong-secret-value") {
			t.Errorf("%s: Test = %v", c.name, err)
		}
	}

	// A token endpoint that fails is Switchyard's side: retried, not deactivated.
	s := s2sSender(t, srv, s2sMeta(srv))
	srv.FailNextToken(1, http.StatusServiceUnavailable, `{"reason":"down","error":"temporarily_unavailable"}`, nil)
	res := s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
	want(t, res, switchyard.OutcomeInternalError, srv.ClientSecret())
	if res.Deactivate != "" {
		t.Fatalf("deactivate = %q", res.Deactivate)
	}
	want(t, s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"})),
		switchyard.OutcomeDelivered)

	// Refused right after a new token was issued (the app was deactivated).
	srv.FailNext(2, http.StatusUnauthorized, `{"code":124,"message":"Invalid access token."}`, nil)
	res = s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
	want(t, res, switchyard.OutcomeAuthFailed, srv.ClientSecret())
	if res.Deactivate != switchyard.InactiveAuthenticationInvalid {
		t.Fatalf("result = %+v", res)
	}
}

func TestAccountTokensCacheAndSingleFlight(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	p := newProvisioner(t, srv)
	a := NewAccountTokens(p.client, srv.TokenURL(), srv.AccountID(), srv.ClientID(), srv.ClientSecret())
	var mu sync.Mutex
	now := time.Now()
	a.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }

	var wg sync.WaitGroup
	toks := make([]*oauth2.Token, 16)
	for n := range toks {
		wg.Go(func() {
			tok, err := a.Token(context.Background())
			if err != nil {
				t.Error(err)
			}
			toks[n] = tok
		})
	}
	wg.Wait()
	if srv.TokenRequests() != 1 {
		t.Fatalf("token requests = %d, want 1", srv.TokenRequests())
	}
	for _, tok := range toks {
		if tok == nil || tok.AccessToken != toks[0].AccessToken {
			t.Fatal("callers got different tokens")
		}
	}
	if want := now.Add(3599 * time.Second); !toks[0].Expiry.Equal(want) {
		t.Fatalf("expiry = %s, want %s", toks[0].Expiry, want)
	}

	// Shortly before expiry a new token is fetched.
	mu.Lock()
	now = now.Add(3599*time.Second - destination.RefreshAhead + time.Second)
	mu.Unlock()
	tok, err := a.Token(context.Background())
	if err != nil || tok.AccessToken == toks[0].AccessToken || srv.TokenRequests() != 2 {
		t.Fatalf("token %v, err %v, requests %d", tok, err, srv.TokenRequests())
	}

	// Refresh of a stale token another caller already replaced returns the current one.
	again, err := a.Refresh(context.Background(), toks[0])
	if err != nil || again.AccessToken != tok.AccessToken || srv.TokenRequests() != 2 {
		t.Fatalf("refresh of a replaced token: %v %v %d", again, err, srv.TokenRequests())
	}
	// Refresh of the current token fetches a new one.
	fresh, err := a.Refresh(context.Background(), tok)
	if err != nil || fresh.AccessToken == tok.AccessToken || srv.TokenRequests() != 3 {
		t.Fatalf("refresh: %v %v %d", fresh, err, srv.TokenRequests())
	}

	// A caller that gives up stops waiting; the request still completes for the others.
	srv.SetDelay(300 * time.Millisecond)
	if _, err := a.Refresh(ctxTimeout(t, 50*time.Millisecond), fresh); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("refresh with an expired context: %v", err)
	}
	srv.SetDelay(0)
	if tok, err := a.Refresh(context.Background(), fresh); err != nil || tok.AccessToken == fresh.AccessToken {
		t.Fatalf("refresh after a caller gave up: %v %v", tok, err)
	}
}

func TestIdentify(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	p := newProvisioner(t, srv)
	issued := srv.IssueToken()
	account, err := p.Identify(context.Background(), &oauth2.Token{AccessToken: issued.AccessToken})
	if err != nil || account != "zoom:account:"+srv.AccountID() {
		t.Fatalf("Identify = %q, %v", account, err)
	}
	if last, _ := srv.LastRequest("/v2/"); last.Path != "/v2/users/me" {
		t.Fatalf("path = %s", last.Path)
	}
	_, err = p.Identify(context.Background(), &oauth2.Token{AccessToken: "not-a-token"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), "not-a-token") {
		t.Fatalf("Identify with a bad token: %v", err)
	}
	// The account Identify names is the OAuth connection's rate-limit scope.
	s, err := p.Provision(context.Background(), destination.Provision{Connection: connection(nil), Tokens: destination.StaticTokens{AccessToken: issued.AccessToken}, Account: account})
	if err != nil {
		t.Fatal(err)
	}
	if scope, _, _ := s.(destination.RateLimited).RateLimit(); scope != account {
		t.Fatalf("scope = %q", scope)
	}
}

func TestTest(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	s, _ := oauthSender(t, srv)
	if err := s.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	in := Integration()
	if err := destination.TestConnection(context.Background(), in, options(srv), destination.Provision{Connection: connection(s2sMeta(srv))}); err != nil {
		t.Fatalf("TestConnection: %v", err)
	}
	srv.RevokeGrant()
	err := s.Test(context.Background())
	var se *switchyard.Error
	if !errors.As(err, &se) || !strings.Contains(se.Message, "GET /users/me") {
		t.Fatalf("Test after revocation: %v", err)
	}
}

func TestActionData(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	srv := newFake(t, zoomfake.Options{})
	m1 := srv.AddMeeting(zoomfake.Meeting{Topic: "Demo", StartTime: now.Add(2 * time.Hour)})
	m2 := srv.AddMeeting(zoomfake.Meeting{Topic: "Manual approval", StartTime: now.Add(3 * time.Hour), ApprovalType: 1})
	srv.AddMeeting(zoomfake.Meeting{Topic: "No registration", StartTime: now.Add(time.Hour), ApprovalType: 2})
	srv.AddMeeting(zoomfake.Meeting{Topic: "Past", StartTime: now.Add(-48 * time.Hour)})
	w1 := srv.AddWebinar(zoomfake.Meeting{Topic: "Launch", StartTime: now.Add(24 * time.Hour)})
	srv.AddWebinar(zoomfake.Meeting{Topic: "Old webinar", StartTime: now.Add(-72 * time.Hour)})
	srv.AddWebinar(zoomfake.Meeting{Topic: "Closed webinar", StartTime: now.Add(48 * time.Hour), ApprovalType: 2})
	s, tokens := oauthSender(t, srv)

	data, err := s.ActionData(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(data)
	wantJSON, _ := json.Marshal(map[string]any{
		ActionAddMeetingRegistrant: map[string]any{"meetings": []map[string]any{
			{"id": meetingID(m1), "name": "Demo", "start_time": now.Add(2 * time.Hour).Format(time.RFC3339)},
			{"id": meetingID(m2), "name": "Manual approval", "start_time": now.Add(3 * time.Hour).Format(time.RFC3339)},
		}},
		ActionAddWebinarRegistrant: map[string]any{"webinars": []map[string]any{
			{"id": meetingID(w1), "name": "Launch", "start_time": now.Add(24 * time.Hour).Format(time.RFC3339)},
		}},
	})
	if string(got) != string(wantJSON) {
		t.Fatalf("action data\n got %s\nwant %s", got, wantJSON)
	}

	// A failure is reported with Zoom's explanation and no secret.
	srv.RevokeGrant()
	_, err = s.ActionData(context.Background())
	var se *switchyard.Error
	if !errors.As(err, &se) || !strings.Contains(se.Message, "Zoom: listing the meetings failed") {
		t.Fatalf("ActionData after revocation: %v", err)
	}
	for _, secret := range tokens.secrets() {
		if strings.Contains(err.Error(), secret) {
			t.Fatal("a secret leaked into the error")
		}
	}
}

func TestWebinarPlanMissing(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	srv.AddMeeting(zoomfake.Meeting{Topic: "Demo"})
	s, _ := oauthSender(t, srv)
	// Meetings listing, then the meeting's details, succeed; the webinar listing is refused.
	body := `{"code":200,"message":"Webinar plan is missing. You must subscribe to the webinar plan and enable webinar for this user in order to perform this action."}`
	ms, err := s.registrable(context.Background(), meetings)
	if err != nil || len(ms) != 1 {
		t.Fatalf("meetings = %v, %v", ms, err)
	}
	srv.FailNext(1, http.StatusBadRequest, body, nil)
	ws, err := s.registrable(context.Background(), webinars)
	if err != nil || len(ws) != 0 {
		t.Fatalf("webinars = %v, %v", ws, err)
	}
}

func TestFieldCatalog(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	m1 := srv.AddMeeting(zoomfake.Meeting{CustomQuestions: []zoomfake.CustomQuestion{
		{Title: "Team", Type: "short", Required: true},
		{Title: "Favorite color", Type: "single", Answers: []string{"Blue", "Red"}},
	}})
	w1 := srv.AddWebinar(zoomfake.Meeting{CustomQuestions: []zoomfake.CustomQuestion{
		{Title: "Team", Type: "short"},
		{Title: "Topics", Type: "multiple", Answers: []string{"Go", "Rust"}},
	}})
	srv.AddMeeting(zoomfake.Meeting{ApprovalType: 2, CustomQuestions: []zoomfake.CustomQuestion{{Title: "Hidden", Type: "short"}}})
	s, _ := oauthSender(t, srv)

	fields, err := s.FieldCatalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]destination.CatalogField{}
	var keys []string
	for _, f := range fields {
		byKey[f.Key] = f
		keys = append(keys, f.Key)
	}
	wantKeys := append(append([]string(nil), RegistrantFields...), "Team", "Favorite color", "Topics")
	if strings.Join(keys, ",") != strings.Join(wantKeys, ",") {
		t.Fatalf("keys = %v", keys)
	}
	if f := byKey["email"]; f.Type != "string" || f.Constraints == nil || !f.Constraints.Required || f.Constraints.Format != "email" {
		t.Fatalf("email = %+v", f)
	}
	if f := byKey["purchasing_time_frame"]; f.Type != "enum" || len(f.Constraints.AllowedValues) != 5 {
		t.Fatalf("purchasing_time_frame = %+v", f)
	}
	if f := byKey["Favorite color"]; f.Type != "enum" || strings.Join(f.Constraints.AllowedValues, ",") != "Blue,Red" {
		t.Fatalf("Favorite color = %+v", f)
	}
	if f := byKey["Topics"]; f.Type != "multi_enum" || len(f.Constraints.AllowedValues) != 2 {
		t.Fatalf("Topics = %+v", f)
	}
	team := byKey["Team"]
	if team.Type != "string" || !team.Constraints.Required || team.ProviderMeta["custom_question"] != true {
		t.Fatalf("Team = %+v", team)
	}
	if refs := team.ProviderMeta["events"].([]string); len(refs) != 2 || refs[0] != "meeting:"+meetingID(m1) || refs[1] != "webinar:"+meetingID(w1) {
		t.Fatalf("Team events = %v", refs)
	}
	if _, err := json.Marshal(fields); err != nil {
		t.Fatal(err)
	}
}
