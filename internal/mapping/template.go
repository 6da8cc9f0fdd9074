package mapping

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// MaxRenderBytes bounds what one template may render to.
const MaxRenderBytes = 64 << 10

// TemplateError says why a template cannot be rendered.
type TemplateError struct {
	// Param is where ResolveParams found the template ("message", "blocks[0].text"); empty
	// for Render.
	Param string
	// Offset is the byte offset in the template of the placeholder at fault, or -1 when the
	// error is about the whole output.
	Offset int
	Reason string
}

func (e *TemplateError) Error() string {
	var b strings.Builder
	b.WriteString("mapping: template")
	if e.Param != "" {
		b.WriteString(" in ")
		b.WriteString(e.Param)
	}
	if e.Offset >= 0 {
		b.WriteString(" at offset ")
		b.WriteString(strconv.Itoa(e.Offset))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// template is a parsed template: literal text and placeholders, in order.
type template struct {
	parts []part
}

type part struct {
	text string // literal text, when slot < 0
	slot int
}

// parseTemplate splits a template into its parts, registering each placeholder's path in t.
// A placeholder is {{ path }}: a payload path, white space around it allowed.
func parseTemplate(s string, t *pathTrie) (*template, error) {
	tp := &template{parts: make([]part, 0, 2*strings.Count(s, "{{")+1)}
	off := 0
	for {
		i := strings.Index(s[off:], "{{")
		if i < 0 {
			break
		}
		open := off + i
		j := strings.Index(s[open+2:], "}}")
		if j < 0 {
			return nil, &TemplateError{Offset: open, Reason: "{{ is not closed by }}"}
		}
		path := strings.TrimSpace(s[open+2 : open+2+j])
		if !validPath(path) {
			reason := "{{ }} must hold a payload path such as email or user.email"
			if path != "" && len(path) <= 64 {
				reason = fmt.Sprintf("%q is not a payload path such as email or user.email", path)
			}
			return nil, &TemplateError{Offset: open, Reason: reason}
		}
		if open > off {
			tp.parts = append(tp.parts, part{text: s[off:open], slot: -1})
		}
		tp.parts = append(tp.parts, part{slot: t.add(path)})
		off = open + 2 + j + 2
	}
	if off < len(s) {
		tp.parts = append(tp.parts, part{text: s[off:], slot: -1})
	}
	return tp, nil
}

// render writes the template with each placeholder replaced by its value's text.
func (tp *template) render(payload []byte, spans []span) (string, error) {
	n := 0
	for _, p := range tp.parts {
		n += len(p.text)
	}
	var b strings.Builder
	b.Grow(n + 16*len(tp.parts))
	for _, p := range tp.parts {
		text := p.text
		if p.slot >= 0 {
			text = valueAt(payload, spans[p.slot]).text()
		}
		if b.Len()+len(text) > MaxRenderBytes {
			return "", &TemplateError{Offset: -1, Reason: fmt.Sprintf("renders to more than %d bytes", MaxRenderBytes)}
		}
		b.WriteString(text)
	}
	return b.String(), nil
}

// Render interpolates {{ path }} placeholders from payload (the raw JSON object of an event).
// A path is read from the payload root in dot notation, as in a mapping (user.name, items.0);
// white space inside the braces is allowed. A missing value or null renders as "", a string as
// its text, a number as written, a boolean as true or false, an object or array as compact
// JSON. Nothing else is interpreted: no expressions, filters or escapes, so a template cannot
// run anything. Errors: a {{ without }}, a placeholder that is not a path (both
// *TemplateError), an output longer than MaxRenderBytes (*TemplateError), a payload that is
// not a JSON object (ErrInvalidPayload). A template without {{ is returned as it is, whatever
// its length, and the payload is then not read.
func Render(tmpl string, payload json.RawMessage) (string, error) {
	if !strings.Contains(tmpl, "{{") {
		return tmpl, nil
	}
	var paths pathTrie
	tp, err := parseTemplate(tmpl, &paths)
	if err != nil {
		return "", err
	}
	spans := make([]span, paths.slots)
	if err := paths.scan(payload, spans); err != nil {
		return "", err
	}
	return tp.render(payload, spans)
}

// ResolveParams returns a copy of a rule's metadata with every string value — in nested objects
// and arrays too — rendered as by Render, for the engine to pass to an integration. Keys are
// not rendered. Objects (map[string]any) and arrays ([]any) are copied; strings without {{
// and other values (numbers, booleans, null, values of other types) are kept as they are.
// The payload is read once however many templates there are, and not at all when there are
// none. The first error names the
// param it is in (TemplateError.Param: "message", "blocks[0].text").
func ResolveParams(params map[string]any, payload json.RawMessage) (map[string]any, error) {
	if params == nil {
		return nil, nil
	}
	var r resolver
	if err := r.collect(params); err != nil {
		return nil, err
	}
	if r.paths.slots > 0 { // the payload is read only when a template needs it
		r.spans = make([]span, r.paths.slots)
		if err := r.paths.scan(payload, r.spans); err != nil {
			return nil, err
		}
	}
	r.payload = payload
	out, err := r.copy(params)
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

type resolver struct {
	paths     pathTrie
	templates map[string]*template
	spans     []span
	payload   []byte
}

// within prefixes the location of a template error found inside the value at key (a map key,
// or "[i]" for an array element). Locations are built only on the way out of an error, so that
// a successful copy allocates no strings for them.
func within(err error, key string) error {
	te := err.(*TemplateError)
	switch {
	case te.Param == "":
		te.Param = key
	case te.Param[0] == '[':
		te.Param = key + te.Param
	default:
		te.Param = key + "." + te.Param
	}
	return te
}

// collect parses every template in v, so that the payload is read once for all of them.
func (r *resolver) collect(v any) error {
	switch v := v.(type) {
	case string:
		if _, done := r.templates[v]; done || !strings.Contains(v, "{{") {
			return nil
		}
		tp, err := parseTemplate(v, &r.paths)
		if err != nil {
			return err
		}
		if r.templates == nil {
			r.templates = make(map[string]*template)
		}
		r.templates[v] = tp
	case map[string]any:
		for k, e := range v {
			if err := r.collect(e); err != nil {
				return within(err, k)
			}
		}
	case []any:
		for i, e := range v {
			if err := r.collect(e); err != nil {
				return within(err, "["+strconv.Itoa(i)+"]")
			}
		}
	}
	return nil
}

func (r *resolver) copy(v any) (any, error) {
	switch x := v.(type) {
	case string:
		tp := r.templates[x]
		if tp == nil {
			return v, nil // the same interface value: no allocation
		}
		s, err := tp.render(r.payload, r.spans)
		if err != nil {
			return nil, err
		}
		return s, nil
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			c, err := r.copy(e)
			if err != nil {
				return nil, within(err, k)
			}
			m[k] = c
		}
		return m, nil
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			c, err := r.copy(e)
			if err != nil {
				return nil, within(err, "["+strconv.Itoa(i)+"]")
			}
			a[i] = c
		}
		return a, nil
	}
	return v, nil
}
