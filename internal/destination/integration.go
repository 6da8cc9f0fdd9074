package destination

import (
	"encoding/json"
	"log/slog"
	"strings"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// The field types a schema may declare. They are published as-is in GET /api/v1/integrations,
// except that a secret field is always published as FieldPassword.
const (
	FieldText     = "text"
	FieldPassword = "password"
	FieldSelect   = "select"
	FieldTextarea = "textarea"
	FieldObject   = "object" // a JSON object; the integration's Check says what it may hold
	FieldNumber   = "number" // normalised to float64, as encoding/json decodes numbers
	FieldBoolean  = "boolean"
)

// The authentication families of the Meshes API.
const (
	AuthNone   = "none"
	AuthAPIKey = "api_key"
	AuthBasic  = "basic"
	AuthOAuth  = "oauth"
)

// ValidateURL is the one Field.Validate rule: the value must be an absolute http or https URL
// with a host. Rules that depend on server settings (https only) belong in Integration.Check.
const ValidateURL = "url"

// MaskedValue replaces a secret's value wherever metadata leaves the server. The API layer can
// recognise it on input (a client that read a connection and sent it back) and keep the stored
// secret instead.
const MaskedValue = "********"

// InactiveDestinationGone is the inactive_reason of a connection whose destination answered
// 410 Gone. It extends the Meshes API's list of reasons (switchyard.Inactive*).
const InactiveDestinationGone = "destination_gone"

// Field declares one connection-metadata key of an integration.
type Field struct {
	// Key is the metadata key (snake_case).
	Key string
	// Label and HelpText are shown in forms.
	Label    string
	HelpText string
	// Type is one of the Field* constants.
	Type string
	// Required fields must be present and non-blank (after Default is applied). A field with a
	// DependsOn is required only while its condition holds.
	Required bool
	// Secret fields are sealed at rest, masked on output and published as type "password".
	Secret bool
	// Validate is ValidateURL or "".
	Validate string
	// Default fills an absent or blank value. It is published as defaultValue.
	Default any
	// Options are the allowed values of a select. Input is matched case-insensitively and stored
	// as the declared Value, so declare values in their canonical form (lower-case by convention).
	Options []Option
	// DependsOn makes the field apply only while another field, declared earlier, has one of
	// the listed values. While it does not apply, the field is removed from normalised metadata,
	// so that a credential of a scheme no longer chosen is not kept.
	DependsOn *DependsOn
}

// Option is one allowed value of a select field.
type Option struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// DependsOn names the field and the values under which another field applies.
type DependsOn struct {
	Field string   `json:"field"`
	Value []string `json:"value"`
}

// Action declares one rule action of an integration (the rule's metadata.action).
type Action struct {
	Key   string
	Label string
	Noun  string
	// Fields lists the rule metadata keys the action uses; empty for an action-only action.
	Fields  []string
	Display *Display
	// Data says how a form fills the action's fields (the Meshes ActionInput list): from live
	// action data (kind simple: pick one item; advanced: an item and one of its options) or
	// typed in (kind field).
	Data []ActionInput
}

// The kinds of ActionInput.
const (
	InputSimple   = "simple"
	InputAdvanced = "advanced"
	InputField    = "field"
)

// ActionInput is one input of a rule action's form, as the Meshes API describes it (camelCase
// keys). Simple: pick one item of the action data's Key (e.g. "lists") and write its id to
// metadata.<Field>. Advanced: likewise, then one of the item's options (Options). Field: a value
// typed in (Type text, password, textarea or select with SelectOptions).
type ActionInput struct {
	Key      string `json:"key"`
	Field    string `json:"field"`
	Kind     string `json:"kind"`
	Label    string `json:"label,omitempty"`
	Noun     string `json:"noun,omitempty"`
	Target   string `json:"target,omitempty"`
	From     string `json:"from,omitempty"`
	Required bool   `json:"required,omitempty"`
	// Options is the nested pick of an advanced input.
	Options *ActionInputOptions `json:"-"`
	// Type, Description, Placeholder, Regex, RegexMessage, DefaultValue and SelectOptions
	// describe a field input.
	Type          string   `json:"type,omitempty"`
	Description   string   `json:"description,omitempty"`
	Placeholder   string   `json:"placeholder,omitempty"`
	Regex         string   `json:"regex,omitempty"`
	RegexMessage  string   `json:"regexMessage,omitempty"`
	DefaultValue  any      `json:"defaultValue,omitempty"`
	SelectOptions []Option `json:"-"`
}

// MarshalJSON writes the input in the Meshes shape, where "options" is the nested pick of an
// advanced input or the choices of a select field.
func (in ActionInput) MarshalJSON() ([]byte, error) {
	type plain ActionInput
	var options any
	switch {
	case in.Options != nil:
		options = in.Options
	case len(in.SelectOptions) > 0:
		options = in.SelectOptions
	}
	return json.Marshal(struct {
		plain
		Options any `json:"options,omitempty"`
	}{plain(in), options})
}

// ActionInputOptions is the nested pick of an advanced input: one of the chosen item's Key
// entries (e.g. a property's "options"), whose Field ("value") goes to metadata.<Field>.
type ActionInputOptions struct {
	Key     string       `json:"key"`
	Field   string       `json:"field"`
	Length  int          `json:"length"`
	Display InputDisplay `json:"display"`
	// Type is "select" (one option) or "array"; Entity "option" or "string".
	Type   string `json:"type"`
	Entity string `json:"entity"`
}

// InputDisplay is how an advanced input's nested pick is shown.
type InputDisplay struct {
	Label       string `json:"label"`
	Button      string `json:"button"`
	Description string `json:"description"`
}

// Display is how an action is presented in forms.
type Display struct {
	Label       string `json:"label"`
	Description string `json:"description"`
}

// Options is what an integration's constructor, Check and Test receive from the server.
type Options struct {
	// AllowPrivate lifts the SSRF rules (https only; no private, loopback, link-local or
	// metadata addresses). It is the server setting --allow-private-destinations, for
	// development and tests only.
	AllowPrivate bool
	// Logger receives the adapter's diagnostics; nil discards them.
	Logger *slog.Logger
	// UserAgent is sent with every outbound request; "" leaves the adapter's default.
	UserAgent string
	// Apps are the provider apps (OAuth client credentials, scopes, endpoint overrides) the
	// server is configured with, by integration type. App merges them with what an integration
	// declares.
	Apps map[string]OAuthApp
}

// App returns the provider app of integration in: the configured credentials and overrides,
// and the integration's declared endpoints, scopes and API base where nothing overrides them.
func (o Options) App(in *Integration) OAuthApp {
	app := o.Apps[in.Type]
	if app.APIBase == "" {
		app.APIBase = in.APIBase
	}
	if in.OAuth != nil {
		if app.AuthURL == "" {
			app.AuthURL = in.OAuth.AuthURL
		}
		if app.TokenURL == "" {
			app.TokenURL = in.OAuth.TokenURL
		}
		if len(app.Scopes) == 0 {
			app.Scopes = in.OAuth.Scopes
		}
	}
	return app
}

// Integration is one kind of destination: its type string, the schema of its connection
// metadata, its rule actions and its adapter constructor.
type Integration struct {
	// Type is the stable type string (a connection's and rule's "type").
	Type string
	// Name is the display name.
	Name string
	// AuthType is one of the Auth* constants.
	AuthType string
	// OAuthVersion is 1 or 2 when AuthType is AuthOAuth.
	OAuthVersion int
	// Fields is the connection-metadata schema, in display order.
	Fields []Field
	// Actions are the rule actions, in display order.
	Actions []Action
	// Check runs after the generic schema validation, for rules a schema cannot say; it may
	// normalise values. It sees only the fields that passed the generic validation, and its
	// errors for a parameter that already failed are dropped.
	Check func(meta map[string]any, opts Options) []switchyard.FieldError
	// OAuth declares the provider's OAuth 2.0 endpoints when AuthType is AuthOAuth.
	OAuth *OAuthSpec
	// APIBase is the provider's documented API base URL ("" for integrations that have none,
	// like webhooks); the server configuration may override it (Options.Apps).
	APIBase string
	// Mapped integrations receive the event's payload mapped through the connection's default
	// mapping (Request.Fields); the others receive the payload as it is.
	Mapped bool
	// New builds the integration's server-wide part (see lifecycle.go); it must have no side
	// effects (no network, no goroutines).
	New func(opts Options) Provisioner
}

// SecretFields returns the keys of the fields declared secret, in declaration order.
func (i *Integration) SecretFields() []string {
	var keys []string
	for _, f := range i.Fields {
		if f.Secret {
			keys = append(keys, f.Key)
		}
	}
	return keys
}

// Mask returns a copy of meta in which every present secret value is replaced by MaskedValue.
// Absent secrets stay absent, so a reader can tell "set" from "not set".
func (i *Integration) Mask(meta map[string]any) map[string]any {
	if meta == nil {
		return nil
	}
	out := cloneMap(meta)
	for _, f := range i.Fields {
		if v, ok := out[f.Key]; ok && f.Secret && v != nil {
			out[f.Key] = MaskedValue
		}
	}
	return out
}

// HasAction reports whether key is one of the integration's rule actions.
func (i *Integration) HasAction(key string) bool { return i.Action(key) != nil }

// Action returns the rule action with key, or nil.
func (i *Integration) Action(key string) *Action {
	for n := range i.Actions {
		if i.Actions[n].Key == key {
			return &i.Actions[n]
		}
	}
	return nil
}

// field returns the declared field with key, or nil.
func (i *Integration) field(key string) *Field {
	for n := range i.Fields {
		if i.Fields[n].Key == key {
			return &i.Fields[n]
		}
	}
	return nil
}

// cloneMap copies m deeply enough that nested objects and arrays can be changed without
// touching the caller's values.
func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneMap(v)
	case map[string]string:
		out := make(map[string]any, len(v))
		for k, s := range v {
			out[k] = s
		}
		return out
	case []any:
		out := make([]any, len(v))
		for n, e := range v {
			out[n] = cloneValue(e)
		}
		return out
	}
	return v
}

// Pick is a simple input: one item of the action data's key (e.g. "lists"), whose id goes to
// metadata.<field>.
func Pick(key, field, label, noun string) ActionInput {
	return ActionInput{Key: key, Field: field, Kind: InputSimple, Label: label, Noun: noun, Required: true}
}

// PickWithOption is an advanced input: one item of key (its id to metadata.<field>), then one of
// that item's optionsKey entries (e.g. a property's "options"), whose value goes to
// metadata.<optionField>.
func PickWithOption(key, field, label, noun, optionsKey, optionField, optionLabel string) ActionInput {
	return ActionInput{Key: key, Field: field, Kind: InputAdvanced, Label: label, Noun: noun, Required: true,
		Options: &ActionInputOptions{Key: optionsKey, Field: optionField, Length: 1, Type: "select", Entity: "option",
			Display: InputDisplay{Label: optionLabel, Button: "Choose " + strings.ToLower(optionLabel),
				Description: "One of the " + strings.ToLower(noun) + "'s allowed values."}}}
}
