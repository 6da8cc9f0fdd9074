// Package mapping holds field mappings: the versioned schema (docs/meshes-compat.md §7) that says how an
// event's payload becomes a destination's fields — each destination field taken from a payload
// path or a literal, passed through optional transforms. This package parses and validates the
// schema (Parse), applies it to payloads (Compile, Apply), renders {{ path }} templates in rule
// metadata (Render, ResolveParams) and generates default mappings from a field catalog
// (Generate). docs/mappings.md describes the semantics for users.
package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// SchemaVersion is the only schema version there is.
const SchemaVersion = 1

// Limits of the schema, as the Meshes API publishes them.
const (
	MaxFields     = 250
	MaxTransforms = 10
)

// The source types of a field.
const (
	SourcePath    = "path"
	SourceLiteral = "literal"
)

// What to do when a field cannot be mapped.
var onErrorValues = []string{"skip_field", "warn_action", "fail_action"}

// The transforms and whether each takes parameters.
var transformTypes = []string{"to_string", "to_number", "to_boolean", "to_date", "to_datetime", "default", "trim", "lower", "upper", "substring"}

// pathPattern is a payload-relative selector such as email or user.email.
var pathPattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)*$`)

// Schema is a mapping schema. It marshals to the Meshes wire form.
type Schema struct {
	SchemaVersion int     `json:"schema_version"`
	Fields        []Field `json:"fields"`
	Meta          *Meta   `json:"meta,omitempty"`
}

// Field maps one destination field.
type Field struct {
	Dest       string      `json:"dest"`
	Source     Source      `json:"source"`
	Transforms []Transform `json:"transforms,omitempty"`
	OnError    string      `json:"on_error,omitempty"`
	Notes      string      `json:"notes,omitempty"`
}

// Source is where a field's value comes from: a payload path (Value is a string) or a literal
// (Value is a string, json.Number, bool or nil).
type Source struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Transform is one step applied to a field's value. Only the parameters of its Type are set.
type Transform struct {
	Type string
	// Timezone is the optional parameter of to_date and to_datetime.
	Timezone string
	// Value is the parameter of default: a string, json.Number, bool or nil.
	Value any
	// Start and Length are the parameters of substring; Length is optional.
	Start  int
	Length *int
}

// MarshalJSON writes the transform with exactly its type's parameters.
func (t Transform) MarshalJSON() ([]byte, error) {
	m := map[string]any{"type": t.Type}
	switch t.Type {
	case "to_date", "to_datetime":
		if t.Timezone != "" {
			m["timezone"] = t.Timezone
		}
	case "default":
		m["value"] = t.Value
	case "substring":
		m["start"] = t.Start
		if t.Length != nil {
			m["length"] = *t.Length
		}
	}
	return json.Marshal(m)
}

// Meta is the schema's optional descriptive block.
type Meta struct {
	Name  string `json:"name,omitempty"`
	Notes string `json:"notes,omitempty"`
}

// Empty returns a schema that maps nothing: what a connection has before a mapping is saved.
func Empty() *Schema {
	return &Schema{SchemaVersion: SchemaVersion, Fields: []Field{}}
}

// Parse validates a schema given as JSON and returns it normalised: keys the schema does not
// define are dropped (as the Meshes API's own validation strips them), everything else is kept
// as sent. Errors name each failing value as param, prefixed with prefix (for example
// "schema.fields[2].source.value"); there is at least one when the schema is nil.
func Parse(raw json.RawMessage, prefix string) (*Schema, []switchyard.FieldError) {
	p := &parser{}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		p.fail(prefix, "is required")
		return nil, p.errs
	}
	if err := dec.Decode(&v); err != nil {
		p.fail(prefix, "must be valid JSON")
		return nil, p.errs
	}
	s := p.schema(prefix, v)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return s, nil
}

// parser collects every validation failure rather than stopping at the first.
type parser struct {
	errs []switchyard.FieldError
}

func (p *parser) fail(param, format string, args ...any) {
	p.errs = append(p.errs, switchyard.FieldError{Param: param, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) object(param string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		p.fail(param, "must be an object")
	}
	return m, ok
}

// text checks a string of minLen to maxLen characters; absent is fine unless required.
func (p *parser) text(param string, m map[string]any, key string, required bool, minLen, maxLen int) (string, bool) {
	v, present := m[key]
	if !present || v == nil {
		if required {
			p.fail(param, "is required")
			return "", false
		}
		return "", true
	}
	s, ok := v.(string)
	switch {
	case !ok:
		p.fail(param, "must be a string")
		return "", false
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		p.fail(param, "must be valid text without NUL characters")
		return "", false
	case utf8.RuneCountInString(s) < minLen || utf8.RuneCountInString(s) > maxLen:
		p.fail(param, "must be %d to %d characters", minLen, maxLen)
		return "", false
	}
	return s, true
}

// scalar checks a literal value: a string of minLen to maxLen characters, a number, a boolean or
// null.
func (p *parser) scalar(param string, v any, minLen, maxLen int) (any, bool) {
	switch v := v.(type) {
	case nil, bool:
		return v, true
	case json.Number:
		if f, err := v.Float64(); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			p.fail(param, "must be a finite number")
			return nil, false
		}
		return v, true
	case string:
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			p.fail(param, "must be valid text without NUL characters")
			return nil, false
		}
		if n := utf8.RuneCountInString(v); n < minLen || n > maxLen {
			p.fail(param, "must be %d to %d characters when a string", minLen, maxLen)
			return nil, false
		}
		return v, true
	}
	p.fail(param, "must be a string, number, boolean or null")
	return nil, false
}

// integer reads a whole number that is at least min.
func (p *parser) integer(param string, v any, min int64) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		p.fail(param, "must be an integer")
		return 0, false
	}
	i, err := n.Int64()
	if err != nil {
		p.fail(param, "must be an integer")
		return 0, false
	}
	if i < min || i > math.MaxInt32 {
		p.fail(param, "must be an integer of at least %d", min)
		return 0, false
	}
	return int(i), true
}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func (p *parser) schema(param string, v any) *Schema {
	m, ok := p.object(param, v)
	if !ok {
		return nil
	}
	s := &Schema{SchemaVersion: SchemaVersion, Fields: []Field{}}
	if sv, present := m["schema_version"]; !present {
		p.fail(param+".schema_version", "is required")
	} else if n, ok := sv.(json.Number); !ok || n.String() != "1" && n.String() != "1.0" {
		p.fail(param+".schema_version", "must be 1")
	}
	fieldsParam := param + ".fields"
	switch fs := m["fields"].(type) {
	case nil:
		p.fail(fieldsParam, "is required")
	case []any:
		if len(fs) > MaxFields {
			p.fail(fieldsParam, "must have at most %d fields", MaxFields)
			break
		}
		for i, f := range fs {
			if field, ok := p.field(fmt.Sprintf("%s[%d]", fieldsParam, i), f); ok {
				s.Fields = append(s.Fields, field)
			}
		}
	default:
		p.fail(fieldsParam, "must be an array")
	}
	if mv, present := m["meta"]; present && mv != nil {
		if mm, ok := p.object(param+".meta", mv); ok {
			name, _ := p.text(param+".meta.name", mm, "name", false, 1, 64)
			notes, _ := p.text(param+".meta.notes", mm, "notes", false, 1, 1024)
			if name != "" || notes != "" {
				s.Meta = &Meta{Name: name, Notes: notes}
			}
		}
	}
	return s
}

func (p *parser) field(param string, v any) (Field, bool) {
	var f Field
	m, ok := p.object(param, v)
	if !ok {
		return f, false
	}
	before := len(p.errs)
	f.Dest, _ = p.text(param+".dest", m, "dest", true, 1, 128)
	f.Source, _ = p.source(param+".source", m["source"])
	switch ts := m["transforms"].(type) {
	case nil:
	case []any:
		if len(ts) > MaxTransforms {
			p.fail(param+".transforms", "must have at most %d transforms", MaxTransforms)
			break
		}
		for i, t := range ts {
			if tr, ok := p.transform(fmt.Sprintf("%s.transforms[%d]", param, i), t); ok {
				f.Transforms = append(f.Transforms, tr)
			}
		}
	default:
		p.fail(param+".transforms", "must be an array")
	}
	if oe, ok := p.text(param+".on_error", m, "on_error", false, 1, 32); ok && oe != "" {
		if !oneOf(oe, onErrorValues) {
			p.fail(param+".on_error", "must be one of: %s", strings.Join(onErrorValues, ", "))
		}
		f.OnError = oe
	}
	f.Notes, _ = p.text(param+".notes", m, "notes", false, 1, 1024)
	return f, len(p.errs) == before
}

func (p *parser) source(param string, v any) (Source, bool) {
	if v == nil {
		p.fail(param, "is required")
		return Source{}, false
	}
	m, ok := p.object(param, v)
	if !ok {
		return Source{}, false
	}
	typ, _ := m["type"].(string)
	value, present := m["value"]
	switch {
	case typ == SourcePath:
		s, ok := p.text(param+".value", m, "value", true, 1, 128)
		if ok && !pathPattern.MatchString(s) {
			p.fail(param+".value", "must be a payload path such as email or user.email")
			return Source{}, false
		}
		return Source{Type: SourcePath, Value: s}, ok
	case typ == SourceLiteral:
		if !present {
			p.fail(param+".value", "is required")
			return Source{}, false
		}
		lit, ok := p.scalar(param+".value", value, 1, 256)
		return Source{Type: SourceLiteral, Value: lit}, ok
	case m["type"] == nil:
		p.fail(param+".type", "is required")
	default:
		p.fail(param+".type", `must be "path" or "literal"`)
	}
	return Source{}, false
}

func (p *parser) transform(param string, v any) (Transform, bool) {
	m, ok := p.object(param, v)
	if !ok {
		return Transform{}, false
	}
	typ, _ := m["type"].(string)
	if !oneOf(typ, transformTypes) {
		if m["type"] == nil {
			p.fail(param+".type", "is required")
		} else {
			p.fail(param+".type", "must be one of: %s", strings.Join(transformTypes, ", "))
		}
		return Transform{}, false
	}
	t := Transform{Type: typ}
	before := len(p.errs)
	switch typ {
	case "to_date", "to_datetime":
		t.Timezone, _ = p.text(param+".timezone", m, "timezone", false, 1, 64)
	case "default":
		value, present := m["value"]
		if !present {
			p.fail(param+".value", "is required")
			break
		}
		t.Value, _ = p.scalar(param+".value", value, 1, 128)
	case "substring":
		if sv, present := m["start"]; !present {
			p.fail(param+".start", "is required")
		} else {
			t.Start, _ = p.integer(param+".start", sv, 0)
		}
		if lv, present := m["length"]; present && lv != nil {
			if n, ok := p.integer(param+".length", lv, 1); ok {
				t.Length = &n
			}
		}
	}
	return t, len(p.errs) == before
}
