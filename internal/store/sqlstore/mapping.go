package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

const mappingCols = `id, mapping_id, organization_id, workspace_id, connection_id, integration_type, version, name, schema, created_by, created_at, updated_at`

func scanMapping(s scanner) (*switchyard.Mapping, error) {
	var (
		m                    switchyard.Mapping
		schema               string
		createdAt, updatedAt int64
	)
	if err := s.Scan(&m.ID, &m.MappingID, &m.OrganizationID, &m.WorkspaceID, &m.ConnectionID, &m.IntegrationType, &m.Version,
		&m.Name, &schema, &m.CreatedBy, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	m.Schema = []byte(schema)
	m.CreatedAt, m.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	return &m, nil
}

const latestMapping = `SELECT ` + mappingCols + ` FROM connection_mappings WHERE connection_id = $1 AND organization_id = $2
	ORDER BY version DESC LIMIT 1`

// MappingGet returns the latest version of a connection's default mapping.
func (db *DB) MappingGet(ctx context.Context, p store.MappingGetParams) (*switchyard.Mapping, error) {
	m, err := scanMapping(db.r.QueryRowContext(ctx, latestMapping, p.ConnectionID, p.OrganizationID))
	if err != nil {
		return nil, notFound("mapping", err)
	}
	return m, nil
}

// MappingSave stores the next version of a connection's default mapping.
func (db *DB) MappingSave(ctx context.Context, p store.MappingSaveParams) (*switchyard.Mapping, error) {
	var saved *switchyard.Mapping
	err := db.tx(ctx, func(tx *sql.Tx) error {
		conn, err := scanConnection(tx.QueryRowContext(ctx,
			`SELECT `+connectionCols+` FROM connections WHERE id = $1 AND organization_id = $2`, p.ConnectionID, p.OrganizationID))
		if err != nil {
			return notFound("connection", err)
		}
		latest, err := scanMapping(tx.QueryRowContext(ctx, latestMapping, p.ConnectionID, p.OrganizationID))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("reading mapping: %w", err)
		}
		m := &switchyard.Mapping{ID: uuid.Must(uuid.NewV7()), MappingID: p.NewMappingID, OrganizationID: p.OrganizationID,
			WorkspaceID: conn.WorkspaceID, ConnectionID: conn.ID, IntegrationType: conn.Type, Version: 1, Name: "Default",
			Schema: p.Schema, CreatedBy: p.CreatedBy, CreatedAt: p.Now, UpdatedAt: p.Now}
		current := 0
		if latest != nil {
			current = latest.Version
			m.MappingID, m.Version, m.Name, m.CreatedAt = latest.MappingID, latest.Version+1, latest.Name, latest.CreatedAt
		}
		if p.ExpectedVersion != 0 && p.ExpectedVersion != current {
			return fmt.Errorf("mapping is at version %d, not %d: %w", current, p.ExpectedVersion, store.ErrConflict)
		}
		if p.MappingID != uuid.Nil && p.MappingID != m.MappingID {
			return fmt.Errorf("mapping id %s is not the connection's mapping: %w", p.MappingID, store.ErrConflict)
		}
		if p.Name != "" {
			m.Name = p.Name
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO connection_mappings (`+mappingCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			m.ID, m.MappingID, m.OrganizationID, m.WorkspaceID, m.ConnectionID, m.IntegrationType, m.Version, m.Name,
			string(m.Schema), m.CreatedBy, micros(m.CreatedAt), micros(m.UpdatedAt)); isForeignKeyViolation(err) {
			return fmt.Errorf("connection deleted meanwhile: %w", store.ErrNotFound)
		} else if err != nil {
			return db.insertErr("mapping", err)
		}
		saved = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return saved, nil
}
