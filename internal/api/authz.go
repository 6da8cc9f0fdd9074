package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Authorization: what an authenticated principal may do (docs/decisions.md §2). Authentication
// failures are 401; a valid credential outside its limits is 403 — with one deliberate
// exception, below. The checks live here and are applied in three places only:
//
//   - Permissions by route: machine() requires "read" for GET and "write" for every other
//     method, ingest() requires "events:emit" (methodPermission, require).
//   - Workspaces a caller names — a path's workspace_id, the workspace of a create or of an
//     emitted event — must be within the key's limit, else 403 (requireWorkspace). The check
//     comes before any lookup, so the answer says nothing about whether the workspace exists.
//   - Records found by their own id (connections, rules, events, deliveries, attempts) that lie
//     in a workspace outside the key's limit are 404, exactly like another organization's ids
//     (visible, in the loaders: s.connection, s.rule, s.delivery, …), so a limited key learns
//     nothing about records it may not see. Lists are filtered in SQL instead (listQuery.list).

// methodPermission is the permission a management request needs: read for GET (and HEAD),
// write for everything else.
func methodPermission(method string) switchyard.Permission {
	if method == http.MethodGet || method == http.MethodHead {
		return switchyard.PermissionRead
	}
	return switchyard.PermissionWrite
}

// can reports whether the principal holds perm. A publishable key may only emit.
func (p *principal) can(perm switchyard.Permission) bool {
	if p.Session != nil {
		return false // sessions are authorized by route (authorizeSession), never by permission
	}
	if p.Key == nil {
		return perm == switchyard.PermissionEmit
	}
	return p.Key.Can(perm)
}

// canWorkspace reports whether the principal may act in workspace id. Callers look the
// workspace up in the principal's organization, so another organization's never passes.
func (p *principal) canWorkspace(id uuid.UUID) bool {
	if p.Session != nil {
		return p.Session.WorkspaceID == id
	}
	if p.Key == nil {
		return p.Workspace != nil && p.Workspace.ID == id
	}
	return p.Key.CanWorkspace(id)
}

// limited reports whether the principal is confined to some workspaces.
func (p *principal) limited() bool {
	return p.Key == nil || len(p.Key.Workspaces) > 0
}

// workspaces is the set organization-wide lists are confined to: nil when the principal may
// see every workspace of its organization.
func (p *principal) workspaces() []uuid.UUID {
	switch {
	case p.Key != nil:
		return p.Key.Workspaces
	case p.Workspace != nil:
		return []uuid.UUID{p.Workspace.ID}
	case p.Session != nil:
		return []uuid.UUID{p.Session.WorkspaceID}
	}
	return nil
}

// require returns a 403 unless the principal holds perm.
func (p *principal) require(perm switchyard.Permission) error {
	if p.can(perm) {
		return nil
	}
	held := make([]string, 0, len(switchyard.Permissions))
	for _, q := range switchyard.Permissions {
		if p.can(q) {
			held = append(held, string(q))
		}
	}
	return &switchyard.Error{Code: switchyard.EFORBIDDEN, Message: fmt.Sprintf(
		"This machine key does not have the %q permission (it has: %s).", perm, strings.Join(held, ", "))}
}

// requireWorkspace returns a 403 unless the principal may act in workspace id. Call it with
// a workspace id the caller named, before looking the workspace up.
func (p *principal) requireWorkspace(id uuid.UUID) error {
	if p.canWorkspace(id) {
		return nil
	}
	return &switchyard.Error{Code: switchyard.EFORBIDDEN, Message: fmt.Sprintf(
		"This machine key is limited to other workspaces: it cannot act in workspace %s.", id)}
}

// requireAllWorkspaces returns a 403 for a principal confined to some workspaces: creating a
// workspace needs a key that may act in every workspace.
func (p *principal) requireAllWorkspaces(action string) error {
	if !p.limited() {
		return nil
	}
	return &switchyard.Error{Code: switchyard.EFORBIDDEN, Message: fmt.Sprintf(
		"This machine key is limited to some workspaces: %s needs a key without a workspace limit.", action)}
}

// requireUnlimited returns a 403 unless the principal is a machine key without any limit:
// only such a key manages machine keys, so a limited key can never mint itself more power.
func (p *principal) requireUnlimited() error {
	if p.Key != nil && p.Key.Unlimited() {
		return nil
	}
	return &switchyard.Error{Code: switchyard.EFORBIDDEN,
		Message: "Managing machine keys needs a machine key without workspace or permission limits."}
}

// visible returns a 404 naming what unless the principal may see records of workspace wsID:
// a record outside a key's workspace limit is answered like another organization's.
func (p *principal) visible(wsID uuid.UUID, what string) error {
	if p.canWorkspace(wsID) {
		return nil
	}
	return notFound(what)
}

// Session principals. An embed session's access token is a third credential of the API (as in
// Meshes: "server-side enforcement keeps resource and dashboard sessions constrained even when
// a token is used directly against the API"). What a session may do is decided here only:
//
//   - sessionRoutes gives every route a session may use its class; any other route is 403.
//   - sessionRoleClasses and sessionTypeClasses say which classes each role and each session
//     type may use; a request needs both (and the payload class the events.payload:read scope).
//   - Like a key limited to one workspace, a session sees only its workspace: records of other
//     workspaces are 404, a workspace it names must be its own (403).
//   - A resource session is further confined to its resource/resource_id: lists of events and
//     rules are filtered to it (forced filters, parseListQuery), an event, delivery or rule of
//     another resource is 404 (inResource), and rules it creates and events it emits must name
//     exactly its resource (requireResource).

// sessionClass is what a route does, as far as sessions are concerned.
type sessionClass int

const (
	sessionNone        sessionClass = iota // no session may use the route
	sessionRead                            // read records, without payloads
	sessionPayload                         // read an event's payload
	sessionOperate                         // retry or cancel deliveries, test rules
	sessionRules                           // create and delete rules
	sessionConnections                     // create, update, delete connections; save mappings; OAuth
	sessionEmit                            // emit events
)

// sessionRoutes are the routes a session may use, by pattern (as routes() registers them).
var sessionRoutes = map[string]sessionClass{
	"POST /api/v1/events":      sessionEmit,
	"POST /api/v1/events/bulk": sessionEmit,

	"GET /api/v1/connections":                                  sessionRead,
	"POST /api/v1/connections":                                 sessionConnections,
	"GET /api/v1/connections/{connection_id}":                  sessionRead,
	"PUT /api/v1/connections/{connection_id}":                  sessionConnections,
	"DELETE /api/v1/connections/{connection_id}":               sessionConnections,
	"GET /api/v1/connections/{connection_id}/actions":          sessionRead,
	"GET /api/v1/connections/{connection_id}/fields":           sessionRead,
	"GET /api/v1/connections/{connection_id}/mappings/default": sessionRead,
	"PUT /api/v1/connections/{connection_id}/mappings/default": sessionConnections,
	"POST /api/v1/connections/oauth/start":                     sessionConnections,
	"GET /api/v1/integrations":                                 sessionRead,

	"GET /api/v1/rules":                 sessionRead,
	"POST /api/v1/rules":                sessionRules,
	"GET /api/v1/rules/{rule_id}":       sessionRead,
	"DELETE /api/v1/rules/{rule_id}":    sessionRules,
	"POST /api/v1/rules/{rule_id}/test": sessionOperate,

	"GET /api/v1/events":                                                                   sessionRead,
	"GET /api/v1/events/{event_id}":                                                        sessionRead,
	"GET /api/v1/events/{event_id}/payload":                                                sessionPayload,
	"POST /api/v1/events/{event_id}/cancel":                                                sessionOperate,
	"GET /api/v1/events/{event_id}/rules/{rule_id}/attempts":                               sessionRead,
	"GET /api/v1/events/{event_id}/rules/{rule_id}/attempts/{attempt_id}":                  sessionRead,
	"GET /api/v1/events/{event_id}/rules/{rule_id}/attempts/{attempt_id}/response-details": sessionRead,
	"POST /api/v1/events/{event_id}/rules/{rule_id}/retry":                                 sessionOperate,
	"POST /api/v1/events/{event_id}/rules/{rule_id}/cancel":                                sessionOperate,
}

// sessionRoleClasses are the classes each role may use: member < admin < owner (admin and
// owner differ in nothing the API offers sessions).
var sessionRoleClasses = map[string][]sessionClass{
	SessionRoleMember: {sessionRead, sessionOperate},
	SessionRoleAdmin:  {sessionRead, sessionPayload, sessionOperate, sessionRules, sessionConnections, sessionEmit},
	SessionRoleOwner:  {sessionRead, sessionPayload, sessionOperate, sessionRules, sessionConnections, sessionEmit},
}

// sessionTypeClasses are the classes each session type may use: a dashboard session uses no
// route; a resource session neither manages connections nor mappings.
var sessionTypeClasses = map[string][]sessionClass{
	SessionTypeWorkspace: {sessionRead, sessionPayload, sessionOperate, sessionRules, sessionConnections, sessionEmit},
	SessionTypeResource:  {sessionRead, sessionPayload, sessionOperate, sessionRules, sessionEmit},
	SessionTypeDashboard: nil,
}

// sessionMay reports whether session ss may use a route of class c.
func sessionMay(ss *Session, c sessionClass) bool {
	if c == sessionNone || !slices.Contains(sessionRoleClasses[ss.Role], c) || !slices.Contains(sessionTypeClasses[ss.Type], c) {
		return false
	}
	return c != sessionPayload || slices.Contains(ss.Scopes, SessionScopePayloadRead)
}

// Allows reports whether the session may use route, a pattern as the API registers it
// ("POST /api/v1/rules"). The embed pages show only what it allows; the API enforces it.
func (ss *Session) Allows(route string) bool { return sessionMay(ss, sessionRoutes[route]) }

// authorizeSession returns a 403 unless session ss may use route.
func authorizeSession(ss *Session, route string) error {
	if ss.Allows(route) {
		return nil
	}
	return &switchyard.Error{Code: switchyard.EFORBIDDEN, Message: fmt.Sprintf(
		"A %s session of role %s may not use %s.", ss.Type, ss.Role, route)}
}

// resourceBound reports whether the principal is a resource session.
func (p *principal) resourceBound() bool {
	return p.Session != nil && p.Session.Type == SessionTypeResource
}

// inResource returns a 404 naming what unless the principal may see records of resource
// resource/resourceID: a resource session sees only its own resource's.
func (p *principal) inResource(resource, resourceID, what string) error {
	if !p.resourceBound() || (resource == p.Session.Resource && resourceID == p.Session.ResourceID) {
		return nil
	}
	return notFound(what)
}

// requireResource checks the resource a resource session's new record names (param is the
// field's name prefix: "" or "[3]."): missing is a 400 field error, another resource 403.
func (p *principal) requireResource(param, resource, resourceID string) error {
	if !p.resourceBound() {
		return nil
	}
	ss := p.Session
	var f fields
	if resource == "" {
		f.add(param+"resource", "is required in a resource session: must be "+strconv.Quote(ss.Resource))
	}
	if resourceID == "" {
		f.add(param+"resource_id", "is required in a resource session: must be "+strconv.Quote(ss.ResourceID))
	}
	if err := f.err(); err != nil {
		return err
	}
	if resource != ss.Resource || resourceID != ss.ResourceID {
		return &switchyard.Error{Code: switchyard.EFORBIDDEN, Message: fmt.Sprintf(
			"This session is confined to %s/%s: it cannot act on %s/%s.", ss.Resource, ss.ResourceID, resource, resourceID)}
	}
	return nil
}
