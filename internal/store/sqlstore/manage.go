package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// unfinished selects deliveries that may still be attempted. Such deliveries always have a
// next_attempt_at (their due time or their claimer's lease), so the condition can use the
// partial deliveries_due index, which holds exactly them.
const unfinished = `next_attempt_at IS NOT NULL AND status IN ('pending', 'processing', 'retrying')`

// WorkspaceUpdate replaces a workspace's name and description.
func (db *DB) WorkspaceUpdate(ctx context.Context, p store.WorkspaceUpdateParams) (*switchyard.Workspace, error) {
	w, err := scanWorkspace(db.w.QueryRowContext(ctx, `UPDATE workspaces SET name = $1, description = $2, updated_at = $3
		WHERE id = $4 AND organization_id = $5 RETURNING `+workspaceCols,
		p.Name, nullString(p.Description), micros(p.Now), p.ID, p.OrganizationID))
	switch {
	case err != nil && db.d.isUniqueViolation(err):
		return nil, fmt.Errorf("updating workspace: %w", store.ErrConflict)
	case err != nil:
		return nil, notFound("workspace", err)
	}
	return w, nil
}

// ConnectionUpdate replaces a connection's editable fields and reactivates it.
func (db *DB) ConnectionUpdate(ctx context.Context, p store.ConnectionUpdateParams) (*switchyard.Connection, error) {
	meta, err := marshalMetadata(p.Metadata)
	if err != nil {
		return nil, err
	}
	c, err := scanConnection(db.w.QueryRowContext(ctx, `UPDATE connections SET name = $1, metadata = $2, hidden = $3,
		active = TRUE, inactive_reason = '', updated_at = $4 WHERE id = $5 AND organization_id = $6 RETURNING `+connectionCols,
		p.Name, meta, p.Hidden, micros(p.Now), p.ID, p.OrganizationID))
	if err != nil {
		return nil, notFound("connection", err)
	}
	return c, nil
}

// ConnectionDelete deletes a connection, its rules and mappings, and cancels its deliveries.
func (db *DB) ConnectionDelete(ctx context.Context, p store.ConnectionDeleteParams) (*switchyard.Connection, error) {
	var conn *switchyard.Connection
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		conn, err = scanConnection(tx.QueryRowContext(ctx,
			`SELECT `+connectionCols+` FROM connections WHERE id = $1 AND organization_id = $2`, p.ID, p.OrganizationID))
		if err != nil {
			return notFound("connection", err)
		}
		if !p.Force {
			var active int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM rules WHERE connection_id = $1 AND active`, p.ID).Scan(&active); err != nil {
				return fmt.Errorf("counting rules: %w", err)
			}
			if active > 0 {
				return fmt.Errorf("connection has %d active rules: %w", active, store.ErrConflict)
			}
		}
		if err := db.cancelDeliveries(ctx, tx, "The connection was deleted.", micros(p.Now),
			`connection_id = $1 AND organization_id = $2`, p.ID, p.OrganizationID); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM rules WHERE connection_id = $1`,
			`DELETE FROM connection_mappings WHERE connection_id = $1`,
			`DELETE FROM connections WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, p.ID); isForeignKeyViolation(err) {
				// A rule or mapping was added meanwhile: the caller may try again.
				return fmt.Errorf("connection gained references while being deleted: %w", store.ErrConflict)
			} else if err != nil {
				return fmt.Errorf("deleting connection: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// RuleDelete deletes a rule and cancels its deliveries.
func (db *DB) RuleDelete(ctx context.Context, p store.RuleDeleteParams) (*switchyard.Rule, error) {
	var rule *switchyard.Rule
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		rule, err = scanRule(tx.QueryRowContext(ctx, `DELETE FROM rules WHERE id = $1 AND organization_id = $2 RETURNING `+ruleCols,
			p.ID, p.OrganizationID))
		if err != nil {
			return notFound("rule", err)
		}
		return db.cancelDeliveries(ctx, tx, "The rule was deleted.", micros(p.Now),
			`rule_id = $1 AND organization_id = $2`, p.ID, p.OrganizationID)
	})
	if err != nil {
		return nil, err
	}
	return rule, nil
}

// cancelDeliveries cancels the unfinished deliveries matching cond (whose placeholders start at
// $1) and re-derives their events. A delivery in flight loses its lease: its claimer's outcome
// is still logged as an attempt but no longer changes the delivery.
func (db *DB) cancelDeliveries(ctx context.Context, tx *sql.Tx, reason string, now int64, cond string, args ...any) error {
	n := len(args)
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`UPDATE deliveries SET status = 'canceled', next_attempt_at = NULL,
		completed_at = $%d, updated_at = $%d, last_error = CASE WHEN last_error = '' THEN $%d ELSE last_error END
		WHERE %s AND `+unfinished+` RETURNING event_id`, n+1, n+1, n+2, cond), append(args, now, reason)...)
	if err != nil {
		return fmt.Errorf("canceling deliveries: %w", err)
	}
	events, err := collect(rows, func(s scanner) (uuid.UUID, error) {
		var id uuid.UUID
		err := s.Scan(&id)
		return id, err
	}, "canceled deliveries")
	if err != nil {
		return err
	}
	return db.refreshEvents(ctx, tx, events, now)
}

// isForeignKeyViolation recognises a reference to a row that a concurrent transaction deleted
// (or a row that gained a reference meanwhile), in either dialect.
func isForeignKeyViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23503"
	}
	var lite *sqlite.Error
	return errors.As(err, &lite) && lite.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
