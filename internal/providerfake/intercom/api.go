package intercom

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DataAttribute is a contact data attribute definition.
type DataAttribute struct {
	ID          int
	Name        string
	Label       string
	Description string
	// DataType is one of string, integer, float, boolean, date.
	DataType string
	// Options, when set, are the predefined values of the attribute; the fake
	// refuses other values for it.
	Options     []string
	Custom      bool
	APIWritable bool
	Archived    bool
	Model       string
	CreatedAt   int64
	UpdatedAt   int64
}

type tag struct {
	id   string
	name string
}

// Tag is a workspace tag.
type Tag struct {
	ID   string
	Name string
}

type contact struct {
	id               string
	role             string
	externalID       *string
	email            *string
	phone            *string
	name             *string
	avatar           *string
	ownerID          *int64
	signedUpAt       *int64
	lastSeenAt       *int64
	unsubscribed     bool
	customAttributes map[string]any
	createdAt        int64
	updatedAt        int64
	created          time.Time
	tags             map[string]int64 // tag id → applied_at
	tagOrder         []string
}

// Contact is a snapshot of a stored contact.
type Contact struct {
	ID               string
	Role             string
	ExternalID       string
	Email            string
	Phone            string
	Name             string
	CustomAttributes map[string]any
	CreatedAt        int64
	UpdatedAt        int64
}

// ContactInput seeds a contact with AddContact.
type ContactInput struct {
	Role             string // "user" (default) or "lead"
	ExternalID       string
	Email            string
	Phone            string
	Name             string
	CustomAttributes map[string]any
}

// ---- seeding and inspection ----

func (s *Server) seedStandardAttributes() {
	for _, a := range []DataAttribute{
		{Name: "name", Label: "Name", Description: "A person's full name", DataType: "string", APIWritable: true},
		{Name: "email", Label: "Email", Description: "A person's email address", DataType: "string", APIWritable: true},
		{Name: "phone", Label: "Phone", Description: "A person's phone number", DataType: "string", APIWritable: true},
		{Name: "external_id", Label: "User ID", Description: "A number identifying a user", DataType: "string", APIWritable: true},
		{Name: "role", Label: "Role", Description: "The role of the contact: user or lead", DataType: "string", APIWritable: true},
		{Name: "signed_up_at", Label: "Signed up", Description: "The time a person signed up", DataType: "date", APIWritable: true},
		{Name: "last_seen_at", Label: "Last seen", Description: "The last time a person was seen", DataType: "date", APIWritable: true},
		{Name: "owner_id", Label: "Owner", Description: "The admin assigned as owner", DataType: "integer", APIWritable: true},
		{Name: "unsubscribed_from_emails", Label: "Unsubscribed from Emails", Description: "Whether the person is unsubscribed from emails", DataType: "boolean", APIWritable: true},
		{Name: "created_at", Label: "First seen", Description: "The time a person was added to Intercom", DataType: "date", APIWritable: false},
	} {
		a := a
		a.Model = "contact"
		s.attrs = append(s.attrs, &a)
	}
}

// AddDataAttribute adds a custom contact data attribute and returns its id.
// DataType defaults to "string"; APIWritable is forced to true unless the
// attribute is archived.
func (s *Server) AddDataAttribute(a DataAttribute) int {
	if a.DataType == "" {
		a.DataType = "string"
	}
	if a.Label == "" {
		a.Label = a.Name
	}
	a.Model = "contact"
	a.Custom = true
	a.APIWritable = true
	a.Options = append([]string(nil), a.Options...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextAttrID++
	a.ID = s.nextAttrID
	now := s.now().Unix()
	a.CreatedAt, a.UpdatedAt = now, now
	s.attrs = append(s.attrs, &a)
	return a.ID
}

func (s *Server) customAttrLocked(name string) *DataAttribute {
	for _, a := range s.attrs {
		if a.Custom && a.Name == name {
			return a
		}
	}
	return nil
}

// AddTag creates a workspace tag and returns its id.
func (s *Server) AddTag(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextTagID++
	id := strconv.Itoa(s.nextTagID)
	s.tags[id] = &tag{id: id, name: name}
	s.tagOrder = append(s.tagOrder, id)
	return id
}

// ContactTags returns the tags attached to a contact, in the order applied.
func (s *Server) ContactTags(contactID string) []Tag {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contacts[contactID]
	if !ok {
		return nil
	}
	out := []Tag{}
	for _, id := range c.tagOrder {
		out = append(out, Tag{ID: id, Name: s.tags[id].name})
	}
	return out
}

// AddContact stores a contact without validation and returns its id.
func (s *Server) AddContact(in ContactInput) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.newContactLocked()
	c.role = "user"
	if in.Role != "" {
		c.role = in.Role
	}
	set := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	c.externalID, c.email, c.phone, c.name = set(in.ExternalID), set(in.Email), set(in.Phone), set(in.Name)
	for k, v := range in.CustomAttributes {
		c.customAttributes[k] = v
	}
	return c.id
}

func (s *Server) newContactLocked() *contact {
	now := s.now()
	c := &contact{id: randHex(12), role: "user", customAttributes: map[string]any{}, createdAt: now.Unix(), updatedAt: now.Unix(),
		created: now, tags: map[string]int64{}}
	s.contacts[c.id] = c
	s.contactOrder = append(s.contactOrder, c.id)
	return c
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func snapshotContact(c *contact) Contact {
	ca := make(map[string]any, len(c.customAttributes))
	for k, v := range c.customAttributes {
		ca[k] = v
	}
	return Contact{ID: c.id, Role: c.role, ExternalID: deref(c.externalID), Email: deref(c.email), Phone: deref(c.phone),
		Name: deref(c.name), CustomAttributes: ca, CreatedAt: c.createdAt, UpdatedAt: c.updatedAt}
}

// Contact looks a contact up by email (case-insensitive); with several
// matches (leads may share an email) the first created is returned.
func (s *Server) Contact(email string) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.contactOrder {
		c := s.contacts[id]
		if c.email != nil && strings.EqualFold(*c.email, email) {
			return snapshotContact(c), true
		}
	}
	return Contact{}, false
}

// ContactByID looks a contact up by Intercom id.
func (s *Server) ContactByID(id string) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contacts[id]
	if !ok {
		return Contact{}, false
	}
	return snapshotContact(c), true
}

// ContactByExternalID looks a contact up by external_id.
func (s *Server) ContactByExternalID(externalID string) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.contactOrder {
		if c := s.contacts[id]; c.externalID != nil && *c.externalID == externalID {
			return snapshotContact(c), true
		}
	}
	return Contact{}, false
}

// Contacts returns every contact in creation order.
func (s *Server) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Contact, 0, len(s.contactOrder))
	for _, id := range s.contactOrder {
		out = append(out, snapshotContact(s.contacts[id]))
	}
	return out
}

// ---- /me ----

func (s *Server) handleMe(w http.ResponseWriter, _ *http.Request, _ *call) {
	writeJSON(w, http.StatusOK, map[string]any{
		"type":           "admin",
		"id":             s.opts.AdminID,
		"email":          s.opts.AdminEmail,
		"name":           s.opts.AdminName,
		"email_verified": true,
		"app": map[string]any{
			"type":                  "app",
			"id_code":               s.opts.AppIDCode,
			"name":                  s.opts.AppName,
			"created_at":            1734537243,
			"secure":                false,
			"identity_verification": false,
			"timezone":              s.opts.Timezone,
			"region":                s.opts.Region,
		},
		"avatar":         map[string]any{"type": "avatar", "image_url": "https://static.intercomassets.com/assets/default-avatars/admins/128.png"},
		"has_inbox_seat": true,
	})
}

// ---- contacts ----

func emptyList(url string) map[string]any {
	return map[string]any{"type": "list", "data": []any{}, "url": url, "total_count": 0, "has_more": false}
}

func (s *Server) contactJSONLocked(c *contact) map[string]any {
	tagData := []any{}
	for i, id := range c.tagOrder {
		if i == 10 {
			break
		}
		tagData = append(tagData, map[string]any{"type": "tag", "id": id, "url": "/tags/" + id})
	}
	ca := map[string]any{}
	for k, v := range c.customAttributes {
		ca[k] = v
	}
	return map[string]any{
		"type":                         "contact",
		"id":                           c.id,
		"workspace_id":                 s.opts.AppIDCode,
		"external_id":                  c.externalID,
		"role":                         c.role,
		"email":                        c.email,
		"phone":                        c.phone,
		"name":                         c.name,
		"avatar":                       c.avatar,
		"owner_id":                     c.ownerID,
		"social_profiles":              map[string]any{"type": "list", "data": []any{}},
		"has_hard_bounced":             false,
		"marked_email_as_spam":         false,
		"unsubscribed_from_emails":     c.unsubscribed,
		"created_at":                   c.createdAt,
		"updated_at":                   c.updatedAt,
		"signed_up_at":                 c.signedUpAt,
		"last_seen_at":                 c.lastSeenAt,
		"last_replied_at":              nil,
		"last_contacted_at":            nil,
		"last_email_opened_at":         nil,
		"last_email_clicked_at":        nil,
		"language_override":            nil,
		"browser":                      nil,
		"browser_version":              nil,
		"browser_language":             nil,
		"os":                           nil,
		"location":                     map[string]any{"type": "location", "country": nil, "region": nil, "city": nil, "country_code": nil, "continent_code": nil},
		"custom_attributes":            ca,
		"tags":                         map[string]any{"type": "list", "data": tagData, "url": "/contacts/" + c.id + "/tags", "total_count": len(c.tagOrder), "has_more": len(c.tagOrder) > 10},
		"notes":                        emptyList("/contacts/" + c.id + "/notes"),
		"companies":                    emptyList("/contacts/" + c.id + "/companies"),
		"opted_out_subscription_types": emptyList("/contacts/" + c.id + "/subscriptions"),
		"opted_in_subscription_types":  emptyList("/contacts/" + c.id + "/subscriptions"),
		"utm_campaign":                 nil,
		"utm_content":                  nil,
		"utm_medium":                   nil,
		"utm_source":                   nil,
		"utm_term":                     nil,
		"referrer":                     nil,
		"enabled_push_messaging":       nil,
	}
}

// contactFields is the decoded create/update payload. A field present with
// null clears it.
type contactFields struct {
	present          map[string]bool
	role             string
	externalID       *string
	email            *string
	phone            *string
	name             *string
	avatar           *string
	ownerID          *int64
	signedUpAt       *int64
	lastSeenAt       *int64
	unsubscribed     *bool
	customAttributes map[string]any
}

func badParam(w http.ResponseWriter, field, msg string) {
	writeErrorField(w, http.StatusBadRequest, "parameter_invalid", msg, field)
}

func parseContactFields(w http.ResponseWriter, body []byte) (*contactFields, bool) {
	var raw map[string]json.RawMessage
	if !decodeJSON(w, body, &raw) {
		return nil, false
	}
	f := &contactFields{present: map[string]bool{}}
	str := func(key string, dst **string) bool {
		m, ok := raw[key]
		if !ok {
			return true
		}
		f.present[key] = true
		var v *string
		if err := json.Unmarshal(m, &v); err != nil {
			badParam(w, key, key+" must be a string")
			return false
		}
		*dst = v
		return true
	}
	integer := func(key string, dst **int64) bool {
		m, ok := raw[key]
		if !ok {
			return true
		}
		f.present[key] = true
		var v *float64
		if err := json.Unmarshal(m, &v); err != nil || (v != nil && *v != math.Trunc(*v)) {
			badParam(w, key, key+" must be an integer")
			return false
		}
		if v != nil {
			n := int64(*v)
			*dst = &n
		}
		return true
	}
	for _, ok := range []bool{
		str("external_id", &f.externalID), str("email", &f.email), str("phone", &f.phone), str("name", &f.name),
		str("avatar", &f.avatar), integer("owner_id", &f.ownerID), integer("signed_up_at", &f.signedUpAt), integer("last_seen_at", &f.lastSeenAt),
	} {
		if !ok {
			return nil, false
		}
	}
	if m, ok := raw["role"]; ok {
		f.present["role"] = true
		if err := json.Unmarshal(m, &f.role); err != nil || (f.role != "user" && f.role != "lead") {
			badParam(w, "role", "role must be either user or lead")
			return nil, false
		}
	}
	if m, ok := raw["unsubscribed_from_emails"]; ok {
		f.present["unsubscribed_from_emails"] = true
		if err := json.Unmarshal(m, &f.unsubscribed); err != nil {
			badParam(w, "unsubscribed_from_emails", "unsubscribed_from_emails must be a boolean")
			return nil, false
		}
	}
	if m, ok := raw["custom_attributes"]; ok && string(m) != "null" {
		if err := json.Unmarshal(m, &f.customAttributes); err != nil {
			badParam(w, "custom_attributes", "custom_attributes must be an object")
			return nil, false
		}
	}
	if f.email != nil && *f.email != "" && !strings.Contains(*f.email, "@") {
		badParam(w, "email", "email is not a valid email address")
		return nil, false
	}
	return f, true
}

// validateCustomLocked checks custom attribute names, types and options.
func (s *Server) validateCustomLocked(w http.ResponseWriter, attrs map[string]any) bool {
	for k, v := range attrs {
		a := s.customAttrLocked(k)
		if a == nil || a.Archived {
			badParam(w, "custom_attributes", fmt.Sprintf("Custom attribute '%s' does not exist", k))
			return false
		}
		if v == nil {
			continue
		}
		ok := true
		switch a.DataType {
		case "string":
			_, ok = v.(string)
		case "integer", "date":
			n, isNum := v.(float64)
			ok = isNum && n == math.Trunc(n)
		case "float":
			_, ok = v.(float64)
		case "boolean":
			_, ok = v.(bool)
		}
		if !ok {
			badParam(w, "custom_attributes", fmt.Sprintf("Custom attribute '%s' must be of type %s", k, a.DataType))
			return false
		}
		if len(a.Options) > 0 {
			sv := fmt.Sprint(v)
			found := false
			for _, o := range a.Options {
				if o == sv {
					found = true
				}
			}
			if !found {
				badParam(w, "custom_attributes", fmt.Sprintf("Custom attribute '%s' must be one of: %s", k, strings.Join(a.Options, ", ")))
				return false
			}
		}
	}
	return true
}

// conflictLocked finds an existing contact that the new/updated one would
// duplicate: the same external_id, or (for users) the same email as another
// user.
func (s *Server) conflictLocked(self *contact, role string, email, externalID *string) *contact {
	for _, id := range s.contactOrder {
		c := s.contacts[id]
		if c == self {
			continue
		}
		if externalID != nil && *externalID != "" && c.externalID != nil && *c.externalID == *externalID {
			return c
		}
		if role == "user" && c.role == "user" && email != nil && *email != "" && c.email != nil && strings.EqualFold(*c.email, *email) {
			return c
		}
	}
	return nil
}

func conflict(w http.ResponseWriter, id string) {
	writeError(w, http.StatusConflict, "conflict", "A contact matching those details already exists with id="+id)
}

func applyFields(c *contact, f *contactFields) {
	if f.present["role"] {
		c.role = f.role
	}
	if f.present["external_id"] {
		c.externalID = f.externalID
	}
	if f.present["email"] {
		c.email = f.email
	}
	if f.present["phone"] {
		c.phone = f.phone
	}
	if f.present["name"] {
		c.name = f.name
	}
	if f.present["avatar"] {
		c.avatar = f.avatar
	}
	if f.present["owner_id"] {
		c.ownerID = f.ownerID
	}
	if f.present["signed_up_at"] {
		c.signedUpAt = f.signedUpAt
	}
	if f.present["last_seen_at"] {
		c.lastSeenAt = f.lastSeenAt
	}
	if f.unsubscribed != nil {
		c.unsubscribed = *f.unsubscribed
	}
	for k, v := range f.customAttributes {
		if v == nil {
			delete(c.customAttributes, k)
		} else {
			c.customAttributes[k] = v
		}
	}
}

func (s *Server) handleContactCreate(w http.ResponseWriter, _ *http.Request, c *call) {
	f, ok := parseContactFields(w, c.body)
	if !ok {
		return
	}
	if deref(f.email) == "" && deref(f.externalID) == "" && !f.present["role"] {
		writeError(w, http.StatusBadRequest, "parameter_invalid", "Contact must have at least one of email, external_id or role")
		return
	}
	role := f.role
	if role == "" {
		role = "user"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.validateCustomLocked(w, f.customAttributes) {
		return
	}
	if other := s.conflictLocked(nil, role, f.email, f.externalID); other != nil {
		conflict(w, other.id)
		return
	}
	ct := s.newContactLocked()
	applyFields(ct, f)
	ct.role = role
	writeJSON(w, http.StatusOK, s.contactJSONLocked(ct))
}

func contactNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "not_found", "User Not Found")
}

func (s *Server) handleContactGet(w http.ResponseWriter, _ *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, ok := s.contacts[c.params["contact_id"]]
	if !ok {
		contactNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.contactJSONLocked(ct))
}

func (s *Server) handleContactUpdate(w http.ResponseWriter, _ *http.Request, c *call) {
	f, ok := parseContactFields(w, c.body)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, ok := s.contacts[c.params["contact_id"]]
	if !ok {
		contactNotFound(w)
		return
	}
	if !s.validateCustomLocked(w, f.customAttributes) {
		return
	}
	role, email, ext := ct.role, ct.email, ct.externalID
	if f.present["role"] {
		role = f.role
	}
	if f.present["email"] {
		email = f.email
	}
	if f.present["external_id"] {
		ext = f.externalID
	}
	if other := s.conflictLocked(ct, role, email, ext); other != nil {
		conflict(w, other.id)
		return
	}
	applyFields(ct, f)
	ct.updatedAt = s.now().Unix()
	writeJSON(w, http.StatusOK, s.contactJSONLocked(ct))
}

// ---- search ----

type searchQuery struct {
	Field    string          `json:"field"`
	Operator string          `json:"operator"`
	Value    json.RawMessage `json:"value"`
}

type fieldKind int

const (
	kindString fieldKind = iota
	kindInteger
	kindDate
	kindBoolean
	kindTag
)

var searchFields = map[string]fieldKind{
	"id": kindString, "role": kindString, "name": kindString, "avatar": kindString, "owner_id": kindInteger,
	"email": kindString, "email_domain": kindString, "phone": kindString, "external_id": kindString,
	"created_at": kindDate, "signed_up_at": kindDate, "updated_at": kindDate, "last_seen_at": kindDate,
	"unsubscribed_from_emails": kindBoolean, "marked_email_as_spam": kindBoolean, "has_hard_bounced": kindBoolean,
	"tag_id": kindTag,
}

var operatorsByKind = map[fieldKind][]string{
	kindString:  {"=", "!=", "IN", "NIN", "~", "!~", "^", "$"},
	kindInteger: {"=", "!=", "IN", "NIN", "<", ">", "<=", ">="},
	kindDate:    {"=", "<", ">"},
	kindBoolean: {"=", "!=", "IN", "NIN"},
	kindTag:     {"=", "!="},
}

// compiled search node: either a filter or an AND/OR group.
type node struct {
	op       string // AND / OR for groups
	children []*node
	field    string
	kind     fieldKind
	operator string
	values   []any
}

func (s *Server) compileQuery(raw json.RawMessage, depth int) (*node, string) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, "query must be an object"
	}
	if _, hasField := probe["field"]; !hasField {
		var op string
		if err := json.Unmarshal(probe["operator"], &op); err != nil || (op != "AND" && op != "OR") {
			return nil, "operator must be AND or OR for a multiple filter query"
		}
		if depth > 2 {
			return nil, "a maximum of 2 nested filters is allowed"
		}
		var children []json.RawMessage
		if err := json.Unmarshal(probe["value"], &children); err != nil || len(children) == 0 {
			return nil, "value of a multiple filter query must be a non-empty array"
		}
		if len(children) > 15 {
			return nil, "a maximum of 15 filters is allowed in each AND or OR group"
		}
		n := &node{op: op}
		for _, ch := range children {
			c, msg := s.compileQuery(ch, depth+1)
			if msg != "" {
				return nil, msg
			}
			n.children = append(n.children, c)
		}
		return n, ""
	}
	var q searchQuery
	if err := json.Unmarshal(raw, &q); err != nil {
		return nil, "invalid filter"
	}
	kind, ok := searchFields[q.Field]
	if !ok && strings.HasPrefix(q.Field, "custom_attributes.") {
		s.mu.Lock()
		a := s.customAttrLocked(strings.TrimPrefix(q.Field, "custom_attributes."))
		s.mu.Unlock()
		if a != nil {
			ok = true
			switch a.DataType {
			case "integer", "float":
				kind = kindInteger
			case "date":
				kind = kindDate
			case "boolean":
				kind = kindBoolean
			default:
				kind = kindString
			}
		}
	}
	if !ok {
		return nil, fmt.Sprintf("%s is not a searchable field", q.Field)
	}
	allowed := false
	for _, op := range operatorsByKind[kind] {
		if op == q.Operator {
			allowed = true
		}
	}
	if !allowed {
		return nil, fmt.Sprintf("operator %q is not supported for field %s", q.Operator, q.Field)
	}
	var v any
	if err := json.Unmarshal(q.Value, &v); err != nil {
		return nil, "value is missing or invalid"
	}
	var values []any
	if q.Operator == "IN" || q.Operator == "NIN" {
		arr, isArr := v.([]any)
		if !isArr {
			return nil, "IN and NIN values must be an array"
		}
		values = arr
	} else {
		if _, isArr := v.([]any); isArr {
			return nil, "value must not be an array for operator " + q.Operator
		}
		values = []any{v}
	}
	for _, x := range values {
		switch kind {
		case kindInteger, kindDate:
			if _, err := numeric(x); err != nil {
				return nil, fmt.Sprintf("value for %s must be a number", q.Field)
			}
		}
	}
	return &node{field: q.Field, kind: kind, operator: q.Operator, values: values}, ""
}

func numeric(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case string:
		return strconv.ParseFloat(x, 64)
	}
	return 0, fmt.Errorf("not a number")
}

func (s *Server) fieldValueLocked(c *contact, field string) (any, bool) {
	str := func(p *string) (any, bool) {
		if p == nil || *p == "" {
			return nil, false
		}
		return *p, true
	}
	switch field {
	case "id":
		return c.id, true
	case "role":
		return c.role, true
	case "name":
		return str(c.name)
	case "avatar":
		return str(c.avatar)
	case "email":
		return str(c.email)
	case "email_domain":
		if c.email != nil {
			if _, d, ok := strings.Cut(*c.email, "@"); ok {
				return d, true
			}
		}
		return nil, false
	case "phone":
		return str(c.phone)
	case "external_id":
		return str(c.externalID)
	case "owner_id":
		if c.ownerID == nil {
			return nil, false
		}
		return float64(*c.ownerID), true
	case "created_at":
		return float64(c.createdAt), true
	case "updated_at":
		return float64(c.updatedAt), true
	case "signed_up_at":
		if c.signedUpAt == nil {
			return nil, false
		}
		return float64(*c.signedUpAt), true
	case "last_seen_at":
		if c.lastSeenAt == nil {
			return nil, false
		}
		return float64(*c.lastSeenAt), true
	case "unsubscribed_from_emails":
		return c.unsubscribed, true
	case "marked_email_as_spam", "has_hard_bounced":
		return false, true
	}
	if name, ok := strings.CutPrefix(field, "custom_attributes."); ok {
		v, has := c.customAttributes[name]
		return v, has && v != nil
	}
	return nil, false
}

func dayStart(unix float64) int64 {
	t := time.Unix(int64(unix), 0).UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix()
}

func (s *Server) evalLocked(n *node, c *contact) bool {
	if n.op != "" {
		for _, ch := range n.children {
			r := s.evalLocked(ch, c)
			if n.op == "AND" && !r {
				return false
			}
			if n.op == "OR" && r {
				return true
			}
		}
		return n.op == "AND"
	}
	if n.kind == kindTag {
		want := fmt.Sprint(n.values[0])
		if f, ok := n.values[0].(float64); ok {
			want = strconv.FormatInt(int64(f), 10)
		}
		_, has := c.tags[want]
		if n.operator == "=" {
			return has
		}
		return !has
	}
	v, has := s.fieldValueLocked(c, n.field)
	eq := func(target any) bool {
		if !has {
			return target == nil
		}
		switch n.kind {
		case kindInteger:
			a, _ := numeric(v)
			b, err := numeric(target)
			return err == nil && a == b
		case kindBoolean:
			return fmt.Sprint(v) == fmt.Sprint(target)
		}
		return strings.EqualFold(fmt.Sprint(v), fmt.Sprint(target))
	}
	target := n.values[0]
	switch n.operator {
	case "=":
		if n.kind == kindDate {
			b, _ := numeric(target)
			a, _ := numeric(v)
			return has && dayStart(a) == dayStart(b)
		}
		return eq(target)
	case "!=":
		return !eq(target)
	case "IN", "NIN":
		in := false
		for _, x := range n.values {
			if eq(x) {
				in = true
			}
		}
		return in == (n.operator == "IN")
	case ">", "<", ">=", "<=":
		if !has {
			return false
		}
		a, _ := numeric(v)
		b, _ := numeric(target)
		if n.kind == kindDate {
			day := float64(dayStart(b))
			if n.operator == ">" {
				return a >= day+86400
			}
			return a < day
		}
		switch n.operator {
		case ">":
			return a > b
		case "<":
			return a < b
		case ">=":
			return a >= b
		}
		return a <= b
	}
	sv := strings.ToLower(fmt.Sprint(v))
	tv := strings.ToLower(fmt.Sprint(target))
	switch n.operator {
	case "~":
		return has && strings.Contains(sv, tv)
	case "!~":
		return !has || !strings.Contains(sv, tv)
	case "^":
		return has && strings.HasPrefix(sv, tv)
	case "$":
		return has && strings.HasSuffix(sv, tv)
	}
	return false
}

func (s *Server) handleContactSearch(w http.ResponseWriter, _ *http.Request, c *call) {
	var req struct {
		Query      json.RawMessage `json:"query"`
		Pagination *struct {
			PerPage       *int    `json:"per_page"`
			StartingAfter *string `json:"starting_after"`
		} `json:"pagination"`
	}
	if !decodeJSON(w, c.body, &req) {
		return
	}
	if len(req.Query) == 0 || string(req.Query) == "null" {
		writeErrorField(w, http.StatusBadRequest, "parameter_not_found", "query is a required parameter", "query")
		return
	}
	root, msg := s.compileQuery(req.Query, 1)
	if msg != "" {
		writeError(w, http.StatusBadRequest, "parameter_invalid", msg)
		return
	}
	perPage, offset := 50, 0
	if req.Pagination != nil {
		if req.Pagination.PerPage != nil {
			perPage = *req.Pagination.PerPage
		}
		if req.Pagination.StartingAfter != nil && *req.Pagination.StartingAfter != "" {
			b, err := base64.RawURLEncoding.DecodeString(*req.Pagination.StartingAfter)
			n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
			if err != nil || err2 != nil || n < 0 {
				writeError(w, http.StatusBadRequest, "parameter_invalid", "starting_after is not a valid cursor")
				return
			}
			offset = n
		}
	}
	if perPage < 1 || perPage > 150 {
		writeError(w, http.StatusBadRequest, "parameter_invalid", "per_page must be between 1 and 150")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var matched []*contact
	for _, id := range s.contactOrder {
		ct := s.contacts[id]
		if s.opts.SearchDelay > 0 && now.Sub(ct.created) < s.opts.SearchDelay {
			continue
		}
		if s.evalLocked(root, ct) {
			matched = append(matched, ct)
		}
	}
	end := offset + perPage
	if end > len(matched) {
		end = len(matched)
	}
	data := []any{}
	for i := offset; i < end; i++ {
		data = append(data, s.contactJSONLocked(matched[i]))
	}
	totalPages := (len(matched) + perPage - 1) / perPage
	pages := map[string]any{"type": "pages", "page": offset/perPage + 1, "per_page": perPage, "total_pages": totalPages}
	if end < len(matched) {
		pages["next"] = map[string]any{"per_page": perPage, "starting_after": base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))}
	}
	writeJSON(w, http.StatusOK, map[string]any{"type": "list", "data": data, "total_count": len(matched), "pages": pages})
}

// ---- tags ----

func (s *Server) handleTagsList(w http.ResponseWriter, _ *http.Request, _ *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []any{}
	for _, id := range s.tagOrder {
		data = append(data, map[string]any{"type": "tag", "id": id, "name": s.tags[id].name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"type": "list", "data": data})
}

func (s *Server) appliedTagJSON(t *tag, appliedAt int64) map[string]any {
	return map[string]any{"type": "tag", "id": t.id, "name": t.name, "applied_at": appliedAt,
		"applied_by": map[string]any{"type": "admin", "id": s.opts.AdminID}}
}

func (s *Server) handleContactTags(w http.ResponseWriter, _ *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, ok := s.contacts[c.params["contact_id"]]
	if !ok {
		contactNotFound(w)
		return
	}
	data := []any{}
	for _, id := range ct.tagOrder {
		data = append(data, s.appliedTagJSON(s.tags[id], ct.tags[id]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"type": "list", "data": data})
}

func tagNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "not_found", "Resource Not Found")
}

func (s *Server) handleTagAttach(w http.ResponseWriter, _ *http.Request, c *call) {
	var in map[string]any
	if !decodeJSON(w, c.body, &in) {
		return
	}
	var tagID string
	switch v := in["id"].(type) {
	case string:
		tagID = v
	case float64:
		tagID = strconv.FormatInt(int64(v), 10)
	default:
		writeErrorField(w, http.StatusBadRequest, "parameter_not_found", "id is a required parameter", "id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, ok := s.contacts[c.params["contact_id"]]
	if !ok {
		contactNotFound(w)
		return
	}
	t, ok := s.tags[tagID]
	if !ok {
		tagNotFound(w)
		return
	}
	if _, already := ct.tags[tagID]; !already {
		ct.tags[tagID] = s.now().Unix()
		ct.tagOrder = append(ct.tagOrder, tagID)
	}
	writeJSON(w, http.StatusOK, s.appliedTagJSON(t, ct.tags[tagID]))
}

func (s *Server) handleTagDetach(w http.ResponseWriter, _ *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct, ok := s.contacts[c.params["contact_id"]]
	if !ok {
		contactNotFound(w)
		return
	}
	tagID := c.params["tag_id"]
	t, ok := s.tags[tagID]
	if !ok {
		tagNotFound(w)
		return
	}
	applied := ct.tags[tagID]
	if applied == 0 {
		applied = s.now().Unix()
	}
	delete(ct.tags, tagID)
	for i, id := range ct.tagOrder {
		if id == tagID {
			ct.tagOrder = append(ct.tagOrder[:i], ct.tagOrder[i+1:]...)
			break
		}
	}
	writeJSON(w, http.StatusOK, s.appliedTagJSON(t, applied))
}

// ---- data attributes ----

func attrJSON(a *DataAttribute) map[string]any {
	m := map[string]any{
		"type":               "data_attribute",
		"model":              a.Model,
		"name":               a.Name,
		"full_name":          a.Name,
		"label":              a.Label,
		"description":        a.Description,
		"data_type":          a.DataType,
		"api_writable":       a.APIWritable,
		"ui_writable":        a.Custom,
		"messenger_writable": a.Custom,
		"custom":             a.Custom,
		"archived":           a.Archived,
	}
	if a.Custom {
		m["id"] = a.ID
		m["full_name"] = "custom_attributes." + a.Name
		m["created_at"] = a.CreatedAt
		m["updated_at"] = a.UpdatedAt
		m["admin_id"] = DefaultAdminID
		if len(a.Options) > 0 {
			m["options"] = a.Options
		}
	}
	return m
}

func (s *Server) handleDataAttributes(w http.ResponseWriter, r *http.Request, _ *call) {
	model := r.URL.Query().Get("model")
	switch model {
	case "", "contact", "company", "conversation":
	default:
		writeErrorField(w, http.StatusBadRequest, "parameter_invalid", "model must be one of contact, company or conversation", "model")
		return
	}
	includeArchived := r.URL.Query().Get("include_archived") == "true"
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []any{}
	for _, a := range s.attrs {
		if model != "" && a.Model != model {
			continue
		}
		if a.Archived && !includeArchived {
			continue
		}
		data = append(data, attrJSON(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"type": "list", "data": data})
}
