package app_test

import (
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	s := startApp(t, storetest.Dialects(t)[0])
	_, hookURL := newReceiver(t)
	var conn struct {
		Connection struct{ ID string } `json:"connection"`
	}
	s.call(t, "POST", "/api/v1/connections", map[string]any{"workspace": s.creds.WorkspaceID, "type": "webhook", "name": "m",
		"metadata": map[string]any{"url": hookURL, "skip_url_test": true}}, nil, &conn)
	s.call(t, "POST", "/api/v1/rules", map[string]any{"workspace": s.creds.WorkspaceID, "connection": conn.Connection.ID,
		"event": "m.e", "metadata": map[string]any{"action": "send_webhook"}}, nil, nil)
	if code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": "m.e", "payload": map[string]any{"a": 1}},
		map[string]string{"X-Meshes-Publishable-Key": s.creds.PublishableKey}, nil); code != 201 {
		t.Fatalf("emit: %d", code)
	}
	eventually(t, "the delivery to be counted", func() bool {
		return strings.Contains(s.scrape(t), `switchyard_delivery_attempts_total{outcome="delivered"} 1`)
	})
	body := s.scrape(t)
	for _, want := range []string{
		"switchyard_events_accepted_total 1",
		"switchyard_delivery_attempt_duration_seconds_count 1",
		"switchyard_event_delivered_latency_seconds_count 1",
		"switchyard_delivery_queue_due",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// scrape is the metrics listener's /metrics page.
func (s *server) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(s.metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d (%v)", resp.StatusCode, err)
	}
	return string(b)
}

// On PostgreSQL the cluster heartbeat measures the node's clock against the database's and
// exports it: one machine here, so about zero.
func TestClockOffsetMetric(t *testing.T) {
	t.Parallel()
	pg := storetest.Dialect{Name: "postgres", NewURL: storetest.PostgresURL} // skips without TEST_DATABASE_URL
	s := startApp(t, pg, func(c *config.Config) { c.ClusterInterval = 100 * time.Millisecond })
	eventually(t, "the clock offset to be measured", func() bool {
		for _, line := range strings.Split(s.scrape(t), "\n") {
			if v, ok := strings.CutPrefix(line, "switchyard_node_clock_offset_seconds "); ok {
				f, err := strconv.ParseFloat(v, 64)
				return err == nil && f != 0 && math.Abs(f) < 1 // 0: not measured yet; one machine, so well under a second
			}
		}
		return false
	})
}
