package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// maxBody bounds a JSON answer read whole (a property list, a page of lists).
const maxBody = 8 << 20

// caller makes the API calls of one attempt (or one ActionData, FieldCatalog, Test or Identify
// call) and remembers the last answer for the attempt's response excerpt.
type caller struct {
	p       *Provisioner
	tokens  destination.Tokens
	scope   string
	secrets []string
	// last is the excerpt of the last answer received, status its status.
	last   string
	status int
}

// recordingTokens remembers every access token handed out (a refreshed one included), so that
// none can leak into a Message or Response.
type recordingTokens struct {
	inner destination.Tokens
	c     *caller
}

func (r recordingTokens) Token(ctx context.Context) (*oauth2.Token, error) {
	t, err := r.inner.Token(ctx)
	r.c.remember(t)
	return t, err
}

func (r recordingTokens) Refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	t, err := r.inner.Refresh(ctx, stale)
	r.c.remember(t)
	return t, err
}

func (c *caller) remember(t *oauth2.Token) {
	if t == nil {
		return
	}
	if t.AccessToken != "" {
		c.secrets = append(c.secrets, t.AccessToken)
	}
	if t.RefreshToken != "" {
		c.secrets = append(c.secrets, t.RefreshToken)
	}
}

// redact removes every secret from a result's texts.
func (c *caller) redact(res *destination.Result) {
	res.Message = destination.Redact(res.Message, c.secrets)
	res.Response = destination.Redact(res.Response, c.secrets)
}

// call sends one request (body JSON-encoded when not nil) and decodes a 2xx answer into out
// (when not nil). It returns nil on success, or the attempt's result: the provider's refusal
// classified, a transport failure, or a token problem.
func (c *caller) call(ctx context.Context, method, path string, query url.Values, body, out any) *destination.Result {
	status, b, res := c.send(ctx, method, path, query, body)
	if res != nil {
		return res
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return c.unexpected(status, "its answer is not the JSON it documents")
		}
	}
	return nil
}

// send is call without decoding: a 2xx answer's status and body, or the result of anything
// else. A refusal's body is returned too (the caller may read a 409's existing id).
func (c *caller) send(ctx context.Context, method, path string, query url.Values, body any) (int, []byte, *destination.Result) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			res := destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: "cannot encode the request to HubSpot: " + err.Error()}
			c.redact(&res)
			return 0, nil, &res
		}
	}
	u := *c.p.base
	// path is already escaped where it carries values (url.PathEscape).
	u.RawPath = strings.TrimRight(u.EscapedPath(), "/") + path
	if p, err := url.PathUnescape(u.RawPath); err == nil {
		u.Path = p
	}
	u.RawQuery = query.Encode()

	// timeout is what a timeout's message names: ours, or the attempt's when that is shorter.
	timeout := callTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl).Round(10*time.Millisecond), 0)
	}
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()

	target := u.String()
	newReq := func(ctx context.Context) (*http.Request, error) {
		var rd *bytes.Reader
		var req *http.Request
		var err error
		if payload != nil {
			rd = bytes.NewReader(payload)
			req, err = http.NewRequestWithContext(ctx, method, target, rd)
		} else {
			req, err = http.NewRequestWithContext(ctx, method, target, nil)
		}
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", c.p.userAgent)
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	}
	resp, err := destination.DoAuthorized(callCtx, c.p.client, recordingTokens{inner: c.tokens, c: c}, newReq)
	if err != nil {
		res := destination.ResultOf(ctx, err, timeout, c.p.base)
		if res.Outcome == switchyard.OutcomeRateLimited {
			res.RateLimitScope = c.scope
		}
		if res.Response != "" {
			c.last = res.Response
		}
		c.redact(&res)
		return 0, nil, &res
	}
	b, readErr := destination.ReadBody(resp, maxBody)
	c.last, c.status = destination.Excerpt(resp, b), resp.StatusCode
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if readErr != nil && ok {
		res := destination.ClassifyTransportError(ctx, readErr, timeout, c.p.base)
		if strings.Contains(readErr.Error(), "larger than") {
			res = destination.Result{Outcome: switchyard.OutcomeRejectedServerError, Message: "HubSpot's answer is larger than documented"}
		}
		res.HTTPStatus = resp.StatusCode
		res.Response = c.last
		c.redact(&res)
		return resp.StatusCode, b, &res
	}
	if ok {
		return resp.StatusCode, b, nil
	}
	now := time.Now()
	res := destination.Classify(resp.StatusCode, resp.Header, b, providerRules, now)
	res.Response = c.last
	if res.Outcome == switchyard.OutcomeRateLimited {
		res.RateLimitScope = c.scope
		if resp.Header.Get("Retry-After") == "" {
			if d, ok := policyWait(parseError(b), resp.Header, now); ok {
				res.RetryAfter = d
			}
		}
	}
	c.redact(&res)
	return resp.StatusCode, b, &res
}

// unexpected is the result of a 2xx answer that is not what HubSpot documents.
func (c *caller) unexpected(status int, what string) *destination.Result {
	res := destination.Result{Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: status,
		Message: "HubSpot answered " + destination.StatusMessage(status) + " but " + what, Response: c.last}
	c.redact(&res)
	return &res
}

// apiError is HubSpot's error body ("Handling errors" in the API reference).
type apiError struct {
	Status        string `json:"status"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId"`
	Category      string `json:"category"`
	SubCategory   string `json:"subCategory"`
	ErrorType     string `json:"errorType"`
	PolicyName    string `json:"policyName"`
	Errors        []struct {
		Message string              `json:"message"`
		Code    string              `json:"code"`
		Context map[string][]string `json:"context"`
	} `json:"errors"`
}

func parseError(body []byte) *apiError {
	var e apiError
	if json.Unmarshal(body, &e) != nil || (e.Message == "" && e.Category == "" && e.Status == "") {
		return nil
	}
	return &e
}

// propertyProblem is one entry of the list a property validation error embeds in its message.
type propertyProblem struct {
	Name    string `json:"name"`
	Error   string `json:"error"`
	Message string `json:"message"`
}

// validationPrefix starts the message of HubSpot's property validation errors, which embeds a
// JSON list of problems.
const validationPrefix = "Property values were not valid: "

// providerRules are what HubSpot documents beyond plain HTTP ("Handling errors" and "API usage
// guidelines and limits").
var providerRules = &destination.ProviderRules{
	Name:         "HubSpot",
	ErrorMessage: errorMessage,
	Outcome:      outcome,
	RetryAfter:   retryAfter,
}

// errorMessage is "CATEGORY: message", property problems as "name: ERROR (message)", the scopes
// a 403 asks for, and the correlation id HubSpot's support asks for.
func errorMessage(_ int, body []byte) string {
	e := parseError(body)
	if e == nil {
		return ""
	}
	msg := e.Message
	if rest, ok := strings.CutPrefix(msg, validationPrefix); ok {
		var probs []propertyProblem
		if json.Unmarshal([]byte(rest), &probs) == nil && len(probs) > 0 {
			parts := make([]string, 0, len(probs))
			for _, p := range probs {
				part := p.Name + ": " + p.Error
				if p.Message != "" {
					part += " (" + p.Message + ")"
				}
				parts = append(parts, part)
			}
			msg = strings.TrimSpace(validationPrefix) + " " + strings.Join(parts, "; ")
		}
	}
	if e.Category != "" && e.Category != msg {
		msg = e.Category + ": " + msg
	}
	var scopes []string
	for _, d := range e.Errors {
		scopes = append(scopes, d.Context["requiredGranularScopes"]...)
		scopes = append(scopes, d.Context["requiredScopes"]...)
	}
	if len(scopes) > 0 {
		msg += " (required scopes: " + strings.Join(scopes, ", ") + ")"
	}
	if e.CorrelationID != "" {
		msg += " [correlation " + e.CorrelationID + "]"
	}
	return msg
}

// outcome applies HubSpot's error categories where they say more than the status.
func outcome(status int, _ http.Header, body []byte) (switchyard.Outcome, bool) {
	e := parseError(body)
	switch {
	case status == http.StatusTooManyRequests || (e != nil && (e.Category == "RATE_LIMITS" || e.ErrorType == "RATE_LIMIT")):
		return switchyard.OutcomeRateLimited, true
	case status >= 500 || e == nil:
		return "", false
	case status == http.StatusBadRequest && e.Category == "VALIDATION_ERROR":
		return switchyard.OutcomeValidationFailed, true
	case e.Category == "INVALID_AUTHENTICATION" || e.Category == "EXPIRED_AUTHENTICATION" || e.Category == "MISSING_SCOPES":
		return switchyard.OutcomeAuthFailed, true
	case e.Category == "OBJECT_NOT_FOUND":
		return switchyard.OutcomeDestinationNotFound, true
	}
	return "", false
}

// retryAfter reads HubSpot's X-HubSpot-RateLimit-* headers (HubSpot sends no Retry-After):
// daily budget spent → an hour (the daily limit resets at midnight in the portal's time zone,
// which the headers do not say); the per-second budget spent → a second; otherwise the
// rolling window's length (X-HubSpot-RateLimit-Interval-Milliseconds, 10 s documented), after
// which every call of the window has left it.
func retryAfter(h http.Header, _ time.Time) (time.Duration, bool) {
	if h.Get("X-HubSpot-RateLimit-Daily-Remaining") == "0" {
		return time.Hour, true
	}
	if h.Get("X-HubSpot-RateLimit-Secondly-Remaining") == "0" {
		return time.Second, true
	}
	if v := strings.TrimSpace(h.Get("X-HubSpot-RateLimit-Interval-Milliseconds")); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 && ms <= int64(time.Hour/time.Millisecond) {
			return time.Duration(ms) * time.Millisecond, true
		}
	}
	if h.Get("X-HubSpot-RateLimit-Remaining") != "" || h.Get("X-HubSpot-RateLimit-Max") != "" {
		return 10 * time.Second, true
	}
	return 0, false
}

// policyWait refines the wait by the policy the 429's body names: the daily limit (an hour),
// the per-second limits of the search endpoints (a second), the ten-second rolling window (the
// headers' interval).
func policyWait(e *apiError, h http.Header, now time.Time) (time.Duration, bool) {
	if e != nil {
		switch strings.ToUpper(e.PolicyName) {
		case "DAILY":
			return time.Hour, true
		case "SECONDLY":
			return time.Second, true
		}
	}
	return retryAfter(h, now)
}
