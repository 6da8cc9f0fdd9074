package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// microsPerHour buckets the integer-microsecond times by hour in SQL both dialects share.
const microsPerHour = int64(3600) * 1_000_000

// WorkspaceActivity summarises a workspace's recent activity in three grouped queries: events by
// hour and status (the workspace page index), attempts by outcome (joined to the workspace's
// deliveries of the period), and the oldest due delivery — read in one snapshot, so that the
// events' statuses and the attempts' outcomes agree.
func (db *DB) WorkspaceActivity(ctx context.Context, p store.WorkspaceActivityParams) (*store.WorkspaceActivity, error) {
	since, now := micros(p.Since), micros(p.Now)
	hours := int((now-since)/microsPerHour) + 1
	out := &store.WorkspaceActivity{Hours: make([]map[switchyard.Status]int, hours), FailedAttempts: map[switchyard.Outcome]int{}}
	for i := range out.Hours {
		out.Hours[i] = map[switchyard.Status]int{}
	}
	scope, args := ``, []any{p.OrganizationID, p.WorkspaceID, since}
	if p.Resource != "" {
		scope = ` AND resource = $4 AND resource_id = $5`
		args = append(args, p.Resource, p.ResourceID)
	}
	err := db.snapshot(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT (created_at - $3) / `+fmt.Sprint(microsPerHour)+` AS h, status, COUNT(*)
			FROM events WHERE organization_id = $1 AND workspace_id = $2 AND created_at >= $3`+scope+`
			GROUP BY h, status`, args...)
		if err != nil {
			return fmt.Errorf("reading events by hour: %w", err)
		}
		for rows.Next() {
			var (
				h      int64
				status switchyard.Status
				n      int
			)
			if err := rows.Scan(&h, &status, &n); err != nil {
				rows.Close()
				return fmt.Errorf("reading events by hour: %w", err)
			}
			if h >= 0 && int(h) < hours {
				out.Hours[h][status] += n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading events by hour: %w", err)
		}

		dscope := ``
		if p.Resource != "" {
			dscope = ` AND d.resource = $4 AND d.resource_id = $5`
		}
		rows, err = tx.QueryContext(ctx, `SELECT a.outcome, COUNT(*) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
			WHERE d.organization_id = $1 AND d.workspace_id = $2 AND d.created_at >= $3 AND a.started_at >= $3`+dscope+`
			GROUP BY a.outcome`, args...)
		if err != nil {
			return fmt.Errorf("reading attempts by outcome: %w", err)
		}
		for rows.Next() {
			var (
				o switchyard.Outcome
				n int
			)
			if err := rows.Scan(&o, &n); err != nil {
				rows.Close()
				return fmt.Errorf("reading attempts by outcome: %w", err)
			}
			out.Attempts += n
			if o == switchyard.OutcomeDelivered {
				out.Delivered += n
			} else {
				out.FailedAttempts[o] += n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading attempts by outcome: %w", err)
		}

		dargs := []any{p.OrganizationID, p.WorkspaceID, now}
		if p.Resource != "" {
			dargs = append(dargs, p.Resource, p.ResourceID)
		}
		var oldest sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM deliveries d
			WHERE d.organization_id = $1 AND d.workspace_id = $2 AND d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $3`+dscope,
			dargs...).Scan(&oldest); err != nil {
			return fmt.Errorf("reading the oldest due delivery: %w", err)
		}
		out.OldestDue = timePtr(oldest)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
