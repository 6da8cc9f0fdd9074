package api

import (
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
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// A connection's destination field catalogue and its default field mapping.

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
