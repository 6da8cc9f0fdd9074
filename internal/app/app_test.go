package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

// server is a running Switchyard with its first-run credentials.
type server struct {
	url string
	// metricsURL is the base URL of the metrics listener.
	metricsURL string
	creds      *app.Credentials
	app        *app.App
}

// startApp runs the real app on 127.0.0.1:0 against a fresh store of the dialect; opts adjust
// the configuration.
func startApp(t *testing.T, d storetest.Dialect, opts ...func(*config.Config)) *server {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = d.NewURL(t)
	cfg.AllowPrivateDestinations = true
	cfg.EncryptionKey = base64.StdEncoding.EncodeToString(secret.GenerateKey())
	cfg.PollInterval = 50 * time.Millisecond
	for _, o := range opts {
		o(&cfg)
	}
	a, url, metricsURL := runApp(t, cfg)
	creds, err := a.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !creds.Created || creds.SecretKey == "" {
		t.Fatalf("bootstrap of an empty store: %+v", creds)
	}
	return &server{url: url, metricsURL: metricsURL, creds: creds, app: a}
}

// runApp builds the app from cfg and serves it on 127.0.0.1:0 until the test ends; it returns the
// app, its base URL and its metrics base URL. Bootstrapping is the caller's business.
func runApp(t *testing.T, cfg config.Config) (*app.App, string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ls := listenLoopback(t)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ls) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
		a.Close()
	})
	return a, "http://" + ls.API.Addr().String(), "http://" + ls.Metrics.Addr().String()
}

// listenLoopback opens the API and metrics listeners on 127.0.0.1:0. Run closes them.
func listenLoopback(t *testing.T) app.Listeners {
	t.Helper()
	var ls app.Listeners
	for _, l := range []*net.Listener{&ls.API, &ls.Metrics} {
		var err error
		if *l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	return ls
}

// call sends a request with a fresh machine JWT (or the given headers) and decodes the reply.
func (s *server) call(t *testing.T, method, path string, body any, headers map[string]string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if headers == nil {
		tok, err := auth.Mint(s.creds.AccessKey, s.creds.SecretKey, s.creds.OrganizationID, time.Now(), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, req, resp.StatusCode, resp.Header, raw) // against docs/openapi.json
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// receiver is a local webhook endpoint that records every request.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	got    chan struct{}
}

func newReceiver(t *testing.T) (*receiver, string) {
	r := &receiver{got: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.mu.Unlock()
		r.got <- struct{}{}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 15*time.Second, what, cond)
}

func TestEmitToDelivery(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := startApp(t, d)
		recv, hookURL := newReceiver(t)

		var ws struct {
			Workspace struct {
				ID uuid.UUID `json:"id"`
			} `json:"workspace"`
		}
		if code := s.call(t, "POST", "/api/v1/workspaces", map[string]any{"name": "Acme prod", "description": "e2e"}, nil, &ws); code != 201 {
			t.Fatalf("create workspace: %d", code)
		}
		var wsFull struct {
			PublishableKey struct {
				PublicKey string `json:"public_key"`
			} `json:"publishable_key"`
		}
		if code := s.call(t, "GET", "/api/v1/workspaces/"+ws.Workspace.ID.String(), nil, nil, &wsFull); code != 200 || wsFull.PublishableKey.PublicKey == "" {
			t.Fatalf("get workspace: %d %+v", code, wsFull)
		}

		var conn struct {
			Connection struct {
				ID       uuid.UUID      `json:"id"`
				Metadata map[string]any `json:"metadata"`
			} `json:"connection"`
		}
		if code := s.call(t, "POST", "/api/v1/connections", map[string]any{
			"workspace": ws.Workspace.ID, "type": "webhook", "name": "Customer hook",
			"metadata": map[string]any{"url": hookURL + "/hook", "skip_url_test": true, "auth_scheme": "bearer", "bearer_token": "s3cret"},
		}, nil, &conn); code != 201 {
			t.Fatalf("create connection: %d", code)
		}
		if conn.Connection.Metadata["bearer_token"] == "s3cret" {
			t.Fatal("the connection's secret was returned")
		}
		var rule struct {
			Rule struct {
				ID uuid.UUID `json:"id"`
			} `json:"rule"`
		}
		if code := s.call(t, "POST", "/api/v1/rules", map[string]any{
			"workspace": ws.Workspace.ID, "connection": conn.Connection.ID, "event": "user.signup",
			"metadata": map[string]any{"action": "send_webhook"},
		}, nil, &rule); code != 201 {
			t.Fatalf("create rule: %d", code)
		}

		var emitted struct {
			Event struct {
				ID        uuid.UUID `json:"id"`
				Workspace uuid.UUID `json:"workspace"`
			} `json:"event"`
		}
		code := s.call(t, "POST", "/api/v1/events", map[string]any{"event": "user.signup", "resource": "user", "resource_id": "usr_1",
			"payload": map[string]any{"email": "ada@example.com"}},
			map[string]string{"X-Meshes-Publishable-Key": wsFull.PublishableKey.PublicKey, "X-Meshes-Client": "Meshes Events Client v1.0.0"}, &emitted)
		if code != 201 || emitted.Event.Workspace != ws.Workspace.ID {
			t.Fatalf("emit: %d %+v", code, emitted)
		}

		type ruleEvent struct {
			Rule         uuid.UUID `json:"rule"`
			Status       string    `json:"status"`
			AttemptCount int       `json:"attempt_count"`
		}
		var ev struct {
			Status         string      `json:"status"`
			TotalRules     int         `json:"total_rules"`
			CompletedCount int         `json:"completed_count"`
			RuleEvents     []ruleEvent `json:"rule_events"`
		}
		eventually(t, "the event to complete", func() bool {
			s.call(t, "GET", "/api/v1/events/"+emitted.Event.ID.String(), nil, nil, &ev)
			return ev.Status == "completed"
		})
		if ev.TotalRules != 1 || ev.CompletedCount != 1 || len(ev.RuleEvents) != 1 || ev.RuleEvents[0].Rule != rule.Rule.ID ||
			ev.RuleEvents[0].Status != "completed" || ev.RuleEvents[0].AttemptCount != 1 {
			t.Fatalf("completed event: %+v", ev)
		}
		if n := recv.count(); n != 1 {
			t.Fatalf("receiver got %d deliveries, want exactly 1", n)
		}
		var env map[string]any
		if err := json.Unmarshal(recv.bodies[0], &env); err != nil {
			t.Fatal(err)
		}
		if env["uuid"] != emitted.Event.ID.String() || env["event"] != "user.signup" || env["resource"] != "user" ||
			env["resource_id"] != "usr_1" || env["payload"].(map[string]any)["email"] != "ada@example.com" {
			t.Fatalf("envelope %v", env)
		}
		for _, k := range []string{"time_created", "time_sent"} {
			if v, ok := env[k].(float64); !ok || v < 1.7e12 {
				t.Fatalf("envelope %s = %v, want epoch milliseconds", k, env[k])
			}
		}
	})
}
