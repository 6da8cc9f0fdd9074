package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/mapping"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

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
	c, err := s.Store.ConnectionGet(r.Context(), p.OrganizationID, id)
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

// fieldCatalogJSON is a connection's destination field catalog (docs/meshes-compat.md §7).
type fieldCatalogJSON struct {
	ID              uuid.UUID                  `json:"id"`
	WorkspaceID     uuid.UUID                  `json:"workspace_id"`
	ConnectionID    uuid.UUID                  `json:"connection_id"`
	IntegrationType string                     `json:"integration_type"`
	CatalogVersion  string                     `json:"catalog_version"`
	RefreshedAt     time.Time                  `json:"refreshed_at"`
	CreatedBy       string                     `json:"created_by"`
	CreatedAt       time.Time                  `json:"created_at"`
	UpdatedAt       time.Time                  `json:"updated_at"`
	Fields          []destination.CatalogField `json:"fields"`
}

// Stable ids for the records an integration derives rather than stores: the same connection
// always yields the same field catalog id and default mapping id.
var (
	fieldCatalogSpace = uuid.MustParse("6f1f3c59-6c55-4d7a-9a3b-5f0b0c3f6a10")
	mappingSpace      = uuid.MustParse("0b5e6a2c-1d0e-4c8e-8f5e-2f6a9d4b7c21")
)

// connectionFields returns the connection's destination field catalog, loaded from the provider
// through the integration (cached per connection value for 15 minutes; refresh=true reloads it).
// Integrations without destination fields (webhook, which sends the payload as it is) have an
// empty catalog.
func (s *Server) connectionFields(w http.ResponseWriter, r *http.Request) error {
	refresh := false
	if v := r.URL.Query().Get("refresh"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return invalid(switchyard.FieldError{Param: "refresh", Msg: "must be true or false"})
		}
		refresh = b
	}
	conn, err := s.connection(r)
	if err != nil {
		return err
	}
	fields, refreshedAt, ok, err := s.catalog(r.Context(), conn, refresh)
	if err != nil {
		return providerError("field catalog", err)
	}
	if !ok || fields == nil {
		fields, refreshedAt = []destination.CatalogField{}, conn.UpdatedAt
	}
	raw, _ := json.Marshal(fields)
	sum := sha256.Sum256(append([]byte(conn.Type+"\n"), raw...))
	writeJSON(w, http.StatusOK, &fieldCatalogJSON{ID: uuid.NewSHA1(fieldCatalogSpace, conn.ID[:]), WorkspaceID: conn.WorkspaceID,
		ConnectionID: conn.ID, IntegrationType: conn.Type, CatalogVersion: hex.EncodeToString(sum[:8]), RefreshedAt: refreshedAt,
		CreatedBy: conn.CreatedBy, CreatedAt: conn.CreatedAt, UpdatedAt: conn.UpdatedAt, Fields: fields})
	return nil
}

// mappingJSON is a connection's default mapping as the API returns it.
type mappingJSON struct {
	ID              uuid.UUID       `json:"id"`
	MappingID       uuid.UUID       `json:"mapping_id"`
	Version         int             `json:"version"`
	WorkspaceID     uuid.UUID       `json:"workspace_id"`
	ConnectionID    uuid.UUID       `json:"connection_id"`
	IntegrationType string          `json:"integration_type"`
	Name            string          `json:"name"`
	Schema          json.RawMessage `json:"schema"`
	CreatedBy       *string         `json:"created_by,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

type mappingResultJSON struct {
	Status  string       `json:"status"`
	Mapping *mappingJSON `json:"mapping"`
}

func storedMappingWire(m *switchyard.Mapping) *mappingResultJSON {
	out := &mappingJSON{ID: m.ID, MappingID: m.MappingID, Version: m.Version, WorkspaceID: m.WorkspaceID, ConnectionID: m.ConnectionID,
		IntegrationType: m.IntegrationType, Name: m.Name, Schema: m.Schema, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	if m.CreatedBy != "" {
		out.CreatedBy = &m.CreatedBy
	}
	return &mappingResultJSON{Status: "stored", Mapping: out}
}

// defaultMappingID is the mapping id of a connection's default mapping before it is first
// saved, and the one it keeps once it is.
func defaultMappingID(connID uuid.UUID) uuid.UUID { return uuid.NewSHA1(mappingSpace, connID[:]) }

// connectionMappingGet returns the stored default mapping, or a generated one (version 0,
// mapping nothing) when none was saved yet.
func (s *Server) connectionMappingGet(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	conn, err := s.connection(r)
	if err != nil {
		return err
	}
	m, generated, _, err := s.DefaultMapping(ctx, conn, false)
	if err != nil {
		return err
	}
	if m != nil {
		writeJSON(w, http.StatusOK, storedMappingWire(m))
		return nil
	}
	schema, err := json.Marshal(generated)
	if err != nil {
		return err
	}
	id := defaultMappingID(conn.ID)
	writeJSON(w, http.StatusOK, &mappingResultJSON{Status: "generated", Mapping: &mappingJSON{ID: id, MappingID: id,
		WorkspaceID: conn.WorkspaceID, ConnectionID: conn.ID, IntegrationType: conn.Type, Name: "Default", Schema: schema,
		CreatedAt: conn.CreatedAt, UpdatedAt: conn.UpdatedAt}})
	return nil
}

type mappingRequest struct {
	WorkspaceID     *string         `json:"workspace_id"`
	MappingID       *string         `json:"mapping_id"`
	ExpectedVersion *int64          `json:"expected_version"`
	Name            *string         `json:"name"`
	Schema          json.RawMessage `json:"schema"`
}

// connectionMappingPut saves a new version of the default mapping. The schema is validated in
// full (422 naming each failing value); expected_version, when given, must be the current
// version (409 otherwise), so two editors cannot silently overwrite each other.
func (s *Server) connectionMappingPut(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	conn, err := s.connection(r)
	if err != nil {
		return err
	}
	var req mappingRequest
	if err := s.decodeBody(r, &req); err != nil {
		return err
	}
	var f fields
	wsID, mappingID := uuid.Nil, uuid.Nil
	if req.WorkspaceID != nil {
		wsID = f.checkUUID("workspace_id", req.WorkspaceID)
	}
	if req.MappingID != nil {
		mappingID = f.checkUUID("mapping_id", req.MappingID)
	}
	if req.ExpectedVersion != nil && (*req.ExpectedVersion < 1 || *req.ExpectedVersion > 1<<31) {
		f.add("expected_version", "must be a positive integer")
	}
	f.checkString("name", req.Name, false, 1, 64, nil, "")
	if err := f.err(); err != nil {
		return err
	}
	if wsID != uuid.Nil && wsID != conn.WorkspaceID {
		return invalid(switchyard.FieldError{Param: "workspace_id", Msg: "is not the connection's workspace"})
	}
	schema, errs := mapping.Parse(req.Schema, "schema")
	if len(errs) > 0 {
		return &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "Invalid mapping schema: " + errs[0].Param + " " + errs[0].Msg + ".",
			Fields: errs}
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return fmt.Errorf("encoding mapping schema: %w", err)
	}
	params := store.MappingSaveParams{OrganizationID: p.OrganizationID, ConnectionID: conn.ID, MappingID: mappingID,
		NewMappingID: defaultMappingID(conn.ID), Name: deref(req.Name), Schema: raw, CreatedBy: p.createdBy(), Now: s.Now().UTC()}
	if req.ExpectedVersion != nil {
		params.ExpectedVersion = int(*req.ExpectedVersion)
	}
	m, err := s.Store.MappingSave(ctx, params)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("Connection")
	case errors.Is(err, store.ErrConflict):
		return &switchyard.Error{Code: switchyard.ECONFLICT,
			Message: "The mapping changed since you read it (or mapping_id is not this connection's mapping): read it again and retry."}
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, storedMappingWire(m))
	return nil
}

// catalogFields is a catalog as mapping.Generate takes it, without the read-only fields a
// default mapping must not write (the engine leaves them out the same way).
func catalogFields(cat []destination.CatalogField) []mapping.CatalogField {
	out := make([]mapping.CatalogField, 0, len(cat))
	for _, f := range cat {
		if f.Constraints != nil && f.Constraints.ReadOnly {
			continue
		}
		out = append(out, mapping.CatalogField{Key: f.Key, Type: f.Type, Required: f.Constraints != nil && f.Constraints.Required})
	}
	return out
}
