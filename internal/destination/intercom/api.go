package intercom

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// maxBody bounds a JSON answer read whole (a search page, the tag list, the attribute list).
const maxBody = 8 << 20

// caller makes the API calls of one attempt (or one ActionData, FieldCatalog, Test or Identify
// call) and remembers the last answer for the attempt's response excerpt.
type caller struct {
	*destination.Caller
	p *Provisioner
}

// newCaller returns a caller with the connection's tokens, rate-limit scope and secrets. Every
// call names the API version (Intercom-Version).
func (p *Provisioner) newCaller(tokens destination.Tokens, scope string, secrets []string) *caller {
	return &caller{p: p, Caller: &destination.Caller{Client: p.HTTP.Client, Tokens: tokens, Rules: providerRules,
		Scope: scope, Secrets: secrets, Timeout: callTimeout, UserAgent: p.UserAgent, MaxBody: maxBody,
		Header: http.Header{"Intercom-Version": {APIVersion}}}}
}

// call sends one request (body JSON-encoded when not nil) and decodes a 2xx answer into out
// (when not nil). It returns nil on success, or the attempt's result: the provider's refusal
// classified, a transport failure, or a token problem.
func (c *caller) call(ctx context.Context, method, path string, query url.Values, body, out any) *destination.Result {
	_, res := c.JSON(ctx, destination.Call{Method: method, URL: c.p.URL(path, query), Body: body}, out)
	return res
}

// send is call without decoding: a 2xx answer's status and body, or the result of anything
// else. 409 is left to the caller (a create that conflicts names the existing contact): it
// comes back as a result with HTTPStatus 409 and the body in b.
func (c *caller) send(ctx context.Context, method, path string, query url.Values, body any) (int, []byte, *destination.Result) {
	a, res := c.Send(ctx, destination.Call{Method: method, URL: c.p.URL(path, query), Body: body})
	if a == nil {
		return 0, nil, res
	}
	return a.Status, a.Body, res
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
