package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
)

// Rule routes a workspace's events of one name (and optionally one resource) to a connection's
// action.
type Rule struct {
	ID         uuid.UUID `json:"id"`
	Connection uuid.UUID `json:"connection"`
	Workspace  uuid.UUID `json:"workspace"`
	// Type is the connection's integration type.
	Type       string `json:"type"`
	Resource   string `json:"resource,omitempty"`
	ResourceID string `json:"resource_id,omitempty"`
	Event      string `json:"event"`
	// Metadata holds the action ("action") and its parameters.
	Metadata  map[string]any `json:"metadata"`
	Active    bool           `json:"active"`
	Hidden    bool           `json:"hidden"`
	CreatedBy string         `json:"created_by"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// RuleCreate is the body of CreateRule.
type RuleCreate struct {
	Workspace  uuid.UUID `json:"workspace"`
	Connection uuid.UUID `json:"connection"`
	// Event is the event name the rule matches.
	Event string `json:"event"`
	// Metadata must hold "action", one of the integration's actions, and its parameters.
	Metadata   map[string]any `json:"metadata"`
	Resource   string         `json:"resource,omitempty"`
	ResourceID string         `json:"resource_id,omitempty"`
	// Active nil means true.
	Active *bool `json:"active,omitempty"`
	Hidden bool  `json:"hidden,omitempty"`
}

// RuleDeleted is the answer to DeleteRule.
type RuleDeleted struct {
	ID         uuid.UUID `json:"id"`
	Connection uuid.UUID `json:"connection"`
	Type       string    `json:"type"`
	Event      string    `json:"event"`
	Resource   string    `json:"resource,omitempty"`
	ResourceID string    `json:"resource_id,omitempty"`
}

// RuleListOptions pages and filters a list of rules; empty filters match everything.
type RuleListOptions struct {
	ListOptions
	Event      string
	Resource   string
	ResourceID string
}

func (o *RuleListOptions) values() url.Values {
	if o == nil {
		return url.Values{}
	}
	q := o.ListOptions.values()
	setIf(q, "event", o.Event)
	setIf(q, "resource", o.Resource)
	setIf(q, "resource_id", o.ResourceID)
	return q
}

// RuleTest is the body of TestRule: an ad-hoc Payload or an existing EventID.
type RuleTest struct {
	Payload    json.RawMessage `json:"payload,omitempty"`
	EventID    *uuid.UUID      `json:"event_id,omitempty"`
	Resource   string          `json:"resource,omitempty"`
	ResourceID string          `json:"resource_id,omitempty"`
	// DryRun only says what would be sent; otherwise the action is performed once (and no
	// attempt is recorded).
	DryRun bool `json:"dry_run,omitempty"`
}

// RuleTestResult is what a rule test did or would do.
type RuleTestResult struct {
	DryRun          bool      `json:"dry_run"`
	RuleID          uuid.UUID `json:"rule_id"`
	ConnectionID    uuid.UUID `json:"connection_id"`
	IntegrationType string    `json:"integration_type"`
	Action          string    `json:"action"`
	// Params are the rule's parameters with their templates resolved.
	Params map[string]any `json:"params"`
	// Fields are the mapped destination fields (nil for integrations that take the payload as is).
	Fields          map[string]any   `json:"fields"`
	MappingWarnings []MappingWarning `json:"mapping_warnings"`
	// Request is the exact request a dry run would send, credentials masked, for integrations
	// that can preview it; nil otherwise.
	Request *PreviewRequest `json:"request"`
	// Attempt is the outcome of a real (not dry) run; nil for a dry run.
	Attempt *RuleTestAttempt `json:"attempt"`
}

// MappingWarning is a field mapping problem met while mapping a payload.
type MappingWarning struct {
	Dest    string `json:"dest"`
	Reason  string `json:"reason"`
	OnError string `json:"on_error"`
}

// PreviewRequest is a request as an integration would send it.
type PreviewRequest struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Header map[string][]string `json:"headers"`
	// Body is the body: JSON as it is, anything else as a JSON string.
	Body json.RawMessage `json:"body,omitempty"`
}

// RuleTestAttempt is the outcome of a rule test that performed its action.
type RuleTestAttempt struct {
	OutcomeCode     string `json:"outcome_code"`
	HTTPStatus      *int   `json:"http_status"`
	Message         string `json:"message"`
	ResponseExcerpt string `json:"response_excerpt"`
	DurationMS      int64  `json:"duration_ms"`
	// Deactivate names why the connection would be deactivated after this outcome, if it would.
	Deactivate string `json:"deactivate,omitempty"`
}

func rulePath(id uuid.UUID) string { return "/rules/" + id.String() }

// ListRules returns one page of the rules the credentials can see (GET /rules).
func (c *Client) ListRules(ctx context.Context, opts *RuleListOptions) (*Page[Rule], error) {
	var p Page[Rule]
	return &p, c.Do(ctx, http.MethodGet, "/rules", opts.values(), nil, &p)
}

// Rules iterates over every rule that matches opts' filters.
func (c *Client) Rules(ctx context.Context, opts *RuleListOptions) iter.Seq2[Rule, error] {
	o := copyOpts(opts)
	return pages(ctx, o.Cursor, func(ctx context.Context, cursor string) (*Page[Rule], error) {
		o.Cursor = cursor
		return c.ListRules(ctx, &o)
	})
}

// CreateRule creates a rule (POST /rules).
func (c *Client) CreateRule(ctx context.Context, in RuleCreate) (*Rule, error) {
	var out struct {
		Rule *Rule `json:"rule"`
	}
	if err := c.Do(ctx, http.MethodPost, "/rules", nil, in, &out); err != nil {
		return nil, err
	}
	return out.Rule, nil
}

// GetRule returns a rule (GET /rules/{id}).
func (c *Client) GetRule(ctx context.Context, id uuid.UUID) (*Rule, error) {
	var out Rule
	if err := c.Do(ctx, http.MethodGet, rulePath(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteRule deletes a rule (DELETE /rules/{id}).
func (c *Client) DeleteRule(ctx context.Context, id uuid.UUID) (*RuleDeleted, error) {
	var out RuleDeleted
	if err := c.Do(ctx, http.MethodDelete, rulePath(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TestRule sends a test event through a rule, or with DryRun says what it would send
// (POST /rules/{id}/test). The event is never stored. A real run performs the action once, so it
// is not retried after a server error; a dry run is.
func (c *Client) TestRule(ctx context.Context, id uuid.UUID, in RuleTest) (*RuleTestResult, error) {
	var out RuleTestResult
	if _, err := c.do(ctx, http.MethodPost, rulePath(id)+"/test", nil, in, &out, &request{idempotent: in.DryRun}); err != nil {
		return nil, err
	}
	return &out, nil
}

// setIf sets q[key] to v unless v is empty.
func setIf(q url.Values, key, v string) {
	if v != "" {
		q.Set(key, v)
	}
}
