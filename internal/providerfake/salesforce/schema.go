package salesforce

import (
	"strings"
)

// Field describes one field of a modelled sObject. Its JSON form is the field
// entry of the sObject Describe result ("sObject Describe" in the REST API
// Developer Guide; the properties are those of DescribeFieldResult in the
// SOAP API Developer Guide).
type Field struct {
	Name               string          `json:"name"`
	Label              string          `json:"label"`
	Type               string          `json:"type"` // id, string, email, phone, textarea, picklist, reference, boolean, date, datetime
	Length             int             `json:"length"`
	Nillable           bool            `json:"nillable"`
	Createable         bool            `json:"createable"`
	Updateable         bool            `json:"updateable"`
	DefaultedOnCreate  bool            `json:"defaultedOnCreate"`
	Custom             bool            `json:"custom"`
	Unique             bool            `json:"unique"`
	Filterable         bool            `json:"filterable"`
	Sortable           bool            `json:"sortable"`
	PicklistValues     []PicklistValue `json:"picklistValues"`
	RestrictedPicklist bool            `json:"restrictedPicklist"`
	ReferenceTo        []string        `json:"referenceTo"`
	RelationshipName   *string         `json:"relationshipName"`
	DefaultValue       any             `json:"defaultValue"`
}

// PicklistValue is one entry of a picklist field's picklistValues.
type PicklistValue struct {
	Active       bool    `json:"active"`
	DefaultValue bool    `json:"defaultValue"`
	Label        string  `json:"label"`
	ValidFor     *string `json:"validFor"`
	Value        string  `json:"value"`
}

// requiredOnCreate reports whether a create call must supply the field: it
// is createable, cannot be null and gets no default.
func (f *Field) requiredOnCreate() bool {
	return f.Createable && !f.Nillable && !f.DefaultedOnCreate && f.Type != "boolean"
}

func (f *Field) isText() bool {
	switch f.Type {
	case "id", "string", "email", "phone", "textarea", "picklist", "reference", "url":
		return true
	}
	return false
}

// objectSchema is the modelled metadata of one sObject type.
type objectSchema struct {
	Name        string
	Label       string
	LabelPlural string
	KeyPrefix   string
	Fields      []*Field
}

func (o *objectSchema) field(name string) *Field {
	for _, f := range o.Fields {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

func picklist(values ...string) []PicklistValue {
	out := make([]PicklistValue, 0, len(values))
	for _, v := range values {
		out = append(out, PicklistValue{Active: true, Label: v, Value: v})
	}
	return out
}

func idField() *Field {
	return &Field{Name: "Id", Label: "Contact ID", Type: "id", Length: 18, Filterable: true, Sortable: true, DefaultedOnCreate: true}
}

func strp(s string) *string { return &s }

// defaultSchemas returns fresh metadata for the modelled objects. Field names,
// types and lengths follow the Object Reference pages for Contact, Campaign
// and CampaignMember.
func defaultSchemas() map[string]*objectSchema {
	contactID := idField()
	contact := &objectSchema{
		Name: "Contact", Label: "Contact", LabelPlural: "Contacts", KeyPrefix: "003",
		Fields: []*Field{
			contactID,
			{Name: "FirstName", Label: "First Name", Type: "string", Length: 40, Nillable: true, Createable: true, Updateable: true, Filterable: true, Sortable: true},
			{Name: "LastName", Label: "Last Name", Type: "string", Length: 80, Createable: true, Updateable: true, Filterable: true, Sortable: true},
			{Name: "Name", Label: "Full Name", Type: "string", Length: 121, Filterable: true, Sortable: true},
			{Name: "Email", Label: "Email", Type: "email", Length: 80, Nillable: true, Createable: true, Updateable: true, Filterable: true, Sortable: true},
			{Name: "Phone", Label: "Business Phone", Type: "phone", Length: 40, Nillable: true, Createable: true, Updateable: true, Filterable: true, Sortable: true},
			{Name: "Title", Label: "Title", Type: "string", Length: 128, Nillable: true, Createable: true, Updateable: true, Filterable: true, Sortable: true},
			{Name: "LeadSource", Label: "Lead Source", Type: "picklist", Length: 255, Nillable: true, Createable: true, Updateable: true, Filterable: true, Sortable: true,
				PicklistValues: picklist("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")},
			{Name: "Description", Label: "Contact Description", Type: "textarea", Length: 32000, Nillable: true, Createable: true, Updateable: true},
		},
	}
	campaignID := idField()
	campaignID.Label = "Campaign ID"
	campaign := &objectSchema{
		Name: "Campaign", Label: "Campaign", LabelPlural: "Campaigns", KeyPrefix: "701",
		Fields: []*Field{
			campaignID,
			{Name: "Name", Label: "Name", Type: "string", Length: 80, Createable: true, Updateable: true, Filterable: true, Sortable: true},
			{Name: "IsActive", Label: "Active", Type: "boolean", DefaultedOnCreate: true, Createable: true, Updateable: true, Filterable: true, Sortable: true, DefaultValue: false},
			{Name: "Status", Label: "Status", Type: "picklist", Length: 255, Nillable: true, Createable: true, Updateable: true, Filterable: true, Sortable: true,
				PicklistValues: picklist("Planned", "In Progress", "Completed", "Aborted")},
			{Name: "Type", Label: "Type", Type: "picklist", Length: 255, Nillable: true, Createable: true, Updateable: true, Filterable: true, Sortable: true,
				PicklistValues: picklist("Conference", "Webinar", "Trade Show", "Public Relations", "Partners", "Referral Program", "Advertisement", "Banner Ads", "Direct Mail", "Email", "Telemarketing", "Other")},
			{Name: "StartDate", Label: "Start Date", Type: "date", Nillable: true, Createable: true, Updateable: true, Filterable: true, Sortable: true},
			{Name: "EndDate", Label: "End Date", Type: "date", Nillable: true, Createable: true, Updateable: true, Filterable: true, Sortable: true},
		},
	}
	memberID := idField()
	memberID.Label = "Campaign Member ID"
	member := &objectSchema{
		Name: "CampaignMember", Label: "Campaign Member", LabelPlural: "Campaign Members", KeyPrefix: "00v",
		Fields: []*Field{
			memberID,
			{Name: "CampaignId", Label: "Campaign ID", Type: "reference", Length: 18, Createable: true, Filterable: true, Sortable: true,
				ReferenceTo: []string{"Campaign"}, RelationshipName: strp("Campaign")},
			{Name: "ContactId", Label: "Contact ID", Type: "reference", Length: 18, Nillable: true, Createable: true, Filterable: true, Sortable: true,
				ReferenceTo: []string{"Contact"}, RelationshipName: strp("Contact")},
			{Name: "Status", Label: "Status", Type: "picklist", Length: 40, Nillable: true, Createable: true, Updateable: true, Filterable: true, Sortable: true, DefaultedOnCreate: true,
				PicklistValues: []PicklistValue{{Active: true, DefaultValue: true, Label: "Sent", Value: "Sent"}, {Active: true, Label: "Responded", Value: "Responded"}}},
			{Name: "HasResponded", Label: "Responded", Type: "boolean", DefaultedOnCreate: true, Filterable: true, Sortable: true, DefaultValue: false},
		},
	}
	for _, o := range []*objectSchema{contact, campaign, member} {
		for _, f := range o.Fields {
			if f.PicklistValues == nil {
				f.PicklistValues = []PicklistValue{}
			}
			if f.ReferenceTo == nil {
				f.ReferenceTo = []string{}
			}
		}
	}
	return map[string]*objectSchema{"contact": contact, "campaign": campaign, "campaignmember": member}
}
