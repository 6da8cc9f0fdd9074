package hubspot

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

// maxBody bounds a JSON answer read whole (a property list, a page of lists).
const maxBody = 8 << 20

// caller makes the API calls of one attempt (or one ActionData, FieldCatalog, Test or Identify
// call) and remembers the last answer for the attempt's response excerpt.
type caller struct {
	*destination.Caller
	p *Provisioner
	// batched: the attempt's last answer was a shared memberships call (batch.go), whose status
	// and excerpt these are.
	batched     bool
	batchStatus int
	batchLast   string
}

// newCaller returns a caller with the connection's tokens, rate-limit scope and secrets.
func (p *Provisioner) newCaller(tokens destination.Tokens, scope string, secrets []string) *caller {
	return &caller{p: p, Caller: &destination.Caller{Client: p.HTTP.Client, Tokens: tokens, Rules: providerRules, Refine: refine,
		Scope: scope, Secrets: secrets, Timeout: callTimeout, UserAgent: p.UserAgent, MaxBody: maxBody}}
}

// call sends one request (body JSON-encoded when not nil) and decodes a 2xx answer into out
// (when not nil). It returns nil on success, or the attempt's result: the provider's refusal
// classified, a transport failure, or a token problem.
func (c *caller) call(ctx context.Context, method, path string, query url.Values, body, out any) *destination.Result {
	_, res := c.JSON(ctx, destination.Call{Method: method, URL: c.p.URL(path, query), Body: body}, out)
	return res
}

// send is call without decoding: a 2xx answer's status and body, or the result of anything
// else. A refusal's body is returned too (the caller may read a 409's existing id).
func (c *caller) send(ctx context.Context, method, path string, query url.Values, body any) (int, []byte, *destination.Result) {
	a, res := c.Send(ctx, destination.Call{Method: method, URL: c.p.URL(path, query), Body: body})
	if a == nil {
		return 0, nil, res
	}
	return a.Status, a.Body, res
}

// refine waits as long as the policy a 429's body names (HubSpot sends no Retry-After).
func refine(res *destination.Result, a *destination.Answer) {
	if res.Outcome == switchyard.OutcomeRateLimited && a.Header.Get("Retry-After") == "" {
		if d, ok := policyWait(parseError(a.Body), a.Header, time.Now()); ok {
			res.RetryAfter = d
		}
	}
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
