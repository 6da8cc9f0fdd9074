package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// DeliveryRecordBatch stores many outcomes in one transaction (a group commit): each attempt,
// each delivery's new state while its lease holds, and each touched event's derived status.
func (db *DB) DeliveryRecordBatch(ctx context.Context, ps []store.DeliveryRecordParams) ([]error, error) {
	if db.d.name == "postgres" && distinctDeliveries(ps) {
		return db.recordPipelined(ctx, ps)
	}
	errs := make([]error, len(ps))
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// The attempts happened whatever became of the leases: all of them, in multi-row
		// INSERTs (a statement per attempt was a fifth of the batch's statements).
		attempts := make([]*switchyard.Attempt, 0, len(ps))
		for i := range ps {
			if a := ps[i].Attempt; a != nil {
				attempts = append(attempts, a)
			}
		}
		if err := insertRows(ctx, db, tx, attemptInsert, attempts, attemptArgs); err != nil {
			return err
		}
		held := make([]bool, len(ps))
		for i := range ps {
			var err error
			if held[i], err = db.recordOutcome(ctx, tx, &ps[i]); err != nil {
				return err
			}
		}
		touched := touchedEvents(ps, held, errs)
		_, lock := counting(touched)
		if err := db.lockEvents(ctx, tx, lock); err != nil {
			return err
		}
		var only []*touchedEvent // statuses that follow from one delivery: written together
		for _, t := range touched {
			if t.only != nil {
				only = append(only, t)
			} else if err := db.deriveEvent(ctx, tx, t.id, t.now); err != nil {
				return err
			}
		}
		return db.setEventStatuses(ctx, tx, only)
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// touchedEvent is an event whose status an outcome batch changes: the latest time, and — for an
// event with one delivery — that delivery's new status, from which the event's status follows
// without a count.
type touchedEvent struct {
	id   uuid.UUID
	now  int64
	only *switchyard.Status
}

// onlyCounts are the counts of an event with one delivery (only set): that delivery's status.
func (t *touchedEvent) onlyCounts() switchyard.StatusCounts {
	return switchyard.StatusCounts{*t.only: 1}
}

// touchedEvents sets errs[i] for each outcome whose lease did not hold (held[i] false) and returns
// the events the others touch, in id order: so that concurrent recorders (PostgreSQL) lock them
// in the same order and cannot deadlock.
func touchedEvents(ps []store.DeliveryRecordParams, held []bool, errs []error) []*touchedEvent {
	touched := map[uuid.UUID]*touchedEvent{}
	for i, p := range ps {
		errs[i] = nil
		if !held[i] {
			errs[i] = store.ErrLeaseLost
			continue
		}
		t := touched[p.EventID]
		if t == nil {
			t = &touchedEvent{id: p.EventID}
			touched[p.EventID] = t
			if p.EventTotalRules == 1 {
				t.only = &ps[i].Status
			}
		}
		t.now = max(t.now, micros(p.Now))
	}
	return slices.SortedFunc(maps.Values(touched), func(a, b *touchedEvent) int { return bytes.Compare(a.id[:], b.id[:]) })
}

// counting returns the touched events whose status is counted from their deliveries (those
// with several), and the events to lock before the count (lockEventsSQL): every touched one
// when any is counted, none otherwise.
func counting(touched []*touchedEvent) (counted []*touchedEvent, lock []uuid.UUID) {
	for _, t := range touched {
		if t.only == nil {
			counted = append(counted, t)
		}
	}
	if len(counted) == 0 {
		return nil, nil
	}
	lock = make([]uuid.UUID, len(touched))
	for i, t := range touched {
		lock[i] = t.id
	}
	return counted, lock
}

// recordPipelined is DeliveryRecordBatch on PostgreSQL, for outcomes of distinct deliveries, in
// two round trips: BEGIN with the attempts and the deliveries' outcomes, then the events'
// statuses with COMMIT (and one more between them to count the deliveries of events with
// several). Each statement of the transaction used to be a round trip of its own — five to
// nine for a batch of a few outcomes on one busy connection — and on two cores a round trip's
// cost is mostly the wake-ups on both sides, not the statement (docs/postgres.md).
func (db *DB) recordPipelined(ctx context.Context, ps []store.DeliveryRecordParams) ([]error, error) {
	errs := make([]error, len(ps))
	err := db.withPipelined(ctx, func(p *pipelined) error {
		// The attempts happened whatever became of the leases: record them.
		var attempts []*switchyard.Attempt
		for i := range ps {
			if a := ps[i].Attempt; a != nil {
				attempts = append(attempts, a)
			}
		}
		b := &pgx.Batch{}
		inserts := queueRows(b, attemptInsert.stmts, attempts, attemptArgs)
		updates := queueRows(b, outcomeUpdates, ps, func(p store.DeliveryRecordParams) []any { return outcomeArgs(&p) })
		held := make(map[uuid.UUID]bool, len(ps))
		err := p.send(ctx, b, false, func(br pgx.BatchResults) error {
			for range inserts {
				if _, err := br.Exec(); err != nil {
					return db.insertErr("attempt", err)
				}
			}
			for range updates {
				rows, err := br.Query()
				if err != nil {
					return fmt.Errorf("recording deliveries: %w", err)
				}
				ids, err := collect(pgxRows{rows}, func(s scanner) (uuid.UUID, error) {
					var id uuid.UUID
					return id, s.Scan(&id)
				}, "recorded deliveries")
				if err != nil {
					return err
				}
				for _, id := range ids {
					held[id] = true
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		heldAt := make([]bool, len(ps))
		for i, p := range ps {
			heldAt[i] = held[p.DeliveryID]
		}
		touched := touchedEvents(ps, heldAt, errs)

		// Events with several deliveries: their status follows from all of them, counted here,
		// after every touched event is locked (lockEventsSQL).
		counted, lock := counting(touched)
		counts := make([]switchyard.StatusCounts, len(counted))
		if len(counted) > 0 {
			b = &pgx.Batch{}
			b.Queue(lockEventsSQL, lock)
			for _, t := range counted {
				b.Queue(deliveryCountsSQL, t.id)
			}
			err := p.send(ctx, b, false, func(br pgx.BatchResults) error {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("locking events: %w", err)
				}
				for i := range counted {
					rows, err := br.Query()
					if err != nil {
						return fmt.Errorf("counting deliveries: %w", err)
					}
					if counts[i], err = scanCounts(pgxRows{rows}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}

		// The attempts made on lost leases counted, the events' statuses, and COMMIT.
		b = &pgx.Batch{}
		for i, p := range ps {
			if !heldAt[i] && p.Attempt != nil {
				b.Queue(countAttemptSQL, p.DeliveryID)
			}
		}
		lost := b.Len()
		k := 0
		var ev eventStatuses
		for _, t := range touched {
			var c switchyard.StatusCounts
			if t.only != nil {
				c = t.onlyCounts()
			} else {
				c, k = counts[k], k+1
			}
			ev.add(t.id, c, t.now)
		}
		if len(touched) > 0 {
			b.Queue(eventStatusesSQL, ev.ids, ev.status, ev.completed, ev.failed, ev.at)
		}
		return p.send(ctx, b, true, func(br pgx.BatchResults) error {
			for range lost {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("counting attempt: %w", err)
				}
			}
			if len(touched) > 0 {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("updating events: %w", err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// queueRows queues rows on b with stmts, where stmts[k] takes 1<<k rows (rowStatements), and
// returns how many statements it queued.
func queueRows[T any](b *pgx.Batch, stmts []string, rows []T, args func(T) []any) int {
	n := 0
	for k, chunk := range rowChunks(rows) {
		b.Queue(stmts[k], rowArgs(chunk, args)...)
		n++
	}
	return n
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

// attemptArgs are an attempt's values. Its message and excerpt (and a delivery's last error,
// outcomeArgs) are what a destination supplied, cleaned (destination.CleanText) by the store too,
// which does not rely on the integrations having done it: PostgreSQL refuses NUL and invalid
// UTF-8 in text, and an outcome refused for its message failed its whole batch. (Text from the
// API is refused instead, before it is accepted.)
func attemptArgs(a *switchyard.Attempt) []any {
	return []any{a.ID, a.DeliveryID, a.EventID, a.Number, micros(a.StartedAt), micros(a.CompletedAt), a.Outcome, a.HTTPStatus,
		destination.CleanText(a.Message), destination.CleanText(a.ResponseExcerpt)}
}

// outcomeUpdates[k] (PostgreSQL) writes 2^k deliveries' outcomes in one statement, each only
// while its lease holds, and returns the ids it wrote.
var outcomeUpdates = rowStatements(`UPDATE deliveries d SET status = v.status, next_attempt_at = v.next,
	attempt_count = d.attempt_count + v.inc, last_error = v.last_error, completed_at = v.completed_at, updated_at = v.now
	FROM (VALUES `, 8, func(n int) string {
	return fmt.Sprintf("($%d::uuid, $%d::text, $%d::bigint, $%d::int, $%d::text, $%d::bigint, $%d::bigint, $%d::bigint)",
		n, n+1, n+2, n+3, n+4, n+5, n+6, n+7)
}, `) AS v(id, status, next, inc, last_error, completed_at, now, lease)
	WHERE d.id = v.id AND d.next_attempt_at = v.lease RETURNING d.id`)

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
	return []any{p.DeliveryID, p.Status, nullMicros(p.NextAttemptAt), inc, destination.CleanText(p.LastError), completedAt, now, micros(p.LeaseUntil)}
}

// countAttemptSQL counts an attempt that was made and logged although the delivery's lease was
// lost (canceled, retried or expired meanwhile), so attempt numbers stay unique and the count
// matches the log.
const countAttemptSQL = `UPDATE deliveries SET attempt_count = attempt_count + 1 WHERE id = $1`

// countAttempt runs countAttemptSQL.
func countAttempt(ctx context.Context, tx *sql.Tx, deliveryID uuid.UUID) error {
	if _, err := tx.ExecContext(ctx, countAttemptSQL, deliveryID); err != nil {
		return fmt.Errorf("counting attempt: %w", err)
	}
	return nil
}

// recordOutcome writes an outcome to its delivery if the lease still holds (and reports whether
// it did); its attempt, if any, is the caller's to insert.
func (db *DB) recordOutcome(ctx context.Context, tx *sql.Tx, p *store.DeliveryRecordParams) (bool, error) {
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

// deliveryCountsSQL counts an event's deliveries by status.
const deliveryCountsSQL = `SELECT status, COUNT(*) FROM deliveries WHERE event_id = $1 GROUP BY status`

// lockEventsSQL (PostgreSQL) locks events, in id order, before their deliveries are counted.
// Every transaction that changes an event's deliveries also writes the event (its status, or its
// start), so once the lock is held the count — a statement of its own, with a snapshot taken
// after the lock — sees every other transaction's outcomes for the event. Counted before the
// lock, two outcome batches recording the last two deliveries of one event would each count the
// other's delivery as still in flight, and the event would stay `processing` for good. In id
// order, as the claims lock them too, so that these transactions never deadlock.
const lockEventsSQL = `SELECT id FROM events WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`

// lockEvents locks events for the transaction before their deliveries are counted
// (lockEventsSQL), in one statement; on SQLite, whose one writer runs transactions one at a
// time, it does nothing.
func (db *DB) lockEvents(ctx context.Context, tx *sql.Tx, ids []uuid.UUID) error {
	if db.d.name != "postgres" || len(ids) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, lockEventsSQL, ids); err != nil {
		return fmt.Errorf("locking events: %w", err)
	}
	return nil
}

// refreshEvents re-derives the status and counters of events from their deliveries, after
// locking them (lockEvents).
func (db *DB) refreshEvents(ctx context.Context, tx *sql.Tx, ids []uuid.UUID, now int64) error {
	ids = slices.Compact(slices.SortedFunc(slices.Values(ids), func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }))
	if err := db.lockEvents(ctx, tx, ids); err != nil {
		return err
	}
	for _, id := range ids {
		if err := db.deriveEvent(ctx, tx, id, now); err != nil {
			return err
		}
	}
	return nil
}

// deriveEvent derives an event's status and counters from its deliveries; the caller has
// locked it (lockEvents).
func (db *DB) deriveEvent(ctx context.Context, tx *sql.Tx, eventID uuid.UUID, now int64) error {
	rows, err := tx.QueryContext(ctx, deliveryCountsSQL, eventID)
	if err != nil {
		return fmt.Errorf("counting deliveries: %w", err)
	}
	counts, err := scanCounts(rows)
	if err != nil {
		return err
	}
	return db.setEventStatus(ctx, tx, eventID, counts, now)
}

// scanCounts reads deliveryCountsSQL's rows, and closes them.
func scanCounts(rows rowsIter) (switchyard.StatusCounts, error) {
	counts := switchyard.StatusCounts{}
	for rows.Next() {
		var (
			s switchyard.Status
			n int
		)
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("counting deliveries: %w", err)
		}
		counts[s] = n
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, fmt.Errorf("counting deliveries: %w", err)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("counting deliveries: %w", err)
	}
	return counts, nil
}

// eventStatusSQL stores an event's status and counters (eventStatusArgs, then its id). An event
// they leave as it is is not written: a delivery that fails again and again (a destination down
// for hours, the timeouts of a hanging one) leaves its event retrying, and rewriting the row
// each time was a row version (PostgreSQL) or a WAL page (SQLite) per attempt for nothing.
const eventStatusSQL = `UPDATE events SET status = $1, completed_count = $2, failed_count = $3, completed_at = $4
	WHERE id = $5 AND NOT (status = $1 AND completed_count = $2 AND failed_count = $3 AND completed_at IS NOT DISTINCT FROM $4)`

// eventStatusesSQL is eventStatusSQL for many events in one statement (PostgreSQL), writing
// likewise only the events that change: one statement per event cost 37 µs of PostgreSQL's time
// per delivery on the backlog bench, most of it the statement's own overhead
// (docs/benchmarks.md). The ids come in id order (touchedEvents), the order the rows are locked
// in.
const eventStatusesSQL = `UPDATE events e SET status = v.status, completed_count = v.completed, failed_count = v.failed,
	completed_at = v.at
	FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::integer[], $5::bigint[]) AS v(id, status, completed, failed, at)
	WHERE e.id = v.id AND (e.status, e.completed_count, e.failed_count, e.completed_at) IS DISTINCT FROM (v.status, v.completed, v.failed, v.at)`

// eventStatuses are eventStatusesSQL's arrays.
type eventStatuses struct {
	ids               []uuid.UUID
	status            []string
	completed, failed []int32
	at                []*int64
}

func (v *eventStatuses) add(id uuid.UUID, counts switchyard.StatusCounts, now int64) {
	status, completed, failed, at := eventStatusOf(counts, now)
	v.ids, v.status = append(v.ids, id), append(v.status, string(status))
	v.completed, v.failed = append(v.completed, int32(completed)), append(v.failed, int32(failed))
	v.at = append(v.at, at)
}

// eventStatusUpdates are eventStatusSQL for 1<<k events a statement (SQLite; PostgreSQL has
// eventStatusesSQL): the events' values as a VALUES list, applied with UPDATE … FROM. A
// statement per event was about 8 % of the SQLite writer's time on the backlog bench
// (docs/benchmarks.md).
var eventStatusUpdates = rowStatements(`UPDATE events SET status = v.column2, completed_count = v.column3,
	failed_count = v.column4, completed_at = v.column5 FROM (VALUES `, 5, plainRow(5), `) AS v
	WHERE events.id = v.column1 AND NOT (events.status = v.column2 AND events.completed_count = v.column3
		AND events.failed_count = v.column4 AND events.completed_at IS NOT DISTINCT FROM v.column5)`)

// setEventStatuses stores the statuses of events with one delivery, which follow from that
// delivery's new status (touchedEvent.only), in few statements: eventStatusUpdates on SQLite,
// eventStatusesSQL on PostgreSQL (as recordPipelined, its usual path, does).
func (db *DB) setEventStatuses(ctx context.Context, tx *sql.Tx, events []*touchedEvent) error {
	if len(events) == 0 {
		return nil
	}
	if db.d.name == "postgres" {
		var v eventStatuses
		for _, t := range events {
			v.add(t.id, t.onlyCounts(), t.now)
		}
		if _, err := tx.ExecContext(ctx, eventStatusesSQL, v.ids, v.status, v.completed, v.failed, v.at); err != nil {
			return fmt.Errorf("updating events: %w", err)
		}
		return nil
	}
	for k, chunk := range rowChunks(events) {
		args := rowArgs(chunk, func(t *touchedEvent) []any {
			return append([]any{t.id}, eventStatusArgs(t.onlyCounts(), t.now)...)
		})
		if _, err := tx.ExecContext(ctx, eventStatusUpdates[k], args...); err != nil {
			return fmt.Errorf("updating events: %w", err)
		}
	}
	return nil
}

// setEventStatus stores the status and counters that counts imply for an event.
func (db *DB) setEventStatus(ctx context.Context, tx *sql.Tx, eventID uuid.UUID, counts switchyard.StatusCounts, now int64) error {
	if _, err := tx.ExecContext(ctx, eventStatusSQL, append(eventStatusArgs(counts, now), eventID)...); err != nil {
		return fmt.Errorf("updating event: %w", err)
	}
	return nil
}

// eventStatusArgs are the values that counts imply for an event: its status, completed and
// failed counts, and completion time (now, once the status is terminal; else NULL).
func eventStatusArgs(counts switchyard.StatusCounts, now int64) []any {
	status, completed, failed, at := eventStatusOf(counts, now)
	var completedAt any
	if at != nil {
		completedAt = *at
	}
	return []any{status, completed, failed, completedAt}
}

// eventStatusOf is what counts imply for an event: its status, completed and failed counts,
// and completion time (now once the status is terminal, else nil).
func eventStatusOf(counts switchyard.StatusCounts, now int64) (switchyard.Status, int, int, *int64) {
	status := switchyard.EventStatus(counts)
	var at *int64
	if status.Terminal() {
		at = &now
	}
	return status, counts[switchyard.StatusCompleted], counts[switchyard.StatusFailed], at
}
