package hubspot

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ContactsObjectTypeID is the object type id of contacts ("0-1").
const ContactsObjectTypeID = "0-1"

// Processing types of lists.
const (
	ListManual   = "MANUAL"
	ListSnapshot = "SNAPSHOT"
	ListDynamic  = "DYNAMIC"
)

// Option is one option of an enumeration property.
type Option struct {
	Label        string `json:"label"`
	Value        string `json:"value"`
	Description  string `json:"description,omitempty"`
	DisplayOrder int    `json:"displayOrder"`
	Hidden       bool   `json:"hidden"`
}

// Property is a contact property definition.
type Property struct {
	Name        string
	Label       string
	Type        string // string, number, date, datetime, enumeration, bool, phone_number
	FieldType   string // text, textarea, select, radio, checkbox, booleancheckbox, number, date, phonenumber, calculation_equation …
	GroupName   string
	Description string
	Options     []Option
	// ReadOnlyValue: writes answer 400 READ_ONLY_VALUE.
	ReadOnlyValue  bool
	HasUniqueValue bool
	Hidden         bool
	HubspotDefined bool
	FormField      bool
	Archived       bool
}

type contact struct {
	id        string
	props     map[string]string
	createdAt time.Time
	updatedAt time.Time
}

type list struct {
	id             string
	name           string
	processingType string
	objectTypeID   string
	createdAt      time.Time
	updatedAt      time.Time
	version        int
	members        map[string]time.Time
}

// Contact is a snapshot of a stored contact.
type Contact struct {
	ID         string
	Properties map[string]string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ---- seeding and inspection ----

func (s *Server) seedDefaultProperties() {
	lifecycle := []Option{}
	for i, v := range []struct{ v, l string }{
		{"subscriber", "Subscriber"}, {"lead", "Lead"}, {"marketingqualifiedlead", "Marketing Qualified Lead"},
		{"salesqualifiedlead", "Sales Qualified Lead"}, {"opportunity", "Opportunity"}, {"customer", "Customer"},
		{"evangelist", "Evangelist"}, {"other", "Other"},
	} {
		lifecycle = append(lifecycle, Option{Label: v.l, Value: v.v, DisplayOrder: i})
	}
	for _, p := range []Property{
		{Name: "email", Label: "Email", Type: "string", FieldType: "text", GroupName: "contactinformation", HasUniqueValue: false, FormField: true},
		{Name: "firstname", Label: "First Name", Type: "string", FieldType: "text", GroupName: "contactinformation", FormField: true},
		{Name: "lastname", Label: "Last Name", Type: "string", FieldType: "text", GroupName: "contactinformation", FormField: true},
		{Name: "phone", Label: "Phone Number", Type: "string", FieldType: "phonenumber", GroupName: "contactinformation", FormField: true},
		{Name: "company", Label: "Company Name", Type: "string", FieldType: "text", GroupName: "contactinformation", FormField: true},
		{Name: "website", Label: "Website URL", Type: "string", FieldType: "text", GroupName: "contactinformation", FormField: true},
		{Name: "jobtitle", Label: "Job Title", Type: "string", FieldType: "text", GroupName: "contactinformation", FormField: true},
		{Name: "lifecyclestage", Label: "Lifecycle Stage", Type: "enumeration", FieldType: "radio", GroupName: "contactinformation", Options: lifecycle},
		{Name: "hs_object_id", Label: "Record ID", Type: "number", FieldType: "number", GroupName: "contactinformation", ReadOnlyValue: true},
		{Name: "createdate", Label: "Create Date", Type: "datetime", FieldType: "date", GroupName: "contactinformation", ReadOnlyValue: true},
		{Name: "lastmodifieddate", Label: "Last Modified Date", Type: "datetime", FieldType: "date", GroupName: "contactinformation", ReadOnlyValue: true},
	} {
		p.HubspotDefined = true
		s.properties[p.Name] = &p
		s.propertyOrder = append(s.propertyOrder, p.Name)
	}
}

// AddProperty adds (or replaces) a contact property definition. Enumeration
// properties refuse values not among Options.
func (s *Server) AddProperty(p Property) {
	if p.Type == "" {
		p.Type = "string"
	}
	if p.FieldType == "" {
		p.FieldType = "text"
	}
	if p.GroupName == "" {
		p.GroupName = "contactinformation"
	}
	if p.Label == "" {
		p.Label = p.Name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.properties[p.Name]; !ok {
		s.propertyOrder = append(s.propertyOrder, p.Name)
	}
	p.Options = append([]Option(nil), p.Options...)
	s.properties[p.Name] = &p
}

// AddContact stores a contact with the given properties (email included)
// and returns its id. It bypasses validation.
func (s *Server) AddContact(props map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.newContactLocked()
	for k, v := range props {
		if k == "email" {
			v = strings.ToLower(v)
		}
		c.props[k] = v
	}
	s.indexEmailLocked(c, "")
	return c.id
}

// indexEmailLocked records c's email in the index after its properties changed (previous is
// the email it had before, "" for a new contact).
func (s *Server) indexEmailLocked(c *contact, previous string) {
	if previous != "" && previous != c.props["email"] && s.contactsByEmail[previous] == c.id {
		delete(s.contactsByEmail, previous)
	}
	if e := c.props["email"]; e != "" {
		s.contactsByEmail[e] = c.id
	}
}

func (s *Server) newContactLocked() *contact {
	now := s.now().UTC()
	id := strconv.FormatInt(s.nextContactID, 10)
	s.nextContactID++
	c := &contact{id: id, props: map[string]string{}, createdAt: now, updatedAt: now}
	s.contacts[id] = c
	s.contactOrder = append(s.contactOrder, id)
	return c
}

func snapshot(c *contact) Contact {
	props := make(map[string]string, len(c.props))
	for k, v := range c.props {
		props[k] = v
	}
	return Contact{ID: c.id, Properties: props, CreatedAt: c.createdAt, UpdatedAt: c.updatedAt}
}

// Contact looks a contact up by email (case-insensitive).
func (s *Server) Contact(email string) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.contactByEmailLocked(email)
	if c == nil {
		return Contact{}, false
	}
	return snapshot(c), true
}

// ContactByID looks a contact up by id.
func (s *Server) ContactByID(id string) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contacts[id]
	if !ok {
		return Contact{}, false
	}
	return snapshot(c), true
}

// ContactEmail returns the email of the contact with this id, without copying the contact (a
// cheap look-up for load tests).
func (s *Server) ContactEmail(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contacts[id]
	if !ok {
		return "", false
	}
	return c.props["email"], true
}

// ContactCount is how many contacts the fake holds.
func (s *Server) ContactCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.contacts)
}

// Contacts returns all contacts in creation order.
func (s *Server) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Contact, 0, len(s.contactOrder))
	for _, id := range s.contactOrder {
		out = append(out, snapshot(s.contacts[id]))
	}
	return out
}

func (s *Server) contactByEmailLocked(email string) *contact {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return nil
	}
	if c := s.contacts[s.contactsByEmail[email]]; c != nil && c.props["email"] == email {
		return c
	}
	return nil
}

// AddList creates a contact list with the given processing type (MANUAL,
// SNAPSHOT or DYNAMIC) and returns its id.
func (s *Server) AddList(name, processingType string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	id := strconv.FormatInt(s.nextListID, 10)
	s.nextListID++
	s.lists[id] = &list{id: id, name: name, processingType: processingType, objectTypeID: ContactsObjectTypeID,
		createdAt: now, updatedAt: now, version: 1, members: map[string]time.Time{}}
	s.listOrder = append(s.listOrder, id)
	return id
}

// AddListMembers puts record ids into a list directly (any processing type),
// e.g. to seed a DYNAMIC list.
func (s *Server) AddListMembers(listID string, recordIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.lists[listID]; ok {
		for _, id := range recordIDs {
			if _, in := l.members[id]; !in {
				l.members[id] = s.now().UTC()
			}
		}
	}
}

// ListMembers returns the record ids in a list, sorted numerically.
func (s *Server) ListMembers(listID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.lists[listID]
	if !ok {
		return nil
	}
	return sortedIDs(l.members)
}

func sortedIDs(m map[string]time.Time) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return idLess(out[i], out[j]) })
	return out
}

func idLess(a, b string) bool {
	ai, errA := strconv.ParseInt(a, 10, 64)
	bi, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return ai < bi
	}
	return a < b
}

// ---- contacts ----

var defaultContactProps = []string{"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"}

const timeLayout = "2006-01-02T15:04:05.000Z"

// contactBody is a contact as the CRM v3 API answers it (SimplePublicObject); a batch create's
// result also echoes its input's objectWriteTraceId.
type contactBody struct {
	ID                 string             `json:"id"`
	Properties         map[string]*string `json:"properties"`
	CreatedAt          string             `json:"createdAt"`
	UpdatedAt          string             `json:"updatedAt"`
	Archived           bool               `json:"archived"`
	ObjectWriteTraceID string             `json:"objectWriteTraceId,omitempty"`
}

func (s *Server) contactJSONLocked(c *contact, props []string, allSet bool) *contactBody {
	out := map[string]*string{}
	val := func(name string) *string {
		switch name {
		case "hs_object_id":
			v := c.id
			return &v
		case "createdate":
			v := c.createdAt.Format(timeLayout)
			return &v
		case "lastmodifieddate":
			v := c.updatedAt.Format(timeLayout)
			return &v
		}
		if v, ok := c.props[name]; ok {
			return &v
		}
		return nil
	}
	if allSet {
		for k, v := range c.props {
			v := v
			out[k] = &v
		}
		for _, k := range []string{"hs_object_id", "createdate", "lastmodifieddate"} {
			out[k] = val(k)
		}
	} else {
		for _, k := range defaultContactProps {
			out[k] = val(k)
		}
		for _, k := range props {
			out[k] = val(k)
		}
	}
	return &contactBody{ID: c.id, Properties: out, CreatedAt: c.createdAt.Format(timeLayout),
		UpdatedAt: c.updatedAt.Format(timeLayout)}
}

func requestedProps(r *http.Request) []string {
	var out []string
	for _, v := range r.URL.Query()["properties"] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

type propInput struct {
	Properties map[string]json.RawMessage `json:"properties"`
}

// propertyValues converts the JSON property values (strings, numbers,
// booleans, null) to HubSpot's string representation.
func propertyValues(w http.ResponseWriter, in map[string]json.RawMessage) (map[string]string, bool) {
	out := map[string]string{}
	for k, raw := range in {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			validationError(w, "Invalid input JSON: "+err.Error())
			return nil, false
		}
		switch x := v.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = x
		case bool:
			out[k] = strconv.FormatBool(x)
		case float64:
			out[k] = strings.TrimSpace(string(raw))
		default:
			validationError(w, fmt.Sprintf("Invalid input JSON: property %q must be a string, number or boolean", k))
			return nil, false
		}
	}
	return out, true
}

type propProblem struct {
	IsValid               bool   `json:"isValid"`
	Message               string `json:"message"`
	Error                 string `json:"error"`
	Name                  string `json:"name"`
	LocalizedErrorMessage string `json:"localizedErrorMessage,omitempty"`
	PortalID              int    `json:"portalId,omitempty"`
}

// validatePropsLocked checks values against the property definitions.
func (s *Server) validatePropsLocked(values map[string]string) []propProblem {
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	var probs []propProblem
	add := func(name, code, msg string) {
		probs = append(probs, propProblem{Message: msg, Error: code, Name: name, LocalizedErrorMessage: msg, PortalID: s.opts.HubID})
	}
	for _, name := range names {
		v := values[name]
		p, ok := s.properties[name]
		if !ok || p.Archived {
			add(name, "PROPERTY_DOESNT_EXIST", fmt.Sprintf("Property %q does not exist", name))
			continue
		}
		if p.ReadOnlyValue {
			add(name, "READ_ONLY_VALUE", fmt.Sprintf("%q is a read only property; its value cannot be set.", name))
			continue
		}
		if v == "" {
			continue
		}
		switch {
		case name == "email":
			if a, err := mail.ParseAddress(v); err != nil || a.Address != v || a.Name != "" {
				add(name, "INVALID_EMAIL", fmt.Sprintf("Email address %s is invalid", v))
			}
		case p.Type == "enumeration":
			allowed := map[string]bool{}
			var vals []string
			for _, o := range p.Options {
				allowed[o.Value] = true
				vals = append(vals, o.Value)
			}
			parts := []string{v}
			if p.FieldType == "checkbox" {
				parts = strings.Split(v, ";")
			}
			for _, part := range parts {
				if !allowed[part] {
					add(name, "INVALID_OPTION", fmt.Sprintf("%s was not one of the allowed options: [%s]", part, strings.Join(vals, ", ")))
					break
				}
			}
		case p.Type == "number":
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				add(name, "INVALID_DOUBLE", fmt.Sprintf("%s was not a valid number.", v))
			}
		case p.Type == "bool":
			if v != "true" && v != "false" {
				add(name, "INVALID_BOOLEAN", fmt.Sprintf("%s was not a valid boolean (true/false).", v))
			}
		case p.Type == "date", p.Type == "datetime":
			if !validDate(v, p.Type) {
				add(name, "INVALID_DATE", fmt.Sprintf("%s was not a valid %s (epoch milliseconds or ISO 8601).", v, p.Type))
			}
		}
	}
	return probs
}

func validDate(v, typ string) bool {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		if typ == "date" {
			return ms%86400000 == 0
		}
		return true
	}
	if _, err := time.Parse("2006-01-02", v); err == nil {
		return true
	}
	_, err := time.Parse(time.RFC3339Nano, v)
	return err == nil && typ == "datetime"
}

func writePropProblems(w http.ResponseWriter, probs []propProblem) {
	b, _ := json.Marshal(probs)
	validationError(w, "Property values were not valid: "+string(b))
}

func (s *Server) handleContactCreate(w http.ResponseWriter, r *http.Request, c *call) {
	var in propInput
	if !decodeJSON(w, r, c.body, &in) {
		return
	}
	if in.Properties == nil {
		validationError(w, "Invalid input JSON: properties is required")
		return
	}
	values, ok := propertyValues(w, in.Properties)
	if !ok {
		return
	}
	if e, ok := values["email"]; ok {
		values["email"] = strings.ToLower(strings.TrimSpace(e))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if probs := s.validatePropsLocked(values); len(probs) > 0 {
		writePropProblems(w, probs)
		return
	}
	if existing := s.contactByEmailLocked(values["email"]); existing != nil {
		writeError(w, http.StatusConflict, apiError{Status: "error", Message: "Contact already exists. Existing ID: " + existing.id, Category: "CONFLICT"})
		return
	}
	ct := s.newContactLocked()
	for k, v := range values {
		if v != "" {
			ct.props[k] = v
		}
	}
	s.indexEmailLocked(ct, "")
	writeJSON(w, http.StatusCreated, s.contactJSONLocked(ct, nil, true))
}

// lookupContactLocked resolves the {contactId} path value, honouring
// ?idProperty=email.
func (s *Server) lookupContactLocked(w http.ResponseWriter, r *http.Request, id string) (*contact, bool) {
	switch idProp := r.URL.Query().Get("idProperty"); idProp {
	case "", "hs_object_id":
		if c, ok := s.contacts[id]; ok {
			return c, true
		}
	case "email":
		if c := s.contactByEmailLocked(id); c != nil {
			return c, true
		}
	default:
		p, ok := s.properties[idProp]
		if !ok || !p.HasUniqueValue {
			validationError(w, fmt.Sprintf("Property %s is not a unique identifier property", idProp))
			return nil, false
		}
		for _, cid := range s.contactOrder {
			if ct := s.contacts[cid]; ct.props[idProp] == id {
				return ct, true
			}
		}
	}
	writeError(w, http.StatusNotFound, apiError{Status: "error", Message: "resource not found", Category: "OBJECT_NOT_FOUND"})
	return nil, false
}

func (s *Server) handleContactGet(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, ok := s.lookupContactLocked(w, r, c.params["contactId"])
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.contactJSONLocked(ct, requestedProps(r), false))
}

func (s *Server) handleContactUpdate(w http.ResponseWriter, r *http.Request, c *call) {
	var in propInput
	if !decodeJSON(w, r, c.body, &in) {
		return
	}
	if in.Properties == nil {
		validationError(w, "Invalid input JSON: properties is required")
		return
	}
	values, ok := propertyValues(w, in.Properties)
	if !ok {
		return
	}
	if e, ok := values["email"]; ok {
		values["email"] = strings.ToLower(strings.TrimSpace(e))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, ok := s.lookupContactLocked(w, r, c.params["contactId"])
	if !ok {
		return
	}
	if probs := s.validatePropsLocked(values); len(probs) > 0 {
		writePropProblems(w, probs)
		return
	}
	if e := values["email"]; e != "" {
		if other := s.contactByEmailLocked(e); other != nil && other != ct {
			writeError(w, http.StatusConflict, apiError{Status: "error", Message: "Contact already exists. Existing ID: " + other.id, Category: "CONFLICT"})
			return
		}
	}
	previous := ct.props["email"]
	for k, v := range values {
		if v == "" {
			delete(ct.props, k)
		} else {
			ct.props[k] = v
		}
	}
	s.indexEmailLocked(ct, previous)
	ct.updatedAt = s.now().UTC()
	writeJSON(w, http.StatusOK, s.contactJSONLocked(ct, nil, true))
}

type searchFilter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        any    `json:"value"`
	Values       []any  `json:"values"`
	HighValue    any    `json:"highValue"`
	valueStr     string
	valuesStr    []string
}

type searchRequest struct {
	FilterGroups []struct {
		Filters []searchFilter `json:"filters"`
	} `json:"filterGroups"`
	Properties []string `json:"properties"`
	Limit      *int     `json:"limit"`
	After      any      `json:"after"`
	Query      string   `json:"query"`
	Sorts      []any    `json:"sorts"`
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	case nil:
		return "", true
	}
	return "", false
}

var validOperators = map[string]bool{"BETWEEN": true, "CONTAINS_TOKEN": true, "EQ": true, "GT": true, "GTE": true, "HAS_PROPERTY": true,
	"IN": true, "LT": true, "LTE": true, "NEQ": true, "NOT_CONTAINS_TOKEN": true, "NOT_HAS_PROPERTY": true, "NOT_IN": true}

func (s *Server) handleContactSearch(w http.ResponseWriter, r *http.Request, c *call) {
	var req searchRequest
	if !decodeJSON(w, r, c.body, &req) {
		return
	}
	limit := 10
	if req.Limit != nil {
		limit = *req.Limit
	}
	if limit < 0 || limit > 200 {
		validationError(w, "limit must be between 0 and 200")
		return
	}
	if len(req.FilterGroups) > 5 {
		validationError(w, "Too many filter groups: a maximum of 5 filterGroups is allowed")
		return
	}
	total := 0
	for gi := range req.FilterGroups {
		fs := req.FilterGroups[gi].Filters
		if len(fs) > 6 {
			validationError(w, "Too many filters: a maximum of 6 filters per filterGroup is allowed")
			return
		}
		total += len(fs)
		for fi := range fs {
			f := &fs[fi]
			if !validOperators[f.Operator] {
				validationError(w, fmt.Sprintf("Unknown filter operator %q", f.Operator))
				return
			}
			if f.PropertyName == "" {
				validationError(w, "filter propertyName is required")
				return
			}
			sv, ok := scalarString(f.Value)
			if !ok {
				validationError(w, "filter value must be a string")
				return
			}
			f.valueStr = sv
			for _, v := range f.Values {
				x, ok := scalarString(v)
				if !ok {
					validationError(w, "filter values must be strings")
					return
				}
				f.valuesStr = append(f.valuesStr, x)
			}
		}
	}
	if total > 18 {
		validationError(w, "Too many filters: a maximum of 18 filters in total is allowed")
		return
	}
	offset := 0
	if req.After != nil {
		a, _ := scalarString(req.After)
		if a != "" {
			n, err := strconv.Atoi(a)
			if err != nil || n < 0 {
				validationError(w, "after must be a non-negative integer offset")
				return
			}
			offset = n
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range req.FilterGroups {
		for _, f := range g.Filters {
			if _, ok := s.properties[f.PropertyName]; !ok && f.PropertyName != "id" {
				validationError(w, fmt.Sprintf("There was a problem with the request. Unknown property %q in filter.", f.PropertyName))
				return
			}
		}
	}
	var matched []*contact
	now := s.now()
	for _, id := range s.contactOrder {
		ct := s.contacts[id]
		if s.opts.SearchDelay > 0 && now.Sub(ct.createdAt) < s.opts.SearchDelay {
			continue
		}
		if matchesSearch(ct, req) {
			matched = append(matched, ct)
		}
	}
	results := []*contactBody{}
	end := offset + limit
	if end > len(matched) {
		end = len(matched)
	}
	for i := offset; i < end; i++ {
		results = append(results, s.contactJSONLocked(matched[i], req.Properties, false))
	}
	resp := map[string]any{"total": len(matched), "results": results}
	if end < len(matched) {
		resp["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(end)}}
	}
	writeJSON(w, http.StatusOK, resp)
}

func contactValue(ct *contact, name string) (string, bool) {
	switch name {
	case "hs_object_id", "id":
		return ct.id, true
	case "createdate":
		return strconv.FormatInt(ct.createdAt.UnixMilli(), 10), true
	case "lastmodifieddate":
		return strconv.FormatInt(ct.updatedAt.UnixMilli(), 10), true
	}
	v, ok := ct.props[name]
	return v, ok && v != ""
}

func matchesSearch(ct *contact, req searchRequest) bool {
	if q := strings.ToLower(strings.TrimSpace(req.Query)); q != "" {
		found := false
		for _, k := range []string{"email", "firstname", "lastname", "phone", "company", "website"} {
			if strings.Contains(strings.ToLower(ct.props[k]), q) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(req.FilterGroups) == 0 {
		return true
	}
	for _, g := range req.FilterGroups {
		all := true
		for _, f := range g.Filters {
			if !matchFilter(ct, f) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func compareValues(a, b string) int {
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

func matchFilter(ct *contact, f searchFilter) bool {
	v, has := contactValue(ct, f.PropertyName)
	switch f.Operator {
	case "HAS_PROPERTY":
		return has
	case "NOT_HAS_PROPERTY":
		return !has
	case "EQ":
		return has && strings.EqualFold(v, f.valueStr)
	case "NEQ":
		return !has || !strings.EqualFold(v, f.valueStr)
	case "IN", "NOT_IN":
		in := false
		for _, x := range f.valuesStr {
			if has && strings.EqualFold(v, x) {
				in = true
			}
		}
		if f.Operator == "IN" {
			return in
		}
		return !in
	case "GT":
		return has && compareValues(v, f.valueStr) > 0
	case "GTE":
		return has && compareValues(v, f.valueStr) >= 0
	case "LT":
		return has && compareValues(v, f.valueStr) < 0
	case "LTE":
		return has && compareValues(v, f.valueStr) <= 0
	case "BETWEEN":
		hi, _ := scalarString(f.HighValue)
		return has && compareValues(v, f.valueStr) >= 0 && compareValues(v, hi) <= 0
	case "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN":
		tok := strings.ToLower(strings.Trim(f.valueStr, "*"))
		c := has && strings.Contains(strings.ToLower(v), tok)
		if f.Operator == "CONTAINS_TOKEN" {
			return c
		}
		return !c
	}
	return false
}

// ---- properties ----

func propertyJSON(p *Property, now time.Time) map[string]any {
	opts := p.Options
	if opts == nil {
		opts = []Option{}
	}
	return map[string]any{
		"name":            p.Name,
		"label":           p.Label,
		"type":            p.Type,
		"fieldType":       p.FieldType,
		"description":     p.Description,
		"groupName":       p.GroupName,
		"options":         opts,
		"displayOrder":    -1,
		"calculated":      false,
		"externalOptions": false,
		"hasUniqueValue":  p.HasUniqueValue,
		"hidden":          p.Hidden,
		"hubspotDefined":  p.HubspotDefined,
		"formField":       p.FormField,
		"archived":        p.Archived,
		"createdAt":       now.Format(timeLayout),
		"updatedAt":       now.Format(timeLayout),
		"modificationMetadata": map[string]any{
			"archivable":         !p.HubspotDefined,
			"readOnlyDefinition": p.HubspotDefined,
			"readOnlyValue":      p.ReadOnlyValue,
		},
	}
}

var knownObjectTypes = map[string]bool{"companies": true, "deals": true, "tickets": true, "0-2": true, "0-3": true, "0-5": true,
	"products": true, "line_items": true, "quotes": true, "calls": true, "emails": true, "meetings": true, "notes": true, "tasks": true}

// objectType reports whether t names contacts; unknown types get HubSpot's
// "Unable to infer object type" 400.
func objectType(w http.ResponseWriter, t string) (contacts bool, ok bool) {
	switch {
	case t == "contacts" || t == "contact" || t == ContactsObjectTypeID:
		return true, true
	case knownObjectTypes[t]:
		return false, true
	}
	validationError(w, "Unable to infer object type from: "+t)
	return false, false
}

func (s *Server) handlePropertiesList(w http.ResponseWriter, r *http.Request, c *call) {
	isContacts, ok := objectType(w, c.params["objectType"])
	if !ok {
		return
	}
	archived := r.URL.Query().Get("archived") == "true"
	results := []map[string]any{}
	if isContacts {
		s.mu.Lock()
		now := s.now().UTC()
		for _, name := range s.propertyOrder {
			p := s.properties[name]
			if p.Archived == archived {
				results = append(results, propertyJSON(p, now))
			}
		}
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

func (s *Server) handlePropertyGet(w http.ResponseWriter, _ *http.Request, c *call) {
	isContacts, ok := objectType(w, c.params["objectType"])
	if !ok {
		return
	}
	s.mu.Lock()
	p, found := s.properties[c.params["propertyName"]]
	now := s.now().UTC()
	var out map[string]any
	if found && isContacts {
		out = propertyJSON(p, now)
	}
	s.mu.Unlock()
	if out == nil {
		writeError(w, http.StatusNotFound, apiError{Status: "error",
			Message:  fmt.Sprintf("Unable to find property %s for object type %s", c.params["propertyName"], c.params["objectType"]),
			Category: "OBJECT_NOT_FOUND"})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// ---- lists ----

func (s *Server) listJSONLocked(l *list) map[string]any {
	return map[string]any{
		"listId":           l.id,
		"listVersion":      l.version,
		"name":             l.name,
		"objectTypeId":     l.objectTypeID,
		"processingType":   l.processingType,
		"processingStatus": "COMPLETE",
		"createdAt":        l.createdAt.Format(timeLayout),
		"updatedAt":        l.updatedAt.Format(timeLayout),
		"filtersUpdatedAt": l.createdAt.Format(timeLayout),
		"size":             len(l.members),
	}
}

func listNotFound(w http.ResponseWriter, id string) {
	writeError(w, http.StatusNotFound, apiError{Status: "error", Message: "List does not exist with listId: " + id, Category: "OBJECT_NOT_FOUND"})
}

func (s *Server) handleListGet(w http.ResponseWriter, _ *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.lists[c.params["listId"]]
	if !ok {
		listNotFound(w, c.params["listId"])
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"list": s.listJSONLocked(l)})
}

func (s *Server) handleListsByID(w http.ResponseWriter, r *http.Request, _ *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, id := range r.URL.Query()["listIds"] {
		if l, ok := s.lists[id]; ok {
			out = append(out, s.listJSONLocked(l))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"lists": out})
}

func (s *Server) handleListByName(w http.ResponseWriter, _ *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.listOrder {
		l := s.lists[id]
		if l.objectTypeID == c.params["objectTypeId"] && strings.EqualFold(l.name, c.params["listName"]) {
			writeJSON(w, http.StatusOK, map[string]any{"list": s.listJSONLocked(l)})
			return
		}
	}
	writeError(w, http.StatusNotFound, apiError{Status: "error", Message: "List does not exist with name: " + c.params["listName"], Category: "OBJECT_NOT_FOUND"})
}

type listSearchRequest struct {
	Query                string   `json:"query"`
	Offset               int      `json:"offset"`
	Count                *int     `json:"count"`
	ProcessingTypes      []string `json:"processingTypes"`
	ListIDs              []string `json:"listIds"`
	AdditionalProperties []string `json:"additionalProperties"`
	ObjectTypeID         string   `json:"objectTypeId"`
}

func (s *Server) handleListSearch(w http.ResponseWriter, r *http.Request, c *call) {
	var req listSearchRequest
	if !decodeJSON(w, r, c.body, &req) {
		return
	}
	count := 20
	if req.Count != nil {
		count = *req.Count
	}
	if count < 0 || count > 500 || req.Offset < 0 {
		validationError(w, "count must be between 0 and 500 and offset must not be negative")
		return
	}
	for _, pt := range req.ProcessingTypes {
		if pt != ListManual && pt != ListSnapshot && pt != ListDynamic {
			validationError(w, "Unknown processingType: "+pt)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []*list
	q := strings.ToLower(strings.TrimSpace(req.Query))
	for _, id := range s.listOrder {
		l := s.lists[id]
		if q != "" && !strings.Contains(strings.ToLower(l.name), q) {
			continue
		}
		if len(req.ProcessingTypes) > 0 && !contains(req.ProcessingTypes, l.processingType) {
			continue
		}
		if len(req.ListIDs) > 0 && !contains(req.ListIDs, l.id) {
			continue
		}
		if req.ObjectTypeID != "" && req.ObjectTypeID != l.objectTypeID {
			continue
		}
		matched = append(matched, l)
	}
	lists := []map[string]any{}
	end := req.Offset + count
	if end > len(matched) {
		end = len(matched)
	}
	for i := req.Offset; i < end; i++ {
		l := matched[i]
		item := s.listJSONLocked(l)
		delete(item, "size")
		item["additionalProperties"] = map[string]string{
			"hs_list_size":            strconv.Itoa(len(l.members)),
			"hs_list_reference_count": "0",
		}
		lists = append(lists, item)
	}
	if end < req.Offset {
		end = req.Offset
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"offset":  end,
		"hasMore": end < len(matched),
		"lists":   lists,
		"total":   len(matched),
	})
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func (s *Server) handleListMemberships(w http.ResponseWriter, r *http.Request, c *call) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 250 {
			validationError(w, "limit must be between 1 and 250")
			return
		}
		limit = n
	}
	after := r.URL.Query().Get("after")
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.lists[c.params["listId"]]
	if !ok {
		listNotFound(w, c.params["listId"])
		return
	}
	ids := sortedIDs(l.members)
	start := 0
	if after != "" {
		for start < len(ids) && !idLess(after, ids[start]) {
			start++
		}
	}
	end := start + limit
	if end > len(ids) {
		end = len(ids)
	}
	results := []map[string]any{}
	for _, id := range ids[start:end] {
		results = append(results, map[string]any{"recordId": id, "membershipTimestamp": l.members[id].Format(timeLayout)})
	}
	resp := map[string]any{"results": results, "total": len(ids)}
	if end < len(ids) {
		resp["paging"] = map[string]any{"next": map[string]any{"after": ids[end-1]}}
	}
	writeJSON(w, http.StatusOK, resp)
}

// decodeRecordIDs accepts a JSON array of record ids (strings; integral
// numbers are accepted too).
func decodeRecordIDs(w http.ResponseWriter, raw []json.RawMessage) ([]string, bool) {
	out := make([]string, 0, len(raw))
	for _, m := range raw {
		var v any
		if err := json.Unmarshal(m, &v); err != nil {
			validationError(w, "Invalid input JSON: "+err.Error())
			return nil, false
		}
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case float64:
			if x != float64(int64(x)) {
				validationError(w, "Invalid input JSON: record ids must be strings")
				return nil, false
			}
			out = append(out, strconv.FormatInt(int64(x), 10))
		default:
			validationError(w, "Invalid input JSON: record ids must be strings")
			return nil, false
		}
	}
	return out, true
}

// manualListLocked finds a list that accepts manual membership changes.
func (s *Server) manualListLocked(w http.ResponseWriter, id string) (*list, bool) {
	l, ok := s.lists[id]
	if !ok {
		listNotFound(w, id)
		return nil, false
	}
	if l.processingType != ListManual && l.processingType != ListSnapshot {
		validationError(w, fmt.Sprintf("List %s has processingType %s; records can only be added to or removed from lists with a processingType of MANUAL or SNAPSHOT.", id, l.processingType))
		return nil, false
	}
	return l, true
}

type membershipResult struct {
	add, remove []string
}

func (s *Server) applyMembershipsLocked(l *list, req membershipResult) map[string]any {
	now := s.now().UTC()
	added, removed, missing := []string{}, []string{}, []string{}
	seenMissing := map[string]bool{}
	miss := func(id string) {
		if !seenMissing[id] {
			seenMissing[id] = true
			missing = append(missing, id)
		}
	}
	for _, id := range req.add {
		if _, ok := s.contacts[id]; !ok {
			miss(id)
			continue
		}
		if _, in := l.members[id]; in {
			continue
		}
		l.members[id] = now
		added = append(added, id)
	}
	for _, id := range req.remove {
		if _, ok := s.contacts[id]; !ok {
			miss(id)
			continue
		}
		if _, in := l.members[id]; !in {
			continue
		}
		delete(l.members, id)
		removed = append(removed, id)
	}
	if len(added)+len(removed) > 0 {
		l.updatedAt = now
	}
	return map[string]any{"recordIdsMissing": missing, "recordIdsRemoved": removed, "recordsIdsAdded": added}
}

func (s *Server) handleMembershipsAdd(w http.ResponseWriter, r *http.Request, c *call) {
	s.membershipChange(w, r, c, true)
}

func (s *Server) handleMembershipsRemove(w http.ResponseWriter, r *http.Request, c *call) {
	s.membershipChange(w, r, c, false)
}

func (s *Server) membershipChange(w http.ResponseWriter, r *http.Request, c *call, add bool) {
	var raw []json.RawMessage
	if !decodeJSON(w, r, c.body, &raw) {
		return
	}
	ids, ok := decodeRecordIDs(w, raw)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.manualListLocked(w, c.params["listId"])
	if !ok {
		return
	}
	req := membershipResult{remove: ids}
	if add {
		req = membershipResult{add: ids}
	}
	writeJSON(w, http.StatusOK, s.applyMembershipsLocked(l, req))
}

func (s *Server) handleMembershipsAddAndRemove(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		RecordIDsToAdd    []json.RawMessage `json:"recordIdsToAdd"`
		RecordIDsToRemove []json.RawMessage `json:"recordIdsToRemove"`
	}
	if !decodeJSON(w, r, c.body, &in) {
		return
	}
	add, ok := decodeRecordIDs(w, in.RecordIDsToAdd)
	if !ok {
		return
	}
	remove, ok := decodeRecordIDs(w, in.RecordIDsToRemove)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.manualListLocked(w, c.params["listId"])
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.applyMembershipsLocked(l, membershipResult{add: add, remove: remove}))
}
