package intercom

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

// maxBody bounds a JSON answer read whole (a search page, the tag list, the attribute list).
const maxBody = 8 << 20

// caller makes the API calls of one attempt (or one ActionData, FieldCatalog, Test or Identify
// call) and remembers the last answer for the attempt's response excerpt.
type caller struct {
	p       *Provisioner
	tokens  destination.Tokens
	scope   string
	secrets []string
	// last is the excerpt of the last answer received.
	last   string
	status int
}

// recordingTokens remembers every access token handed out, so that none can leak into a
// Message or Response.
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
	if t != nil && t.AccessToken != "" {
		c.secrets = append(c.secrets, t.AccessToken)
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
	status, _, b, res := c.send(ctx, method, path, query, body)
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

// send is call without decoding: a 2xx answer's status, header and body, or the result of
// anything else. 409 is left to the caller (a create that conflicts names the existing
// contact): it comes back as a result with HTTPStatus 409 and the body in b.
func (c *caller) send(ctx context.Context, method, path string, query url.Values, body any) (int, http.Header, []byte, *destination.Result) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			res := destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: "cannot encode the request to Intercom: " + err.Error()}
			c.redact(&res)
			return 0, nil, nil, &res
		}
	}
	u := *c.p.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = query.Encode()

	// timeout is what a timeout's message names: ours, or the attempt's when that is shorter.
	timeout := callTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl).Round(10*time.Millisecond), 0)
	}
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()

	newReq := func(ctx context.Context) (*http.Request, error) {
		var rd *bytes.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		var req *http.Request
		var err error
		if rd != nil {
			req, err = http.NewRequestWithContext(ctx, method, u.String(), rd)
		} else {
			req, err = http.NewRequestWithContext(ctx, method, u.String(), nil)
		}
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Intercom-Version", APIVersion)
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
		return 0, nil, nil, &res
	}
	b, readErr := destination.ReadBody(resp, maxBody)
	c.last, c.status = destination.Excerpt(resp, b), resp.StatusCode
	if readErr != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		res := destination.ClassifyTransportError(ctx, readErr, timeout, c.p.base)
		if res.Outcome == switchyard.OutcomeNetworkError && strings.Contains(readErr.Error(), "larger than") {
			res = destination.Result{Outcome: switchyard.OutcomeRejectedServerError, Message: "Intercom's answer is larger than documented"}
		}
		res.HTTPStatus = resp.StatusCode
		res.Response = c.last
		c.redact(&res)
		return resp.StatusCode, resp.Header, b, &res
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, resp.Header, b, nil
	}
	res := destination.Classify(resp.StatusCode, resp.Header, b, providerRules, time.Now())
	res.Response = c.last
	if res.Outcome == switchyard.OutcomeRateLimited {
		res.RateLimitScope = c.scope
	}
	c.redact(&res)
	return resp.StatusCode, resp.Header, b, &res
}

// unexpected is the result of a 2xx answer that is not what Intercom documents.
func (c *caller) unexpected(status int, what string) *destination.Result {
	res := destination.Result{Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: status,
		Message: "Intercom answered " + destination.StatusMessage(status) + " but " + what, Response: c.last}
	c.redact(&res)
	return &res
}

// errorBody is Intercom's error.list.
type errorBody struct {
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"errors"`
}

func parseErrors(body []byte) *errorBody {
	var e errorBody
	if json.Unmarshal(body, &e) != nil || (e.Type != "error.list" && len(e.Errors) == 0) {
		return nil
	}
	return &e
}

func hasCode(e *errorBody, codes ...string) bool {
	if e == nil {
		return false
	}
	for _, item := range e.Errors {
		for _, c := range codes {
			if item.Code == c {
				return true
			}
		}
	}
	return false
}

// providerRules are what Intercom documents beyond plain HTTP ("Error codes" and "Rate
// limiting" in the REST API reference).
var providerRules = &destination.ProviderRules{
	Name:         "Intercom",
	ErrorMessage: errorMessage,
	Outcome:      outcome,
	RetryAfter:   retryAfter,
}

// errorMessage is "code: message" for each error of the list, with the request id Intercom's
// support asks for.
func errorMessage(_ int, body []byte) string {
	e := parseErrors(body)
	if e == nil {
		return ""
	}
	parts := make([]string, 0, len(e.Errors))
	for _, item := range e.Errors {
		p := item.Code
		if item.Message != "" {
			if p != "" {
				p += ": "
			}
			p += item.Message
		}
		if item.Field != "" {
			p += " (field " + item.Field + ")"
		}
		if p != "" {
			parts = append(parts, p)
		}
	}
	msg := strings.Join(parts, "; ")
	if e.RequestID != "" && msg != "" {
		msg += " [request " + e.RequestID + "]"
	}
	return msg
}

// outcome applies Intercom's error codes where they say more than the status.
func outcome(status int, _ http.Header, body []byte) (switchyard.Outcome, bool) {
	e := parseErrors(body)
	switch {
	case hasCode(e, "rate_limit_exceeded", "too_many_requests", "retry_after"):
		return switchyard.OutcomeRateLimited, true
	case status >= 500:
		return "", false
	case hasCode(e, "parameter_invalid", "parameter_not_found", "parameter_missing", "missing_parameter",
		"type_mismatch", "data_invalid", "unprocessable_entity"):
		return switchyard.OutcomeValidationFailed, true
	case hasCode(e, "intercom_version_invalid"):
		// Our request is wrong, not the customer's data.
		return switchyard.OutcomeInvalidRequest, true
	case hasCode(e, "token_revoked", "token_blocked", "token_not_found", "token_unauthorized", "token_expired",
		"missing_authorization", "unauthorized", "api_plan_restricted", "action_forbidden", "forbidden"):
		return switchyard.OutcomeAuthFailed, true
	case hasCode(e, "service_unavailable"):
		return switchyard.OutcomeRejectedServerError, true
	case hasCode(e, "request_timeout"):
		return switchyard.OutcomeDestinationTimeout, true
	}
	return "", false
}

// retryAfter reads X-RateLimit-Reset, the Unix time the 10-second window resets.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("X-RateLimit-Reset"))
	if v == "" {
		return 0, false
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs <= 0 {
		return 0, false
	}
	d := time.Unix(secs, 0).Sub(now)
	if d > time.Hour {
		return 0, false // not the 10-second window Intercom documents
	}
	// The reset time is in whole seconds: wait at least until the next one.
	return max(d.Round(time.Second), time.Second), true
}
