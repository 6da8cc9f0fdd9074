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
	conn, err := h.cfg.Store.ConnectionGet(ctx, store.ConnectionGetParams{OrganizationID: ss.OrganizationID, ID: id})
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
	// The editor's destination select offers the fields a mapping may write: read-only ones
	// are listed in the catalog table only.
	writable := make([]destination.CatalogField, 0, len(catalog))
	for _, f := range catalog {
		if f.Constraints == nil || !f.Constraints.ReadOnly {
			writable = append(writable, f)
		}
	}
	return map[string]any{"Connection": conn, "Status": status, "Version": version, "Schema": string(pretty),
		"Catalog": catalog, "Writable": writable, "Transforms": transformChoices, "OnErrors": onErrorChoices}, http.StatusOK, nil
}

// choice is an option of the mapping editor's selects: the schema's value and what it does.
type choice struct{ Value, Label string }

// transformChoices are the transforms of docs/mappings.md, in its order; the editor's script
// knows which take parameters (to_date and to_datetime a time zone, default a value, substring
// a start and a length).
var transformChoices = []choice{
	{"to_string", "to_string: to text"}, {"to_number", "to_number: to a number"}, {"to_boolean", "to_boolean: to true or false"},
	{"to_date", "to_date: to a date, in a time zone"}, {"to_datetime", "to_datetime: to a date and time, in a time zone"},
	{"default", "default: a value when missing or empty"}, {"trim", "trim: remove surrounding spaces"},
	{"lower", "lower: lower case"}, {"upper", "upper: upper case"}, {"substring", "substring: part of the text"},
}

// onErrorChoices are the values of a field's on_error; skip_field is the schema's default.
var onErrorChoices = []choice{
	{"skip_field", "Skip the field"}, {"warn_action", "Skip it and warn"}, {"fail_action", "Fail the delivery"},
}
