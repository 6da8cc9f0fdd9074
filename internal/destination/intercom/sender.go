package intercom

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Sender delivers for one Intercom connection value. It is safe for concurrent use.
type Sender struct {
	p      *Provisioner
	conn   *switchyard.Connection
	tokens destination.Tokens
	// pasted: the connection uses a pasted access token rather than the OAuth flow's.
	pasted  bool
	scope   string
	secrets []string
}

var (
	_ destination.Sender             = (*Sender)(nil)
	_ destination.ActionDataSource   = (*Sender)(nil)
	_ destination.FieldCatalogSource = (*Sender)(nil)
	_ destination.Tester             = (*Sender)(nil)
	_ destination.RateLimited        = (*Sender)(nil)
)

// RateLimit is the workspace's scope ("intercom:app:<id_code>", or a scope of the pasted token
// when the workspace is not known) and the documented rate, see RatePerSecond.
func (s *Sender) RateLimit() (string, float64, int) { return s.scope, RatePerSecond, RateBurst }

func (s *Sender) newCaller() *caller {
	return s.p.newCaller(s.tokens, s.scope, s.secrets)
}

// Deliver runs the rule's action for the event's person. It never retries (beyond
// DoAuthorized's one refresh on a 401) and classifies every failure.
func (s *Sender) Deliver(ctx context.Context, req *destination.Request) destination.Result {
	if req == nil {
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: "delivery request without an event"}
	}
	start := time.Now()
	res := s.deliver(ctx, req)
	if s.p.Logger.Enabled(ctx, slog.LevelDebug) {
		s.p.Logger.LogAttrs(ctx, slog.LevelDebug, "intercom attempt",
			slog.String("delivery_id", req.DeliveryID.String()), slog.Int("attempt", req.Attempt),
			slog.String("action", req.Action), slog.String("outcome", string(res.Outcome)),
			slog.Int("http_status", res.HTTPStatus), slog.Duration("duration", time.Since(start)))
	}
	return res
}

func (s *Sender) deliver(ctx context.Context, req *destination.Request) destination.Result {
	action := req.Action
	if action == "" {
		action, _ = req.Params["action"].(string)
	}
	if action != ActionAddTag && action != ActionRemoveTag {
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest,
			Message: "unknown Intercom action " + strconv.Quote(action) + ": use add_tag or remove_tag"}
	}
	tagID := idParam(req.Params[ParamID])
	if tagID == "" {
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest,
			Message: "the rule's metadata has no id: choose the Intercom tag to " + map[string]string{ActionAddTag: "add", ActionRemoveTag: "remove"}[action]}
	}
	who, bad := personOf(req)
	if bad != "" {
		return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: bad}
	}

	c := s.newCaller()
	ct, how, res := c.findOrCreate(ctx, who)
	if res != nil {
		return *res
	}
	var done string
	if action == ActionAddTag {
		done, res = c.addTag(ctx, ct, tagID)
	} else {
		done, res = c.removeTag(ctx, ct, how == contactCreated, tagID)
	}
	if res != nil {
		return *res
	}
	out := destination.Result{Outcome: switchyard.OutcomeDelivered, HTTPStatus: c.Status(),
		Message: "Intercom contact " + ct.ID + " " + string(how) + "; " + done, Response: c.Last()}
	c.Redact(&out)
	return out
}

// person is who an event is about, and what the mapping writes to them.
type person struct {
	email      string
	externalID string
	// standard holds name and phone; custom the custom attributes.
	standard map[string]any
	custom   map[string]any
}

// personOf reads the person from the mapped fields, falling back to the payload's top-level
// email. bad explains what is missing.
func personOf(req *destination.Request) (who person, bad string) {
	who.standard, who.custom = map[string]any{}, map[string]any{}
	for k, v := range req.Fields {
		if v == nil {
			continue // an absent payload value never clears what Intercom holds
		}
		switch k {
		case "email":
			who.email = strings.TrimSpace(scalarString(v))
		case "external_id":
			who.externalID = strings.TrimSpace(scalarString(v))
		case "name", "phone":
			if sv := scalarString(v); sv != "" {
				who.standard[k] = sv
			}
		default:
			who.custom[strings.TrimPrefix(k, "custom_attributes.")] = v
		}
	}
	if who.email == "" && req.Event != nil && len(req.Event.Payload) > 0 {
		var top map[string]json.RawMessage
		if json.Unmarshal(req.Event.Payload, &top) == nil {
			var e string
			if json.Unmarshal(top["email"], &e) == nil {
				who.email = strings.TrimSpace(e)
			}
		}
	}
	if who.email == "" {
		return who, "no email for the Intercom contact: map a payload field to email (or send email at the top level of the payload)"
	}
	return who, ""
}

// scalarString is a string, or a number written the way JSON writes it; "" for anything else.
func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// idParam is the rule's id parameter as a string ("" when missing or blank).
func idParam(v any) string {
	return strings.TrimSpace(scalarString(v))
}

// contact is the part of Intercom's contact object the actions use.
type contact struct {
	ID               string         `json:"id"`
	Role             string         `json:"role"`
	Email            *string        `json:"email"`
	ExternalID       *string        `json:"external_id"`
	Name             *string        `json:"name"`
	Phone            *string        `json:"phone"`
	CustomAttributes map[string]any `json:"custom_attributes"`
	Tags             struct {
		Data    []struct{ ID flexID } `json:"data"`
		HasMore bool                  `json:"has_more"`
	} `json:"tags"`
}

// flexID accepts an id sent as a string or a number.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexID(n.String())
	return nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// hasTag reports whether the contact's tag list names tagID, and whether that list is
// complete (Intercom embeds at most 10 tags in a contact).
func (ct *contact) hasTag(tagID string) (has, complete bool) {
	for _, t := range ct.Tags.Data {
		if string(t.ID) == tagID {
			return true, true
		}
	}
	return false, !ct.Tags.HasMore
}

// how a contact was come by, for the attempt's message.
type how string

const (
	contactFound   how = "found"
	contactUpdated how = "found and updated"
	contactCreated how = "created"
)

type searchResult struct {
	Data []contact `json:"data"`
}

// findOrCreate finds the person's contact, updating the mapped fields that differ, or creates
// it.
func (c *caller) findOrCreate(ctx context.Context, who person) (*contact, how, *destination.Result) {
	ct, res := c.search(ctx, who)
	if res != nil {
		return nil, "", res
	}
	if ct != nil {
		return c.update(ctx, ct, who)
	}
	body := map[string]any{"email": who.email}
	if who.externalID != "" {
		// Intercom's default role is user; say so when the person is identified by the app.
		body["role"] = "user"
		body["external_id"] = who.externalID
	}
	for k, v := range who.standard {
		body[k] = v
	}
	if len(who.custom) > 0 {
		body["custom_attributes"] = who.custom
	}
	var created contact
	status, b, res := c.send(ctx, http.MethodPost, "/contacts", nil, body)
	if res == nil {
		if json.Unmarshal(b, &created) != nil || created.ID == "" {
			return nil, "", c.Unexpected(status, "its answer names no contact id")
		}
		return &created, contactCreated, nil
	}
	if res.HTTPStatus != http.StatusConflict {
		prefix(res, "creating the contact")
		return nil, "", res
	}
	// The contact exists, though the search did not show it (Intercom's search lags behind
	// creation): the conflict names it.
	if id := conflictID(b); id != "" {
		var existing contact
		if res := c.call(ctx, http.MethodGet, "/contacts/"+url.PathEscape(id), nil, nil, &existing); res != nil {
			prefix(res, "reading the existing contact")
			return nil, "", res
		}
		return c.update(ctx, &existing, who)
	}
	if ct, res = c.search(ctx, who); res != nil {
		return nil, "", res
	}
	if ct != nil {
		return c.update(ctx, ct, who)
	}
	out := destination.Result{Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: http.StatusConflict, Response: c.Last(),
		Message: "Intercom says a contact with this email or external_id exists but does not return it yet (its search lags behind creation); retried later"}
	c.Redact(&out)
	return nil, "", &out
}

// conflictPattern finds the id in "A contact matching those details already exists with id=…".
var conflictPattern = regexp.MustCompile(`\bid=([A-Za-z0-9_-]+)`)

func conflictID(body []byte) string {
	e := parseErrors(body)
	if e == nil {
		return ""
	}
	for _, item := range e.Errors {
		if m := conflictPattern.FindStringSubmatch(item.Message); m != nil {
			return m[1]
		}
	}
	return ""
}

// search looks the person up: by email, or by external_id or email. It prefers the contact
// with the external_id, then a user, then the first lead.
func (c *caller) search(ctx context.Context, who person) (*contact, *destination.Result) {
	byEmail := map[string]any{"field": "email", "operator": "=", "value": who.email}
	query := byEmail
	if who.externalID != "" {
		query = map[string]any{"operator": "OR", "value": []any{
			map[string]any{"field": "external_id", "operator": "=", "value": who.externalID}, byEmail}}
	}
	var found searchResult
	body := map[string]any{"query": query, "pagination": map[string]any{"per_page": 25}}
	if res := c.call(ctx, http.MethodPost, "/contacts/search", nil, body, &found); res != nil {
		prefix(res, "searching for the contact")
		return nil, res
	}
	var user, lead *contact
	for i := range found.Data {
		ct := &found.Data[i]
		if ct.ID == "" {
			continue
		}
		if who.externalID != "" && str(ct.ExternalID) == who.externalID {
			return ct, nil
		}
		if !strings.EqualFold(str(ct.Email), who.email) {
			continue
		}
		if ct.Role == "user" && user == nil {
			user = ct
		} else if lead == nil {
			lead = ct
		}
	}
	if user != nil {
		return user, nil
	}
	return lead, nil
}

// update writes the mapped fields whose values differ from the contact's. An external_id the
// contact already has is never replaced.
func (c *caller) update(ctx context.Context, ct *contact, who person) (*contact, how, *destination.Result) {
	body := map[string]any{}
	if !strings.EqualFold(str(ct.Email), who.email) {
		body["email"] = who.email
	}
	if who.externalID != "" && str(ct.ExternalID) == "" {
		body["external_id"] = who.externalID
	}
	for k, v := range who.standard {
		var cur string
		if k == "name" {
			cur = str(ct.Name)
		} else {
			cur = str(ct.Phone)
		}
		if cur != v {
			body[k] = v
		}
	}
	custom := map[string]any{}
	for k, v := range who.custom {
		if cur, ok := ct.CustomAttributes[k]; !ok || !sameJSON(cur, v) {
			custom[k] = v
		}
	}
	if len(custom) > 0 {
		body["custom_attributes"] = custom
	}
	if len(body) == 0 {
		return ct, contactFound, nil
	}
	var updated contact
	if res := c.call(ctx, http.MethodPut, "/contacts/"+url.PathEscape(ct.ID), nil, body, &updated); res != nil {
		prefix(res, "updating contact "+ct.ID)
		return nil, "", res
	}
	if updated.ID == "" {
		updated = *ct
	}
	return &updated, contactUpdated, nil
}

// sameJSON compares two decoded JSON values as JSON (numbers as float64).
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(a, b)
	}
	return string(ja) == string(jb)
}

// addTag attaches the tag, unless the contact has it already.
func (c *caller) addTag(ctx context.Context, ct *contact, tagID string) (string, *destination.Result) {
	if has, _ := ct.hasTag(tagID); has {
		return "it already has tag " + tagID, nil
	}
	path := "/contacts/" + url.PathEscape(ct.ID) + "/tags"
	if res := c.call(ctx, http.MethodPost, path, nil, map[string]any{"id": tagID}, nil); res != nil {
		prefix(res, "adding tag "+tagID)
		return "", res
	}
	return "tag " + tagID + " added", nil
}

// removeTag detaches the tag if the contact has it; a contact without it is already where the
// rule wants it.
func (c *caller) removeTag(ctx context.Context, ct *contact, created bool, tagID string) (string, *destination.Result) {
	if created {
		return "a new contact has no tag " + tagID + " to remove", nil
	}
	has, complete := ct.hasTag(tagID)
	if !has && !complete {
		var list struct {
			Data []struct{ ID flexID } `json:"data"`
		}
		if res := c.call(ctx, http.MethodGet, "/contacts/"+url.PathEscape(ct.ID)+"/tags", nil, nil, &list); res != nil {
			prefix(res, "listing the contact's tags")
			return "", res
		}
		for _, t := range list.Data {
			if string(t.ID) == tagID {
				has = true
			}
		}
	}
	if !has {
		return "it does not have tag " + tagID, nil
	}
	path := "/contacts/" + url.PathEscape(ct.ID) + "/tags/" + url.PathEscape(tagID)
	if res := c.call(ctx, http.MethodDelete, path, nil, nil, nil); res != nil {
		prefix(res, "removing tag "+tagID)
		return "", res
	}
	return "tag " + tagID + " removed", nil
}

// prefix says which step a provider's refusal answered.
func prefix(res *destination.Result, step string) {
	if res.HTTPStatus != 0 {
		res.Message = step + ": " + res.Message
	}
}
