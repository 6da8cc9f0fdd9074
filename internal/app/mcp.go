package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/client"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// InProcessClient returns a client of this App's API served in-process, without a listener
// (`switchyard mcp --database-url`): requests go through the API's handler, authenticated by
// the JWTs the client mints from a machine key of organization orgID, exactly as over the
// network. accessKey picks the key; "" picks the newest active key without limits. The
// returned key is the one used (never its secret). release stops the API's background
// writers; call it, then Close, when done. The delivery engine is not running: events are
// stored and delivered by a server on the same store.
func (a *App) InProcessClient(ctx context.Context, orgID uuid.UUID, accessKey string) (c *client.Client,
	key *switchyard.MachineKey, release func(), err error) {
	key, err = a.pickMachineKey(ctx, orgID, accessKey)
	if err != nil {
		return nil, nil, nil, err
	}
	secret, err := a.box.Open(key.SecretSealed)
	if err != nil {
		return nil, nil, nil, errors.New("the encryption key does not open this store's machine keys: use the key the store " +
			"was initialized with (--encryption-key, SWITCHYARD_ENCRYPTION_KEY or the key file)")
	}
	c, err = client.New("http://switchyard.local", client.WithHTTPClient(&http.Client{Transport: client.HandlerTransport(a.Handler())}),
		client.WithMachineKey(client.MachineKey{AccessKey: key.AccessKey, SecretKey: string(secret), OrgID: orgID}),
		client.WithUserAgent("switchyard-mcp"))
	if err != nil {
		return nil, nil, nil, err
	}
	return c, key, a.api.Close, nil
}

// pickMachineKey finds the organization's live key accessKey, or the newest live key without
// limits.
func (a *App) pickMachineKey(ctx context.Context, orgID uuid.UUID, accessKey string) (*switchyard.MachineKey, error) {
	if accessKey != "" {
		k, err := a.Store.MachineKeyGetByAccessKey(ctx, accessKey)
		switch {
		case errors.Is(err, store.ErrNotFound) || (err == nil && k.OrganizationID != orgID):
			return nil, fmt.Errorf("machine key %s is not a key of organization %s", accessKey, orgID)
		case err != nil:
			return nil, err
		case k.RevokedAt != nil:
			return nil, fmt.Errorf("machine key %s is revoked", accessKey)
		}
		return k, nil
	}
	cursor := ""
	for {
		page, err := a.Store.MachineKeyList(ctx, store.MachineKeyListParams{ListParams: store.ListParams{
			OrganizationID: orgID, Limit: 200, Cursor: cursor}})
		if err != nil {
			return nil, err
		}
		for _, k := range page.Records { // newest first
			if k.RevokedAt == nil && len(k.Workspaces) == 0 && len(k.Permissions) == 0 {
				return k, nil
			}
		}
		if page.NextCursor == "" {
			return nil, fmt.Errorf("organization %s has no active machine key without limits: name one with --access-key, "+
				"or create one with `switchyard keys create`", orgID)
		}
		cursor = page.NextCursor
	}
}
