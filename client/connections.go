package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
)

// Connection is a configured destination: an integration type with its settings (metadata).
// Secret metadata fields come back masked.
type Connection struct {
	ID        uuid.UUID      `json:"id"`
	Workspace uuid.UUID      `json:"workspace"`
	Type      string         `json:"type"`
	Name      string         `json:"name"`
	Metadata  map[string]any `json:"metadata"`
	Active    bool           `json:"active"`
	// InactiveReason says why an inactive connection was deactivated, e.g.
	// "authentication_invalid" or "destination_gone"; "" when active.
	InactiveReason string    `json:"inactive_reason,omitempty"`
	Hidden         bool      `json:"hidden"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// ConnectionCreate is the body of CreateConnection.
type ConnectionCreate struct {
	Workspace uuid.UUID `json:"workspace"`
	// Type is an integration type (ListIntegrations), e.g. "webhook".
	Type string `json:"type"`
	// Name is 1–128 letters, digits, spaces, _ and -.
	Name string `json:"name"`
	// Metadata holds the integration's settings, as its authentication fields declare them.
	Metadata map[string]any `json:"metadata"`
	Hidden   bool           `json:"hidden,omitempty"`
}

// ConnectionUpdate is the body of UpdateConnection: the name and the whole metadata; a secret
// field sent back masked keeps its stored value. Hidden nil keeps the current setting.
type ConnectionUpdate struct {
	Name     string         `json:"name"`
	Metadata map[string]any `json:"metadata"`
	Hidden   *bool          `json:"hidden,omitempty"`
}

// ConnectionDeleted is the answer to DeleteConnection.
type ConnectionDeleted struct {
	ID   uuid.UUID `json:"id"`
	Type string    `json:"type"`
}

// FieldCatalog is a connection's destination fields, as the provider describes them.
type FieldCatalog struct {
	ID              uuid.UUID      `json:"id"`
	WorkspaceID     uuid.UUID      `json:"workspace_id"`
	ConnectionID    uuid.UUID      `json:"connection_id"`
	IntegrationType string         `json:"integration_type"`
	CatalogVersion  string         `json:"catalog_version"`
	RefreshedAt     time.Time      `json:"refreshed_at"`
	CreatedBy       string         `json:"created_by"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	Fields          []CatalogField `json:"fields"`
}

// CatalogField is one destination field.
type CatalogField struct {
	Key string `json:"key"`
	// Label is the provider's name for the field.
	Label string `json:"label,omitempty"`
	// Type is one of string, number, boolean, date, datetime, enum, multi_enum, json, object,
	// array, unknown.
	Type         string            `json:"type"`
	Description  string            `json:"description,omitempty"`
	Constraints  *FieldConstraints `json:"constraints,omitempty"`
	ProviderMeta map[string]any    `json:"provider_meta,omitempty"`
}

// FieldConstraints are what a destination field accepts.
type FieldConstraints struct {
	// Format is one of email, phone, url, uuid, date, datetime, unknown.
	Format        string   `json:"format,omitempty"`
	Required      bool     `json:"required,omitempty"`
	ReadOnly      bool     `json:"read_only,omitempty"`
	MaxLength     int      `json:"max_length,omitempty"`
	AllowedValues []string `json:"allowed_values,omitempty"`
}

// MappingResult is a connection's default field mapping: the stored one ("stored") or, before
// any is saved, the one generated from the destination's catalog ("generated", version 0).
type MappingResult struct {
	Status  string  `json:"status"`
	Mapping Mapping `json:"mapping"`
}

// Mapping is one version of a field mapping.
type Mapping struct {
	// ID is this version's id; MappingID the mapping's stable id.
	ID              uuid.UUID `json:"id"`
	MappingID       uuid.UUID `json:"mapping_id"`
	Version         int       `json:"version"`
	WorkspaceID     uuid.UUID `json:"workspace_id"`
	ConnectionID    uuid.UUID `json:"connection_id"`
	IntegrationType string    `json:"integration_type"`
	Name            string    `json:"name"`
	// Schema is the mapping itself (schema_version, fields, meta), kept as JSON: see the
	// MappingSchema of the OpenAPI document.
	Schema    json.RawMessage `json:"schema"`
	CreatedBy *string         `json:"created_by,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// MappingUpdate is the body of UpdateDefaultMapping.
type MappingUpdate struct {
	// ExpectedVersion, when set, makes the save fail with 409 if the stored version differs
	// (optimistic concurrency); nil saves whatever is stored.
	ExpectedVersion *int       `json:"expected_version,omitempty"`
	WorkspaceID     *uuid.UUID `json:"workspace_id,omitempty"`
	MappingID       *uuid.UUID `json:"mapping_id,omitempty"`
	Name            string     `json:"name,omitempty"`
	// Schema is the mapping: {"schema_version": 1, "fields": [...], "meta": {...}}.
	Schema json.RawMessage `json:"schema"`
}

// OAuthStart is the body of StartOAuth.
type OAuthStart struct {
	Workspace uuid.UUID `json:"workspace"`
	// Type is an integration whose authentication type is oauth.
	Type string `json:"type"`
	// Name is the new connection's name; required unless ConnectionID is set.
	Name string `json:"name,omitempty"`
	// RedirectURL is the page the customer returns to when the flow ends.
	RedirectURL string `json:"redirect_url"`
	// ConnectionID re-authorizes that connection instead of creating one.
	ConnectionID *uuid.UUID `json:"connection_id,omitempty"`
}

// OAuthStarted is where to send the customer to authorize.
type OAuthStarted struct {
	AuthorizationURL string    `json:"authorization_url"`
	State            string    `json:"state"`
	ExpiresAt        time.Time `json:"expires_at"`
}

func connectionPath(id uuid.UUID) string { return "/connections/" + id.String() }

// ListConnections returns one page of the connections the credentials can see (GET /connections).
func (c *Client) ListConnections(ctx context.Context, opts *ListOptions) (*Page[Connection], error) {
	var p Page[Connection]
	return &p, c.Do(ctx, http.MethodGet, "/connections", opts.values(), nil, &p)
}

// Connections iterates over every connection the credentials can see.
func (c *Client) Connections(ctx context.Context, opts *ListOptions) iter.Seq2[Connection, error] {
	o := copyOpts(opts)
	return pages(ctx, o.Cursor, func(ctx context.Context, cursor string) (*Page[Connection], error) {
		o.Cursor = cursor
		return c.ListConnections(ctx, &o)
	})
}

// CreateConnection creates a connection (POST /connections); the server validates the metadata
// against the integration's fields.
func (c *Client) CreateConnection(ctx context.Context, in ConnectionCreate) (*Connection, error) {
	var out struct {
		Connection *Connection `json:"connection"`
	}
	if err := c.Do(ctx, http.MethodPost, "/connections", nil, in, &out); err != nil {
		return nil, err
	}
	return out.Connection, nil
}

// GetConnection returns a connection (GET /connections/{id}).
func (c *Client) GetConnection(ctx context.Context, id uuid.UUID) (*Connection, error) {
	var out Connection
	if err := c.Do(ctx, http.MethodGet, connectionPath(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateConnection replaces a connection's name and metadata (PUT /connections/{id}).
func (c *Client) UpdateConnection(ctx context.Context, id uuid.UUID, in ConnectionUpdate) (*Connection, error) {
	var out Connection
	if err := c.Do(ctx, http.MethodPut, connectionPath(id), nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteConnection deletes a connection (DELETE /connections/{id}). A connection with active
// rules is only deleted with force, which deletes its rules too; without it the answer is 409.
func (c *Client) DeleteConnection(ctx context.Context, id uuid.UUID, force bool) (*ConnectionDeleted, error) {
	var q url.Values
	if force {
		q = url.Values{"force_delete": {"true"}}
	}
	var out ConnectionDeleted
	if err := c.Do(ctx, http.MethodDelete, connectionPath(id), q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetConnectionActions returns a connection's live action data, keyed by action: the lists,
// tags or channels a rule's action can pick from, as the provider returns them
// (GET /connections/{id}/actions). Integrations without action data return an empty map.
func (c *Client) GetConnectionActions(ctx context.Context, id uuid.UUID) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if err := c.Do(ctx, http.MethodGet, connectionPath(id)+"/actions", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetConnectionFields returns a connection's destination field catalog
// (GET /connections/{id}/fields). The server caches it for 15 minutes; refresh reloads it from
// the provider.
func (c *Client) GetConnectionFields(ctx context.Context, id uuid.UUID, refresh bool) (*FieldCatalog, error) {
	var q url.Values
	if refresh {
		q = url.Values{"refresh": {"true"}}
	}
	var out FieldCatalog
	if err := c.Do(ctx, http.MethodGet, connectionPath(id)+"/fields", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetDefaultMapping returns a connection's default field mapping
// (GET /connections/{id}/mappings/default).
func (c *Client) GetDefaultMapping(ctx context.Context, id uuid.UUID) (*MappingResult, error) {
	var out MappingResult
	if err := c.Do(ctx, http.MethodGet, connectionPath(id)+"/mappings/default", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateDefaultMapping saves a new version of a connection's default field mapping
// (PUT /connections/{id}/mappings/default). A stale ExpectedVersion is a 409 (IsConflict).
func (c *Client) UpdateDefaultMapping(ctx context.Context, id uuid.UUID, in MappingUpdate) (*MappingResult, error) {
	var out MappingResult
	if err := c.Do(ctx, http.MethodPut, connectionPath(id)+"/mappings/default", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StartOAuth starts a managed OAuth flow that creates (or re-authorizes) a connection
// (POST /connections/oauth/start): send the customer to AuthorizationURL. The provider then
// redirects to the server's /api/v1/oauth/callback, which is for browsers and has no method here.
func (c *Client) StartOAuth(ctx context.Context, in OAuthStart) (*OAuthStarted, error) {
	var out OAuthStarted
	if err := c.Do(ctx, http.MethodPost, "/connections/oauth/start", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
