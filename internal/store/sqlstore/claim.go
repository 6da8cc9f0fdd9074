package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

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
	if p.Window > 0 {
		window = min(p.Window, window)
	}
	args := []any{lease, now, p.Limit, window, perConn}
	// The candidates: the window of the oldest due deliveries, or (Sweep) the due deliveries of
	// the connections the walk found.
	var (
		walked     []uuid.UUID
		candidates string
	)
	if p.Sweep {
		var err error
		if walked, err = db.walkDue(ctx, p); err != nil || len(walked) == 0 {
			return nil, err
		}
		candidates, args = db.dueOf(walked, "$5", args)
	} else {
		var exclude string
		exclude, args = db.idSet("connection_id", true, p.Exclude, args)
		candidates = dueWindow("$2", "$4", exclude)
	}
	// Each connection's cap: PerConnection, or its Room.
	capOf := "$5"
	if !p.Shared {
		ids := make([]uuid.UUID, 0, len(p.Room))
		caps := make([]int, 0, len(p.Room))
		for id, n := range p.Room {
			ids, caps = append(ids, id), append(caps, max(0, min(n, perConn)))
		}
		args, capOf = db.capsByConnection(args, ids, caps, "$5")
	}
	// The ids to take. On PostgreSQL they are then locked with SKIP LOCKED, re-checking that
	// each is still due, so concurrent claimers on other nodes never take the same row.
	ids := db.d.lockDue(dueRanked(candidates, capOf))
	var (
		claimed []*store.Claimed
		events  = map[uuid.UUID]*switchyard.Event{}
		version int64
		probes  map[uuid.UUID]bool
		ahead   map[uuid.UUID]bool // Shared: the deliveries taken ahead
	)
	// take turns the claimed deliveries into the claim's result (in the transaction's function,
	// which the SQLite group committer may run more than once).
	take := func(ds []*switchyard.Delivery, evs []*switchyard.Event) {
		clear(events)
		claimed = nil
		for i, d := range ds {
			var ev *switchyard.Event // nil: read after the commit
			if evs != nil {
				ev = evs[i]
			}
			events[d.EventID] = ev
			claimed = append(claimed, &store.Claimed{Delivery: d, LeaseUntil: p.LeaseUntil, Probe: probes[d.ConnectionID], Ahead: ahead[d.ID]})
		}
	}
	var err error
	if db.d.name == "postgres" && !p.Shared {
		// One statement, committed on its own: a claim is one round trip to the database.
		var (
			ds  []*switchyard.Delivery
			evs []*switchyard.Event
		)
		if ds, evs, version, err = db.claimUpdate(ctx, sqlStmts(db.w), ids, args); err == nil {
			take(ds, evs)
		}
	} else if db.d.name == "postgres" {
		// Within every connection's cluster-wide limits (limits.go), in a pipelined transaction.
		err = db.withPipeline(ctx, func(st claimStmts) error {
			sc, err := db.claimShared(ctx, st, p, window, walked)
			if err == nil && sc != nil {
				probes, ahead, version = sc.probes, sc.ahead, sc.version
				take(sc.deliveries, sc.events)
			}
			return err
		})
	} else {
		err = db.tx(ctx, func(tx *sql.Tx) error {
			var (
				ds  []*switchyard.Delivery
				evs []*switchyard.Event
				err error
			)
			if p.Shared {
				var sc *sharedClaim
				if sc, err = db.claimShared(ctx, sqlStmts(tx), p, window, walked); sc != nil {
					ds, evs, probes, ahead, version = sc.deliveries, sc.events, sc.probes, sc.ahead, sc.version
				}
			} else {
				ds, evs, version, err = db.claimUpdate(ctx, sqlStmts(tx), ids, args)
			}
			if err != nil {
				return err
			}
			take(ds, evs)
			return nil
		})
	}
	if err == nil && !p.Shared {
		reportFull(p, perConn, claimed)
	}
	if err != nil || len(claimed) == 0 {
		return nil, err
	}

	// On SQLite the events are those this process has just stored (recentEvents), or read after
	// the commit, through the read pool, so that the one writer is held only for the claim
	// itself (PostgreSQL's claim returned them). The rules and connections come from the cache
	// of the routing version read in the claim (any change to them moves it on); only what is
	// missing is read.
	rules, conns := map[uuid.UUID]*switchyard.Rule{}, map[uuid.UUID]*switchyard.Connection{}
	for _, c := range claimed {
		rules[c.Delivery.RuleID], conns[c.Delivery.ConnectionID] = nil, nil
	}
	fillCached(&db.rules, version, rules)
	fillCached(&db.conns, version, conns)
	for id, ev := range events {
		if ev == nil {
			events[id] = db.recent.take(id, p.Now) // nil if not kept: read below
		}
	}
	if err := loadMissing(ctx, db.r, `SELECT `+eventCols+`, payload FROM events WHERE id IN (%s)`, events,
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

// startEvent gives an event read before its claim's start (claimUpdate's start) what the start
// did to its row: started at at, if it was not, and processing if it was pending.
func startEvent(ev *switchyard.Event, at time.Time) {
	if ev.StartedAt == nil {
		ev.StartedAt = &at
	}
	if ev.Status == switchyard.StatusPending {
		ev.Status = switchyard.StatusProcessing
	}
}

// dueRanked is the query of the ids a claim takes ($2 now, $3 the most to take) among
// candidates (dueWindow, dueOf: a query of due deliveries' id, connection_id and
// next_attempt_at): each connection's oldest first, then each one's second, and so on, at most
// capOf of each (the fairness DeliveryClaim describes).
func dueRanked(candidates, capOf string) string {
	return `
		SELECT id FROM (
			SELECT id, connection_id, next_attempt_at, ROW_NUMBER() OVER (PARTITION BY connection_id ORDER BY next_attempt_at, id) AS rn
			FROM (` + candidates + `) candidates
		) ranked WHERE rn <= ` + capOf + ` ORDER BY rn, next_attempt_at LIMIT $3`
}

// dueWindow is the window of a claim's candidates: the oldest due deliveries (now and window
// are parameters) whose connection satisfies cond, read from at most windowReach × the window
// of the oldest due deliveries. Without that bound a claim that leaves a busy connection out
// (cond) read past the whole of its due backlog to find what else was due: on PostgreSQL,
// 17,000–36,000 rows and 3–17 ms a claim in the backlog benchmark (docs/benchmarks.md), and in
// proportion with any larger backlog. What lies beyond is reached by a sweep (dueOf).
func dueWindow(now, window, cond string) string {
	return `SELECT id, connection_id, next_attempt_at FROM (
			SELECT id, connection_id, next_attempt_at FROM deliveries WHERE next_attempt_at <= ` + now + `
			ORDER BY next_attempt_at LIMIT ` + window + ` * ` + strconv.Itoa(windowReach) + `) reach
		WHERE ` + cond + ` ORDER BY next_attempt_at LIMIT ` + window
}

// windowReach bounds how far past the window a claim reads for deliveries of the connections
// it does not leave out (dueWindow).
const windowReach = 8

// dueOf is a sweep's candidates ($2 now, $4 the window): the oldest due deliveries of each of
// ids (the connections its walk found, walkDue), at most depth (a parameter) of each, read
// through the index by connection — one short range per connection, whatever lies in
// deliveries_due before them — and of those the oldest windowReach × the window. The ids are
// appended to args.
func (db *DB) dueOf(ids []uuid.UUID, depth string, args []any) (string, []any) {
	const one = `SELECT id, connection_id, next_attempt_at FROM deliveries WHERE connection_id = %s AND next_attempt_at <= $2
		ORDER BY next_attempt_at LIMIT %s`
	var from string
	if db.d.name == "postgres" {
		args = append(args, ids)
		from = fmt.Sprintf(`SELECT d.id, d.connection_id, d.next_attempt_at FROM unnest($%d::uuid[]) AS walked(id)
			CROSS JOIN LATERAL (`+one+`) d`, len(args), "walked.id", depth)
	} else {
		// SQLite has no LATERAL: one bounded SELECT per connection (at most SweepConnections,
		// within its limit of 500 in a compound SELECT).
		parts := make([]string, len(ids))
		for i, id := range ids {
			args = append(args, id)
			parts[i] = `SELECT * FROM (` + fmt.Sprintf(one, "$"+strconv.Itoa(len(args)), depth) + `)`
		}
		from = strings.Join(parts, " UNION ALL ")
	}
	return `SELECT * FROM (` + from + `) walked ORDER BY next_attempt_at LIMIT $4 * ` + strconv.Itoa(windowReach), args
}

// walkDue walks, from p.SweepAfter on, up to store.SweepConnections connections with
// deliveries in the queue, in id order, and returns the first p.Limit of them that have some
// due now and that p.Exclude does not list; it tells p.Swept where to start the next walk.
// Each connection walked costs two probes of the index by connection: one to find it, one to
// see whether anything of it is due.
func (db *DB) walkDue(ctx context.Context, p store.DeliveryClaimParams) ([]uuid.UUID, error) {
	const next = `SELECT connection_id FROM deliveries WHERE next_attempt_at IS NOT NULL AND connection_id > %s
		ORDER BY connection_id LIMIT 1`
	rows, err := db.r.QueryContext(ctx, `WITH RECURSIVE walk(cid, n) AS (
			SELECT (`+fmt.Sprintf(next, "$1")+`), 1
			UNION ALL
			SELECT (`+fmt.Sprintf(next, "walk.cid")+`), n + 1 FROM walk WHERE walk.cid IS NOT NULL AND n < $3
		)
		SELECT cid, EXISTS (SELECT 1 FROM deliveries WHERE connection_id = walk.cid AND next_attempt_at <= $2)
		FROM walk WHERE cid IS NOT NULL`, p.SweepAfter, micros(p.Now), store.SweepConnections)
	if err != nil {
		return nil, fmt.Errorf("walking connections: %w", err)
	}
	type walked struct {
		id  uuid.UUID
		due bool
	}
	ws, err := collect(rows, func(s scanner) (walked, error) {
		var w walked
		return w, s.Scan(&w.id, &w.due)
	}, "connections walked")
	if err != nil {
		return nil, err
	}
	// At most Limit connections: the claim takes no more than one delivery from each of the
	// others. The next walk goes on after the last one taken, or after the last one walked.
	var due []uuid.UUID
	last := uuid.Nil
	if len(ws) == store.SweepConnections {
		last = ws[len(ws)-1].id
	}
	for _, w := range ws {
		if w.due && !slices.Contains(p.Exclude, w.id) {
			if due = append(due, w.id); len(due) == p.Limit {
				last = w.id
				break
			}
		}
	}
	if p.Swept != nil {
		p.Swept(last)
	}
	return due, nil
}

// capsByConnection returns an expression that gives each of ids its cap (caps[i]) and any other
// connection otherwise, with the ids and caps appended to args as parameters. On SQLite it is a
// CASE over connection_id (otherwise itself when ids is empty), whose text depends only on how
// many connections are capped, so that it is parsed once per length rather than once per claim
// (a cap written into the text made nearly every claim a new statement). On PostgreSQL it is a lookup in two array parameters, whose text
// never changes: one prepared statement, planned once (idSet).
func (db *DB) capsByConnection(args []any, ids []uuid.UUID, caps []int, otherwise string) ([]any, string) {
	if db.d.name == "postgres" {
		caps32 := make([]int32, len(caps))
		for i, c := range caps {
			caps32[i] = int32(c)
		}
		args = append(args, nonNil(ids), caps32)
		return args, fmt.Sprintf("COALESCE(($%d::integer[])[array_position($%d::uuid[], connection_id)], %s)", len(args), len(args)-1, otherwise)
	}
	if len(ids) == 0 {
		return args, otherwise
	}
	var b strings.Builder
	b.WriteString("CASE connection_id")
	for i, id := range ids {
		args = append(args, id, caps[i])
		fmt.Fprintf(&b, " WHEN $%d THEN CAST($%d AS INTEGER)", len(args)-1, len(args))
	}
	b.WriteString(" ELSE " + otherwise + " END")
	return args, b.String()
}

// idSet returns a condition that col is one of ids (not one of them, with negate), with ids
// appended to args as parameters. On SQLite that is an IN list, one parameter per id. On
// PostgreSQL it is one array parameter (= ANY, <> ALL), so that the statement's text does not
// change with the number of ids: pgx prepares it once, and PostgreSQL may keep one generic plan
// for it (see sharedBudgets for a statement where it would not), where a text per length was
// prepared and planned anew on most calls — the shared-limit claim's statements spent
// 0.15–0.5 ms of PostgreSQL CPU per call in bind alone (docs/benchmarks.md). An empty set is nothing (negated:
// everything); on SQLite an empty list is one of its extensions to SQL, a constant it folds away.
func (db *DB) idSet(col string, negate bool, ids []uuid.UUID, args []any) (string, []any) {
	if db.d.name == "postgres" {
		args = append(args, nonNil(ids))
		if negate {
			return fmt.Sprintf("%s <> ALL($%d::uuid[])", col, len(args)), args
		}
		return fmt.Sprintf("%s = ANY($%d::uuid[])", col, len(args)), args
	}
	from := len(args) + 1
	for _, id := range ids {
		args = append(args, id)
	}
	op := " IN ("
	if negate {
		op = " NOT IN ("
	}
	return col + op + placeholders(from, len(ids)) + ")", args
}

// nonNil is ids, or an empty slice for nil: pgx sends a nil slice as NULL, and x <> ALL(NULL)
// is never true.
func nonNil(ids []uuid.UUID) []uuid.UUID {
	if ids == nil {
		return []uuid.UUID{}
	}
	return ids
}

// reportFull tells p.Full of the connections a claim without Shared took its whole cap from
// (their Room, else perConn). (Shared claims report it from their budgets, claimShared.)
func reportFull(p store.DeliveryClaimParams, perConn int, claimed []*store.Claimed) {
	if p.Full == nil || len(claimed) == 0 {
		return
	}
	taken := map[uuid.UUID]int{}
	for _, c := range claimed {
		taken[c.Delivery.ConnectionID]++
	}
	for id, k := range taken {
		limit, ok := p.Room[id]
		if !ok {
			limit = perConn
		}
		if k >= limit {
			p.Full(id)
		}
	}
}

// claimUpdate leases the deliveries that ids (a query of their ids, $1 the lease's end and $2
// now among args) selects, starts their events and reads the routing version. On PostgreSQL it
// also returns each delivery's event, with its payload (nil on SQLite: read after the commit).
//
// On PostgreSQL this is one statement: a claim's round trips are what limit one busy
// connection there (docs/benchmarks.md). It also lets the claim's transaction commit without
// waiting for its WAL to reach the disk: lost in a crash of the database server, a claim leaves
// its deliveries due, to be attempted again — as a node's crash does — and any later synchronous
// commit (the outcome's) flushes it too (docs/postgres.md). On SQLite, where a statement costs no
// round trip, it is three.
func (db *DB) claimUpdate(ctx context.Context, q claimStmts, ids string, args []any) ([]*switchyard.Delivery, []*switchyard.Event, int64, error) {
	// The ids through idIn, here and in lockDue: as id IN (…), PostgreSQL walked every due
	// delivery and ran the ranking subquery once for each when the table's statistics had been
	// gathered while nothing was due (autovacuum on an idle queue) and a burst then queued
	// thousands — claims of seconds each, quadratic in the backlog (docs/benchmarks.md).
	update := `UPDATE deliveries SET status = 'processing', next_attempt_at = $1, started_at = COALESCE(started_at, $2), updated_at = $2
		WHERE ` + db.d.idIn(ids) + ` AND next_attempt_at <= $2
		RETURNING ` + deliveryCols
	// start starts events ($%d: now) that satisfy %s. Only events not yet started (unstarted)
	// are written: a fan-out event's later claims, and a retry's, leave it be.
	const start = `UPDATE events SET started_at = COALESCE(started_at, $%d),
		status = CASE WHEN status = 'pending' THEN 'processing' ELSE status END
		WHERE %s`
	const unstarted = `(started_at IS NULL OR status = 'pending')`
	var version int64
	if db.d.name == "postgres" {
		// The events come back with the claim, saving the read after it (a round trip before
		// the attempts can start). They are read as of the statement's start, before the
		// started CTE's update, which is applied to them here as it was to their rows.
		//
		// The events with several deliveries are locked in id order before any is
		// started (locked, which the started CTE's condition runs first, as an InitPlan), as
		// outcome batches lock them (lockEventsSQL): two claims may start one such event at
		// once, and transactions that lock events in different orders deadlock — PostgreSQL
		// then stalls them for its deadlock_timeout (1 s by default) and aborts one. (Claims
		// that rewrote events already started also met outcome batches that way: fan-out to 10
		// connections, 2–8 deadlocks a run; docs/benchmarks.md.) An event with one delivery is touched by no
		// other transaction while that delivery is being claimed, and is not locked first: the
		// lock is a write of its own (about 2 % of one busy connection's deliveries/s).
		//
		// Only events not yet started are written (and locked): a fan-out event's later claims
		// leave it be. The events are found by = ANY(ARRAY(…)) of the claimed ids, a primary-key
		// lookup whatever the planner estimates for the claimed CTE (one row): with
		// IN (SELECT …) and that condition it chose a nested loop over a scan of events, 6 ms a
		// claim (docs/benchmarks.md).
		rows, err := q.query(ctx, `WITH claimed AS (`+update+`),
			locked AS (SELECT id FROM events WHERE id = ANY(ARRAY(SELECT event_id FROM claimed)) AND total_rules > 1
				AND `+unstarted+` ORDER BY id FOR NO KEY UPDATE),
			started AS (`+fmt.Sprintf(start, 2, `id = ANY(ARRAY(SELECT event_id FROM claimed)) AND `+unstarted+` AND (SELECT count(*) FROM locked) >= 0`)+`)
			SELECT `+qualified("c", deliveryCols)+`, (SELECT v FROM routing_version), set_config('synchronous_commit', 'off', true),
				`+qualified("e", eventCols)+`, e.payload
			FROM claimed c JOIN events e ON e.id = c.event_id`, args...)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("claiming deliveries: %w", err)
		}
		var (
			syncOff string
			evs     []*switchyard.Event
			started = fromMicros(args[1].(int64)) // $2, now: what started sets started_at to
		)
		ds, err := collect(rows, func(s scanner) (*switchyard.Delivery, error) {
			d, ev, err := scanDeliveryAndEvent(s, true, &version, &syncOff)
			if err != nil {
				return nil, err
			}
			startEvent(ev, started)
			evs = append(evs, ev)
			return d, nil
		}, "claimed deliveries")
		return ds, evs, version, err
	}
	rows, err := q.query(ctx, update, args...)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("claiming deliveries: %w", err)
	}
	ds, err := collect(rows, scanDelivery, "claimed deliveries")
	if err != nil || len(ds) == 0 {
		return ds, nil, 0, err
	}
	eventIDs := make(map[uuid.UUID]bool, len(ds))
	for _, d := range ds {
		eventIDs[d.EventID] = true
	}
	// (Returning the events from this UPDATE, instead of reading them after the commit, halved
	// fan-out to 100 connections on SQLite — 4.7k → 2.1k deliveries/s — for a reason not yet
	// understood.)
	eargs := []any{args[1]}
	for id := range eventIDs {
		eargs = append(eargs, id)
	}
	if err := q.exec(ctx, fmt.Sprintf(start, 1, "id IN ("+placeholders(2, len(eventIDs))+") AND "+unstarted), eargs...); err != nil {
		return nil, nil, 0, fmt.Errorf("starting events: %w", err)
	}
	vrows, err := q.query(ctx, `SELECT v FROM routing_version`)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("reading the routing version: %w", err)
	}
	vs, err := collect(vrows, func(s scanner) (int64, error) {
		var v int64
		return v, s.Scan(&v)
	}, "the routing version")
	if err == nil && len(vs) != 1 {
		err = fmt.Errorf("%d rows, want 1", len(vs))
	}
	if err != nil {
		return nil, nil, 0, fmt.Errorf("reading the routing version: %w", err)
	}
	return ds, nil, vs[0], nil
}

// qualified prefixes each column of a list such as deliveryCols with a table's alias.
func qualified(alias, cols string) string {
	return alias + "." + strings.ReplaceAll(cols, ", ", ", "+alias+".")
}

// scanFunc is a scanner made of a function.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// scanDeliveryAndEvent scans a row of a delivery's columns (deliveryCols), then extra, then an
// event's (eventCols, and its payload with withPayload): a delivery read joined to its event.
func scanDeliveryAndEvent(s scanner, withPayload bool, extra ...any) (*switchyard.Delivery, *switchyard.Event, error) {
	var d *switchyard.Delivery
	ev, err := scanEvent(scanFunc(func(evDest ...any) error {
		var err error
		d, err = scanDelivery(withExtra{s, slices.Concat(extra, evDest)})
		return err
	}), withPayload)
	return d, ev, err
}

// withExtra scans a row's leading columns with a scan function's destinations and the
// columns after them into extra.
type withExtra struct {
	s     scanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.s.Scan(append(dest, w.extra...)...) }

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
