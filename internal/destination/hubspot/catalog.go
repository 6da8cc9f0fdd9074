package hubspot

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// List is one selectable list of the action data.
type List struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	ProcessingType string `json:"processing_type"`
}

// Property is one selectable property of update_property's action data.
type Property struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Type      string           `json:"type"`
	FieldType string           `json:"field_type"`
	Options   []PropertyOption `json:"options"`
}

// PropertyOption is one allowed value of an enumeration (or boolean) property.
type PropertyOption struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// maxListPages bounds the pages of lists read for the action data (500 lists a page).
const maxListPages = 20

// ActionData lists the portal's static contact lists (POST /crm/v3/lists/search, MANUAL and
// SNAPSHOT) for the list actions and its writable contact properties (GET
// /crm/v3/properties/contacts) for update_property:
// {"add_to_list": {"lists": [{"id","name","processing_type"}]}, "remove_from_list": {"lists":
// […]}, "update_property": {"properties": [{"id","name","type","field_type","options":
// [{"label","value"}]}]}}.
func (s *Sender) ActionData(ctx context.Context) (map[string]any, error) {
	c := s.newCaller()
	lists, err := s.staticLists(ctx, c)
	if err != nil {
		return nil, err
	}
	props, res := c.properties(ctx)
	if res != nil {
		prefix(res, "listing contact properties")
		return nil, resultError(*res)
	}
	out := []Property{}
	for _, p := range props {
		if p.Archived || p.Hidden || p.readOnly() || p.Name == "email" {
			continue
		}
		item := Property{ID: p.Name, Name: p.Label, Type: p.Type, FieldType: p.FieldType, Options: []PropertyOption{}}
		if item.Name == "" {
			item.Name = p.Name
		}
		for _, o := range p.visibleOptions() {
			item.Options = append(item.Options, PropertyOption{Label: o.Label, Value: o.Value})
		}
		if p.Type == "bool" && len(item.Options) == 0 {
			item.Options = []PropertyOption{{Label: "Yes", Value: "true"}, {Label: "No", Value: "false"}}
		}
		out = append(out, item)
	}
	return map[string]any{
		ActionAddToList:      map[string]any{"lists": lists},
		ActionRemoveFromList: map[string]any{"lists": lists},
		ActionUpdateProperty: map[string]any{"properties": out},
	}, nil
}

// staticLists pages through the portal's MANUAL and SNAPSHOT contact lists.
func (s *Sender) staticLists(ctx context.Context, c *caller) ([]List, error) {
	lists := []List{}
	offset := 0
	for page := 0; page < maxListPages; page++ {
		var ans struct {
			Offset  int  `json:"offset"`
			HasMore bool `json:"hasMore"`
			Lists   []struct {
				ListID         json.Number `json:"listId"`
				Name           string      `json:"name"`
				ProcessingType string      `json:"processingType"`
				ObjectTypeID   string      `json:"objectTypeId"`
			} `json:"lists"`
		}
		body := map[string]any{"processingTypes": []string{"MANUAL", "SNAPSHOT"}, "offset": offset, "count": 500}
		if res := c.call(ctx, http.MethodPost, "/crm/v3/lists/search", nil, body, &ans); res != nil {
			prefix(res, "listing lists")
			return nil, resultError(*res)
		}
		for _, l := range ans.Lists {
			if l.ListID == "" || (l.ObjectTypeID != "" && l.ObjectTypeID != contactsObjectType) {
				continue
			}
			pt := strings.ToUpper(l.ProcessingType)
			if pt != "MANUAL" && pt != "SNAPSHOT" {
				continue
			}
			lists = append(lists, List{ID: l.ListID.String(), Name: l.Name, ProcessingType: pt})
			s.lists.put(l.ListID.String(), listInfo{name: l.Name, processingType: pt, objectTypeID: l.ObjectTypeID})
		}
		if !ans.HasMore || ans.Offset <= offset {
			break
		}
		offset = ans.Offset
	}
	return lists, nil
}

// propertyDef is HubSpot's contact property definition (Properties API v3).
type propertyDef struct {
	Name           string `json:"name"`
	Label          string `json:"label"`
	Type           string `json:"type"`
	FieldType      string `json:"fieldType"`
	Description    string `json:"description"`
	GroupName      string `json:"groupName"`
	Calculated     bool   `json:"calculated"`
	HasUniqueValue bool   `json:"hasUniqueValue"`
	Hidden         bool   `json:"hidden"`
	HubspotDefined bool   `json:"hubspotDefined"`
	Archived       bool   `json:"archived"`
	Options        []struct {
		Label  string `json:"label"`
		Value  string `json:"value"`
		Hidden bool   `json:"hidden"`
	} `json:"options"`
	ModificationMetadata *struct {
		ReadOnlyValue bool `json:"readOnlyValue"`
	} `json:"modificationMetadata"`
}

func (p *propertyDef) readOnly() bool {
	return p.Calculated || (p.ModificationMetadata != nil && p.ModificationMetadata.ReadOnlyValue)
}

func (p *propertyDef) visibleOptions() []PropertyOption {
	var out []PropertyOption
	for _, o := range p.Options {
		if !o.Hidden {
			out = append(out, PropertyOption{Label: o.Label, Value: o.Value})
		}
	}
	return out
}

// properties reads the portal's contact property definitions (not archived).
func (c *caller) properties(ctx context.Context) ([]propertyDef, *destination.Result) {
	var ans struct {
		Results []propertyDef `json:"results"`
	}
	if res := c.call(ctx, http.MethodGet, "/crm/v3/properties/contacts", nil, nil, &ans); res != nil {
		return nil, res
	}
	return ans.Results, nil
}

// maxStringLength is the documented limit of a HubSpot string property value.
const maxStringLength = 65536

// FieldCatalog lists the portal's contact properties (archived and hidden ones left out), keyed
// by internal name.
func (s *Sender) FieldCatalog(ctx context.Context) ([]destination.CatalogField, error) {
	c := s.newCaller()
	props, res := c.properties(ctx)
	if res != nil {
		prefix(res, "listing contact properties")
		return nil, resultError(*res)
	}
	fields := make([]destination.CatalogField, 0, len(props))
	seen := map[string]bool{}
	for _, p := range props {
		if p.Archived || p.Hidden || p.Name == "" || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		fields = append(fields, catalogField(p))
	}
	return fields, nil
}

// catalogField maps a property definition to a catalog field.
func catalogField(p propertyDef) destination.CatalogField {
	f := destination.CatalogField{Key: p.Name, Label: p.Label, Description: p.Description,
		ProviderMeta: map[string]any{"type": p.Type, "field_type": p.FieldType, "group_name": p.GroupName,
			"hubspot_defined": p.HubspotDefined}}
	if f.Label == "" {
		f.Label = p.Name
	}
	if p.HasUniqueValue {
		f.ProviderMeta["unique"] = true
	}
	if p.Calculated {
		f.ProviderMeta["calculated"] = true
	}
	var cons destination.FieldConstraints
	switch p.Type {
	case "string":
		f.Type = "string"
		cons.MaxLength = maxStringLength
		if p.FieldType == "phonenumber" {
			cons.Format = "phone"
		}
	case "phone_number":
		f.Type = "string"
		cons.Format = "phone"
	case "number":
		f.Type = "number"
	case "bool":
		f.Type = "boolean"
	case "date":
		f.Type = "date"
		f.ProviderMeta["value_format"] = "YYYY-MM-DD or midnight UTC in epoch milliseconds"
	case "datetime":
		f.Type = "datetime"
		f.ProviderMeta["value_format"] = "ISO 8601 or epoch milliseconds"
	case "enumeration":
		switch p.FieldType {
		case "checkbox":
			f.Type = "multi_enum"
			f.ProviderMeta["separator"] = ";"
		case "booleancheckbox":
			f.Type = "boolean"
		default:
			f.Type = "enum"
		}
		for _, o := range p.visibleOptions() {
			cons.AllowedValues = append(cons.AllowedValues, o.Value)
		}
	case "object_coordinates", "json":
		f.Type = "json"
	default:
		f.Type = "unknown"
	}
	if p.Name == "email" {
		cons.Format = "email"
		cons.Required = true
		f.Description = strings.TrimSpace(f.Description + " Finds the contact.")
	}
	if p.readOnly() {
		cons.ReadOnly = true
	}
	if cons.Format != "" || cons.Required || cons.ReadOnly || cons.MaxLength > 0 || len(cons.AllowedValues) > 0 {
		f.Constraints = &cons
	}
	return f
}

// Test reads the email property's definition (GET /crm/v3/properties/contacts/email): nil when
// the credential works and may read contacts' schema. A failure names the token field for a
// pasted token.
func (s *Sender) Test(ctx context.Context) error {
	c := s.newCaller()
	res := c.call(ctx, http.MethodGet, "/crm/v3/properties/contacts/email", nil, nil, nil)
	if res == nil {
		return nil
	}
	e := &switchyard.Error{Code: switchyard.EINVALID, Message: "The HubSpot test call (GET /crm/v3/properties/contacts/email) failed: " + res.Message}
	if res.Outcome == switchyard.OutcomeRateLimited {
		e.Code = switchyard.ERATELIMITED
	}
	if s.pasted && res.Outcome == switchyard.OutcomeAuthFailed {
		msg := "HubSpot refused this private app token"
		if res.HTTPStatus == http.StatusForbidden {
			msg = "this private app lacks a scope the integration needs (crm.objects.contacts.read/write, crm.lists.read/write, crm.schemas.contacts.read)"
		}
		e.Fields = []switchyard.FieldError{{Param: destination.ParamPrefix + KeyPrivateAppToken, Msg: msg}}
	}
	return e
}
