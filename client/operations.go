package client

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// DeliveryQueue is a connection's (or a workspace's) unfinished deliveries.
type DeliveryQueue struct {
	// Due are waiting deliveries whose time has come.
	Due int `json:"due"`
	// Scheduled wait for a later time (retries with backoff).
	Scheduled int `json:"scheduled"`
	// Processing are held by a worker right now.
	Processing int `json:"processing"`
	// OldestDueAt is the earliest due time among the due ones (nil when none is due), and
	// OldestDueAgeSeconds how long it has waited.
	OldestDueAt         *time.Time `json:"oldest_due_at"`
	OldestDueAgeSeconds *float64   `json:"oldest_due_age_seconds"`
}

// ConnectionHealth is a connection's state as GetConnectionHealth reports it. Circuit and pause
// are the answering server's view (each node keeps its own); the queue is the store's.
type ConnectionHealth struct {
	ConnectionID uuid.UUID `json:"connection_id"`
	Workspace    uuid.UUID `json:"workspace"`
	Type         string    `json:"type"`
	Name         string    `json:"name"`
	Active       bool      `json:"active"`
	// InactiveReason says why an inactive connection was deactivated; nil when active.
	InactiveReason *string `json:"inactive_reason"`
	// Circuit is "closed", "open" or "half-open"; OpenUntil is when an open circuit lets a
	// probe through.
	Circuit             string     `json:"circuit"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	OpenUntil           *time.Time `json:"open_until"`
	// PausedUntil is when a connection paused after a 429 may send again.
	PausedUntil *time.Time    `json:"paused_until"`
	Queue       DeliveryQueue `json:"queue"`
	AsOf        time.Time     `json:"as_of"`
}

// BacklogConnection is one connection's line of a Backlog.
type BacklogConnection struct {
	ConnectionID uuid.UUID `json:"connection_id"`
	// Type and Name are empty and "(deleted connection)" for a deleted connection.
	Type        string     `json:"type"`
	Name        string     `json:"name"`
	Active      bool       `json:"active"`
	Circuit     string     `json:"circuit"`
	PausedUntil *time.Time `json:"paused_until"`
	DeliveryQueue
}

// Backlog is a workspace's unfinished deliveries, in total and per connection (the most
// overdue first).
type Backlog struct {
	WorkspaceID uuid.UUID `json:"workspace_id"`
	DeliveryQueue
	Connections []BacklogConnection `json:"connections"`
	AsOf        time.Time           `json:"as_of"`
}

// GetConnectionHealth returns a connection's health: active or why not, circuit breaker, 429
// pause and queue (GET /connections/{id}/health, an extension of the Meshes API).
func (c *Client) GetConnectionHealth(ctx context.Context, id uuid.UUID) (*ConnectionHealth, error) {
	var out ConnectionHealth
	if err := c.Do(ctx, http.MethodGet, connectionPath(id)+"/health", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWorkspaceBacklog returns a workspace's delivery backlog (GET /workspaces/{id}/backlog, an
// extension of the Meshes API).
func (c *Client) GetWorkspaceBacklog(ctx context.Context, id uuid.UUID) (*Backlog, error) {
	var out Backlog
	if err := c.Do(ctx, http.MethodGet, "/workspaces/"+id.String()+"/backlog", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
