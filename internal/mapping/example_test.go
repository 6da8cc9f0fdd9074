package mapping_test

import (
	"encoding/json"
	"fmt"

	"github.com/switchyardhq/switchyard/internal/mapping"
)

// The examples are those of docs/mappings.md.

func ExampleCompiled_Apply() {
	s, errs := mapping.Parse(json.RawMessage(`{
	  "schema_version": 1,
	  "fields": [
	    {"dest": "email", "source": {"type": "path", "value": "user.email"},
	     "transforms": [{"type": "trim"}, {"type": "lower"}]},
	    {"dest": "firstname", "source": {"type": "path", "value": "user.first_name"}},
	    {"dest": "signup_date", "source": {"type": "path", "value": "created_at"},
	     "transforms": [{"type": "to_date", "timezone": "Europe/Paris"}]},
	    {"dest": "seats", "source": {"type": "path", "value": "plan.seats"},
	     "transforms": [{"type": "default", "value": 1}, {"type": "to_number"}], "on_error": "warn_action"},
	    {"dest": "lead_source", "source": {"type": "literal", "value": "switchyard"}}
	  ]
	}`), "schema")
	if errs != nil {
		panic(errs)
	}
	c, err := mapping.Compile(s) // once per connection
	if err != nil {
		panic(err)
	}
	r, err := c.Apply(json.RawMessage(`{"user": {"email": "  Ada@Example.COM ", "first_name": "Ada"},
	  "created_at": "2024-03-05T23:30:00Z", "plan": {"seats": "12"}}`))
	if err != nil {
		panic(err)
	}
	out, _ := json.Marshal(r.Fields)
	fmt.Println(string(out))
	// Output: {"email":"ada@example.com","firstname":"Ada","lead_source":"switchyard","seats":12,"signup_date":"2024-03-06"}
}

func ExampleRender() {
	out, err := mapping.Render("New signup: {{ user.first_name }} {{user.last_name}} <{{ user.email }}> on the {{ plan.name }} plan",
		json.RawMessage(`{"user": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}, "plan": {"name": "pro"}}`))
	fmt.Println(out, err)
	_, err = mapping.ResolveParams(map[string]any{"text": "Hi {{ user.name"}, json.RawMessage(`{}`))
	fmt.Println(err)
	// Output:
	// New signup: Ada Lovelace <ada@example.com> on the pro plan <nil>
	// mapping: template in text at offset 3: {{ is not closed by }}
}

func ExampleGenerate() {
	keys, _ := mapping.PayloadKeys(json.RawMessage(`{"id": "usr_1", "Email": "ada@example.com", "first_name": "Ada"}`))
	s := mapping.Generate([]mapping.CatalogField{
		{Key: "email", Type: "string"}, {Key: "firstname", Type: "string"}, {Key: "age", Type: "number"}, {Key: "external_id"},
	}, keys)
	for _, f := range s.Fields {
		var transforms []string
		for _, t := range f.Transforms {
			transforms = append(transforms, t.Type)
		}
		fmt.Println(f.Dest, "<-", f.Source.Value, transforms, f.OnError)
	}
	// Output:
	// email <- Email [to_string] skip_field
	// firstname <- first_name [to_string] skip_field
	// external_id <- id [] skip_field
}
