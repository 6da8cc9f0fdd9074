package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Organization returns the organization id names, or the store's first organization when id is
// uuid.Nil: the one the keys commands act on unless told otherwise.
func (a *App) Organization(ctx context.Context, id uuid.UUID) (*switchyard.Organization, error) {
	o, err := a.Store.OrganizationGet(ctx, store.OrganizationGetParams{ID: id})
	switch {
	case errors.Is(err, store.ErrNotFound) && id == uuid.Nil:
		return nil, errors.New("the store has no organization yet: run `switchyard init` first")
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("organization %s does not exist in this store", id)
	case err != nil:
		return nil, err
	}
	return o, nil
}

// CreateMachineKey creates a machine key of an organization, limited to the given workspaces
// and permissions (none: no limit), and returns it with its secret, to show once. Every
// workspace must be the organization's, and the encryption key must be the one the store's
// other secrets are sealed with: a key sealed with another would never verify a token.
func (a *App) CreateMachineKey(ctx context.Context, orgID uuid.UUID, name string, workspaces []uuid.UUID,
	permissions []switchyard.Permission) (*switchyard.MachineKey, string, error) {
	if name == "" {
		return nil, "", errors.New("a machine key needs a name")
	}
	existing, err := a.Store.MachineKeyList(ctx, store.MachineKeyListParams{ListParams: store.ListParams{OrganizationID: orgID, Limit: 1}})
	if err != nil {
		return nil, "", err
	}
	if len(existing.Records) > 0 {
		if _, err := a.box.Open(existing.Records[0].SecretSealed); err != nil {
			return nil, "", errors.New("the encryption key does not open this store's secrets: use the key the store " +
				"was initialized with (--encryption-key, SWITCHYARD_ENCRYPTION_KEY or the key file)")
		}
	}
	var unique []uuid.UUID
	for _, id := range workspaces {
		if slices.Contains(unique, id) {
			continue
		}
		if _, err := a.Store.WorkspaceGet(ctx, store.WorkspaceGetParams{OrganizationID: orgID, ID: id}); errors.Is(err, store.ErrNotFound) {
			return nil, "", fmt.Errorf("workspace %s is not a workspace of organization %s", id, orgID)
		} else if err != nil {
			return nil, "", err
		}
		unique = append(unique, id)
	}
	key, secretKey, err := auth.NewMachineKey(a.box, orgID, name, unique, permissions, time.Now())
	if err != nil {
		return nil, "", err
	}
	if err := a.Store.MachineKeyInsert(ctx, key); err != nil {
		return nil, "", fmt.Errorf("storing machine key: %w", err)
	}
	return key, secretKey, nil
}
