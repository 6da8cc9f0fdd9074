package api

import (
	"errors"
	"net/http"

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
