package mcp

import (
	"encoding/json"

	"github.com/google/jsonschema-go/jsonschema"
)

// The tools' input schemas are written out by hand rather than inferred from Go structs: they
// must be the Meshes MCP server's (field names, types, bounds and defaults; docs/mcp.md), and
// bounds and defaults cannot be expressed in struct tags. These helpers keep them short.

// field is one property of an object schema.
type field struct {
	name     string
	schema   *jsonschema.Schema
	required bool
}

// req and opt name a required and an optional property.
func req(name string, s *jsonschema.Schema) field {
	return field{name: name, schema: s, required: true}
}
func opt(name string, s *jsonschema.Schema) field { return field{name: name, schema: s} }

// object is a tool's input: the properties in the order given, and no others (a misspelt
// argument is an error the model can read rather than something silently ignored).
func object(fields ...field) *jsonschema.Schema {
	s := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{},
		AdditionalProperties: &jsonschema.Schema{Not: &jsonschema.Schema{}}}
	for _, f := range fields {
		s.Properties[f.name] = f.schema
		s.PropertyOrder = append(s.PropertyOrder, f.name)
		if f.required {
			s.Required = append(s.Required, f.name)
		}
	}
	return s
}

func intp(n int) *int           { return &n }
func floatp(f float64) *float64 { return &f }
func raw(v any) json.RawMessage { b, _ := json.Marshal(v); return b }

// str is a string with an optional length range (max 0: unbounded).
func str(desc string, minLen, maxLen int) *jsonschema.Schema {
	s := &jsonschema.Schema{Type: "string", Description: desc}
	if minLen > 0 {
		s.MinLength = intp(minLen)
	}
	if maxLen > 0 {
		s.MaxLength = intp(maxLen)
	}
	return s
}

// id is a UUID string.
func id(desc string) *jsonschema.Schema {
	return &jsonschema.Schema{Type: "string", Format: "uuid", Description: desc}
}

// enum is a string among values.
func enum(desc string, values ...string) *jsonschema.Schema {
	s := &jsonschema.Schema{Type: "string", Description: desc}
	for _, v := range values {
		s.Enum = append(s.Enum, v)
	}
	return s
}

// integer is an integer in [minV, maxV].
func integer(desc string, minV, maxV float64) *jsonschema.Schema {
	return &jsonschema.Schema{Type: "integer", Description: desc, Minimum: floatp(minV), Maximum: floatp(maxV)}
}

func boolean(desc string) *jsonschema.Schema {
	return &jsonschema.Schema{Type: "boolean", Description: desc}
}

// record is a JSON object with any values (values, when given, constrains them).
func record(desc string, values *jsonschema.Schema) *jsonschema.Schema {
	if values == nil {
		values = &jsonschema.Schema{}
	}
	return &jsonschema.Schema{Type: "object", Description: desc, AdditionalProperties: values}
}

func array(desc string, items *jsonschema.Schema, minItems, maxItems int) *jsonschema.Schema {
	s := &jsonschema.Schema{Type: "array", Description: desc, Items: items}
	if minItems > 0 {
		s.MinItems = intp(minItems)
	}
	if maxItems > 0 {
		s.MaxItems = intp(maxItems)
	}
	return s
}

// def sets a schema's default, which the SDK fills in before the tool runs.
func def(s *jsonschema.Schema, v any) *jsonschema.Schema {
	s.Default = raw(v)
	return s
}

// nullable lets a schema's value also be null.
func nullable(s *jsonschema.Schema) *jsonschema.Schema {
	s.Types, s.Type = []string{s.Type, "null"}, ""
	return s
}

// Common properties.
var (
	limitSchema = func() *jsonschema.Schema {
		return def(integer("Page size: how many records to return (1–200).", 1, 200), 50)
	}
	cursorSchema = func() *jsonschema.Schema {
		return str("The next_cursor of the previous page, to read the next one.", 0, 0)
	}
	resourceSchema = func() *jsonschema.Schema {
		return str("The resource type an event is about (e.g. \"user\", \"account\").", 0, 0)
	}
	resourceIDSchema = func() *jsonschema.Schema {
		return str("The id of that resource in the caller's system.", 0, 0)
	}
)

// integrationTypes are the connection types a Meshes client may name (docs/meshes-compat.md).
var integrationTypes = []string{"activecampaign", "aweber", "customer_io", "discord", "hubspot", "intercom",
	"mailchimp", "mailerlite", "pipedrive", "resend", "sendgrid", "salesforce", "slack", "webhook", "zoom"}

// mappingSchema is a connection's field mapping (docs/mappings.md): the shape only; the API
// validates every value and names each one that fails.
func mappingSchema() *jsonschema.Schema {
	literal := &jsonschema.Schema{Types: []string{"string", "number", "boolean", "null"}}
	tz := str("IANA time zone, e.g. Europe/Paris.", 1, 64)
	transform := &jsonschema.Schema{Type: "object", Description: "One transform applied to the value, in order.",
		Properties: map[string]*jsonschema.Schema{
			"type": enum("The transform.", "to_string", "to_number", "to_boolean", "to_date", "to_datetime",
				"default", "trim", "lower", "upper", "substring"),
			"timezone": tz,
			"value":    literal,
			"start":    &jsonschema.Schema{Type: "integer", Minimum: floatp(0)},
			"length":   &jsonschema.Schema{Type: "integer", ExclusiveMinimum: floatp(0)},
		},
		PropertyOrder: []string{"type", "timezone", "value", "start", "length"},
		Required:      []string{"type"}}
	source := &jsonschema.Schema{Type: "object",
		Description: "Where the value comes from: {type:\"path\", value:\"user.email\"} (a dotted path in the payload) or {type:\"literal\", value: …}.",
		Properties: map[string]*jsonschema.Schema{
			"type":  enum("path or literal.", "path", "literal"),
			"value": &jsonschema.Schema{Types: []string{"string", "number", "boolean", "null"}},
		},
		PropertyOrder: []string{"type", "value"},
		Required:      []string{"type", "value"}}
	mappedField := &jsonschema.Schema{Type: "object",
		Properties: map[string]*jsonschema.Schema{
			"dest":       str("The destination field's key.", 1, 128),
			"source":     source,
			"transforms": array("", transform, 0, 10),
			"on_error":   enum("What a failing value does: skip the field, add a warning, or fail the attempt.", "skip_field", "warn_action", "fail_action"),
			"notes":      str("", 1, 1024),
		},
		PropertyOrder: []string{"dest", "source", "transforms", "on_error", "notes"},
		Required:      []string{"dest", "source"}}
	return &jsonschema.Schema{Type: "object", Description: "The mapping: schema_version 1 and the fields, payload → destination.",
		Properties: map[string]*jsonschema.Schema{
			"schema_version": integer("Always 1.", 1, 1),
			"fields":         array("", mappedField, 0, 250),
			"meta": &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{
				"name": str("", 1, 64), "notes": str("", 1, 1024)}, PropertyOrder: []string{"name", "notes"}},
		},
		PropertyOrder: []string{"schema_version", "fields", "meta"},
		Required:      []string{"schema_version", "fields"}}
}

// positiveInt is an integer greater than zero.
func positiveInt(desc string) *jsonschema.Schema {
	return &jsonschema.Schema{Type: "integer", Description: desc, ExclusiveMinimum: floatp(0)}
}

// pattern sets a string schema's pattern.
func pattern(s *jsonschema.Schema, re string) *jsonschema.Schema {
	s.Pattern = re
	return s
}
