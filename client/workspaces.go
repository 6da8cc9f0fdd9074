package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// Workspace is a workspace: the unit that owns connections, rules, events and a publishable key.
type Workspace struct {
	ID          uuid.UUID `json:"id"`
	Name        string    `json:"name"`
	Description *string   `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// PublishableKey is only filled by GetWorkspace and RotatePublishableKey.
	PublishableKey *PublishableKey `json:"publishable_key,omitempty"`
}

// PublishableKey is a workspace's key for emitting events from untrusted places (WithPublishableKey).
type PublishableKey struct {
	PublicKey string `json:"public_key"`
	Name      string `json:"name"`
}

// WorkspaceCreate is the body of CreateWorkspace.
type WorkspaceCreate struct {
	// Name is 3–50 letters, digits, spaces, _ and -; unique in the organization.
	Name        string  `json:"name"`
	Description *string `json:"description,omitempty"`
}

// WorkspaceUpdate is the body of UpdateWorkspace. The name is always required; the description
// is kept when KeepDescription is set, and otherwise replaced by Description (nil clears it).
type WorkspaceUpdate struct {
	Name            string
	Description     *string
	KeepDescription bool
}

// MarshalJSON writes the body the API expects: "description" absent (kept), null or a string.
func (u WorkspaceUpdate) MarshalJSON() ([]byte, error) {
	body := map[string]any{"name": u.Name}
	if !u.KeepDescription {
		body["description"] = u.Description
	}
	return json.Marshal(body)
}

// CatalogEntry is an event type or resource a workspace has seen.
type CatalogEntry struct {
	ID          uuid.UUID `json:"id"`
	Key         string    `json:"key"`
	Label       string    `json:"label"`
	Description *string   `json:"description"`
	Active      bool      `json:"active"`
	CreatedBy   *string   `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ListWorkspaces returns one page of the workspaces the credentials can see (GET /workspaces).
func (c *Client) ListWorkspaces(ctx context.Context, opts *ListOptions) (*Page[Workspace], error) {
	var p Page[Workspace]
	return &p, c.Do(ctx, http.MethodGet, "/workspaces", opts.values(), nil, &p)
}

// Workspaces iterates over every workspace, fetching page after page from opts (nil: from the
// first page, default size).
func (c *Client) Workspaces(ctx context.Context, opts *ListOptions) iter.Seq2[Workspace, error] {
	o := copyOpts(opts)
	return pages(ctx, o.Cursor, func(ctx context.Context, cursor string) (*Page[Workspace], error) {
		o.Cursor = cursor
		return c.ListWorkspaces(ctx, &o)
	})
}

// CreateWorkspace creates a workspace (POST /workspaces). It needs a key without workspace limits.
func (c *Client) CreateWorkspace(ctx context.Context, in WorkspaceCreate) (*Workspace, error) {
	var out struct {
		Workspace *Workspace `json:"workspace"`
	}
	if err := c.Do(ctx, http.MethodPost, "/workspaces", nil, in, &out); err != nil {
		return nil, err
	}
	return out.Workspace, nil
}

// GetWorkspace returns a workspace with its publishable key (GET /workspaces/{id}).
func (c *Client) GetWorkspace(ctx context.Context, id uuid.UUID) (*Workspace, error) {
	var out Workspace
	if err := c.Do(ctx, http.MethodGet, "/workspaces/"+id.String(), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateWorkspace renames a workspace and sets or keeps its description (PUT /workspaces/{id}).
func (c *Client) UpdateWorkspace(ctx context.Context, id uuid.UUID, in WorkspaceUpdate) (*Workspace, error) {
	var out Workspace
	if err := c.Do(ctx, http.MethodPut, "/workspaces/"+id.String(), nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWorkspaceConnections returns one page of a workspace's connections
// (GET /workspaces/{id}/connections).
func (c *Client) ListWorkspaceConnections(ctx context.Context, workspaceID uuid.UUID, opts *ListOptions) (*Page[Connection], error) {
	var p Page[Connection]
	return &p, c.Do(ctx, http.MethodGet, "/workspaces/"+workspaceID.String()+"/connections", opts.values(), nil, &p)
}

// WorkspaceConnections iterates over every connection of a workspace.
func (c *Client) WorkspaceConnections(ctx context.Context, workspaceID uuid.UUID, opts *ListOptions) iter.Seq2[Connection, error] {
	o := copyOpts(opts)
	return pages(ctx, o.Cursor, func(ctx context.Context, cursor string) (*Page[Connection], error) {
		o.Cursor = cursor
		return c.ListWorkspaceConnections(ctx, workspaceID, &o)
	})
}

// ListWorkspaceRules returns one page of a workspace's rules (GET /workspaces/{id}/rules).
func (c *Client) ListWorkspaceRules(ctx context.Context, workspaceID uuid.UUID, opts *RuleListOptions) (*Page[Rule], error) {
	var p Page[Rule]
	return &p, c.Do(ctx, http.MethodGet, "/workspaces/"+workspaceID.String()+"/rules", opts.values(), nil, &p)
}

// WorkspaceRules iterates over every rule of a workspace that matches opts' filters.
func (c *Client) WorkspaceRules(ctx context.Context, workspaceID uuid.UUID, opts *RuleListOptions) iter.Seq2[Rule, error] {
	o := copyOpts(opts)
	return pages(ctx, o.Cursor, func(ctx context.Context, cursor string) (*Page[Rule], error) {
		o.Cursor = cursor
		return c.ListWorkspaceRules(ctx, workspaceID, &o)
	})
}

// ListWorkspaceEvents returns one page of a workspace's events, newest first
// (GET /workspaces/{id}/events).
func (c *Client) ListWorkspaceEvents(ctx context.Context, workspaceID uuid.UUID, opts *EventListOptions) (*Page[Event], error) {
	var p Page[Event]
	return &p, c.Do(ctx, http.MethodGet, "/workspaces/"+workspaceID.String()+"/events", opts.values(), nil, &p)
}

// WorkspaceEvents iterates over every event of a workspace that matches opts' filters.
func (c *Client) WorkspaceEvents(ctx context.Context, workspaceID uuid.UUID, opts *EventListOptions) iter.Seq2[Event, error] {
	o := copyOpts(opts)
	return pages(ctx, o.Cursor, func(ctx context.Context, cursor string) (*Page[Event], error) {
		o.Cursor = cursor
		return c.ListWorkspaceEvents(ctx, workspaceID, &o)
	})
}

// ListWorkspaceEventTypes returns the event names a workspace has seen
// (GET /workspaces/{id}/event-types). The list is not paged.
func (c *Client) ListWorkspaceEventTypes(ctx context.Context, workspaceID uuid.UUID) ([]CatalogEntry, error) {
	var out []CatalogEntry
	if err := c.Do(ctx, http.MethodGet, "/workspaces/"+workspaceID.String()+"/event-types", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListWorkspaceResources returns the resources a workspace has seen
// (GET /workspaces/{id}/resources). The list is not paged.
func (c *Client) ListWorkspaceResources(ctx context.Context, workspaceID uuid.UUID) ([]CatalogEntry, error) {
	var out []CatalogEntry
	if err := c.Do(ctx, http.MethodGet, "/workspaces/"+workspaceID.String()+"/resources", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// RotatePublishableKey replaces a workspace's publishable key and returns the workspace with
// the new one (POST /workspaces/{id}/publishable-key/rotate). The old key stops working (other
// server nodes may accept it for a few more seconds).
func (c *Client) RotatePublishableKey(ctx context.Context, workspaceID uuid.UUID) (*Workspace, error) {
	var out Workspace
	if err := c.Do(ctx, http.MethodPost, "/workspaces/"+workspaceID.String()+"/publishable-key/rotate", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
