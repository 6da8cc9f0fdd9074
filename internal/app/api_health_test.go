package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

type queueJSON struct {
	Due                 int        `json:"due"`
	Scheduled           int        `json:"scheduled"`
	Processing          int        `json:"processing"`
	OldestDueAt         *time.Time `json:"oldest_due_at"`
	OldestDueAgeSeconds *float64   `json:"oldest_due_age_seconds"`
}

type healthJSON struct {
	ConnectionID   uuid.UUID  `json:"connection_id"`
	Active         bool       `json:"active"`
	InactiveReason *string    `json:"inactive_reason"`
	Circuit        string     `json:"circuit"`
	OpenUntil      *time.Time `json:"open_until"`
	PausedUntil    *time.Time `json:"paused_until"`
	Queue          queueJSON  `json:"queue"`
}

type backlogJSON struct {
	WorkspaceID uuid.UUID `json:"workspace_id"`
	queueJSON
	Connections []struct {
		ConnectionID uuid.UUID `json:"connection_id"`
		Name         string    `json:"name"`
		Circuit      string    `json:"circuit"`
		queueJSON
	} `json:"connections"`
}

// TestConnectionHealthAndBacklog: GET /connections/{id}/health and /workspaces/{id}/backlog show
// a delivery waiting to retry, answer in the documented shape (call checks every answer against
// docs/openapi.json), need only read, and keep tenants and workspace limits apart.
func TestConnectionHealthAndBacklog(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		ws := s.creds.WorkspaceID
		h := newHook(t, http.StatusServiceUnavailable)
		conn := s.createConnection(t, ws, h.url(), nil)
		s.createRule(t, ws, conn, "signup", nil)

		var empty backlogJSON
		if code := s.call(t, "GET", "/api/v1/workspaces/"+ws.String()+"/backlog", nil, nil, &empty); code != 200 ||
			len(empty.Connections) != 0 || empty.Due+empty.Scheduled+empty.Processing != 0 || empty.OldestDueAt != nil {
			t.Fatalf("backlog of an idle workspace: %d %+v", code, empty)
		}

		ev := s.emit(t, ws, "signup", nil)
		testutil.Eventually(t, 15*time.Second, "the delivery waiting to retry", func() bool {
			e := s.event(t, ev)
			return len(e.RuleEvents) == 1 && e.RuleEvents[0].Status == "retrying"
		})
		var health healthJSON
		if code := s.call(t, "GET", "/api/v1/connections/"+conn.String()+"/health", nil, nil, &health); code != 200 {
			t.Fatalf("health: %d", code)
		}
		if health.ConnectionID != conn || !health.Active || health.InactiveReason != nil || health.Circuit != "closed" ||
			health.Queue.Scheduled != 1 || health.Queue.Due != 0 || health.Queue.OldestDueAt != nil {
			t.Errorf("health of a connection with one delivery waiting to retry: %+v", health)
		}
		var backlog backlogJSON
		if code := s.call(t, "GET", "/api/v1/workspaces/"+ws.String()+"/backlog", nil, nil, &backlog); code != 200 {
			t.Fatalf("backlog: %d", code)
		}
		if backlog.WorkspaceID != ws || backlog.Scheduled != 1 || len(backlog.Connections) != 1 ||
			backlog.Connections[0].ConnectionID != conn || backlog.Connections[0].Name != "Hook" || backlog.Connections[0].Scheduled != 1 {
			t.Errorf("backlog: %+v", backlog)
		}

		reader, _ := s.createKey(t, "reader", nil, "read")
		if code := reader.call(t, "GET", "/api/v1/connections/"+conn.String()+"/health", nil, nil, nil); code != 200 {
			t.Errorf("health with a read-only key: %d, want 200", code)
		}
		other := s.otherTenant(t)
		if code := other.call(t, "GET", "/api/v1/connections/"+conn.String()+"/health", nil, nil, nil); code != 404 {
			t.Errorf("health of another organization's connection: %d, want 404", code)
		}
		if code := other.call(t, "GET", "/api/v1/workspaces/"+ws.String()+"/backlog", nil, nil, nil); code != 404 {
			t.Errorf("backlog of another organization's workspace: %d, want 404", code)
		}
		elsewhere := s.createWorkspace(t, "Elsewhere")
		limited, _ := s.createKey(t, "limited", []uuid.UUID{elsewhere})
		if code := limited.call(t, "GET", "/api/v1/connections/"+conn.String()+"/health", nil, nil, nil); code != 404 {
			t.Errorf("health of a connection outside the key's workspaces: %d, want 404", code)
		}
		if code := limited.call(t, "GET", "/api/v1/workspaces/"+ws.String()+"/backlog", nil, nil, nil); code != 403 {
			t.Errorf("backlog of a workspace outside the key's workspaces: %d, want 403", code)
		}
		if code := s.call(t, "GET", "/api/v1/connections/not-a-uuid/health", nil, nil, nil); code != 400 {
			t.Errorf("health of a malformed id: %d, want 400", code)
		}
	})
}
