package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Delivery control (docs/meshes-compat.md §6). A rule delivery ("rule event") is addressed by its
// event and its rule: /events/{event_id}/rules/{rule_id}.

// retryImminent is how soon a scheduled attempt makes a manual retry pointless (425).
const retryImminent = 5 * time.Second

// deliveryRef reads the path's event_id and rule_id.
func deliveryRef(r *http.Request) (store.DeliveryGetParams, error) {
	eventID, err := pathID(r, "event_id")
	if err != nil {
		return store.DeliveryGetParams{}, err
	}
	ruleID, err := pathID(r, "rule_id")
	if err != nil {
		return store.DeliveryGetParams{}, err
	}
	return store.DeliveryGetParams{OrganizationID: principalFrom(r.Context()).OrganizationID, EventID: eventID, RuleID: ruleID}, nil
}

var errDeliveryNotFound = &switchyard.Error{Code: switchyard.ENOTFOUND,
	Message: "Rule delivery not found: the event has no delivery through this rule."}

// delivery loads the delivery the path names; one in a workspace outside the caller's limit is
// not found either.
func (s *Server) delivery(r *http.Request) (*switchyard.Delivery, error) {
	ref, err := deliveryRef(r)
	if err != nil {
		return nil, err
	}
	d, err := s.Store.DeliveryGet(r.Context(), ref)
	p := principalFrom(r.Context())
	if errors.Is(err, store.ErrNotFound) || err == nil && (!p.canWorkspace(d.WorkspaceID) ||
		p.inResource(d.Resource, d.ResourceID, "Delivery") != nil) {
		return nil, errDeliveryNotFound
	}
	return d, err
}

// attemptJSON is one delivery attempt.
type attemptJSON struct {
	ID              uuid.UUID          `json:"id"`
	RuleEventID     uuid.UUID          `json:"rule_event_id"`
	EventID         uuid.UUID          `json:"event_id"`
	RuleID          uuid.UUID          `json:"rule_id"`
	AttemptNumber   int                `json:"attempt_number"`
	StartedAt       time.Time          `json:"started_at"`
	CompletedAt     time.Time          `json:"completed_at"`
	DurationMS      int64              `json:"duration_ms"`
	OutcomeCode     switchyard.Outcome `json:"outcome_code"`
	HTTPStatus      *int               `json:"http_status"`
	Message         string             `json:"message"`
	ResponseExcerpt string             `json:"response_excerpt"`
}

func attemptWire(a *switchyard.Attempt, d *switchyard.Delivery) *attemptJSON {
	out := &attemptJSON{ID: a.ID, RuleEventID: d.ID, EventID: d.EventID, RuleID: d.RuleID, AttemptNumber: a.Number,
		StartedAt: a.StartedAt, CompletedAt: a.CompletedAt, DurationMS: a.Duration().Milliseconds(), OutcomeCode: a.Outcome,
		Message: a.Message, ResponseExcerpt: a.ResponseExcerpt}
	if a.HTTPStatus != 0 {
		status := a.HTTPStatus
		out.HTTPStatus = &status
	}
	return out
}

func (s *Server) attemptList(w http.ResponseWriter, r *http.Request) error {
	lq, err := parseListQuery(r, 0)
	if err != nil {
		return err
	}
	d, err := s.delivery(r)
	if err != nil {
		return err
	}
	page, err := s.Store.AttemptList(r.Context(), store.AttemptListParams{ListParams: lq.list(principalFrom(r.Context())), DeliveryID: d.ID})
	if err != nil {
		return err
	}
	records := make([]*attemptJSON, 0, len(page.Records))
	for _, a := range page.Records {
		records = append(records, attemptWire(a, d))
	}
	writeJSON(w, http.StatusOK, pageWire(records, lq.limit, page.NextCursor))
	return nil
}

// attempt loads the attempt the path names, under its delivery.
func (s *Server) attempt(r *http.Request) (*switchyard.Attempt, *switchyard.Delivery, error) {
	id, err := pathID(r, "attempt_id")
	if err != nil {
		return nil, nil, err
	}
	d, err := s.delivery(r)
	if err != nil {
		return nil, nil, err
	}
	a, err := s.Store.AttemptGet(r.Context(), store.AttemptGetParams{OrganizationID: principalFrom(r.Context()).OrganizationID,
		DeliveryID: d.ID, ID: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notFound("Attempt")
	}
	return a, d, err
}

func (s *Server) attemptGet(w http.ResponseWriter, r *http.Request) error {
	a, d, err := s.attempt(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, attemptWire(a, d))
	return nil
}

// responseDetailsJSON is what the destination answered to one attempt, as far as Switchyard
// keeps it: the outcome, the status and a bounded excerpt of the response (status line,
// selected headers, the start of the body). Secrets never appear in it.
type responseDetailsJSON struct {
	AttemptID       uuid.UUID          `json:"attempt_id"`
	RuleEventID     uuid.UUID          `json:"rule_event_id"`
	EventID         uuid.UUID          `json:"event_id"`
	RuleID          uuid.UUID          `json:"rule_id"`
	OutcomeCode     switchyard.Outcome `json:"outcome_code"`
	HTTPStatus      *int               `json:"http_status"`
	Message         string             `json:"message"`
	ResponseExcerpt string             `json:"response_excerpt"`
	CapturedAt      time.Time          `json:"captured_at"`
}

func (s *Server) attemptResponseDetails(w http.ResponseWriter, r *http.Request) error {
	a, d, err := s.attempt(r)
	if err != nil {
		return err
	}
	aw := attemptWire(a, d)
	writeJSON(w, http.StatusOK, &responseDetailsJSON{AttemptID: a.ID, RuleEventID: d.ID, EventID: d.EventID, RuleID: d.RuleID,
		OutcomeCode: a.Outcome, HTTPStatus: aw.HTTPStatus, Message: a.Message, ResponseExcerpt: a.ResponseExcerpt, CapturedAt: a.CompletedAt})
	return nil
}

// deliveryRetry forces the next attempt of a rule delivery: a failed, canceled or later
// scheduled delivery becomes pending and due now. A completed delivery is 409 (emit the event
// again to send it again); one in flight, or due within five seconds anyway, is 425.
func (s *Server) deliveryRetry(w http.ResponseWriter, r *http.Request) error {
	ref, err := deliveryRef(r)
	if err != nil {
		return err
	}
	if principalFrom(r.Context()).limited() {
		if _, err := s.delivery(r); err != nil {
			return err
		}
	}
	d, err := s.Store.DeliveryRetry(r.Context(), store.DeliveryRetryParams{DeliveryGetParams: ref, ImminentWithin: retryImminent,
		Now: s.Now().UTC()})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errDeliveryNotFound
	case errors.Is(err, store.ErrConflict):
		return &switchyard.Error{Code: switchyard.ECONFLICT,
			Message: "The delivery already completed; emit the event again to deliver it once more."}
	case errors.Is(err, store.ErrTooEarly):
		return &switchyard.Error{Code: switchyard.ETOOEARLY,
			Message: "The delivery is in flight or its next attempt is due within 5 seconds."}
	case err != nil:
		return err
	}
	s.Accepted()
	writeJSON(w, http.StatusOK, ruleEventWire(d))
	return nil
}

// deliveryCancel stops a rule delivery: no further attempts; an attempt in flight finishes but
// no longer changes the delivery. A delivery that already finished is 409.
func (s *Server) deliveryCancel(w http.ResponseWriter, r *http.Request) error {
	ref, err := deliveryRef(r)
	if err != nil {
		return err
	}
	if principalFrom(r.Context()).limited() {
		if _, err := s.delivery(r); err != nil {
			return err
		}
	}
	d, err := s.Store.DeliveryCancel(r.Context(), store.DeliveryCancelParams{DeliveryGetParams: ref, Now: s.Now().UTC()})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errDeliveryNotFound
	case errors.Is(err, store.ErrConflict):
		return &switchyard.Error{Code: switchyard.ECONFLICT, Message: "The delivery already finished; there is nothing to cancel."}
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, ruleEventWire(d))
	return nil
}

// eventCancel cancels every unfinished rule delivery of an event and returns the event. An
// event with nothing left to cancel is returned unchanged.
func (s *Server) eventCancel(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r, "event_id")
	if err != nil {
		return err
	}
	p := principalFrom(ctx)
	orgID := p.OrganizationID
	if p.limited() {
		e, err := s.Store.EventGet(ctx, store.EventGetParams{OrganizationID: orgID, ID: id})
		if errors.Is(err, store.ErrNotFound) {
			return notFound("Event")
		} else if err != nil {
			return err
		}
		if err := p.visible(e.WorkspaceID, "Event"); err != nil {
			return err
		}
		if err := p.inResource(e.Resource, e.ResourceID, "Event"); err != nil {
			return err
		}
	}
	if _, err := s.Store.EventCancel(ctx, store.EventCancelParams{OrganizationID: orgID, ID: id, Now: s.Now().UTC()}); errors.Is(err, store.ErrNotFound) {
		return notFound("Event")
	} else if err != nil {
		return err
	}
	// The answer from one read of the event and its deliveries, so that its counts are theirs
	// (an outcome may land between the cancel and the read).
	e, ds, err := s.Store.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: orgID, ID: id})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, eventWire(e, ds))
	return nil
}
