package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/client"
)

// The management commands of workspaces, connections and rules: what the API allows of each
// (there is no workspace deletion and no rule update in the API).

// metadataFlags build a connection's or rule's metadata object.
type metadataFlags struct {
	Metadata string   `name:"metadata" placeholder:"JSON" help:"Metadata as a JSON object (the integration's settings, or the rule's action and parameters)."`
	Set      []string `name:"set" placeholder:"KEY=VALUE" help:"Set one metadata key to a string value (repeatable; applied after --metadata)."`
}

// apply merges --metadata and --set into base (which may be nil) and returns it.
func (m *metadataFlags) apply(base map[string]any) (map[string]any, error) {
	if base == nil {
		base = map[string]any{}
	}
	if m.Metadata != "" {
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(m.Metadata))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil || obj == nil || strings.TrimSpace(m.Metadata[dec.InputOffset():]) != "" {
			return nil, usagef("--metadata must be a JSON object")
		}
		for k, v := range obj {
			base[k] = v
		}
	}
	for _, kv := range m.Set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usagef("--set %q: write KEY=VALUE", kv)
		}
		base[strings.TrimSpace(k)] = v
	}
	return base, nil
}

// jsonText is v as indented JSON, for the table form of get.
func jsonText(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// printJSONBlock writes a titled block of indented JSON after a fields table.
func printJSONBlock(e *env, title string, v any) {
	fmt.Fprintf(e.stdout, "\n%s\n%s\n", title, jsonText(v))
}

func descriptionText(d *string) string {
	if d == nil {
		return ""
	}
	return *d
}

func activeText(active bool, reason string) string {
	switch {
	case active:
		return "active"
	case reason != "":
		return "inactive: " + reason
	}
	return "inactive"
}

// --- workspaces ---

// WorkspacesCmd groups the workspace commands.
type WorkspacesCmd struct {
	List      WorkspacesListCmd      `cmd:"" help:"List workspaces."`
	Get       WorkspacesGetCmd       `cmd:"" help:"Show a workspace with its publishable key."`
	Create    WorkspacesCreateCmd    `cmd:"" help:"Create a workspace."`
	Update    WorkspacesUpdateCmd    `cmd:"" help:"Rename a workspace or change its description."`
	RotateKey WorkspacesRotateKeyCmd `cmd:"" name:"rotate-key" help:"Replace a workspace's publishable key (the old one stops working)."`
	Backlog   WorkspacesBacklogCmd   `cmd:"" help:"Show a workspace's unfinished deliveries, per connection, the most overdue first."`
}

func workspaceFields(w *client.Workspace) [][2]string {
	f := [][2]string{{"ID", w.ID.String()}, {"NAME", w.Name}, {"DESCRIPTION", descriptionText(w.Description)},
		{"CREATED", timeText(&w.CreatedAt)}, {"UPDATED", timeText(&w.UpdatedAt)}}
	if w.PublishableKey != nil {
		f = append(f, [2]string{"PUBLISHABLE KEY", w.PublishableKey.PublicKey})
	}
	return f
}

// WorkspacesListCmd lists workspaces.
type WorkspacesListCmd struct {
	apiFlags    `embed:""`
	listFlags   `embed:""`
	outputFlags `embed:""`
}

// Help is the detailed help of workspaces list.
func (c *WorkspacesListCmd) Help() string {
	return `Examples:
  switchyard workspaces list
  switchyard workspaces list --all -o json | jq -r '.records[].id'`
}

// Run lists.
func (c *WorkspacesListCmd) Run(e *env) error {
	cl, _, err := c.client(e)
	if err != nil {
		return err
	}
	p, err := fetchList(c.listFlags, func(lo client.ListOptions) (*client.Page[client.Workspace], error) {
		return cl.ListWorkspaces(e.ctx, &lo)
	})
	if err != nil {
		return err
	}
	return printList(e, c.outputFlags, p, newTable("ID", "NAME", "CREATED", "DESCRIPTION"), func(w client.Workspace) []string {
		return []string{w.ID.String(), w.Name, timeText(&w.CreatedAt), truncate(descriptionText(w.Description), 60)}
	})
}

// WorkspacesGetCmd shows a workspace.
type WorkspacesGetCmd struct {
	apiFlags    `embed:""`
	ID          string `arg:"" name:"workspace-id" help:"The workspace's id."`
	outputFlags `embed:""`
}

// Help is the detailed help of workspaces get.
func (c *WorkspacesGetCmd) Help() string {
	return `Examples:
  switchyard workspaces get 0190…
  switchyard workspaces get 0190… -o json | jq -r .publishable_key.public_key`
}

// Run shows the workspace.
func (c *WorkspacesGetCmd) Run(e *env) error {
	cl, id, err := c.clientFor(e, "workspace id", c.ID)
	if err != nil {
		return err
	}
	w, err := cl.GetWorkspace(e.ctx, id)
	if err != nil {
		return err
	}
	return printObject(e, c.outputFlags, w, workspaceFields(w))
}

// WorkspacesCreateCmd creates a workspace.
type WorkspacesCreateCmd struct {
	apiFlags    `embed:""`
	Name        string `arg:"" name:"name" help:"3 to 50 letters, digits, spaces, _ and -; unique in the organization."`
	Description string `name:"description" help:"What the workspace is for."`
	outputFlags `embed:""`
}

// Help is the detailed help of workspaces create.
func (c *WorkspacesCreateCmd) Help() string {
	return `Examples:
  switchyard workspaces create Production --description "Live customer events"
  WS=$(switchyard workspaces create Staging -o json | jq -r .id)`
}

// Run creates.
func (c *WorkspacesCreateCmd) Run(e *env) error {
	cl, _, err := c.client(e)
	if err != nil {
		return err
	}
	in := client.WorkspaceCreate{Name: c.Name}
	if c.Description != "" {
		in.Description = &c.Description
	}
	w, err := cl.CreateWorkspace(e.ctx, in)
	if err != nil {
		return err
	}
	return printObject(e, c.outputFlags, w, workspaceFields(w))
}

// WorkspacesUpdateCmd changes a workspace.
type WorkspacesUpdateCmd struct {
	apiFlags         `embed:""`
	ID               string  `arg:"" name:"workspace-id" help:"The workspace's id."`
	Name             string  `name:"name" help:"New name."`
	Description      *string `name:"description" help:"New description."`
	ClearDescription bool    `name:"clear-description" help:"Remove the description."`
	outputFlags      `embed:""`
}

// Help is the detailed help of workspaces update.
func (c *WorkspacesUpdateCmd) Help() string {
	return `Examples:
  switchyard workspaces update 0190… --name "Production EU"
  switchyard workspaces update 0190… --clear-description`
}

// Run updates: the name given or the current one (the API requires it), the description
// changed only when asked.
func (c *WorkspacesUpdateCmd) Run(e *env) error {
	id, err := parseID("workspace id", c.ID)
	if err != nil {
		return err
	}
	if c.Name == "" && c.Description == nil && !c.ClearDescription {
		return usagef("nothing to change: give --name, --description or --clear-description")
	}
	if c.Description != nil && c.ClearDescription {
		return usagef("--description and --clear-description exclude each other")
	}
	cl, _, err := c.client(e)
	if err != nil {
		return err
	}
	name := c.Name
	if name == "" {
		cur, err := cl.GetWorkspace(e.ctx, id)
		if err != nil {
			return err
		}
		name = cur.Name
	}
	in := client.WorkspaceUpdate{Name: name, Description: c.Description, KeepDescription: c.Description == nil && !c.ClearDescription}
	w, err := cl.UpdateWorkspace(e.ctx, id, in)
	if err != nil {
		return err
	}
	return printObject(e, c.outputFlags, w, workspaceFields(w))
}

// WorkspacesRotateKeyCmd rotates a publishable key.
type WorkspacesRotateKeyCmd struct {
	apiFlags    `embed:""`
	ID          string `arg:"" name:"workspace-id" help:"The workspace's id."`
	outputFlags `embed:""`
}

// Help is the detailed help of workspaces rotate-key.
func (c *WorkspacesRotateKeyCmd) Help() string {
	return `Browsers and apps that emit with the old key get 401 from then on (servers may accept it for up
to 5 seconds more).

Example:
  switchyard workspaces rotate-key 0190…`
}

// Run rotates.
func (c *WorkspacesRotateKeyCmd) Run(e *env) error {
	cl, id, err := c.clientFor(e, "workspace id", c.ID)
	if err != nil {
		return err
	}
	w, err := cl.RotatePublishableKey(e.ctx, id)
	if err != nil {
		return err
	}
	return printObject(e, c.outputFlags, w, workspaceFields(w))
}

// --- connections ---

// ConnectionsCmd groups the connection commands.
type ConnectionsCmd struct {
	List   ConnectionsListCmd   `cmd:"" help:"List connections (destinations)."`
	Get    ConnectionsGetCmd    `cmd:"" help:"Show a connection and its settings (secrets masked)."`
	Create ConnectionsCreateCmd `cmd:"" help:"Create a connection: an integration type with its settings."`
	Update ConnectionsUpdateCmd `cmd:"" help:"Rename a connection or change its settings."`
	Delete ConnectionsDeleteCmd `cmd:"" help:"Delete a connection (--force: with its rules)."`
	Health ConnectionsHealthCmd `cmd:"" help:"Show a connection's health: active or why not, circuit breaker, 429 pause, queue."`
}

func connectionFields(c *client.Connection) [][2]string {
	return [][2]string{{"ID", c.ID.String()}, {"NAME", c.Name}, {"TYPE", c.Type}, {"WORKSPACE", c.Workspace.String()},
		{"STATE", activeText(c.Active, c.InactiveReason)}, {"CREATED", timeText(&c.CreatedAt)},
		{"UPDATED", timeText(&c.UpdatedAt)}}
}

func printConnection(e *env, o outputFlags, c *client.Connection) error {
	if err := printObject(e, o, c, connectionFields(c)); err != nil || o.Output != "table" {
		return err
	}
	printJSONBlock(e, "METADATA", c.Metadata)
	return nil
}

// ConnectionsListCmd lists connections.
type ConnectionsListCmd struct {
	apiFlags    `embed:""`
	Workspace   string `name:"workspace" placeholder:"UUID" help:"Only this workspace's connections."`
	listFlags   `embed:""`
	outputFlags `embed:""`
}

// Help is the detailed help of connections list.
func (c *ConnectionsListCmd) Help() string {
	return `Examples:
  switchyard connections list
  switchyard connections list --workspace 0190… -o jsonl`
}

// Run lists.
func (c *ConnectionsListCmd) Run(e *env) error {
	ws := uuid.Nil
	if c.Workspace != "" {
		id, err := parseID("--workspace", c.Workspace)
		if err != nil {
			return err
		}
		ws = id
	}
	cl, _, err := c.client(e)
	if err != nil {
		return err
	}
	p, err := fetchList(c.listFlags, func(lo client.ListOptions) (*client.Page[client.Connection], error) {
		if ws != uuid.Nil {
			return cl.ListWorkspaceConnections(e.ctx, ws, &lo)
		}
		return cl.ListConnections(e.ctx, &lo)
	})
	if err != nil {
		return err
	}
	return printList(e, c.outputFlags, p, newTable("ID", "NAME", "TYPE", "WORKSPACE", "CREATED", "STATE"),
		func(x client.Connection) []string {
			return []string{x.ID.String(), x.Name, x.Type, x.Workspace.String(), timeText(&x.CreatedAt),
				activeText(x.Active, x.InactiveReason)}
		})
}

// ConnectionsGetCmd shows a connection.
type ConnectionsGetCmd struct {
	apiFlags    `embed:""`
	ID          string `arg:"" name:"connection-id" help:"The connection's id."`
	outputFlags `embed:""`
}

// Help is the detailed help of connections get.
func (c *ConnectionsGetCmd) Help() string {
	return `Examples:
  switchyard connections get 0190…
  switchyard connections get 0190… -o json | jq .metadata`
}

// Run shows the connection.
func (c *ConnectionsGetCmd) Run(e *env) error {
	cl, id, err := c.clientFor(e, "connection id", c.ID)
	if err != nil {
		return err
	}
	x, err := cl.GetConnection(e.ctx, id)
	if err != nil {
		return err
	}
	return printConnection(e, c.outputFlags, x)
}

// ConnectionsCreateCmd creates a connection.
type ConnectionsCreateCmd struct {
	apiFlags      `embed:""`
	Workspace     string `name:"workspace" placeholder:"UUID" help:"Workspace of the connection (default: $SWITCHYARD_WORKSPACE, else the profile's)."`
	Type          string `name:"type" required:"" placeholder:"TYPE" help:"Integration type, e.g. webhook, hubspot, slack (GET /api/v1/integrations lists them)."`
	Name          string `name:"name" required:"" help:"1 to 128 letters, digits, spaces, _ and -."`
	metadataFlags `embed:""`
	Hidden        bool `name:"hidden" help:"Hide the connection from embedded workspace UIs."`
	outputFlags   `embed:""`
}

// Help is the detailed help of connections create.
func (c *ConnectionsCreateCmd) Help() string {
	return `A webhook connection takes its URL in metadata (the server sends a test request to it unless
skip_url_test is true); other integrations declare their own settings.

Examples:
  switchyard connections create --type webhook --name "Orders hook" --set url=https://example.com/hooks/orders
  switchyard connections create --type webhook --name Hook --metadata '{"url":"https://example.com/h","skip_url_test":true}'`
}

// Run creates.
func (c *ConnectionsCreateCmd) Run(e *env) error {
	meta, err := c.apply(nil)
	if err != nil {
		return err
	}
	cl, s, err := c.client(e)
	if err != nil {
		return err
	}
	ws, err := s.workspaceID(c.Workspace)
	if err != nil {
		return err
	}
	x, err := cl.CreateConnection(e.ctx, client.ConnectionCreate{Workspace: ws, Type: c.Type, Name: c.Name, Metadata: meta,
		Hidden: c.Hidden})
	if err != nil {
		return err
	}
	return printConnection(e, c.outputFlags, x)
}

// ConnectionsUpdateCmd changes a connection.
type ConnectionsUpdateCmd struct {
	apiFlags      `embed:""`
	ID            string `arg:"" name:"connection-id" help:"The connection's id."`
	Name          string `name:"name" help:"New name."`
	metadataFlags `embed:""`
	Replace       bool `name:"replace" help:"Replace the whole metadata with --metadata/--set instead of merging them into the current one."`
	outputFlags   `embed:""`
}

// Help is the detailed help of connections update.
func (c *ConnectionsUpdateCmd) Help() string {
	return `The current settings are read first and the changes merged into them; secret settings, which come
back masked, keep their stored values unless set anew.

Examples:
  switchyard connections update 0190… --set url=https://example.com/hooks/v2
  switchyard connections update 0190… --name "Orders hook (EU)"`
}

// Run updates.
func (c *ConnectionsUpdateCmd) Run(e *env) error {
	id, err := parseID("connection id", c.ID)
	if err != nil {
		return err
	}
	if c.Name == "" && c.Metadata == "" && len(c.Set) == 0 {
		return usagef("nothing to change: give --name, --metadata or --set")
	}
	cl, _, err := c.client(e)
	if err != nil {
		return err
	}
	cur, err := cl.GetConnection(e.ctx, id)
	if err != nil {
		return err
	}
	base := cur.Metadata
	if c.Replace {
		base = nil
	}
	meta, err := c.apply(base)
	if err != nil {
		return err
	}
	name := c.Name
	if name == "" {
		name = cur.Name
	}
	x, err := cl.UpdateConnection(e.ctx, id, client.ConnectionUpdate{Name: name, Metadata: meta})
	if err != nil {
		return err
	}
	return printConnection(e, c.outputFlags, x)
}

// ConnectionsDeleteCmd deletes a connection.
type ConnectionsDeleteCmd struct {
	apiFlags    `embed:""`
	ID          string `arg:"" name:"connection-id" help:"The connection's id."`
	Force       bool   `name:"force" help:"Also delete the connection's rules (without it, a connection with active rules is refused)."`
	outputFlags `embed:""`
}

// Help is the detailed help of connections delete.
func (c *ConnectionsDeleteCmd) Help() string {
	return `Examples:
  switchyard connections delete 0190…
  switchyard connections delete 0190… --force`
}

// Run deletes.
func (c *ConnectionsDeleteCmd) Run(e *env) error {
	cl, id, err := c.clientFor(e, "connection id", c.ID)
	if err != nil {
		return err
	}
	d, err := cl.DeleteConnection(e.ctx, id, c.Force)
	if err != nil {
		return err
	}
	if c.Output != "table" {
		return e.printer(c.outputFlags).json(d)
	}
	fmt.Fprintf(e.stdout, "Deleted connection %s (%s).\n", d.ID, d.Type)
	return nil
}

// --- rules ---

// RulesCmd groups the rule commands.
type RulesCmd struct {
	List   RulesListCmd   `cmd:"" help:"List rules."`
	Get    RulesGetCmd    `cmd:"" help:"Show a rule."`
	Create RulesCreateCmd `cmd:"" help:"Create a rule: deliver a workspace's events of one name to a connection's action."`
	Delete RulesDeleteCmd `cmd:"" help:"Delete a rule."`
	Test   RulesTestCmd   `cmd:"" help:"Send a test event through a rule now, or with --dry-run show what it would send."`
}

func actionText(meta map[string]any) string {
	if a, ok := meta["action"].(string); ok {
		return a
	}
	return ""
}

func ruleFields(r *client.Rule) [][2]string {
	return [][2]string{{"ID", r.ID.String()}, {"EVENT", r.Event}, {"RESOURCE", resourceText(r.Resource, r.ResourceID)},
		{"ACTION", actionText(r.Metadata)}, {"CONNECTION", r.Connection.String()}, {"TYPE", r.Type},
		{"WORKSPACE", r.Workspace.String()}, {"STATE", activeText(r.Active, "")}, {"CREATED", timeText(&r.CreatedAt)}}
}

func printRule(e *env, o outputFlags, r *client.Rule) error {
	if err := printObject(e, o, r, ruleFields(r)); err != nil || o.Output != "table" {
		return err
	}
	printJSONBlock(e, "METADATA", r.Metadata)
	return nil
}

// RulesListCmd lists rules.
type RulesListCmd struct {
	apiFlags    `embed:""`
	Workspace   string `name:"workspace" placeholder:"UUID" help:"Only this workspace's rules."`
	Event       string `name:"event" placeholder:"NAME" help:"Only rules for this event name."`
	Resource    string `name:"resource" help:"Only rules for this resource type."`
	ResourceID  string `name:"resource-id" help:"Only rules for this resource id."`
	listFlags   `embed:""`
	outputFlags `embed:""`
}

// Help is the detailed help of rules list.
func (c *RulesListCmd) Help() string {
	return `Examples:
  switchyard rules list
  switchyard rules list --workspace 0190… --event contact.created`
}

// Run lists.
func (c *RulesListCmd) Run(e *env) error {
	ws := uuid.Nil
	if c.Workspace != "" {
		id, err := parseID("--workspace", c.Workspace)
		if err != nil {
			return err
		}
		ws = id
	}
	cl, _, err := c.client(e)
	if err != nil {
		return err
	}
	opts := &client.RuleListOptions{Event: c.Event, Resource: c.Resource, ResourceID: c.ResourceID}
	p, err := fetchList(c.listFlags, func(lo client.ListOptions) (*client.Page[client.Rule], error) {
		opts.ListOptions = lo
		if ws != uuid.Nil {
			return cl.ListWorkspaceRules(e.ctx, ws, opts)
		}
		return cl.ListRules(e.ctx, opts)
	})
	if err != nil {
		return err
	}
	return printList(e, c.outputFlags, p, newTable("ID", "EVENT", "RESOURCE", "ACTION", "CONNECTION", "TYPE", "STATE"),
		func(r client.Rule) []string {
			return []string{r.ID.String(), r.Event, resourceText(r.Resource, r.ResourceID), actionText(r.Metadata),
				r.Connection.String(), r.Type, activeText(r.Active, "")}
		})
}

// RulesGetCmd shows a rule.
type RulesGetCmd struct {
	apiFlags    `embed:""`
	ID          string `arg:"" name:"rule-id" help:"The rule's id."`
	outputFlags `embed:""`
}

// Help is the detailed help of rules get.
func (c *RulesGetCmd) Help() string {
	return `Example:
  switchyard rules get 0190…`
}

// Run shows the rule.
func (c *RulesGetCmd) Run(e *env) error {
	cl, id, err := c.clientFor(e, "rule id", c.ID)
	if err != nil {
		return err
	}
	r, err := cl.GetRule(e.ctx, id)
	if err != nil {
		return err
	}
	return printRule(e, c.outputFlags, r)
}

// RulesCreateCmd creates a rule.
type RulesCreateCmd struct {
	apiFlags      `embed:""`
	Workspace     string `name:"workspace" placeholder:"UUID" help:"Workspace of the rule (default: $SWITCHYARD_WORKSPACE, else the profile's)."`
	Connection    string `name:"connection" required:"" placeholder:"UUID" help:"Connection to deliver to."`
	Event         string `name:"event" required:"" placeholder:"NAME" help:"Event name the rule matches, e.g. contact.created."`
	Action        string `name:"action" placeholder:"ACTION" help:"The connection's action, e.g. send_webhook (sets metadata.action)."`
	Resource      string `name:"resource" help:"Only events about this resource type."`
	ResourceID    string `name:"resource-id" help:"Only events about this resource id."`
	metadataFlags `embed:""`
	Inactive      bool `name:"inactive" help:"Create the rule switched off."`
	outputFlags   `embed:""`
}

// Help is the detailed help of rules create.
func (c *RulesCreateCmd) Help() string {
	return `Examples:
  switchyard rules create --connection 0190… --event contact.created --action send_webhook
  switchyard rules create --connection 0190… --event deal.won --action add_to_list --set list_id=42`
}

// Run creates.
func (c *RulesCreateCmd) Run(e *env) error {
	conn, err := parseID("--connection", c.Connection)
	if err != nil {
		return err
	}
	meta, err := c.apply(nil)
	if err != nil {
		return err
	}
	if c.Action != "" {
		meta["action"] = c.Action
	}
	if _, ok := meta["action"]; !ok {
		return usagef("the rule needs an action: give --action (e.g. send_webhook) or metadata with \"action\"")
	}
	cl, s, err := c.client(e)
	if err != nil {
		return err
	}
	ws, err := s.workspaceID(c.Workspace)
	if err != nil {
		return err
	}
	in := client.RuleCreate{Workspace: ws, Connection: conn, Event: c.Event, Metadata: meta, Resource: c.Resource,
		ResourceID: c.ResourceID}
	if c.Inactive {
		f := false
		in.Active = &f
	}
	r, err := cl.CreateRule(e.ctx, in)
	if err != nil {
		return err
	}
	return printRule(e, c.outputFlags, r)
}

// RulesDeleteCmd deletes a rule.
type RulesDeleteCmd struct {
	apiFlags    `embed:""`
	ID          string `arg:"" name:"rule-id" help:"The rule's id."`
	outputFlags `embed:""`
}

// Help is the detailed help of rules delete.
func (c *RulesDeleteCmd) Help() string {
	return `Example:
  switchyard rules delete 0190…`
}

// Run deletes.
func (c *RulesDeleteCmd) Run(e *env) error {
	cl, id, err := c.clientFor(e, "rule id", c.ID)
	if err != nil {
		return err
	}
	d, err := cl.DeleteRule(e.ctx, id)
	if err != nil {
		return err
	}
	if c.Output != "table" {
		return e.printer(c.outputFlags).json(d)
	}
	fmt.Fprintf(e.stdout, "Deleted rule %s (%s → connection %s).\n", d.ID, d.Event, d.Connection)
	return nil
}

// --- operations ---

// queueText summarises a delivery queue: "3 due (oldest 12s), 1 scheduled, 0 processing".
func queueText(q client.DeliveryQueue) string {
	due := fmt.Sprintf("%d due", q.Due)
	if q.OldestDueAgeSeconds != nil && q.Due > 0 {
		due += fmt.Sprintf(" (oldest %s)", (time.Duration(*q.OldestDueAgeSeconds * float64(time.Second))).Round(time.Second))
	}
	return fmt.Sprintf("%s, %d scheduled, %d processing", due, q.Scheduled, q.Processing)
}

// WorkspacesBacklogCmd shows a workspace's backlog.
type WorkspacesBacklogCmd struct {
	apiFlags    `embed:""`
	ID          string `arg:"" optional:"" name:"workspace-id" help:"The workspace's id (default: $SWITCHYARD_WORKSPACE, else the profile's)."`
	outputFlags `embed:""`
}

// Help is the detailed help of workspaces backlog.
func (c *WorkspacesBacklogCmd) Help() string {
	return `The circuit and pause columns are the answering server's view (each node keeps its own).

Examples:
  switchyard workspaces backlog
  switchyard workspaces backlog 0190… -o json`
}

// Run shows the backlog.
func (c *WorkspacesBacklogCmd) Run(e *env) error {
	cl, s, err := c.client(e)
	if err != nil {
		return err
	}
	id, err := s.workspaceID(c.ID)
	if err != nil {
		return err
	}
	b, err := cl.GetWorkspaceBacklog(e.ctx, id)
	if err != nil {
		return err
	}
	if c.Output != "table" {
		return e.printer(c.outputFlags).json(b)
	}
	if err := writeFields(e.stdout, [][2]string{{"WORKSPACE", b.WorkspaceID.String()}, {"QUEUE", queueText(b.DeliveryQueue)},
		{"AS OF", timeText(&b.AsOf)}}); err != nil {
		return err
	}
	if len(b.Connections) == 0 {
		return nil
	}
	fmt.Fprintln(e.stdout)
	t := newTable("CONNECTION", "NAME", "TYPE", "DUE", "SCHEDULED", "PROCESSING", "PAUSED UNTIL", "CIRCUIT")
	for _, x := range b.Connections {
		color := ""
		if x.Circuit != "closed" {
			color = ansiRed
		}
		t.addColored(color, x.ConnectionID.String(), x.Name, x.Type, fmt.Sprint(x.Due), fmt.Sprint(x.Scheduled),
			fmt.Sprint(x.Processing), timeText(x.PausedUntil), x.Circuit)
	}
	return t.write(e.stdout, e.color())
}

// ConnectionsHealthCmd shows a connection's health.
type ConnectionsHealthCmd struct {
	apiFlags    `embed:""`
	ID          string `arg:"" name:"connection-id" help:"The connection's id."`
	outputFlags `embed:""`
}

// Help is the detailed help of connections health.
func (c *ConnectionsHealthCmd) Help() string {
	return `The circuit and pause are the answering server's view (each node keeps its own); the queue is
the store's.

Example:
  switchyard connections health 0190…`
}

// Run shows the health.
func (c *ConnectionsHealthCmd) Run(e *env) error {
	cl, id, err := c.clientFor(e, "connection id", c.ID)
	if err != nil {
		return err
	}
	h, err := cl.GetConnectionHealth(e.ctx, id)
	if err != nil {
		return err
	}
	reason := ""
	if h.InactiveReason != nil {
		reason = *h.InactiveReason
	}
	circuit := h.Circuit
	if h.ConsecutiveFailures > 0 {
		circuit += fmt.Sprintf(" (%d consecutive failures)", h.ConsecutiveFailures)
	}
	if h.OpenUntil != nil {
		circuit += ", open until " + timeText(h.OpenUntil)
	}
	return printObject(e, c.outputFlags, h, [][2]string{{"CONNECTION", h.ConnectionID.String()}, {"NAME", h.Name},
		{"TYPE", h.Type}, {"WORKSPACE", h.Workspace.String()}, {"STATE", activeText(h.Active, reason)},
		{"CIRCUIT", circuit}, {"PAUSED UNTIL", timeText(h.PausedUntil)}, {"QUEUE", queueText(h.Queue)},
		{"AS OF", timeText(&h.AsOf)}})
}

// RulesTestCmd tests a rule.
type RulesTestCmd struct {
	apiFlags    `embed:""`
	ID          string `arg:"" name:"rule-id" help:"The rule's id."`
	Payload     string `name:"payload" short:"d" placeholder:"JSON" help:"The test event's payload, a JSON object."`
	File        string `name:"file" short:"f" placeholder:"FILE" help:"Read the payload from FILE ('-': standard input)."`
	EventID     string `name:"event-id" placeholder:"UUID" help:"Use a stored event's payload instead."`
	Resource    string `name:"resource" help:"Resource type of the test event."`
	ResourceID  string `name:"resource-id" help:"Resource id of the test event."`
	DryRun      bool   `name:"dry-run" help:"Only show what would be sent (the request, for integrations that can preview it); send nothing."`
	outputFlags `embed:""`
}

// Help is the detailed help of rules test.
func (c *RulesTestCmd) Help() string {
	return `Without --dry-run the rule's action is performed once, for real; the test event is never stored
and no attempt is recorded. Exits 1 when that delivery did not succeed.

Examples:
  switchyard rules test 0190… --dry-run -d '{"email":"ada@example.com"}'
  switchyard rules test 0190… --event-id 0190…`
}

// Run tests the rule.
func (c *RulesTestCmd) Run(e *env) error {
	id, err := parseID("rule id", c.ID)
	if err != nil {
		return err
	}
	in := client.RuleTest{Resource: c.Resource, ResourceID: c.ResourceID, DryRun: c.DryRun}
	if c.EventID != "" {
		if c.Payload != "" || c.File != "" {
			return usagef("give a payload or --event-id, not both")
		}
		eid, err := parseID("--event-id", c.EventID)
		if err != nil {
			return err
		}
		in.EventID = &eid
	} else {
		p, err := readPayload(e, c.Payload, c.File)
		if err != nil {
			return err
		}
		in.Payload = p
	}
	cl, _, err := c.client(e)
	if err != nil {
		return err
	}
	res, err := cl.TestRule(e.ctx, id, in)
	if err != nil {
		return err
	}
	failed := res.Attempt != nil && res.Attempt.OutcomeCode != "delivered"
	if c.Output != "table" {
		if err := e.printer(c.outputFlags).json(res); err != nil {
			return err
		}
	} else if err := printRuleTest(e, res); err != nil {
		return err
	}
	if failed {
		return fmt.Errorf("the test delivery did not succeed: %s", res.Attempt.OutcomeCode)
	}
	return nil
}

func printRuleTest(e *env, res *client.RuleTestResult) error {
	fields := [][2]string{{"RULE", res.RuleID.String()}, {"CONNECTION", res.ConnectionID.String()},
		{"INTEGRATION", res.IntegrationType}, {"ACTION", res.Action}, {"DRY RUN", fmt.Sprint(res.DryRun)}}
	if a := res.Attempt; a != nil {
		httpStatus := "-"
		if a.HTTPStatus != nil {
			httpStatus = fmt.Sprint(*a.HTTPStatus)
		}
		fields = append(fields, [2]string{"OUTCOME", a.OutcomeCode}, [2]string{"HTTP", httpStatus},
			[2]string{"MESSAGE", a.Message}, [2]string{"DURATION", fmt.Sprintf("%dms", a.DurationMS)})
		if a.Deactivate != "" {
			fields = append(fields, [2]string{"WOULD DEACTIVATE", a.Deactivate})
		}
	}
	if r := res.Request; r != nil {
		fields = append(fields, [2]string{"REQUEST", r.Method + " " + r.URL})
	}
	if err := writeFields(e.stdout, fields); err != nil {
		return err
	}
	if len(res.Params) > 0 {
		printJSONBlock(e, "PARAMS", res.Params)
	}
	if len(res.Fields) > 0 {
		printJSONBlock(e, "FIELDS", res.Fields)
	}
	for _, w := range res.MappingWarnings {
		fmt.Fprintf(e.stdout, "warning: %s: %s (%s)\n", w.Dest, w.Reason, w.OnError)
	}
	if r := res.Request; r != nil && len(r.Body) > 0 {
		printJSONBlock(e, "REQUEST BODY", r.Body)
	}
	return nil
}

// Help is the detailed help of workspaces.
func (c *WorkspacesCmd) Help() string {
	return `Examples:
  switchyard workspaces list
  switchyard workspaces create Production
  switchyard workspaces backlog 0190…`
}

// Help is the detailed help of connections.
func (c *ConnectionsCmd) Help() string {
	return `Examples:
  switchyard connections create --type webhook --name Orders --set url=https://example.com/hooks/orders
  switchyard connections list --workspace 0190…
  switchyard connections health 0190…`
}

// Help is the detailed help of rules.
func (c *RulesCmd) Help() string {
	return `Examples:
  switchyard rules create --connection 0190… --event order.paid --action send_webhook
  switchyard rules test 0190… --dry-run -d '{"order_id":42}'`
}
