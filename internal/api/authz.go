package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Authorization: what an authenticated principal may do (product.md §2). Authentication
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
	if p.Key == nil {
		return perm == switchyard.PermissionEmit
	}
	return p.Key.Can(perm)
}

// canWorkspace reports whether the principal may act in workspace id. Callers look the
// workspace up in the principal's organization, so another organization's never passes.
func (p *principal) canWorkspace(id uuid.UUID) bool {
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
