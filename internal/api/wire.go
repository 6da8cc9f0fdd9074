package api

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// The JSON shapes of the Meshes API v1 (docs/meshes-compat.md §5). Times are RFC 3339 in UTC.

type workspaceJSON struct {
	ID             uuid.UUID           `json:"id"`
	Name           string              `json:"name"`
	Description    *string             `json:"description"`
	CreatedAt      time.Time           `json:"created_at"`
	UpdatedAt      time.Time           `json:"updated_at"`
	PublishableKey *publishableKeyJSON `json:"publishable_key,omitempty"`
}

type publishableKeyJSON struct {
	PublicKey string `json:"public_key"`
	Name      string `json:"name"`
}

func workspaceWire(w *switchyard.Workspace, withKey bool) *workspaceJSON {
	out := &workspaceJSON{ID: w.ID, Name: w.Name, Description: w.Description, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if withKey {
		out.PublishableKey = &publishableKeyJSON{PublicKey: w.PublishableKey, Name: w.PublishableKeyName}
	}
	return out
}

type connectionJSON struct {
	ID             uuid.UUID      `json:"id"`
	Workspace      uuid.UUID      `json:"workspace"`
	Type           string         `json:"type"`
	Name           string         `json:"name"`
	Metadata       map[string]any `json:"metadata"`
	Active         bool           `json:"active"`
	InactiveReason string         `json:"inactive_reason,omitempty"`
	Hidden         bool           `json:"hidden"`
	CreatedBy      string         `json:"created_by"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
}

type ruleJSON struct {
	ID         uuid.UUID      `json:"id"`
	Connection uuid.UUID      `json:"connection"`
	Workspace  uuid.UUID      `json:"workspace"`
	Type       string         `json:"type"`
	Resource   string         `json:"resource,omitempty"`
	ResourceID string         `json:"resource_id,omitempty"`
	Event      string         `json:"event"`
	Metadata   map[string]any `json:"metadata"`
	Active     bool           `json:"active"`
	Hidden     bool           `json:"hidden"`
	CreatedBy  string         `json:"created_by"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

func ruleWire(r *switchyard.Rule) *ruleJSON {
	return &ruleJSON{ID: r.ID, Connection: r.ConnectionID, Workspace: r.WorkspaceID, Type: r.Type, Resource: r.Resource,
		ResourceID: r.ResourceID, Event: r.Event, Metadata: r.Metadata, Active: r.Active, Hidden: r.Hidden,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// acceptedEventJSON is the event as POST /events returns it.
type acceptedEventJSON struct {
	ID         uuid.UUID `json:"id"`
	Type       string    `json:"type"`
	Event      string    `json:"event"`
	Resource   string    `json:"resource,omitempty"`
	ResourceID string    `json:"resource_id,omitempty"`
	Workspace  uuid.UUID `json:"workspace"`
	Status     string    `json:"status"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
}

type eventJSON struct {
	ID             uuid.UUID         `json:"id"`
	Type           string            `json:"type"`
	Workspace      uuid.UUID         `json:"workspace"`
	Event          string            `json:"event"`
	Resource       string            `json:"resource,omitempty"`
	ResourceID     string            `json:"resource_id,omitempty"`
	Status         switchyard.Status `json:"status"`
	TotalRules     int               `json:"total_rules"`
	CompletedCount int               `json:"completed_count"`
	FailedCount    int               `json:"failed_count"`
	StartedAt      *time.Time        `json:"started_at"`
	CompletedAt    *time.Time        `json:"completed_at"`
	CreatedBy      string            `json:"created_by"`
	CreatedAt      time.Time         `json:"created_at"`
	RuleEvents     []*ruleEventJSON  `json:"rule_events"`
	Payload        json.RawMessage   `json:"payload,omitempty"`
}

func eventWire(e *switchyard.Event, ds []*switchyard.Delivery) *eventJSON {
	out := &eventJSON{ID: e.ID, Type: "event", Workspace: e.WorkspaceID, Event: e.Name, Resource: e.Resource,
		ResourceID: e.ResourceID, Status: e.Status, TotalRules: e.TotalRules, CompletedCount: e.CompletedCount,
		FailedCount: e.FailedCount, StartedAt: utcPtr(e.StartedAt), CompletedAt: utcPtr(e.CompletedAt), CreatedBy: e.CreatedBy,
		CreatedAt: e.CreatedAt, RuleEvents: make([]*ruleEventJSON, 0, len(ds)), Payload: e.Payload}
	for _, d := range ds {
		out.RuleEvents = append(out.RuleEvents, ruleEventWire(d))
	}
	return out
}

type ruleEventJSON struct {
	ID              uuid.UUID         `json:"id"`
	Type            string            `json:"type"`
	Workspace       uuid.UUID         `json:"workspace"`
	Event           string            `json:"event"`
	EventID         uuid.UUID         `json:"event_id"`
	Resource        string            `json:"resource,omitempty"`
	ResourceID      string            `json:"resource_id,omitempty"`
	Connection      uuid.UUID         `json:"connection"`
	Rule            uuid.UUID         `json:"rule"`
	IntegrationType string            `json:"integration_type"`
	Status          switchyard.Status `json:"status"`
	AttemptCount    int               `json:"attempt_count"`
	StartedAt       *time.Time        `json:"started_at"`
	CompletedAt     *time.Time        `json:"completed_at"`
	LastError       *string           `json:"last_error"`
	CreatedBy       string            `json:"created_by"`
	CreatedAt       time.Time         `json:"created_at"`
}

func ruleEventWire(d *switchyard.Delivery) *ruleEventJSON {
	out := &ruleEventJSON{ID: d.ID, Type: "rule", Workspace: d.WorkspaceID, Event: d.EventName, EventID: d.EventID,
		Resource: d.Resource, ResourceID: d.ResourceID, Connection: d.ConnectionID, Rule: d.RuleID,
		IntegrationType: d.IntegrationType, Status: d.Status, AttemptCount: d.AttemptCount, StartedAt: utcPtr(d.StartedAt),
		CompletedAt: utcPtr(d.CompletedAt), CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt}
	if d.LastError != "" {
		out.LastError = &d.LastError
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// pageJSON is the Meshes pagination envelope. Count is the number of records in this page.
type pageJSON[T any] struct {
	Count      int     `json:"count"`
	Limit      int     `json:"limit"`
	NextCursor *string `json:"next_cursor"`
	Records    []T     `json:"records"`
}

func pageWire[T any](records []T, limit int, next string) *pageJSON[T] {
	p := &pageJSON[T]{Count: len(records), Limit: limit, Records: records}
	if p.Records == nil {
		p.Records = []T{}
	}
	if next != "" {
		p.NextCursor = &next
	}
	return p
}
