package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// CreateOrganization creates another organization with an owner machine key (no limits) and a
// Default workspace with its publishable key, in one transaction, and returns their credentials
// (the secret key shown this once). Bootstrap makes the first tenant; this makes the others —
// for operators and for tests of tenant isolation.
func (a *App) CreateOrganization(ctx context.Context, name string) (*Credentials, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, errors.New("an organization needs a name")
	}
	pub, err := auth.GeneratePublishableKey()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	org := &switchyard.Organization{ID: uuid.New(), Name: name, CreatedAt: now}
	key, secretKey, err := auth.NewMachineKey(a.box, org.ID, "owner", nil, nil, now)
	if err != nil {
		return nil, err
	}
	ws := &switchyard.Workspace{ID: uuid.Must(uuid.NewV7()), OrganizationID: org.ID, Name: "Default", PublishableKey: pub,
		PublishableKeyName: "Default", CreatedAt: now, UpdatedAt: now}
	if err := a.Store.OrganizationCreate(ctx, store.OrganizationCreateParams{Organization: org, MachineKey: key, Workspace: ws}); err != nil {
		return nil, err
	}
	return &Credentials{Created: true, OrganizationID: org.ID, AccessKey: key.AccessKey, SecretKey: secretKey, WorkspaceID: ws.ID,
		PublishableKey: pub}, nil
}
