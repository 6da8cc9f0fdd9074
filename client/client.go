// Package client is a typed Go client of Switchyard's REST API (/api/v1), which is
// wire-compatible with the Meshes API v1.
//
// A Client authenticates in one of three ways: with a machine key (WithMachineKey), from which
// it mints the short-lived HS256 JWTs the server expects and renews them before they expire;
// with a publishable key (WithPublishableKey), which only emits events; or with a token used
// as-is (WithBearerToken). Every method takes a context, answers that are not 2xx come back as
// *Error carrying the API's error body and X-Request-Id, list endpoints have iterators that walk
// every page, and requests are retried on 429, 5xx and network errors, honouring Retry-After,
// whenever a retry cannot act twice (see WithRetries).
//
// Example:
//
//	c, err := client.New("http://127.0.0.1:8080", client.WithMachineKey(client.MachineKey{
//		AccessKey: os.Getenv("SWITCHYARD_ACCESS_KEY"),
//		SecretKey: os.Getenv("SWITCHYARD_SECRET_KEY"),
//		OrgID:     orgID,
//	}))
//	if err != nil {
//		return err
//	}
//	ws, err := c.CreateWorkspace(ctx, client.WorkspaceCreate{Name: "Production"})
//	if err != nil {
//		return err
//	}
//	for w, err := range c.Workspaces(ctx, nil) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(w.ID, w.Name)
//	}
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// APIPrefix is the path every API route lives under.
const APIPrefix = "/api/v1"

// DefaultRetries is how many times a request is retried when WithRetries is not given.
const DefaultRetries = 3

// DefaultUserAgent is the User-Agent sent when WithUserAgent is not given.
const DefaultUserAgent = "switchyard-go-client"

// maxResponseBytes bounds how much of an answer is read: the API's largest answers (event
// payloads, pages of 100 events) are well below it.
const maxResponseBytes = 64 << 20

// Client is a client of one Switchyard server. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	hc         *http.Client
	userAgent  string
	retries    int
	publishKey string
	bearer     string
	machine    *tokenSource

	// now is the clock (token minting); sleep waits between retries. Both are replaced by tests.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	// maxRetryWait caps a server's Retry-After: a longer wait is not made, the 429 is returned.
	maxRetryWait time.Duration

	optErr error
}

// Option configures a Client.
type Option func(*Client)

// New returns a client of the server at baseURL, the server's root (for example
// http://127.0.0.1:8080): paths are sent under /api/v1. It fails on a URL that is not absolute
// http(s) and on an invalid option (a machine key with a field missing, say).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("client: parsing base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q must be an absolute http or https URL", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q must not have a query or fragment", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{
		base:         u,
		hc:           &http.Client{Timeout: 60 * time.Second},
		userAgent:    DefaultUserAgent,
		retries:      DefaultRetries,
		now:          time.Now,
		sleep:        sleepCtx,
		maxRetryWait: 2 * time.Minute,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(c)
		}
	}
	if c.optErr != nil {
		return nil, c.optErr
	}
	if c.machine != nil {
		c.machine.now = func() time.Time { return c.now() }
	}
	return c, nil
}

// WithHTTPClient makes the client send its requests with hc, for example one whose Transport is
// HandlerTransport(handler) to talk to an in-process server. The default is an http.Client with
// a 60-second timeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc == nil {
			c.setErr(errors.New("client: WithHTTPClient: nil *http.Client"))
			return
		}
		c.hc = hc
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithRetries sets how many times a failed request is retried (default 3; 0 disables retries,
// a negative n is an error). A request is retried on a network error, a 429 or a 5xx answer,
// after the server's Retry-After when it gives one (up to two minutes; a longer one is returned
// as the error) or else after an exponential backoff with jitter (0.5 s, 1 s, 2 s, … up to 30 s).
//
// A request that is not idempotent (POST) is only retried when the server cannot have acted on
// it: when the connection could not be made, or on a 429 (the API's rate limits refuse a
// request before any handler runs). A POST that carries an Idempotency-Key header (EmitEvent
// with EmitOptions.IdempotencyKey) is retried like an idempotent request, since the server
// answers a repeated key with the event it already accepted. GET, PUT and DELETE are always
// retried: sending them twice has the effect of sending them once.
func WithRetries(n int) Option {
	return func(c *Client) {
		if n < 0 {
			c.setErr(fmt.Errorf("client: WithRetries: %d is negative", n))
			return
		}
		c.retries = n
	}
}

// WithPublishableKey authenticates with a workspace's publishable key (sent as
// X-Meshes-Publishable-Key), which the API only accepts for emitting events. A client may also
// have a machine key or bearer token: then EmitEvent and EmitEvents use the publishable key
// alone (the server would prefer it anyway) and every other request the JWT.
func WithPublishableKey(key string) Option {
	return func(c *Client) {
		if key == "" {
			c.setErr(errors.New("client: WithPublishableKey: empty key"))
			return
		}
		c.publishKey = key
	}
}

// WithBearerToken authenticates every request with token (a machine JWT or an embed session
// token) sent as-is in Authorization: Bearer. The client neither checks nor renews it. It
// replaces WithMachineKey if both are given; the last one wins.
func WithBearerToken(token string) Option {
	return func(c *Client) {
		if token == "" {
			c.setErr(errors.New("client: WithBearerToken: empty token"))
			return
		}
		c.bearer, c.machine = token, nil
	}
}

func (c *Client) setErr(err error) {
	if c.optErr == nil {
		c.optErr = err
	}
}

// Do sends one request to /api/v1+path (path starts with "/"; its segments must already be
// escaped) and decodes a 2xx answer's JSON body into out. query may be nil; body is nil or any
// value encoding/json can marshal (a json.RawMessage or []byte is sent as it is); out is nil (the
// body is discarded), a pointer to a value to decode into, or *json.RawMessage. An answer that is
// not 2xx returns *Error. Do is what every typed method uses, and the way to reach a route this
// package has no method for.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	_, err := c.do(ctx, method, path, query, body, out, nil)
	return err
}

// request holds what a few methods add to a request.
type request struct {
	// header is sent with the request.
	header http.Header
	// idempotent says that the request may be sent twice even though its method is POST
	// (every bulk item carries its own idempotency key).
	idempotent bool
	// root sends the path as it is, not under /api/v1 (/healthz, /readyz).
	root bool
}

// do is Do with the extras of rq (nil: none), returning the answer's headers.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any, rq *request) (http.Header, error) {
	if rq == nil {
		rq = &request{}
	}
	header := rq.header
	if ctx == nil {
		return nil, errors.New("client: nil context")
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("client: path %q must start with /", path)
	}
	var payload []byte
	switch b := body.(type) {
	case nil:
	case json.RawMessage:
		payload = b
	case []byte:
		payload = b
	default:
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("client: encoding %s %s request body: %w", method, path, err)
		}
	}
	u := *c.base
	u.Path = c.base.Path + APIPrefix + path
	if rq.root {
		u.Path = c.base.Path + path
	}
	if p, err := url.PathUnescape(u.Path); err == nil && p != u.Path {
		u.RawPath = u.Path
		u.Path = p
	}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	target := u.String()

	idempotent := method == http.MethodGet || method == http.MethodHead || method == http.MethodPut ||
		method == http.MethodDelete || method == http.MethodOptions || header.Get("Idempotency-Key") != "" ||
		rq.idempotent

	// The two routes that take a publishable key.
	ingest := method == http.MethodPost && !rq.root && (path == "/events" || path == "/events/bulk")

	for attempt := 0; ; attempt++ {
		resp, err := c.send(ctx, method, target, payload, header, ingest)
		if err != nil {
			if ctx.Err() != nil || attempt >= c.retries || !(idempotent || notSent(err)) {
				return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
			}
			if err := c.sleep(ctx, backoff(attempt)); err != nil {
				return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
			}
			continue
		}
		data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
		resp.Body.Close()
		if readErr == nil && len(data) > maxResponseBytes {
			readErr = fmt.Errorf("answer larger than %d bytes", maxResponseBytes)
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if readErr != nil {
				return resp.Header, fmt.Errorf("client: %s %s: reading answer: %w", method, path, readErr)
			}
			if out != nil && len(bytes.TrimSpace(data)) > 0 {
				if raw, ok := out.(*json.RawMessage); ok {
					*raw = append((*raw)[:0], data...)
				} else if err := json.Unmarshal(data, out); err != nil {
					return resp.Header, fmt.Errorf("client: %s %s: decoding answer: %w", method, path, err)
				}
			}
			return resp.Header, nil
		}
		apiErr := newError(method, path, resp, data)
		// 501 says the server will never do it: no point in asking again.
		retryable := resp.StatusCode == http.StatusTooManyRequests ||
			(resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented && idempotent)
		if !retryable || attempt >= c.retries {
			return resp.Header, apiErr
		}
		wait := backoff(attempt)
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), c.now()); ok {
			if ra > c.maxRetryWait {
				return resp.Header, apiErr
			}
			wait = ra
		}
		if err := c.sleep(ctx, wait); err != nil {
			return resp.Header, apiErr
		}
	}
}

// send makes one HTTP exchange.
func (c *Client) send(ctx context.Context, method, target string, payload []byte, header http.Header, ingest bool) (*http.Response, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if err := c.authorize(req, ingest); err != nil {
		return nil, err
	}
	return c.hc.Do(req)
}

// authorize sets the request's credentials: the publishable key on an ingestion route when the
// client has one, else the JWT.
func (c *Client) authorize(req *http.Request, ingest bool) error {
	if c.publishKey != "" && ingest {
		req.Header.Set("X-Meshes-Publishable-Key", c.publishKey)
		return nil
	}
	switch {
	case c.bearer != "":
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	case c.machine != nil:
		token, err := c.machine.token()
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return nil
}

// notSent reports whether err shows that the request never reached the server (the connection
// could not be made), so that even a POST may be sent again.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// backoff is the wait before retry number attempt+1 when the server names none: 0.5 s doubled
// each time, at most 30 s, with ±25 % jitter so that many clients do not retry in step.
func backoff(attempt int) time.Duration {
	d := 500 * time.Millisecond << min(attempt, 6)
	d = min(d, 30*time.Second)
	jitter := time.Duration(rand.Int64N(int64(d) / 2))
	return d - d/4 + jitter
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// escape escapes one path segment.
func escape(s string) string { return url.PathEscape(s) }
