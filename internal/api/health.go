package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/delivery"
	"github.com/switchyardhq/switchyard/internal/store"
)

// Operational views (extensions of the Meshes API, for operators and the MCP server's
// switchyard_* tools): a connection's health and a workspace's delivery backlog. The circuit
// and pause state is the cluster's when limits are shared (PostgreSQL), else the answering
// node's (docs/delivery.md); the queue counts come from the store and are the same on every node.

// queueJSON is a connection's unfinished deliveries.
type queueJSON struct {
	// Due are waiting deliveries whose time has come; Scheduled wait for a later time
	// (retries with backoff); Processing are held by a worker right now.
	Due        int `json:"due"`
	Scheduled  int `json:"scheduled"`
	Processing int `json:"processing"`
	// OldestDueAt is the earliest due time among the due ones, and OldestDueAgeSeconds how
	// long it has waited (null when nothing is due).
	OldestDueAt         *time.Time `json:"oldest_due_at"`
	OldestDueAgeSeconds *float64   `json:"oldest_due_age_seconds"`
}

// connectionHealthJSON answers GET /connections/{id}/health.
type connectionHealthJSON struct {
	ConnectionID uuid.UUID `json:"connection_id"`
	Workspace    uuid.UUID `json:"workspace"`
	Type         string    `json:"type"`
	Name         string    `json:"name"`
	Active       bool      `json:"active"`
	// InactiveReason says why Active is false (null when active).
	InactiveReason *string `json:"inactive_reason"`
	// Circuit is closed, open or half-open; OpenUntil is when an open circuit lets a probe through.
	Circuit             string     `json:"circuit"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	OpenUntil           *time.Time `json:"open_until"`
	// PausedUntil is when a connection paused after a 429 may send again.
	PausedUntil *time.Time `json:"paused_until"`
	Queue       queueJSON  `json:"queue"`
	AsOf        time.Time  `json:"as_of"`
}

// connectionBacklogJSON is one connection's line of a workspace backlog.
type connectionBacklogJSON struct {
	ConnectionID uuid.UUID  `json:"connection_id"`
	Type         string     `json:"type"`
	Name         string     `json:"name"`
	Active       bool       `json:"active"`
	Circuit      string     `json:"circuit"`
	PausedUntil  *time.Time `json:"paused_until"`
	queueJSON
}

// backlogJSON answers GET /workspaces/{id}/backlog.
type backlogJSON struct {
	WorkspaceID uuid.UUID `json:"workspace_id"`
	queueJSON
	// Connections lists the connections with unfinished deliveries, the most overdue first.
	Connections []connectionBacklogJSON `json:"connections"`
	AsOf        time.Time               `json:"as_of"`
}

// connectionHealth answers a connection's state: active or deactivated (and why), its circuit
// and 429 pause (the cluster's with shared limits, else this node's), and its queue.
func (s *Server) connectionHealth(w http.ResponseWriter, r *http.Request) error {
	conn, err := s.connection(r)
	if err != nil {
		return err
	}
	now := s.Now()
	queues, err := s.Store.DeliveryQueueByConnection(r.Context(), store.DeliveryQueueByConnectionParams{
		OrganizationID: conn.OrganizationID, Now: now})
	if err != nil {
		return err
	}
	out := &connectionHealthJSON{ConnectionID: conn.ID, Workspace: conn.WorkspaceID, Type: conn.Type, Name: conn.Name,
		Active: conn.Active, Circuit: "closed", AsOf: now.UTC()}
	if !conn.Active && conn.InactiveReason != "" {
		reason := string(conn.InactiveReason)
		out.InactiveReason = &reason
	}
	health, err := s.healthOf(r.Context(), now)
	if err != nil {
		return err
	}
	if h, ok := health[conn.ID]; ok {
		out.Circuit, out.ConsecutiveFailures = h.Circuit, h.Failures
		out.OpenUntil, out.PausedUntil = timeOrNil(h.OpenUntil), timeOrNil(h.PausedUntil)
	}
	for _, q := range queues {
		if q.ConnectionID == conn.ID {
			out.Queue = queueWire(q, now)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// workspaceBacklog answers a workspace's unfinished deliveries: totals, and per connection.
func (s *Server) workspaceBacklog(w http.ResponseWriter, r *http.Request) error {
	wsID, err := s.workspaceScope(r)
	if err != nil {
		return err
	}
	orgID := principalFrom(r.Context()).OrganizationID
	now := s.Now()
	queues, err := s.Store.DeliveryQueueByConnection(r.Context(), store.DeliveryQueueByConnectionParams{OrganizationID: orgID, Now: now})
	if err != nil {
		return err
	}
	health, err := s.healthOf(r.Context(), now)
	if err != nil {
		return err
	}
	out := &backlogJSON{WorkspaceID: wsID, Connections: []connectionBacklogJSON{}, AsOf: now.UTC()}
	var oldest *time.Time
	for _, q := range queues {
		if q.WorkspaceID != wsID {
			continue
		}
		line := connectionBacklogJSON{ConnectionID: q.ConnectionID, Name: "(deleted connection)", Circuit: "closed",
			queueJSON: queueWire(q, now)}
		c, err := s.Store.ConnectionGet(r.Context(), store.ConnectionGetParams{OrganizationID: orgID, ID: q.ConnectionID})
		switch {
		case err == nil:
			line.Type, line.Name, line.Active = c.Type, c.Name, c.Active
		case !isNotFound(err):
			return err
		}
		if h, ok := health[q.ConnectionID]; ok {
			line.Circuit, line.PausedUntil = h.Circuit, timeOrNil(h.PausedUntil)
		}
		out.Due += q.Due
		out.Scheduled += q.Scheduled
		out.Processing += q.Processing
		if q.OldestDue != nil && (oldest == nil || q.OldestDue.Before(*oldest)) {
			oldest = q.OldestDue
		}
		out.Connections = append(out.Connections, line)
	}
	if oldest != nil {
		out.queueJSON = queueWire(store.ConnectionQueue{Due: out.Due, Scheduled: out.Scheduled, Processing: out.Processing,
			OldestDue: oldest}, now)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// healthOf indexes the circuits and pauses that are not simply healthy by connection.
func (s *Server) healthOf(ctx context.Context, now time.Time) (map[uuid.UUID]delivery.ConnectionHealth, error) {
	out := map[uuid.UUID]delivery.ConnectionHealth{}
	if s.Health == nil {
		return out, nil
	}
	hs, err := s.Health(ctx, now)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		out[h.ConnectionID] = h
	}
	return out, nil
}

func queueWire(q store.ConnectionQueue, now time.Time) queueJSON {
	out := queueJSON{Due: q.Due, Scheduled: q.Scheduled, Processing: q.Processing}
	if q.OldestDue != nil {
		t := q.OldestDue.UTC()
		age := max(0, now.Sub(t).Seconds())
		out.OldestDueAt, out.OldestDueAgeSeconds = &t, &age
	}
	return out
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
