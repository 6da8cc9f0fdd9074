package mcp

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/switchyardhq/switchyard/client"
)

// The 33 tools of Meshes' MCP server: same names, input schemas and results (docs/mcp.md has
// the table). The descriptions are ours, written for a model.

type workspaceArg struct {
	WorkspaceID string `json:"workspace_id"`
}

type connectionArg struct {
	ConnectionID string `json:"connection_id"`
}

type ruleArg struct {
	RuleID string `json:"rule_id"`
}

type eventArg struct {
	EventID string `json:"event_id"`
}

type sessionArg struct {
	SessionID string `json:"session_id"`
}

type noArgs struct{}

type ruleFilter struct {
	WorkspaceID string `json:"workspace_id"`
	Event       string `json:"event"`
	Resource    string `json:"resource"`
	ResourceID  string `json:"resource_id"`
}

type workspaceCreate struct {
	Name        string  `json:"name"`
	Description *string `json:"description,omitempty"`
}

type workspaceUpdate struct {
	WorkspaceID string          `json:"workspace_id"`
	Name        string          `json:"name"`
	Description json.RawMessage `json:"description,omitempty"`
}

type connectionCreate struct {
	Workspace string         `json:"workspace"`
	Type      string         `json:"type"`
	Name      string         `json:"name"`
	Metadata  map[string]any `json:"metadata"`
	Hidden    *bool          `json:"hidden,omitempty"`
}

type connectionUpdate struct {
	ConnectionID string         `json:"connection_id"`
	Name         string         `json:"name"`
	Metadata     map[string]any `json:"metadata"`
	Hidden       *bool          `json:"hidden,omitempty"`
}

type connectionDelete struct {
	ConnectionID string `json:"connection_id"`
	ForceDelete  bool   `json:"force_delete"`
}

type connectionFields struct {
	ConnectionID string `json:"connection_id"`
	Refresh      bool   `json:"refresh"`
}

type mappingUpdate struct {
	ConnectionID    string          `json:"connection_id"`
	WorkspaceID     *string         `json:"workspace_id,omitempty"`
	MappingID       *string         `json:"mapping_id,omitempty"`
	ExpectedVersion *int64          `json:"expected_version,omitempty"`
	Name            *string         `json:"name,omitempty"`
	Schema          json.RawMessage `json:"schema"`
}

type ruleCreate struct {
	Workspace     string            `json:"workspace"`
	Connection    string            `json:"connection"`
	Event         string            `json:"event"`
	Action        string            `json:"action"`
	Resource      *string           `json:"resource,omitempty"`
	ResourceID    *string           `json:"resource_id,omitempty"`
	Active        *bool             `json:"active,omitempty"`
	Hidden        *bool             `json:"hidden,omitempty"`
	MetadataExtra map[string]string `json:"metadata_extra,omitempty"`
}

type eventEmit struct {
	Workspace  string          `json:"workspace"`
	Event      string          `json:"event"`
	Payload    json.RawMessage `json:"payload"`
	Resource   *string         `json:"resource,omitempty"`
	ResourceID *string         `json:"resource_id,omitempty"`
}

type bulkEmit struct {
	Events []eventEmit `json:"events"`
}

type eventPage struct {
	Limit  int    `json:"limit"`
	Cursor string `json:"cursor"`
}

type workspaceEvents struct {
	WorkspaceID string `json:"workspace_id"`
	Limit       int    `json:"limit"`
	Cursor      string `json:"cursor"`
	Event       string `json:"event"`
	Status      string `json:"status"`
	Resource    string `json:"resource"`
	ResourceID  string `json:"resource_id"`
}

type retryArgs struct {
	EventID string `json:"event_id"`
	RuleID  string `json:"rule_id"`
}

type sessionCreate struct {
	WorkspaceID      string   `json:"workspace_id"`
	Role             string   `json:"role,omitempty"`
	SessionType      string   `json:"session_type,omitempty"`
	ExternalUserID   *string  `json:"external_user_id,omitempty"`
	TTLSeconds       *int     `json:"ttl_seconds,omitempty"`
	LaunchTTLSeconds *int     `json:"launch_ttl_seconds,omitempty"`
	LaunchPage       string   `json:"launch_page,omitempty"`
	Resource         *string  `json:"resource,omitempty"`
	ResourceID       *string  `json:"resource_id,omitempty"`
	AllowedOrigins   []string `json:"allowed_origins,omitempty"`
	Scopes           []string `json:"scopes,omitempty"`
}

type sessionList struct {
	WorkspaceID string `json:"workspace_id"`
	Limit       int    `json:"limit"`
	Cursor      string `json:"cursor"`
	Status      string `json:"status"`
	Resource    string `json:"resource"`
	ResourceID  string `json:"resource_id"`
}

// Argument descriptions shared by several tools.
const (
	wsDesc    = "The workspace's id (UUID); meshes_list_workspaces lists them."
	connDesc  = "The connection's id (UUID); meshes_list_connections lists them."
	ruleDesc  = "The rule's id (UUID); meshes_list_rules lists them."
	eventDesc = "The event's id (UUID), as returned by meshes_emit_event or meshes_list_events."
)

func (t *tools) addMeshes() {
	// Workspaces.
	add(t, "meshes_list_workspaces",
		"List the organization's workspaces (id, name, description, publishable key name). Start here: "+
			"most other tools need a workspace id. Returns a page {records, count, limit, next_cursor}.",
		object(), readOnly,
		func(ctx context.Context, c *client.Client, _ noArgs) (json.RawMessage, error) {
			return get(ctx, c, "/workspaces", nil)
		})
	add(t, "meshes_get_workspace", "Get one workspace by id, with its publishable key (used by browsers and apps to emit events).",
		object(req("workspace_id", id(wsDesc))), readOnly,
		func(ctx context.Context, c *client.Client, in workspaceArg) (json.RawMessage, error) {
			ws, err := uuidArg("workspace_id", in.WorkspaceID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/workspaces/"+ws, nil)
		})
	add(t, "meshes_create_workspace",
		"Create a workspace: an isolated set of connections, rules and events (e.g. one per environment or per customer). "+
			"Returns {\"workspace\": {id, name, …}}; meshes_get_workspace shows its publishable key.",
		object(req("name", str("Display name, 3–50 characters.", 3, 50)), opt("description", str("What the workspace is for.", 0, 1024))),
		creates,
		func(ctx context.Context, c *client.Client, in workspaceCreate) (json.RawMessage, error) {
			return call(ctx, c, http.MethodPost, "/workspaces", nil, in)
		})
	add(t, "meshes_update_workspace", "Rename a workspace or change its description (null clears it). Returns the updated workspace.",
		object(req("workspace_id", id(wsDesc)), req("name", str("Display name, 3–50 characters.", 3, 50)),
			opt("description", nullable(str("What the workspace is for; null clears it.", 0, 1024)))),
		updates,
		func(ctx context.Context, c *client.Client, in workspaceUpdate) (json.RawMessage, error) {
			ws, err := uuidArg("workspace_id", in.WorkspaceID)
			if err != nil {
				return nil, err
			}
			body := map[string]any{"name": in.Name}
			if in.Description != nil {
				body["description"] = in.Description
			}
			return call(ctx, c, http.MethodPut, "/workspaces/"+ws, nil, body)
		})
	add(t, "meshes_get_workspace_connections", "List the connections (configured destinations) of one workspace.",
		object(req("workspace_id", id(wsDesc))), readOnly,
		func(ctx context.Context, c *client.Client, in workspaceArg) (json.RawMessage, error) {
			ws, err := uuidArg("workspace_id", in.WorkspaceID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/workspaces/"+ws+"/connections", nil)
		})
	add(t, "meshes_get_workspace_event_types", "List the event names seen or routed in a workspace: what meshes_create_rule can match on.",
		object(req("workspace_id", id(wsDesc))), readOnly,
		func(ctx context.Context, c *client.Client, in workspaceArg) (json.RawMessage, error) {
			ws, err := uuidArg("workspace_id", in.WorkspaceID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/workspaces/"+ws+"/event-types", nil)
		})
	add(t, "meshes_get_workspace_resources", "List the resource types (and ids) events of a workspace were about.",
		object(req("workspace_id", id(wsDesc))), readOnly,
		func(ctx context.Context, c *client.Client, in workspaceArg) (json.RawMessage, error) {
			ws, err := uuidArg("workspace_id", in.WorkspaceID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/workspaces/"+ws+"/resources", nil)
		})
	add(t, "meshes_get_workspace_rules", "List one workspace's rules, optionally only those for an event name, resource or resource id.",
		object(req("workspace_id", id(wsDesc)), opt("event", str("Only rules for this event name.", 0, 0)),
			opt("resource", resourceSchema()), opt("resource_id", resourceIDSchema())),
		readOnly,
		func(ctx context.Context, c *client.Client, in ruleFilter) (json.RawMessage, error) {
			ws, err := uuidArg("workspace_id", in.WorkspaceID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/workspaces/"+ws+"/rules", query("event", in.Event, "resource", in.Resource, "resource_id", in.ResourceID))
		})

	// Connections.
	add(t, "meshes_list_connections", "List every connection of the organization (all workspaces): id, workspace, type, name, metadata with secrets masked, active flag.",
		object(), readOnly,
		func(ctx context.Context, c *client.Client, _ noArgs) (json.RawMessage, error) {
			return get(ctx, c, "/connections", nil)
		})
	add(t, "meshes_get_connection", "Get one connection: its type, name, metadata (secrets masked), whether it is active and why it was deactivated.",
		object(req("connection_id", id(connDesc))), readOnly,
		func(ctx context.Context, c *client.Client, in connectionArg) (json.RawMessage, error) {
			id, err := uuidArg("connection_id", in.ConnectionID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/connections/"+id, nil)
		})
	add(t, "meshes_create_connection",
		"Create a connection: a configured destination in a workspace. metadata holds the integration's settings; "+
			"meshes_list_integrations shows the fields each type needs (a webhook needs {\"url\": \"https://…\"}; its optional "+
			"fields cover auth, signing and custom headers). The server makes a test request to a webhook before saving it. "+
			"OAuth integrations are connected through the API's OAuth flow instead. Returns {\"connection\": {…}}.",
		object(req("workspace", id(wsDesc)), req("type", enum("The integration type.", integrationTypes...)),
			req("name", str("Display name, 1–128 characters.", 1, 128)),
			req("metadata", record("The integration's settings (see meshes_list_integrations).", nil)),
			opt("hidden", def(boolean("Hide the connection from the embedded workspace UI."), false))),
		creates,
		func(ctx context.Context, c *client.Client, in connectionCreate) (json.RawMessage, error) {
			if _, err := uuidArg("workspace", in.Workspace); err != nil {
				return nil, err
			}
			return call(ctx, c, http.MethodPost, "/connections", nil, in)
		})
	add(t, "meshes_update_connection", "Replace a connection's name and metadata (and optionally its hidden flag). Masked secrets sent back unchanged keep their stored value. Returns the connection.",
		object(req("connection_id", id(connDesc)), req("name", str("Display name, 1–128 characters.", 1, 128)),
			req("metadata", record("The integration's settings.", nil)), opt("hidden", boolean("Hide the connection from the embedded workspace UI."))),
		updates,
		func(ctx context.Context, c *client.Client, in connectionUpdate) (json.RawMessage, error) {
			id, err := uuidArg("connection_id", in.ConnectionID)
			if err != nil {
				return nil, err
			}
			body := map[string]any{"name": in.Name, "metadata": in.Metadata}
			if in.Hidden != nil {
				body["hidden"] = *in.Hidden
			}
			return call(ctx, c, http.MethodPut, "/connections/"+id, nil, body)
		})
	add(t, "meshes_delete_connection", "Delete a connection. A connection that rules still use is refused unless force_delete is true, which deletes those rules too.",
		object(req("connection_id", id(connDesc)), opt("force_delete", boolean("Also delete the rules that use it."))),
		deletes,
		func(ctx context.Context, c *client.Client, in connectionDelete) (json.RawMessage, error) {
			id, err := uuidArg("connection_id", in.ConnectionID)
			if err != nil {
				return nil, err
			}
			var body any
			if in.ForceDelete {
				body = map[string]bool{"force_delete": true}
			}
			return call(ctx, c, http.MethodDelete, "/connections/"+id, nil, body)
		})
	add(t, "meshes_get_connection_actions", "Get a connection's live action data from the provider (lists, tags, channels… keyed by action) to pick rule parameters from. Empty for webhooks.",
		object(req("connection_id", id(connDesc))), readsRemote,
		func(ctx context.Context, c *client.Client, in connectionArg) (json.RawMessage, error) {
			id, err := uuidArg("connection_id", in.ConnectionID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/connections/"+id+"/actions", nil)
		})
	add(t, "meshes_get_connection_fields", "Get the destination's field catalog for a connection (the fields a mapping can write). refresh=true reloads it from the provider.",
		object(req("connection_id", id(connDesc)), opt("refresh", boolean("Reload the catalog from the provider instead of the cache."))),
		readsRemote,
		func(ctx context.Context, c *client.Client, in connectionFields) (json.RawMessage, error) {
			id, err := uuidArg("connection_id", in.ConnectionID)
			if err != nil {
				return nil, err
			}
			q := query()
			if in.Refresh {
				q.Set("refresh", "true")
			}
			return get(ctx, c, "/connections/"+id+"/fields", q)
		})
	add(t, "meshes_get_connection_default_mappings", "Get a connection's default field mapping (payload → destination fields): the stored one with its version, or a generated suggestion (status \"generated\", version 0).",
		object(req("connection_id", id(connDesc))), readOnly,
		func(ctx context.Context, c *client.Client, in connectionArg) (json.RawMessage, error) {
			id, err := uuidArg("connection_id", in.ConnectionID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/connections/"+id+"/mappings/default", nil)
		})
	add(t, "meshes_update_connection_default_mappings",
		"Save a new version of a connection's default mapping. Pass expected_version (the current version) to avoid overwriting "+
			"someone else's change: a stale one is a 409. Invalid values are listed one by one in the error.",
		object(req("connection_id", id(connDesc)), opt("workspace_id", id(wsDesc)), opt("mapping_id", id("The mapping's id (from meshes_get_connection_default_mappings).")),
			opt("expected_version", positiveInt("The current version of the mapping (optimistic concurrency); omit before the first save.")), opt("name", str("Display name, 1–64 characters.", 1, 64)),
			req("schema", mappingSchema())),
		updates,
		func(ctx context.Context, c *client.Client, in mappingUpdate) (json.RawMessage, error) {
			id, err := uuidArg("connection_id", in.ConnectionID)
			if err != nil {
				return nil, err
			}
			body := in
			body.ConnectionID = ""
			return call(ctx, c, http.MethodPut, "/connections/"+id+"/mappings/default", nil, mappingBody(body))
		})

	// Integrations.
	add(t, "meshes_list_integrations",
		"List the integration types this server supports, with their authentication fields (what a connection's metadata needs) "+
			"and actions (what a rule's metadata.action can be, and its parameters).",
		object(), readOnly,
		func(ctx context.Context, c *client.Client, _ noArgs) (json.RawMessage, error) {
			return get(ctx, c, "/integrations", nil)
		})

	// Rules.
	add(t, "meshes_list_rules", "List the organization's rules (event name → connection + action), optionally filtered by event name, resource or resource id.",
		object(opt("event", str("Only rules for this event name.", 0, 0)), opt("resource", resourceSchema()), opt("resource_id", resourceIDSchema())),
		readOnly,
		func(ctx context.Context, c *client.Client, in ruleFilter) (json.RawMessage, error) {
			return get(ctx, c, "/rules", query("event", in.Event, "resource", in.Resource, "resource_id", in.ResourceID))
		})
	add(t, "meshes_get_rule", "Get one rule: its event, connection, action and parameters (metadata), resource filter and active flag.",
		object(req("rule_id", id(ruleDesc))), readOnly,
		func(ctx context.Context, c *client.Client, in ruleArg) (json.RawMessage, error) {
			id, err := uuidArg("rule_id", in.RuleID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/rules/"+id, nil)
		})
	add(t, "meshes_create_rule",
		"Create a rule: when an event named `event` is emitted in the workspace (optionally only for a resource / resource id), "+
			"deliver it to `connection` with `action` (a webhook's action is \"send_webhook\"; meshes_list_integrations lists each type's actions). "+
			"metadata_extra holds the action's parameters; values may use {{field}} templates resolved from the payload (e.g. {{user.email}}). Returns {\"rule\": {…}}.",
		object(req("workspace", id(wsDesc)), req("connection", id(connDesc)), req("event", str("The event name to match, e.g. \"user.signup\".", 1, 0)),
			req("action", str("The integration action to run.", 1, 0)), opt("resource", resourceSchema()), opt("resource_id", resourceIDSchema()),
			opt("active", def(boolean("Whether the rule routes events."), true)),
			opt("hidden", def(boolean("Hide the rule from the embedded workspace UI."), false)),
			opt("metadata_extra", record("The action's parameters (string values; {{templates}} allowed).", str("", 0, 0)))),
		creates,
		func(ctx context.Context, c *client.Client, in ruleCreate) (json.RawMessage, error) {
			if _, err := uuidArg("workspace", in.Workspace); err != nil {
				return nil, err
			}
			if _, err := uuidArg("connection", in.Connection); err != nil {
				return nil, err
			}
			metadata := map[string]any{}
			for k, v := range in.MetadataExtra {
				metadata[k] = v
			}
			metadata["action"] = in.Action
			body := map[string]any{"workspace": in.Workspace, "connection": in.Connection, "event": in.Event, "metadata": metadata}
			setOpt(body, "resource", in.Resource)
			setOpt(body, "resource_id", in.ResourceID)
			setOpt(body, "active", in.Active)
			setOpt(body, "hidden", in.Hidden)
			return call(ctx, c, http.MethodPost, "/rules", nil, body)
		})
	add(t, "meshes_delete_rule", "Delete a rule. Deliveries already created for it are kept.",
		object(req("rule_id", id(ruleDesc))), deletes,
		func(ctx context.Context, c *client.Client, in ruleArg) (json.RawMessage, error) {
			id, err := uuidArg("rule_id", in.RuleID)
			if err != nil {
				return nil, err
			}
			return call(ctx, c, http.MethodDelete, "/rules/"+id, nil, nil)
		})

	// Events.
	eventItem := func() []field {
		return []field{req("workspace", id(wsDesc)), req("event", str("The event name, e.g. \"user.signup\".", 1, 0)),
			req("payload", record("The event's data (a JSON object).", nil)), opt("resource", resourceSchema()), opt("resource_id", resourceIDSchema())}
	}
	add(t, "meshes_emit_event",
		"Emit one event into a workspace. Every active rule matching its name (and resource) gets a delivery, sent in the background; "+
			"poll meshes_get_event with the returned event.id to see the outcome.",
		object(eventItem()...), sends,
		func(ctx context.Context, c *client.Client, in eventEmit) (json.RawMessage, error) {
			if _, err := uuidArg("workspace", in.Workspace); err != nil {
				return nil, err
			}
			return call(ctx, c, http.MethodPost, "/events", nil, in)
		})
	add(t, "meshes_emit_bulk_events", "Emit 1–100 events in one request. Each is accepted or refused on its own; the answer lists a record per event.",
		object(req("events", array("The events.", object(eventItem()...), 1, 100))), sends,
		func(ctx context.Context, c *client.Client, in bulkEmit) (json.RawMessage, error) {
			for i, e := range in.Events {
				if _, err := uuidArg("events["+itoa(i+1)+"].workspace", e.Workspace); err != nil {
					return nil, err
				}
			}
			return call(ctx, c, http.MethodPost, "/events/bulk", nil, in.Events)
		})
	add(t, "meshes_list_events", "List the organization's recent events, newest first, one page at a time (pass next_cursor as cursor for the next page).",
		object(opt("limit", limitSchema()), opt("cursor", cursorSchema())), readOnly,
		func(ctx context.Context, c *client.Client, in eventPage) (json.RawMessage, error) {
			return get(ctx, c, "/events", query("limit", itoa(in.Limit), "cursor", in.Cursor))
		})
	add(t, "meshes_get_workspace_events", "List a workspace's events, newest first, optionally filtered by name, status, resource or resource id.",
		object(req("workspace_id", id(wsDesc)), opt("limit", limitSchema()), opt("cursor", cursorSchema()),
			opt("event", str("Only events with this name.", 0, 0)),
			opt("status", enum("Only events with this status.", "pending", "processing", "completed", "failed")),
			opt("resource", resourceSchema()), opt("resource_id", resourceIDSchema())),
		readOnly,
		func(ctx context.Context, c *client.Client, in workspaceEvents) (json.RawMessage, error) {
			ws, err := uuidArg("workspace_id", in.WorkspaceID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/workspaces/"+ws+"/events", query("limit", itoa(in.Limit), "cursor", in.Cursor, "event", in.Event,
				"status", in.Status, "resource", in.Resource, "resource_id", in.ResourceID))
		})
	add(t, "meshes_get_event",
		"Get an event: its status (pending, processing, completed, failed…), counters, and rule_events — one delivery per matched rule "+
			"with its status, attempt_count and last_error. Use it to follow an emitted event.",
		object(req("event_id", id(eventDesc))), readOnly,
		func(ctx context.Context, c *client.Client, in eventArg) (json.RawMessage, error) {
			id, err := uuidArg("event_id", in.EventID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/events/"+id, nil)
		})
	add(t, "meshes_get_event_payload", "Get an event with its payload exactly as it was emitted.",
		object(req("event_id", id(eventDesc))), readOnly,
		func(ctx context.Context, c *client.Client, in eventArg) (json.RawMessage, error) {
			id, err := uuidArg("event_id", in.EventID)
			if err != nil {
				return nil, err
			}
			return get(ctx, c, "/events/"+id+"/payload", nil)
		})
	add(t, "meshes_retry_event_rule",
		"Retry one delivery (the event's delivery for one rule) now: a failed or canceled delivery is queued again. "+
			"The rule id is in the event's rule_events. Returns the delivery.",
		object(req("event_id", id(eventDesc)), req("rule_id", id(ruleDesc))), sends,
		func(ctx context.Context, c *client.Client, in retryArgs) (json.RawMessage, error) {
			return deliveryAction(ctx, c, in, "retry")
		})

	// Embed sessions.
	add(t, "meshes_create_session",
		"Create an embed session: a short-lived access token and a single-use launch URL that open the embeddable workspace UI "+
			"for one of your users. Returns the token and launch_url (shown once).",
		object(req("workspace_id", id(wsDesc)),
			opt("role", def(enum("The user's role in the UI.", "member", "admin", "owner"), "member")),
			opt("session_type", def(enum("workspace: the whole workspace; resource: one resource's view; dashboard: the dashboard only.", "workspace", "resource", "dashboard"), "workspace")),
			opt("external_user_id", str("Your id for the user, for your records.", 0, 255)),
			opt("ttl_seconds", def(integer("Access token lifetime in seconds.", 300, 3600), 1800)),
			opt("launch_ttl_seconds", def(integer("Launch URL lifetime in seconds.", 15, 60), 30)),
			opt("launch_page", def(enum("The page the UI opens on.", "dashboard", "connections", "rules", "events"), "dashboard")),
			opt("resource", str("The resource type (resource sessions only).", 1, 0)),
			opt("resource_id", str("The resource id (resource sessions only).", 1, 0)),
			opt("allowed_origins", array("Origins allowed to embed the UI, e.g. https://app.example.com.", &jsonschema.Schema{Type: "string", Format: "uri"}, 0, 10)),
			opt("scopes", array("Extra scopes.", enum("", "events.payload:read"), 0, 20))),
		creates,
		func(ctx context.Context, c *client.Client, in sessionCreate) (json.RawMessage, error) {
			if _, err := uuidArg("workspace_id", in.WorkspaceID); err != nil {
				return nil, err
			}
			return call(ctx, c, http.MethodPost, "/sessions", nil, in)
		})
	add(t, "meshes_list_sessions", "List a workspace's embed sessions (never their tokens), optionally by status, resource or resource id.",
		object(req("workspace_id", id(wsDesc)), opt("limit", limitSchema()),
			opt("cursor", pattern(cursorSchema(), "^[A-Za-z0-9_-]+$")), opt("status", enum("Only sessions with this status.", "active", "revoked")),
			opt("resource", resourceSchema()), opt("resource_id", resourceIDSchema())),
		readOnly,
		func(ctx context.Context, c *client.Client, in sessionList) (json.RawMessage, error) {
			if _, err := uuidArg("workspace_id", in.WorkspaceID); err != nil {
				return nil, err
			}
			return get(ctx, c, "/sessions", query("workspace_id", in.WorkspaceID, "limit", itoa(in.Limit), "cursor", in.Cursor,
				"status", in.Status, "resource", in.Resource, "resource_id", in.ResourceID))
		})
	add(t, "meshes_refresh_session", "Refresh an embed session: a new access token valid ttl_seconds from now; the previous token stops working.",
		object(req("session_id", str("The session's id (sess_…).", 1, 0))), updates,
		func(ctx context.Context, c *client.Client, in sessionArg) (json.RawMessage, error) {
			id, err := textArg("session_id", in.SessionID)
			if err != nil {
				return nil, err
			}
			return call(ctx, c, http.MethodPost, "/sessions/"+id+"/refresh", nil, nil)
		})
	add(t, "meshes_revoke_session", "Revoke an embed session: its token stops working at once.",
		object(req("session_id", str("The session's id (sess_…).", 1, 0))), deletes,
		func(ctx context.Context, c *client.Client, in sessionArg) (json.RawMessage, error) {
			id, err := textArg("session_id", in.SessionID)
			if err != nil {
				return nil, err
			}
			return call(ctx, c, http.MethodDelete, "/sessions/"+id, nil, nil)
		})
}

// deliveryAction posts to one delivery's retry or cancel route.
func deliveryAction(ctx context.Context, c *client.Client, in retryArgs, verb string) (json.RawMessage, error) {
	eid, err := uuidArg("event_id", in.EventID)
	if err != nil {
		return nil, err
	}
	rid, err := uuidArg("rule_id", in.RuleID)
	if err != nil {
		return nil, err
	}
	return call(ctx, c, http.MethodPost, "/events/"+eid+"/rules/"+rid+"/"+verb, nil, nil)
}

// mappingBody is the PUT body: the arguments without connection_id.
func mappingBody(in mappingUpdate) map[string]any {
	body := map[string]any{"schema": in.Schema}
	setOpt(body, "workspace_id", in.WorkspaceID)
	setOpt(body, "mapping_id", in.MappingID)
	setOpt(body, "expected_version", in.ExpectedVersion)
	setOpt(body, "name", in.Name)
	return body
}

// setOpt sets body[key] to *v when v is not nil.
func setOpt[T any](body map[string]any, key string, v *T) {
	if v != nil {
		body[key] = *v
	}
}
