package client

import (
	"context"
	"iter"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// The permissions a machine key can hold.
const (
	PermissionRead      = "read"
	PermissionWrite     = "write"
	PermissionEventEmit = "events:emit"
)

// MachineKeyRecord is a machine key as the API shows it (MachineKey holds the credentials a
// client authenticates with). SecretKey is only filled by CreateMachineKey,
// the one time the secret is shown.
type MachineKeyRecord struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	AccessKey string    `json:"access_key"`
	SecretKey string    `json:"secret_key,omitempty"`
	// Workspaces limits the key to these workspaces; empty means every workspace.
	Workspaces []uuid.UUID `json:"workspaces"`
	// Permissions limits what the key may do; empty means everything.
	Permissions []string   `json:"permissions"`
	CreatedAt   time.Time  `json:"created_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
}

// MachineKeyCreate is the body of CreateMachineKey.
type MachineKeyCreate struct {
	Name        string      `json:"name"`
	Workspaces  []uuid.UUID `json:"workspaces,omitempty"`
	Permissions []string    `json:"permissions,omitempty"`
}

// ListMachineKeys returns one page of the organization's machine keys (GET /machine-keys). Only
// a key without limits may manage keys.
func (c *Client) ListMachineKeys(ctx context.Context, opts *ListOptions) (*Page[MachineKeyRecord], error) {
	var p Page[MachineKeyRecord]
	return &p, c.Do(ctx, http.MethodGet, "/machine-keys", opts.values(), nil, &p)
}

// MachineKeys iterates over every machine key of the organization.
func (c *Client) MachineKeys(ctx context.Context, opts *ListOptions) iter.Seq2[MachineKeyRecord, error] {
	o := copyOpts(opts)
	return pages(ctx, o.Cursor, func(ctx context.Context, cursor string) (*Page[MachineKeyRecord], error) {
		o.Cursor = cursor
		return c.ListMachineKeys(ctx, &o)
	})
}

// CreateMachineKey creates a machine key and returns it with its secret, shown this once
// (POST /machine-keys). The answer is not retried after a server error, which could otherwise
// create two keys.
func (c *Client) CreateMachineKey(ctx context.Context, in MachineKeyCreate) (*MachineKeyRecord, error) {
	var out struct {
		MachineKey *MachineKeyRecord `json:"machine_key"`
	}
	if err := c.Do(ctx, http.MethodPost, "/machine-keys", nil, in, &out); err != nil {
		return nil, err
	}
	return out.MachineKey, nil
}

// RevokeMachineKey revokes a machine key (DELETE /machine-keys/{id}) and returns it.
func (c *Client) RevokeMachineKey(ctx context.Context, id uuid.UUID) (*MachineKeyRecord, error) {
	var out MachineKeyRecord
	if err := c.Do(ctx, http.MethodDelete, "/machine-keys/"+id.String(), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
