package switchyard_test

import (
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

func TestMachineKeyLimits(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()

	t.Run("a key without limits may do anything anywhere", func(t *testing.T) {
		t.Parallel()
		k := &switchyard.MachineKey{}
		if !k.Unlimited() || !k.CanWorkspace(a) || !k.Can(switchyard.PermissionRead) || !k.Can(switchyard.PermissionWrite) ||
			!k.Can(switchyard.PermissionEmit) {
			t.Fatalf("%+v is limited", k)
		}
	})
	t.Run("a workspace limit admits only its workspaces", func(t *testing.T) {
		t.Parallel()
		k := &switchyard.MachineKey{Workspaces: []uuid.UUID{a}}
		if k.Unlimited() || !k.CanWorkspace(a) || k.CanWorkspace(b) || !k.Can(switchyard.PermissionWrite) {
			t.Fatalf("%+v", k)
		}
	})
	t.Run("a permission limit admits only its permissions", func(t *testing.T) {
		t.Parallel()
		k := &switchyard.MachineKey{Permissions: []switchyard.Permission{switchyard.PermissionEmit}}
		if k.Unlimited() || !k.Can(switchyard.PermissionEmit) || k.Can(switchyard.PermissionRead) || !k.CanWorkspace(b) {
			t.Fatalf("%+v", k)
		}
	})
	t.Run("permissions parse from their names only", func(t *testing.T) {
		t.Parallel()
		for _, s := range []string{"read", "write", "events:emit"} {
			if p, err := switchyard.ParsePermission(s); err != nil || string(p) != s {
				t.Errorf("%q: %v, %v", s, p, err)
			}
		}
		for _, s := range []string{"", "READ", "admin", "events"} {
			if _, err := switchyard.ParsePermission(s); err == nil {
				t.Errorf("%q parsed", s)
			}
		}
	})
	t.Run("normalizing orders, deduplicates, and turns every permission into none", func(t *testing.T) {
		t.Parallel()
		got := switchyard.NormalizePermissions([]switchyard.Permission{switchyard.PermissionEmit, switchyard.PermissionRead, switchyard.PermissionEmit})
		if !slices.Equal(got, []switchyard.Permission{switchyard.PermissionRead, switchyard.PermissionEmit}) {
			t.Fatalf("normalized to %v", got)
		}
		if got := switchyard.NormalizePermissions(switchyard.Permissions); got != nil {
			t.Fatalf("every permission normalized to %v, want nil (no limit)", got)
		}
		if got := switchyard.NormalizePermissions(nil); got != nil {
			t.Fatalf("none normalized to %v", got)
		}
	})
}
