package store

import (
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// OrganizationCreateParams holds a new organization with its first machine key and workspace,
// which must belong to it.
type OrganizationCreateParams struct {
	Organization *switchyard.Organization
	MachineKey   *switchyard.MachineKey
	Workspace    *switchyard.Workspace
}

// OrganizationGetParams selects one organization; ID uuid.Nil selects the first one created.
type OrganizationGetParams struct {
	ID uuid.UUID
}

// MachineKeyListParams selects one page of an organization's machine keys.
type MachineKeyListParams struct {
	ListParams
}

// MachineKeyRevokeParams selects the key to revoke.
type MachineKeyRevokeParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
	Now            time.Time
}

// WorkspacePublishableKeyRotateParams gives a workspace its new publishable key.
type WorkspacePublishableKeyRotateParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
	// PublishableKey is the new key (auth.GeneratePublishableKey).
	PublishableKey string
	Now            time.Time
}
