package destination

// Description is an integration as GET /api/v1/integrations publishes it (docs/meshes-compat.md §8).
// Keys inside are camelCase (helpText, defaultValue, dependsOn), as the Meshes API has them.
type Description struct {
	Name           string                       `json:"name"`
	Type           string                       `json:"type"`
	Authentication AuthenticationDescription    `json:"authentication"`
	Actions        map[string]ActionDescription `json:"actions"`
}

// AuthenticationDescription is the "authentication" object of a Description.
type AuthenticationDescription struct {
	Type   string             `json:"type"`
	OAuth  *OAuthDescription  `json:"oauth,omitempty"`
	Fields []FieldDescription `json:"fields,omitempty"`
}

// OAuthDescription is present for OAuth integrations only.
type OAuthDescription struct {
	Version int `json:"version"`
}

// FieldDescription is one connection-metadata field of a Description.
type FieldDescription struct {
	Label        string     `json:"label"`
	Key          string     `json:"key"`
	Type         string     `json:"type"`
	HelpText     string     `json:"helpText,omitempty"`
	Required     bool       `json:"required,omitempty"`
	Validate     string     `json:"validate,omitempty"`
	DefaultValue any        `json:"defaultValue,omitempty"`
	Options      []Option   `json:"options,omitempty"`
	DependsOn    *DependsOn `json:"dependsOn,omitempty"`
}

// ActionDescription is one rule action of a Description. Fields is always present: an empty
// list marks an action-only action, which is how the Meshes API tells agents that a rule needs
// no metadata beyond "action".
type ActionDescription struct {
	Key     string        `json:"key"`
	Label   string        `json:"label"`
	Noun    string        `json:"noun"`
	Fields  []string      `json:"fields"`
	Display *Display      `json:"display,omitempty"`
	Data    []ActionInput `json:"data,omitempty"`
}

// Describe returns the integration's wire form for GET /api/v1/integrations.
func (i *Integration) Describe() Description {
	d := Description{
		Name:           i.Name,
		Type:           i.Type,
		Authentication: AuthenticationDescription{Type: i.AuthType},
		Actions:        make(map[string]ActionDescription, len(i.Actions)),
	}
	if i.AuthType == AuthOAuth {
		d.Authentication.OAuth = &OAuthDescription{Version: i.OAuthVersion}
	}
	for _, f := range i.Fields {
		fd := FieldDescription{
			Label:        f.Label,
			Key:          f.Key,
			Type:         f.Type,
			HelpText:     f.HelpText,
			Required:     f.Required,
			Validate:     f.Validate,
			DefaultValue: f.Default,
			Options:      append([]Option(nil), f.Options...),
		}
		if f.Secret {
			fd.Type = FieldPassword
		}
		if f.DependsOn != nil {
			fd.DependsOn = &DependsOn{Field: f.DependsOn.Field, Value: append([]string(nil), f.DependsOn.Value...)}
		}
		d.Authentication.Fields = append(d.Authentication.Fields, fd)
	}
	for _, a := range i.Actions {
		ad := ActionDescription{Key: a.Key, Label: a.Label, Noun: a.Noun, Fields: append([]string{}, a.Fields...)}
		if a.Display != nil {
			disp := *a.Display
			ad.Display = &disp
		}
		ad.Data = append([]ActionInput(nil), a.Data...)
		d.Actions[a.Key] = ad
	}
	return d
}
