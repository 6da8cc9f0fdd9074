package client_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/client"
	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// server is the real app, serving on 127.0.0.1 against a fresh SQLite file, with the
// credentials its bootstrap created.
type server struct {
	url   string
	app   *app.App
	creds *app.Credentials
}

// startServer runs the app until the test ends; opts adjust its configuration.
func startServer(t *testing.T, opts ...func(*config.Config)) *server {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = storetest.SQLiteURL(t)
	cfg.AllowPrivateDestinations = true
	cfg.EncryptionKey = base64.StdEncoding.EncodeToString(secret.GenerateKey())
	cfg.PollInterval = 20 * time.Millisecond
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var ls app.Listeners
	if ls.API, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ls) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
		a.Close()
	})
	creds, err := a.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &server{url: "http://" + ls.API.Addr().String(), app: a, creds: creds}
}

// machineKey is the bootstrap key's credentials.
func (s *server) machineKey() client.MachineKey {
	return client.MachineKey{AccessKey: s.creds.AccessKey, SecretKey: s.creds.SecretKey, OrgID: s.creds.OrganizationID}
}

// client returns a client of s authenticated with the bootstrap machine key.
func (s *server) client(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(s.url, append([]client.Option{client.WithMachineKey(s.machineKey())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// hook is a webhook endpoint on 127.0.0.1 whose answer status the test sets.
type hook struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	bodies [][]byte
}

func newHook(t *testing.T, status int) *hook {
	t.Helper()
	h := &hook{}
	h.status.Store(int32(status))
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf [1 << 16]byte
		n, _ := r.Body.Read(buf[:])
		h.mu.Lock()
		h.bodies = append(h.bodies, append([]byte(nil), buf[:n]...))
		h.mu.Unlock()
		w.WriteHeader(int(h.status.Load()))
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) url() string { return h.srv.URL + "/hook" }

func (h *hook) requests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

// webhook creates a webhook connection to url in ws and a rule sending event to it.
func webhook(t *testing.T, c *client.Client, ws uuid.UUID, url, event string) (*client.Connection, *client.Rule) {
	t.Helper()
	ctx := context.Background()
	conn, err := c.CreateConnection(ctx, client.ConnectionCreate{Workspace: ws, Type: "webhook", Name: "Hook " + strings.NewReplacer(".", " ", ":", " ").Replace(event),
		Metadata: map[string]any{"url": url, "skip_url_test": true}})
	if err != nil {
		t.Fatal(err)
	}
	rule, err := c.CreateRule(ctx, client.RuleCreate{Workspace: ws, Connection: conn.ID, Event: event,
		Metadata: map[string]any{"action": "send_webhook"}})
	if err != nil {
		t.Fatal(err)
	}
	return conn, rule
}

// apiError returns err as *client.Error, failing the test if it is not one of status.
func apiError(t *testing.T, err error, status int) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *client.Error", err, err)
	}
	if e.StatusCode != status {
		t.Fatalf("status %d, want %d: %v (body %s)", e.StatusCode, status, e, e.Body)
	}
	return e
}
