package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// ruleTestAnswer is the answer of POST /rules/{id}/test.
type ruleTestAnswer struct {
	DryRun  bool           `json:"dry_run"`
	Action  string         `json:"action"`
	Params  map[string]any `json:"params"`
	Request *struct {
		Method  string              `json:"method"`
		URL     string              `json:"url"`
		Headers map[string][]string `json:"headers"`
		Body    json.RawMessage     `json:"body"`
	} `json:"request"`
	Attempt *struct {
		OutcomeCode string `json:"outcome_code"`
		HTTPStatus  *int   `json:"http_status"`
		Message     string `json:"message"`
	} `json:"attempt"`
}

// A rule's test event shows what would be sent (dry run: nothing is sent, secrets masked) or
// performs the action once; neither stores an event.
func TestRuleTest(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		hook := newHook(t, http.StatusOK)
		conn := s.createConnection(t, s.creds.WorkspaceID, hook.url(), map[string]any{"auth_scheme": "bearer",
			"bearer_token": "tok_secret_1234", "signing_scheme": "standard_webhooks",
			"signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "skip_url_test": true})
		rule := s.createRule(t, s.creds.WorkspaceID, conn, "user.signup",
			map[string]any{"metadata": map[string]any{"action": "send_webhook", "note": "Hi {{user.name}}"}})
		path := "/api/v1/rules/" + rule.String() + "/test"

		var dry ruleTestAnswer
		if code := s.call(t, "POST", path, map[string]any{"payload": map[string]any{"user": map[string]any{"name": "Ada"}}, "dry_run": true},
			nil, &dry); code != 200 {
			t.Fatalf("dry run: %d", code)
		}
		if !dry.DryRun || dry.Action != "send_webhook" || dry.Params["note"] != "Hi Ada" || dry.Request == nil || dry.Attempt != nil {
			t.Fatalf("dry run answer %+v", dry)
		}
		if dry.Request.Method != "POST" || dry.Request.URL != hook.url() || !strings.Contains(string(dry.Request.Body), `"name":"Ada"`) {
			t.Fatalf("previewed request %+v %s", dry.Request, dry.Request.Body)
		}
		for _, h := range []string{"Authorization", "Webhook-Signature"} {
			if got := dry.Request.Headers[h]; len(got) != 1 || got[0] != "********" {
				t.Errorf("previewed %s = %v, want it masked", h, got)
			}
		}
		if raw, _ := json.Marshal(dry); strings.Contains(string(raw), "tok_secret_1234") {
			t.Fatal("the dry run shows the bearer token")
		}
		if hook.requests() != 0 {
			t.Fatalf("a dry run sent %d requests", hook.requests())
		}

		var real ruleTestAnswer
		if code := s.call(t, "POST", path, map[string]any{"payload": map[string]any{"x": 1}}, nil, &real); code != 200 {
			t.Fatalf("test: %d", code)
		}
		if real.Attempt == nil || real.Attempt.OutcomeCode != "delivered" || real.Attempt.HTTPStatus == nil || *real.Attempt.HTTPStatus != 200 {
			t.Fatalf("test answer %+v", real.Attempt)
		}
		if hook.requests() != 1 || hook.lastAuth() != "Bearer tok_secret_1234" {
			t.Fatalf("the receiver got %d requests (auth %q), want the one test", hook.requests(), hook.lastAuth())
		}
		var events page[idOf]
		s.call(t, "GET", "/api/v1/workspaces/"+s.creds.WorkspaceID.String()+"/events", nil, nil, &events)
		if events.Count != 0 {
			t.Fatalf("testing a rule stored %d events", events.Count)
		}

		// An existing event can be replayed through the rule; bad bodies are 400s.
		id := s.emit(t, s.creds.WorkspaceID, "user.signup", map[string]any{"payload": map[string]any{"user": map[string]any{"name": "Grace"}}})
		var byEvent ruleTestAnswer
		if code := s.call(t, "POST", path, map[string]any{"event_id": id.String(), "dry_run": true}, nil, &byEvent); code != 200 ||
			byEvent.Params["note"] != "Hi Grace" {
			t.Fatalf("dry run of an existing event: %d %+v", code, byEvent)
		}
		for _, body := range []map[string]any{{}, {"payload": []int{1}}, {"payload": map[string]any{"x": 1}, "event_id": id.String()}} {
			var e apiError
			if code := s.call(t, "POST", path, body, nil, &e); code != 400 {
				t.Errorf("body %v: %d %+v, want 400", body, code, e)
			}
		}
	})
}
