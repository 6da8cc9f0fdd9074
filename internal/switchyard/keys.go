package switchyard

import (
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Permission is one thing a machine key may be allowed to do (docs/decisions.md §2). A key without
// any listed permission holds them all.
type Permission string

// The permissions a machine key can be limited to.
const (
	// PermissionRead allows every GET of the management API.
	PermissionRead Permission = "read"
	// PermissionWrite allows every POST, PUT and DELETE of the management API.
	PermissionWrite Permission = "write"
	// PermissionEmit allows POST /events and POST /events/bulk.
	PermissionEmit Permission = "events:emit"
)

// Permissions lists every permission, in the order the API shows them.
var Permissions = []Permission{PermissionRead, PermissionWrite, PermissionEmit}

// ParsePermission returns the permission named s, or an error naming the valid ones.
func ParsePermission(s string) (Permission, error) {
	p := Permission(s)
	if !slices.Contains(Permissions, p) {
		return "", fmt.Errorf("must be one of read, write, events:emit")
	}
	return p, nil
}

// NormalizePermissions returns ps without duplicates, in the order of Permissions. Listing
// every permission is the same as listing none (no limit), so that case returns nil.
func NormalizePermissions(ps []Permission) []Permission {
	var out []Permission
	for _, p := range Permissions {
		if slices.Contains(ps, p) {
			out = append(out, p)
		}
	}
	if len(out) == len(Permissions) {
		return nil
	}
	return out
}

// Can reports whether the key holds permission p.
func (k *MachineKey) Can(p Permission) bool {
	return len(k.Permissions) == 0 || slices.Contains(k.Permissions, p)
}

// CanWorkspace reports whether the key may act in workspace id. It does not check that the
// workspace is the key's organization's: callers look workspaces up by organization.
func (k *MachineKey) CanWorkspace(id uuid.UUID) bool {
	return len(k.Workspaces) == 0 || slices.Contains(k.Workspaces, id)
}

// Unlimited reports whether the key has neither a workspace nor a permission limit: only such
// a key may manage machine keys, so that a limited key can never mint itself more power.
func (k *MachineKey) Unlimited() bool {
	return len(k.Workspaces) == 0 && len(k.Permissions) == 0
}
