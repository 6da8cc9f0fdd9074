package client

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
)

// Status is the state of an event or of one of its rule deliveries.
type Status string

// The statuses of events and deliveries.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusRetrying   Status = "retrying"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusCanceled   Status = "canceled"
)

// Final reports whether s is a status that no longer changes (unless retried by hand).
func (s Status) Final() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCanceled
}

// EventInput is one event to emit.
type EventInput struct {
	// Event is the event's name, e.g. "contact.created".
	Event string
	// Payload is the event's data: a JSON object, as a json.RawMessage, []byte of JSON, or any
	// value encoding/json marshals to an object (a map or a struct).
	Payload any
	// Workspace is required with a machine key and must be left zero (uuid.Nil) with a
	// publishable key, which names its workspace itself.
	Workspace  uuid.UUID
	Resource   string
	ResourceID string
	// IdempotencyKey makes the emit idempotent within the workspace for 24 hours: a repeated key
	// stores nothing and answers with the first event (AcceptedEvent.Replayed).
	IdempotencyKey string
}

// MarshalJSON writes the event as the API reads it, leaving out the empty optional fields.
func (e EventInput) MarshalJSON() ([]byte, error) {
	var payload json.RawMessage
	switch p := e.Payload.(type) {
	case nil:
		return nil, errors.New("event payload is nil: send at least {}")
	case json.RawMessage:
		payload = p
	case []byte:
		payload = p
	default:
		var err error
		if payload, err = json.Marshal(p); err != nil {
			return nil, err
		}
	}
	body := map[string]any{"event": e.Event, "payload": payload}
	if e.Workspace != uuid.Nil {
		body["workspace"] = e.Workspace
	}
	setIfMap(body, "resource", e.Resource)
	setIfMap(body, "resource_id", e.ResourceID)
	setIfMap(body, "idempotency_key", e.IdempotencyKey)
	return json.Marshal(body)
}

func setIfMap(m map[string]any, key, v string) {
	if v != "" {
		m[key] = v
	}
}

// AcceptedEvent is an event as EmitEvent and EmitEvents return it.
type AcceptedEvent struct {
	ID         uuid.UUID `json:"id"`
	Type       string    `json:"type"`
	Event      string    `json:"event"`
	Resource   string    `json:"resource,omitempty"`
	ResourceID string    `json:"resource_id,omitempty"`
	Workspace  uuid.UUID `json:"workspace"`
	Status     Status    `json:"status"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	// Replayed is set by EmitEvent when the server answered with the event first accepted under
	// the same idempotency key (the Idempotent-Replayed header); nothing new was stored.
	Replayed bool `json:"-"`
}

// BulkResult is the answer to EmitEvents: one record per input event, in input order.
type BulkResult struct {
	// Count is the number of events accepted; ErrorCount the number refused.
	Count      int          `json:"count"`
	ErrorCount int          `json:"error_count,omitempty"`
	Records    []BulkRecord `json:"records"`
}

// BulkRecord is the outcome of one event of a bulk emit: Event when it was accepted, else Error.
type BulkRecord struct {
	Event *AcceptedEvent
	// Error is the item's refusal in the API's error shape; its StatusCode is what a single emit
	// of the item would have answered (400 for a validation failure).
	Error *Error
}

// UnmarshalJSON reads either record shape.
func (r *BulkRecord) UnmarshalJSON(data []byte) error {
	var probe struct {
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return err
	}
	if len(probe.Error) > 0 {
		r.Error = newItemError(data)
		return nil
	}
	r.Event = new(AcceptedEvent)
	return json.Unmarshal(data, r.Event)
}

// Event is an event with its rule deliveries ("rule events").
type Event struct {
	ID             uuid.UUID   `json:"id"`
	Type           string      `json:"type"`
	Workspace      uuid.UUID   `json:"workspace"`
	Event          string      `json:"event"`
	Resource       string      `json:"resource,omitempty"`
	ResourceID     string      `json:"resource_id,omitempty"`
	Status         Status      `json:"status"`
	TotalRules     int         `json:"total_rules"`
	CompletedCount int         `json:"completed_count"`
	FailedCount    int         `json:"failed_count"`
	StartedAt      *time.Time  `json:"started_at"`
	CompletedAt    *time.Time  `json:"completed_at"`
	CreatedBy      string      `json:"created_by"`
	CreatedAt      time.Time   `json:"created_at"`
	RuleEvents     []RuleEvent `json:"rule_events"`
	// Payload is only filled by GetEventPayload: the payload byte for byte as emitted.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// RuleEvent is the delivery of an event through one rule.
type RuleEvent struct {
	ID              uuid.UUID  `json:"id"`
	Type            string     `json:"type"`
	Workspace       uuid.UUID  `json:"workspace"`
	Event           string     `json:"event"`
	EventID         uuid.UUID  `json:"event_id"`
	Resource        string     `json:"resource,omitempty"`
	ResourceID      string     `json:"resource_id,omitempty"`
	Connection      uuid.UUID  `json:"connection"`
	Rule            uuid.UUID  `json:"rule"`
	IntegrationType string     `json:"integration_type"`
	Status          Status     `json:"status"`
	AttemptCount    int        `json:"attempt_count"`
	StartedAt       *time.Time `json:"started_at"`
	CompletedAt     *time.Time `json:"completed_at"`
	LastError       *string    `json:"last_error"`
	CreatedBy       string     `json:"created_by"`
	CreatedAt       time.Time  `json:"created_at"`
}

// Attempt is one delivery attempt of a rule event.
type Attempt struct {
	ID            uuid.UUID `json:"id"`
	RuleEventID   uuid.UUID `json:"rule_event_id"`
	EventID       uuid.UUID `json:"event_id"`
	RuleID        uuid.UUID `json:"rule_id"`
	AttemptNumber int       `json:"attempt_number"`
	StartedAt     time.Time `json:"started_at"`
	CompletedAt   time.Time `json:"completed_at"`
	DurationMS    int64     `json:"duration_ms"`
	// OutcomeCode classifies the result: delivered, rate_limited, auth_failed, timeout, …
	OutcomeCode     string `json:"outcome_code"`
	HTTPStatus      *int   `json:"http_status"`
	Message         string `json:"message"`
	ResponseExcerpt string `json:"response_excerpt"`
}

// ResponseDetails is what was captured of the destination's answer to an attempt.
type ResponseDetails struct {
	AttemptID       uuid.UUID `json:"attempt_id"`
	RuleEventID     uuid.UUID `json:"rule_event_id"`
	EventID         uuid.UUID `json:"event_id"`
	RuleID          uuid.UUID `json:"rule_id"`
	OutcomeCode     string    `json:"outcome_code"`
	HTTPStatus      *int      `json:"http_status"`
	Message         string    `json:"message"`
	ResponseExcerpt string    `json:"response_excerpt"`
	CapturedAt      time.Time `json:"captured_at"`
}

// EventListOptions pages and filters a list of events (newest first); empty filters match
// everything.
type EventListOptions struct {
	ListOptions
	Event      string
	Status     Status
	Resource   string
	ResourceID string
}

func (o *EventListOptions) values() url.Values {
	if o == nil {
		return url.Values{}
	}
	q := o.ListOptions.values()
	setIf(q, "event", o.Event)
	setIf(q, "status", string(o.Status))
	setIf(q, "resource", o.Resource)
	setIf(q, "resource_id", o.ResourceID)
	return q
}

// EmitEvent emits one event (POST /events), with a machine key or a publishable key. An
// IdempotencyKey is sent as the Idempotency-Key header, which also lets the client retry the
// request after a server or network error (see WithRetries).
func (c *Client) EmitEvent(ctx context.Context, in EventInput) (*AcceptedEvent, error) {
	rq := &request{}
	if in.IdempotencyKey != "" {
		rq.header = http.Header{"Idempotency-Key": {in.IdempotencyKey}}
	}
	var out struct {
		Event *AcceptedEvent `json:"event"`
	}
	h, err := c.do(ctx, http.MethodPost, "/events", nil, in, &out, rq)
	if err != nil {
		return nil, err
	}
	if out.Event == nil {
		return nil, errors.New("client: POST /events: the answer has no event")
	}
	out.Event.Replayed = h.Get("Idempotent-Replayed") == "true"
	return out.Event, nil
}

// EmitEvents emits 1–100 events in one request (POST /events/bulk). Each event is accepted or
// refused on its own: a refused one gets an Error record at its position and the call itself
// succeeds (HTTP 207); only a request refused as a whole returns an error. idempotencyKey, when
// not "", gives every event without its own key the key "<idempotencyKey>:<index>", which makes
// the request safe to retry after a server or network error; so does giving every event its
// own IdempotencyKey.
func (c *Client) EmitEvents(ctx context.Context, in []EventInput, idempotencyKey string) (*BulkResult, error) {
	rq := &request{idempotent: len(in) > 0}
	for _, e := range in {
		rq.idempotent = rq.idempotent && e.IdempotencyKey != ""
	}
	if idempotencyKey != "" {
		rq.header = http.Header{"Idempotency-Key": {idempotencyKey}}
	}
	if in == nil {
		in = []EventInput{} // the API's own 400 rather than a "null" body
	}
	var out BulkResult
	if _, err := c.do(ctx, http.MethodPost, "/events/bulk", nil, in, &out, rq); err != nil {
		return nil, err
	}
	return &out, nil
}

func eventPath(id uuid.UUID) string { return "/events/" + id.String() }

func deliveryPath(eventID, ruleID uuid.UUID) string {
	return eventPath(eventID) + "/rules/" + ruleID.String()
}

// ListEvents returns one page of the events the credentials can see, newest first
// (GET /events), each with its rule events but not its payload.
func (c *Client) ListEvents(ctx context.Context, opts *EventListOptions) (*Page[Event], error) {
	var p Page[Event]
	return &p, c.Do(ctx, http.MethodGet, "/events", opts.values(), nil, &p)
}

// Events iterates over every event that matches opts' filters, newest first.
func (c *Client) Events(ctx context.Context, opts *EventListOptions) iter.Seq2[Event, error] {
	o := copyOpts(opts)
	return pages(ctx, o.Cursor, func(ctx context.Context, cursor string) (*Page[Event], error) {
		o.Cursor = cursor
		return c.ListEvents(ctx, &o)
	})
}

// GetEvent returns an event with its rule events (GET /events/{id}).
func (c *Client) GetEvent(ctx context.Context, id uuid.UUID) (*Event, error) {
	var out Event
	if err := c.Do(ctx, http.MethodGet, eventPath(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetEventPayload returns an event with its rule events and its payload (GET /events/{id}/payload).
func (c *Client) GetEventPayload(ctx context.Context, id uuid.UUID) (*Event, error) {
	var out Event
	if err := c.Do(ctx, http.MethodGet, eventPath(id)+"/payload", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelEvent cancels every delivery of an event that has not finished
// (POST /events/{id}/cancel) and returns the event.
func (c *Client) CancelEvent(ctx context.Context, id uuid.UUID) (*Event, error) {
	var out Event
	if err := c.Do(ctx, http.MethodPost, eventPath(id)+"/cancel", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAttempts returns one page of the delivery attempts of an event through a rule
// (GET /events/{event_id}/rules/{rule_id}/attempts).
func (c *Client) ListAttempts(ctx context.Context, eventID, ruleID uuid.UUID, opts *ListOptions) (*Page[Attempt], error) {
	var p Page[Attempt]
	return &p, c.Do(ctx, http.MethodGet, deliveryPath(eventID, ruleID)+"/attempts", opts.values(), nil, &p)
}

// Attempts iterates over every delivery attempt of an event through a rule.
func (c *Client) Attempts(ctx context.Context, eventID, ruleID uuid.UUID, opts *ListOptions) iter.Seq2[Attempt, error] {
	o := copyOpts(opts)
	return pages(ctx, o.Cursor, func(ctx context.Context, cursor string) (*Page[Attempt], error) {
		o.Cursor = cursor
		return c.ListAttempts(ctx, eventID, ruleID, &o)
	})
}

// GetAttempt returns one delivery attempt
// (GET /events/{event_id}/rules/{rule_id}/attempts/{attempt_id}).
func (c *Client) GetAttempt(ctx context.Context, eventID, ruleID, attemptID uuid.UUID) (*Attempt, error) {
	var out Attempt
	if err := c.Do(ctx, http.MethodGet, deliveryPath(eventID, ruleID)+"/attempts/"+attemptID.String(), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetAttemptResponseDetails returns what was captured of the destination's answer to an attempt
// (GET /events/{event_id}/rules/{rule_id}/attempts/{attempt_id}/response-details).
func (c *Client) GetAttemptResponseDetails(ctx context.Context, eventID, ruleID, attemptID uuid.UUID) (*ResponseDetails, error) {
	var out ResponseDetails
	path := deliveryPath(eventID, ruleID) + "/attempts/" + attemptID.String() + "/response-details"
	if err := c.Do(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RetryDelivery schedules a failed or canceled delivery of an event through a rule again
// (POST /events/{event_id}/rules/{rule_id}/retry) and returns the rule event.
func (c *Client) RetryDelivery(ctx context.Context, eventID, ruleID uuid.UUID) (*RuleEvent, error) {
	var out RuleEvent
	if err := c.Do(ctx, http.MethodPost, deliveryPath(eventID, ruleID)+"/retry", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelDelivery cancels the unfinished delivery of an event through a rule
// (POST /events/{event_id}/rules/{rule_id}/cancel) and returns the rule event.
func (c *Client) CancelDelivery(ctx context.Context, eventID, ruleID uuid.UUID) (*RuleEvent, error) {
	var out RuleEvent
	if err := c.Do(ctx, http.MethodPost, deliveryPath(eventID, ruleID)+"/cancel", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
