package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// eventRequest is one event as emitted. Payload stays raw so it is stored byte for byte.
type eventRequest struct {
	Event      *string         `json:"event"`
	Payload    json.RawMessage `json:"payload"`
	Resource   *string         `json:"resource"`
	ResourceID *string         `json:"resource_id"`
	Type       *string         `json:"type"`
	Workspace  *string         `json:"workspace"`
	// IdempotencyKey is Switchyard's per-event key (bulk items); single events may use the
	// Idempotency-Key header instead.
	IdempotencyKey *string `json:"idempotency_key"`
}

// maxEventNameLen bounds event names (the Meshes API does not say; 255 leaves room for any
// dotted product-event name).
const maxEventNameLen = 255

// ValidEventName reports whether name is one the API accepts for an event: what a filter by
// event name may hold (the embed UI ignores any other, as it ignores a bad status).
func ValidEventName(name string) bool {
	var f fields
	f.checkEventName("event", &name)
	return len(f) == 0
}

// checkEventName validates an event name: 1–255 characters of valid UTF-8, not blank, no
// control characters (NUL included).
func (f *fields) checkEventName(param string, v *string) {
	n := len(*f)
	f.checkString(param, v, true, 1, maxEventNameLen, nil, "")
	if len(*f) > n {
		return
	}
	if v != nil && strings.TrimSpace(*v) == "" {
		f.add(param, "must not be blank")
		return
	}
	if v != nil {
		for _, r := range *v {
			if unicode.IsControl(r) {
				f.add(param, "must not contain control characters")
				return
			}
		}
	}
}

// validate checks an event and returns it ready to insert, for the given principal.
func (s *Server) validateEvent(req *eventRequest, p *principal, param string) (*switchyard.Event, error) {
	var f fields
	at := func(name string) string { return param + name }
	f.checkEventName(at("event"), req.Event)
	f.checkIdempotencyKey(at("idempotency_key"), req.IdempotencyKey)
	payload := bytes.TrimSpace(req.Payload)
	switch {
	case len(payload) == 0 || bytes.Equal(payload, []byte("null")):
		f.add(at("payload"), "is required")
	case payload[0] != '{':
		f.add(at("payload"), "must be a JSON object")
	case len(payload) > s.Limits.MaxPayloadBytes:
		return nil, &switchyard.Error{Code: switchyard.ETOOLARGE,
			Message: fmt.Sprintf("Event payload is larger than the limit of %d bytes.", s.Limits.MaxPayloadBytes),
			Fields:  []switchyard.FieldError{{Param: at("payload"), Msg: fmt.Sprintf("must be at most %d bytes", s.Limits.MaxPayloadBytes)}}}
	}
	f.checkString(at("resource"), emptyAsNil(req.Resource), false, 1, 64, resourcePattern, "may contain only letters, digits and . _ : -")
	f.checkString(at("resource_id"), emptyAsNil(req.ResourceID), false, 1, 64, resourceIDPattern, "may contain only letters, digits and . _ : -")
	if req.Type != nil && *req.Type != "event" {
		f.add(at("type"), `must be "event"`)
	}
	wsID := uuid.Nil
	if p.Workspace != nil {
		// A publishable key names its workspace; a workspace in the body is ignored.
		wsID = p.Workspace.ID
	} else {
		wsID = f.checkUUID(at("workspace"), req.Workspace)
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	if err := p.requireResource(param, deref(req.Resource), deref(req.ResourceID)); err != nil {
		return nil, err
	}
	resource := deref(req.Resource)
	if resource == "" {
		resource = switchyard.DefaultResource
	}
	return &switchyard.Event{ID: uuid.Must(uuid.NewV7()), OrganizationID: p.OrganizationID, WorkspaceID: wsID,
		IdempotencyKey: deref(req.IdempotencyKey),
		Name:           *req.Event, Resource: resource, ResourceID: deref(req.ResourceID), Payload: payload,
		CreatedBy: p.createdBy(), CreatedAt: s.Now().UTC()}, nil
}

func (s *Server) eventCreate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	arrival := s.ingester.expect()
	defer arrival.withdraw()
	var req eventRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	if key := r.Header.Get(idempotencyKeyHeader); key != "" {
		req.IdempotencyKey = &key
	}
	e, err := s.validateEvent(&req, p, "")
	if err != nil {
		return err
	}
	if p.Workspace == nil {
		if err := p.requireWorkspace(e.WorkspaceID); err != nil {
			return err
		}
		if _, err := s.Store.WorkspaceGet(ctx, store.WorkspaceGetParams{OrganizationID: p.OrganizationID, ID: e.WorkspaceID}); errors.Is(err, store.ErrNotFound) {
			return invalid(switchyard.FieldError{Param: "workspace", Msg: "not found"})
		} else if err != nil {
			return err
		}
	}
	if err := s.ingester.insert(ctx, arrival, e); err != nil {
		return err
	}
	if e.Replayed {
		// The same status and event as the first time; nothing new was stored or delivered.
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		s.Metrics.EventsAccepted(1)
		if e.TotalRules > 0 {
			s.Accepted() // only events with deliveries give the engine work
		}
	}
	writeJSON(w, http.StatusCreated, acceptedEventAnswer{Event: acceptedEventWire(e)})
	return nil
}

// acceptedEventAnswer is POST /events' answer, {"event": …}: a struct rather than a map, which
// encoding/json would allocate, iterate and sort on every accepted event.
type acceptedEventAnswer struct {
	Event *acceptedEventJSON `json:"event"`
}

// idempotencyKeyHeader names the header that makes an emit idempotent (docs/decisions.md §4).
const idempotencyKeyHeader = "Idempotency-Key"

// checkIdempotencyKey validates an optional idempotency key: 1–255 characters, none of them
// control characters.
func (f *fields) checkIdempotencyKey(param string, v *string) {
	if v == nil {
		return
	}
	f.checkString(param, v, true, 1, 255, nil, "")
	for _, r := range *v {
		if unicode.IsControl(r) {
			f.add(param, "must not contain control characters")
			return
		}
	}
}

// eventGet returns an event with its rule_events.
func (s *Server) eventGet(w http.ResponseWriter, r *http.Request) error {
	return s.writeEvent(w, r, false)
}

// writeEvent answers with the event named in the path and its rule_events, with its payload if
// withPayload.
func (s *Server) writeEvent(w http.ResponseWriter, r *http.Request, withPayload bool) error {
	id, err := pathID(r, "event_id")
	if err != nil {
		return err
	}
	orgID := principalFrom(r.Context()).OrganizationID
	e, ds, err := s.Store.EventGetWithDeliveries(r.Context(), store.EventGetParams{OrganizationID: orgID, ID: id, WithPayload: withPayload})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Event")
	} else if err != nil {
		return err
	}
	if err := principalFrom(r.Context()).visible(e.WorkspaceID, "Event"); err != nil {
		return err
	}
	if err := principalFrom(r.Context()).inResource(e.Resource, e.ResourceID, "Event"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, eventWire(e, ds))
	return nil
}

func (s *Server) eventList(w http.ResponseWriter, r *http.Request) error {
	return s.listEvents(w, r, uuid.Nil)
}

// listEvents writes a page of the organization's events, or of one workspace's, each with its
// rule_events (no payloads), filtered by event, status, resource and resource_id.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, wsID uuid.UUID) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	lq, err := parseListQuery(r, filterEvent|filterResource|filterStatus)
	if err != nil {
		return err
	}
	page, ds, err := s.Store.EventListWithDeliveries(ctx, store.EventListParams{ListParams: lq.list(p), WorkspaceID: wsID,
		Event: lq.event, Resource: lq.resource, ResourceID: lq.resourceID, Status: lq.status})
	if err != nil {
		return err
	}
	byEvent := make(map[uuid.UUID][]*switchyard.Delivery, len(page.Records))
	for _, d := range ds {
		byEvent[d.EventID] = append(byEvent[d.EventID], d)
	}
	records := make([]*eventJSON, 0, len(page.Records))
	for _, e := range page.Records {
		records = append(records, eventWire(e, byEvent[e.ID]))
	}
	writeJSON(w, http.StatusOK, pageWire(records, lq.limit, page.NextCursor))
	return nil
}

// eventPayload returns an event with its rule_events and its payload as it was emitted.
func (s *Server) eventPayload(w http.ResponseWriter, r *http.Request) error {
	return s.writeEvent(w, r, true)
}

// maxBulkEvents is the most events one bulk request may carry.
const maxBulkEvents = 100

// bulkResultJSON is the body of POST /events/bulk: one record per input item, in input order,
// either the accepted event or an error in the Meshes error shape.
type bulkResultJSON struct {
	Count      int   `json:"count"`
	ErrorCount *int  `json:"error_count,omitempty"`
	Records    []any `json:"records"`
}

// eventBulkCreate accepts 1–100 events. Each item is validated and accepted on its own: a bad
// item gets an error record and does not stop the others (207), and when every item is good the
// answer is 201. The accepted items are stored in one transaction, so that a bulk request costs
// one commit; a failure of that transaction (the database, never an item) fails the whole
// request and stores nothing. count is the number of events accepted, error_count the number
// refused.
func (s *Server) eventBulkCreate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	arrival := s.ingester.expect()
	defer arrival.withdraw()
	items, err := s.bulkItems(r)
	// A bulk request costs one token per event it carries (one if it carries none that count),
	// charged before anything else is done with it.
	if err := s.rateLimit(w, p, max(1, len(items))); err != nil {
		return err
	}
	if err != nil {
		return err
	}

	records := make([]any, len(items))
	var (
		accepted   []*switchyard.Event
		errorCount int
		workspaces = map[uuid.UUID]error{}
	)
	fail := func(i int, err error) {
		_, body := errorResponse(err)
		records[i] = body
		errorCount++
	}
	// An Idempotency-Key header on a bulk request gives each item without its own key the key
	// "<header>:<index>", so that retrying the same request stores nothing twice.
	bulkKey := r.Header.Get(idempotencyKeyHeader)
	for i := range items {
		if items[i].err != nil {
			fail(i, items[i].err)
			continue
		}
		req := &items[i].req
		if bulkKey != "" && req.IdempotencyKey == nil {
			k := bulkKey + ":" + strconv.Itoa(i)
			req.IdempotencyKey = &k
		}
		e, err := s.validateEvent(req, p, "")
		if err != nil {
			fail(i, err)
			continue
		}
		if p.Workspace == nil {
			if err := p.requireWorkspace(e.WorkspaceID); err != nil {
				fail(i, err)
				continue
			}
			werr, seen := workspaces[e.WorkspaceID]
			if !seen {
				_, werr = s.Store.WorkspaceGet(ctx, store.WorkspaceGetParams{OrganizationID: p.OrganizationID, ID: e.WorkspaceID})
				if errors.Is(werr, store.ErrNotFound) {
					werr = invalid(switchyard.FieldError{Param: "workspace", Msg: "not found"})
				} else if werr != nil {
					return werr
				}
				workspaces[e.WorkspaceID] = werr
			}
			if werr != nil {
				fail(i, werr)
				continue
			}
		}
		records[i] = e
		accepted = append(accepted, e)
	}
	if len(accepted) > 0 {
		// Committed as a whole, in a group commit with other requests' events; not canceled
		// with the request once queued.
		if err := s.ingester.insert(context.WithoutCancel(ctx), arrival, accepted...); err != nil {
			return err
		}
		fresh, routed := 0, false
		for _, e := range accepted {
			if !e.Replayed {
				fresh++
				routed = routed || e.TotalRules > 0
			}
		}
		s.Metrics.EventsAccepted(fresh)
		if routed {
			s.Accepted()
		}
	}
	for i, rec := range records {
		if e, ok := rec.(*switchyard.Event); ok {
			records[i] = acceptedEventWire(e)
		}
	}
	out := &bulkResultJSON{Count: len(accepted), Records: records}
	status := http.StatusCreated
	if errorCount > 0 {
		out.ErrorCount = &errorCount
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, out)
	return nil
}

// bulkItem is one item of a bulk request: what it decoded to, or its own refusal.
type bulkItem struct {
	req eventRequest
	err error
}

// bulkItems reads a bulk request's body: a JSON array of 1–100 items, each decoded on its own so
// that a bad item is refused in its record and does not stop its neighbours. A body that is not
// such an array (or not JSON) is refused as a whole. It is one pass of the decoder over the body:
// each item is read and decoded where it stands (decoding the array into raw items first, then
// each item, read every byte four times — a quarter of the CPU of a bulk of 8 KB payloads).
func (s *Server) bulkItems(r *http.Request) ([]bulkItem, error) {
	body, err := readBody(r, s.Limits.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return decodeBulk(body)
}

var (
	// errNotBulk refuses a bulk body that is not a JSON array; errBulkSize one of no events or
	// more than maxBulkEvents.
	errNotBulk  = &switchyard.Error{Code: switchyard.EINVALID, Message: "Request body must be a JSON array of 1 to 100 events."}
	errBulkSize = &switchyard.Error{Code: switchyard.EINVALID, Message: errNotBulk.Message,
		Fields: []switchyard.FieldError{{Param: "events", Msg: "must hold 1 to 100 events"}}}
)

// decodeBulk is bulkItems on a body already read.
func decodeBulk(body []byte) ([]bulkItem, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, errNotBulk
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the '['
		return nil, errNotJSON
	}
	var items []bulkItem
	for dec.More() {
		start := dec.InputOffset()
		var it bulkItem
		if err := dec.Decode(&it.req); err != nil {
			var typeErr *json.UnmarshalTypeError
			if !errors.As(err, &typeErr) {
				return nil, errNotJSON // the decoder stops at bad syntax: the body is not JSON
			}
			it.err = decodeError(err) // the item was read whole; the next one follows
		} else {
			// The item's text (less the comma and white space before it) is held to the text rule.
			it.err = checkJSONText(bytes.TrimLeft(body[start:dec.InputOffset()], ", \t\r\n"))
		}
		items = append(items, it)
	}
	if _, err := dec.Token(); err != nil { // the ']'
		return nil, errNotJSON
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		return nil, errTrailingData
	}
	if len(items) == 0 || len(items) > maxBulkEvents {
		return nil, errBulkSize
	}
	return items, nil
}

// acceptedEventWire is an event as the ingestion endpoints return it.
func acceptedEventWire(e *switchyard.Event) *acceptedEventJSON {
	return &acceptedEventJSON{ID: e.ID, Type: "event", Event: e.Name, Resource: e.Resource, ResourceID: e.ResourceID,
		Workspace: e.WorkspaceID, Status: string(e.Status), CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt}
}
