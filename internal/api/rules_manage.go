package api

import (
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
)

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
