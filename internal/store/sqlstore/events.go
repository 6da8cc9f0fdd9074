package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

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

// EventGetWithDeliveries reads an event and its deliveries in one statement, so that both come
// from one snapshot on either database. Read one after the other, an outcome committed in between
// gave an event still pending beside its one delivery already failed (a CLI test waiting for the
// outcome saw exactly that). An event without deliveries is read alone: its deliveries, if it has
// any, are inserted with it. The payload, which never changes, is read on its own: in the join it
// came once for every delivery (20 rules and a 64 KiB payload: 3 MB read and allocated).
func (db *DB) EventGetWithDeliveries(ctx context.Context, p store.EventGetParams) (*switchyard.Event, []*switchyard.Delivery, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+qualified("d", deliveryCols)+`, `+qualified("e", eventCols)+`
		FROM deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.event_id = $1 AND d.organization_id = $2 AND e.organization_id = $2 ORDER BY d.created_at, d.id`, p.ID, p.OrganizationID)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the event and its deliveries: %w", err)
	}
	var ev *switchyard.Event
	ds, err := collect(rows, func(s scanner) (*switchyard.Delivery, error) {
		d, e, err := scanDeliveryAndEvent(s, false)
		if err != nil {
			return nil, err
		}
		ev = e
		return d, nil
	}, "the event's deliveries")
	if err != nil {
		return nil, nil, err
	}
	if ev == nil {
		e, err := db.EventGet(ctx, p)
		return e, nil, err
	}
	if p.WithPayload {
		var payload string
		if err := db.r.QueryRowContext(ctx, `SELECT payload FROM events WHERE id = $1 AND organization_id = $2`,
			p.ID, p.OrganizationID).Scan(&payload); err != nil {
			return nil, nil, notFound("event", err)
		}
		ev.Payload = []byte(payload)
	}
	return ev, ds, nil
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
