package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

type workspaceRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

func (req *workspaceRequest) validate() error {
	var f fields
	f.checkString("name", req.Name, true, 3, 50, workspaceNamePattern, "may contain only letters, digits, spaces, _ and -")
	f.checkString("description", req.Description, false, 0, 1024, nil, "")
	return f.err()
}

func (s *Server) workspaceCreate(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if err := p.requireAllWorkspaces("creating a workspace"); err != nil {
		return err
	}
	var req workspaceRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	key, err := auth.GeneratePublishableKey()
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	ws := &switchyard.Workspace{ID: uuid.Must(uuid.NewV7()), OrganizationID: p.OrganizationID, Name: *req.Name,
		Description: req.Description, PublishableKey: key, PublishableKeyName: "Default", CreatedAt: now, UpdatedAt: now}
	if err := s.Store.WorkspaceInsert(r.Context(), ws); errors.Is(err, store.ErrConflict) {
		return &switchyard.Error{Code: switchyard.ECONFLICT, Message: "A workspace with this name already exists.",
			Fields: []switchyard.FieldError{{Param: "name", Msg: "is already taken"}}}
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"workspace": workspaceWire(ws, false)})
	return nil
}

func (s *Server) workspaceGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "workspace_id")
	if err != nil {
		return err
	}
	ws, err := s.workspace(r, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, workspaceWire(ws, true))
	return nil
}

func (s *Server) workspaceList(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	page, err := s.Store.WorkspaceList(r.Context(), store.ListParams{OrganizationID: p.OrganizationID,
		Limit: limit, Cursor: r.URL.Query().Get("cursor"), Workspaces: p.workspaces()})
	if err != nil {
		return err
	}
	records := make([]*workspaceJSON, 0, len(page.Records))
	for _, ws := range page.Records {
		records = append(records, workspaceWire(ws, false))
	}
	writeJSON(w, http.StatusOK, pageWire(records, limit, page.NextCursor))
	return nil
}

// workspaceUpdateRequest is the body of PUT /workspaces/{id}. Description stays raw to tell an
// absent description (kept) from null (cleared).
type workspaceUpdateRequest struct {
	Name        *string         `json:"name"`
	Description json.RawMessage `json:"description"`
}

func (s *Server) workspaceUpdate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	id, err := pathID(r, "workspace_id")
	if err != nil {
		return err
	}
	var req workspaceUpdateRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	var (
		f           fields
		description *string
		keep        = len(req.Description) == 0
	)
	f.checkString("name", req.Name, true, 3, 50, workspaceNamePattern, "may contain only letters, digits, spaces, _ and -")
	if !keep && !bytes.Equal(bytes.TrimSpace(req.Description), []byte("null")) {
		if err := json.Unmarshal(req.Description, &description); err != nil {
			f.add("description", "must be a string or null")
		} else {
			f.checkString("description", description, false, 0, 1024, nil, "")
		}
	}
	if err := f.err(); err != nil {
		return err
	}
	ws, err := s.workspace(r, id)
	if err != nil {
		return err
	}
	if keep {
		description = ws.Description
	}
	updated, err := s.Store.WorkspaceUpdate(ctx, store.WorkspaceUpdateParams{OrganizationID: p.OrganizationID, ID: id,
		Name: *req.Name, Description: description, Now: s.Now().UTC()})
	switch {
	case errors.Is(err, store.ErrConflict):
		return &switchyard.Error{Code: switchyard.ECONFLICT, Message: "A workspace with this name already exists.",
			Fields: []switchyard.FieldError{{Param: "name", Msg: "is already taken"}}}
	case errors.Is(err, store.ErrNotFound):
		return notFound("Workspace")
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, workspaceWire(updated, false))
	return nil
}

// workspace loads workspace id of the caller's organization: 403 when the caller's key is
// limited to other workspaces (decided before the lookup), 404 when there is no such workspace.
func (s *Server) workspace(r *http.Request, id uuid.UUID) (*switchyard.Workspace, error) {
	p := principalFrom(r.Context())
	if err := p.requireWorkspace(id); err != nil {
		return nil, err
	}
	ws, err := s.Store.WorkspaceGet(r.Context(), store.WorkspaceGetParams{OrganizationID: p.OrganizationID, ID: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Workspace")
	}
	return ws, err
}

// workspaceScope reads the path's workspace_id and checks that the workspace is the caller's,
// so that a list of another organization's workspace is a 404, not an empty page.
func (s *Server) workspaceScope(r *http.Request) (uuid.UUID, error) {
	id, err := pathID(r, "workspace_id")
	if err != nil {
		return uuid.Nil, err
	}
	if _, err := s.workspace(r, id); err != nil {
		return uuid.Nil, err
	}
	return id, nil
}

func (s *Server) workspaceConnections(w http.ResponseWriter, r *http.Request) error {
	wsID, err := s.workspaceScope(r)
	if err != nil {
		return err
	}
	return s.listConnections(w, r, wsID)
}

func (s *Server) workspaceRules(w http.ResponseWriter, r *http.Request) error {
	wsID, err := s.workspaceScope(r)
	if err != nil {
		return err
	}
	return s.listRules(w, r, wsID)
}

func (s *Server) workspaceEvents(w http.ResponseWriter, r *http.Request) error {
	wsID, err := s.workspaceScope(r)
	if err != nil {
		return err
	}
	return s.listEvents(w, r, wsID)
}

// catalogEntryJSON is an event type or resource as the catalogue endpoints return it.
type catalogEntryJSON struct {
	ID          uuid.UUID `json:"id"`
	Key         string    `json:"key"`
	Label       string    `json:"label"`
	Description *string   `json:"description"`
	Active      bool      `json:"active"`
	CreatedBy   *string   `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func (s *Server) workspaceEventTypes(w http.ResponseWriter, r *http.Request) error {
	return s.catalogue(w, r, switchyard.CatalogEventType)
}

func (s *Server) workspaceResources(w http.ResponseWriter, r *http.Request) error {
	return s.catalogue(w, r, switchyard.CatalogResource)
}

// catalogue writes a workspace's catalogue of one kind as a bare JSON array, as the Meshes API
// does for these two endpoints.
func (s *Server) catalogue(w http.ResponseWriter, r *http.Request, kind switchyard.CatalogKind) error {
	wsID, err := s.workspaceScope(r)
	if err != nil {
		return err
	}
	entries, err := s.Store.CatalogList(r.Context(), store.CatalogListParams{OrganizationID: principalFrom(r.Context()).OrganizationID,
		WorkspaceID: wsID, Kind: kind})
	if err != nil {
		return err
	}
	out := make([]catalogEntryJSON, 0, len(entries))
	for _, e := range entries {
		j := catalogEntryJSON{ID: e.ID, Key: e.Key, Label: e.Label, Description: e.Description, Active: e.Active,
			CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
		if e.CreatedBy != "" {
			j.CreatedBy = &e.CreatedBy
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
