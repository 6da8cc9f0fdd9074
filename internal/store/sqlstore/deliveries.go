package sqlstore

import (
	"database/sql"
	"fmt"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

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

// collect scans every row and closes rows.
func collect[T any](rows rowsIter, scan func(scanner) (T, error), what string) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("reading %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return out, nil
}
