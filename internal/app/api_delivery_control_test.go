package app_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// attemptJSON is one delivery attempt as the API returns it.
type attemptJSON struct {
	ID              uuid.UUID `json:"id"`
	AttemptNumber   int       `json:"attempt_number"`
	StartedAt       time.Time `json:"started_at"`
	CompletedAt     time.Time `json:"completed_at"`
	DurationMS      *int64    `json:"duration_ms"`
	OutcomeCode     string    `json:"outcome_code"`
	HTTPStatus      *int      `json:"http_status"`
	Message         string    `json:"message"`
	ResponseExcerpt string    `json:"response_excerpt"`
}

// ruleEvent reads the delivery of event e through rule r out of the event.
func (s *server) ruleEvent(t *testing.T, e, r uuid.UUID) ruleEventJSON {
	t.Helper()
	for _, re := range s.event(t, e).RuleEvents {
		if re.Rule == r {
			return re
		}
	}
	t.Fatalf("event %s has no delivery through rule %s", e, r)
	return ruleEventJSON{}
}

func (s *server) attempts(t *testing.T, e, r uuid.UUID) []attemptJSON {
	t.Helper()
	var got page[attemptJSON]
	if code := s.call(t, "GET", fmt.Sprintf("/api/v1/events/%s/rules/%s/attempts", e, r), nil, nil, &got); code != 200 {
		t.Fatalf("attempts: %d", code)
	}
	return got.Records
}

func TestDeliveryControl(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		ws := s.creds.WorkspaceID
		hook := newHook(t, 400)
		conn := s.createConnection(t, ws, hook.url(), nil)
		rule := s.createRule(t, ws, conn, "user.signup", nil)
		e := s.emit(t, ws, "user.signup", nil)
		base := fmt.Sprintf("/api/v1/events/%s/rules/%s", e, rule)
		eventually(t, "the rejected delivery to fail", func() bool { return s.ruleEvent(t, e, rule).Status == "failed" })

		var first attemptJSON
		t.Run("the attempts of a delivery are a page with outcome, status, timing and response", func(t *testing.T) {
			as := s.attempts(t, e, rule)
			if len(as) != 1 {
				t.Fatalf("%d attempts", len(as))
			}
			first = as[0]
			if first.AttemptNumber != 1 || first.OutcomeCode != "rejected_client_error" || first.HTTPStatus == nil || *first.HTTPStatus != 400 ||
				first.DurationMS == nil || first.CompletedAt.Before(first.StartedAt) || first.Message == "" || first.ResponseExcerpt == "" {
				t.Fatalf("attempt %+v", first)
			}
			var one attemptJSON
			if code := s.call(t, "GET", base+"/attempts/"+first.ID.String(), nil, nil, &one); code != 200 || !reflect.DeepEqual(one, first) {
				t.Fatalf("GET attempt %d %+v", code, one)
			}
			var details struct {
				AttemptID       uuid.UUID `json:"attempt_id"`
				OutcomeCode     string    `json:"outcome_code"`
				HTTPStatus      int       `json:"http_status"`
				ResponseExcerpt string    `json:"response_excerpt"`
			}
			if code := s.call(t, "GET", base+"/attempts/"+first.ID.String()+"/response-details", nil, nil, &details); code != 200 ||
				details.AttemptID != first.ID || details.HTTPStatus != 400 || details.ResponseExcerpt != first.ResponseExcerpt {
				t.Fatalf("response details %d %+v", code, details)
			}
		})
		t.Run("retrying a failed delivery makes it pending and delivers it again", func(t *testing.T) {
			hook.status.Store(204)
			var got ruleEventJSON
			if code := s.call(t, "POST", base+"/retry", nil, nil, &got); code != 200 {
				t.Fatalf("status %d", code)
			}
			if got.Rule != rule || got.EventID != e || got.Status != "pending" || got.CompletedAt != nil || got.AttemptCount != 1 || got.Type != "rule" {
				t.Fatalf("retried delivery %+v", got)
			}
			eventually(t, "the retry to complete", func() bool { return s.event(t, e).Status == "completed" })
			as := s.attempts(t, e, rule)
			if len(as) != 2 || as[0].AttemptNumber != 2 || as[0].OutcomeCode != "delivered" || as[1].ID != first.ID {
				t.Fatalf("attempts after the retry, newest first: %+v", as)
			}
		})
		t.Run("a completed delivery cannot be retried or canceled", func(t *testing.T) {
			var err apiError
			if code := s.call(t, "POST", base+"/retry", nil, nil, &err); code != 409 {
				t.Fatalf("retry: %d %+v", code, err)
			}
			if code := s.call(t, "POST", base+"/cancel", nil, nil, &err); code != 409 {
				t.Fatalf("cancel: %d %+v", code, err)
			}
		})
		t.Run("a delivery in flight is 425 for retry, and cancel stops it without losing the attempt", func(t *testing.T) {
			hook.hold()
			held := s.emit(t, ws, "user.signup", nil)
			hook.waitRequest(t)
			heldBase := fmt.Sprintf("/api/v1/events/%s/rules/%s", held, rule)
			var err apiError
			if code := s.call(t, "POST", heldBase+"/retry", nil, nil, &err); code != 425 {
				t.Fatalf("retry in flight: %d %+v", code, err)
			}
			var got ruleEventJSON
			if code := s.call(t, "POST", heldBase+"/cancel", nil, nil, &got); code != 200 || got.Status != "canceled" || got.CompletedAt == nil {
				t.Fatalf("cancel in flight: %d %+v", code, got)
			}
			hook.open()
			eventually(t, "the in-flight attempt to be logged", func() bool { return len(s.attempts(t, held, rule)) == 1 })
			if re := s.ruleEvent(t, held, rule); re.Status != "canceled" {
				t.Fatalf("the in-flight outcome overwrote the cancel: %+v", re)
			}
			if ev := s.event(t, held); ev.Status != "canceled" || ev.CompletedAt == nil {
				t.Fatalf("canceled event %+v", ev)
			}
			if code := s.call(t, "POST", heldBase+"/cancel", nil, nil, &err); code != 409 {
				t.Fatalf("second cancel: %d", code)
			}
			before := hook.requests()
			if code := s.call(t, "POST", heldBase+"/retry", nil, nil, &got); code != 200 || got.Status != "pending" {
				t.Fatalf("retry of a canceled delivery: %d %+v", code, got)
			}
			eventually(t, "the retried delivery to complete", func() bool { return s.event(t, held).Status == "completed" })
			if hook.requests() != before+1 {
				t.Fatalf("the retry sent %d requests, want 1", hook.requests()-before)
			}
			if as := s.attempts(t, held, rule); len(as) != 2 || as[0].AttemptNumber != 2 || as[1].AttemptNumber != 1 {
				t.Fatalf("attempts after cancel and retry: %+v, want numbers 2 and 1", as)
			}
		})
		t.Run("canceling an event cancels its unfinished deliveries and keeps finished ones", func(t *testing.T) {
			slow := newHook(t, 204)
			slowConn := s.createConnection(t, ws, slow.url(), nil)
			slowRule := s.createRule(t, ws, slowConn, "user.signup", nil)
			slow.hold()
			ev := s.emit(t, ws, "user.signup", nil)
			slow.waitRequest(t)
			eventually(t, "the fast delivery to complete", func() bool { return s.ruleEvent(t, ev, rule).Status == "completed" })
			var got eventJSON
			if code := s.call(t, "POST", "/api/v1/events/"+ev.String()+"/cancel", nil, nil, &got); code != 200 {
				t.Fatalf("status %d", code)
			}
			statuses := map[uuid.UUID]string{}
			for _, re := range got.RuleEvents {
				statuses[re.Rule] = re.Status
			}
			if statuses[rule] != "completed" || statuses[slowRule] != "canceled" || got.Status != "completed" || got.CompletedAt == nil {
				t.Fatalf("canceled event %+v", got)
			}
			slow.open()
			if code := s.call(t, "POST", "/api/v1/events/"+ev.String()+"/cancel", nil, nil, &got); code != 200 {
				t.Fatalf("canceling a finished event again: %d", code)
			}
			if code := s.call(t, "DELETE", "/api/v1/rules/"+slowRule.String(), nil, nil, nil); code != 200 {
				t.Fatalf("cleanup: %d", code)
			}
		})
		t.Run("unknown or malformed ids are 404 and 400", func(t *testing.T) {
			unknown := uuid.NewString()
			for path, want := range map[string]int{
				fmt.Sprintf("/api/v1/events/%s/rules/%s/attempts", e, unknown):                           404,
				fmt.Sprintf("/api/v1/events/%s/rules/%s/attempts", unknown, rule):                        404,
				base + "/attempts/" + unknown:                                                            404,
				base + "/attempts/" + unknown + "/response-details":                                      404,
				fmt.Sprintf("/api/v1/events/%s/rules/nope/attempts", e):                                  400,
				base + "/attempts/nope":                                                                  400,
				fmt.Sprintf("/api/v1/events/nope/rules/%s/attempts/%s/response-details", rule, first.ID): 400,
			} {
				if code := s.call(t, "GET", path, nil, nil, nil); code != want {
					t.Fatalf("GET %s: %d, want %d", path, code, want)
				}
			}
			for _, p := range []string{fmt.Sprintf("/api/v1/events/%s/rules/%s/retry", e, unknown), fmt.Sprintf("/api/v1/events/%s/rules/%s/cancel", unknown, rule),
				"/api/v1/events/" + unknown + "/cancel"} {
				if code := s.call(t, "POST", p, nil, nil, nil); code != 404 {
					t.Fatalf("POST %s: %d, want 404", p, code)
				}
			}
			if code := s.call(t, "POST", "/api/v1/events/x/cancel", nil, nil, nil); code != 400 {
				t.Fatalf("malformed event id: %d", code)
			}
		})
	})
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		b := s.otherTenant(t)
		hook := newHook(t, 204)
		ws := s.createWorkspace(t, "Private")
		conn := s.createConnection(t, ws, hook.url(), nil)
		rule := s.createRule(t, ws, conn, "user.signup", nil)
		e := s.emit(t, ws, "user.signup", nil)
		eventually(t, "the delivery", func() bool { return s.event(t, e).Status == "completed" })
		attempt := s.attempts(t, e, rule)[0].ID
		// The other organization has the same kinds of things, so that every list it reads has
		// something in it.
		bConn := b.createConnection(t, b.creds.WorkspaceID, hook.url(), nil)
		bRule := b.createRule(t, b.creds.WorkspaceID, bConn, "user.signup", nil)
		bEvent := b.emit(t, b.creds.WorkspaceID, "user.signup", nil)

		t.Run("another organization's resources are 404 to every read, write and delete", func(t *testing.T) {
			ids := map[string]string{"ws": ws.String(), "conn": conn.String(), "rule": rule.String(), "event": e.String(), "attempt": attempt.String()}
			expand := func(p string) string {
				for k, v := range ids {
					p = strings.ReplaceAll(p, "{"+k+"}", v)
				}
				return p
			}
			for _, c := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/api/v1/workspaces/{ws}", nil},
				{"PUT", "/api/v1/workspaces/{ws}", map[string]any{"name": "Stolen"}},
				{"GET", "/api/v1/workspaces/{ws}/connections", nil},
				{"GET", "/api/v1/workspaces/{ws}/rules", nil},
				{"GET", "/api/v1/workspaces/{ws}/events", nil},
				{"GET", "/api/v1/workspaces/{ws}/event-types", nil},
				{"GET", "/api/v1/workspaces/{ws}/resources", nil},
				{"GET", "/api/v1/connections/{conn}", nil},
				{"PUT", "/api/v1/connections/{conn}", map[string]any{"name": "Stolen", "metadata": map[string]any{"url": hook.url()}}},
				{"GET", "/api/v1/connections/{conn}/actions", nil},
				{"GET", "/api/v1/connections/{conn}/fields", nil},
				{"GET", "/api/v1/connections/{conn}/mappings/default", nil},
				{"PUT", "/api/v1/connections/{conn}/mappings/default", map[string]any{"schema": map[string]any{"schema_version": 1, "fields": []any{}}}},
				{"DELETE", "/api/v1/connections/{conn}", map[string]any{"force_delete": true}},
				{"GET", "/api/v1/rules/{rule}", nil},
				{"DELETE", "/api/v1/rules/{rule}", nil},
				{"GET", "/api/v1/events/{event}", nil},
				{"GET", "/api/v1/events/{event}/payload", nil},
				{"POST", "/api/v1/events/{event}/cancel", nil},
				{"GET", "/api/v1/events/{event}/rules/{rule}/attempts", nil},
				{"GET", "/api/v1/events/{event}/rules/{rule}/attempts/{attempt}", nil},
				{"GET", "/api/v1/events/{event}/rules/{rule}/attempts/{attempt}/response-details", nil},
				{"POST", "/api/v1/events/{event}/rules/{rule}/retry", nil},
				{"POST", "/api/v1/events/{event}/rules/{rule}/cancel", nil},
			} {
				if code := b.call(t, c.method, expand(c.path), c.body, nil, nil); code != 404 {
					t.Errorf("%s %s as another organization: %d, want 404", c.method, c.path, code)
				}
			}
			if code := b.call(t, "POST", "/api/v1/rules", map[string]any{"workspace": ws, "connection": conn, "event": "x",
				"metadata": map[string]any{"action": "send_webhook"}}, nil, nil); code != 404 {
				t.Errorf("a rule in another organization's workspace: %d", code)
			}
			var bulk struct {
				Count int `json:"count"`
			}
			if code := b.call(t, "POST", "/api/v1/events/bulk", []any{map[string]any{"workspace": ws, "event": "x", "payload": map[string]any{"a": 1}}}, nil, &bulk); code != 207 || bulk.Count != 0 {
				t.Errorf("a bulk into another organization's workspace: %d %+v", code, bulk)
			}
		})
		t.Run("the owner still has everything, untouched", func(t *testing.T) {
			var w struct {
				Name string `json:"name"`
			}
			if code := s.call(t, "GET", "/api/v1/workspaces/"+ws.String(), nil, nil, &w); code != 200 || w.Name != "Private" {
				t.Fatalf("workspace %d %+v", code, w)
			}
			for _, p := range []string{"/api/v1/connections/" + conn.String(), "/api/v1/rules/" + rule.String()} {
				if code := s.call(t, "GET", p, nil, nil, nil); code != 200 {
					t.Fatalf("GET %s: %d", p, code)
				}
			}
			if ev := s.event(t, e); ev.Status != "completed" {
				t.Fatalf("event %+v", ev)
			}
		})
		t.Run("lists never show another organization's records", func(t *testing.T) {
			for path, mine := range map[string]uuid.UUID{
				"/api/v1/workspaces":  b.creds.WorkspaceID,
				"/api/v1/connections": bConn,
				"/api/v1/rules":       bRule,
				"/api/v1/events":      bEvent,
			} {
				var got page[idOf]
				if code := b.call(t, "GET", path, nil, nil, &got); code != 200 {
					t.Fatalf("GET %s: %d", path, code)
				}
				var ids []uuid.UUID
				for _, r := range got.Records {
					ids = append(ids, r.ID)
				}
				if len(ids) != 1 || ids[0] != mine || slices.Contains(ids, ws) || slices.Contains(ids, conn) || slices.Contains(ids, rule) || slices.Contains(ids, e) {
					t.Fatalf("GET %s as the other organization: %v, want only %s", path, ids, mine)
				}
			}
		})
	})
}
