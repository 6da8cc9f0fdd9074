package app

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Credentials are what bootstrap reports. SecretKey is set only when bootstrap created the key:
// it is shown once and never again.
type Credentials struct {
	Created        bool      `json:"created"`
	OrganizationID uuid.UUID `json:"organization_id"`
	AccessKey      string    `json:"access_key"`
	SecretKey      string    `json:"secret_key,omitempty"`
	WorkspaceID    uuid.UUID `json:"workspace_id"`
	PublishableKey string    `json:"publishable_key"`
}

// Bootstrap creates an organization, an owner machine key and a default workspace with its
// publishable key when the store is empty (docs/decisions.md §1). On an initialized store it creates
// nothing, checks that the encryption key opens the store's secrets, and reports the ids.
func (a *App) Bootstrap(ctx context.Context) (*Credentials, error) {
	accessKey, secretKey, err := auth.GenerateMachineKey()
	if err != nil {
		return nil, err
	}
	sealed, err := a.box.Seal([]byte(secretKey))
	if err != nil {
		return nil, err
	}
	pub, err := auth.GeneratePublishableKey()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	org := &switchyard.Organization{ID: uuid.New(), Name: "Default organization", CreatedAt: now}
	res, err := a.Store.Bootstrap(ctx, store.BootstrapParams{
		Organization: org,
		MachineKey: &switchyard.MachineKey{ID: uuid.Must(uuid.NewV7()), OrganizationID: org.ID, Name: "owner",
			AccessKey: accessKey, SecretSealed: sealed, CreatedAt: now},
		Workspace: &switchyard.Workspace{ID: uuid.Must(uuid.NewV7()), OrganizationID: org.ID, Name: "Default",
			PublishableKey: pub, PublishableKeyName: "Default", CreatedAt: now, UpdatedAt: now},
	})
	if err != nil {
		return nil, err
	}
	creds := &Credentials{Created: res.Created, OrganizationID: res.Organization.ID}
	if res.Created {
		creds.SecretKey = secretKey
	}
	if res.MachineKey != nil {
		creds.AccessKey = res.MachineKey.AccessKey
		if _, err := a.box.Open(res.MachineKey.SecretSealed); err != nil {
			return nil, fmt.Errorf("the encryption key does not open this store's secrets: start with the key the store " +
				"was initialized with (SWITCHYARD_ENCRYPTION_KEY or the key file)")
		}
	}
	if res.Workspace != nil {
		creds.WorkspaceID, creds.PublishableKey = res.Workspace.ID, res.Workspace.PublishableKey
	}
	return creds, nil
}
