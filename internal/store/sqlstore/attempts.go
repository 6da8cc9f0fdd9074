package sqlstore

import (
	"context"
	"fmt"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// AttemptListByDelivery returns one delivery's attempts, oldest first.
func (db *DB) AttemptListByDelivery(ctx context.Context, p store.AttemptListByDeliveryParams) ([]*switchyard.Attempt, error) {
	orgID, deliveryID := p.OrganizationID, p.DeliveryID
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
