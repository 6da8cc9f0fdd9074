package auth

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Sealer seals a secret for storage; *secret.Box is one.
type Sealer interface {
	Seal(plaintext []byte) (string, error)
}

// NewMachineKey generates a machine key of an organization, with its secret sealed by box and
// the given limits (docs/decisions.md §2; nil means no limit), and returns it ready to store together
// with the secret in clear, which is shown once and never again. The permissions are
// normalized (switchyard.NormalizePermissions); the caller validates the workspaces.
func NewMachineKey(box Sealer, orgID uuid.UUID, name string, workspaces []uuid.UUID, permissions []switchyard.Permission,
	now time.Time) (*switchyard.MachineKey, string, error) {
	accessKey, secretKey, err := GenerateMachineKey()
	if err != nil {
		return nil, "", err
	}
	sealed, err := box.Seal([]byte(secretKey))
	if err != nil {
		return nil, "", fmt.Errorf("sealing machine key secret: %w", err)
	}
	if len(workspaces) == 0 {
		workspaces = nil
	}
	return &switchyard.MachineKey{ID: uuid.Must(uuid.NewV7()), OrganizationID: orgID, Name: name, AccessKey: accessKey,
		SecretSealed: sealed, CreatedAt: now.UTC(), Workspaces: workspaces,
		Permissions: switchyard.NormalizePermissions(permissions)}, secretKey, nil
}
