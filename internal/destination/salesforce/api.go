package salesforce

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

// bodyLimit bounds the responses read whole (queries, describes).
const bodyLimit = 8 << 20

// apiError is one element of the REST API's error array ("Status Codes and Error Responses").
type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

// parseErrors reads the REST API's error body: an array of {message, errorCode, fields}. Some
// answers (the OAuth endpoints', a few gateway errors) are a single object instead.
func parseErrors(body []byte) []apiError {
	body = bytes.TrimSpace(body)
	var list []apiError
	if len(body) > 0 && body[0] == '[' {
		if json.Unmarshal(body, &list) == nil {
			return list
		}
		return nil
	}
	var one struct {
		apiError
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &one) == nil {
		if one.ErrorCode == "" && one.Error != "" {
			return []apiError{{ErrorCode: one.Error, Message: one.ErrorDescription}}
		}
		if one.ErrorCode != "" || one.Message != "" {
			return []apiError{one.apiError}
		}
	}
	return nil
}

// firstCode is the errorCode of the first error in body, "" if none.
func firstCode(body []byte) string {
	if errs := parseErrors(body); len(errs) > 0 {
		return errs[0].ErrorCode
	}
	return ""
}

// errorMessage is the provider's explanation: "CODE: message (fields: A, B)", several joined.
func errorMessage(_ int, body []byte) string {
	var parts []string
	for n, e := range parseErrors(body) {
		if n == 3 {
			parts = append(parts, "…")
			break
		}
		msg := strings.TrimSpace(e.Message)
		s := e.ErrorCode
		switch {
		case s == "":
			s = msg
		case msg != "":
			s += ": " + msg
		}
		if len(e.Fields) > 0 {
			s += " (fields: " + strings.Join(e.Fields, ", ") + ")"
		}
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// validationCodes are the errorCodes of a record Salesforce refused for its content.
var validationCodes = map[string]bool{
	"REQUIRED_FIELD_MISSING":                  true,
	"INVALID_EMAIL_ADDRESS":                   true,
	"STRING_TOO_LONG":                         true,
	"INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": true,
	"INVALID_FIELD_FOR_INSERT_UPDATE":         true,
	"FIELD_CUSTOM_VALIDATION_EXCEPTION":       true,
	"FIELD_INTEGRITY_EXCEPTION":               true,
	"INVALID_TYPE_ON_FIELD_IN_RECORD":         true,
	"NUMBER_OUTSIDE_VALID_RANGE":              true,
	"JSON_PARSER_ERROR":                       true,
	"MALFORMED_ID":                            true,
	"INVALID_CROSS_REFERENCE_KEY":             true,
	"FIELD_FILTER_VALIDATION_EXCEPTION":       true,
	"INVALID_FIELD":                           true,
}

// baseOutcome is what Salesforce documents beyond the status table, for every call.
func baseOutcome(status int, _ http.Header, body []byte) (switchyard.Outcome, bool) {
	code := firstCode(body)
	switch {
	case code == "REQUEST_LIMIT_EXCEEDED":
		return switchyard.OutcomeRateLimited, true
	case code == "DUPLICATES_DETECTED" || code == "DUPLICATE_VALUE":
		return switchyard.OutcomeDestinationConflict, true
	case code == "UNABLE_TO_LOCK_ROW" || code == "SERVER_UNAVAILABLE":
		return switchyard.OutcomeRejectedServerError, true // documented as transient
	case code == "MALFORMED_QUERY" || code == "INVALID_QUERY_FILTER_OPERATOR" || code == "INVALID_TYPE":
		return switchyard.OutcomeInvalidRequest, true
	case status == http.StatusBadRequest && validationCodes[code]:
		return switchyard.OutcomeValidationFailed, true
	case code == "ENTITY_IS_DELETED":
		return switchyard.OutcomeDestinationNotFound, true
	}
	return "", false
}

// limitRetryAfter reads Sforce-Limit-Info ("api-usage=<used>/<limit>"): when the org's
// allowance is used up, the wait is RetryAfterLimitExceeded.
func limitRetryAfter(h http.Header, _ time.Time) (time.Duration, bool) {
	used, limit, ok := apiUsage(h)
	if ok && limit > 0 && used >= limit {
		return RetryAfterLimitExceeded, true
	}
	return 0, false
}

// apiUsage parses Sforce-Limit-Info.
func apiUsage(h http.Header) (used, limit int, ok bool) {
	for _, part := range strings.Split(h.Get("Sforce-Limit-Info"), ",") {
		v, found := strings.CutPrefix(strings.TrimSpace(part), "api-usage=")
		if !found {
			continue
		}
		u, l, found := strings.Cut(v, "/")
		a, err1 := strconv.Atoi(strings.TrimSpace(u))
		b, err2 := strconv.Atoi(strings.TrimSpace(l))
		if found && err1 == nil && err2 == nil {
			return a, b, true
		}
	}
	return 0, 0, false
}

// baseRules are the ProviderRules of every call.
func baseRules() *destination.ProviderRules {
	return &destination.ProviderRules{Name: "Salesforce", ErrorMessage: errorMessage, Outcome: baseOutcome, RetryAfter: limitRetryAfter}
}

// rulesWith returns the base rules with extra, call-specific outcomes consulted first.
func rulesWith(extra func(status int, e apiError) (switchyard.Outcome, bool)) *destination.ProviderRules {
	r := baseRules()
	r.Outcome = func(status int, h http.Header, body []byte) (switchyard.Outcome, bool) {
		if errs := parseErrors(body); status >= 400 && len(errs) > 0 {
			if o, ok := extra(status, errs[0]); ok {
				return o, true
			}
		}
		return baseOutcome(status, h, body)
	}
	return r
}

// call is one API call of an attempt.
type call struct {
	method string
	path   string // under /services/data/<version>, with its query
	body   any    // JSON-encoded when not nil
	rules  *destination.ProviderRules
}

// answer is what a call came to: the classified result (its Response set) and, for a success,
// the body.
type answer struct {
	res  destination.Result
	body []byte
}

func (a answer) ok() bool { return a.res.Outcome == switchyard.OutcomeDelivered }

// do makes one call with the connection's token (refreshing once on a 401, DoAuthorized) and
// classifies the answer. Every call goes to the instance of the token it sends (a refreshed
// token may name another). Secrets never reach the result.
func (s *sender) do(ctx context.Context, c call) answer {
	caller := &destination.Caller{Client: s.p.http.Client, Tokens: s.tokens, Rules: c.rules, Refine: refine, Scope: s.scope,
		Secrets: []string{s.p.app.ClientSecret}, Timeout: callTimeout, UserAgent: s.p.userAgent, MaxBody: bodyLimit}
	a, res := caller.Send(ctx, destination.Call{Method: c.method, Body: c.body, URLFor: func(tok *oauth2.Token) (string, error) {
		base, err := s.base(tok)
		if err != nil {
			return "", err
		}
		return base + "/services/data/" + APIVersion + c.path, nil
	}})
	var body []byte
	if a != nil {
		body = a.Body
	}
	if res != nil {
		return answer{res: *res, body: body}
	}
	return answer{res: caller.Delivered(), body: body}
}

// refine sets the wait of a rate limit whose headers name none: REQUEST_LIMIT_EXCEEDED for the
// concurrent long-running request limit frees soon, the org's daily allowance after a while.
func refine(res *destination.Result, a *destination.Answer) {
	if res.Outcome == switchyard.OutcomeRateLimited && res.RetryAfter == 0 {
		res.RetryAfter = RetryAfterLimitExceeded
		if strings.Contains(strings.ToLower(errorMessage(0, a.Body)), "concurrent") {
			res.RetryAfter = RetryAfterConcurrentLimit
		}
	}
}

// redact masks the access and refresh tokens and the app's client secret.
func (s *sender) redact(text string, tok *oauth2.Token) string {
	return redact(text, tok, s.p.app.ClientSecret)
}

// base is the instance URL of tok, or the last one seen when a token lacks it (a refresh
// response that repeats only the access token).
func (s *sender) base(tok *oauth2.Token) (string, error) {
	b, err := s.p.instanceBase(tok)
	if err == errNoInstance {
		s.mu.Lock()
		b = s.lastBase
		s.mu.Unlock()
		if b != "" {
			return b, nil
		}
	}
	if err == nil {
		s.mu.Lock()
		s.lastBase = b
		s.mu.Unlock()
	}
	return b, err
}

// soqlQuote returns s as a SOQL string literal ("Quoted String Escape Sequences").
func soqlQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// queryPath is the path of a SOQL query.
func queryPath(soql string) string { return "/query?q=" + url.QueryEscape(soql) }

// query runs a SOQL query and decodes its records into out (a pointer to a slice).
func (s *sender) query(ctx context.Context, soql string, out any) answer {
	a := s.do(ctx, call{method: http.MethodGet, path: queryPath(soql), rules: baseRules()})
	if !a.ok() {
		return a
	}
	var qr struct {
		Records json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(a.body, &qr); err != nil || json.Unmarshal(qr.Records, out) != nil {
		a.res = destination.Result{Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: a.res.HTTPStatus, Response: a.res.Response,
			Message: "Salesforce answered the query with a body that is not a query result"}
	}
	return a
}
