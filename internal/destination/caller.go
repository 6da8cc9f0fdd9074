package destination

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// DefaultMaxBody bounds an answer a Caller reads whole when its MaxBody is 0.
const DefaultMaxBody = 8 << 20

// Caller makes the token-authenticated JSON API calls of one attempt (or of one ActionData,
// FieldCatalog, Test or Identify call) and remembers the last answer for the attempt's
// Result. Each call is sent with DoAuthorized (one refresh on a 401), under Timeout, and its
// answer read whole, bounded by MaxBody. A refusal is classified with Classify and Rules. Every
// access and refresh token handed out during the calls, and Secrets, are kept out of the
// results it returns (Message and Response).
//
// Create one per attempt with a composite literal; it is not safe for concurrent use.
type Caller struct {
	Client *http.Client
	// Tokens is the connection's credential; the Caller wraps it to remember every token it
	// hands out.
	Tokens Tokens
	// Rules classify a refusal (a Call may bring its own).
	Rules *ProviderRules
	// Refine, when set, adjusts the result of a refusal after Classify (Scope set) and before
	// redaction: what the provider documents that ProviderRules cannot say (a wait read from
	// the body, a hint in the message).
	Refine func(res *Result, a *Answer)
	// Scope is the RateLimitScope of a rate_limited result.
	Scope string
	// Secrets never appear in a result (the app's client secret, a pasted credential).
	Secrets []string
	// Timeout bounds each call (0: only ctx does). A timeout's message names it, or the
	// caller's deadline when that is shorter.
	Timeout time.Duration
	// UserAgent is sent with every request.
	UserAgent string
	// Header is sent with every request (after Accept, User-Agent and Content-Type, which it
	// may replace), e.g. an API version header.
	Header http.Header
	// MaxBody bounds an answer read whole (0: DefaultMaxBody). A longer 2xx answer is a
	// rejected_server_error.
	MaxBody int64

	recorded []string      // tokens handed out
	token    *oauth2.Token // the last token handed out
	last     string        // the excerpt of the last answer
	status   int           // the status of the last answer
}

// Call is one request of a Caller.
type Call struct {
	Method string
	URL    string
	// URLFor, when set, replaces URL: the target for the token about to be sent (a provider
	// whose token names the instance to call, which a refresh may change).
	URLFor func(tok *oauth2.Token) (string, error)
	// Body is JSON-encoded when not nil; a json.RawMessage is sent as it is.
	Body any
	// Header is added to this request (replacing the Caller's of the same name).
	Header http.Header
	// Rules, when set, replace the Caller's for this call (per-call outcome overrides).
	Rules *ProviderRules
}

// Answer is the provider's answer to a Call: its status, headers and body (bounded).
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Send makes one call. It returns the answer whenever one arrived, and a result for
// anything but a 2xx answer read whole: the provider's refusal classified (RateLimitScope set
// on rate_limited, Refine applied), a 2xx answer whose body could not be read, a transport
// failure, a token problem, or a request that could not be built. The result's Response is
// the answer's excerpt, and it holds no secret. A refusal's answer comes back too (the caller
// may read a 409's existing id).
func (c *Caller) Send(ctx context.Context, call Call) (*Answer, *Result) {
	rules := call.Rules
	if rules == nil {
		rules = c.Rules
	}
	var payload []byte
	switch b := call.Body.(type) {
	case nil:
	case json.RawMessage:
		payload = b
	default:
		var err error
		if payload, err = json.Marshal(b); err != nil {
			return nil, c.fail(Result{Outcome: switchyard.OutcomeInvalidRequest,
				Message: "cannot encode the request to " + providerName(rules) + ": " + err.Error()})
		}
	}

	// timeout is what a timeout's message names: ours, or the caller's when that is shorter.
	timeout := c.Timeout
	if dl, ok := ctx.Deadline(); ok && (timeout <= 0 || time.Until(dl) < timeout) {
		timeout = max(time.Until(dl).Round(10*time.Millisecond), 0)
	}
	callCtx, cancel := ctx, context.CancelFunc(func() {})
	if c.Timeout > 0 {
		callCtx, cancel = context.WithTimeout(ctx, c.Timeout)
	}
	defer cancel()

	var dest *url.URL
	newReq := func(ctx context.Context) (*http.Request, error) {
		target := call.URL
		if call.URLFor != nil {
			var err error
			if target, err = call.URLFor(c.token); err != nil {
				return nil, err
			}
		}
		var body io.Reader
		if payload != nil {
			body = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, call.Method, target, body)
		if err != nil {
			return nil, err
		}
		dest = req.URL
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", c.UserAgent)
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for _, h := range []http.Header{c.Header, call.Header} {
			for k, vs := range h {
				req.Header.Del(k)
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
		}
		return req, nil
	}
	resp, err := DoAuthorized(callCtx, c.Client, recordingTokens{c}, newReq)
	if err != nil {
		if dest == nil {
			if dest, _ = url.Parse(call.URL); dest == nil {
				dest = &url.URL{}
			}
		}
		res := ResultOf(ctx, err, timeout, dest)
		if res.Response != "" {
			c.last = res.Response
		}
		return nil, c.fail(res)
	}
	maxBody := c.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	b, readErr := ReadBody(resp, maxBody)
	a := &Answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
	c.last, c.status = Excerpt(resp, b), resp.StatusCode
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if readErr == nil {
			return a, nil
		}
		res := ClassifyTransportError(ctx, readErr, timeout, dest)
		if errors.Is(readErr, ErrBodyTooLarge) {
			res = Result{Outcome: switchyard.OutcomeRejectedServerError, Message: providerName(rules) + "'s answer is larger than documented"}
		}
		res.HTTPStatus, res.Response = resp.StatusCode, c.last
		return a, c.fail(res)
	}
	res := Classify(resp.StatusCode, resp.Header, b, rules, time.Now())
	res.Response = c.last
	if res.Outcome == switchyard.OutcomeRateLimited {
		res.RateLimitScope = c.Scope
	}
	if c.Refine != nil {
		c.Refine(&res, a)
	}
	c.Redact(&res)
	return a, &res
}

// JSON is Send, then the decoding of a 2xx answer's body into out (when not nil): an answer
// that is not JSON of out's shape is Unexpected.
func (c *Caller) JSON(ctx context.Context, call Call, out any) (*Answer, *Result) {
	a, res := c.Send(ctx, call)
	if res != nil || out == nil {
		return a, res
	}
	if err := json.Unmarshal(a.Body, out); err != nil {
		return a, c.Unexpected(a.Status, "its answer is not the JSON it documents")
	}
	return a, nil
}

// fail is the result of a call that did not succeed, RateLimitScope set and redacted.
func (c *Caller) fail(res Result) *Result {
	if res.Outcome == switchyard.OutcomeRateLimited {
		res.RateLimitScope = c.Scope
	}
	c.Redact(&res)
	return &res
}

// Unexpected is the result of a 2xx answer that is not what the provider documents:
// rejected_server_error, "<Name> answered HTTP 200 OK but <what>", with the last excerpt.
func (c *Caller) Unexpected(status int, what string) *Result {
	res := Result{Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: status,
		Message: providerName(c.Rules) + " answered " + StatusMessage(status) + " but " + what, Response: c.last}
	c.Redact(&res)
	return &res
}

// Delivered is the result of the last answer as a success: delivered, its status, "<Name>
// answered HTTP 201 Created" and its excerpt, redacted.
func (c *Caller) Delivered() Result {
	res := Result{Outcome: switchyard.OutcomeDelivered, HTTPStatus: c.status,
		Message: providerName(c.Rules) + " answered " + StatusMessage(c.status), Response: c.last}
	c.Redact(&res)
	return res
}

// Last is the excerpt of the last answer received (status line, a few headers, the start of
// the body), redacted; "" before any.
func (c *Caller) Last() string { return c.redact(c.last) }

// Status is the status of the last answer received, 0 before any.
func (c *Caller) Status() int { return c.status }

// Redact removes every secret (Secrets and the tokens handed out) from a result's texts.
func (c *Caller) Redact(res *Result) {
	res.Message = CleanText(c.redact(res.Message)) // (a Refine may have added the provider's words)
	res.Response = c.redact(res.Response)
}

func (c *Caller) redact(s string) string { return Redact(Redact(s, c.Secrets), c.recorded) }

func providerName(rules *ProviderRules) string {
	if rules == nil || rules.Name == "" {
		return "the provider"
	}
	return rules.Name
}

// recordingTokens remembers every token the Caller's Tokens hands out (a refreshed one
// included), so that none can leak into a result and the next request can be built for it.
type recordingTokens struct{ c *Caller }

func (r recordingTokens) Token(ctx context.Context) (*oauth2.Token, error) {
	t, err := r.c.Tokens.Token(ctx)
	r.c.remember(t, err)
	return t, err
}

func (r recordingTokens) Refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	t, err := r.c.Tokens.Refresh(ctx, stale)
	r.c.remember(t, err)
	return t, err
}

func (c *Caller) remember(t *oauth2.Token, err error) {
	if t == nil {
		return
	}
	for _, s := range []string{t.AccessToken, t.RefreshToken} {
		if s != "" {
			c.recorded = append(c.recorded, s)
		}
	}
	if err == nil {
		c.token = t
	}
}
