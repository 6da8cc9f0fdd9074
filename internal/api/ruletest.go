package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/delivery"
	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/mapping"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// POST /api/v1/rules/{id}/test sends a test event through a rule — Meshes' dashboard offers it
// as "Send test event"; Switchyard puts it in the API. The event is ad hoc (a payload) or an
// existing one (event_id), and is never stored. With dry_run the answer says what would be sent:
// the rule's params with their templates resolved, the mapped fields, and — for integrations
// that can preview it — the exact request, credentials masked. Without dry_run the action is
// performed once and the attempt's outcome returned; no attempt is recorded.

type ruleTestRequest struct {
	Payload    json.RawMessage `json:"payload"`
	EventID    *string         `json:"event_id"`
	Resource   *string         `json:"resource"`
	ResourceID *string         `json:"resource_id"`
	DryRun     bool            `json:"dry_run"`
}

type ruleTestJSON struct {
	DryRun          bool                        `json:"dry_run"`
	RuleID          uuid.UUID                   `json:"rule_id"`
	ConnectionID    uuid.UUID                   `json:"connection_id"`
	IntegrationType string                      `json:"integration_type"`
	Action          string                      `json:"action"`
	Params          map[string]any              `json:"params"`
	Fields          map[string]any              `json:"fields"`
	MappingWarnings []mapping.Warning           `json:"mapping_warnings"`
	Request         *destination.PreviewRequest `json:"request"`
	Attempt         *ruleTestAttemptJSON        `json:"attempt"`
}

type ruleTestAttemptJSON struct {
	OutcomeCode     switchyard.Outcome `json:"outcome_code"`
	HTTPStatus      *int               `json:"http_status"`
	Message         string             `json:"message"`
	ResponseExcerpt string             `json:"response_excerpt"`
	DurationMS      int64              `json:"duration_ms"`
	// Deactivate is the inactive_reason the outcome would set on the connection in delivery;
	// a test does not deactivate anything.
	Deactivate string `json:"deactivate,omitempty"`
}

func (s *Server) ruleTest(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	rule, err := s.rule(r)
	if err != nil {
		return err
	}
	var req ruleTestRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	var f fields
	payload := bytes.TrimSpace(req.Payload)
	hasPayload := len(payload) > 0 && !bytes.Equal(payload, []byte("null"))
	switch {
	case hasPayload && req.EventID != nil:
		f.add("event_id", "must not be given with payload")
	case !hasPayload && req.EventID == nil:
		f.add("payload", "is required (or event_id)")
	case hasPayload && payload[0] != '{':
		f.add("payload", "must be a JSON object")
	case hasPayload && len(payload) > s.Limits.MaxPayloadBytes:
		f.add("payload", "is larger than the payload limit")
	}
	f.checkString("resource", emptyAsNil(req.Resource), false, 1, 64, resourcePattern, "may contain only letters, digits and . _ : -")
	f.checkString("resource_id", emptyAsNil(req.ResourceID), false, 1, 64, resourceIDPattern, "may contain only letters, digits and . _ : -")
	var eventID uuid.UUID
	if req.EventID != nil {
		eventID = f.checkUUID("event_id", req.EventID)
	}
	if err := f.err(); err != nil {
		return err
	}
	now := s.Now().UTC()
	ev := &switchyard.Event{ID: uuid.Must(uuid.NewV7()), OrganizationID: p.OrganizationID, WorkspaceID: rule.WorkspaceID,
		Name: rule.Event, Resource: switchyard.DefaultResource, Payload: payload, CreatedBy: p.createdBy(), CreatedAt: now}
	if req.EventID != nil {
		// Testing with a stored event shows what its payload renders to: a session needs the
		// payload grant for that.
		if p.Session != nil && !sessionMay(p.Session, sessionPayload) {
			return &switchyard.Error{Code: switchyard.EFORBIDDEN,
				Message: "Testing a rule with a stored event reads its payload: this session may not read payloads."}
		}
		stored, err := s.Store.EventGet(ctx, store.EventGetParams{OrganizationID: p.OrganizationID, ID: eventID, WithPayload: true})
		if errors.Is(err, store.ErrNotFound) || (err == nil && (stored.WorkspaceID != rule.WorkspaceID ||
			p.inResource(stored.Resource, stored.ResourceID, "Event") != nil)) {
			return notFound("Event")
		} else if err != nil {
			return err
		}
		ev = stored
	}
	if v := deref(req.Resource); v != "" {
		ev.Resource = v
	}
	if v := deref(req.ResourceID); v != "" {
		ev.ResourceID = v
	}
	conn, err := s.Store.ConnectionGet(ctx, store.ConnectionGetParams{OrganizationID: p.OrganizationID, ID: rule.ConnectionID})
	if err != nil {
		return err
	}
	in, ok := s.Integrations.Get(conn.Type)
	if !ok {
		return &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "This server has no " + conn.Type + " integration."}
	}
	out := &ruleTestJSON{DryRun: req.DryRun, RuleID: rule.ID, ConnectionID: conn.ID, IntegrationType: conn.Type,
		MappingWarnings: []mapping.Warning{}}
	err = s.withProvisioned(ctx, conn, func(sender destination.Sender, provisioned *switchyard.Connection) error {
		prep, err := delivery.PrepareRequest(ctx, s.Store, in, sender, provisioned, rule, ev, now)
		if err != nil {
			return err
		}
		out.Action, out.Params, out.Fields = prep.Request.Action, prep.Request.Params, prep.Request.Fields
		if prep.Warnings != nil {
			out.MappingWarnings = prep.Warnings
		}
		if req.DryRun {
			if prep.Failed != nil {
				out.Attempt = attemptOf(*prep.Failed, 0)
				return nil
			}
			if pv, ok := sender.(destination.Previewer); ok {
				if out.Request, err = pv.Preview(ctx, prep.Request); err != nil {
					return providerError("request preview", err)
				}
			}
			return nil
		}
		if prep.Failed != nil {
			out.Attempt = attemptOf(*prep.Failed, 0)
			return nil
		}
		start := time.Now()
		res := sender.Deliver(ctx, prep.Request)
		out.Attempt = attemptOf(res, time.Since(start))
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func attemptOf(res destination.Result, d time.Duration) *ruleTestAttemptJSON {
	a := &ruleTestAttemptJSON{OutcomeCode: res.Outcome, Message: res.Message, ResponseExcerpt: res.Response,
		DurationMS: d.Milliseconds(), Deactivate: res.Deactivate}
	if res.HTTPStatus != 0 {
		status := res.HTTPStatus
		a.HTTPStatus = &status
	}
	return a
}
