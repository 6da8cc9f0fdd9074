package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// DeliveryRecordBatch stores many outcomes in one transaction (a group commit): each attempt,
// each delivery's new state while its lease holds, and each touched event's derived status.
func (db *DB) DeliveryRecordBatch(ctx context.Context, ps []store.DeliveryRecordParams) ([]error, error) {
	errs := make([]error, len(ps))
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// touched events: the latest time, and — for an event with one delivery — that
		// delivery's new status, from which the event's status follows without a count.
		type touch struct {
			now  int64
			only *switchyard.Status
		}
		touched := map[uuid.UUID]*touch{}
		for i, p := range ps {
			errs[i] = nil
			held, err := db.recordOne(ctx, tx, &p)
			if err != nil {
				return err
			}
			if !held {
				errs[i] = store.ErrLeaseLost
				continue
			}
			t := touched[p.EventID]
			if t == nil {
				t = &touch{}
				touched[p.EventID] = t
				if p.EventTotalRules == 1 {
					t.only = &ps[i].Status
				}
			}
			t.now = max(t.now, micros(p.Now))
		}
		// Events are updated in id order, so that concurrent recorders (PostgreSQL) lock them in
		// the same order and cannot deadlock.
		for _, id := range slices.SortedFunc(maps.Keys(touched), func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }) {
			t := touched[id]
			var err error
			if t.only != nil {
				err = db.setEventStatus(ctx, tx, id, switchyard.StatusCounts{*t.only: 1}, t.now)
			} else {
				err = db.refreshEvent(ctx, tx, id, t.now)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// recordOne records one outcome and reports whether the lease still held.
func (db *DB) recordOne(ctx context.Context, tx *sql.Tx, p *store.DeliveryRecordParams) (bool, error) {
	now := micros(p.Now)
	var completedAt any
	if p.Status.Terminal() {
		completedAt = now
	}
	inc := 0
	if a := p.Attempt; a != nil {
		inc = 1
		// The attempt happened whatever became of the lease: record it.
		if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (id, delivery_id, event_id, number, started_at, completed_at, outcome, http_status, message, response_excerpt)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			a.ID, a.DeliveryID, a.EventID, a.Number, micros(a.StartedAt), micros(a.CompletedAt), a.Outcome, a.HTTPStatus,
			a.Message, a.ResponseExcerpt); err != nil {
			return false, db.insertErr("attempt", err)
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = $1, next_attempt_at = $2, attempt_count = attempt_count + $3,
		last_error = $4, completed_at = $5, updated_at = $6 WHERE id = $7 AND next_attempt_at = $8`,
		p.Status, nullMicros(p.NextAttemptAt), inc, p.LastError, completedAt, now, p.DeliveryID, micros(p.LeaseUntil))
	if err != nil {
		return false, fmt.Errorf("recording delivery: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("recording delivery: %w", err)
	}
	if n == 0 && inc == 1 {
		// The lease was lost (canceled, retried or expired meanwhile) but the attempt was made
		// and logged: count it, so attempt numbers stay unique and the count matches the log.
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET attempt_count = attempt_count + 1 WHERE id = $1`, p.DeliveryID); err != nil {
			return false, fmt.Errorf("counting attempt: %w", err)
		}
	}
	return n == 1, nil
}

// refreshEvent derives an event's status and counters from its deliveries.
func (db *DB) refreshEvent(ctx context.Context, tx *sql.Tx, eventID uuid.UUID, now int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT status, COUNT(*) FROM deliveries WHERE event_id = $1 GROUP BY status`, eventID)
	if err != nil {
		return fmt.Errorf("counting deliveries: %w", err)
	}
	counts := switchyard.StatusCounts{}
	for rows.Next() {
		var (
			s switchyard.Status
			n int
		)
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return fmt.Errorf("counting deliveries: %w", err)
		}
		counts[s] = n
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("counting deliveries: %w", err)
	}
	return db.setEventStatus(ctx, tx, eventID, counts, now)
}

// setEventStatus stores the status and counters that counts imply for an event.
func (db *DB) setEventStatus(ctx context.Context, tx *sql.Tx, eventID uuid.UUID, counts switchyard.StatusCounts, now int64) error {
	status := switchyard.EventStatus(counts)
	var completedAt any
	if status.Terminal() {
		completedAt = now
	}
	if _, err := tx.ExecContext(ctx, `UPDATE events SET status = $1, completed_count = $2, failed_count = $3,
		completed_at = $4 WHERE id = $5`,
		status, counts[switchyard.StatusCompleted], counts[switchyard.StatusFailed], completedAt, eventID); err != nil {
		return fmt.Errorf("updating event: %w", err)
	}
	return nil
}
