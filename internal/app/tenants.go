package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// CreateOrganization creates another organization with an owner machine key and a Default
// workspace with its publishable key, and returns their credentials (the secret key shown this
// once). Bootstrap makes the first tenant; this makes the others — for the keys CLI and for
// tests of tenant isolation. The three records are inserted one after the other: a failure
// half-way leaves an organization nobody can use, never a usable one that is incomplete.
func (a *App) CreateOrganization(ctx context.Context, name string) (*Credentials, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, errors.New("an organization needs a name")
	}
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
	org := &switchyard.Organization{ID: uuid.New(), Name: name, CreatedAt: now}
	if err := a.Store.OrganizationInsert(ctx, org); err != nil {
		return nil, fmt.Errorf("creating organization: %w", err)
	}
	key := &switchyard.MachineKey{ID: uuid.Must(uuid.NewV7()), OrganizationID: org.ID, Name: "owner", AccessKey: accessKey,
		SecretSealed: sealed, CreatedAt: now}
	if err := a.Store.MachineKeyInsert(ctx, key); err != nil {
		return nil, fmt.Errorf("creating machine key: %w", err)
	}
	ws := &switchyard.Workspace{ID: uuid.Must(uuid.NewV7()), OrganizationID: org.ID, Name: "Default", PublishableKey: pub,
		PublishableKeyName: "Default", CreatedAt: now, UpdatedAt: now}
	if err := a.Store.WorkspaceInsert(ctx, ws); err != nil {
		return nil, fmt.Errorf("creating workspace: %w", err)
	}
	return &Credentials{Created: true, OrganizationID: org.ID, AccessKey: accessKey, SecretKey: secretKey, WorkspaceID: ws.ID,
		PublishableKey: pub}, nil
}
