package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
)

// Integration is a destination type the server supports, with the connection fields it needs
// and the actions a rule can perform with it.
type Integration struct {
	Name           string                       `json:"name"`
	Type           string                       `json:"type"`
	Authentication IntegrationAuthentication    `json:"authentication"`
	Actions        map[string]IntegrationAction `json:"actions"`
}

// IntegrationAuthentication says how a connection of the integration authenticates and which
// metadata fields it takes.
type IntegrationAuthentication struct {
	// Type is api_key, basic, none or oauth.
	Type   string             `json:"type"`
	OAuth  *IntegrationOAuth  `json:"oauth,omitempty"`
	Fields []IntegrationField `json:"fields,omitempty"`
}

// IntegrationOAuth is the OAuth version of an oauth integration.
type IntegrationOAuth struct {
	Version int `json:"version"`
}

// IntegrationField is one connection metadata field, as a form would show it.
type IntegrationField struct {
	Label string `json:"label"`
	Key   string `json:"key"`
	// Type is text, password, select, textarea, object, number or boolean; password fields are
	// secret and come back masked.
	Type         string          `json:"type"`
	HelpText     string          `json:"helpText,omitempty"`
	Required     bool            `json:"required,omitempty"`
	Validate     string          `json:"validate,omitempty"`
	DefaultValue json.RawMessage `json:"defaultValue,omitempty"`
	Options      []FieldOption   `json:"options,omitempty"`
	DependsOn    *FieldDependsOn `json:"dependsOn,omitempty"`
}

// FieldOption is one choice of a select field.
type FieldOption struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// FieldDependsOn shows a field only when another field has one of the values.
type FieldDependsOn struct {
	Field string   `json:"field"`
	Value []string `json:"value"`
}

// IntegrationAction is an action a rule can perform with an integration.
type IntegrationAction struct {
	Key    string   `json:"key"`
	Label  string   `json:"label"`
	Noun   string   `json:"noun"`
	Fields []string `json:"fields"`
	// Data describes the action's parameters (kept as JSON: see IntegrationAction in the
	// OpenAPI document).
	Data    []json.RawMessage `json:"data,omitempty"`
	Display *ActionDisplay    `json:"display,omitempty"`
}

// ActionDisplay is how an action is presented.
type ActionDisplay struct {
	Label       string `json:"label"`
	Description string `json:"description"`
}

// ListIntegrations returns one page of the integrations the server supports (GET /integrations).
func (c *Client) ListIntegrations(ctx context.Context, opts *ListOptions) (*Page[Integration], error) {
	var p Page[Integration]
	return &p, c.Do(ctx, http.MethodGet, "/integrations", opts.values(), nil, &p)
}

// Integrations iterates over every integration the server supports.
func (c *Client) Integrations(ctx context.Context, opts *ListOptions) iter.Seq2[Integration, error] {
	o := copyOpts(opts)
	return pages(ctx, o.Cursor, func(ctx context.Context, cursor string) (*Page[Integration], error) {
		o.Cursor = cursor
		return c.ListIntegrations(ctx, &o)
	})
}
