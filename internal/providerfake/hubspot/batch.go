package hubspot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// MaxBatchInputs is the most inputs a CRM v3 batch endpoint takes in one request.
const MaxBatchInputs = 100

// batchCreateInput is one input of POST /crm/v3/objects/contacts/batch/create
// (SimplePublicObjectBatchInputForCreate).
type batchCreateInput struct {
	Properties         map[string]json.RawMessage `json:"properties"`
	Associations       json.RawMessage            `json:"associations"`
	ObjectWriteTraceID *string                    `json:"objectWriteTraceId"`
}

// batchError is one entry of a multi-status answer's errors (StandardError).
type batchError struct {
	Status   string              `json:"status"`
	Category string              `json:"category"`
	Message  string              `json:"message"`
	Context  map[string][]string `json:"context"`
	Errors   []errorDetail       `json:"errors"`
	Links    map[string]string   `json:"links"`
}

// inputFailure is why one input of a batch was refused: the answer a single create would
// have had (status and body).
type inputFailure struct {
	status int
	err    apiError
}

// handleContactBatchCreate is POST /crm/v3/objects/contacts/batch/create: "the same rules as
// creating an individual object", for at most MaxBatchInputs inputs. Without an
// objectWriteTraceId on every input the batch is all or nothing: the first refused input's
// answer (400 with its property problems, 409 naming the existing contact) is the batch's, and
// no contact is created. With one on every input (HubSpot's "multi-status errors"), every
// valid input is created and the refused ones are listed in errors, each with its trace id in
// context.objectWriteTraceId: 201 when none was refused, 207 otherwise.
func (s *Server) handleContactBatchCreate(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		Inputs *[]json.RawMessage `json:"inputs"`
	}
	if !decodeJSON(w, r, c.body, &in) {
		return
	}
	if in.Inputs == nil {
		validationError(w, "Invalid input JSON: inputs is required")
		return
	}
	raw := *in.Inputs
	switch {
	case len(raw) == 0:
		validationError(w, "Invalid input JSON: inputs must not be empty")
		return
	case len(raw) > MaxBatchInputs:
		validationError(w, fmt.Sprintf("Batch input is too large: %d inputs were sent, the maximum is %d", len(raw), MaxBatchInputs))
		return
	}
	inputs := make([]batchCreateInput, len(raw))
	values := make([]map[string]string, len(raw))
	traced, seen := 0, map[string]bool{}
	for i, m := range raw {
		dec := json.NewDecoder(bytes.NewReader(m))
		if err := dec.Decode(&inputs[i]); err != nil {
			validationError(w, fmt.Sprintf("Invalid input JSON: inputs[%d]: %v", i, err))
			return
		}
		in := inputs[i]
		if in.Properties == nil {
			validationError(w, fmt.Sprintf("Invalid input JSON: inputs[%d].properties is required", i))
			return
		}
		if a := bytes.TrimSpace(in.Associations); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
			var assoc []json.RawMessage
			if json.Unmarshal(a, &assoc) != nil {
				validationError(w, fmt.Sprintf("Invalid input JSON: inputs[%d].associations must be an array", i))
				return
			}
			if len(assoc) > 0 {
				// The fake holds no other objects, so an association can name none that exists.
				validationError(w, fmt.Sprintf("inputs[%d]: associations are not supported by this fake (it holds no records to associate with)", i))
				return
			}
		}
		if in.ObjectWriteTraceID != nil {
			id := *in.ObjectWriteTraceID
			if id == "" || seen[id] {
				validationError(w, fmt.Sprintf("inputs[%d]: objectWriteTraceId must be unique within the batch", i))
				return
			}
			seen[id] = true
			traced++
		}
		v, ok := propertyValues(w, in.Properties)
		if !ok {
			return
		}
		if e, ok := v["email"]; ok {
			v["email"] = strings.ToLower(strings.TrimSpace(e))
		}
		values[i] = v
	}
	multiStatus := traced == len(inputs)

	s.mu.Lock()
	defer s.mu.Unlock()
	requested := s.now().UTC()
	// Check every input against the stored contacts and the earlier inputs of the batch.
	failures := make([]*inputFailure, len(inputs))
	batchEmails := map[string]int{}
	for i, v := range values {
		if probs := s.validatePropsLocked(v); len(probs) > 0 {
			b, _ := json.Marshal(probs)
			failures[i] = &inputFailure{http.StatusBadRequest, apiError{Status: "error",
				Message: "Property values were not valid: " + string(b), Category: "VALIDATION_ERROR"}}
			continue
		}
		email := v["email"]
		if existing := s.contactByEmailLocked(email); existing != nil {
			failures[i] = &inputFailure{http.StatusConflict, apiError{Status: "error",
				Message: "Contact already exists. Existing ID: " + existing.id, Category: "CONFLICT"}}
			continue
		}
		if email != "" {
			if _, dup := batchEmails[email]; dup {
				// Created by an earlier input of this batch: its id is known once it is created.
				failures[i] = &inputFailure{status: http.StatusConflict}
				continue
			}
			batchEmails[email] = i
		}
	}
	if !multiStatus {
		for _, f := range failures {
			if f == nil {
				continue
			}
			if f.status == http.StatusConflict && f.err.Message == "" {
				// Two inputs with one email: HubSpot names no existing contact, as none is created.
				f.err = apiError{Status: "error", Message: "Duplicate email addresses in the batch", Category: "VALIDATION_ERROR"}
				f.status = http.StatusBadRequest
			}
			writeError(w, f.status, f.err)
			return
		}
	}
	results := make([]*contactBody, 0, len(inputs))
	created := make([]*contact, len(inputs))
	var errs []batchError
	for i, v := range values {
		if failures[i] != nil {
			continue
		}
		ct := s.newContactLocked()
		for k, val := range v {
			if val != "" {
				ct.props[k] = val
			}
		}
		s.indexEmailLocked(ct, "")
		created[i] = ct
		obj := s.contactJSONLocked(ct, nil, true)
		if tid := inputs[i].ObjectWriteTraceID; tid != nil {
			obj.ObjectWriteTraceID = *tid
		}
		results = append(results, obj)
	}
	for i, f := range failures {
		if f == nil {
			continue
		}
		if f.err.Message == "" { // a second input with the email of an input just created
			first := created[batchEmails[values[i]["email"]]]
			f.err = apiError{Status: "error", Message: "Contact already exists. Existing ID: " + first.id, Category: "CONFLICT"}
		}
		errs = append(errs, batchError{Status: "error", Category: f.err.Category, Message: f.err.Message,
			Context: map[string][]string{"objectWriteTraceId": {*inputs[i].ObjectWriteTraceID}},
			Errors:  []errorDetail{}, Links: map[string]string{}})
	}
	completed := s.now().UTC()
	out := map[string]any{
		"status":      "COMPLETE",
		"results":     results,
		"requestedAt": requested.Format(timeLayout),
		"startedAt":   requested.Format(timeLayout),
		"completedAt": completed.Format(timeLayout),
	}
	if len(errs) == 0 {
		writeJSON(w, http.StatusCreated, out)
		return
	}
	out["numErrors"] = len(errs)
	out["errors"] = errs
	writeJSON(w, http.StatusMultiStatus, out)
}
