package mcp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchyardhq/switchyard/client"
	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/mcp"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// server is a real Switchyard (API, /mcp and delivery engine) on 127.0.0.1:0 over a fresh
// SQLite file.
type server struct {
	url           string
	databaseURL   string
	encryptionKey string
	creds         *app.Credentials
	app           *app.App
}

func startServer(t testing.TB) *server {
	t.Helper()
	return startServerOn(t, storetest.Dialect{Name: "sqlite", NewURL: storetest.SQLiteURL})
}

// startServerOn starts the server on a fresh store of dialect d.
func startServerOn(t testing.TB, d storetest.Dialect) *server {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = d.NewURL(t)
	cfg.AllowPrivateDestinations = true
	cfg.EncryptionKey = base64.StdEncoding.EncodeToString(secret.GenerateKey())
	cfg.PollInterval = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, app.Listeners{API: ln}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
		a.Close()
	})
	creds, err := a.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &server{url: "http://" + ln.Addr().String(), databaseURL: cfg.DatabaseURL, encryptionKey: cfg.EncryptionKey,
		creds: creds, app: a}
}

// ownerKey is the bootstrap key, without limits.
func (s *server) ownerKey() client.MachineKey {
	return client.MachineKey{AccessKey: s.creds.AccessKey, SecretKey: s.creds.SecretKey, OrgID: s.creds.OrganizationID}
}

// newKey creates a machine key limited to workspaces and permissions.
func (s *server) newKey(t *testing.T, workspaces []uuid.UUID, perms ...switchyard.Permission) client.MachineKey {
	t.Helper()
	k, secretKey, err := s.app.CreateMachineKey(context.Background(), s.creds.OrganizationID, "limited", workspaces, perms)
	if err != nil {
		t.Fatal(err)
	}
	return client.MachineKey{AccessKey: k.AccessKey, SecretKey: secretKey, OrgID: s.creds.OrganizationID}
}

// minting sends every request with a fresh machine JWT, as an MCP client configured with a
// machine key would.
type minting struct{ key client.MachineKey }

func (m minting) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := auth.Mint(m.key.AccessKey, m.key.SecretKey, m.key.OrgID, time.Now(), auth.DefaultTokenTTL)
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return http.DefaultTransport.RoundTrip(r)
}

// httpSession connects the SDK's client to /mcp with key.
func (s *server) httpSession(t testing.TB, key client.MachineKey) *sdk.ClientSession {
	t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: s.url + "/mcp",
		HTTPClient: &http.Client{Transport: minting{key}, Timeout: 30 * time.Second}, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connecting to /mcp: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// stdioSession runs the server over a pair of pipes, as `switchyard mcp --url` does over stdin
// and stdout, with a client of the server's URL, and connects the SDK's client to it.
func (s *server) stdioSession(t testing.TB, key client.MachineKey) *sdk.ClientSession {
	t.Helper()
	api, err := client.New(s.url, client.WithMachineKey(key))
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(mcp.Config{Client: mcp.StaticClient(api), Version: "test"})
	clientIn, serverOut := io.Pipe()
	serverIn, clientOut := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mcp.ServeStdio(ctx, srv, serverIn, serverOut) }()
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.IOTransport{Reader: clientIn, Writer: clientOut}, nil)
	if err != nil {
		cancel()
		t.Fatalf("connecting over stdio: %v", err)
	}
	t.Cleanup(func() {
		cs.Close()
		clientOut.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeStdio: %v", err)
		}
		serverOut.Close()
	})
	return cs
}

// callTool calls a tool and returns its text and whether it is an error; a protocol error
// fails the test.
func callTool(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError
}

// mustCall calls a tool that must succeed and decodes its JSON into a map.
func mustCall(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) map[string]any {
	t.Helper()
	text, isErr := callTool(t, cs, name, args)
	if isErr {
		t.Fatalf("%s(%v): tool error: %s", name, args, text)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		t.Fatalf("%s: result is not a JSON object: %v\n%s", name, err, text)
	}
	return out
}

// hook is a loopback webhook receiver whose answer can be changed.
type hook struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	bodies []string
}

func newHook(t *testing.T) *hook {
	t.Helper()
	h := &hook{}
	h.status.Store(http.StatusOK)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.mu.Unlock()
		w.WriteHeader(int(h.status.Load()))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) received() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}
