package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"reflect"
	"strings"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// EventInsertBatch stores several events, their deliveries and their catalogue entries in one
// transaction: one commit (one fsync) for the whole batch instead of one per event. Within the
// batch, events that share a workspace, name and resource are routed once, and rows are written
// with multi-row INSERTs. On PostgreSQL, a batch whose routes are all cached is one statement
// (eventInsertStatement).
func (db *DB) EventInsertBatch(ctx context.Context, p store.EventInsertBatchParams) ([][]*switchyard.Delivery, error) {
	if len(p.Events) == 0 {
		return nil, nil
	}
	if db.d.name == "postgres" {
		if out, ok, err := db.eventInsertStatement(ctx, p.Events); ok || err != nil {
			return out, err
		}
	}
	out := make([][]*switchyard.Delivery, len(p.Events))
	err := db.tx(ctx, func(tx *sql.Tx) error {
		rt := db.newRouter(tx)
		var (
			events     = make([]*switchyard.Event, 0, len(p.Events))
			deliveries []*switchyard.Delivery
		)
		for i, e := range p.Events {
			if e.IdempotencyKey != "" {
				// A key may be replayed from an event earlier in this same batch, which must
				// therefore be stored before the key is looked at: keyed events go in at once.
				ds, err := db.insertEvent(ctx, tx, rt, e)
				if err != nil {
					return err
				}
				out[i] = ds
				continue
			}
			routes, err := rt.match(ctx, e)
			if err != nil {
				return err
			}
			out[i] = prepareEvent(e, routes)
			events = append(events, e)
			deliveries = append(deliveries, out[i]...)
		}
		if err := insertRows(ctx, db, tx, eventInsert, events, eventArgs); err != nil {
			return err
		}
		if err := insertRows(ctx, db, tx, deliveryInsert, deliveries, deliveryArgs); err != nil {
			return err
		}
		return db.catalogue(ctx, tx, p.Events)
	})
	if err != nil {
		return nil, err
	}
	db.catalogued.add(p.Events)
	db.recent.add(p.Events)
	return out, nil
}

// route is one active rule (on an active connection) of a workspace for an event name, with the
// resource filters that decide whether a given event matches it.
type route struct {
	ruleID, connectionID uuid.UUID
	integrationType      string
	resource, resourceID string
}

// routeKey is what the rules to consider depend on.
type routeKey struct {
	workspace uuid.UUID
	event     string
}

// router matches events to their workspace's rules inside a transaction. A workspace's rules
// for an event name are read once per transaction, and kept across transactions in the store's
// routes cache for as long as the routing version (moved on by every change to rules or
// connections, see migration 00007) stays the same; resource filters are applied per event.
type router struct {
	db      *DB
	tx      *sql.Tx
	version int64 // -1: not read yet
	memo    map[routeKey][]route
}

func (db *DB) newRouter(tx *sql.Tx) *router {
	return &router{db: db, tx: tx, version: -1, memo: map[routeKey][]route{}}
}

// match returns the routes whose resource and resource id are unset or equal to the event's,
// oldest rule first.
func (r *router) match(ctx context.Context, e *switchyard.Event) ([]route, error) {
	k := routeKey{e.WorkspaceID, e.Name}
	candidates, ok := r.memo[k]
	if !ok {
		var err error
		if candidates, err = r.candidates(ctx, k); err != nil {
			return nil, err
		}
		r.memo[k] = candidates
	}
	return matching(candidates, e), nil
}

// matching returns the candidates whose resource and resource id are unset or equal to the
// event's, in their order.
func matching(candidates []route, e *switchyard.Event) []route {
	var routes []route
	for _, rt := range candidates {
		if (rt.resource == "" || rt.resource == e.Resource) && (rt.resourceID == "" || rt.resourceID == e.ResourceID) {
			routes = append(routes, rt)
		}
	}
	return routes
}

// candidates returns the workspace's rules for an event name, from the cache if they are
// cached for the current routing version.
func (r *router) candidates(ctx context.Context, k routeKey) ([]route, error) {
	if r.version < 0 {
		if err := r.tx.QueryRowContext(ctx, `SELECT v FROM routing_version`).Scan(&r.version); err != nil {
			return nil, fmt.Errorf("reading the routing version: %w", err)
		}
	}
	if routes, ok := r.db.routes.get(r.version, k); ok {
		return routes, nil
	}
	routes, err := r.load(ctx, k)
	if err != nil {
		return nil, err
	}
	r.db.routes.put(r.version, k, routes)
	return routes, nil
}

// load reads the workspace's active rules for an event name, on active connections.
func (r *router) load(ctx context.Context, k routeKey) ([]route, error) {
	rows, err := r.tx.QueryContext(ctx, `
		SELECT r.id, r.connection_id, r.type, r.resource, r.resource_id FROM rules r JOIN connections c ON c.id = r.connection_id
		WHERE r.workspace_id = $1 AND r.event = $2 AND r.active AND c.active
		ORDER BY r.created_at, r.id`, k.workspace, k.event)
	if err != nil {
		return nil, fmt.Errorf("matching rules: %w", err)
	}
	defer rows.Close()
	routes := []route{}
	for rows.Next() {
		var rt route
		if err := rows.Scan(&rt.ruleID, &rt.connectionID, &rt.integrationType, &rt.resource, &rt.resourceID); err != nil {
			return nil, fmt.Errorf("matching rules: %w", err)
		}
		routes = append(routes, rt)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("matching rules: %w", err)
	}
	return routes, nil
}

// prepareEvent sets e's routing totals and status and returns its new deliveries, one pending
// delivery per route.
func prepareEvent(e *switchyard.Event, routes []route) []*switchyard.Delivery {
	deliveries := make([]*switchyard.Delivery, len(routes))
	for i, rt := range routes {
		deliveries[i] = &switchyard.Delivery{
			ID: uuid.Must(uuid.NewV7()), OrganizationID: e.OrganizationID, WorkspaceID: e.WorkspaceID, EventID: e.ID,
			RuleID: rt.ruleID, ConnectionID: rt.connectionID, IntegrationType: rt.integrationType,
			EventName: e.Name, Resource: e.Resource, ResourceID: e.ResourceID, Status: switchyard.StatusPending,
			NextAttemptAt: &e.CreatedAt, CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt,
		}
	}
	e.TotalRules = len(deliveries)
	e.Status = switchyard.StatusPending
	if len(deliveries) == 0 {
		// Nothing to deliver: the event is complete the moment it is accepted.
		e.Status = switchyard.StatusCompleted
		e.StartedAt, e.CompletedAt = &e.CreatedAt, &e.CreatedAt
	}
	return deliveries
}

// multiInsert is an INSERT of one table's rows, many rows per statement.
type multiInsert struct {
	what string // the row, for errors
	cols int
	// stmts[k] inserts 1<<k rows. Row counts are written as sums of powers of two so that a
	// table has a handful of statement texts, each prepared once per connection.
	stmts []string
}

// maxRowsLog2 caps one statement at 64 rows: at most 64×19 parameters, far under SQLite's and
// PostgreSQL's limits.
const maxRowsLog2 = 6

// rowChunks splits rows into the runs that statements of 1<<k rows take, largest first (k up to
// maxRowsLog2), yielding each run with its k: the index of its statement in rowStatements' texts.
func rowChunks[T any](rows []T) iter.Seq2[int, []T] {
	return func(yield func(int, []T) bool) {
		for len(rows) > 0 {
			k := maxRowsLog2
			for 1<<k > len(rows) {
				k--
			}
			if !yield(k, rows[:1<<k]) {
				return
			}
			rows = rows[1<<k:]
		}
	}
}

// rowArgs are the values of rows, args giving each row's, one after another.
func rowArgs[T any](rows []T, args func(T) []any) []any {
	if len(rows) == 0 {
		return nil
	}
	first := args(rows[0])
	vals := append(make([]any, 0, len(rows)*len(first)), first...)
	for _, r := range rows[1:] {
		vals = append(vals, args(r)...)
	}
	return vals
}

func newMultiInsert(what, table, cols string) *multiInsert {
	n := strings.Count(cols, ",") + 1
	return &multiInsert{what: what, cols: n,
		stmts: rowStatements(`INSERT INTO `+table+` (`+cols+`) VALUES `, n, plainRow(n), ``)}
}

// rowStatements are the texts of a statement for 1<<k rows, k from 0 to maxRowsLog2 (what
// rowChunks splits rows into): head, the rows' lists of parameters, comma-separated, and tail.
// row writes the list of the row whose first parameter is $first (each row has cols).
func rowStatements(head string, cols int, row func(first int) string, tail string) []string {
	stmts := make([]string, maxRowsLog2+1)
	for k := range stmts {
		var b strings.Builder
		b.WriteString(head)
		for i := range 1 << k {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row(i*cols + 1))
		}
		b.WriteString(tail)
		stmts[k] = b.String()
	}
	return stmts
}

// plainRow writes a row of cols parameters without casts: ($1, $2, …).
func plainRow(cols int) func(first int) string {
	return func(first int) string { return "(" + placeholders(first, cols) + ")" }
}

var (
	eventInsert    = newMultiInsert("event", "events", eventCols+", payload")
	deliveryInsert = newMultiInsert("delivery", "deliveries", deliveryCols)
)

// insertRows inserts rows with m, args giving each row's values.
func insertRows[T any](ctx context.Context, db *DB, tx *sql.Tx, m *multiInsert, rows []T, args func(T) []any) error {
	for k, chunk := range rowChunks(rows) {
		if _, err := tx.ExecContext(ctx, m.stmts[k], rowArgs(chunk, args)...); err != nil {
			return db.insertErr(m.what, err)
		}
	}
	return nil
}

// eventInsertStatement stores events and their deliveries on PostgreSQL in one statement, which
// is one round trip and one commit, when everything the transaction of EventInsertBatch would
// read is known already: the routes of every event are cached for the routing version last
// seen, no event has an idempotency key and every catalogue entry is stored. The statement
// inserts only if that version is still the current one in its own snapshot, so an event is
// never routed by rules older than those committed before it began. ok is false when nothing
// was inserted and the transaction must run instead (something not known, or the routing moved
// on).
//
// A transaction was five round trips for a single event (BEGIN, the routing version, the two
// INSERTs, COMMIT); at 1,000 events/s on one node this halved the answer's median
// (docs/benchmarks.md). The rows travel as one array per column (unnest), so the statement's
// text is the same for any number of events and is prepared once per connection.
func (db *DB) eventInsertStatement(ctx context.Context, events []*switchyard.Event) (out [][]*switchyard.Delivery, ok bool, err error) {
	version := db.routes.current()
	out = make([][]*switchyard.Delivery, len(events))
	var deliveries []*switchyard.Delivery
	for i, e := range events {
		if e.IdempotencyKey != "" || !db.catalogued.hasAll(e) {
			return nil, false, nil
		}
		candidates, cached := db.routes.get(version, routeKey{e.WorkspaceID, e.Name})
		if !cached {
			return nil, false, nil
		}
		out[i] = prepareEvent(e, matching(candidates, e))
		deliveries = append(deliveries, out[i]...)
	}
	args := append([]any{version}, pgColumns(events, eventArgs, eventTypesPG)...)
	args = append(args, pgColumns(deliveries, deliveryArgs, deliveryTypesPG)...)
	var inserted bool
	if err := db.w.QueryRowContext(ctx, eventInsertPG, args...).Scan(&inserted); err != nil {
		return nil, false, db.insertErr("event", err)
	}
	if !inserted {
		return nil, false, nil
	}
	return out, true, nil
}

// The PostgreSQL types of eventCols+", payload" and of deliveryCols, in order (migrations/postgres).
var (
	eventTypesPG = []string{"uuid", "uuid", "uuid", "text", "text", "text", "text", "integer", "integer", "integer",
		"bigint", "bigint", "text", "bigint", "json"}
	deliveryTypesPG = []string{"uuid", "uuid", "uuid", "uuid", "uuid", "uuid", "text", "text", "text", "text", "text",
		"integer", "bigint", "bigint", "bigint", "text", "text", "bigint", "bigint"}
)

// eventInsertPG is eventInsertStatement's statement: $1 the routing version the rows were routed
// by, then one array per column of events and of deliveries. It answers whether it inserted.
var eventInsertPG = `WITH current AS (SELECT v FROM routing_version WHERE v = $1),
		e AS (INSERT INTO events (` + eventCols + `, payload) SELECT * FROM unnest(` + arrayParams(2, eventTypesPG) + `)
			WHERE EXISTS (SELECT 1 FROM current)),
		d AS (INSERT INTO deliveries (` + deliveryCols + `) SELECT * FROM unnest(` + arrayParams(2+len(eventTypesPG), deliveryTypesPG) + `)
			WHERE EXISTS (SELECT 1 FROM current))
		SELECT EXISTS (SELECT 1 FROM current)`

// arrayParams lists parameters from $from on, one PostgreSQL array of each of types.
func arrayParams(from int, types []string) string {
	var b strings.Builder
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s[]", from+i, t)
	}
	return b.String()
}

// pgColumns turns rows into one Go slice per column, typed for PostgreSQL arrays of types (the
// column types; args gives a row's values in that order): uuid as []uuid.UUID, text and json as
// []string, integer as []int64 and bigint, which may be NULL, as []*int64.
func pgColumns[T any](rows []T, args func(T) []any, types []string) []any {
	cols := make([]any, len(types))
	for j, t := range types {
		switch t {
		case "uuid":
			cols[j] = make([]uuid.UUID, 0, len(rows))
		case "text", "json":
			cols[j] = make([]string, 0, len(rows))
		case "integer":
			cols[j] = make([]int64, 0, len(rows))
		case "bigint":
			cols[j] = make([]*int64, 0, len(rows))
		default:
			panic("sqlstore: no array column for type " + t)
		}
	}
	for _, r := range rows {
		for j, v := range args(r) {
			switch c := cols[j].(type) {
			case []uuid.UUID:
				cols[j] = append(c, v.(uuid.UUID))
			case []string:
				cols[j] = append(c, reflect.ValueOf(v).String())
			case []int64:
				cols[j] = append(c, reflect.ValueOf(v).Int())
			case []*int64:
				var p *int64
				if v != nil {
					n := reflect.ValueOf(v).Int()
					p = &n
				}
				cols[j] = append(c, p)
			}
		}
	}
	return cols
}
