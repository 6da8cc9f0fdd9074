package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/store"
)

// DeliveryRelease gives claimed deliveries back without an attempt: they become due at DueAt
// and keep their previous status (pending before any attempt, retrying after).
func (db *DB) DeliveryRelease(ctx context.Context, p store.DeliveryReleaseParams) error {
	if len(p.Claims) == 0 {
		return nil
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, c := range p.Claims {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = $1, updated_at = $2,
				status = CASE WHEN attempt_count = 0 THEN 'pending' ELSE 'retrying' END
				WHERE id = $3 AND next_attempt_at = $4 AND status = 'processing'`,
				micros(p.DueAt), micros(p.Now), c.DeliveryID, micros(c.LeaseUntil)); err != nil {
				return fmt.Errorf("releasing delivery: %w", err)
			}
		}
		return nil
	})
}

// deferChunk bounds the rows one deferral statement moves, so that a large backlog is moved in
// short writes that let ingestion and other deliveries in between.
const deferChunk = 500

// DeliveryDefer moves a connection's waiting deliveries that are due before Until to Until,
// without touching attempts: the circuit breaker and stuck-connection parking use it.
//
// On PostgreSQL it skips the deliveries another transaction holds (SKIP LOCKED): a claim taking
// them, or another deferral of the same connection — an opening circuit's beside the parking
// loop's, or another node's. Waiting for them instead, two deferrals that met the same rows in
// different orders deadlocked (docs/postgres.md); what is skipped is being claimed, or deferred
// by the other.
func (db *DB) DeliveryDefer(ctx context.Context, p store.DeliveryDeferParams) (int, error) {
	dueBy := p.Until.Add(-time.Microsecond)
	if !p.DueBy.IsZero() && p.DueBy.Before(dueBy) {
		dueBy = p.DueBy
	}
	skipLocked := ""
	if db.d.name == "postgres" {
		skipLocked = " FOR UPDATE SKIP LOCKED"
	}
	total := 0
	for {
		res, err := db.w.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = $1, updated_at = $2
			WHERE id IN (SELECT id FROM deliveries WHERE connection_id = $3 AND next_attempt_at <= $5
			             AND status IN ('pending', 'retrying') LIMIT $4`+skipLocked+`)`,
			micros(p.Until), micros(p.Now), p.ConnectionID, deferChunk, micros(dueBy))
		if err != nil {
			return total, fmt.Errorf("deferring deliveries: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < deferChunk {
			return total, nil
		}
	}
}

// DeliveryQueueStats counts the deliveries due now that no one holds, and finds the oldest due
// time among them.
func (db *DB) DeliveryQueueStats(ctx context.Context, p store.DeliveryQueueStatsParams) (*store.QueueStats, error) {
	var (
		n      int
		oldest sql.NullInt64
	)
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*), MIN(next_attempt_at) FROM deliveries
		WHERE next_attempt_at <= $1 AND status <> 'processing'`, micros(p.Now)).Scan(&n, &oldest); err != nil {
		return nil, fmt.Errorf("reading queue stats: %w", err)
	}
	return &store.QueueStats{Due: n, OldestDue: timePtr(oldest)}, nil
}

// finishedStatuses are the statuses of an event retention may delete.
const finishedStatuses = `('completed', 'failed', 'canceled')`

// EventDeleteBefore deletes up to Limit finished events created before Before, with their
// deliveries and attempts, and returns how many it deleted. Small batches keep each write
// transaction short, so ingestion is never blocked for long.
func (db *DB) EventDeleteBefore(ctx context.Context, p store.EventDeleteBeforeParams) (int, error) {
	var n int
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// The events are found organization by organization, oldest first within each, through
		// events_org_page (migration 00014): an index of created_at alone would be one more
		// written by every insert, for a chore that runs once an hour.
		where := `SELECT e.id FROM organizations o CROSS JOIN events e
			WHERE e.organization_id = o.id AND e.created_at < $1 AND e.status IN ` + finishedStatuses + ` LIMIT $2`
		if db.d.name == "postgres" {
			where = `SELECT e.id FROM organizations o CROSS JOIN LATERAL (
				SELECT id FROM events WHERE organization_id = o.id AND created_at < $1 AND status IN ` + finishedStatuses + `
				ORDER BY created_at LIMIT $2) e LIMIT $2`
		}
		// Attempts are found through their deliveries (attempts_delivery), not by their own
		// event_id, which has no index: that was a scan of the whole attempts table per batch.
		if _, err := tx.ExecContext(ctx, `DELETE FROM attempts WHERE delivery_id IN (
			SELECT id FROM deliveries WHERE event_id IN (`+where+`))`, micros(p.Before), p.Limit); err != nil {
			return fmt.Errorf("deleting attempts: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE event_id IN (`+where+`)`, micros(p.Before), p.Limit); err != nil {
			return fmt.Errorf("deleting deliveries: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id IN (`+where+`)`, micros(p.Before), p.Limit)
		if err != nil {
			return fmt.Errorf("deleting events: %w", err)
		}
		rows, err := res.RowsAffected()
		n = int(rows)
		return err
	})
	return n, err
}
