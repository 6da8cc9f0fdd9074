// Package mcp is Switchyard's MCP (Model Context Protocol) server, built on the official Go SDK:
// the 33 tools of Meshes' MCP server with their names, input schemas and result shapes, our own
// operator tools (switchyard_*), and read-only resources for workspaces, connections and events
// (docs/mcp.md).
//
// Every tool and resource calls the REST API through the typed Go client (package client), so
// authentication, scopes, tenancy and validation are exactly the API's: a tool can do nothing
// its credentials could not do with curl. The server runs over stdio (`switchyard mcp`, with a
// client of a remote server or of an in-process API on a local store) and over streamable HTTP
// at /mcp on `switchyard serve` (NewHTTPHandler), where each request's own machine JWT is
// forwarded to the API handler in-process.
package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchyardhq/switchyard/client"
)

// ServerName is the name the server gives in its initialize answer.
const ServerName = "switchyard"

// ClientFunc returns the API client a tool call or resource read uses. extra is the request's
// transport information (its HTTP headers over streamable HTTP; nil or empty over stdio).
type ClientFunc func(ctx context.Context, extra *sdk.RequestExtra) (*client.Client, error)

// StaticClient is a ClientFunc that always gives c (stdio: one client for the process).
func StaticClient(c *client.Client) ClientFunc {
	return func(context.Context, *sdk.RequestExtra) (*client.Client, error) { return c, nil }
}

// Config configures a server.
type Config struct {
	// Client gives the API client of each call.
	Client ClientFunc
	// Version is the server version reported to clients.
	Version string
	// Logger receives the SDK's diagnostics; nil discards them. Over stdio it must not write to
	// stdout, which is the protocol.
	Logger *slog.Logger
}

// instructions tell a model how the tools fit together.
const instructions = `Switchyard routes product events to integrations (webhooks, CRMs, messaging). ` +
	`A workspace holds connections (a configured destination), rules (event name → connection + action) and events. ` +
	`Emitting an event creates one delivery per matching rule; the delivery engine sends them and retries failures. ` +
	`Typical flow: meshes_list_workspaces → meshes_create_connection → meshes_create_rule → meshes_emit_event → ` +
	`meshes_get_event (status and rule_events) → switchyard_list_delivery_attempts to see why a delivery failed → ` +
	`meshes_retry_event_rule to send it again. switchyard_get_connection_health and switchyard_get_backlog show ` +
	`circuit breakers, pauses and queues. Results are the REST API's JSON; errors start with "Meshes API <status>:".`

// NewServer returns an MCP server with every tool and resource.
func NewServer(cfg Config) *sdk.Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	s := sdk.NewServer(&sdk.Implementation{Name: ServerName, Title: "Switchyard", Version: cfg.Version},
		&sdk.ServerOptions{Instructions: instructions, Logger: cfg.Logger})
	t := &tools{cfg: cfg, srv: s}
	t.addMeshes()
	t.addSwitchyard()
	t.addResources()
	return s
}

// tools registers tools and resources on srv.
type tools struct {
	cfg Config
	srv *sdk.Server
}

// apiCall is what a tool does with its client and decoded arguments: one or more API calls,
// returning the JSON to show.
type apiCall[In any] func(ctx context.Context, c *client.Client, in In) (json.RawMessage, error)

// add registers a tool whose arguments decode into In; schema is its input schema.
func add[In any](t *tools, name, description string, schema any, ann *sdk.ToolAnnotations, fn apiCall[In]) {
	tool := &sdk.Tool{Name: name, Description: description, InputSchema: schema, Annotations: ann}
	sdk.AddTool(t.srv, tool, func(ctx context.Context, req *sdk.CallToolRequest, in In) (*sdk.CallToolResult, any, error) {
		c, err := t.cfg.Client(ctx, req.Extra)
		if err != nil {
			return errorResult(err), nil, nil
		}
		out, err := fn(ctx, c, in)
		if err != nil {
			return errorResult(err), nil, nil
		}
		return textResult(out), nil, nil
	})
}

// Annotations: hints to the client about what a tool does.
var (
	readOnly    = &sdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: boolp(false)}
	creates     = &sdk.ToolAnnotations{DestructiveHint: boolp(false), OpenWorldHint: boolp(false)}
	updates     = &sdk.ToolAnnotations{DestructiveHint: boolp(true), IdempotentHint: true, OpenWorldHint: boolp(false)}
	deletes     = &sdk.ToolAnnotations{DestructiveHint: boolp(true), IdempotentHint: true, OpenWorldHint: boolp(false)}
	sends       = &sdk.ToolAnnotations{DestructiveHint: boolp(false), OpenWorldHint: boolp(true)}
	readsRemote = &sdk.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: boolp(true)}
)

func boolp(b bool) *bool { return &b }

// textResult is a successful result: the API's JSON, indented by two spaces as Meshes' server
// does (an empty answer is shown as null, like JSON.stringify of an empty body).
func textResult(data json.RawMessage) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: pretty(data)}}}
}

func pretty(data json.RawMessage) string {
	if len(bytes.TrimSpace(data)) == 0 {
		return "null"
	}
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(data), "", "  "); err != nil {
		return string(data)
	}
	return b.String()
}

// argError is an argument the schema cannot check (a malformed UUID, say).
type argError struct{ msg string }

func (e *argError) Error() string { return e.msg }

func badArg(format string, args ...any) error { return &argError{msg: fmt.Sprintf(format, args...)} }

// errorResult is a failed call as a result the model can read: isError with
// "Meshes API <status>: <detail>" for the API's answers (the prefix Meshes' server uses).
func errorResult(err error) *sdk.CallToolResult {
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: errorText(err)}}}
}

func errorText(err error) string {
	var apiErr *client.Error
	var bad *argError
	switch {
	case errors.As(err, &apiErr):
		var b strings.Builder
		fmt.Fprintf(&b, "Meshes API %d: %s", apiErr.StatusCode, apiErr.Message)
		for _, f := range apiErr.Fields {
			fmt.Fprintf(&b, "\n- %s: %s", f.Param, f.Msg)
		}
		if apiErr.RequestID != "" {
			fmt.Fprintf(&b, "\n(request id %s)", apiErr.RequestID)
		}
		return b.String()
	case errors.As(err, &bad):
		return "Invalid arguments: " + bad.msg
	default:
		return "Meshes API request failed: " + err.Error()
	}
}

// uuidArg checks that a path argument is a UUID, so that nothing but a UUID reaches a path.
func uuidArg(name, v string) (string, error) {
	u, err := uuid.Parse(v)
	if err != nil || len(v) != 36 {
		return "", badArg("%s must be a UUID (e.g. 0190c5a2-7f3e-7b1a-9c4d-2e6f8a1b3c5d), got %q", name, v)
	}
	return u.String(), nil
}

// textArg checks a free-form path argument (a session id) and escapes it as one segment.
func textArg(name, v string) (string, error) {
	if v == "" {
		return "", badArg("%s must not be empty", name)
	}
	return url.PathEscape(v), nil
}

// call makes one API request and returns its JSON answer.
func call(ctx context.Context, c *client.Client, method, path string, q url.Values, body any) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.Do(ctx, method, path, q, body, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func get(ctx context.Context, c *client.Client, path string, q url.Values) (json.RawMessage, error) {
	return call(ctx, c, http.MethodGet, path, q, nil)
}

// query builds a query string from name/value pairs, leaving out empty values (Meshes' server
// omits undefined parameters).
func query(pairs ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	return q
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// HTTPConfig configures the streamable-HTTP endpoint.
type HTTPConfig struct {
	// API is the REST API's handler; tools call it in-process with the request's own token.
	API http.Handler
	// Authenticate wraps the endpoint: it must refuse a request without a valid machine JWT
	// (the API's own check, api.Server.RequireMachineJWT).
	Authenticate func(http.Handler) http.Handler
	Version      string
	Logger       *slog.Logger
}

// NewHTTPHandler returns the /mcp endpoint: MCP over streamable HTTP, stateless (every POST
// stands alone, so any node of a cluster can answer it and no session outlives its token),
// answering JSON. Each request must carry Authorization: Bearer <machine JWT>; the tools run
// with a client that forwards that same token to the API, so the key's permissions and
// workspace limits apply to every call.
func NewHTTPHandler(cfg HTTPConfig) http.Handler {
	transport := &http.Client{Transport: client.HandlerTransport(cfg.API)}
	srv := NewServer(Config{Version: cfg.Version, Logger: cfg.Logger,
		Client: func(_ context.Context, extra *sdk.RequestExtra) (*client.Client, error) {
			token := ""
			if extra != nil && extra.Header != nil {
				token, _ = strings.CutPrefix(extra.Header.Get("Authorization"), "Bearer ")
			}
			if token == "" {
				return nil, errors.New("no bearer token on the request")
			}
			// No retries: the caller is a model waiting on this answer, and the API is in-process.
			return client.New("http://switchyard.internal", client.WithHTTPClient(transport),
				client.WithBearerToken(strings.TrimSpace(token)), client.WithRetries(0), client.WithUserAgent("switchyard-mcp"))
		}})
	// The SDK's DNS-rebinding protection refuses loopback requests whose Host is not loopback,
	// which would refuse every request behind a reverse proxy on the same machine. It guards
	// unauthenticated local servers; this endpoint needs a bearer token that a browser never
	// sends on its own, so it is not needed here.
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv },
		&sdk.StreamableHTTPOptions{Stateless: true, JSONResponse: true, Logger: cfg.Logger, DisableLocalhostProtection: true})
	if cfg.Authenticate == nil {
		panic("mcp: HTTPConfig.Authenticate is required")
	}
	return cfg.Authenticate(h)
}

// ServeStdio runs srv over in and out (newline-delimited JSON-RPC) until in ends or ctx is
// canceled. When in ends, the answers to the requests already read are written before it
// returns (for at most drainTimeout), so that `printf '…' | switchyard mcp` gets them.
func ServeStdio(ctx context.Context, srv *sdk.Server, in io.Reader, out io.Writer) error {
	track := &inflight{}
	r := &drainingReader{ctx: ctx, r: in, track: track}
	w := &answerWriter{w: out, track: track}
	err := srv.Run(ctx, &sdk.IOTransport{Reader: io.NopCloser(r), Writer: w})
	if err == nil || errors.Is(err, io.EOF) || ctx.Err() != nil {
		return nil
	}
	return err
}

// drainTimeout bounds how long the end of input waits for answers in progress.
const drainTimeout = 2 * time.Minute

// inflight counts the requests read and not yet answered.
type inflight struct {
	mu      sync.Mutex
	pending int
	idle    chan struct{} // closed when pending drops to zero
}

func (f *inflight) add(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending == 0 && n > 0 {
		f.idle = make(chan struct{})
	}
	f.pending = max(0, f.pending+n)
	if f.pending == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

// wait returns when nothing is pending, ctx ends or the timeout passes.
func (f *inflight) wait(ctx context.Context) {
	f.mu.Lock()
	idle := f.idle
	f.mu.Unlock()
	if idle == nil {
		return
	}
	t := time.NewTimer(drainTimeout)
	defer t.Stop()
	select {
	case <-idle:
	case <-ctx.Done():
	case <-t.C:
	}
}

// lines splits a byte stream into lines and reports what each message is.
type lines struct{ partial []byte }

// feed returns, for the complete lines in p, how many are requests (an id and a method) and
// how many are answers (an id, no method).
func (l *lines) feed(p []byte) (requests, answers int) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return requests, answers
		}
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal(l.partial[:i], &msg) == nil && len(msg.ID) > 0 && string(msg.ID) != "null" {
			if msg.Method != "" {
				requests++
			} else {
				answers++
			}
		}
		l.partial = l.partial[i+1:]
	}
}

// drainingReader counts the requests read, and holds back the end of input until they are
// answered.
type drainingReader struct {
	ctx   context.Context
	r     io.Reader
	track *inflight
	lines lines
}

func (d *drainingReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if n > 0 {
		requests, _ := d.lines.feed(p[:n])
		d.track.add(requests)
	}
	if errors.Is(err, io.EOF) {
		if n > 0 {
			return n, nil // the next Read reports the end, after the wait
		}
		d.track.wait(d.ctx)
	}
	return n, err
}

// answerWriter counts the answers written. Writes are serialised here too, so that two
// messages never interleave on out.
type answerWriter struct {
	mu    sync.Mutex
	w     io.Writer
	track *inflight
	lines lines
}

func (a *answerWriter) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, err := a.w.Write(p)
	_, answers := a.lines.feed(p[:n])
	a.track.add(-answers)
	return n, err
}

func (a *answerWriter) Close() error { return nil }
