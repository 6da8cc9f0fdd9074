package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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
		var many []bool
		if db.d.name == "postgres" && len(ps) > 1 && distinctDeliveries(ps) {
			var err error
			if many, err = db.recordMany(ctx, tx, ps); err != nil {
				return err
			}
		}
		for i, p := range ps {
			errs[i] = nil
			var held bool
			if many != nil {
				held = many[i]
			} else {
				var err error
				if held, err = db.recordOne(ctx, tx, &p); err != nil {
					return err
				}
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
		// On PostgreSQL the events of one delivery take one statement together: one round trip
		// per event was the most frequent statement of a busy connection's recording. (Each such
		// event is touched only through its one delivery, so no other recorder holds its row.)
		if db.d.name == "postgres" {
			var only []onlyEvent
			for id, t := range touched {
				if t.only != nil {
					only = append(only, onlyEvent{id, *t.only, t.now})
					delete(touched, id)
				}
			}
			if err := db.setEventStatuses(ctx, tx, only); err != nil {
				return err
			}
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

// distinctDeliveries reports whether no delivery has two outcomes in ps.
func distinctDeliveries(ps []store.DeliveryRecordParams) bool {
	seen := make(map[uuid.UUID]bool, len(ps))
	for _, p := range ps {
		if seen[p.DeliveryID] {
			return false
		}
		seen[p.DeliveryID] = true
	}
	return true
}

var attemptInsert = newMultiInsert("attempt", "attempts", attemptCols)

func attemptArgs(a *switchyard.Attempt) []any {
	return []any{a.ID, a.DeliveryID, a.EventID, a.Number, micros(a.StartedAt), micros(a.CompletedAt), a.Outcome, a.HTTPStatus,
		a.Message, a.ResponseExcerpt}
}

// outcomeUpdates[k] (PostgreSQL) writes 2^k deliveries' outcomes in one statement, each only
// while its lease holds, and returns the ids it wrote.
var outcomeUpdates = func() []string {
	const cols = 8
	var out []string
	for k := 0; k <= maxRowsLog2; k++ {
		var b strings.Builder
		b.WriteString(`UPDATE deliveries d SET status = v.status, next_attempt_at = v.next, attempt_count = d.attempt_count + v.inc,
			last_error = v.last_error, completed_at = v.completed_at, updated_at = v.now FROM (VALUES `)
		for i := range 1 << k {
			if i > 0 {
				b.WriteString(", ")
			}
			n := i * cols
			fmt.Fprintf(&b, "($%d::uuid, $%d::text, $%d::bigint, $%d::int, $%d::text, $%d::bigint, $%d::bigint, $%d::bigint)",
				n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8)
		}
		b.WriteString(`) AS v(id, status, next, inc, last_error, completed_at, now, lease)
			WHERE d.id = v.id AND d.next_attempt_at = v.lease RETURNING d.id`)
		out = append(out, b.String())
	}
	return out
}()

// recordMany is recordOne for many outcomes of distinct deliveries in a few statements
// (PostgreSQL, where each statement is a round trip: three per outcome were most of one busy
// connection's database time). It reports, per outcome, whether its lease held.
func (db *DB) recordMany(ctx context.Context, tx *sql.Tx, ps []store.DeliveryRecordParams) ([]bool, error) {
	var attempts []*switchyard.Attempt
	for i := range ps {
		if a := ps[i].Attempt; a != nil {
			attempts = append(attempts, a)
		}
	}
	// The attempts happened whatever became of the leases: record them.
	if err := insertRows(ctx, db, tx, attemptInsert, attempts, attemptArgs); err != nil {
		return nil, err
	}
	held := make(map[uuid.UUID]bool, len(ps))
	for rest := ps; len(rest) > 0; {
		k := maxRowsLog2
		for 1<<k > len(rest) {
			k--
		}
		n := 1 << k
		args := make([]any, 0, n*8)
		for i := range rest[:n] {
			args = append(args, outcomeArgs(&rest[i])...)
		}
		rows, err := tx.QueryContext(ctx, outcomeUpdates[k], args...)
		if err != nil {
			return nil, fmt.Errorf("recording deliveries: %w", err)
		}
		ids, err := collect(rows, func(s scanner) (uuid.UUID, error) {
			var id uuid.UUID
			return id, s.Scan(&id)
		}, "recorded deliveries")
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			held[id] = true
		}
		rest = rest[n:]
	}
	out := make([]bool, len(ps))
	for i, p := range ps {
		out[i] = held[p.DeliveryID]
		if !out[i] && p.Attempt != nil {
			if err := countAttempt(ctx, tx, p.DeliveryID); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// outcomeArgs are a delivery's new values for recording its outcome while its lease holds: its
// id, status, next attempt, attempts made (0 or 1), last error, completion and update times, and
// the lease (an outcomeUpdates row; recordOne's parameters $1–$8).
func outcomeArgs(p *store.DeliveryRecordParams) []any {
	now := micros(p.Now)
	var completedAt any
	if p.Status.Terminal() {
		completedAt = now
	}
	inc := 0
	if p.Attempt != nil {
		inc = 1
	}
	return []any{p.DeliveryID, p.Status, nullMicros(p.NextAttemptAt), inc, p.LastError, completedAt, now, micros(p.LeaseUntil)}
}

// countAttempt counts an attempt that was made and logged although the delivery's lease was
// lost (canceled, retried or expired meanwhile), so attempt numbers stay unique and the count
// matches the log.
func countAttempt(ctx context.Context, tx *sql.Tx, deliveryID uuid.UUID) error {
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET attempt_count = attempt_count + 1 WHERE id = $1`, deliveryID); err != nil {
		return fmt.Errorf("counting attempt: %w", err)
	}
	return nil
}

// recordOne records one outcome and reports whether the lease still held.
func (db *DB) recordOne(ctx context.Context, tx *sql.Tx, p *store.DeliveryRecordParams) (bool, error) {
	if a := p.Attempt; a != nil {
		// The attempt happened whatever became of the lease: record it.
		if err := insertRows(ctx, db, tx, attemptInsert, []*switchyard.Attempt{a}, attemptArgs); err != nil {
			return false, err
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = $2, next_attempt_at = $3, attempt_count = attempt_count + $4,
		last_error = $5, completed_at = $6, updated_at = $7 WHERE id = $1 AND next_attempt_at = $8`, outcomeArgs(p)...)
	if err != nil {
		return false, fmt.Errorf("recording delivery: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("recording delivery: %w", err)
	}
	if n == 0 && p.Attempt != nil {
		if err := countAttempt(ctx, tx, p.DeliveryID); err != nil {
			return false, err
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
	if _, err := tx.ExecContext(ctx, `UPDATE events SET status = $1, completed_count = $2, failed_count = $3,
		completed_at = $4 WHERE id = $5`, append(eventStatusArgs(counts, now), eventID)...); err != nil {
		return fmt.Errorf("updating event: %w", err)
	}
	return nil
}

// eventStatusArgs are the values that counts imply for an event: its status, completed and
// failed counts, and completion time (now, once the status is terminal; else NULL).
func eventStatusArgs(counts switchyard.StatusCounts, now int64) []any {
	status := switchyard.EventStatus(counts)
	var completedAt any
	if status.Terminal() {
		completedAt = now
	}
	return []any{status, counts[switchyard.StatusCompleted], counts[switchyard.StatusFailed], completedAt}
}

// onlyEvent is an event with one delivery, and that delivery's new status.
type onlyEvent struct {
	id     uuid.UUID
	status switchyard.Status
	now    int64
}

// eventStatusTypesPG are the PostgreSQL types of setEventStatuses' rows: the event's id, then
// eventStatusArgs.
var eventStatusTypesPG = []string{"uuid", "text", "integer", "integer", "bigint"}

// eventStatusesPG is setEventStatuses' statement, one row per element of its arrays.
var eventStatusesPG = `UPDATE events e SET status = v.status, completed_count = v.completed, failed_count = v.failed,
		completed_at = v.completed_at
	FROM unnest(` + arrayParams(1, eventStatusTypesPG) + `) AS v(id, status, completed, failed, completed_at)
	WHERE e.id = v.id`

// setEventStatuses is setEventStatus for many events of one delivery each (PostgreSQL), in one
// statement.
func (db *DB) setEventStatuses(ctx context.Context, tx *sql.Tx, es []onlyEvent) error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return db.setEventStatus(ctx, tx, es[0].id, switchyard.StatusCounts{es[0].status: 1}, es[0].now)
	}
	args := pgColumns(es, func(e onlyEvent) []any {
		return append([]any{e.id}, eventStatusArgs(switchyard.StatusCounts{e.status: 1}, e.now)...)
	}, eventStatusTypesPG)
	// Planned for each batch (pgx's unnamed statement) rather than once and cached: a plan made
	// while the events table was small joins it by a sequential scan, and keeps doing so as the
	// table grows, until the next ANALYZE.
	if _, err := tx.ExecContext(ctx, eventStatusesPG, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...); err != nil {
		return fmt.Errorf("updating events: %w", err)
	}
	return nil
}
