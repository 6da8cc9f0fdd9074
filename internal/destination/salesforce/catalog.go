package salesforce

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// maxCampaigns bounds the campaigns listed as action data (one query page).
const maxCampaigns = 2000

// describeField is a field of the sObject Describe result.
type describeField struct {
	Name               string `json:"name"`
	Label              string `json:"label"`
	Type               string `json:"type"`
	Length             int    `json:"length"`
	Nillable           bool   `json:"nillable"`
	Createable         bool   `json:"createable"`
	Updateable         bool   `json:"updateable"`
	DefaultedOnCreate  bool   `json:"defaultedOnCreate"`
	Calculated         bool   `json:"calculated"`
	Custom             bool   `json:"custom"`
	Unique             bool   `json:"unique"`
	RestrictedPicklist bool   `json:"restrictedPicklist"`
	PicklistValues     []struct {
		Active bool   `json:"active"`
		Label  string `json:"label"`
		Value  string `json:"value"`
	} `json:"picklistValues"`
	ReferenceTo []string `json:"referenceTo"`
}

// activeValues are a picklist's active values.
func (f *describeField) activeValues() []describeValue {
	var out []describeValue
	for _, v := range f.PicklistValues {
		if v.Active {
			label := v.Label
			if label == "" {
				label = v.Value
			}
			out = append(out, describeValue{Label: label, Value: v.Value})
		}
	}
	return out
}

type describeValue struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// describeContact loads the Contact's describe.
func (s *sender) describeContact(ctx context.Context) ([]describeField, error) {
	if r := s.ready(ctx); r != nil {
		return nil, resultError(*r)
	}
	a := s.do(ctx, call{method: http.MethodGet, path: "/sobjects/Contact/describe", rules: baseRules()})
	if !a.ok() {
		return nil, resultError(a.res)
	}
	var d struct {
		Fields []describeField `json:"fields"`
	}
	if err := json.Unmarshal(a.body, &d); err != nil {
		return nil, &switchyard.Error{Code: switchyard.EINVALID, Message: "Salesforce answered the Contact describe with a body that is not a describe result."}
	}
	return d.Fields, nil
}

// resultError turns a failed call into an error the API can show.
func resultError(res destination.Result) error {
	code := switchyard.EINVALID
	if res.Outcome == switchyard.OutcomeRateLimited {
		code = switchyard.ERATELIMITED
	}
	msg := res.Message
	if !strings.HasPrefix(msg, "Salesforce") {
		msg = "Salesforce: " + msg
	}
	return &switchyard.Error{Code: code, Message: msg}
}

// ActionData lists the org's active campaigns (for add_to_campaign and remove_from_campaign,
// by name, at most 2000) and the Contact's updateable picklist fields with their active values
// (for update_property).
func (s *sender) ActionData(ctx context.Context) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	fields, err := s.describeContact(ctx)
	if err != nil {
		return nil, err
	}
	var recs []struct {
		ID   string `json:"Id"`
		Name string `json:"Name"`
	}
	a := s.query(ctx, "SELECT Id, Name FROM Campaign WHERE IsActive = true ORDER BY Name ASC LIMIT "+itoa(maxCampaigns), &recs)
	if !a.ok() {
		return nil, resultError(a.res)
	}
	campaigns := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		campaigns = append(campaigns, map[string]any{"id": r.ID, "name": r.Name})
	}
	properties := []map[string]any{}
	for n := range fields {
		f := &fields[n]
		if f.Type != "picklist" || !f.Updateable {
			continue
		}
		options := []map[string]any{}
		for _, v := range f.activeValues() {
			options = append(options, map[string]any{"label": v.Label, "value": v.Value})
		}
		properties = append(properties, map[string]any{"id": f.Name, "name": f.Label, "options": options})
	}
	return map[string]any{
		ActionAddToCampaign:      map[string]any{"campaigns": campaigns},
		ActionRemoveFromCampaign: map[string]any{"campaigns": campaigns},
		ActionUpdateProperty:     map[string]any{"properties": properties},
	}, nil
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// FieldCatalog lists the Contact's fields as mapping targets. A field's key is its API name in
// lower case (Salesforce field names are case-insensitive), so that payload keys such as email
// and phone match without a stored mapping; provider_meta.name has the API name as declared.
func (s *sender) FieldCatalog(ctx context.Context) ([]destination.CatalogField, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	fields, err := s.describeContact(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]destination.CatalogField, 0, len(fields))
	for n := range fields {
		if cf, ok := catalogField(&fields[n]); ok {
			out = append(out, cf)
		}
	}
	return out, nil
}

// catalogField maps one describe field; the record id is left out.
func catalogField(f *describeField) (destination.CatalogField, bool) {
	if f.Type == "id" || f.Name == "" {
		return destination.CatalogField{}, false
	}
	cf := destination.CatalogField{Key: strings.ToLower(f.Name), Label: f.Label}
	c := &destination.FieldConstraints{
		// Mapped fields are written when a Contact is created: what cannot be created is
		// read-only to a mapping.
		ReadOnly: !f.Createable || f.Calculated,
		Required: f.Createable && !f.Nillable && !f.DefaultedOnCreate && f.Type != "boolean",
	}
	switch f.Type {
	case "string", "textarea", "combobox", "encryptedstring":
		cf.Type = "string"
		c.MaxLength = f.Length
	case "email":
		cf.Type, c.Format, c.MaxLength = "string", "email", f.Length
	case "phone":
		cf.Type, c.Format, c.MaxLength = "string", "phone", f.Length
	case "url":
		cf.Type, c.Format, c.MaxLength = "string", "url", f.Length
	case "reference":
		cf.Type = "string"
	case "picklist":
		cf.Type = "enum"
	case "multipicklist":
		cf.Type = "multi_enum"
	case "boolean":
		cf.Type = "boolean"
	case "double", "currency", "int", "long", "percent":
		cf.Type = "number"
	case "date":
		cf.Type, c.Format = "date", "date"
	case "datetime":
		cf.Type, c.Format = "datetime", "datetime"
	case "address", "location":
		cf.Type = "object"
	default: // time, base64, anyType, …
		cf.Type = "unknown"
	}
	if f.Type == "picklist" || f.Type == "multipicklist" {
		for _, v := range f.activeValues() {
			c.AllowedValues = append(c.AllowedValues, v.Value)
		}
	}
	if cf.Key == "lastname" {
		// Salesforce requires it, but Switchyard fills it from the email when it is not mapped.
		c.Required = false
	}
	if c.Format != "" || c.Required || c.ReadOnly || c.MaxLength > 0 || len(c.AllowedValues) > 0 {
		cf.Constraints = c
	}
	meta := map[string]any{"name": f.Name, "type": f.Type, "createable": f.Createable, "updateable": f.Updateable, "custom": f.Custom}
	if f.Type == "picklist" || f.Type == "multipicklist" {
		meta["restricted_picklist"] = f.RestrictedPicklist
	}
	if len(f.ReferenceTo) > 0 {
		meta["reference_to"] = f.ReferenceTo
	}
	if f.Unique {
		meta["unique"] = true
	}
	cf.ProviderMeta = meta
	return cf, true
}

// Test makes one harmless call: the Contact's basic information, which needs a working token,
// the api scope and read access to Contacts.
func (s *sender) Test(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if r := s.ready(ctx); r != nil {
		return testError(*r)
	}
	a := s.do(ctx, call{method: http.MethodGet, path: "/sobjects/Contact", rules: baseRules()})
	if !a.ok() {
		return testError(a.res)
	}
	return nil
}

func testError(res destination.Result) error {
	return &switchyard.Error{Code: switchyard.EINVALID,
		Message: "The test call to Salesforce failed (" + string(res.Outcome) + "): " + res.Message}
}
