package mapping

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

// The values of a field's on_error.
const (
	OnErrorSkipField  = "skip_field"
	OnErrorWarnAction = "warn_action"
	OnErrorFailAction = "fail_action"
)

// Result is what a mapping makes of one payload.
type Result struct {
	// Fields holds each mapped destination field by its dest. A value is a string, a
	// json.Number (numbers keep the text they were written with), a bool, nil (an explicit
	// null) or, for an object or array taken from the payload as it is, a map[string]any or
	// []any holding the same types. Fields is never nil and always marshals to JSON.
	Fields map[string]any `json:"fields"`
	// Warnings lists the fields left out because a transform failed (on_error skip_field or
	// warn_action), in schema order.
	Warnings []Warning `json:"warnings,omitempty"`
	// Missing lists, in schema order, the dests of fields left out because their source path
	// was not in the payload and no default transform filled it in. It is not an error.
	Missing []string `json:"missing,omitempty"`
}

// Warning says why a field was left out.
type Warning struct {
	Dest   string `json:"dest"`
	Reason string `json:"reason"`
	// OnError is skip_field or warn_action. The attempt records warn_action warnings; skip_field
	// ones are informational.
	OnError string `json:"on_error"`
}

func (w Warning) String() string { return "field " + strconv.Quote(w.Dest) + ": " + w.Reason }

// FieldError is the error Apply returns when a field whose on_error is fail_action cannot be
// mapped. The delivery engine records it as outcome mapping_error and does not retry.
type FieldError struct {
	Dest   string `json:"dest"`
	Reason string `json:"reason"`
}

func (e *FieldError) Error() string {
	return "mapping: field " + strconv.Quote(e.Dest) + ": " + e.Reason
}

// Compiled is a schema prepared for Apply: paths split once and merged into one lookup, time
// zones loaded, literal fields evaluated. It is immutable and safe for concurrent use.
type Compiled struct {
	fields []compiledField
	paths  pathTrie
}

type compiledField struct {
	dest    string
	onError string
	slot    int // the source path's slot; -1 for a literal
	ops     []op
	// A literal field's outcome never changes, so it is worked out once: its value (boxed),
	// or why it fails.
	constant any
	constErr string
}

// Compile prepares a schema for Apply. It accepts exactly the schemas Parse accepts (a schema
// built in Go is normalised through Parse first, so an int default value is fine); an unknown
// time zone is not a Compile error but a field error of every Apply.
func Compile(s *Schema) (*Compiled, error) {
	if s == nil {
		return nil, fmt.Errorf("mapping: no schema")
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	norm, errs := Parse(raw, "schema")
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Param + " " + e.Msg
		}
		return nil, fmt.Errorf("mapping: invalid schema: %s", strings.Join(msgs, "; "))
	}
	c := &Compiled{fields: make([]compiledField, 0, len(norm.Fields))}
	for _, f := range norm.Fields {
		cf := compiledField{dest: f.Dest, onError: f.OnError, slot: -1}
		if cf.onError == "" {
			cf.onError = OnErrorSkipField
		}
		for _, t := range f.Transforms {
			o, err := compileOp(t)
			if err != nil {
				return nil, fmt.Errorf("mapping: field %q: %w", f.Dest, err)
			}
			cf.ops = append(cf.ops, o)
		}
		if f.Source.Type == SourcePath {
			cf.slot = c.paths.add(f.Source.Value.(string))
		} else {
			v, _ := literal(f.Source.Value)
			if v, cf.constErr = cf.run(v); cf.constErr == "" {
				cf.constant = v.box()
			}
		}
		c.fields = append(c.fields, cf)
	}
	return c, nil
}

// run passes a value through the field's transforms.
func (f *compiledField) run(v val) (val, string) {
	for i := range f.ops {
		var reason string
		if v, reason = f.ops[i].apply(v); reason != "" {
			return val{}, reason
		}
	}
	return v, ""
}

// Apply compiles s and applies it to payload. Engines that apply one schema many times should
// Compile it once and call Compiled.Apply.
func Apply(s *Schema, payload json.RawMessage) (*Result, error) {
	c, err := Compile(s)
	if err != nil {
		return nil, err
	}
	return c.Apply(payload)
}

// Apply maps an event payload — the raw JSON object, as stored — to destination fields. The
// payload is read in one pass without being decoded: only the values the mapping's paths
// select are, so Apply costs little more than reading the payload once. An empty payload or
// null is an empty object; anything else that is not a JSON object is ErrInvalidPayload.
//
// Each field's value comes from its source (a path's value, or missing when the path is not in
// the payload; a literal) through its transforms in order. A field that ends up missing is left
// out and listed in Result.Missing, whatever its on_error: a missing value is not an error. A
// field whose transform fails is handled by its on_error: skip_field (the default) and
// warn_action leave it out and add a Warning; fail_action makes Apply return a *FieldError
// (the first such field's) and no result. Fields with the same dest: the last one that
// produces a value wins.
func (c *Compiled) Apply(payload json.RawMessage) (*Result, error) {
	var localSpans [16]span
	spans := localSpans[:]
	if c.paths.slots > len(localSpans) {
		spans = make([]span, c.paths.slots)
	}
	if err := c.paths.scan(payload, spans); err != nil {
		return nil, err
	}
	// First every path field's value, whose text may still be a view of the payload…
	var localVals [16]val
	vals := localVals[:]
	if len(c.fields) > len(localVals) {
		vals = make([]val, len(c.fields))
	}
	r := &Result{}
	viewed := 0
	for i := range c.fields {
		f := &c.fields[i]
		if f.slot < 0 {
			if f.constErr != "" && f.onError == OnErrorFailAction {
				return nil, &FieldError{Dest: f.dest, Reason: f.constErr}
			}
			continue
		}
		v, reason := f.run(valueAt(payload, spans[f.slot]))
		if reason != "" {
			if f.onError == OnErrorFailAction {
				return nil, &FieldError{Dest: f.dest, Reason: reason}
			}
			v = val{k: kFailed, s: reason}
		} else if (v.k == kString || v.k == kNumber) && isView(payload, v.s) {
			viewed += len(v.s)
		}
		vals[i] = v
	}
	// …then the texts that are views copied out of the payload, all into one allocation, and
	// the fields in schema order.
	var text []byte
	if viewed > 0 {
		text = make([]byte, 0, viewed)
	}
	r.Fields = make(map[string]any, len(c.fields))
	for i := range c.fields {
		f := &c.fields[i]
		if f.slot < 0 {
			if f.constErr != "" {
				r.Warnings = append(r.Warnings, Warning{Dest: f.dest, Reason: f.constErr, OnError: f.onError})
			} else {
				r.Fields[f.dest] = f.constant
			}
			continue
		}
		v := vals[i]
		switch {
		case v.k == kMissing:
			r.Missing = append(r.Missing, f.dest)
			continue
		case v.k == kFailed:
			r.Warnings = append(r.Warnings, Warning{Dest: f.dest, Reason: v.s, OnError: f.onError})
			continue
		case (v.k == kString || v.k == kNumber) && isView(payload, v.s):
			n := len(text)
			text = append(text, v.s...)
			v.s = unsafe.String(&text[n], len(v.s))
		}
		r.Fields[f.dest] = v.box()
	}
	return r, nil
}
