package hubspot

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Sender delivers for one HubSpot connection value. It is safe for concurrent use.
type Sender struct {
	p      *Provisioner
	conn   *switchyard.Connection
	tokens destination.Tokens
	// pasted: the connection uses a pasted private-app token rather than the OAuth flow's.
	pasted  bool
	scope   string
	secrets []string
	lists   listCache
	// members batches the list-membership calls of concurrent attempts (batch.go).
	members memberships
	// creates batches the contact creations of concurrent attempts (creates.go).
	creates creates
	// active counts the attempts under way (Deliver): more than one makes the connection busy,
	// and its creations and memberships gather for a short window (creates.go).
	active atomic.Int64
	// windowOverride replaces batchWindow and memberWindow when not zero (tests).
	windowOverride time.Duration
}

var (
	_ destination.Sender             = (*Sender)(nil)
	_ destination.ActionDataSource   = (*Sender)(nil)
	_ destination.FieldCatalogSource = (*Sender)(nil)
	_ destination.Tester             = (*Sender)(nil)
	_ destination.RateLimited        = (*Sender)(nil)
)

// RateLimit is the portal's scope ("hubspot:portal:<hub id>", or a scope of the pasted token
// when the portal is not known) and the documented rate, see RatePerSecond.
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
	s.active.Add(1)
	res := s.deliver(ctx, req)
	s.active.Add(-1)
	if s.p.Logger.Enabled(ctx, slog.LevelDebug) {
		s.p.Logger.LogAttrs(ctx, slog.LevelDebug, "hubspot attempt",
			slog.String("delivery_id", req.DeliveryID.String()), slog.Int("attempt", req.Attempt),
			slog.String("action", req.Action), slog.String("outcome", string(res.Outcome)),
			slog.Int("http_status", res.HTTPStatus), slog.Duration("duration", time.Since(start)))
	}
	return res
}

// window is how long a busy connection's memberships gather: d, or the tests' override.
func (s *Sender) window(d time.Duration) time.Duration {
	if s.windowOverride > 0 {
		return s.windowOverride
	}
	return d
}

func invalid(msg string) destination.Result {
	return destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: msg}
}

func (s *Sender) deliver(ctx context.Context, req *destination.Request) destination.Result {
	action := req.Action
	if action == "" {
		action, _ = req.Params["action"].(string)
	}
	id := strings.TrimSpace(scalarString(req.Params[ParamID]))
	var value string
	switch action {
	case ActionAddToList, ActionRemoveFromList:
		if id == "" {
			return invalid("the rule's metadata has no id: choose the HubSpot list")
		}
		if !isListID(id) {
			return invalid("the rule's list id " + strconv.Quote(truncate(id, 40)) + " is not a HubSpot list id (a number)")
		}
	case ActionUpdateProperty:
		if id == "" {
			return invalid("the rule's metadata has no id: choose the HubSpot contact property to update")
		}
		raw, ok := req.Params[ParamValue]
		if !ok || raw == nil {
			return invalid("the rule's metadata has no value for the HubSpot property " + strconv.Quote(id))
		}
		var bad bool
		if value, bad = propertyValue(raw); bad {
			return invalid("the value for the HubSpot property " + strconv.Quote(id) + " must be text, a number or a boolean")
		}
		if id == "email" {
			return invalid("update_property cannot change email: it is what finds the contact")
		}
	default:
		return invalid("unknown HubSpot action " + strconv.Quote(action) + ": use add_to_list, remove_from_list or update_property")
	}
	who, bad := personOf(req)
	if bad != "" {
		return invalid(bad)
	}

	c := s.newCaller()
	if action != ActionUpdateProperty {
		if res := s.checkList(ctx, c, id); res != nil {
			return *res
		}
	}
	props := make(map[string]string, len(who.props)+2)
	for k, v := range who.props {
		props[k] = v
	}
	if action == ActionUpdateProperty {
		props[id] = value
	}
	props["email"] = who.email
	ct, res := s.contactFor(ctx, c, who.email, props)
	if res != nil {
		return *res
	}
	var done string
	switch action {
	case ActionAddToList:
		done, res = s.addToList(ctx, c, ct, id)
	case ActionRemoveFromList:
		done, res = s.removeFromList(ctx, c, ct, id)
	case ActionUpdateProperty:
		done, res = c.updateProperty(ctx, ct, id, value)
	}
	if res != nil {
		return *res
	}
	status, last := c.Status(), c.Last()
	if c.batched {
		status, last = c.batchStatus, c.batchLast
	}
	out := destination.Result{Outcome: switchyard.OutcomeDelivered, HTTPStatus: status,
		Message: "HubSpot contact " + ct.id + " " + string(ct.how) + "; " + done, Response: last}
	c.Redact(&out)
	return out
}

var listIDPattern = regexp.MustCompile(`^[0-9]{1,20}$`)

func isListID(id string) bool { return listIDPattern.MatchString(id) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r) + "…"
}

// person is who an event is about, and the properties the mapping writes to a new contact.
type person struct {
	email string
	props map[string]string
}

// personOf reads the person from the mapped fields, falling back to the payload's top-level
// email. bad explains what is missing.
func personOf(req *destination.Request) (who person, bad string) {
	who.props = map[string]string{}
	for k, v := range req.Fields {
		if v == nil {
			continue // an absent payload value is never written
		}
		name := strings.TrimPrefix(k, "properties.")
		if name == "" {
			continue
		}
		sv, bad := propertyValue(v)
		if bad {
			continue // an object has no HubSpot property form
		}
		if name == "email" {
			who.email = strings.TrimSpace(sv)
			continue
		}
		who.props[name] = sv
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
		return who, "no email for the HubSpot contact: map a payload field to email (or send email at the top level of the payload)"
	}
	return who, ""
}

// propertyValue is a value as HubSpot's property API takes it: text, a number as JSON writes
// it, true or false, and a list of texts joined with ";" (a multiple checkbox). bad: an object,
// or a list holding anything but scalars.
func propertyValue(v any) (string, bool) {
	switch v := v.(type) {
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			if e == nil {
				continue
			}
			s, bad := propertyValue(e)
			if bad {
				return "", true
			}
			if _, nested := e.([]any); nested {
				return "", true
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ";"), false
	case []string:
		return strings.Join(v, ";"), false
	case bool:
		return strconv.FormatBool(v), false
	case nil:
		return "", false
	}
	s := scalarString(v)
	if s == "" {
		if _, ok := v.(string); !ok {
			return "", true
		}
	}
	return s, false
}

// scalarString is a string, or a number written the way JSON writes it; "" for anything else.
func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case json.Number:
		return v.String()
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// how a contact was come by, for the attempt's message.
type how string

const (
	contactFound   how = "found"
	contactCreated how = "created"
)

// contact is the part of HubSpot's contact object the actions use.
type contact struct {
	id  string
	how how
	// withProps: the contact was created with the action's property already set.
	withProps bool
	// group is how many attempts came by their contacts in the same batch create as this one
	// (0: alone); they head for the memberships calls together.
	group int
}

type contactObject struct {
	ID         string             `json:"id"`
	Properties map[string]*string `json:"properties"`
}

// findOrCreate creates the contact with props (the mapped fields, update_property's property
// and the email), or finds it when it exists: a create answered 409 names the existing contact. Create
// first, not read first: a new contact then costs one call instead of two, an existing one two
// either way. A create refused for a mapped field's value falls back to a read by email (GET with
// idProperty=email: HubSpot's search index lags behind writes, a read by unique property does
// not), so a bad mapped value never keeps an existing contact from its action.
func (c *caller) findOrCreate(ctx context.Context, email string, props map[string]string) (*contact, *destination.Result) {
	status, b, res := c.send(ctx, http.MethodPost, "/crm/v3/objects/contacts", nil, map[string]any{"properties": props})
	if res == nil {
		var created contactObject
		if json.Unmarshal(b, &created) != nil || created.ID == "" {
			return nil, c.Unexpected(status, "its answer names no contact id")
		}
		return &contact{id: created.ID, how: contactCreated, withProps: true}, nil
	}
	switch res.HTTPStatus {
	case http.StatusConflict:
		// The contact exists: the conflict names it.
		if id := conflictID(b); id != "" {
			return &contact{id: id, how: contactFound}, nil
		}
	case http.StatusBadRequest:
		// Refused for a value: an existing contact is still found (and left as it is).
	default:
		prefix(res, "creating the contact")
		return nil, res
	}
	found, fres := c.byEmail(ctx, email)
	if fres != nil {
		return nil, fres
	}
	if found != "" {
		return &contact{id: found, how: contactFound}, nil
	}
	if res.HTTPStatus == http.StatusBadRequest {
		prefix(res, "creating the contact")
		return nil, res
	}
	out := destination.Result{Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: http.StatusConflict, Response: c.Last(),
		Message: "HubSpot says a contact with this email exists but does not return it yet; retried later"}
	c.Redact(&out)
	return nil, &out
}

// byEmail returns the id of the contact with the email, "" when HubSpot has none.
func (c *caller) byEmail(ctx context.Context, email string) (string, *destination.Result) {
	q := url.Values{"idProperty": {"email"}, "properties": {"email"}}
	status, b, res := c.send(ctx, http.MethodGet, "/crm/v3/objects/contacts/"+url.PathEscape(email), q, nil)
	if res != nil {
		if res.HTTPStatus == http.StatusNotFound {
			if e := parseError(b); e == nil || e.Category == "" || e.Category == "OBJECT_NOT_FOUND" {
				return "", nil
			}
		}
		prefix(res, "looking up the contact")
		return "", res
	}
	var ct contactObject
	if json.Unmarshal(b, &ct) != nil || ct.ID == "" {
		return "", c.Unexpected(status, "its answer names no contact id")
	}
	return ct.ID, nil
}

// conflictPattern finds the id in "Contact already exists. Existing ID: 1234".
var conflictPattern = regexp.MustCompile(`Existing ID: ?([0-9]+)`)

func conflictID(body []byte) string {
	e := parseError(body)
	if e == nil {
		return ""
	}
	if m := conflictPattern.FindStringSubmatch(e.Message); m != nil {
		return m[1]
	}
	return ""
}

// checkList makes sure the list can take membership changes: a contact list (object type
// 0-1) that is MANUAL or SNAPSHOT. What HubSpot says of a list is kept for the sender's life.
func (s *Sender) checkList(ctx context.Context, c *caller, id string) *destination.Result {
	li, ok := s.lists.get(id)
	if !ok {
		var got struct {
			List struct {
				ListID         json.Number `json:"listId"`
				Name           string      `json:"name"`
				ProcessingType string      `json:"processingType"`
				ObjectTypeID   string      `json:"objectTypeId"`
			} `json:"list"`
		}
		if res := c.call(ctx, http.MethodGet, "/crm/v3/lists/"+url.PathEscape(id), nil, nil, &got); res != nil {
			prefix(res, "reading list "+id)
			return res
		}
		if got.List.ListID == "" || got.List.ProcessingType == "" {
			return c.Unexpected(c.Status(), "its answer names no list or no processing type")
		}
		li = listInfo{name: got.List.Name, processingType: strings.ToUpper(got.List.ProcessingType), objectTypeID: got.List.ObjectTypeID}
		s.lists.put(id, li)
	}
	if li.objectTypeID != "" && li.objectTypeID != contactsObjectType {
		return refuse(c, "HubSpot list "+id+" ("+strconv.Quote(li.name)+") holds object type "+li.objectTypeID+", not contacts: choose a contact list")
	}
	switch li.processingType {
	case "MANUAL", "SNAPSHOT":
		return nil
	}
	return refuse(c, "HubSpot list "+id+" ("+strconv.Quote(li.name)+") is "+li.processingType+
		": HubSpot only lets records be added to or removed from MANUAL and SNAPSHOT (static) lists")
}

func refuse(c *caller, msg string) *destination.Result {
	res := destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: msg}
	c.Redact(&res)
	return &res
}

// contactsObjectType is the object type id of contacts.
const contactsObjectType = "0-1"

type membershipAnswer struct {
	// HubSpot's documented spelling.
	Added   []json.Number `json:"recordsIdsAdded"`
	Added2  []json.Number `json:"recordIdsAdded"`
	Removed []json.Number `json:"recordIdsRemoved"`
	Missing []json.Number `json:"recordIdsMissing"`
}

func has(ids []json.Number, id string) bool {
	for _, x := range ids {
		if x.String() == id {
			return true
		}
	}
	return false
}

// addToList puts the contact in the list; one already in it is delivered, as HubSpot ignores it.
func (s *Sender) addToList(ctx context.Context, c *caller, ct *contact, listID string) (string, *destination.Result) {
	b, res := s.membership(ctx, c, listID, false, ct, "adding the contact to list "+listID)
	if res != nil {
		return "", res
	}
	switch {
	case has(b.ans.Added, ct.id) || has(b.ans.Added2, ct.id):
		return "added to list " + listID, nil
	case has(b.ans.Missing, ct.id):
		out := destination.Result{Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: b.status, Response: b.last,
			Message: "HubSpot's lists do not know contact " + ct.id + " yet; retried later"}
		c.Redact(&out)
		return "", &out
	}
	return "already in list " + listID, nil
}

// removeFromList takes the contact out of the list; one not in it (a contact just created) is
// delivered.
func (s *Sender) removeFromList(ctx context.Context, c *caller, ct *contact, listID string) (string, *destination.Result) {
	if ct.how == contactCreated {
		return "a new contact is in no list " + listID + " to be removed from", nil
	}
	b, res := s.membership(ctx, c, listID, true, ct, "removing the contact from list "+listID)
	if res != nil {
		return "", res
	}
	switch {
	case has(b.ans.Removed, ct.id):
		return "removed from list " + listID, nil
	case has(b.ans.Missing, ct.id):
		return "HubSpot's lists do not know the contact, so it is not in list " + listID, nil
	}
	return "it was not in list " + listID, nil
}

// membership runs the attempt's membership change in the connection's next batch (batch.go) and
// makes the batch's answer the attempt's last one (its status and excerpt).
func (s *Sender) membership(ctx context.Context, c *caller, listID string, remove bool, ct *contact, step string) (*membershipBatch, *destination.Result) {
	b, err := s.members.change(ctx, listID, remove, ct.id, ct.group)
	if err != nil {
		res := destination.ClassifyTransportError(ctx, err, callTimeout, s.p.Base)
		prefix(&res, step)
		return nil, &res
	}
	c.batched, c.batchStatus, c.batchLast = true, b.status, b.last
	if b.res != nil {
		res := *b.res
		prefix(&res, step)
		return nil, &res
	}
	return b, nil
}

// updateProperty sets the property of a contact that was found (a contact just created got it
// with its other properties).
func (c *caller) updateProperty(ctx context.Context, ct *contact, name, value string) (string, *destination.Result) {
	if ct.withProps {
		return "property " + name + " set", nil
	}
	body := map[string]any{"properties": map[string]string{name: value}}
	var updated contactObject
	if res := c.call(ctx, http.MethodPatch, "/crm/v3/objects/contacts/"+url.PathEscape(ct.id), nil, body, &updated); res != nil {
		prefix(res, "updating property "+name)
		return "", res
	}
	return "property " + name + " updated", nil
}

// prefix says which step a provider's refusal answered.
func prefix(res *destination.Result, step string) {
	if res.HTTPStatus != 0 {
		res.Message = step + ": " + res.Message
	}
}
