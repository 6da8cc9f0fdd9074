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

// --- events ---

const eventCols = `id, organization_id, workspace_id, event, resource, resource_id, status, total_rules, completed_count, failed_count, started_at, completed_at, created_by, created_at`

func scanEvent(s scanner, withPayload bool) (*switchyard.Event, error) {
	var (
		e                      switchyard.Event
		startedAt, completedAt sql.NullInt64
		createdAt              int64
		payload                string
	)
	dest := []any{&e.ID, &e.OrganizationID, &e.WorkspaceID, &e.Name, &e.Resource, &e.ResourceID, &e.Status, &e.TotalRules,
		&e.CompletedCount, &e.FailedCount, &startedAt, &completedAt, &e.CreatedBy, &createdAt}
	if withPayload {
		dest = append(dest, &payload)
	}
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	e.StartedAt, e.CompletedAt = timePtr(startedAt), timePtr(completedAt)
	e.CreatedAt = fromMicros(createdAt)
	if withPayload {
		e.Payload = []byte(payload)
	}
	return &e, nil
}

// EventInsert stores an event and its deliveries in one transaction, and catalogues the event's
// name and resource in its workspace.
func (db *DB) EventInsert(ctx context.Context, p store.EventInsertParams) ([]*switchyard.Delivery, error) {
	var deliveries []*switchyard.Delivery
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if deliveries, err = db.insertEvent(ctx, tx, db.newRouter(tx), p.Event); err != nil {
			return err
		}
		return db.catalogue(ctx, tx, []*switchyard.Event{p.Event})
	})
	if err != nil {
		return nil, err
	}
	db.catalogued.add([]*switchyard.Event{p.Event})
	return deliveries, nil
}

// insertEvent claims e's idempotency key if it has one (storing nothing when the key replays an
// earlier event), routes e with rt and inserts it with one pending delivery per matched rule,
// inside tx.
func (db *DB) insertEvent(ctx context.Context, tx *sql.Tx, rt *router, e *switchyard.Event) ([]*switchyard.Delivery, error) {
	if e.IdempotencyKey != "" {
		if replayed, err := db.claimIdempotencyKey(ctx, tx, e); err != nil || replayed {
			return nil, err
		}
	}
	routes, err := rt.match(ctx, e)
	if err != nil {
		return nil, err
	}
	deliveries := prepareEvent(e, routes)
	if err := insertRows(ctx, db, tx, eventInsert, []*switchyard.Event{e}, eventArgs); err != nil {
		return nil, err
	}
	if err := insertRows(ctx, db, tx, deliveryInsert, deliveries, deliveryArgs); err != nil {
		return nil, err
	}
	return deliveries, nil
}

// eventArgs are an event's values in the order of eventCols, then its payload.
func eventArgs(e *switchyard.Event) []any {
	return []any{e.ID, e.OrganizationID, e.WorkspaceID, e.Name, e.Resource, e.ResourceID, e.Status, e.TotalRules,
		e.CompletedCount, e.FailedCount, nullMicros(e.StartedAt), nullMicros(e.CompletedAt), e.CreatedBy,
		micros(e.CreatedAt), string(e.Payload)}
}

// EventGet returns one event of the organization.
func (db *DB) EventGet(ctx context.Context, p store.EventGetParams) (*switchyard.Event, error) {
	cols := eventCols
	if p.WithPayload {
		cols += `, payload`
	}
	e, err := scanEvent(db.r.QueryRowContext(ctx, `SELECT `+cols+` FROM events WHERE id = $1 AND organization_id = $2`,
		p.ID, p.OrganizationID), p.WithPayload)
	if err != nil {
		return nil, notFound("event", err)
	}
	return e, nil
}

// --- deliveries ---

const deliveryCols = `id, organization_id, workspace_id, event_id, rule_id, connection_id, integration_type, event_name, resource, resource_id, status, attempt_count, next_attempt_at, started_at, completed_at, last_error, created_by, created_at, updated_at`

func deliveryArgs(d *switchyard.Delivery) []any {
	return []any{d.ID, d.OrganizationID, d.WorkspaceID, d.EventID, d.RuleID, d.ConnectionID, d.IntegrationType, d.EventName,
		d.Resource, d.ResourceID, d.Status, d.AttemptCount, nullMicros(d.NextAttemptAt), nullMicros(d.StartedAt),
		nullMicros(d.CompletedAt), d.LastError, d.CreatedBy, micros(d.CreatedAt), micros(d.CreatedAt)}
}

func scanDelivery(s scanner) (*switchyard.Delivery, error) {
	var (
		d                            switchyard.Delivery
		next, startedAt, completedAt sql.NullInt64
		createdAt, updatedAt         int64
	)
	if err := s.Scan(&d.ID, &d.OrganizationID, &d.WorkspaceID, &d.EventID, &d.RuleID, &d.ConnectionID, &d.IntegrationType,
		&d.EventName, &d.Resource, &d.ResourceID, &d.Status, &d.AttemptCount, &next, &startedAt, &completedAt,
		&d.LastError, &d.CreatedBy, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	d.NextAttemptAt, d.StartedAt, d.CompletedAt = timePtr(next), timePtr(startedAt), timePtr(completedAt)
	d.CreatedAt = fromMicros(createdAt)
	return &d, nil
}

// DeliveryListByEvent returns one event's deliveries, oldest first.
func (db *DB) DeliveryListByEvent(ctx context.Context, orgID, eventID uuid.UUID) ([]*switchyard.Delivery, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE event_id = $1 AND organization_id = $2 ORDER BY created_at, id`,
		eventID, orgID)
	if err != nil {
		return nil, fmt.Errorf("listing deliveries: %w", err)
	}
	return collect(rows, scanDelivery, "deliveries")
}

// collect scans every row and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error), what string) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return out, nil
}

// DeliveryClaim leases due deliveries fairly and loads what attempting them needs.
//
// Fairness: among the oldest due candidates it takes each connection's oldest delivery first,
// then each connection's second, and so on (ROW_NUMBER per connection), at most PerConnection
// from any one connection, and never from the Exclude list (connections that are saturated,
// paused or open-circuited on this node). The candidate window is bounded so that a claim costs
// the same however large the backlog is. With Shared, each connection's limits hold for every
// node on the database instead (claimShared, limits.go).
func (db *DB) DeliveryClaim(ctx context.Context, p store.DeliveryClaimParams) ([]*store.Claimed, error) {
	lease, now := micros(p.LeaseUntil), micros(p.Now)
	perConn := p.PerConnection
	if perConn <= 0 {
		perConn = p.Limit
	}
	window := max(p.Limit*8, 256)
	args := []any{lease, now, p.Limit, window, perConn}
	exclude := ""
	if len(p.Exclude) > 0 {
		exclude = " AND connection_id NOT IN (" + placeholders(len(args)+1, len(p.Exclude)) + ")"
		for _, id := range p.Exclude {
			args = append(args, id)
		}
	}
	// The ids to take. On PostgreSQL they are then locked with SKIP LOCKED, re-checking that
	// each is still due, so concurrent claimers on other nodes never take the same row.
	ids := db.d.lockDue(`
		SELECT id FROM (
			SELECT id, next_attempt_at, ROW_NUMBER() OVER (PARTITION BY connection_id ORDER BY next_attempt_at, id) AS rn
			FROM (SELECT id, connection_id, next_attempt_at FROM deliveries
			      WHERE next_attempt_at <= $2` + exclude + ` ORDER BY next_attempt_at LIMIT $4) candidates
		) ranked WHERE rn <= $5 ORDER BY rn, next_attempt_at LIMIT $3`)
	var (
		claimed []*store.Claimed
		events  = map[uuid.UUID]*switchyard.Event{}
		version int64
		probes  map[uuid.UUID]bool
	)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		clear(events)
		var ds []*switchyard.Delivery
		if p.Shared {
			// Within every connection's cluster-wide limits (limits.go).
			var err error
			if ds, probes, err = db.claimShared(ctx, tx, p, window); err != nil {
				return err
			}
		} else {
			rows, err := tx.QueryContext(ctx, `
				UPDATE deliveries SET status = 'processing', next_attempt_at = $1, started_at = COALESCE(started_at, $2), updated_at = $2
				WHERE id IN (`+ids+`) AND next_attempt_at <= $2
				RETURNING `+deliveryCols, args...)
			if err != nil {
				return fmt.Errorf("claiming deliveries: %w", err)
			}
			if ds, err = collect(rows, scanDelivery, "claimed deliveries"); err != nil {
				return err
			}
		}
		if len(ds) == 0 {
			claimed = nil
			return nil
		}

		eventIDs := make(map[uuid.UUID]bool, len(ds))
		for _, d := range ds {
			eventIDs[d.EventID] = true
		}
		// The claimed events start now, if they had not already. (Returning them from this
		// UPDATE, instead of reading them after the commit, halved fan-out to 100 connections
		// on SQLite — 4.7k → 2.1k deliveries/s — for a reason not yet understood.)
		args := []any{now}
		for id := range eventIDs {
			args = append(args, id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE events SET started_at = COALESCE(started_at, $1),
			status = CASE WHEN status = 'pending' THEN 'processing' ELSE status END
			WHERE id IN (`+placeholders(2, len(eventIDs))+`)`, args...); err != nil {
			return fmt.Errorf("starting events: %w", err)
		}
		for id := range eventIDs {
			events[id] = nil
		}
		if err := tx.QueryRowContext(ctx, `SELECT v FROM routing_version`).Scan(&version); err != nil {
			return fmt.Errorf("reading the routing version: %w", err)
		}
		claimed = make([]*store.Claimed, 0, len(ds))
		for _, d := range ds {
			claimed = append(claimed, &store.Claimed{Delivery: d, LeaseUntil: p.LeaseUntil, Probe: probes[d.ConnectionID]})
		}
		return nil
	})
	if err != nil || len(claimed) == 0 {
		return nil, err
	}

	// The events are read after the commit, through the read pool, so that on SQLite the one
	// writer is held only for the claim itself. The rules and connections come from the cache
	// of the routing version read in the claim (any change to them moves it on); only what is
	// missing is read.
	rules, conns := map[uuid.UUID]*switchyard.Rule{}, map[uuid.UUID]*switchyard.Connection{}
	for _, c := range claimed {
		rules[c.Delivery.RuleID], conns[c.Delivery.ConnectionID] = nil, nil
	}
	fillCached(&db.rules, version, rules)
	fillCached(&db.conns, version, conns)
	if err := loadByIDs(ctx, db.r, `SELECT `+eventCols+`, payload FROM events WHERE id IN (%s)`, nil, events,
		func(s scanner) (*switchyard.Event, error) { return scanEvent(s, true) }, func(e *switchyard.Event) uuid.UUID { return e.ID }); err != nil {
		return nil, err
	}
	if err := loadMissing(ctx, db.r, `SELECT `+ruleCols+` FROM rules WHERE id IN (%s)`, rules, scanRule,
		func(r *switchyard.Rule) uuid.UUID { return r.ID }); err != nil {
		return nil, err
	}
	if err := loadMissing(ctx, db.r, `SELECT `+connectionCols+` FROM connections WHERE id IN (%s)`, conns, scanConnection,
		func(c *switchyard.Connection) uuid.UUID { return c.ID }); err != nil {
		return nil, err
	}
	putFound(&db.rules, version, rules)
	putFound(&db.conns, version, conns)
	for _, c := range claimed {
		c.Event, c.Rule, c.Connection = events[c.Delivery.EventID], rules[c.Delivery.RuleID], conns[c.Delivery.ConnectionID]
	}
	return claimed, nil
}

// fillCached sets the entries of into that c holds for version.
func fillCached[V any](c *versioned[uuid.UUID, V], version int64, into map[uuid.UUID]V) {
	for id := range into {
		if v, ok := c.get(version, id); ok {
			into[id] = v
		}
	}
}

// putFound caches the entries of from that were found (not the misses: a row not found may be
// one inserted after the version was read).
func putFound[V comparable](c *versioned[uuid.UUID, V], version int64, from map[uuid.UUID]V) {
	var zero V
	for id, v := range from {
		if v != zero {
			c.put(version, id, v)
		}
	}
}

// loadMissing reads, with query ("%s" standing for the IN list), the entries of into that are
// still nil. Rows not found stay nil (deleted meanwhile).
func loadMissing[T comparable](ctx context.Context, q queryer, query string, into map[uuid.UUID]T,
	scan func(scanner) (T, error), id func(T) uuid.UUID) error {
	var zero T
	missing := map[uuid.UUID]T{}
	for k, v := range into {
		if v == zero {
			missing[k] = zero
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := loadByIDs(ctx, q, query, nil, missing, scan, id); err != nil {
		return err
	}
	maps.Copy(into, missing)
	return nil
}

// queryer runs queries: a transaction or a pool.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadByIDs runs query (with "%s" standing for the IN list) for the keys of into, after the
// leading args, and stores each row under its id.
func loadByIDs[T any](ctx context.Context, tx queryer, query string, args []any, into map[uuid.UUID]T,
	scan func(scanner) (T, error), id func(T) uuid.UUID) error {
	for k := range into {
		args = append(args, k)
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(query, placeholders(len(args)-len(into)+1, len(into))), args...)
	if err != nil {
		return fmt.Errorf("loading claimed work: %w", err)
	}
	vs, err := collect(rows, scan, "claimed work")
	if err != nil {
		return err
	}
	for _, v := range vs {
		into[id(v)] = v
	}
	return nil
}

// DeliveryRecord stores the outcome of one claimed delivery and updates its event.
func (db *DB) DeliveryRecord(ctx context.Context, p store.DeliveryRecordParams) error {
	errs, err := db.DeliveryRecordBatch(ctx, []store.DeliveryRecordParams{p})
	if err != nil {
		return err
	}
	return errs[0]
}

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

// --- attempts ---

// AttemptListByDelivery returns one delivery's attempts, oldest first.
func (db *DB) AttemptListByDelivery(ctx context.Context, orgID, deliveryID uuid.UUID) ([]*switchyard.Attempt, error) {
	rows, err := db.r.QueryContext(ctx, `
		SELECT a.id, a.delivery_id, a.event_id, a.number, a.started_at, a.completed_at, a.outcome, a.http_status, a.message, a.response_excerpt
		FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
		WHERE a.delivery_id = $1 AND d.organization_id = $2 ORDER BY a.number, a.started_at`, deliveryID, orgID)
	if err != nil {
		return nil, fmt.Errorf("listing attempts: %w", err)
	}
	return collect(rows, func(s scanner) (*switchyard.Attempt, error) {
		var (
			a                      switchyard.Attempt
			startedAt, completedAt int64
		)
		if err := s.Scan(&a.ID, &a.DeliveryID, &a.EventID, &a.Number, &startedAt, &completedAt, &a.Outcome, &a.HTTPStatus,
			&a.Message, &a.ResponseExcerpt); err != nil {
			return nil, err
		}
		a.StartedAt, a.CompletedAt = fromMicros(startedAt), fromMicros(completedAt)
		return &a, nil
	}, "attempts")
}
