package app_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/api"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// Session access tokens used directly against the API (internal/api/authz.go): every role ×
// session type × route class gets the status the product rules say, records outside the
// session's workspace and resource stay out of reach, and a token that no longer grants the
// session is 401. The expectations are restated here from the rules, not read from authz.go.

// sessionClasses are the route classes, with the roles and types that may use each.
var sessionClasses = map[string]struct{ roles, types []string }{
	"read":        {[]string{"member", "admin", "owner"}, []string{"workspace", "resource"}},
	"payload":     {[]string{"admin", "owner"}, []string{"workspace", "resource"}}, // and the scope
	"operate":     {[]string{"member", "admin", "owner"}, []string{"workspace", "resource"}},
	"rules":       {[]string{"admin", "owner"}, []string{"workspace", "resource"}},
	"connections": {[]string{"admin", "owner"}, []string{"workspace"}},
	"emit":        {[]string{"admin", "owner"}, []string{"workspace", "resource"}},
}

// authzFixture is the first workspace's records: a connection, rules and delivered events in
// resource order/o_1 (in) and order/o_2 (out), and an event of a second workspace.
type authzFixture struct {
	ws, ws2, conn, ruleIn, ruleOut, evIn, evOut, ev2, attemptIn uuid.UUID
}

// sessionCase is one request a session may make: its class, and prep builds it (creating
// fresh records as needed, so that every caller meets the same state).
type sessionCase struct {
	name, class string
	prep        func(t *testing.T) (method, path string, body any)
}

func sessionCases(a *server, f *authzFixture, h *hook) []sessionCase {
	fixedReq := func(method, path string, body any) func(*testing.T) (string, string, any) {
		return func(*testing.T) (string, string, any) { return method, path, body }
	}
	in := map[string]any{"resource": "order", "resource_id": "o_1"}
	delivery := "/api/v1/events/" + f.evIn.String() + "/rules/" + f.ruleIn.String()
	webhook := map[string]any{"url": h.url(), "skip_url_test": true}
	return []sessionCase{
		{"list connections", "read", fixedReq("GET", "/api/v1/connections", nil)},
		{"get a connection", "read", fixedReq("GET", "/api/v1/connections/"+f.conn.String(), nil)},
		{"a connection's actions", "read", fixedReq("GET", "/api/v1/connections/"+f.conn.String()+"/actions", nil)},
		{"a connection's fields", "read", fixedReq("GET", "/api/v1/connections/"+f.conn.String()+"/fields", nil)},
		{"a connection's mapping", "read", fixedReq("GET", "/api/v1/connections/"+f.conn.String()+"/mappings/default", nil)},
		{"list integrations", "read", fixedReq("GET", "/api/v1/integrations", nil)},
		{"list rules", "read", fixedReq("GET", "/api/v1/rules", nil)},
		{"get a rule", "read", fixedReq("GET", "/api/v1/rules/"+f.ruleIn.String(), nil)},
		{"list events", "read", fixedReq("GET", "/api/v1/events", nil)},
		{"get an event", "read", fixedReq("GET", "/api/v1/events/"+f.evIn.String(), nil)},
		{"list attempts", "read", fixedReq("GET", delivery+"/attempts", nil)},
		{"get an attempt", "read", fixedReq("GET", delivery+"/attempts/"+f.attemptIn.String(), nil)},
		{"an attempt's response", "read", fixedReq("GET", delivery+"/attempts/"+f.attemptIn.String()+"/response-details", nil)},
		{"an event's payload", "payload", fixedReq("GET", "/api/v1/events/"+f.evIn.String()+"/payload", nil)},
		{"test a rule", "operate", fixedReq("POST", "/api/v1/rules/"+f.ruleIn.String()+"/test",
			map[string]any{"payload": map[string]any{"x": 1}, "dry_run": true})},
		{"retry a delivery", "operate", fixedReq("POST", delivery+"/retry", nil)},   // completed: 409
		{"cancel a delivery", "operate", fixedReq("POST", delivery+"/cancel", nil)}, // finished: 409
		{"cancel an event", "operate", fixedReq("POST", "/api/v1/events/"+f.evIn.String()+"/cancel", nil)},
		{"create a rule", "rules", fixedReq("POST", "/api/v1/rules", map[string]any{"workspace": f.ws, "connection": f.conn,
			"event": "order.shipped", "resource": "order", "resource_id": "o_1", "metadata": map[string]any{"action": "send_webhook"}})},
		{"delete a rule", "rules", func(t *testing.T) (string, string, any) {
			return "DELETE", "/api/v1/rules/" + a.createRule(t, f.ws, f.conn, "order.shipped", in).String(), nil
		}},
		{"create a connection", "connections", fixedReq("POST", "/api/v1/connections", map[string]any{"workspace": f.ws,
			"type": "webhook", "name": "New", "metadata": webhook})},
		{"update a connection", "connections", func(t *testing.T) (string, string, any) {
			return "PUT", "/api/v1/connections/" + a.createConnection(t, f.ws, h.url(), nil).String(),
				map[string]any{"name": "Renamed", "metadata": webhook}
		}},
		{"delete a connection", "connections", func(t *testing.T) (string, string, any) {
			return "DELETE", "/api/v1/connections/" + a.createConnection(t, f.ws, h.url(), nil).String(), map[string]any{"force_delete": true}
		}},
		{"save a mapping", "connections", func(t *testing.T) (string, string, any) {
			return "PUT", "/api/v1/connections/" + a.createConnection(t, f.ws, h.url(), nil).String() + "/mappings/default",
				map[string]any{"schema": map[string]any{}}
		}},
		{"start an OAuth flow", "connections", fixedReq("POST", "/api/v1/connections/oauth/start", map[string]any{"workspace": f.ws,
			"type": "salesforce", "name": "CRM", "redirect_url": "https://app.example.com/done"})},
		{"emit an event", "emit", fixedReq("POST", "/api/v1/events", map[string]any{"workspace": f.ws, "event": "order.noted",
			"resource": "order", "resource_id": "o_1", "payload": map[string]any{"x": 1}})},
		{"emit events in bulk", "emit", fixedReq("POST", "/api/v1/events/bulk", []any{map[string]any{"workspace": f.ws,
			"event": "order.noted", "resource": "order", "resource_id": "o_1", "payload": map[string]any{"x": 1}}})},
	}
}

// withToken returns the headers of a request with a session's access token.
func withToken(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

func TestSessionTokensOnTheAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		var encKey string
		a := startApp(t, d, func(c *config.Config) { encKey = c.EncryptionKey })
		h := newHook(t, 200)
		f := &authzFixture{ws: a.creds.WorkspaceID, ws2: a.createWorkspace(t, "Second")}
		in := map[string]any{"resource": "order", "resource_id": "o_1"}
		out := map[string]any{"resource": "order", "resource_id": "o_2"}
		f.conn = a.createConnection(t, f.ws, h.url(), nil)
		f.ruleIn = a.createRule(t, f.ws, f.conn, "order.paid", in)
		f.ruleOut = a.createRule(t, f.ws, f.conn, "order.paid", out)
		f.evIn = a.emit(t, f.ws, "order.paid", in)
		f.evOut = a.emit(t, f.ws, "order.paid", out)
		conn2 := a.createConnection(t, f.ws2, h.url(), nil)
		rule2 := a.createRule(t, f.ws2, conn2, "order.paid", nil)
		f.ev2 = a.emit(t, f.ws2, "order.paid", nil)
		for _, ev := range []uuid.UUID{f.evIn, f.evOut, f.ev2} {
			eventually(t, "the fixture's deliveries", func() bool { return a.event(t, ev).Status == "completed" })
		}
		var attempts page[idOf]
		if code := a.call(t, "GET", "/api/v1/events/"+f.evIn.String()+"/rules/"+f.ruleIn.String()+"/attempts", nil, nil, &attempts); code != 200 || attempts.Count != 1 {
			t.Fatalf("attempts: %d %+v", code, attempts)
		}
		f.attemptIn = attempts.Records[0].ID

		type sess struct {
			role, typ string
			scoped    bool
			token     string
		}
		var sessions []*sess
		for _, role := range []string{"member", "admin", "owner"} {
			for _, typ := range []string{"workspace", "resource", "dashboard"} {
				for _, scoped := range []bool{false, true} {
					body := map[string]any{"workspace_id": f.ws, "role": role, "session_type": typ}
					if typ == "resource" {
						body["resource"], body["resource_id"] = "order", "o_1"
					}
					if scoped {
						body["scopes"] = []string{api.SessionScopePayloadRead}
					}
					sessions = append(sessions, &sess{role, typ, scoped, a.mintSession(t, body).AccessToken})
				}
			}
		}
		name := func(s *sess) string {
			n := s.role + " " + s.typ
			if s.scoped {
				n += " with " + api.SessionScopePayloadRead
			}
			return n
		}

		for _, c := range sessionCases(a, f, h) {
			t.Run(c.name, func(t *testing.T) {
				method, path, body := c.prep(t)
				allowed, _ := a.callJSON(t, method, path, body) // what a machine key gets
				if allowed == 403 || allowed == 401 {
					t.Fatalf("the machine key got %d", allowed)
				}
				for _, s := range sessions {
					method, path, body := c.prep(t)
					rule := sessionClasses[c.class]
					want := 403
					if slices.Contains(rule.roles, s.role) && slices.Contains(rule.types, s.typ) && (c.class != "payload" || s.scoped) {
						want = allowed
					}
					code, raw := a.callWith(t, s.token, method, path, body)
					if code != want {
						t.Errorf("%s: %s %s: %d %s, want %d", name(s), method, path, code, raw, want)
					}
				}
			})
		}

		t.Run("every other route is 403 to every session", func(t *testing.T) {
			fx := &fixture{ws: f.ws, conn: f.conn, rule: f.ruleIn, event: f.evIn, attempt: f.attemptIn,
				key: uuid.New(), sess: uuid.New()}
			checked := 0
			for _, rc := range routeTable() {
				if rc.auth == authNone || rc.path == nil {
					continue
				}
				covered := false
				for _, c := range sessionCases(a, f, h) {
					if sessionRouteOf(c) == rc.route {
						covered = true
					}
				}
				if covered {
					continue
				}
				checked++
				var body any
				if rc.body != nil {
					body = rc.body(fx)
				}
				for _, s := range sessions {
					if code, raw := a.callWith(t, s.token, methodOf(rc.route), rc.path(fx), body); code != 403 {
						t.Errorf("%s: %s: %d %s, want 403", name(s), rc.route, code, raw)
					}
				}
			}
			if checked < 10 {
				t.Fatalf("only %d routes checked", checked)
			}
		})

		owner := a.mintSession(t, map[string]any{"workspace_id": f.ws, "role": "owner", "scopes": []string{api.SessionScopePayloadRead}})
		res := a.mintSession(t, map[string]any{"workspace_id": f.ws, "role": "owner", "session_type": "resource",
			"resource": "order", "resource_id": "o_1", "scopes": []string{api.SessionScopePayloadRead}})
		expect := func(t *testing.T, token, method, path string, body any, want int) []byte {
			t.Helper()
			code, raw := a.callWith(t, token, method, path, body)
			if code != want {
				t.Errorf("%s %s: %d %s, want %d", method, path, code, raw, want)
			}
			return raw
		}

		t.Run("a session is confined to its workspace", func(t *testing.T) {
			for _, tok := range []string{owner.AccessToken, res.AccessToken} {
				expect(t, tok, "GET", "/api/v1/events/"+f.ev2.String(), nil, 404)
				expect(t, tok, "GET", "/api/v1/rules/"+rule2.String(), nil, 404)
				expect(t, tok, "GET", "/api/v1/connections/"+conn2.String(), nil, 404)
				expect(t, tok, "POST", "/api/v1/events/"+f.ev2.String()+"/rules/"+rule2.String()+"/retry", nil, 404)
				expect(t, tok, "POST", "/api/v1/events", map[string]any{"workspace": f.ws2, "event": "x.y", "resource": "order",
					"resource_id": "o_1", "payload": map[string]any{}}, 403)
				for _, list := range []string{"/api/v1/events", "/api/v1/rules", "/api/v1/connections"} {
					if raw := expect(t, tok, "GET", list, nil, 200); len(uuidsIn(raw, []uuid.UUID{f.ev2, rule2, conn2})) > 0 {
						t.Errorf("%s shows another workspace's records: %s", list, raw)
					}
				}
			}
			expect(t, owner.AccessToken, "POST", "/api/v1/rules", map[string]any{"workspace": f.ws2, "connection": conn2,
				"event": "x.y", "metadata": map[string]any{"action": "send_webhook"}}, 403)
			expect(t, owner.AccessToken, "POST", "/api/v1/connections", map[string]any{"workspace": f.ws2, "type": "webhook",
				"name": "X", "metadata": map[string]any{"url": h.url(), "skip_url_test": true}}, 403)
		})

		t.Run("a workspace session sees every resource", func(t *testing.T) {
			expect(t, owner.AccessToken, "GET", "/api/v1/events/"+f.evOut.String(), nil, 200)
			expect(t, owner.AccessToken, "GET", "/api/v1/rules/"+f.ruleOut.String(), nil, 200)
		})

		t.Run("a resource session is confined to its resource", func(t *testing.T) {
			tok := res.AccessToken
			expect(t, tok, "GET", "/api/v1/events/"+f.evOut.String(), nil, 404)
			expect(t, tok, "GET", "/api/v1/events/"+f.evOut.String()+"/payload", nil, 404)
			expect(t, tok, "POST", "/api/v1/events/"+f.evOut.String()+"/cancel", nil, 404)
			expect(t, tok, "GET", "/api/v1/rules/"+f.ruleOut.String(), nil, 404)
			expect(t, tok, "DELETE", "/api/v1/rules/"+f.ruleOut.String(), nil, 404)
			expect(t, tok, "POST", "/api/v1/rules/"+f.ruleOut.String()+"/test", map[string]any{"payload": map[string]any{}, "dry_run": true}, 404)
			outDelivery := "/api/v1/events/" + f.evOut.String() + "/rules/" + f.ruleOut.String()
			expect(t, tok, "GET", outDelivery+"/attempts", nil, 404)
			expect(t, tok, "POST", outDelivery+"/retry", nil, 404)
			expect(t, tok, "POST", outDelivery+"/cancel", nil, 404)
			expect(t, tok, "POST", "/api/v1/rules/"+f.ruleIn.String()+"/test", map[string]any{"event_id": f.evOut, "dry_run": true}, 404)
			for _, list := range []string{"/api/v1/events", "/api/v1/events?resource_id=o_2", "/api/v1/rules", "/api/v1/rules?resource=user"} {
				raw := expect(t, tok, "GET", list, nil, 200)
				if len(uuidsIn(raw, []uuid.UUID{f.evOut, f.ruleOut})) > 0 {
					t.Errorf("%s shows another resource's records: %s", list, raw)
				}
				if !strings.Contains(list, "?") && len(uuidsIn(raw, []uuid.UUID{f.evIn, f.ruleIn})) == 0 {
					t.Errorf("%s lacks the session's own records: %s", list, raw)
				}
			}
			rule := func(extra map[string]any) map[string]any {
				b := map[string]any{"workspace": f.ws, "connection": f.conn, "event": "order.shipped", "metadata": map[string]any{"action": "send_webhook"}}
				for k, v := range extra {
					b[k] = v
				}
				return b
			}
			var e apiError
			if code := a.call(t, "POST", "/api/v1/rules", rule(nil), withToken(tok), &e); code != 400 ||
				!slices.Contains(e.params(), "resource") || !slices.Contains(e.params(), "resource_id") {
				t.Errorf("a rule without the resource: %d %+v, want 400 on resource and resource_id", code, e)
			}
			expect(t, tok, "POST", "/api/v1/rules", rule(out), 403)
			expect(t, tok, "POST", "/api/v1/rules", rule(map[string]any{"resource": "user", "resource_id": "o_1"}), 403)
			expect(t, tok, "POST", "/api/v1/rules", rule(in), 201)
			expect(t, tok, "POST", "/api/v1/events", map[string]any{"workspace": f.ws, "event": "order.noted", "resource": "order",
				"resource_id": "o_2", "payload": map[string]any{}}, 403)
		})

		t.Run("testing a rule with a stored event needs the payload grant", func(t *testing.T) {
			member := a.mintSession(t, map[string]any{"workspace_id": f.ws, "role": "member", "scopes": []string{api.SessionScopePayloadRead}})
			body := map[string]any{"event_id": f.evIn, "dry_run": true}
			expect(t, member.AccessToken, "POST", "/api/v1/rules/"+f.ruleIn.String()+"/test", body, 403)
			expect(t, owner.AccessToken, "POST", "/api/v1/rules/"+f.ruleIn.String()+"/test", body, 200)
		})

		t.Run("records a session creates say so", func(t *testing.T) {
			var out struct {
				Connection struct {
					CreatedBy string `json:"created_by"`
				} `json:"connection"`
			}
			if code := a.call(t, "POST", "/api/v1/connections", map[string]any{"workspace": f.ws, "type": "webhook", "name": "By session",
				"metadata": map[string]any{"url": h.url(), "skip_url_test": true}}, withToken(owner.AccessToken), &out); code != 201 ||
				out.Connection.CreatedBy != owner.SessionID {
				t.Errorf("created by a session: %d %+v, want created_by %s", code, out, owner.SessionID)
			}
		})

		t.Run("a token that no longer grants its session is 401", func(t *testing.T) {
			revoked := a.mintSession(t, map[string]any{"workspace_id": f.ws, "role": "owner"})
			if code := a.call(t, "DELETE", "/api/v1/sessions/"+revoked.SessionID, nil, nil, nil); code != 200 {
				t.Fatalf("revoke: %d", code)
			}
			replaced := a.mintSession(t, map[string]any{"workspace_id": f.ws, "role": "owner"})
			var fresh createdSessionJSON
			if code := a.call(t, "POST", "/api/v1/sessions/"+replaced.SessionID+"/refresh", nil, nil, &fresh); code != 200 {
				t.Fatalf("refresh: %d", code)
			}
			expired := forgeSessionToken(t, encKey, replaced, fresh.SessionID, -time.Minute)
			forged := forgeSessionToken(t, base64.StdEncoding.EncodeToString(secret.GenerateKey()), replaced, fresh.SessionID, time.Hour)
			for name, tok := range map[string]string{"revoked": revoked.AccessToken, "refreshed away": replaced.AccessToken,
				"expired": expired, "signed with another key": forged} {
				for _, route := range [][2]string{{"GET", "/api/v1/events"}, {"POST", "/api/v1/events"}, {"GET", "/api/v1/machine-keys"}} {
					var e apiError
					if code := a.call(t, route[0], route[1], map[string]any{}, withToken(tok), &e); code != 401 || e.Error.Name != "Unauthorized" {
						t.Errorf("%s token: %s %s: %d %+v, want 401", name, route[0], route[1], code, e)
					}
				}
			}
			expect(t, fresh.AccessToken, "GET", "/api/v1/events", nil, 200)
		})
	})
}

// sessionRouteOf is the route pattern a session case exercises.
func sessionRouteOf(c sessionCase) string {
	return map[string]string{
		"list connections": "GET /api/v1/connections", "get a connection": "GET /api/v1/connections/{connection_id}",
		"a connection's actions": "GET /api/v1/connections/{connection_id}/actions",
		"a connection's fields":  "GET /api/v1/connections/{connection_id}/fields",
		"a connection's mapping": "GET /api/v1/connections/{connection_id}/mappings/default",
		"list integrations":      "GET /api/v1/integrations", "list rules": "GET /api/v1/rules",
		"get a rule": "GET /api/v1/rules/{rule_id}", "list events": "GET /api/v1/events",
		"get an event":          "GET /api/v1/events/{event_id}",
		"list attempts":         "GET /api/v1/events/{event_id}/rules/{rule_id}/attempts",
		"get an attempt":        "GET /api/v1/events/{event_id}/rules/{rule_id}/attempts/{attempt_id}",
		"an attempt's response": "GET /api/v1/events/{event_id}/rules/{rule_id}/attempts/{attempt_id}/response-details",
		"an event's payload":    "GET /api/v1/events/{event_id}/payload",
		"test a rule":           "POST /api/v1/rules/{rule_id}/test",
		"retry a delivery":      "POST /api/v1/events/{event_id}/rules/{rule_id}/retry",
		"cancel a delivery":     "POST /api/v1/events/{event_id}/rules/{rule_id}/cancel",
		"cancel an event":       "POST /api/v1/events/{event_id}/cancel",
		"create a rule":         "POST /api/v1/rules", "delete a rule": "DELETE /api/v1/rules/{rule_id}",
		"create a connection": "POST /api/v1/connections", "update a connection": "PUT /api/v1/connections/{connection_id}",
		"delete a connection": "DELETE /api/v1/connections/{connection_id}",
		"save a mapping":      "PUT /api/v1/connections/{connection_id}/mappings/default",
		"start an OAuth flow": "POST /api/v1/connections/oauth/start",
		"emit an event":       "POST /api/v1/events", "emit events in bulk": "POST /api/v1/events/bulk",
	}[c.name]
}

// callWith sends a request with a session's access token and returns the status and answer.
func (s *server) callWith(t *testing.T, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var raw json.RawMessage
	code := s.call(t, method, path, body, withToken(token), &raw)
	return code, raw
}

// forgeSessionToken signs claims like a real token of sess (now the session id's current one:
// id) with the key derived from encKey, expiring in ttl (negative: already expired).
func forgeSessionToken(t *testing.T, encKey string, sess *createdSessionJSON, id string, ttl time.Duration) string {
	t.Helper()
	raw, err := secret.ParseKey(encKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := secret.DeriveKey(raw, api.SessionKeyLabel)
	if err != nil {
		t.Fatal(err)
	}
	// The org claim: read from the real token.
	var real map[string]any
	part := strings.Split(sess.AccessToken, ".")[1]
	b, _ := base64.RawURLEncoding.DecodeString(part)
	if err := json.Unmarshal(b, &real); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	real["sid"], real["iat"], real["exp"], real["jti"] = id, now.Add(-2*time.Hour).Unix(), now.Add(ttl).Unix(), uuid.NewString()
	claims, _ := json.Marshal(real)
	input := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
