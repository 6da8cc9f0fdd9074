package api

import (
	"slices"
	"strings"
	"testing"
)

// The session allow-list names served routes only, and the OpenAPI document lists the
// sessionToken scheme on exactly those operations.
func TestSessionRoutesAreServedAndDocumented(t *testing.T) {
	t.Parallel()
	served := servedRoutes()
	for route := range sessionRoutes {
		if !slices.Contains(served, route) {
			t.Errorf("sessionRoutes names %q, which is not served", route)
		}
	}
	doc := loadOpenAPI(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			route := method + " " + path
			documented := false
			if op.Security != nil {
				for _, req := range *op.Security {
					if _, ok := req["sessionToken"]; ok {
						documented = true
					}
				}
			}
			if _, allowed := sessionRoutes[route]; allowed != documented {
				t.Errorf("%s: sessions allowed %v, documented with sessionToken %v", route, allowed, documented)
			}
		}
	}
}

// The decision table: dashboard sessions use nothing; payloads need admin/owner and the scope;
// resource sessions manage no connections.
func TestSessionDecisions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		role, typ string
		scopes    []string
		route     string
		want      bool
	}{
		{SessionRoleOwner, SessionTypeDashboard, []string{SessionScopePayloadRead}, "GET /api/v1/events", false},
		{SessionRoleMember, SessionTypeWorkspace, nil, "GET /api/v1/events", true},
		{SessionRoleMember, SessionTypeWorkspace, nil, "POST /api/v1/events/{event_id}/rules/{rule_id}/retry", true},
		{SessionRoleMember, SessionTypeWorkspace, nil, "POST /api/v1/rules", false},
		{SessionRoleMember, SessionTypeWorkspace, []string{SessionScopePayloadRead}, "GET /api/v1/events/{event_id}/payload", false},
		{SessionRoleAdmin, SessionTypeWorkspace, nil, "GET /api/v1/events/{event_id}/payload", false},
		{SessionRoleAdmin, SessionTypeWorkspace, []string{SessionScopePayloadRead}, "GET /api/v1/events/{event_id}/payload", true},
		{SessionRoleAdmin, SessionTypeResource, nil, "POST /api/v1/connections", false},
		{SessionRoleAdmin, SessionTypeResource, nil, "POST /api/v1/rules", true},
		{SessionRoleOwner, SessionTypeWorkspace, nil, "POST /api/v1/sessions", false},
		{SessionRoleOwner, SessionTypeWorkspace, nil, "GET /api/v1/workspaces", false},
		{"superuser", SessionTypeWorkspace, nil, "GET /api/v1/events", false},
	} {
		ss := &Session{Role: c.role, Type: c.typ, Scopes: c.scopes}
		if got := ss.Allows(c.route); got != c.want {
			t.Errorf("%s %s %v: %s: %v, want %v", c.role, c.typ, c.scopes, c.route, got, c.want)
		}
	}
}

// A session token is told from a machine JWT by its header and issuer, without verifying it.
func TestIsSessionToken(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	t.Cleanup(s.Close)
	if isSessionToken("eyJhbGciOiJIUzI1NiIsImtpZCI6ImsifQ.e30.x") || isSessionToken(sessionTokenPrefix+"e30.x") ||
		isSessionToken(strings.Repeat("a", 5000)) {
		t.Fatal("a machine JWT or junk was taken for a session token")
	}
}
