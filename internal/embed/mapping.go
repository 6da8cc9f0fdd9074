package embed

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/api"
	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/mapping"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// mappings is what the mapping page needs of the API (api.Server implements it): the mapping a
// connection delivers with, stored or generated, and the destination's field catalog.
type mappings interface {
	DefaultMapping(ctx context.Context, conn *switchyard.Connection, withCatalog bool) (*switchyard.Mapping, *mapping.Schema, []destination.CatalogField, error)
}

// mapping loads the mapping page of the connection q names: the stored mapping (or the one
// generated from the catalog before any is saved), the catalog for reference, and a form to save
// it where the session may (a stale version is the API's 409, shown in the form).
func (h *Handler) mapping(ctx context.Context, ss *api.Session, q url.Values) (any, int, error) {
	id, err := uuid.Parse(q.Get("id"))
	if err != nil {
		return nil, http.StatusNotFound, nil
	}
	conn, err := h.cfg.Store.ConnectionGet(ctx, ss.OrganizationID, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && conn.WorkspaceID != ss.WorkspaceID) {
		return nil, http.StatusNotFound, nil
	} else if err != nil {
		return nil, 0, err
	}
	src, ok := h.cfg.Sessions.(mappings)
	if !ok {
		return nil, http.StatusNotFound, nil
	}
	stored, generated, catalog, err := src.DefaultMapping(ctx, conn, true)
	if err != nil {
		return nil, 0, err
	}
	status, version, schema := "generated", 0, json.RawMessage(nil)
	if stored != nil {
		status, version, schema = "stored", stored.Version, stored.Schema
	} else if schema, err = json.Marshal(generated); err != nil {
		return nil, 0, err
	}
	var pretty []byte
	if pretty, err = json.MarshalIndent(json.RawMessage(schema), "", "  "); err != nil {
		pretty = schema
	}
	return map[string]any{"Connection": conn, "Status": status, "Version": version, "Schema": string(pretty),
		"Catalog": catalog}, http.StatusOK, nil
}
