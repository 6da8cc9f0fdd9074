package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Delivery control: manual retry and cancel (docs/meshes-compat.md §6), and the attempt log.
//
// Both change next_attempt_at, which is a waiting delivery's due time and a claimed one's lease:
// the claimer of a delivery that was canceled (or canceled and retried) meanwhile then records
// with a lease that no longer matches and gets store.ErrLeaseLost, so its outcome is logged as
// an attempt but does not overwrite the delivery. Updates compare-and-set the status and
// next_attempt_at they decided on, so a claim or record that slips in between is never undone.

// casAttempts bounds how often a retry or cancel re-reads a delivery that changed under it.
const casAttempts = 5

// DeliveryGet returns the delivery of one event through one rule.
func (db *DB) DeliveryGet(ctx context.Context, p store.DeliveryGetParams) (*switchyard.Delivery, error) {
	d, err := getDelivery(ctx, db.r, p)
	if err != nil {
		return nil, notFound("delivery", err)
	}
	return d, nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getDelivery(ctx context.Context, q queryRower, p store.DeliveryGetParams) (*switchyard.Delivery, error) {
	return scanDelivery(q.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM deliveries
		WHERE event_id = $1 AND rule_id = $2 AND organization_id = $3 ORDER BY created_at, id LIMIT 1`,
		p.EventID, p.RuleID, p.OrganizationID))
}

// DeliveryRetry makes a delivery due now.
func (db *DB) DeliveryRetry(ctx context.Context, p store.DeliveryRetryParams) (*switchyard.Delivery, error) {
	now := micros(p.Now)
	return db.changeDelivery(ctx, p.DeliveryGetParams, now, func(d *switchyard.Delivery) (string, []any, error) {
		switch {
		case d.Status == switchyard.StatusCompleted:
			return "", nil, fmt.Errorf("delivery completed: %w", store.ErrConflict)
		case d.Status == switchyard.StatusProcessing:
			return "", nil, fmt.Errorf("delivery in flight: %w", store.ErrTooEarly)
		case (d.Status == switchyard.StatusPending || d.Status == switchyard.StatusRetrying) &&
			d.NextAttemptAt != nil && !d.NextAttemptAt.After(p.Now.Add(p.ImminentWithin)):
			return "", nil, fmt.Errorf("next attempt due at %s: %w", d.NextAttemptAt.Format(time.RFC3339), store.ErrTooEarly)
		}
		// attempt_count is re-synced with the attempt log: an attempt whose recorder lost its
		// lease (the delivery was canceled while it was in flight) is logged but not counted,
		// and the next attempt must not reuse its number.
		return `status = 'pending', next_attempt_at = $1, completed_at = NULL,
			attempt_count = (SELECT COUNT(*) FROM attempts WHERE attempts.delivery_id = deliveries.id)`, []any{now}, nil
	})
}

// DeliveryCancel cancels an unfinished delivery.
func (db *DB) DeliveryCancel(ctx context.Context, p store.DeliveryCancelParams) (*switchyard.Delivery, error) {
	now := micros(p.Now)
	return db.changeDelivery(ctx, p.DeliveryGetParams, now, func(d *switchyard.Delivery) (string, []any, error) {
		if d.Status.Terminal() {
			return "", nil, fmt.Errorf("delivery %s: %w", d.Status, store.ErrConflict)
		}
		return `status = 'canceled', next_attempt_at = NULL, completed_at = $1`, []any{now}, nil
	})
}

// changeDelivery reads a delivery, lets decide choose the SET clause (its placeholders start at
// $1) or refuse, applies it only if the delivery is still as read, and re-derives the event.
func (db *DB) changeDelivery(ctx context.Context, p store.DeliveryGetParams, now int64,
	decide func(*switchyard.Delivery) (set string, args []any, err error)) (*switchyard.Delivery, error) {
	var changed *switchyard.Delivery
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for range casAttempts {
			d, err := getDelivery(ctx, tx, p)
			if err != nil {
				return notFound("delivery", err)
			}
			set, args, err := decide(d)
			if err != nil {
				return err
			}
			n := len(args)
			args = append(args, now, d.ID, d.Status, nullMicros(d.NextAttemptAt))
			changed, err = scanDelivery(tx.QueryRowContext(ctx, fmt.Sprintf(`UPDATE deliveries SET %s, updated_at = $%d
				WHERE id = $%d AND status = $%d AND next_attempt_at IS NOT DISTINCT FROM $%d RETURNING `+deliveryCols,
				set, n+1, n+2, n+3, n+4), args...))
			switch {
			case errors.Is(err, sql.ErrNoRows):
				continue // claimed or recorded meanwhile: decide again on what it is now
			case err != nil:
				return fmt.Errorf("updating delivery: %w", err)
			}
			return db.refreshEvents(ctx, tx, []uuid.UUID{d.EventID}, now)
		}
		return fmt.Errorf("delivery keeps changing: %w", store.ErrTooEarly)
	})
	if err != nil {
		return nil, err
	}
	return changed, nil
}

// EventCancel cancels every unfinished delivery of an event.
func (db *DB) EventCancel(ctx context.Context, p store.EventCancelParams) (*switchyard.Event, error) {
	var e *switchyard.Event
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var id uuid.UUID
		if err := tx.QueryRowContext(ctx, `SELECT id FROM events WHERE id = $1 AND organization_id = $2`, p.ID, p.OrganizationID).Scan(&id); err != nil {
			return notFound("event", err)
		}
		if err := db.cancelDeliveries(ctx, tx, "", micros(p.Now), `event_id = $1 AND organization_id = $2`, p.ID, p.OrganizationID); err != nil {
			return err
		}
		var err error
		e, err = scanEvent(tx.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE id = $1`, p.ID), false)
		if err != nil {
			return fmt.Errorf("reading event: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// --- attempts ---

const attemptCols = `id, delivery_id, event_id, number, started_at, completed_at, outcome, http_status, message, response_excerpt`

func scanAttempt(s scanner) (*switchyard.Attempt, error) {
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
}

// attemptTenant limits attempts to those of the organization's deliveries.
func attemptTenant(w *where, orgID uuid.UUID) {
	w.conds = append(w.conds, `EXISTS (SELECT 1 FROM deliveries d WHERE d.id = attempts.delivery_id AND d.organization_id = `+w.arg(orgID)+`)`)
}

// AttemptList lists a delivery's attempts, newest first.
func (db *DB) AttemptList(ctx context.Context, p store.AttemptListParams) (*store.Page[*switchyard.Attempt], error) {
	var w where
	w.eq("delivery_id", p.DeliveryID)
	attemptTenant(&w, p.OrganizationID)
	if len(p.Workspaces) > 0 {
		var in where
		in.args = w.args
		in.inIf("d.workspace_id", p.Workspaces)
		w.args = in.args
		w.conds = append(w.conds, `EXISTS (SELECT 1 FROM deliveries d WHERE d.id = attempts.delivery_id AND `+in.conds[0]+`)`)
	}
	return listWhere(ctx, db.r, "attempts", attemptCols, "started_at", w, p.ListParams, scanAttempt,
		func(a *switchyard.Attempt) (time.Time, uuid.UUID) { return a.StartedAt, a.ID })
}

// AttemptGet returns one attempt of a delivery.
func (db *DB) AttemptGet(ctx context.Context, p store.AttemptGetParams) (*switchyard.Attempt, error) {
	var w where
	w.eq("id", p.ID)
	w.eq("delivery_id", p.DeliveryID)
	attemptTenant(&w, p.OrganizationID)
	a, err := scanAttempt(db.r.QueryRowContext(ctx, `SELECT `+attemptCols+` FROM attempts WHERE `+strings.Join(w.conds, ` AND `), w.args...))
	if err != nil {
		return nil, notFound("attempt", err)
	}
	return a, nil
}
