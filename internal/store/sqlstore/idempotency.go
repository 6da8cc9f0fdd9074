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

// claimIdempotencyKey takes e's idempotency key for e inside the inserting transaction. If an
// unexpired earlier event holds the key, it loads that event into e, sets e.Replayed and returns
// true: the caller stores nothing. Concurrent inserts with one key serialise on its row, so
// exactly one of them stores an event.
func (db *DB) claimIdempotencyKey(ctx context.Context, tx *sql.Tx, e *switchyard.Event) (bool, error) {
	now := micros(e.CreatedAt)
	expired := micros(e.CreatedAt.Add(-switchyard.IdempotencyWindow))
	var owner uuid.UUID
	err := tx.QueryRowContext(ctx, `INSERT INTO idempotency_keys (workspace_id, key, event_id, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id, key) DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at
		WHERE idempotency_keys.created_at < $5
		RETURNING event_id`, e.WorkspaceID, e.IdempotencyKey, e.ID, now, expired).Scan(&owner)
	switch {
	case err == nil:
		return false, nil // new, or an expired key taken over
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("claiming idempotency key: %w", err)
	}
	var original uuid.UUID
	if err := tx.QueryRowContext(ctx, `SELECT event_id FROM idempotency_keys WHERE workspace_id = $1 AND key = $2`,
		e.WorkspaceID, e.IdempotencyKey).Scan(&original); err != nil {
		return false, fmt.Errorf("reading idempotency key: %w", err)
	}
	prev, err := scanEvent(tx.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE id = $1`, original), false)
	if errors.Is(err, sql.ErrNoRows) {
		// The earlier event is gone (retention): the key is free again.
		if _, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET event_id = $1, created_at = $2 WHERE workspace_id = $3 AND key = $4`,
			e.ID, now, e.WorkspaceID, e.IdempotencyKey); err != nil {
			return false, fmt.Errorf("taking over idempotency key: %w", err)
		}
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("reading the idempotent event: %w", err)
	}
	key := e.IdempotencyKey
	*e = *prev
	e.IdempotencyKey, e.Replayed = key, true
	return true, nil
}

// IdempotencyKeyDeleteBefore removes up to Limit idempotency keys created before Before.
func (db *DB) IdempotencyKeyDeleteBefore(ctx context.Context, p store.IdempotencyKeyDeleteBeforeParams) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE (workspace_id, key) IN (
		SELECT workspace_id, key FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
		micros(p.Before), p.Limit)
	if err != nil {
		return 0, fmt.Errorf("deleting expired idempotency keys: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
