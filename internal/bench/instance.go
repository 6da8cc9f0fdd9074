package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/config"
)

// instance is one in-process Switchyard on a fresh store, with a workspace made through the
// API for the load to emit into.
type instance struct {
	r       *runner
	app     *app.App
	base    string
	creds   *app.Credentials
	cancel  context.CancelFunc
	done    chan error
	cleanup func()
	// storeURL is the instance's store.
	storeURL string
	// workspace and pubKey are the bench workspace and its publishable key.
	workspace string
	pubKey    string
}

// startInstance starts Switchyard as `switchyard serve --allow-private-destinations` would, on
// 127.0.0.1:0 and a new store, and creates the bench workspace. configure, when not nil, changes
// the configuration last (the SaaS scenario points the HubSpot app at the fake).
func (r *runner) startInstance(ctx context.Context, label string, configure func(*config.Config)) (*instance, error) {
	storeURL, cleanup, err := r.backend.newStore(ctx, label)
	if err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = storeURL
	cfg.AllowPrivateDestinations = true
	cfg.EncryptionKey = r.key
	cfg.Workers = r.opts.Workers
	cfg.ConnectionConcurrency = r.opts.ConnectionConcurrency
	cfg.SharedLimits = !r.opts.PerNodeLimits
	// The bench measures capacity, not the per-key rate limiter (1,000 requests/s by default):
	// every load comes from one key.
	cfg.RateLimitMachine, cfg.RateLimitPublishable = 0, 0
	// Shutdown is not measured: do not wait 20 s for attempts a scenario left hanging.
	cfg.ShutdownGrace = 2 * time.Second
	if configure != nil {
		configure(&cfg)
	}
	a, err := app.New(ctx, cfg, r.logger)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("starting switchyard: %w", err)
	}
	creds, err := a.Bootstrap(ctx)
	if err != nil {
		a.Close()
		cleanup()
		return nil, fmt.Errorf("bootstrapping switchyard: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Close()
		cleanup()
		return nil, fmt.Errorf("listening: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	in := &instance{r: r, app: a, base: "http://" + ln.Addr().String(), creds: creds, cancel: cancel,
		done: make(chan error, 1), cleanup: cleanup, storeURL: storeURL}
	go side("switchyard", func() { in.done <- a.Run(runCtx, app.Listeners{API: ln}) })

	var ws struct {
		Workspace struct {
			ID string `json:"id"`
		} `json:"workspace"`
	}
	if err := in.api(ctx, http.MethodPost, "/api/v1/workspaces", map[string]any{"name": "Bench", "description": "switchyard bench"},
		&ws); err != nil {
		return nil, errors.Join(fmt.Errorf("creating the bench workspace: %w", err), in.close())
	}
	var full struct {
		PublishableKey struct {
			PublicKey string `json:"public_key"`
		} `json:"publishable_key"`
	}
	if err := in.api(ctx, http.MethodGet, "/api/v1/workspaces/"+ws.Workspace.ID, nil, &full); err != nil {
		return nil, errors.Join(fmt.Errorf("reading the bench workspace: %w", err), in.close())
	}
	in.workspace, in.pubKey = ws.Workspace.ID, full.PublishableKey.PublicKey
	return in, nil
}

// close stops the server (gracefully), closes its store and removes it.
func (in *instance) close() error {
	in.cancel()
	err := <-in.done
	err = errors.Join(err, in.app.Close())
	in.cleanup()
	if err != nil {
		return fmt.Errorf("stopping switchyard: %w", err)
	}
	return nil
}

// api calls the management API with a fresh machine JWT and decodes a 2xx answer into out.
func (in *instance) api(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, in.base+path, rd)
	if err != nil {
		return fmt.Errorf("building %s %s: %w", method, path, err)
	}
	tok, err := auth.Mint(in.creds.AccessKey, in.creds.SecretKey, in.creds.OrganizationID, time.Now(), time.Minute)
	if err != nil {
		return fmt.Errorf("minting a token: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := in.r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, &httpError{status: resp.StatusCode, body: string(raw)})
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return nil
}

// testSigningSecret signs the bench's webhooks (Standard Webhooks), as a real connection would.
const testSigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// connection creates a signed webhook connection to url (timeoutSeconds 0: the default) and
// returns its id.
func (in *instance) connection(ctx context.Context, name, url string, timeoutSeconds int) (string, error) {
	meta := map[string]any{"url": url, "signing_scheme": "standard_webhooks", "signing_secret": testSigningSecret,
		"skip_url_test": true}
	if timeoutSeconds > 0 {
		meta["timeout_seconds"] = timeoutSeconds
	}
	var c struct {
		Connection struct {
			ID string `json:"id"`
		} `json:"connection"`
	}
	if err := in.api(ctx, http.MethodPost, "/api/v1/connections", map[string]any{"workspace": in.workspace, "type": "webhook",
		"name": name, "metadata": meta}, &c); err != nil {
		return "", fmt.Errorf("creating connection %s: %w", name, err)
	}
	return c.Connection.ID, nil
}

// rule routes event to a connection.
func (in *instance) rule(ctx context.Context, connectionID, event string) error {
	if err := in.api(ctx, http.MethodPost, "/api/v1/rules", map[string]any{"workspace": in.workspace, "connection": connectionID,
		"event": event, "metadata": map[string]any{"action": "send_webhook"}}, nil); err != nil {
		return fmt.Errorf("creating a rule for %s: %w", event, err)
	}
	return nil
}

// routes creates n endpoints answering in mode, one connection to each and one rule per
// connection for events(i) (named prefix and the index).
func (in *instance) routes(ctx context.Context, recv *receiver, n int, mode endpointMode, timeoutSeconds int,
	prefix string, events func(i int) string) error {
	for i := range n {
		url, err := recv.endpoint(mode)
		if err != nil {
			return err
		}
		id, err := in.connection(ctx, fmt.Sprintf("%s %d", prefix, i), url, timeoutSeconds)
		if err != nil {
			return err
		}
		if err := in.rule(ctx, id, events(i)); err != nil {
			return err
		}
	}
	return nil
}

// eventsURL is the single-event ingest endpoint.
func (in *instance) eventsURL() string { return in.base + "/api/v1/events" }

// bulkURL is the bulk ingest endpoint.
func (in *instance) bulkURL() string { return in.base + "/api/v1/events/bulk" }

// post sends one ingest request with the publishable key (none for an empty key) and reads
// the answer: 201 means events accepted. With wantID the answer's event id is returned for
// tracking.
func (r *runner) post(ctx context.Context, url, pubKey string, body []byte, buf *bytes.Buffer, events int64, wantID bool) outcome {
	o := outcome{start: r.clock.now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		o.err = err
		return o
	}
	req.Header.Set("Content-Type", "application/json")
	if pubKey != "" {
		req.Header.Set("X-Meshes-Publishable-Key", pubKey)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		o.end, o.err = r.clock.now(), err
		return o
	}
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, 4<<20))
	resp.Body.Close()
	o.end = r.clock.now()
	switch {
	case err != nil:
		o.err = fmt.Errorf("reading the answer: %w", err)
	case resp.StatusCode != http.StatusCreated:
		b := buf.Bytes()
		if len(b) > 200 {
			b = b[:200]
		}
		o.err = &httpError{status: resp.StatusCode, body: string(bytes.TrimSpace(b))}
	default:
		o.events = events
		if wantID {
			o.id = answerID(buf.Bytes())
		}
	}
	return o
}

// answerID finds the event id in an ingest answer ({"event":{"id":"…",…}}).
func answerID(b []byte) uuid.UUID {
	const key = `"id":"`
	i := bytes.Index(b, []byte(key))
	if i < 0 || len(b) < i+len(key)+36 {
		return uuid.Nil
	}
	id, err := uuid.ParseBytes(b[i+len(key) : i+len(key)+36])
	if err != nil {
		return uuid.Nil
	}
	return id
}

// eventBodies returns n single-event bodies for the event name(s), each with its own resource
// id and a ~200-byte payload. Bodies are built before the load so the client spends its CPU
// on sending, not on building.
func eventBodies(name string, n int) [][]byte {
	return eventBodiesFor(func(int) string { return name }, n)
}

// eventBodiesFor is eventBodies with the event name of body i given by name(i).
func eventBodiesFor(name func(i int) string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b := []byte(`{"event":`)
		b = strconv.AppendQuote(b, name(i))
		b = fmt.Appendf(b, `,"resource":"user","resource_id":"usr_%d","payload":`, i)
		b = append(b, eventPayload(i)...)
		out[i] = append(b, '}')
	}
	return out
}

// bulkBodies returns n bulk bodies of size events each (a bare JSON array).
func bulkBodies(name string, n, size int) [][]byte {
	singles := eventBodies(name, n*size)
	out := make([][]byte, n)
	for i := range out {
		b := []byte{'['}
		for j, s := range singles[i*size : (i+1)*size] {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, s...)
		}
		out[i] = append(b, ']')
	}
	return out
}

// ruleWith routes event to a connection with the given rule metadata.
func (in *instance) ruleWith(ctx context.Context, connectionID, event string, metadata map[string]any) error {
	if err := in.api(ctx, http.MethodPost, "/api/v1/rules", map[string]any{"workspace": in.workspace, "connection": connectionID,
		"event": event, "metadata": metadata}, nil); err != nil {
		return fmt.Errorf("creating a rule for %s: %w", event, err)
	}
	return nil
}

// oauthConnect makes a connection of an OAuth integration through the public API's flow, as a
// customer's browser would: POST /api/v1/connections/oauth/start, the provider's authorization
// URL (the fake consents at once and redirects to the callback with code and state), then
// GET /api/v1/oauth/callback, which exchanges the code and creates the connection. It returns
// the connection's id.
func (in *instance) oauthConnect(ctx context.Context, typ, name string) (string, error) {
	var started struct {
		AuthorizationURL string `json:"authorization_url"`
		State            string `json:"state"`
	}
	if err := in.api(ctx, http.MethodPost, "/api/v1/connections/oauth/start", map[string]any{"workspace": in.workspace,
		"type": typ, "name": name, "redirect_url": "http://127.0.0.1/bench/connected"}, &started); err != nil {
		return "", fmt.Errorf("starting the OAuth flow: %w", err)
	}
	browser := *in.r.client
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	redirect := func(target string) (*url.URL, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, err
		}
		resp, err := browser.Do(req)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			return nil, &httpError{status: resp.StatusCode, body: string(bytes.TrimSpace(b))}
		}
		return url.Parse(resp.Header.Get("Location"))
	}
	back, err := redirect(started.AuthorizationURL)
	if err != nil {
		return "", fmt.Errorf("consenting at the provider: %w", err)
	}
	if back.Query().Get("state") != started.State || back.Query().Get("code") == "" {
		return "", fmt.Errorf("the provider redirected to %s, without the flow's code and state", back.Redacted())
	}
	done, err := redirect(in.base + "/api/v1/oauth/callback?" + back.RawQuery)
	if err != nil {
		return "", fmt.Errorf("completing the OAuth flow: %w", err)
	}
	id := done.Query().Get("connection_id")
	if id == "" || done.Query().Get("status") != "connected" {
		return "", fmt.Errorf("the OAuth callback sent the customer to %s, not a connected connection", done.Redacted())
	}
	return id, nil
}

// analyze has PostgreSQL gather statistics on the store's busiest tables, as autovacuum does
// within its first minute of any real deployment (autovacuum_naptime). A scenario's fresh tables
// are otherwise never analyzed while it runs, and the store's prepared statements keep the
// generic plans PostgreSQL chose while the tables were nearly empty — sequential scans of events
// and deliveries in each outcome batch, whose cost grows with every row the scenario adds
// (docs/benchmarks.md). SQLite needs nothing.
func (in *instance) analyze(ctx context.Context) error {
	if in.r.backend.name() != "postgres" {
		return nil
	}
	db, _, err := in.r.backend.openRaw(in.storeURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `ANALYZE events, deliveries, attempts`); err != nil {
		return fmt.Errorf("analyzing the store's tables: %w", err)
	}
	return nil
}
