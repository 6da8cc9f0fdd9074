package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// --- the operator dashboard: login tokens, sessions and overview aggregates ---

// DashboardLoginInsert stores a login token's hash and deletes the tokens that expired.
func (db *DB) DashboardLoginInsert(ctx context.Context, p store.DashboardLoginInsertParams) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM dashboard_logins WHERE expires_at < $1`, micros(p.CreatedAt)); err != nil {
			return fmt.Errorf("deleting expired dashboard logins: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO dashboard_logins (token_hash, organization_id, created_at, expires_at, used_at)
			VALUES ($1, $2, $3, $4, NULL)`, p.TokenHash, p.OrganizationID, micros(p.CreatedAt), micros(p.ExpiresAt))
		return db.insertErr("dashboard login", err)
	})
}

// DashboardLoginTake marks a login token used, once, within its expiry: one UPDATE, so two
// concurrent takes of one token cannot both succeed.
func (db *DB) DashboardLoginTake(ctx context.Context, p store.DashboardLoginTakeParams) (*store.DashboardLogin, error) {
	var (
		l                    store.DashboardLogin
		createdAt, expiresAt int64
		usedAt               sql.NullInt64
	)
	err := db.w.QueryRowContext(ctx, `UPDATE dashboard_logins SET used_at = $1
		WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
		RETURNING token_hash, organization_id, created_at, expires_at, used_at`, micros(p.Now), p.TokenHash).
		Scan(&l.TokenHash, &l.OrganizationID, &createdAt, &expiresAt, &usedAt)
	if err != nil {
		return nil, notFound("dashboard login", err)
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = fromMicros(createdAt), fromMicros(expiresAt), timePtr(usedAt)
	return &l, nil
}

// DashboardSessionInsert stores a session and deletes the sessions that ended.
func (db *DB) DashboardSessionInsert(ctx context.Context, p store.DashboardSessionInsertParams) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM dashboard_sessions WHERE expires_at < $1`, micros(p.CreatedAt)); err != nil {
			return fmt.Errorf("deleting ended dashboard sessions: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO dashboard_sessions (id_hash, organization_id, created_at, expires_at, revoked_at)
			VALUES ($1, $2, $3, $4, NULL)`, p.IDHash, p.OrganizationID, micros(p.CreatedAt), micros(p.ExpiresAt))
		return db.insertErr("dashboard session", err)
	})
}

// DashboardSessionGet returns a live session. It reads through the writer: a logout on this
// node must take effect at once.
func (db *DB) DashboardSessionGet(ctx context.Context, p store.DashboardSessionGetParams) (*store.DashboardSession, error) {
	var (
		s                    store.DashboardSession
		createdAt, expiresAt int64
		revokedAt            sql.NullInt64
	)
	err := db.w.QueryRowContext(ctx, `SELECT id_hash, organization_id, created_at, expires_at, revoked_at
		FROM dashboard_sessions WHERE id_hash = $1 AND revoked_at IS NULL AND expires_at > $2`, p.IDHash, micros(p.Now)).
		Scan(&s.IDHash, &s.OrganizationID, &createdAt, &expiresAt, &revokedAt)
	if err != nil {
		return nil, notFound("dashboard session", err)
	}
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = fromMicros(createdAt), fromMicros(expiresAt), timePtr(revokedAt)
	return &s, nil
}

// DashboardSessionRevoke ends a session (idempotent).
func (db *DB) DashboardSessionRevoke(ctx context.Context, p store.DashboardSessionRevokeParams) error {
	if _, err := db.w.ExecContext(ctx, `UPDATE dashboard_sessions SET revoked_at = $1 WHERE id_hash = $2 AND revoked_at IS NULL`,
		micros(p.Now), p.IDHash); err != nil {
		return fmt.Errorf("revoking dashboard session: %w", err)
	}
	return nil
}

// DeliveryQueueByConnection groups an organization's unfinished deliveries (those with a due
// time or lease: next_attempt_at set) by connection.
func (db *DB) DeliveryQueueByConnection(ctx context.Context, p store.DeliveryQueueByConnectionParams) ([]store.ConnectionQueue, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT connection_id, workspace_id,
			SUM(CASE WHEN status <> 'processing' AND next_attempt_at <= $2 THEN 1 ELSE 0 END),
			SUM(CASE WHEN status <> 'processing' AND next_attempt_at > $2 THEN 1 ELSE 0 END),
			SUM(CASE WHEN status = 'processing' THEN 1 ELSE 0 END),
			MIN(CASE WHEN status <> 'processing' AND next_attempt_at <= $2 THEN next_attempt_at END)
		FROM deliveries WHERE organization_id = $1 AND next_attempt_at IS NOT NULL
		GROUP BY connection_id, workspace_id`, p.OrganizationID, micros(p.Now))
	if err != nil {
		return nil, fmt.Errorf("reading queue by connection: %w", err)
	}
	defer rows.Close()
	var out []store.ConnectionQueue
	for rows.Next() {
		var (
			q      store.ConnectionQueue
			oldest sql.NullInt64
		)
		if err := rows.Scan(&q.ConnectionID, &q.WorkspaceID, &q.Due, &q.Scheduled, &q.Processing, &oldest); err != nil {
			return nil, fmt.Errorf("reading queue by connection: %w", err)
		}
		q.OldestDue = timePtr(oldest)
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading queue by connection: %w", err)
	}
	sortQueues(out)
	return out, nil
}

// EventStatusCounts counts an organization's events by workspace and status.
func (db *DB) EventStatusCounts(ctx context.Context, p store.EventStatusCountsParams) ([]store.EventStatusCount, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT workspace_id, status, COUNT(*) FROM events WHERE organization_id = $1
		GROUP BY workspace_id, status ORDER BY workspace_id, status`, p.OrganizationID)
	if err != nil {
		return nil, fmt.Errorf("counting events: %w", err)
	}
	defer rows.Close()
	var out []store.EventStatusCount
	for rows.Next() {
		var (
			c      store.EventStatusCount
			status string
		)
		if err := rows.Scan(&c.WorkspaceID, &status, &c.N); err != nil {
			return nil, fmt.Errorf("counting events: %w", err)
		}
		c.Status = switchyard.Status(status)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting events: %w", err)
	}
	return out, nil
}

// sortQueues orders connection queues the most due first, then the most scheduled, then by id.
func sortQueues(qs []store.ConnectionQueue) {
	slices.SortFunc(qs, func(a, b store.ConnectionQueue) int {
		if a.Due != b.Due {
			return b.Due - a.Due
		}
		if a.Scheduled+a.Processing != b.Scheduled+b.Processing {
			return (b.Scheduled + b.Processing) - (a.Scheduled + a.Processing)
		}
		return strings.Compare(a.ConnectionID.String(), b.ConnectionID.String())
	})
}
