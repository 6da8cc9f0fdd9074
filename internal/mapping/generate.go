package mapping

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// CatalogField is a destination field as a connection's field catalog describes it: its key
// (the dest a mapping writes), its type as the integration names it, and whether the
// destination requires it.
type CatalogField struct {
	Key      string
	Type     string
	Required bool
}

// synonyms is the table Generate matches catalog fields with: a catalog field whose key
// normalises (see normKey) to one of catalog is read from the first of payload the sample
// payload has (or, without a sample, from payload[0]).
var synonyms = []struct {
	catalog []string
	payload []string
}{
	{[]string{"email", "emailaddress"}, []string{"email", "email_address"}},
	{[]string{"firstname", "givenname"}, []string{"first_name", "firstname", "given_name"}},
	{[]string{"lastname", "familyname", "surname"}, []string{"last_name", "lastname", "family_name", "surname"}},
	{[]string{"name", "fullname"}, []string{"name", "full_name"}},
	{[]string{"phone", "phonenumber", "mobilephone"}, []string{"phone", "phone_number", "mobile"}},
	{[]string{"company", "companyname"}, []string{"company", "company_name"}},
	{[]string{"jobtitle", "title"}, []string{"job_title", "title"}},
	{[]string{"externalid"}, []string{"id", "external_id", "user_id"}},
}

// typeTransforms names the transform a catalog type calls for (types normalised by normKey).
var typeTransforms = map[string]string{
	"string": "to_string", "text": "to_string", "textarea": "to_string", "email": "to_string",
	"phone": "to_string", "phonenumber": "to_string", "url": "to_string", "enum": "to_string",
	"enumeration": "to_string", "select": "to_string", "picklist": "to_string",
	"number": "to_number", "integer": "to_number", "int": "to_number", "float": "to_number",
	"double": "to_number", "decimal": "to_number", "currency": "to_number", "percent": "to_number",
	"boolean": "to_boolean", "bool": "to_boolean", "checkbox": "to_boolean",
	"date":     "to_date",
	"datetime": "to_datetime", "timestamp": "to_datetime",
}

// normKey lowercases a key and drops '_', '-' and spaces: first_name, First-Name and firstname
// are the same key.
func normKey(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', ' ':
			return -1
		}
		return r
	}, strings.ToLower(s))
}

// Generate makes the default mapping of a connection that has not saved one, from its
// destination's field catalog. Each catalog field is mapped from a payload path with
// on_error skip_field, plus the conversion its type calls for (to_string, to_number,
// to_boolean, to_date or to_datetime; none for other types):
//
//   - with sampleKeys (the top-level keys of a sample payload, see PayloadKeys), from the
//     sample key equal to the catalog key once both are normalised (case and '_', '-', ' '
//     ignored), or else from the first of the field's synonyms the sample has;
//   - without them, from the field's first synonym.
//
// A catalog field nothing matches is left out, as are keys a schema cannot hold and repeats;
// at most MaxFields fields are generated. The schema always passes Parse.
func Generate(catalog []CatalogField, sampleKeys []string) *Schema {
	samples := make(map[string]string, len(sampleKeys)) // normalised → as written
	for _, k := range sampleKeys {
		if n := normKey(k); validPath(k) && samples[n] == "" {
			samples[n] = k
		}
	}
	s := Empty()
	seen := make(map[string]bool, len(catalog))
	for _, c := range catalog {
		if len(s.Fields) == MaxFields {
			break
		}
		if seen[c.Key] || c.Key == "" || !utf8.ValidString(c.Key) || strings.ContainsRune(c.Key, 0) || utf8.RuneCountInString(c.Key) > 128 {
			continue
		}
		path := payloadKeyFor(c.Key, sampleKeys != nil, samples)
		if path == "" {
			continue
		}
		seen[c.Key] = true
		f := Field{Dest: c.Key, Source: Source{Type: SourcePath, Value: path}, OnError: OnErrorSkipField}
		if t := typeTransforms[normKey(c.Type)]; t != "" {
			f.Transforms = []Transform{{Type: t}}
		}
		if c.Required {
			f.Notes = "Required by the destination."
		}
		s.Fields = append(s.Fields, f)
	}
	return s
}

func payloadKeyFor(key string, sampled bool, samples map[string]string) string {
	n := normKey(key)
	if sampled {
		if k := samples[n]; k != "" {
			return k
		}
	}
	for _, syn := range synonyms {
		for _, c := range syn.catalog {
			if c != n {
				continue
			}
			if !sampled {
				return syn.payload[0]
			}
			for _, p := range syn.payload {
				if k := samples[normKey(p)]; k != "" {
					return k
				}
			}
			return ""
		}
	}
	return ""
}

// PayloadKeys lists the top-level keys of a payload, in order, each once: the sample keys
// Generate takes. An empty payload or null has none; a payload that is not a JSON object is
// ErrInvalidPayload.
func PayloadKeys(payload json.RawMessage) ([]string, error) {
	var t pathTrie // no paths: the scan only validates
	if err := t.scan(payload, nil); err != nil {
		return nil, err
	}
	s := scanner{data: payload}
	s.ws()
	if s.pos == len(s.data) || s.data[s.pos] != '{' {
		return nil, nil
	}
	var keys []string
	seen := map[string]bool{}
	s.pos++
	for {
		s.ws()
		if s.data[s.pos] == '}' {
			return keys, nil
		}
		start := s.pos
		s.str()
		if k := strings.Clone(decodeString(s.data[start:s.pos])); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
		s.ws()
		s.pos++ // :
		s.value(nil)
		s.ws()
		if s.data[s.pos] == ',' {
			s.pos++
		}
	}
}
