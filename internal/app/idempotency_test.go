package app_test

import (
	"testing"

	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

func TestIdempotentEmit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		recv, hookURL := newReceiver(t)
		var conn struct {
			Connection struct{ ID string } `json:"connection"`
		}
		s.call(t, "POST", "/api/v1/connections", map[string]any{"workspace": s.creds.WorkspaceID, "type": "webhook", "name": "i",
			"metadata": map[string]any{"url": hookURL, "skip_url_test": true}}, nil, &conn)
		s.call(t, "POST", "/api/v1/rules", map[string]any{"workspace": s.creds.WorkspaceID, "connection": conn.Connection.ID,
			"event": "order.paid", "metadata": map[string]any{"action": "send_webhook"}}, nil, nil)
		type accepted struct {
			Event struct{ ID string } `json:"event"`
		}

		t.Run("a repeated Idempotency-Key returns the first event and delivers once", func(t *testing.T) {
			h := map[string]string{"X-Meshes-Publishable-Key": s.creds.PublishableKey, "Idempotency-Key": "pay-42"}
			var first, second accepted
			if code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": "order.paid", "payload": map[string]any{"n": 1}}, h, &first); code != 201 {
				t.Fatalf("first: %d", code)
			}
			resp := s.raw(t, "POST", "/api/v1/events", `{"event":"order.paid","payload":{"n":1}}`, h)
			if resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("repeat: %d, Idempotent-Replayed %q", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"))
			}
			if code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": "order.paid", "payload": map[string]any{"n": 1}}, h, &second); code != 201 || second.Event.ID != first.Event.ID {
				t.Fatalf("repeat returned %q, want the first event %q", second.Event.ID, first.Event.ID)
			}
			var ev struct{ Status string }
			eventually(t, "the event to complete", func() bool {
				s.call(t, "GET", "/api/v1/events/"+first.Event.ID, nil, nil, &ev)
				return ev.Status == "completed"
			})
			if n := recv.count(); n != 1 {
				t.Fatalf("receiver got %d deliveries, want 1", n)
			}
		})

		t.Run("a retried bulk request with an Idempotency-Key stores each item once", func(t *testing.T) {
			h := map[string]string{"X-Meshes-Publishable-Key": s.creds.PublishableKey, "Idempotency-Key": "batch-7"}
			items := []map[string]any{
				{"event": "order.shipped", "payload": map[string]any{"n": 1}},
				{"event": "order.shipped", "payload": map[string]any{"n": 2}},
				{"event": "order.shipped", "payload": map[string]any{"n": 3}, "idempotency_key": "own-key"},
			}
			type bulk struct {
				Count   int `json:"count"`
				Records []struct {
					ID string `json:"id"`
				} `json:"records"`
			}
			var a, b bulk
			if code := s.call(t, "POST", "/api/v1/events/bulk", items, h, &a); code != 201 || a.Count != 3 {
				t.Fatalf("first bulk: %d %+v", code, a)
			}
			if code := s.call(t, "POST", "/api/v1/events/bulk", items, h, &b); code != 201 || b.Count != 3 {
				t.Fatalf("retried bulk: %d %+v", code, b)
			}
			for i := range a.Records {
				if a.Records[i].ID == "" || a.Records[i].ID != b.Records[i].ID {
					t.Fatalf("item %d: first %q, retry %q; want the same event", i, a.Records[i].ID, b.Records[i].ID)
				}
			}
		})

		t.Run("an unusable key is refused", func(t *testing.T) {
			var e apiError
			h := map[string]string{"X-Meshes-Publishable-Key": s.creds.PublishableKey}
			long := make([]byte, 300)
			for i := range long {
				long[i] = 'k'
			}
			h["Idempotency-Key"] = string(long)
			if code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": "x", "payload": map[string]any{"n": 1}}, h, &e); code != 400 || e.params()[0] != "idempotency_key" {
				t.Fatalf("300-character key: %d %+v", code, e)
			}
		})
	})
}
