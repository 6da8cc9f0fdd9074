package zoom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RegistrantFields are the registrant fields of "Add a meeting registrant" and "Add a webinar
// registrant" that a mapping may write, in catalog order. All are strings.
var RegistrantFields = []string{"email", "first_name", "last_name", "address", "city", "country", "zip", "state", "phone",
	"industry", "org", "job_title", "purchasing_time_frame", "role_in_purchase_process", "no_of_employees", "comments"}

var registrantField = func() map[string]bool {
	m := make(map[string]bool, len(RegistrantFields))
	for _, k := range RegistrantFields {
		m[k] = true
	}
	return m
}()

// maxNameLength is Zoom's limit on first_name and last_name.
const maxNameLength = 64

// kind tells meetings from webinars: the two share every call but their paths.
type kind struct {
	action string
	path   string // "meetings" or "webinars"
	noun   string // "meeting" or "webinar"
}

var (
	meetings = kind{action: ActionAddMeetingRegistrant, path: "meetings", noun: "meeting"}
	webinars = kind{action: ActionAddWebinarRegistrant, path: "webinars", noun: "webinar"}
)

// sender delivers for one Zoom connection value.
type sender struct {
	p       *Provisioner
	c       *config
	conn    *switchyard.Connection
	tokens  destination.Tokens
	scope   string
	secrets []string // never shown: the pasted client secret (access tokens are added per call)

	questions *questionCache
}

var (
	_ destination.Sender             = (*sender)(nil)
	_ destination.ActionDataSource   = (*sender)(nil)
	_ destination.FieldCatalogSource = (*sender)(nil)
	_ destination.Tester             = (*sender)(nil)
	_ destination.RateLimited        = (*sender)(nil)
)

// RateLimit spaces the calls of every connection to one Zoom account (see RatePerSecond).
func (s *sender) RateLimit() (string, float64, int) { return s.scope, RatePerSecond, RateBurst }

// Deliver registers the event's person for the rule's meeting or webinar: one POST, preceded
// by one read of the registration questions when mapped fields may answer custom questions
// (cached for a few minutes).
func (s *sender) Deliver(ctx context.Context, req *destination.Request) destination.Result {
	start := time.Now()
	res := s.deliver(ctx, req)
	if s.p.logger.Enabled(ctx, slog.LevelDebug) && req != nil {
		s.p.logger.DebugContext(ctx, "zoom attempt", "delivery_id", req.DeliveryID.String(), "attempt", req.Attempt,
			"action", req.Action, "outcome", string(res.Outcome), "http_status", res.HTTPStatus, "duration", time.Since(start))
	}
	return res
}

func (s *sender) deliver(ctx context.Context, req *destination.Request) destination.Result {
	if req == nil {
		return invalid("delivery request without a request")
	}
	var k kind
	switch req.Action {
	case ActionAddMeetingRegistrant:
		k = meetings
	case ActionAddWebinarRegistrant:
		k = webinars
	case "":
		return invalid("the rule has no action: use add_meeting_registrant or add_webinar_registrant")
	default:
		return invalid(fmt.Sprintf("unknown Zoom action %q: use add_meeting_registrant or add_webinar_registrant", req.Action))
	}
	id, msg := eventID(req.Params[ParamID], k)
	if msg != "" {
		return invalid(msg)
	}
	email := emailOf(req)
	if email == "" {
		return invalid("no email for the registrant: map a payload field to the Zoom field email (or send the event with a top-level email)")
	}
	body, res := s.registrant(ctx, k, id, email, req.Fields)
	if res != nil {
		return *res
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return invalid("cannot encode the registrant: " + err.Error())
	}
	a, res := s.call(ctx, http.MethodPost, "/"+k.path+"/"+id+"/registrants", nil, raw)
	if res != nil {
		return *res
	}
	out := a.res
	var reg struct {
		RegistrantID string `json:"registrant_id"`
		JoinURL      string `json:"join_url"`
	}
	_ = json.Unmarshal(a.body, &reg)
	switch {
	case reg.RegistrantID != "" && reg.JoinURL == "":
		out.Message += ": registered (registrant " + reg.RegistrantID + "), awaiting the host's approval"
	case reg.RegistrantID != "":
		out.Message += ": registered (registrant " + reg.RegistrantID + ")"
	}
	return out
}

func invalid(msg string) destination.Result {
	return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: msg}
}

// eventID reads the rule's id: a meeting or webinar ID, digits (spaces, as Zoom displays IDs,
// are dropped), or a whole JSON number.
func eventID(v any, k kind) (string, string) {
	var s string
	switch v := v.(type) {
	case nil:
		return "", "the rule has no id: set metadata.id to the " + k.noun + " ID"
	case string:
		s = strings.Join(strings.Fields(v), "")
	case float64:
		if v != float64(int64(v)) || v <= 0 {
			return "", fmt.Sprintf("the rule's id %v is not a Zoom %s ID", v, k.noun)
		}
		s = strconv.FormatInt(int64(v), 10)
	case json.Number:
		s = v.String()
	case int:
		s = strconv.Itoa(v)
	case int64:
		s = strconv.FormatInt(v, 10)
	default:
		return "", "the rule's id must be a " + k.noun + " ID"
	}
	if s == "" {
		return "", "the rule has no id: set metadata.id to the " + k.noun + " ID"
	}
	if len(s) > 20 || strings.TrimLeft(s, "0123456789") != "" || strings.Trim(s, "0") == "" {
		return "", fmt.Sprintf("the rule's id %q is not a Zoom %s ID (digits)", truncate(s, 40), k.noun)
	}
	return s, ""
}

// emailOf is the mapped email, or the event payload's top-level email.
func emailOf(req *destination.Request) string {
	if s, ok := text(req.Fields["email"]); ok && s != "" {
		return s
	}
	if req.Event == nil || len(req.Event.Payload) == 0 {
		return ""
	}
	var p struct {
		Email any `json:"email"`
	}
	if json.Unmarshal(req.Event.Payload, &p) != nil {
		return ""
	}
	s, _ := text(p.Email)
	return s
}

// text renders a mapped value as the string Zoom expects; false for values with no text
// (null, objects).
func text(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case []any:
		// A multiple-answer custom question: the answers, comma-separated.
		parts := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := text(e); ok && s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", "), len(parts) > 0
	}
	return "", false
}

// registrant builds the request body from the mapped fields.
func (s *sender) registrant(ctx context.Context, k kind, id, email string, fields map[string]any) (map[string]any, *destination.Result) {
	body := map[string]any{"email": email}
	for _, key := range RegistrantFields[1:] {
		if v, ok := text(fields[key]); ok && v != "" {
			body[key] = v
		}
	}
	if _, ok := body["first_name"]; !ok {
		local := email
		if a, err := mail.ParseAddress(email); err == nil {
			local = a.Address
		}
		if i := strings.LastIndex(local, "@"); i > 0 {
			local = local[:i]
		}
		body["first_name"] = truncateRunes(local, maxNameLength)
	}
	var extra bool
	for key, v := range fields {
		if !registrantField[key] {
			if t, ok := text(v); ok && t != "" {
				extra = true
				break
			}
		}
	}
	if !extra {
		return body, nil
	}
	qs, res := s.customQuestions(ctx, k, id)
	if res != nil {
		return nil, res
	}
	var answers []map[string]string
	for _, q := range qs {
		v, ok := answerFor(q.Title, fields)
		if ok {
			answers = append(answers, map[string]string{"title": q.Title, "value": v})
		}
	}
	if len(answers) > 0 {
		body["custom_questions"] = answers
	}
	return body, nil
}

// answerFor finds the mapped field named after a custom question: its exact title, else the
// title compared case-insensitively.
func answerFor(title string, fields map[string]any) (string, bool) {
	if v, ok := text(fields[title]); ok && v != "" && !registrantField[title] {
		return v, true
	}
	for key, v := range fields {
		if !registrantField[key] && strings.EqualFold(strings.TrimSpace(key), strings.TrimSpace(title)) {
			if t, ok := text(v); ok && t != "" {
				return t, true
			}
		}
	}
	return "", false
}

// customQuestion is one of a meeting's custom registration questions.
type customQuestion struct {
	Title    string   `json:"title"`
	Type     string   `json:"type"`
	Required bool     `json:"required"`
	Answers  []string `json:"answers"`
}

// customQuestions returns the meeting's custom questions, from the cache or from GET
// /{meetings|webinars}/{id}/registrants/questions (Light).
func (s *sender) customQuestions(ctx context.Context, k kind, id string) ([]customQuestion, *destination.Result) {
	key := k.path + "/" + id
	if qs, ok := s.questions.get(key); ok {
		return qs, nil
	}
	var out struct {
		CustomQuestions []customQuestion `json:"custom_questions"`
	}
	if res := s.getJSON(ctx, "/"+key+"/registrants/questions", nil, &out); res != nil {
		return nil, res
	}
	s.questions.put(key, out.CustomQuestions)
	return out.CustomQuestions, nil
}

// questionCache keeps the custom questions of the meetings a sender registers people for, so
// that a busy meeting costs one extra read every few minutes, not one per delivery.
type questionCache struct {
	mu      sync.Mutex
	entries map[string]questionEntry
	now     func() time.Time
}

type questionEntry struct {
	qs []customQuestion
	at time.Time
}

const (
	questionTTL        = 5 * time.Minute
	questionCacheLimit = 512
)

func newQuestionCache() *questionCache {
	return &questionCache{entries: map[string]questionEntry{}, now: time.Now}
}

func (c *questionCache) get(key string) ([]customQuestion, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || c.now().Sub(e.at) > questionTTL {
		return nil, false
	}
	return e.qs, true
}

func (c *questionCache) put(key string, qs []customQuestion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= questionCacheLimit {
		clear(c.entries)
	}
	c.entries[key] = questionEntry{qs: qs, at: c.now()}
}

// capture is the Tokens of one call: it remembers the last error the connection's Tokens gave,
// so that a refused Server-to-Server credential can be reported as such.
type capture struct {
	destination.Tokens
	err error
}

func (c *capture) Token(ctx context.Context) (*oauth2.Token, error) {
	t, err := c.Tokens.Token(ctx)
	if err != nil {
		c.err = err
	}
	return t, err
}

func (c *capture) Refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	t, err := c.Tokens.Refresh(ctx, stale)
	if err != nil {
		c.err = err
	}
	return t, err
}

// call makes one authorized call for this connection. For a Server-to-Server credential, a
// refused credential deactivates the connection as authentication_invalid (the customer must
// save a valid one), not as a revoked OAuth grant.
func (s *sender) call(ctx context.Context, method, path string, query url.Values, body []byte) (*answer, *destination.Result) {
	tokens := &capture{Tokens: s.tokens}
	a, res := s.p.call(ctx, tokens, method, path, query, body, s.scope, s.secrets)
	if res != nil && s.c.serverToServer() && res.Deactivate != "" {
		res.Deactivate = switchyard.InactiveAuthenticationInvalid
		if errors.Is(tokens.err, ErrCredentialsRefused) {
			res.Message = destination.Redact(strings.TrimSuffix(tokens.err.Error(), ": "+ErrCredentialsRefused.Error()), s.secrets) +
				": save a valid account_id, client_id and client_secret."
		} else {
			res.Message = "Zoom refused the Server-to-Server app's access token right after issuing it: check that the app is activated, then save the connection again."
		}
	}
	return a, res
}

// getJSON makes an authorized GET for this connection.
func (s *sender) getJSON(ctx context.Context, path string, query url.Values, v any) *destination.Result {
	a, res := s.call(ctx, http.MethodGet, path, query, nil)
	if res != nil {
		return res
	}
	return decode(a, path, v)
}

// decode decodes a 2xx answer's JSON body into v.
func decode(a *answer, path string, v any) *destination.Result {
	if err := json.Unmarshal(a.body, v); err != nil {
		return &destination.Result{Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: a.res.HTTPStatus,
			Message: "Zoom answered " + path + " with a body that is not the documented JSON", Response: a.res.Response}
	}
	return nil
}

// rules are what Zoom documents beyond HTTP ("Error Codes", "Rate limits", the Meetings API
// reference).
var rules = &destination.ProviderRules{
	Name:         "Zoom",
	ErrorMessage: errorMessage,
	Outcome:      outcome,
	RetryAfter:   retryAfter,
}

// apiError is Zoom's error body.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Errors  []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func parseError(body []byte) (apiError, bool) {
	var e apiError
	if json.Unmarshal(body, &e) != nil || (e.Code == 0 && e.Message == "") {
		return e, false
	}
	return e, true
}

// errorMessage is "code 300: Validation Failed. (email: Invalid field.)".
func errorMessage(_ int, body []byte) string {
	e, ok := parseError(body)
	if !ok {
		return ""
	}
	msg := strings.TrimSpace(e.Message)
	if e.Code != 0 {
		msg = "code " + strconv.Itoa(e.Code) + ": " + msg
	}
	var fields []string
	for _, f := range e.Errors {
		if f.Field != "" {
			fields = append(fields, f.Field+": "+f.Message)
		}
	}
	if len(fields) > 0 {
		msg += " (" + strings.Join(fields, "; ") + ")"
	}
	return msg
}

// outcome applies what Zoom's error codes mean:
//   - 400 code 300 "Validation Failed." (a field Zoom refuses, a required question unanswered):
//     validation_failed; 400 code 300 about the request itself (not a JSON object, a malformed
//     ID): invalid_request.
//   - registration turned off — 404 code 404 for meetings, 400 code 3000 for webinars:
//     invalid_request (the rule names an event that takes no registrants; it will fail until
//     the host turns registration on or the rule names another one).
//   - 404 code 3001 (no such meeting or webinar): destination_not_found, as the table says.
func outcome(status int, _ http.Header, body []byte) (switchyard.Outcome, bool) {
	e, ok := parseError(body)
	if !ok {
		return "", false
	}
	msg := strings.ToLower(e.Message)
	switch {
	case registrationOff(status, e):
		return switchyard.OutcomeInvalidRequest, true
	case status == http.StatusBadRequest && e.Code == 300:
		if len(e.Errors) > 0 || strings.Contains(msg, "validation") {
			return switchyard.OutcomeValidationFailed, true
		}
		if strings.Contains(msg, "valid json") || strings.Contains(msg, " id") {
			return switchyard.OutcomeInvalidRequest, true
		}
		return switchyard.OutcomeValidationFailed, true
	case status == http.StatusNotFound && e.Code == 3001:
		return switchyard.OutcomeDestinationNotFound, true
	}
	return "", false
}

func registrationOff(status int, e apiError) bool {
	msg := strings.ToLower(e.Message)
	return strings.Contains(msg, "registration") && strings.Contains(msg, "not") && strings.Contains(msg, "enabled") &&
		(status == http.StatusNotFound && e.Code == 404 || status == http.StatusBadRequest && e.Code == 3000)
}

// retryAfter reads Zoom's rate-limit headers when Retry-After is not delta-seconds or an
// HTTP-date: Zoom sends an absolute RFC 3339 time ("Retry-After: 2020-05-31T00:00:00Z" for a
// daily limit). Without it, X-RateLimit-Type says how long: a second for QPS, until the next
// 00:00 UTC for Daily-limit.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			if d := t.Sub(now); d > 0 {
				return d, true
			}
			return time.Second, true
		}
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("X-RateLimit-Type"))) {
	case "qps":
		return time.Second, true
	case "daily-limit":
		y, m, d := now.UTC().Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Sub(now), true
	}
	return 0, false
}

// refine adds to a refusal what Zoom's answer says beyond the rules: the kind of rate limit
// hit, and how to turn registration on.
func refine(res *destination.Result, a *destination.Answer) {
	if res.Outcome == switchyard.OutcomeRateLimited {
		if t := a.Header.Get("X-RateLimit-Type"); t != "" {
			res.Message += " [X-RateLimit-Type: " + truncate(t, 40) + "]"
		}
	}
	if res.Outcome == switchyard.OutcomeInvalidRequest {
		if e, ok := parseError(a.Body); ok && registrationOff(a.Status, e) {
			res.Message += ": turn on registration for it in Zoom, or point the rule at another one"
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
