package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// where builds the conditions of a filtered list; every list starts with its tenant condition.
type where struct {
	conds []string
	args  []any
}

// arg adds a value and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// eq adds "col = value".
func (w *where) eq(col string, v any) {
	w.conds = append(w.conds, col+" = "+w.arg(v))
}

// eqIf adds "col = value" unless v is "" or uuid.Nil: an unset filter.
func (w *where) eqIf(col string, v any) {
	switch v := v.(type) {
	case string:
		if v == "" {
			return
		}
	case switchyard.Status:
		if v == "" {
			return
		}
	case uuid.UUID:
		if v == uuid.Nil {
			return
		}
	}
	w.eq(col, v)
}

// inIf adds "col IN (ids…)" unless ids is empty: an unset filter. It is how a
// workspace-limited machine key's lists are confined to its workspaces.
func (w *where) inIf(col string, ids []uuid.UUID) {
	if len(ids) == 0 {
		return
	}
	ps := make([]string, len(ids))
	for i, id := range ids {
		ps[i] = w.arg(id)
	}
	w.conds = append(w.conds, col+" IN ("+strings.Join(ps, ", ")+")")
}

// listWhere reads one page of table, newest first by (sortCol, id), under the conditions of w.
// It is the one implementation of the API's pagination: the cursor encodes the last row's sort
// key and id, so rows inserted meanwhile never shift a page.
func listWhere[T any](ctx context.Context, q queryer, table, cols, sortCol string, w where, p store.ListParams,
	scan func(scanner) (T, error), key func(T) (time.Time, uuid.UUID)) (*store.Page[T], error) {
	if p.Cursor != "" {
		c, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, err
		}
		at, id := w.arg(c.createdAt), w.arg(c.id)
		w.conds = append(w.conds, fmt.Sprintf("(%[1]s < %[2]s OR (%[1]s = %[2]s AND id < %[3]s))", sortCol, at, id))
	}
	query := `SELECT ` + cols + ` FROM ` + table
	if len(w.conds) > 0 {
		query += ` WHERE ` + strings.Join(w.conds, ` AND `)
	}
	query += fmt.Sprintf(` ORDER BY %s DESC, id DESC LIMIT %d`, sortCol, p.Limit+1)
	rows, err := q.QueryContext(ctx, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", table, err)
	}
	records, err := collect(rows, scan, table)
	if err != nil {
		return nil, err
	}
	page := &store.Page[T]{Records: records}
	if len(page.Records) > p.Limit {
		page.Records = page.Records[:p.Limit]
		page.NextCursor = encodeCursor(key(page.Records[p.Limit-1]))
	}
	return page, nil
}

// ConnectionList lists connections, newest first.
func (db *DB) ConnectionList(ctx context.Context, p store.ConnectionListParams) (*store.Page[*switchyard.Connection], error) {
	var w where
	w.eq("organization_id", p.OrganizationID)
	w.eqIf("workspace_id", p.WorkspaceID)
	w.inIf("workspace_id", p.Workspaces)
	return listWhere(ctx, db.r, "connections", connectionCols, "created_at", w, p.ListParams, scanConnection,
		func(c *switchyard.Connection) (time.Time, uuid.UUID) { return c.CreatedAt, c.ID })
}

// RuleList lists rules, newest first.
func (db *DB) RuleList(ctx context.Context, p store.RuleListParams) (*store.Page[*switchyard.Rule], error) {
	var w where
	w.eq("organization_id", p.OrganizationID)
	w.eqIf("workspace_id", p.WorkspaceID)
	w.inIf("workspace_id", p.Workspaces)
	w.eqIf("event", p.Event)
	w.eqIf("resource", p.Resource)
	w.eqIf("resource_id", p.ResourceID)
	return listWhere(ctx, db.r, "rules", ruleCols, "created_at", w, p.ListParams, scanRule,
		func(r *switchyard.Rule) (time.Time, uuid.UUID) { return r.CreatedAt, r.ID })
}

// EventListWithDeliveries lists events (without payloads), newest first, and the deliveries
// of the listed events, oldest first, both read in one snapshot.
func (db *DB) EventListWithDeliveries(ctx context.Context, p store.EventListParams) (*store.Page[*switchyard.Event], []*switchyard.Delivery, error) {
	var w where
	w.eq("organization_id", p.OrganizationID)
	w.eqIf("workspace_id", p.WorkspaceID)
	w.inIf("workspace_id", p.Workspaces)
	w.eqIf("event", p.Event)
	w.eqIf("status", p.Status)
	w.eqIf("resource", p.Resource)
	w.eqIf("resource_id", p.ResourceID)
	var (
		page *store.Page[*switchyard.Event]
		ds   []*switchyard.Delivery
	)
	err := db.snapshot(ctx, func(q *sql.Tx) error {
		var err error
		page, err = listWhere(ctx, q, "events", eventCols, "created_at", w, p.ListParams,
			func(s scanner) (*switchyard.Event, error) { return scanEvent(s, false) },
			func(e *switchyard.Event) (time.Time, uuid.UUID) { return e.CreatedAt, e.ID })
		if err != nil || len(page.Records) == 0 {
			return err
		}
		args := []any{p.OrganizationID}
		for _, e := range page.Records {
			args = append(args, e.ID)
		}
		rows, err := q.QueryContext(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE organization_id = $1 AND event_id IN (`+
			placeholders(2, len(page.Records))+`) ORDER BY created_at, id`, args...)
		if err != nil {
			return fmt.Errorf("listing the events' deliveries: %w", err)
		}
		ds, err = collect(rows, scanDelivery, "deliveries")
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return page, ds, nil
}
