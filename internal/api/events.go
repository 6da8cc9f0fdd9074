package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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

// checkEventName validates an event name: 1–255 characters, not blank, no control characters.
// (Invalid UTF-8 never gets here from a body: checkJSONText refuses it first.)
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
		if _, err := s.Store.WorkspaceGet(ctx, p.OrganizationID, e.WorkspaceID); errors.Is(err, store.ErrNotFound) {
			return invalid(switchyard.FieldError{Param: "workspace", Msg: "not found"})
		} else if err != nil {
			return err
		}
	}
	if err := s.ingester.insert(ctx, e); err != nil {
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
	writeJSON(w, http.StatusCreated, map[string]any{"event": acceptedEventWire(e)})
	return nil
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
	e, err := s.Store.EventGet(r.Context(), store.EventGetParams{OrganizationID: orgID, ID: id, WithPayload: withPayload})
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
	ds, err := s.Store.DeliveryListByEvent(r.Context(), orgID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, eventWire(e, ds))
	return nil
}
