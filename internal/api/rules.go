package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/mapping"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

type ruleRequest struct {
	Workspace  *string        `json:"workspace"`
	Connection *string        `json:"connection"`
	Event      *string        `json:"event"`
	Metadata   map[string]any `json:"metadata"`
	Resource   *string        `json:"resource"`
	ResourceID *string        `json:"resource_id"`
	Active     *bool          `json:"active"`
	Hidden     *bool          `json:"hidden"`
}

func (s *Server) ruleCreate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	var req ruleRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	var f fields
	wsID := f.checkUUID("workspace", req.Workspace)
	connID := f.checkUUID("connection", req.Connection)
	f.checkEventName("event", req.Event)
	f.checkString("resource", emptyAsNil(req.Resource), false, 1, 64, resourcePattern, "may contain only letters, digits and . _ : -")
	f.checkString("resource_id", emptyAsNil(req.ResourceID), false, 1, 64, resourceIDPattern, "may contain only letters, digits and . _ : -")
	action, _ := req.Metadata["action"].(string)
	switch {
	case req.Metadata == nil:
		f.add("metadata", "is required and must be an object")
	case action == "":
		f.add("metadata.action", "is required")
	}
	f = append(f, destination.NormaliseNumbers(req.Metadata)...)
	if err := f.err(); err != nil {
		return err
	}
	if err := p.requireResource("", deref(req.Resource), deref(req.ResourceID)); err != nil {
		return err
	}
	if _, err := s.workspace(r, wsID); err != nil {
		return err
	}
	conn, err := s.Store.ConnectionGet(ctx, store.ConnectionGetParams{OrganizationID: p.OrganizationID, ID: connID})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Connection")
	} else if err != nil {
		return err
	}
	if err := p.visible(conn.WorkspaceID, "Connection"); err != nil {
		return err
	}
	if conn.WorkspaceID != wsID {
		return invalid(switchyard.FieldError{Param: "connection", Msg: "belongs to another workspace"})
	}
	if integration, ok := s.Integrations.Get(conn.Type); ok {
		a := integration.Action(action)
		if a == nil {
			return invalid(switchyard.FieldError{Param: "metadata.action", Msg: "is not an action of the " + conn.Type + " integration"})
		}
		// The action's fields are the metadata keys it needs (GET /integrations lists them).
		for _, k := range a.Fields {
			if v, ok := req.Metadata[k]; !ok || v == nil || v == "" {
				f.add("metadata."+k, "is required by the "+action+" action")
			}
		}
	}
	// {{templates}} must at least be well formed: a rule that can never render is refused now,
	// not at every delivery.
	if _, err := mapping.ResolveParams(req.Metadata, json.RawMessage(`{}`)); err != nil {
		var te *mapping.TemplateError
		if errors.As(err, &te) {
			f.add("metadata."+te.Param, te.Reason)
		} else {
			f.add("metadata", err.Error())
		}
	}
	if err := f.err(); err != nil {
		return err
	}

	now := s.Now().UTC()
	rule := &switchyard.Rule{ID: uuid.Must(uuid.NewV7()), OrganizationID: p.OrganizationID, WorkspaceID: wsID, ConnectionID: conn.ID,
		Type: conn.Type, Event: *req.Event, Resource: deref(req.Resource), ResourceID: deref(req.ResourceID), Metadata: req.Metadata,
		Active: req.Active == nil || *req.Active, Hidden: req.Hidden != nil && *req.Hidden, CreatedBy: p.createdBy(),
		CreatedAt: now, UpdatedAt: now}
	if err := s.Store.RuleInsert(ctx, rule); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"rule": ruleWire(rule)})
	return nil
}

func (s *Server) ruleGet(w http.ResponseWriter, r *http.Request) error {
	rule, err := s.rule(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ruleWire(rule))
	return nil
}

// rule loads the path's rule_id in the caller's organization; one in a workspace outside the
// caller's limit is not found either.
func (s *Server) rule(r *http.Request) (*switchyard.Rule, error) {
	id, err := pathID(r, "rule_id")
	if err != nil {
		return nil, err
	}
	p := principalFrom(r.Context())
	rule, err := s.Store.RuleGet(r.Context(), store.RuleGetParams{OrganizationID: p.OrganizationID, ID: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Rule")
	} else if err != nil {
		return nil, err
	}
	if err := p.visible(rule.WorkspaceID, "Rule"); err != nil {
		return nil, err
	}
	if err := p.inResource(rule.Resource, rule.ResourceID, "Rule"); err != nil {
		return nil, err
	}
	return rule, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// emptyAsNil treats an empty optional string as absent.
func emptyAsNil(s *string) *string {
	if s != nil && *s == "" {
		return nil
	}
	return s
}

func (s *Server) ruleList(w http.ResponseWriter, r *http.Request) error {
	return s.listRules(w, r, uuid.Nil)
}

// listRules writes a page of the organization's rules, or of one workspace's, filtered by
// event, resource and resource_id.
func (s *Server) listRules(w http.ResponseWriter, r *http.Request, wsID uuid.UUID) error {
	lq, err := parseListQuery(r, filterEvent|filterResource)
	if err != nil {
		return err
	}
	page, err := s.Store.RuleList(r.Context(), store.RuleListParams{ListParams: lq.list(principalFrom(r.Context())), WorkspaceID: wsID,
		Event: lq.event, Resource: lq.resource, ResourceID: lq.resourceID})
	if err != nil {
		return err
	}
	records := make([]*ruleJSON, 0, len(page.Records))
	for _, rule := range page.Records {
		records = append(records, ruleWire(rule))
	}
	writeJSON(w, http.StatusOK, pageWire(records, lq.limit, page.NextCursor))
	return nil
}

// ruleDeletedJSON is what DELETE /rules/{id} echoes.
type ruleDeletedJSON struct {
	ID         uuid.UUID `json:"id"`
	Connection uuid.UUID `json:"connection"`
	Type       string    `json:"type"`
	Event      string    `json:"event"`
	Resource   string    `json:"resource,omitempty"`
	ResourceID string    `json:"resource_id,omitempty"`
}

// ruleDelete deletes a rule; its deliveries that have not finished are canceled.
func (s *Server) ruleDelete(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r, "rule_id")
	if err != nil {
		return err
	}
	if principalFrom(ctx).limited() {
		if _, err := s.rule(r); err != nil {
			return err
		}
	}
	rule, err := s.Store.RuleDelete(ctx, store.RuleDeleteParams{OrganizationID: principalFrom(ctx).OrganizationID, ID: id, Now: s.Now().UTC()})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Rule")
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &ruleDeletedJSON{ID: rule.ID, Connection: rule.ConnectionID, Type: rule.Type, Event: rule.Event,
		Resource: rule.Resource, ResourceID: rule.ResourceID})
	return nil
}
