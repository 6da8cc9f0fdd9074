package intercom

import (
	"context"
	"net/http"
	"net/url"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Tag is one selectable tag of the action data.
type Tag struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ActionData lists the workspace's tags (GET /tags) for both actions:
// {"add_tag": {"tags": [{"id","name"}]}, "remove_tag": {"tags": [...]}}.
func (s *Sender) ActionData(ctx context.Context) (map[string]any, error) {
	c := s.newCaller()
	var list struct {
		Data []struct {
			ID   flexID `json:"id"`
			Name string `json:"name"`
		} `json:"data"`
	}
	if res := c.call(ctx, http.MethodGet, "/tags", nil, nil, &list); res != nil {
		prefix(res, "listing tags")
		return nil, resultError(*res)
	}
	tags := make([]Tag, 0, len(list.Data))
	for _, t := range list.Data {
		if t.ID != "" {
			tags = append(tags, Tag{ID: string(t.ID), Name: t.Name})
		}
	}
	return map[string]any{
		ActionAddTag:    map[string]any{"tags": tags},
		ActionRemoveTag: map[string]any{"tags": tags},
	}, nil
}

// standardFields are the contact fields a mapping writes at the top level of a contact.
func standardFields() []destination.CatalogField {
	return []destination.CatalogField{
		{Key: "email", Label: "Email", Type: "string", Description: "The contact's email address; finds the contact.",
			Constraints: &destination.FieldConstraints{Format: "email", Required: true}},
		{Key: "external_id", Label: "User ID (external_id)", Type: "string",
			Description: "Your app's id for the person; finds the contact, and makes a new contact a user."},
		{Key: "name", Label: "Name", Type: "string", Description: "The contact's full name."},
		{Key: "phone", Label: "Phone", Type: "string", Description: "The contact's phone number.",
			Constraints: &destination.FieldConstraints{Format: "phone"}},
	}
}

type dataAttribute struct {
	ID          any      `json:"id"`
	Name        string   `json:"name"`
	FullName    string   `json:"full_name"`
	Label       string   `json:"label"`
	Description string   `json:"description"`
	DataType    string   `json:"data_type"`
	Options     []string `json:"options"`
	APIWritable *bool    `json:"api_writable"`
	Custom      bool     `json:"custom"`
	Archived    bool     `json:"archived"`
	Model       string   `json:"model"`
}

// FieldCatalog lists email, external_id, name and phone, then the workspace's custom contact
// attributes (GET /data_attributes?model=contact; archived ones left out).
func (s *Sender) FieldCatalog(ctx context.Context) ([]destination.CatalogField, error) {
	c := s.newCaller()
	var list struct {
		Data []dataAttribute `json:"data"`
	}
	if res := c.call(ctx, http.MethodGet, "/data_attributes", url.Values{"model": {"contact"}}, nil, &list); res != nil {
		prefix(res, "listing data attributes")
		return nil, resultError(*res)
	}
	fields := standardFields()
	seen := map[string]bool{"email": true, "external_id": true, "name": true, "phone": true}
	for _, a := range list.Data {
		if !a.Custom || a.Archived || a.Name == "" || (a.Model != "" && a.Model != "contact") || seen[a.Name] {
			continue
		}
		seen[a.Name] = true
		fields = append(fields, customField(a))
	}
	return fields, nil
}

// customField maps a custom attribute to a catalog field.
func customField(a dataAttribute) destination.CatalogField {
	f := destination.CatalogField{Key: a.Name, Label: a.Label, Description: a.Description,
		ProviderMeta: map[string]any{"data_type": a.DataType, "custom": true, "full_name": a.FullName}}
	if f.Label == "" {
		f.Label = a.Name
	}
	if a.ID != nil {
		f.ProviderMeta["id"] = a.ID
	}
	var cons destination.FieldConstraints
	switch a.DataType {
	case "string":
		f.Type = "string"
		if len(a.Options) > 0 {
			f.Type = "enum"
		}
	case "integer", "float":
		f.Type = "number"
	case "boolean":
		f.Type = "boolean"
	case "date":
		// A point in time, written as Unix seconds.
		f.Type = "datetime"
		f.ProviderMeta["value_format"] = "unix_seconds"
	default:
		f.Type = "unknown"
	}
	if len(a.Options) > 0 {
		cons.AllowedValues = append([]string(nil), a.Options...)
	}
	if a.APIWritable != nil && !*a.APIWritable {
		cons.ReadOnly = true
	}
	if cons.ReadOnly || len(cons.AllowedValues) > 0 {
		f.Constraints = &cons
	}
	return f
}

// Test calls GET /me: nil when the credential works. A failure names the access token field
// for a pasted token.
func (s *Sender) Test(ctx context.Context) error {
	c := s.newCaller()
	var me meResponse
	res := c.call(ctx, http.MethodGet, "/me", nil, nil, &me)
	if res == nil {
		return nil
	}
	msg := "The Intercom test call (GET /me) failed: " + res.Message
	e := &switchyard.Error{Code: switchyard.EINVALID, Message: msg}
	if res.Outcome == switchyard.OutcomeRateLimited {
		e.Code = switchyard.ERATELIMITED
	}
	if s.pasted && res.Outcome == switchyard.OutcomeAuthFailed {
		e.Fields = []switchyard.FieldError{{Param: destination.ParamPrefix + KeyAccessToken, Msg: "Intercom refused this access token"}}
	}
	return e
}
