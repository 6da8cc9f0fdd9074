package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// A machine key's limits are stored as JSON arrays (TEXT in SQLite, jsonb in PostgreSQL); an
// empty array is no limit. They are read with the key on every credential lookup (cached
// briefly by the API), never queried, so arrays beat a join table here.

func marshalKeyLimits(k *switchyard.MachineKey) (workspaces, permissions string, err error) {
	ws := k.Workspaces
	if ws == nil {
		ws = []uuid.UUID{}
	}
	ps := k.Permissions
	if ps == nil {
		ps = []switchyard.Permission{}
	}
	w, err := json.Marshal(ws)
	if err != nil {
		return "", "", fmt.Errorf("encoding key workspaces: %w", err)
	}
	p, err := json.Marshal(ps)
	if err != nil {
		return "", "", fmt.Errorf("encoding key permissions: %w", err)
	}
	return string(w), string(p), nil
}

func unmarshalKeyLimits(workspaces, permissions string) ([]uuid.UUID, []switchyard.Permission, error) {
	var (
		ws []uuid.UUID
		ps []switchyard.Permission
	)
	if err := json.Unmarshal([]byte(workspaces), &ws); err != nil {
		return nil, nil, fmt.Errorf("decoding key workspaces: %w", err)
	}
	if err := json.Unmarshal([]byte(permissions), &ps); err != nil {
		return nil, nil, fmt.Errorf("decoding key permissions: %w", err)
	}
	if len(ws) == 0 {
		ws = nil
	}
	if len(ps) == 0 {
		ps = nil
	}
	return ws, ps, nil
}

// OrganizationCreate stores an organization, its first key and its first workspace in one
// transaction.
func (db *DB) OrganizationCreate(ctx context.Context, p store.OrganizationCreateParams) error {
	o := p.Organization
	if p.MachineKey.OrganizationID != o.ID || p.Workspace.OrganizationID != o.ID {
		return fmt.Errorf("creating organization: the key and workspace must belong to organization %s", o.ID)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)`,
			o.ID, o.Name, micros(o.CreatedAt)); err != nil {
			return db.insertErr("organization", err)
		}
		if err := db.insertMachineKey(ctx, tx, p.MachineKey); err != nil {
			return err
		}
		return db.insertWorkspace(ctx, tx, p.Workspace)
	})
	if err != nil {
		return fmt.Errorf("creating organization: %w", err)
	}
	return nil
}

// OrganizationGet returns one organization, or the first one created.
func (db *DB) OrganizationGet(ctx context.Context, p store.OrganizationGetParams) (*switchyard.Organization, error) {
	var row *sql.Row
	if p.ID == uuid.Nil {
		row = db.r.QueryRowContext(ctx, `SELECT id, name, created_at FROM organizations ORDER BY created_at, id LIMIT 1`)
	} else {
		row = db.r.QueryRowContext(ctx, `SELECT id, name, created_at FROM organizations WHERE id = $1`, p.ID)
	}
	var (
		o         switchyard.Organization
		createdAt int64
	)
	if err := row.Scan(&o.ID, &o.Name, &createdAt); err != nil {
		return nil, notFound("organization", err)
	}
	o.CreatedAt = fromMicros(createdAt)
	return &o, nil
}

// MachineKeyList lists the organization's machine keys, newest first.
func (db *DB) MachineKeyList(ctx context.Context, p store.MachineKeyListParams) (*store.Page[*switchyard.MachineKey], error) {
	return listPage(ctx, db, p.ListParams, "machine_keys", machineKeyCols, "organization_id", p.OrganizationID, scanMachineKey,
		func(k *switchyard.MachineKey) (time.Time, uuid.UUID) { return k.CreatedAt, k.ID })
}

// MachineKeyRevoke revokes a key, keeping the first revocation time of a revoked one.
func (db *DB) MachineKeyRevoke(ctx context.Context, p store.MachineKeyRevokeParams) (*switchyard.MachineKey, error) {
	k, err := scanMachineKey(db.w.QueryRowContext(ctx, `UPDATE machine_keys SET revoked_at = COALESCE(revoked_at, $1)
		WHERE id = $2 AND organization_id = $3 RETURNING `+machineKeyCols, micros(p.Now), p.ID, p.OrganizationID))
	if err != nil {
		return nil, notFound("machine key", err)
	}
	return k, nil
}

// WorkspacePublishableKeyRotate gives a workspace a new publishable key.
func (db *DB) WorkspacePublishableKeyRotate(ctx context.Context, p store.WorkspacePublishableKeyRotateParams) (*switchyard.Workspace, error) {
	w, err := scanWorkspace(db.w.QueryRowContext(ctx, `UPDATE workspaces SET publishable_key = $1, updated_at = $2
		WHERE id = $3 AND organization_id = $4 RETURNING `+workspaceCols, p.PublishableKey, micros(p.Now), p.ID, p.OrganizationID))
	switch {
	case err != nil && db.d.isUniqueViolation(err):
		return nil, fmt.Errorf("rotating publishable key: %w", store.ErrConflict)
	case err != nil:
		return nil, notFound("workspace", err)
	}
	return w, nil
}
