package app_test

// Node roles and the cluster (issue 13): an api node accepts events and delivers nothing; a
// worker node delivers and serves no API; the maintenance runs on one node at a time; the API
// rate limits are shared out among the live API nodes.

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

func TestRolesNeedPostgres(t *testing.T) {
	t.Parallel()
	for _, role := range []string{config.RoleAPI, config.RoleWorker} {
		cfg := config.Default()
		cfg.DatabaseURL = storetest.SQLiteURL(t)
		cfg.Role = role
		_, err := app.New(context.Background(), cfg, nil)
		if err == nil || !strings.Contains(err.Error(), "needs PostgreSQL") {
			t.Errorf("role %s on SQLite: %v, want an error saying it needs PostgreSQL", role, err)
		}
	}
	cfg := config.Default()
	cfg.DatabaseURL, cfg.Role = storetest.SQLiteURL(t), "both"
	if _, err := app.New(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "role must be all, api or worker") {
		t.Errorf("role both: %v, want an error naming the roles", err)
	}
}

// clusterNode runs the app with role on the store at dbURL, sharing key; the first node
// bootstraps the store and returns the credentials, the others return the first's ids.
func clusterNode(t *testing.T, dbURL, key, role string, opts ...func(*config.Config)) *server {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL, cfg.EncryptionKey, cfg.Role = dbURL, key, role
	cfg.AllowPrivateDestinations = true
	cfg.PollInterval = 50 * time.Millisecond
	cfg.ClusterInterval = 100 * time.Millisecond
	for _, o := range opts {
		o(&cfg)
	}
	a, url, metricsURL := runApp(t, cfg)
	creds, err := a.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &server{url: url, metricsURL: metricsURL, creds: creds, app: a}
}

// get returns the status and body of a GET without credentials.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPIAndWorkerNodes(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t) // skips without TEST_DATABASE_URL
	key := base64.StdEncoding.EncodeToString(secret.GenerateKey())
	api := clusterNode(t, dbURL, key, config.RoleAPI)
	hook := newHook(t, http.StatusOK)
	ws := api.createWorkspace(t, "Roles")
	conn := api.createConnection(t, ws, hook.url(), nil)
	api.createRule(t, ws, conn, "role.test", nil)
	id := api.emit(t, ws, "role.test", nil)

	t.Run("an api node accepts events and delivers none", func(t *testing.T) {
		// Twenty poll intervals: an engine on this node would have claimed the delivery by then.
		if testutil.Poll(time.Second, func() bool { return hook.requests() > 0 }) {
			t.Fatal("the api node delivered")
		}
		if ev := api.event(t, id); ev.Status != "pending" {
			t.Errorf("event status on the api node alone: %q, want pending", ev.Status)
		}
		if api.app.Leading() {
			t.Error("an api node leads the maintenance")
		}
	})

	// The worker polls only every 30 s: what it delivers sooner, it was woken for.
	worker := clusterNode(t, dbURL, key, config.RoleWorker, func(c *config.Config) { c.PollInterval = 30 * time.Second })

	t.Run("a worker node on the same database delivers what the api node accepted", func(t *testing.T) {
		testutil.Eventually(t, 15*time.Second, "the worker to deliver", func() bool { return hook.requests() == 1 })
		testutil.Eventually(t, 15*time.Second, "the event to complete", func() bool { return api.event(t, id).Status == "completed" })
	})

	t.Run("an event the api node accepts wakes the worker at once", func(t *testing.T) {
		second := api.emit(t, ws, "role.test", nil)
		testutil.Eventually(t, 10*time.Second, "the worker to deliver the second event", func() bool { return hook.requests() == 2 })
		testutil.Eventually(t, 10*time.Second, "the second event to complete", func() bool { return api.event(t, second).Status == "completed" })
	})

	t.Run("a worker node answers the health checks and serves no API", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, body := get(t, worker.url+path); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
				t.Errorf("GET %s on the worker: %d %s", path, code, body)
			}
		}
		for _, path := range []string{"/api/v1/workspaces", "/api/v1/openapi.json", "/embed/", "/dashboard/"} {
			if code, body := get(t, worker.url+path); code != http.StatusNotFound || !strings.Contains(body, "--role worker") {
				t.Errorf("GET %s on the worker: %d %s, want 404 naming the role", path, code, body)
			}
		}
		asWorker := &server{url: worker.url, creds: api.creds}
		if code, _ := asWorker.callRaw(t, "POST", "/api/v1/events", `{"event":"x","payload":{}}`); code != http.StatusNotFound {
			t.Errorf("POST /api/v1/events on the worker: %d, want 404", code)
		}
		if code, _ := get(t, worker.metricsURL+"/metrics"); code != http.StatusOK {
			t.Errorf("GET /metrics on the worker: %d", code)
		}
	})

	t.Run("the worker leads the maintenance", func(t *testing.T) {
		testutil.Eventually(t, 10*time.Second, "the worker to lead", worker.app.Leading)
	})

	t.Run("an api node reports the circuit the worker opened", func(t *testing.T) {
		// Five failures in a row (the default threshold) open the circuit for the cluster; the
		// api node, whose engine never runs, reads it from the store when asked.
		failing := newHook(t, http.StatusInternalServerError)
		broken := api.createConnection(t, ws, failing.url(), nil)
		api.createRule(t, ws, broken, "role.fail", nil)
		for range 5 {
			api.emit(t, ws, "role.fail", nil)
		}
		testutil.Eventually(t, 15*time.Second, "the api node to report the circuit open", func() bool {
			code, body := api.callRaw(t, "GET", "/api/v1/connections/"+broken.String()+"/health", "")
			return code == http.StatusOK && strings.Contains(body, `"circuit":"open"`)
		})
		if code, body := api.callRaw(t, "GET", "/api/v1/connections/"+conn.String()+"/health", ""); code != http.StatusOK ||
			!strings.Contains(body, `"circuit":"closed"`) {
			t.Errorf("the healthy connection's health on the api node: %d %s", code, body)
		}
	})
}

func TestMaintenanceRunsOnOneNode(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	key := base64.StdEncoding.EncodeToString(secret.GenerateKey())
	var nodes []*server
	stops := make([]context.CancelFunc, 3)
	for i := range 3 {
		n, stop := clusterNodeStoppable(t, dbURL, key, config.RoleAll)
		nodes, stops[i] = append(nodes, n), stop
	}
	leaders := func() (n, which int) {
		for i, s := range nodes {
			if stops[i] != nil && s.app.Leading() {
				n, which = n+1, i
			}
		}
		return n, which
	}
	testutil.Eventually(t, 10*time.Second, "one of three nodes to lead", func() bool { n, _ := leaders(); return n == 1 })
	// Twenty election intervals: the followers try the lock every 100 ms and must keep failing.
	if testutil.Poll(2*time.Second, func() bool { n, _ := leaders(); return n != 1 }) {
		n, _ := leaders()
		t.Fatalf("%d nodes lead at once", n)
	}
	_, first := leaders()
	stops[first]()
	stops[first] = nil
	testutil.Eventually(t, 10*time.Second, "another node to take the lead", func() bool {
		n, which := leaders()
		return n == 1 && which != first
	})
}

// clusterNodeStoppable is clusterNode with a function that stops the node before the test ends
// (as a SIGTERM would: Run returns, the lock's connection closes with the store).
func clusterNodeStoppable(t *testing.T, dbURL, key, role string, opts ...func(*config.Config)) (*server, context.CancelFunc) {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL, cfg.EncryptionKey, cfg.Role = dbURL, key, role
	cfg.PollInterval = 50 * time.Millisecond
	cfg.ClusterInterval = 100 * time.Millisecond
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ls := listenLoopback(t)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ls) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
		a.Close()
	}
	t.Cleanup(stop)
	return &server{url: "http://" + ls.API.Addr().String(), app: a}, stop
}

func TestRateLimitsSharedAmongAPINodes(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	key := base64.StdEncoding.EncodeToString(secret.GenerateKey())
	limit := func(c *config.Config) { c.RateLimitPublishable = 50 } // burst 100 for the cluster
	first := clusterNode(t, dbURL, key, config.RoleAPI, limit)
	pub := first.creds.PublishableKey
	limitOn := func(s *server) string {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/events", strings.NewReader(`{"event":"limit.test","payload":{"i":1}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Meshes-Publishable-Key", pub)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("RateLimit-Limit")
	}
	if got := limitOn(first); got != "100" {
		t.Fatalf("one API node: RateLimit-Limit %q, want 100", got)
	}
	second, stopSecond := clusterNodeStoppable(t, dbURL, key, config.RoleAPI, limit)
	clusterNodeStoppable(t, dbURL, key, config.RoleWorker) // workers take no share
	testutil.Eventually(t, 10*time.Second, "both API nodes to enforce half the limit", func() bool {
		a, b := limitOn(first), limitOn(second)
		return a == "50" && b == "50"
	})
	stopSecond()
	testutil.Eventually(t, 10*time.Second, "the remaining API node to enforce the whole limit again", func() bool {
		return limitOn(first) == "100"
	})
}
