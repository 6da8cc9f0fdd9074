package embed

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/api"
)

// Operator renders one workspace page fragment (connections, rules, events or event) for the
// operator dashboard (internal/dashboard), which authenticates its own owner sessions: the page
// an owner workspace session with the payload scope sees, without the forms (they post with an
// embed session's token). Links keep their data-page/data-query attributes for the caller's
// script. It reports false when the page or the record does not exist.
func (h *Handler) Operator(ctx context.Context, w io.Writer, orgID, workspaceID uuid.UUID, page string, q url.Values) (bool, error) {
	ss := &api.Session{OrganizationID: orgID, WorkspaceID: workspaceID, Role: api.SessionRoleOwner,
		Type: api.SessionTypeWorkspace, Scopes: []string{api.SessionScopePayloadRead}}
	if page == "dashboard" || !allowed(ss.Type, page) {
		return false, nil
	}
	data, status, err := h.load(ctx, ss, page, q)
	if err != nil || status == http.StatusNotFound {
		return false, err
	}
	if m, ok := data.(map[string]any); ok {
		m["Can"], m["Workspace"] = can{}, workspaceID
	}
	return true, h.pages.ExecuteTemplate(w, page, data)
}
