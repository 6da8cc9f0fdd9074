package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
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
// normalised, secrets in the clear); a failure is a 422 naming the fields the adapter names
// (a webhook's metadata.url, so that a form shows it beside that input), else the metadata.
func (s *Server) testConnection(ctx context.Context, in *destination.Integration, conn *switchyard.Connection) error {
	p := destination.Provision{Connection: conn}
	if err := s.managedTokens(ctx, in, conn, &p); err != nil {
		return err
	}
	if err := destination.TestConnection(ctx, in, s.DestinationOptions, p); err != nil {
		if se := (*switchyard.Error)(nil); errors.As(err, &se) && len(se.Fields) > 0 {
			return &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "The connection test failed: " + se.Message, Fields: se.Fields}
		}
		return &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "The connection test failed: " + err.Error(),
			Fields: []switchyard.FieldError{{Param: "metadata", Msg: "test request failed: " + err.Error()}}}
	}
	return nil
}

func (s *Server) connectionList(w http.ResponseWriter, r *http.Request) error {
	return s.listConnections(w, r, uuid.Nil)
}

// listConnections writes a page of the organization's connections, or of one workspace's.
func (s *Server) listConnections(w http.ResponseWriter, r *http.Request, wsID uuid.UUID) error {
	lq, err := parseListQuery(r, 0)
	if err != nil {
		return err
	}
	page, err := s.Store.ConnectionList(r.Context(), store.ConnectionListParams{ListParams: lq.list(principalFrom(r.Context())), WorkspaceID: wsID})
	if err != nil {
		return err
	}
	records := make([]*connectionJSON, 0, len(page.Records))
	for _, c := range page.Records {
		records = append(records, s.connectionWire(c))
	}
	writeJSON(w, http.StatusOK, pageWire(records, lq.limit, page.NextCursor))
	return nil
}

// connection loads the path's connection_id in the caller's organization; one in a workspace
// outside the caller's limit is not found either.
func (s *Server) connection(r *http.Request) (*switchyard.Connection, error) {
	id, err := pathID(r, "connection_id")
	if err != nil {
		return nil, err
	}
	p := principalFrom(r.Context())
	c, err := s.Store.ConnectionGet(r.Context(), store.ConnectionGetParams{OrganizationID: p.OrganizationID, ID: id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Connection")
	} else if err != nil {
		return nil, err
	}
	if err := p.visible(c.WorkspaceID, "Connection"); err != nil {
		return nil, err
	}
	return c, nil
}

// connectionUpdateRequest is the body of PUT /connections/{id}. The type and workspace of a
// connection cannot change; fields other than these are ignored.
type connectionUpdateRequest struct {
	Name     *string        `json:"name"`
	Metadata map[string]any `json:"metadata"`
	Hidden   *bool          `json:"hidden"`
}

// connectionUpdate replaces a connection's name, metadata and hidden flag.
//
// Secrets are never returned, so a client that read a connection cannot send its secrets back.
// For each field the integration declares secret, a PUT that omits the key or sends the mask
// "********" keeps the stored (sealed) value; any other value replaces it, and null or "" clears
// it. The merged metadata is validated as on create, the connection is tested again (unless
// skip_url_test), and a successful update reactivates a deactivated connection: saving is how
// a customer fixes what deactivated it.
func (s *Server) connectionUpdate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	conn, err := s.connection(r)
	if err != nil {
		return err
	}
	var req connectionUpdateRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	var f fields
	f.checkString("name", req.Name, true, 1, 128, connectionNamePattern, "may contain only letters, digits, spaces, _ and -")
	if req.Metadata == nil {
		f.add("metadata", "is required and must be an object")
	}
	if err := f.err(); err != nil {
		return err
	}
	integration, ok := s.Integrations.Get(conn.Type)
	if !ok {
		return &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "This server has no " + conn.Type + " integration."}
	}
	stored, err := secret.OpenFields(s.Box, conn.Metadata, integration.SecretFields())
	if err != nil {
		return fmt.Errorf("opening connection secrets: %w", err)
	}
	merged := keepSecrets(req.Metadata, stored, integration.SecretFields())
	meta, metaErrs := integration.ValidateMetadata(merged, s.DestinationOptions)
	if len(metaErrs) > 0 {
		return invalid(metaErrs...)
	}
	hidden := conn.Hidden
	if req.Hidden != nil {
		hidden = *req.Hidden
	}
	candidate := *conn
	candidate.Name, candidate.Metadata, candidate.Hidden = *req.Name, meta, hidden
	if err := s.testConnection(ctx, integration, &candidate); err != nil {
		return err
	}
	sealed, err := secret.SealFields(s.Box, meta, integration.SecretFields())
	if err != nil {
		return err
	}
	updated, err := s.Store.ConnectionUpdate(ctx, store.ConnectionUpdateParams{OrganizationID: p.OrganizationID, ID: conn.ID,
		Name: *req.Name, Metadata: sealed, Hidden: hidden, Now: s.Now().UTC()})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Connection")
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.connectionWire(updated))
	return nil
}

// keepSecrets returns a copy of meta in which each secret key that is absent or masked takes
// its stored (opened) value, if there is one.
func keepSecrets(meta, stored map[string]any, secretKeys []string) map[string]any {
	out := make(map[string]any, len(meta))
	for k, v := range meta {
		out[k] = v
	}
	for _, k := range secretKeys {
		v, present := out[k]
		if present && v != destination.MaskedValue {
			continue
		}
		if old, ok := stored[k]; ok && old != nil && old != "" {
			out[k] = old
		} else {
			delete(out, k)
		}
	}
	return out
}

// connectionDelete deletes a connection. A connection with active rules is kept (409) unless
// the body (or the query) says force_delete: then its rules go with it. Either way its
// unfinished deliveries are canceled.
func (s *Server) connectionDelete(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r, "connection_id")
	if err != nil {
		return err
	}
	if principalFrom(ctx).limited() {
		if _, err := s.connection(r); err != nil {
			return err
		}
	}
	body, err := readBody(r, s.Limits.MaxBodyBytes)
	if err != nil {
		return err
	}
	var req struct {
		ForceDelete *bool `json:"force_delete"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return err
		}
	}
	force := req.ForceDelete != nil && *req.ForceDelete
	if v := r.URL.Query().Get("force_delete"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return invalid(switchyard.FieldError{Param: "force_delete", Msg: "must be true or false"})
		}
		force = force || b
	}
	conn, err := s.Store.ConnectionDelete(ctx, store.ConnectionDeleteParams{OrganizationID: principalFrom(ctx).OrganizationID,
		ID: id, Force: force, Now: s.Now().UTC()})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("Connection")
	case errors.Is(err, store.ErrConflict):
		return &switchyard.Error{Code: switchyard.ECONFLICT,
			Message: "The connection has active rules: delete or deactivate them first, or send {\"force_delete\": true} to delete them with it."}
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": conn.ID, "type": conn.Type})
	return nil
}

// connectionActions returns the live action data of a connection, keyed by action: the lists,
// tags or channels a rule's action can pick from. Integrations without action data (webhook)
// have none, so the object is empty.
func (s *Server) connectionActions(w http.ResponseWriter, r *http.Request) error {
	conn, err := s.connection(r)
	if err != nil {
		return err
	}
	data := map[string]any{}
	err = s.withSender(r.Context(), conn, func(sender destination.Sender) error {
		if src, ok := sender.(destination.ActionDataSource); ok {
			d, err := src.ActionData(r.Context())
			if err != nil {
				return providerError("action data", err)
			}
			if d != nil {
				data = d
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, data)
	return nil
}
