package embed

import (
	"fmt"
	"slices"
	"strings"

	"github.com/switchyardhq/switchyard/internal/api"
	"github.com/switchyardhq/switchyard/internal/destination"
)

// Forms. The pages hold plain HTML forms: <form data-api="METHOD /api/v1/…">, whose submit
// assets/app.js turns into a JSON request with the session's token (a field named a.b becomes
// {"a":{"b":…}}; a checkbox a boolean; data-json a parsed JSON value; data-number a number).
// The server decides everything (internal/api/authz.go): the pages show a form only when the
// session may use its route (api.Session.Allows), as a courtesy.

// can is what the session may do, by the routes the pages' forms use.
type can struct {
	CreateConnection, DeleteConnection, OAuth, CreateRule, DeleteRule, TestRule, Retry, Cancel, SaveMapping bool
}

func capabilities(ss *api.Session) can {
	return can{
		CreateConnection: ss.Allows("POST /api/v1/connections"),
		DeleteConnection: ss.Allows("DELETE /api/v1/connections/{connection_id}"),
		OAuth:            ss.Allows("POST /api/v1/connections/oauth/start"),
		CreateRule:       ss.Allows("POST /api/v1/rules"),
		DeleteRule:       ss.Allows("DELETE /api/v1/rules/{rule_id}"),
		TestRule:         ss.Allows("POST /api/v1/rules/{rule_id}/test"),
		Retry:            ss.Allows("POST /api/v1/events/{event_id}/rules/{rule_id}/retry"),
		Cancel:           ss.Allows("POST /api/v1/events/{event_id}/rules/{rule_id}/cancel"),
		SaveMapping:      ss.Allows("PUT /api/v1/connections/{connection_id}/mappings/default"),
	}
}

// formField is one labelled input.
type formField struct {
	ID, Name, Label, Help string
	// Type is text, password, select, textarea, object (a JSON textarea), number or boolean.
	Type     string
	Required bool
	Options  []destination.Option
	Value    string
	Checked  bool
	// Source, for a select fed by a connection's action data: the data's key ("lists").
	Source string
	// DependsOn, for a field that applies only while another field of the form (named
	// DependsOn, "metadata.auth_scheme") has one of DependsValues ("basic"): the script shows
	// and enables it then, and hides and disables it otherwise, so that it is not sent. Hidden
	// is its state under the other field's default value, as the page is first rendered.
	DependsOn, DependsValues string
	Hidden                   bool
}

// connectionForm is the "New connection" form of one integration.
type connectionForm struct {
	Type, Name string
	OAuth      bool
	Fields     []formField
}

// actionForm is the inputs one integration's action needs in a rule.
type actionForm struct {
	Type, Key, Label, Description string
	Inputs                        []formField
}

func connectionForms(reg *destination.Registry) []connectionForm {
	if reg == nil {
		return nil
	}
	var out []connectionForm
	for _, in := range reg.List() {
		cf := connectionForm{Type: in.Type, Name: in.Name, OAuth: in.AuthType == destination.AuthOAuth}
		if !cf.OAuth {
			// The value each field starts with, for the initial state of the fields that
			// depend on it (as destination.ValidateMetadata compares: case-insensitively,
			// booleans as true/false).
			initial := map[string]string{}
			for _, f := range in.Fields {
				ff := formField{ID: "conn-" + in.Type + "-" + f.Key, Name: "metadata." + f.Key, Label: f.Label, Help: f.HelpText,
					Type: f.Type, Required: f.Required, Options: f.Options}
				switch v := f.Default.(type) {
				case bool:
					ff.Checked = v
					initial[f.Key] = fmt.Sprint(v)
				case nil:
				default:
					ff.Value = fmt.Sprint(v)
					initial[f.Key] = ff.Value
				}
				if d := f.DependsOn; d != nil {
					ff.DependsOn, ff.DependsValues = "metadata."+d.Field, strings.ToLower(strings.Join(d.Value, ","))
					ff.Hidden = !slices.ContainsFunc(d.Value, func(v string) bool { return strings.EqualFold(v, initial[d.Field]) })
					if ff.Hidden {
						delete(initial, f.Key) // a field not shown holds no value for those after it
					}
				}
				cf.Fields = append(cf.Fields, ff)
			}
		}
		out = append(out, cf)
	}
	return out
}

func actionForms(reg *destination.Registry) []actionForm {
	if reg == nil {
		return nil
	}
	var out []actionForm
	for _, in := range reg.List() {
		for _, a := range in.Actions {
			af := actionForm{Type: in.Type, Key: a.Key, Label: a.Label}
			if a.Display != nil {
				af.Description = a.Display.Description
			}
			for _, d := range a.Data {
				id := "rule-" + in.Type + "-" + a.Key + "-" + d.Field
				label := d.Label
				if label == "" {
					label = d.Field
				}
				switch d.Kind {
				case destination.InputSimple, destination.InputAdvanced:
					af.Inputs = append(af.Inputs, formField{ID: id, Name: "metadata." + d.Field, Label: label, Type: "select",
						Required: d.Required, Source: d.Key, Help: "Choose one of the connection's " + strings.ToLower(d.Noun) + " items."})
					if d.Options != nil {
						af.Inputs = append(af.Inputs, formField{ID: id + "-" + d.Options.Field, Name: "metadata." + d.Options.Field,
							Label: d.Options.Display.Label, Type: "text", Required: true, Help: d.Options.Display.Description})
					}
				default:
					typ := "text"
					if len(d.SelectOptions) > 0 {
						typ = "select"
					}
					ff := formField{ID: id, Name: "metadata." + d.Field, Label: label, Type: typ, Required: d.Required,
						Help: d.Description, Options: d.SelectOptions}
					if d.DefaultValue != nil {
						ff.Value = fmt.Sprint(d.DefaultValue)
					}
					af.Inputs = append(af.Inputs, ff)
				}
			}
			out = append(out, af)
		}
	}
	return out
}
