package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// scanner is the Scan method shared by *sql.Row and *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// notFound maps sql.ErrNoRows to store.ErrNotFound.
func notFound(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// --- organizations and machine keys ---

const machineKeyCols = `id, organization_id, name, access_key, secret_sealed, created_at, revoked_at, workspaces, permissions`

func scanMachineKey(s scanner) (*switchyard.MachineKey, error) {
	var (
		k                       switchyard.MachineKey
		createdAt               int64
		revokedAt               sql.NullInt64
		workspaces, permissions string
	)
	if err := s.Scan(&k.ID, &k.OrganizationID, &k.Name, &k.AccessKey, &k.SecretSealed, &createdAt, &revokedAt,
		&workspaces, &permissions); err != nil {
		return nil, err
	}
	k.CreatedAt = fromMicros(createdAt)
	k.RevokedAt = timePtr(revokedAt)
	var err error
	if k.Workspaces, k.Permissions, err = unmarshalKeyLimits(workspaces, permissions); err != nil {
		return nil, err
	}
	return &k, nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (db *DB) insertMachineKey(ctx context.Context, e execer, k *switchyard.MachineKey) error {
	workspaces, permissions, err := marshalKeyLimits(k)
	if err != nil {
		return err
	}
	_, err = e.ExecContext(ctx, `INSERT INTO machine_keys (`+machineKeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.OrganizationID, k.Name, k.AccessKey, k.SecretSealed, micros(k.CreatedAt), nullMicros(k.RevokedAt),
		workspaces, permissions)
	return db.insertErr("machine key", err)
}

// MachineKeyInsert stores a new machine key.
func (db *DB) MachineKeyInsert(ctx context.Context, k *switchyard.MachineKey) error {
	return db.insertMachineKey(ctx, db.w, k)
}

// MachineKeyGetByAccessKey finds a key by its access key.
func (db *DB) MachineKeyGetByAccessKey(ctx context.Context, accessKey string) (*switchyard.MachineKey, error) {
	k, err := scanMachineKey(db.r.QueryRowContext(ctx, `SELECT `+machineKeyCols+` FROM machine_keys WHERE access_key = $1`, accessKey))
	if err != nil {
		return nil, notFound("machine key", err)
	}
	return k, nil
}

// Bootstrap creates the first organization, key and workspace on an empty store.
func (db *DB) Bootstrap(ctx context.Context, p store.BootstrapParams) (*store.BootstrapResult, error) {
	res := &store.BootstrapResult{}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var (
			org       switchyard.Organization
			createdAt int64
		)
		err := tx.QueryRowContext(ctx, `SELECT id, name, created_at FROM organizations ORDER BY created_at, id LIMIT 1`).
			Scan(&org.ID, &org.Name, &createdAt)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			o := p.Organization
			if _, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)`,
				o.ID, o.Name, micros(o.CreatedAt)); err != nil {
				return db.insertErr("organization", err)
			}
			if err := db.insertMachineKey(ctx, tx, p.MachineKey); err != nil {
				return err
			}
			if err := db.insertWorkspace(ctx, tx, p.Workspace); err != nil {
				return err
			}
			*res = store.BootstrapResult{Created: true, Organization: o, MachineKey: p.MachineKey, Workspace: p.Workspace}
			return nil
		case err != nil:
			return fmt.Errorf("reading organizations: %w", err)
		}
		org.CreatedAt = fromMicros(createdAt)
		res.Organization = &org
		if res.Workspace, err = scanWorkspace(tx.QueryRowContext(ctx,
			`SELECT `+workspaceCols+` FROM workspaces WHERE organization_id = $1 ORDER BY created_at, id LIMIT 1`, org.ID)); err != nil &&
			!errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("reading workspaces: %w", err)
		}
		if res.MachineKey, err = scanMachineKey(tx.QueryRowContext(ctx,
			`SELECT `+machineKeyCols+` FROM machine_keys WHERE organization_id = $1 AND revoked_at IS NULL ORDER BY created_at, id LIMIT 1`, org.ID)); err != nil &&
			!errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("reading machine keys: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bootstrapping: %w", err)
	}
	return res, nil
}

// --- workspaces ---

const workspaceCols = `id, organization_id, name, description, publishable_key, publishable_key_name, created_at, updated_at`

func scanWorkspace(s scanner) (*switchyard.Workspace, error) {
	var (
		w                    switchyard.Workspace
		desc                 sql.NullString
		createdAt, updatedAt int64
	)
	if err := s.Scan(&w.ID, &w.OrganizationID, &w.Name, &desc, &w.PublishableKey, &w.PublishableKeyName, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	w.Description = stringPtr(desc)
	w.CreatedAt, w.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	return &w, nil
}

func (db *DB) insertWorkspace(ctx context.Context, e execer, w *switchyard.Workspace) error {
	_, err := e.ExecContext(ctx, `INSERT INTO workspaces (`+workspaceCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		w.ID, w.OrganizationID, w.Name, nullString(w.Description), w.PublishableKey, w.PublishableKeyName,
		micros(w.CreatedAt), micros(w.UpdatedAt))
	return db.insertErr("workspace", err)
}

// WorkspaceInsert stores a new workspace.
func (db *DB) WorkspaceInsert(ctx context.Context, w *switchyard.Workspace) error {
	return db.insertWorkspace(ctx, db.w, w)
}

// WorkspaceGet returns one workspace of the organization.
func (db *DB) WorkspaceGet(ctx context.Context, p store.WorkspaceGetParams) (*switchyard.Workspace, error) {
	orgID, id := p.OrganizationID, p.ID
	w, err := scanWorkspace(db.r.QueryRowContext(ctx,
		`SELECT `+workspaceCols+` FROM workspaces WHERE id = $1 AND organization_id = $2`, id, orgID))
	if err != nil {
		return nil, notFound("workspace", err)
	}
	return w, nil
}

// WorkspaceGetByPublishableKey finds the workspace of a publishable key.
func (db *DB) WorkspaceGetByPublishableKey(ctx context.Context, key string) (*switchyard.Workspace, error) {
	w, err := scanWorkspace(db.r.QueryRowContext(ctx,
		`SELECT `+workspaceCols+` FROM workspaces WHERE publishable_key = $1`, key))
	if err != nil {
		return nil, notFound("workspace", err)
	}
	return w, nil
}

// WorkspaceList lists the organization's workspaces, newest first.
func (db *DB) WorkspaceList(ctx context.Context, p store.ListParams) (*store.Page[*switchyard.Workspace], error) {
	var w where
	w.eq("organization_id", p.OrganizationID)
	w.inIf("id", p.Workspaces)
	return listWhere(ctx, db.r, "workspaces", workspaceCols, "created_at", w, p, scanWorkspace,
		func(w *switchyard.Workspace) (time.Time, uuid.UUID) { return w.CreatedAt, w.ID })
}

// listPage reads one newest-first page of table where scopeCol = scope.
func listPage[T any](ctx context.Context, db *DB, p store.ListParams, table, cols, scopeCol string, scope uuid.UUID,
	scan func(scanner) (T, error), key func(T) (time.Time, uuid.UUID)) (*store.Page[T], error) {
	var w where
	w.eq(scopeCol, scope)
	return listWhere(ctx, db.r, table, cols, "created_at", w, p, scan, key)
}

// --- connections ---

const connectionCols = `id, organization_id, workspace_id, type, name, metadata, active, inactive_reason, hidden, created_by, created_at, updated_at`

func scanConnection(s scanner) (*switchyard.Connection, error) {
	var (
		c                    switchyard.Connection
		meta                 string
		createdAt, updatedAt int64
	)
	if err := s.Scan(&c.ID, &c.OrganizationID, &c.WorkspaceID, &c.Type, &c.Name, &meta, &c.Active, &c.InactiveReason,
		&c.Hidden, &c.CreatedBy, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	var err error
	if c.Metadata, err = unmarshalMetadata(meta); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	return &c, nil
}

// ConnectionInsert stores a new connection.
func (db *DB) ConnectionInsert(ctx context.Context, c *switchyard.Connection) error {
	meta, err := marshalMetadata(c.Metadata)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO connections (`+connectionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.ID, c.OrganizationID, c.WorkspaceID, c.Type, c.Name, meta, c.Active, c.InactiveReason, c.Hidden, c.CreatedBy,
		micros(c.CreatedAt), micros(c.UpdatedAt))
	return db.insertErr("connection", err)
}

// ConnectionGet returns one connection of the organization.
func (db *DB) ConnectionGet(ctx context.Context, p store.ConnectionGetParams) (*switchyard.Connection, error) {
	orgID, id := p.OrganizationID, p.ID
	c, err := scanConnection(db.r.QueryRowContext(ctx,
		`SELECT `+connectionCols+` FROM connections WHERE id = $1 AND organization_id = $2`, id, orgID))
	if err != nil {
		return nil, notFound("connection", err)
	}
	return c, nil
}

// ConnectionDeactivate marks a connection inactive.
func (db *DB) ConnectionDeactivate(ctx context.Context, p store.ConnectionDeactivateParams) error {
	_, err := db.w.ExecContext(ctx, `UPDATE connections SET active = FALSE, inactive_reason = $1, updated_at = $2 WHERE id = $3`,
		p.Reason, micros(p.Now), p.ConnectionID)
	if err != nil {
		return fmt.Errorf("deactivating connection: %w", err)
	}
	return nil
}

// --- rules ---

const ruleCols = `id, organization_id, workspace_id, connection_id, type, event, resource, resource_id, metadata, active, hidden, created_by, created_at, updated_at`

func scanRule(s scanner) (*switchyard.Rule, error) {
	var (
		r                    switchyard.Rule
		meta                 string
		createdAt, updatedAt int64
	)
	if err := s.Scan(&r.ID, &r.OrganizationID, &r.WorkspaceID, &r.ConnectionID, &r.Type, &r.Event, &r.Resource,
		&r.ResourceID, &meta, &r.Active, &r.Hidden, &r.CreatedBy, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	var err error
	if r.Metadata, err = unmarshalMetadata(meta); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	return &r, nil
}

// RuleInsert stores a new rule.
func (db *DB) RuleInsert(ctx context.Context, r *switchyard.Rule) error {
	meta, err := marshalMetadata(r.Metadata)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO rules (`+ruleCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.ID, r.OrganizationID, r.WorkspaceID, r.ConnectionID, r.Type, r.Event, r.Resource, r.ResourceID, meta, r.Active,
		r.Hidden, r.CreatedBy, micros(r.CreatedAt), micros(r.UpdatedAt))
	return db.insertErr("rule", err)
}

// RuleGet returns one rule of the organization.
func (db *DB) RuleGet(ctx context.Context, p store.RuleGetParams) (*switchyard.Rule, error) {
	orgID, id := p.OrganizationID, p.ID
	r, err := scanRule(db.r.QueryRowContext(ctx, `SELECT `+ruleCols+` FROM rules WHERE id = $1 AND organization_id = $2`, id, orgID))
	if err != nil {
		return nil, notFound("rule", err)
	}
	return r, nil
}
