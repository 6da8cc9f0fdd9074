package zoom

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	zoomfake "github.com/switchyardhq/switchyard/internal/providerfake/zoom"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestAddMeetingRegistrant(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{Topic: "Weekly demo",
		Questions:       []zoomfake.Question{{FieldName: "org", Required: true}},
		CustomQuestions: []zoomfake.CustomQuestion{{Title: "Favorite color", Type: "single", Required: true, Answers: []string{"Blue", "Red"}}}})
	s, tokens := oauthSender(t, srv)

	res := s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{
		"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "org": "Analytical Engines",
		"no_of_employees": "1-20", "phone": float64(5551234), "favorite color": "Blue", "unrelated": "ignored",
	}))
	want(t, res, switchyard.OutcomeDelivered, tokens.secrets()...)
	if res.HTTPStatus != http.StatusCreated || !strings.Contains(res.Message, "registered (registrant ") {
		t.Fatalf("result = %+v", res)
	}
	regs := srv.Registrants(id)
	if len(regs) != 1 {
		t.Fatalf("registrants = %+v", regs)
	}
	r := regs[0]
	if r.Email != "ada@example.com" || r.FirstName != "Ada" || r.LastName != "Lovelace" || r.Status != "approved" {
		t.Fatalf("registrant = %+v", r)
	}
	if r.Fields["org"] != "Analytical Engines" || r.Fields["no_of_employees"] != "1-20" || r.Fields["phone"] != "5551234" {
		t.Fatalf("fields = %v", r.Fields)
	}
	if _, ok := r.Fields["unrelated"]; ok {
		t.Fatalf("a field that is neither a registrant field nor a question was sent: %v", r.Fields)
	}
	if len(r.CustomQuestions) != 1 || r.CustomQuestions[0]["title"] != "Favorite color" || r.CustomQuestions[0]["value"] != "Blue" {
		t.Fatalf("custom questions = %v", r.CustomQuestions)
	}
	last, _ := srv.LastRequest("/v2/meetings/")
	if last.Method != http.MethodPost || last.Header.Get("Content-Type") != "application/json" ||
		last.Header.Get("Authorization") != "Bearer "+tokens.secrets()[0] {
		t.Fatalf("request = %s %s %v", last.Method, last.Path, last.Header)
	}
}

func TestAddWebinarRegistrantFirstNameFromEmail(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddWebinar(zoomfake.Meeting{Topic: "Launch"})
	s, _ := oauthSender(t, srv)

	// No mapped email: the payload's top-level email is used; no first name: its local part.
	req := request(ActionAddWebinarRegistrant, float64(id), map[string]any{"last_name": "Hopper"})
	req.Event.Payload = json.RawMessage(`{"email":"grace.hopper@example.com","first_name":"not mapped"}`)
	res := s.Deliver(context.Background(), req)
	want(t, res, switchyard.OutcomeDelivered)
	regs := srv.Registrants(id)
	if len(regs) != 1 || regs[0].Email != "grace.hopper@example.com" || regs[0].FirstName != "grace.hopper" || regs[0].LastName != "Hopper" {
		t.Fatalf("registrants = %+v", regs)
	}
	if last, _ := srv.LastRequest("/v2/webinars/"); !strings.HasSuffix(last.Path, "/webinars/"+meetingID(id)+"/registrants") {
		t.Fatalf("path = %s", last.Path)
	}
	// No extra fields: the questions were not read.
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/questions") {
			t.Fatalf("questions read without a field to answer them: %s", r.Path)
		}
	}
}

func TestAlreadyRegisteredIsDelivered(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{})
	s, _ := oauthSender(t, srv)
	for range 2 {
		want(t, s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"})),
			switchyard.OutcomeDelivered)
	}
	// Another case of the same address is the same registrant.
	want(t, s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ADA@example.com"})),
		switchyard.OutcomeDelivered)
	if regs := srv.Registrants(id); len(regs) != 1 {
		t.Fatalf("registrants = %+v", regs)
	}
}

func TestManualApprovalIsDeliveredPending(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{ApprovalType: 1})
	s, _ := oauthSender(t, srv)
	res := s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
	want(t, res, switchyard.OutcomeDelivered)
	if !strings.Contains(res.Message, "awaiting the host's approval") {
		t.Fatalf("message = %q", res.Message)
	}
	if regs := srv.Registrants(id); len(regs) != 1 || regs[0].Status != "pending" {
		t.Fatalf("registrants = %+v", regs)
	}
}

func TestCustomQuestionsAreCached(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{CustomQuestions: []zoomfake.CustomQuestion{{Title: "Team", Type: "short"}}})
	s, _ := oauthSender(t, srv)
	for _, email := range []string{"a@example.com", "b@example.com"} {
		want(t, s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": email, "Team": "Core"})),
			switchyard.OutcomeDelivered)
	}
	n := 0
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/registrants/questions") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("questions read %d times, want 1", n)
	}
	for _, r := range srv.Registrants(id) {
		if len(r.CustomQuestions) != 1 || r.CustomQuestions[0]["value"] != "Core" {
			t.Fatalf("custom questions = %v", r.CustomQuestions)
		}
	}
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	s, _ := oauthSender(t, srv)
	email := map[string]any{"email": "ada@example.com"}
	cases := []struct {
		name string
		req  *destination.Request
		msg  string
	}{
		{"no action", request("", "123", email), "no action"},
		{"unknown action", request("add_to_list", "123", email), "unknown Zoom action"},
		{"no id", request(ActionAddMeetingRegistrant, nil, email), "no id"},
		{"blank id", request(ActionAddMeetingRegistrant, "  ", email), "no id"},
		{"not digits", request(ActionAddMeetingRegistrant, "abc", email), "not a Zoom meeting ID"},
		{"fraction", request(ActionAddWebinarRegistrant, 1.5, email), "not a Zoom webinar ID"},
		{"object id", request(ActionAddMeetingRegistrant, map[string]any{}, email), "must be a meeting ID"},
		{"no email", request(ActionAddMeetingRegistrant, "123", map[string]any{"first_name": "Ada"}), "map a payload field to the Zoom field email"},
	}
	for _, c := range cases {
		res := s.Deliver(context.Background(), c.req)
		if res.Outcome != switchyard.OutcomeInvalidRequest || !strings.Contains(res.Message, c.msg) {
			t.Errorf("%s: %s %q", c.name, res.Outcome, res.Message)
		}
	}
	if n := srv.APIRequests(); n != 0 {
		t.Fatalf("%d API requests for requests refused before any call", n)
	}
	// Spaces, as Zoom displays meeting IDs, are dropped.
	id := srv.AddMeeting(zoomfake.Meeting{ID: 85746065123})
	want(t, s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, "857 4606 5123", email)), switchyard.OutcomeDelivered)
	if len(srv.Registrants(id)) != 1 {
		t.Fatal("not registered")
	}
}

func TestProviderOutcomes(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	s, tokens := oauthSender(t, srv)
	off := srv.AddMeeting(zoomfake.Meeting{ApprovalType: 2})
	offWebinar := srv.AddWebinar(zoomfake.Meeting{ApprovalType: 2})
	required := srv.AddMeeting(zoomfake.Meeting{
		Questions:       []zoomfake.Question{{FieldName: "city", Required: true}},
		CustomQuestions: []zoomfake.CustomQuestion{{Title: "Team", Type: "short", Required: true}}})
	email := map[string]any{"email": "ada@example.com"}

	cases := []struct {
		name    string
		req     *destination.Request
		outcome switchyard.Outcome
		status  int
		msg     []string
	}{
		{"unknown meeting", request(ActionAddMeetingRegistrant, "99999999999", email), switchyard.OutcomeDestinationNotFound, 404,
			[]string{"Zoom answered HTTP 404 Not Found: code 3001: Meeting does not exist: 99999999999."}},
		{"unknown webinar", request(ActionAddWebinarRegistrant, "99999999999", email), switchyard.OutcomeDestinationNotFound, 404,
			[]string{"code 3001"}},
		{"meeting registration off", request(ActionAddMeetingRegistrant, meetingID(off), email), switchyard.OutcomeInvalidRequest, 404,
			[]string{"Registration has not been enabled", "turn on registration"}},
		{"webinar registration off", request(ActionAddWebinarRegistrant, meetingID(offWebinar), email), switchyard.OutcomeInvalidRequest, 400,
			[]string{"code 3000", "turn on registration"}},
		{"required questions", request(ActionAddMeetingRegistrant, meetingID(required), email), switchyard.OutcomeValidationFailed, 400,
			[]string{"code 300: Validation Failed. (city: Invalid field.; custom_questions: Invalid field.)"}},
		{"invalid email", request(ActionAddMeetingRegistrant, meetingID(required), map[string]any{"email": "not-an-address", "city": "Paris", "Team": "x"}),
			switchyard.OutcomeValidationFailed, 400, []string{"email: Invalid field."}},
		{"meeting as webinar", request(ActionAddWebinarRegistrant, meetingID(off), email), switchyard.OutcomeDestinationNotFound, 404, nil},
	}
	for _, c := range cases {
		res := s.Deliver(context.Background(), c.req)
		if res.Outcome != c.outcome || res.HTTPStatus != c.status {
			t.Errorf("%s: %s %d %q", c.name, res.Outcome, res.HTTPStatus, res.Message)
			continue
		}
		for _, m := range c.msg {
			if !strings.Contains(res.Message, m) {
				t.Errorf("%s: message %q lacks %q", c.name, res.Message, m)
			}
		}
		if !strings.HasPrefix(res.Response, "HTTP/1.1 ") || res.RateLimitScope != "" {
			t.Errorf("%s: response %q, scope %q", c.name, res.Response, res.RateLimitScope)
		}
		noSecrets(t, res, tokens.secrets()...)
	}
}

func TestServerErrors(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{})
	s, _ := oauthSender(t, srv)
	req := request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"})

	srv.FailNext(1, http.StatusServiceUnavailable, `{"code":503,"message":"Service unavailable."}`, map[string]string{"Retry-After": "7"})
	res := s.Deliver(context.Background(), req)
	want(t, res, switchyard.OutcomeRejectedServerError)
	if res.RetryAfter != 7*time.Second || !strings.Contains(res.Message, "Service unavailable.") {
		t.Fatalf("result = %+v", res)
	}
	srv.FailNext(1, http.StatusInternalServerError, "<html>oops</html>", map[string]string{"Content-Type": "text/html"})
	res = s.Deliver(context.Background(), req)
	want(t, res, switchyard.OutcomeRejectedServerError)
	if res.Message != "Zoom answered HTTP 500 Internal Server Error" || !strings.Contains(res.Response, "<html>oops</html>") {
		t.Fatalf("result = %+v", res)
	}
	if len(srv.Registrants(id)) != 0 {
		t.Fatal("registered despite the failures")
	}
	want(t, s.Deliver(context.Background(), req), switchyard.OutcomeDelivered)
}

func TestExpiredTokenRefreshedOnce(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{})
	s, tokens := oauthSender(t, srv)
	old := tokens.secrets()
	srv.ExpireAccessTokens()

	res := s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
	want(t, res, switchyard.OutcomeDelivered, old...)
	noSecrets(t, res, tokens.secrets()...)
	if srv.RefreshCount() != 1 || tokens.refreshCount() != 1 {
		t.Fatalf("refreshes: fake %d, tokens %d; want 1", srv.RefreshCount(), tokens.refreshCount())
	}
	if len(srv.Registrants(id)) != 1 {
		t.Fatal("not registered")
	}
	// The rotated refresh token keeps working.
	srv.ExpireAccessTokens()
	want(t, s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "b@example.com"})),
		switchyard.OutcomeDelivered)
	if srv.RefreshCount() != 2 {
		t.Fatalf("refreshes = %d", srv.RefreshCount())
	}
}

func TestRevokedGrantDeactivates(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{})
	s, tokens := oauthSender(t, srv)
	srv.RevokeGrant()
	res := s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
	want(t, res, switchyard.OutcomeAuthFailed, tokens.secrets()...)
	if res.Deactivate != switchyard.InactiveOAuthAuthorizationRevoked {
		t.Fatalf("deactivate = %q", res.Deactivate)
	}
}

func TestUnauthorizedAfterRefresh(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{})
	s, tokens := oauthSender(t, srv)
	srv.FailNext(2, http.StatusUnauthorized, `{"code":124,"message":"Invalid access token."}`, nil)
	res := s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
	want(t, res, switchyard.OutcomeAuthFailed, tokens.secrets()...)
	if res.Deactivate != switchyard.InactiveOAuthReauthorizationNeeded || res.HTTPStatus != http.StatusUnauthorized {
		t.Fatalf("result = %+v", res)
	}
	if srv.RefreshCount() != 1 {
		t.Fatalf("refreshes = %d, want 1", srv.RefreshCount())
	}
}

func TestNoCredentials(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	s, err := newProvisioner(t, srv).Provision(context.Background(), destination.Provision{Connection: connection(nil)})
	if err != nil {
		t.Fatal(err)
	}
	res := s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, "123", map[string]any{"email": "ada@example.com"}))
	want(t, res, switchyard.OutcomeAuthFailed)
	if res.Deactivate != switchyard.InactiveOAuthReauthorizationNeeded || srv.APIRequests() != 0 {
		t.Fatalf("result = %+v", res)
	}
	if scope, _, _ := s.(destination.RateLimited).RateLimit(); !strings.HasPrefix(scope, "zoom:connection:") {
		t.Fatalf("scope = %q", scope)
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		kind     zoomfake.RateLimit
		typ      string
		min, max time.Duration
	}{
		{"qps", zoomfake.RateLimitQPS, "QPS", 1, 2 * time.Second},
		{"daily", zoomfake.RateLimitDaily, "Daily-limit", 1, 24*time.Hour + time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := newFake(t, zoomfake.Options{})
			id := srv.AddMeeting(zoomfake.Meeting{})
			s, tokens := oauthSender(t, srv)
			srv.ForceRateLimit(c.kind)
			res := s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
			want(t, res, switchyard.OutcomeRateLimited, tokens.secrets()...)
			if res.RetryAfter < c.min || res.RetryAfter > c.max {
				t.Fatalf("retry after = %s", res.RetryAfter)
			}
			if res.RateLimitScope != AccountScope(srv.AccountID()) || !strings.Contains(res.Message, "X-RateLimit-Type: "+c.typ) {
				t.Fatalf("result = %+v", res)
			}
			srv.ClearRateLimit()
			want(t, s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"})),
				switchyard.OutcomeDelivered)
		})
	}
}

// TestRateLimitEnforced runs into the fake's real per-second limit: with its clock stopped, the
// 31st Light request of the second is refused.
func TestRateLimitEnforced(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second).Add(400 * time.Millisecond)
	srv := newFake(t, zoomfake.Options{EnforceQPS: true, Now: func() time.Time { return now }})
	id := srv.AddMeeting(zoomfake.Meeting{StartTime: now.Add(time.Hour)})
	s, _ := oauthSender(t, srv)
	var last destination.Result
	for n := range 31 {
		last = s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
		if n < 30 && last.Outcome != switchyard.OutcomeDelivered {
			t.Fatalf("request %d: %s %q", n+1, last.Outcome, last.Message)
		}
	}
	want(t, last, switchyard.OutcomeRateLimited)
	if last.RetryAfter <= 0 || last.RetryAfter > time.Second || last.RateLimitScope == "" {
		t.Fatalf("result = %+v", last)
	}
	if scope, rate, burst := s.RateLimit(); scope != last.RateLimitScope || rate <= 0 || rate > 30 || burst < 1 {
		t.Fatalf("RateLimit() = %q %v %d", scope, rate, burst)
	}
}

func TestRetryAfterForms(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{"http date", map[string]string{"Retry-After": "Sun, 01 Mar 2026 12:00:05 GMT"}, 5 * time.Second},
		{"rfc3339 qps", map[string]string{"Retry-After": "2026-03-01T12:00:01Z", "X-RateLimit-Type": "QPS"}, time.Second},
		{"rfc3339 daily", map[string]string{"Retry-After": "2026-03-02T00:00:00Z", "X-RateLimit-Type": "Daily-limit"}, 12 * time.Hour},
		{"rfc3339 past", map[string]string{"Retry-After": "2026-03-01T11:00:00Z"}, time.Second},
		{"type qps only", map[string]string{"X-RateLimit-Type": "QPS"}, time.Second},
		{"type daily only", map[string]string{"X-RateLimit-Type": "Daily-limit"}, 12 * time.Hour},
		{"nothing", nil, 0},
	}
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.header {
			h.Set(k, v)
		}
		res := destination.Classify(http.StatusTooManyRequests, h, []byte(`{"code":429,"message":"slow down"}`), rules, now)
		if res.Outcome != switchyard.OutcomeRateLimited || res.RetryAfter != c.want {
			t.Errorf("%s: %s %s, want %s", c.name, res.Outcome, res.RetryAfter, c.want)
		}
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{})
	s, _ := oauthSender(t, srv)
	srv.Hang()
	t.Cleanup(srv.Release)
	res := s.Deliver(ctxTimeout(t, 200*time.Millisecond), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
	want(t, res, switchyard.OutcomeTimeout)
	if res.HTTPStatus != 0 || strings.Contains(res.Message, "127.0.0.1") {
		t.Fatalf("result = %+v", res)
	}
}

func TestEchoedSecretsAreRedacted(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{})
	s, tokens := oauthSender(t, srv)
	access := tokens.secrets()[0]
	srv.FailNext(1, http.StatusBadRequest, `{"code":300,"message":"Validation Failed. Bearer `+access+`"}`, nil)
	res := s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
	want(t, res, switchyard.OutcomeValidationFailed, tokens.secrets()...)
	if !strings.Contains(res.Message, destination.MaskedValue) || !strings.Contains(res.Response, destination.MaskedValue) {
		t.Fatalf("result = %+v", res)
	}

	// The grant's refresh token and the OAuth app's client secret, echoed without a refresh.
	refresh := tokens.secrets()[1]
	srv.FailNext(1, http.StatusBadRequest, `{"code":300,"message":"Validation Failed. `+refresh+` `+srv.ClientSecret()+`"}`, nil)
	res = s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
	want(t, res, switchyard.OutcomeValidationFailed, tokens.secrets()...)

	// The pasted client secret too.
	s2 := s2sSender(t, srv, s2sMeta(srv))
	srv.FailNext(1, http.StatusBadRequest, `{"code":300,"message":"Validation Failed. `+srv.ClientSecret()+`"}`, nil)
	res = s2.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id), map[string]any{"email": "ada@example.com"}))
	want(t, res, switchyard.OutcomeValidationFailed, srv.ClientSecret())
}

func TestConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	srv := newFake(t, zoomfake.Options{})
	id := srv.AddMeeting(zoomfake.Meeting{CustomQuestions: []zoomfake.CustomQuestion{{Title: "Team", Type: "short"}}})
	s := s2sSender(t, srv, s2sMeta(srv))
	var wg sync.WaitGroup
	results := make([]destination.Result, 20)
	for n := range results {
		wg.Go(func() {
			results[n] = s.Deliver(context.Background(), request(ActionAddMeetingRegistrant, meetingID(id),
				map[string]any{"email": "p" + string(rune('a'+n)) + "@example.com", "Team": "x"}))
		})
	}
	wg.Wait()
	for _, res := range results {
		want(t, res, switchyard.OutcomeDelivered, srv.ClientSecret())
	}
	if n := len(srv.Registrants(id)); n != 20 {
		t.Fatalf("registrants = %d", n)
	}
	if n := srv.TokenRequests(); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
}
