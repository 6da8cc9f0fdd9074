package api

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

type connectionRequest struct {
	Workspace *string        `json:"workspace"`
	Type      *string        `json:"type"`
	Name      *string        `json:"name"`
	Metadata  map[string]any `json:"metadata"`
	Hidden    *bool          `json:"hidden"`
}

func (s *Server) connectionCreate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	var req connectionRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	var f fields
	wsID := f.checkUUID("workspace", req.Workspace)
	f.checkString("name", req.Name, true, 1, 128, connectionNamePattern, "may contain only letters, digits, spaces, _ and -")
	var integration *destination.Integration
	switch {
	case req.Type == nil || *req.Type == "":
		f.add("type", "is required")
	default:
		var ok bool
		if integration, ok = s.Integrations.Get(*req.Type); !ok {
			f.add("type", "is not an integration this server supports (see GET /api/v1/integrations)")
		}
	}
	if req.Metadata == nil {
		f.add("metadata", "is required and must be an object")
	}
	var meta map[string]any
	if integration != nil && req.Metadata != nil {
		var metaErrs []switchyard.FieldError
		meta, metaErrs = integration.ValidateMetadata(req.Metadata, s.DestinationOptions)
		f = append(f, metaErrs...)
		if spec := integration.OAuth; spec != nil && len(metaErrs) == 0 && !integration.PastedCredential(meta) {
			// An OAuth connection is made by the OAuth flow, which stores its credential; here
			// only with a credential the customer pastes, where the integration offers one.
			msg := "is made through the OAuth flow: POST /api/v1/connections/oauth/start"
			if len(spec.PasteFields) > 0 {
				msg += ", or paste a credential in metadata." + spec.PasteFields[0]
			}
			f.add("type", msg)
		}
	}
	if err := f.err(); err != nil {
		return err
	}
	if _, err := s.workspace(r, wsID); err != nil {
		return err
	}

	now := s.Now().UTC()
	conn := &switchyard.Connection{ID: uuid.Must(uuid.NewV7()), OrganizationID: p.OrganizationID, WorkspaceID: wsID,
		Type: integration.Type, Name: *req.Name, Metadata: meta, Active: true, Hidden: req.Hidden != nil && *req.Hidden,
		CreatedBy: p.createdBy(), CreatedAt: now, UpdatedAt: now}
	if err := s.testConnection(ctx, integration, conn); err != nil {
		return err
	}
	sealed, err := secret.SealFields(s.Box, meta, integration.SecretFields())
	if err != nil {
		return err
	}
	stored := *conn
	stored.Metadata = sealed
	if err := s.Store.ConnectionInsert(ctx, &stored); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"connection": s.connectionWire(&stored)})
	return nil
}

func (s *Server) connectionGet(w http.ResponseWriter, r *http.Request) error {
	conn, err := s.connection(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.connectionWire(conn))
	return nil
}

// connectionWire renders a connection with its secret fields masked.
func (s *Server) connectionWire(c *switchyard.Connection) *connectionJSON {
	meta := c.Metadata
	if integration, ok := s.Integrations.Get(c.Type); ok {
		meta = integration.Mask(meta)
	}
	if meta == nil {
		meta = map[string]any{}
	}
	return &connectionJSON{ID: c.ID, Workspace: c.WorkspaceID, Type: c.Type, Name: c.Name, Metadata: meta, Active: c.Active,
		InactiveReason: c.InactiveReason, Hidden: c.Hidden, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// testConnection runs the integration's test call on a connection about to be saved (metadata
// normalised, secrets in the clear); a failure is a 422 naming the metadata.
func (s *Server) testConnection(ctx context.Context, in *destination.Integration, conn *switchyard.Connection) error {
	p := destination.Provision{Connection: conn}
	if err := s.managedTokens(ctx, in, conn, &p); err != nil {
		return err
	}
	if err := destination.TestConnection(ctx, in, s.DestinationOptions, p); err != nil {
		return &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "The connection test failed: " + err.Error(),
			Fields: []switchyard.FieldError{{Param: "metadata", Msg: "test request failed: " + err.Error()}}}
	}
	return nil
}
