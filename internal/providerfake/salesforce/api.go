package salesforce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/mail"
	"sort"
	"strings"
	"time"
)

var errNotFound = []apiError{{Message: "The requested resource does not exist", ErrorCode: "NOT_FOUND"}}

func methodNotAllowed(w http.ResponseWriter, h http.Header, method string, allowed string) {
	h.Set("Allow", allowed)
	writeJSON(w, http.StatusMethodNotAllowed, h, []apiError{{
		Message:   fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are %s", method, allowed),
		ErrorCode: "METHOD_NOT_ALLOWED",
	}})
}

// handleData serves the REST API under /services/data.
func (s *Server) handleData(w http.ResponseWriter, r *http.Request, body []byte) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if path == "/services/data" {
		// The Versions resource needs no session and does not count
		// against the limit ("Limit Info Header").
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, http.Header{}, r.Method, "GET,HEAD")
			return
		}
		v := strings.TrimPrefix(s.opts.APIVersion, "v")
		label := ""
		if v == "60.0" {
			label = "Spring '24"
		}
		writeJSON(w, http.StatusOK, nil, []map[string]string{{"label": label, "url": "/services/data/" + s.opts.APIVersion, "version": v}})
		return
	}

	s.apiRequests.Add(1)
	if s.failAPI.Serve(w, r) {
		return
	}

	// Authentication comes first: a request without a valid session is
	// refused before it is counted against the org's limit.
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", "Token")
		writeJSON(w, http.StatusUnauthorized, nil, []apiError{{Message: "Session expired or invalid", ErrorCode: "INVALID_SESSION_ID"}})
		return
	}
	h := http.Header{}
	s.mu.Lock()
	limited := s.forceLimit || s.apiUsed >= s.apiLimit
	if !limited {
		s.apiUsed++
	}
	h.Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", s.apiUsed, s.apiLimit))
	s.mu.Unlock()
	if limited {
		writeJSON(w, http.StatusForbidden, h, []apiError{{Message: "TotalRequests Limit exceeded.", ErrorCode: "REQUEST_LIMIT_EXCEEDED"}})
		return
	}

	prefix := "/services/data/" + s.opts.APIVersion
	if path != prefix && !strings.HasPrefix(path, prefix+"/") {
		writeJSON(w, http.StatusNotFound, h, errNotFound)
		return
	}
	parts := strings.Split(strings.TrimPrefix(path, prefix), "/")[1:]
	switch {
	case len(parts) == 1 && parts[0] == "query":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, h, r.Method, "GET,HEAD")
			return
		}
		s.handleQuery(w, r, h)
	case len(parts) >= 2 && parts[0] == "sobjects":
		s.handleSObject(w, r, h, parts[1:], body)
	default:
		writeJSON(w, http.StatusNotFound, h, errNotFound)
	}
}

func (s *Server) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	const p = "Bearer "
	if len(auth) <= len(p) || !strings.EqualFold(auth[:len(p)], p) {
		// Salesforce also accepts the legacy "OAuth <token>" scheme.
		if len(auth) > 6 && strings.EqualFold(auth[:6], "OAuth ") {
			auth = p + auth[6:]
		} else {
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.access[strings.TrimSpace(auth[len(p):])]
	return ok && !t.expired && !t.grant.revoked
}

func (s *Server) handleSObject(w http.ResponseWriter, r *http.Request, h http.Header, parts []string, body []byte) {
	s.mu.Lock()
	o := s.schemas[strings.ToLower(parts[0])]
	s.mu.Unlock()
	if o == nil || o.Name != parts[0] {
		// sObject names in the path are case-sensitive.
		writeJSON(w, http.StatusNotFound, h, errNotFound)
		return
	}
	switch {
	case len(parts) == 1:
		switch r.Method {
		case http.MethodPost:
			s.createRecord(w, r, h, o, body)
		case http.MethodGet, http.MethodHead:
			s.mu.Lock()
			info := map[string]any{"objectDescribe": s.describeLocked(o, false), "recentItems": []any{}}
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, h, info)
		default:
			methodNotAllowed(w, h, r.Method, "GET,HEAD,POST")
		}
	case len(parts) == 2 && parts[1] == "describe":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, h, r.Method, "GET,HEAD")
			return
		}
		s.mu.Lock()
		d := s.describeLocked(o, true)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, h, d)
	case len(parts) == 2:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.getRecord(w, h, o, parts[1])
		case http.MethodPatch:
			s.updateRecord(w, r, h, o, parts[1], body)
		case http.MethodDelete:
			s.deleteRecord(w, h, o, parts[1])
		default:
			methodNotAllowed(w, h, r.Method, "GET,PATCH,DELETE,HEAD")
		}
	default:
		writeJSON(w, http.StatusNotFound, h, errNotFound)
	}
}

func (s *Server) describeLocked(o *objectSchema, withFields bool) map[string]any {
	base := "/services/data/" + s.opts.APIVersion + "/sobjects/" + o.Name
	d := map[string]any{
		"name": o.Name, "label": o.Label, "labelPlural": o.LabelPlural, "keyPrefix": o.KeyPrefix,
		"createable": true, "updateable": true, "deletable": true, "queryable": true, "retrieveable": true,
		"searchable": true, "custom": false, "layoutable": true,
		"urls": map[string]string{"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}"},
	}
	if withFields {
		fields := make([]Field, len(o.Fields))
		for i, f := range o.Fields {
			fields[i] = *f
		}
		d["fields"] = fields
	}
	return d
}

// decodeBody parses a JSON object body the way the REST API does, checking
// the Content-Type first.
func decodeBody(w http.ResponseWriter, r *http.Request, h http.Header, body []byte) (map[string]json.RawMessage, bool) {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, h, []apiError{{
			Message:   fmt.Sprintf("Content-Type header specified in HTTP request is not supported: %s", ct),
			ErrorCode: "UNSUPPORTED_MEDIA_TYPE",
		}})
		return nil, false
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil || m == nil || len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		msg := "Unexpected end-of-input: expected close marker for OBJECT"
		if err != nil && !strings.Contains(err.Error(), "EOF") {
			msg = "Unexpected character: " + err.Error()
		} else if m == nil && err == nil {
			msg = "Cannot deserialize instance of sObject from non-object value"
		}
		writeJSON(w, http.StatusBadRequest, h, []apiError{{Message: msg, ErrorCode: "JSON_PARSER_ERROR"}})
		return nil, false
	}
	return m, true
}

func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "EOF"
	}
	switch t[0] {
	case '{':
		return "START_OBJECT"
	case '[':
		return "START_ARRAY"
	case '"':
		return "VALUE_STRING"
	case 't':
		return "VALUE_TRUE"
	case 'f':
		return "VALUE_FALSE"
	case 'n':
		return "VALUE_NULL"
	}
	return "VALUE_NUMBER"
}

// applyFields validates a create or update body against the object's
// metadata and applies it to r. It returns the errors Salesforce would
// report; on error r is left unchanged.
func (s *Server) applyFieldsLocked(o *objectSchema, rec *record, in map[string]json.RawMessage, create bool) (int, []apiError) {
	// Body-level problems come first, in the order the API reports them.
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names)
	updates := map[string]any{}
	var errs []apiError
	for _, k := range names {
		f := o.field(k)
		if f == nil {
			return http.StatusBadRequest, []apiError{{Message: fmt.Sprintf("No such column '%s' on sobject of type %s", k, o.Name), ErrorCode: "INVALID_FIELD"}}
		}
		if f.Name == "Id" {
			return http.StatusBadRequest, []apiError{{Message: "The Id field should not be specified in the sobject data.", ErrorCode: "INVALID_FIELD"}}
		}
		if (create && !f.Createable) || (!create && !f.Updateable) {
			return http.StatusBadRequest, []apiError{dmlError("INVALID_FIELD_FOR_INSERT_UPDATE",
				fmt.Sprintf("Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", f.Name), f.Name)}
		}
		raw := in[k]
		kind := jsonKind(raw)
		if kind == "VALUE_NULL" {
			updates[f.Name] = nil
			continue
		}
		switch {
		case f.isText():
			var v string
			if kind != "VALUE_STRING" || json.Unmarshal(raw, &v) != nil {
				return http.StatusBadRequest, []apiError{{Message: fmt.Sprintf("Cannot deserialize instance of %s from %s value %s", f.Type, kind, string(raw)), ErrorCode: "JSON_PARSER_ERROR"}}
			}
			updates[f.Name] = v
		case f.Type == "boolean":
			if kind != "VALUE_TRUE" && kind != "VALUE_FALSE" {
				return http.StatusBadRequest, []apiError{{Message: fmt.Sprintf("Cannot deserialize instance of boolean from %s value %s", kind, string(raw)), ErrorCode: "JSON_PARSER_ERROR"}}
			}
			updates[f.Name] = kind == "VALUE_TRUE"
		case f.Type == "date":
			var v string
			if kind != "VALUE_STRING" || json.Unmarshal(raw, &v) != nil {
				return http.StatusBadRequest, []apiError{{Message: fmt.Sprintf("Cannot deserialize instance of date from %s value %s", kind, string(raw)), ErrorCode: "JSON_PARSER_ERROR"}}
			}
			if _, err := time.Parse("2006-01-02", v); err != nil {
				return http.StatusBadRequest, []apiError{{Message: fmt.Sprintf("Cannot deserialize instance of date from VALUE_STRING value %s or request may be missing a required field", v), ErrorCode: "JSON_PARSER_ERROR"}}
			}
			updates[f.Name] = v
		default:
			return http.StatusBadRequest, []apiError{dmlError("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: "+f.Name+".", f.Name)}
		}
	}

	// Record-level validation, field by field in metadata order.
	merged := copyFields(rec.fields)
	for k, v := range updates {
		merged[k] = v
	}
	var missing []string
	for _, f := range o.Fields {
		v, present := merged[f.Name]
		str, _ := v.(string)
		if f.requiredOnCreate() && (v == nil || (f.isText() && str == "")) {
			if _, changed := updates[f.Name]; create || (present && changed) {
				missing = append(missing, f.Name)
			}
			continue
		}
		if _, changed := updates[f.Name]; !changed || v == nil {
			continue
		}
		switch {
		case f.Type == "picklist" && f.RestrictedPicklist:
			ok := false
			for _, pv := range f.PicklistValues {
				if pv.Active && pv.Value == str {
					ok = true
				}
			}
			if !ok {
				errs = append(errs, dmlError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", fmt.Sprintf("%s: bad value for restricted picklist field: %s", f.Label, str), f.Name))
			}
		case f.Type == "email":
			if str != "" {
				if a, err := mail.ParseAddress(str); err != nil || a.Address != str || a.Name != "" {
					errs = append(errs, dmlError("INVALID_EMAIL_ADDRESS", fmt.Sprintf("%s: invalid email address: %s", f.Label, str), f.Name))
				}
			}
		case f.Type == "reference":
			target := s.schemas[strings.ToLower(f.ReferenceTo[0])]
			full, ok := idWithPrefix(str, target.KeyPrefix)
			if !ok {
				errs = append(errs, dmlError("MALFORMED_ID", fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, str), f.Name))
				continue
			}
			if _, gone := s.deleted[full]; gone {
				errs = append(errs, dmlError("ENTITY_IS_DELETED", "entity is deleted", f.Name))
				continue
			}
			if _, ok := s.records[strings.ToLower(target.Name)][full]; !ok {
				errs = append(errs, dmlError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", f.Name))
				continue
			}
			merged[f.Name] = full
		}
		if f.isText() && f.Length > 0 && len([]rune(str)) > f.Length {
			errs = append(errs, dmlError("STRING_TOO_LONG", fmt.Sprintf("%s: data value too large: %s (max length=%d)", f.Label, str, f.Length), f.Name))
		}
	}
	if len(missing) > 0 {
		errs = append([]apiError{dmlError("REQUIRED_FIELD_MISSING", "Required fields are missing: ["+strings.Join(missing, ", ")+"]", missing...)}, errs...)
	}
	if len(errs) > 0 {
		return http.StatusBadRequest, errs
	}
	// Object-specific rules.
	if o.Name == "CampaignMember" && create {
		if merged["ContactId"] == nil {
			return http.StatusBadRequest, []apiError{dmlError("REQUIRED_FIELD_MISSING", "Required fields are missing: [ContactId]", "ContactId")}
		}
		for _, m := range s.records["campaignmember"] {
			if m.fields["CampaignId"] == merged["CampaignId"] && m.fields["ContactId"] == merged["ContactId"] {
				return http.StatusBadRequest, []apiError{dmlError("DUPLICATE_VALUE", "Already a campaign member.")}
			}
		}
	}
	rec.fields = merged
	s.applyDefaultsLocked(o, rec)
	return 0, nil
}

// applyDefaultsLocked fills defaulted and computed fields.
func (s *Server) applyDefaultsLocked(o *objectSchema, rec *record) {
	for _, f := range o.Fields {
		if _, ok := rec.fields[f.Name]; ok || !f.DefaultedOnCreate || f.Name == "Id" {
			continue
		}
		switch {
		case f.DefaultValue != nil:
			rec.fields[f.Name] = f.DefaultValue
		case f.Type == "picklist":
			for _, pv := range f.PicklistValues {
				if pv.DefaultValue {
					rec.fields[f.Name] = pv.Value
				}
			}
		}
	}
	switch o.Name {
	case "Contact":
		first, _ := rec.fields["FirstName"].(string)
		last, _ := rec.fields["LastName"].(string)
		rec.fields["Name"] = strings.TrimSpace(first + " " + last)
	case "CampaignMember":
		st, _ := rec.fields["Status"].(string)
		rec.fields["HasResponded"] = st == "Responded"
	}
}

func (s *Server) createRecord(w http.ResponseWriter, r *http.Request, h http.Header, o *objectSchema, body []byte) {
	in, ok := decodeBody(w, r, h, body)
	if !ok {
		return
	}
	s.mu.Lock()
	rec := &record{fields: map[string]any{}}
	status, errs := s.applyFieldsLocked(o, rec, in, true)
	var id string
	if errs == nil {
		s.seq++
		rec.seq = s.seq
		id = newID(o.KeyPrefix, s.seq)
		rec.fields["Id"] = id
		s.records[strings.ToLower(o.Name)][id] = rec
	}
	s.mu.Unlock()
	if errs != nil {
		writeJSON(w, status, h, errs)
		return
	}
	h.Set("Location", "/services/data/"+s.opts.APIVersion+"/sobjects/"+o.Name+"/"+id)
	writeJSON(w, http.StatusCreated, h, map[string]any{"id": id, "success": true, "errors": []any{}})
}

// lookupLocked finds a record by an ID from a path; it answers 404 NOT_FOUND
// for unknown or malformed IDs and 404 ENTITY_IS_DELETED for deleted ones.
func (s *Server) lookupLocked(o *objectSchema, rawID string) (*record, []apiError) {
	full, ok := idWithPrefix(rawID, o.KeyPrefix)
	if !ok {
		return nil, errNotFound
	}
	if _, gone := s.deleted[full]; gone {
		return nil, []apiError{dmlError("ENTITY_IS_DELETED", "entity is deleted")}
	}
	rec, ok := s.records[strings.ToLower(o.Name)][full]
	if !ok {
		return nil, errNotFound
	}
	return rec, nil
}

func (s *Server) getRecord(w http.ResponseWriter, h http.Header, o *objectSchema, rawID string) {
	s.mu.Lock()
	rec, errs := s.lookupLocked(o, rawID)
	var out map[string]any
	if errs == nil {
		out = s.renderLocked(o, rec, nil)
	}
	s.mu.Unlock()
	if errs != nil {
		writeJSON(w, http.StatusNotFound, h, errs)
		return
	}
	writeJSON(w, http.StatusOK, h, orderedRecord(out, o, nil))
}

func (s *Server) updateRecord(w http.ResponseWriter, r *http.Request, h http.Header, o *objectSchema, rawID string, body []byte) {
	in, ok := decodeBody(w, r, h, body)
	if !ok {
		return
	}
	s.mu.Lock()
	rec, errs := s.lookupLocked(o, rawID)
	status := http.StatusNotFound
	if errs == nil {
		status, errs = s.applyFieldsLocked(o, rec, in, false)
	}
	s.mu.Unlock()
	if errs != nil {
		writeJSON(w, status, h, errs)
		return
	}
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteRecord(w http.ResponseWriter, h http.Header, o *objectSchema, rawID string) {
	s.mu.Lock()
	rec, errs := s.lookupLocked(o, rawID)
	if errs == nil {
		id := rec.fields["Id"].(string)
		delete(s.records[strings.ToLower(o.Name)], id)
		s.deleted[id] = o.Name
	}
	s.mu.Unlock()
	if errs != nil {
		writeJSON(w, http.StatusNotFound, h, errs)
		return
	}
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.WriteHeader(http.StatusNoContent)
}

// renderLocked returns a record as the API shows it: attributes first, then
// the selected fields (all fields when fields is nil).
func (s *Server) renderLocked(o *objectSchema, rec *record, fields []*Field) map[string]any {
	out := map[string]any{}
	if fields == nil {
		fields = o.Fields
	}
	for _, f := range fields {
		out[f.Name] = rec.fields[f.Name]
	}
	out["attributes"] = map[string]string{"type": o.Name, "url": "/services/data/" + s.opts.APIVersion + "/sobjects/" + o.Name + "/" + rec.fields["Id"].(string)}
	return out
}

// orderedRecord encodes a record with "attributes" first and the fields in
// the given (or metadata) order, as Salesforce does.
type recordJSON struct {
	keys []string
	vals map[string]any
}

func orderedRecord(m map[string]any, o *objectSchema, fields []*Field) recordJSON {
	if fields == nil {
		fields = o.Fields
	}
	keys := []string{"attributes"}
	for _, f := range fields {
		keys = append(keys, f.Name)
	}
	return recordJSON{keys: keys, vals: m}
}

func (r recordJSON) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range r.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(r.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (s *Server) sortedLocked(typ string) []*record {
	var out []*record
	for _, r := range s.records[typ] {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}
