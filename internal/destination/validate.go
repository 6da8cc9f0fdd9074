package destination

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// ParamPrefix prefixes a metadata key in a field error's Param.
const ParamPrefix = "metadata."

// ValidateMetadata checks meta against the integration's schema and returns a normalised copy:
// blank values are treated as absent, defaults are filled, strings are trimmed, select values
// take their declared form, numbers become float64 and booleans bool, fields whose DependsOn
// does not hold are removed, and unknown keys are kept (the Meshes API allows extra metadata
// keys). Then Check runs on the copy. Field errors name "metadata.<key>"; there is at most one
// per key. meta itself is never modified.
func (i *Integration) ValidateMetadata(meta map[string]any, opts Options) (map[string]any, []switchyard.FieldError) {
	out := cloneMap(meta)
	var errs []switchyard.FieldError
	failed := make(map[string]bool)
	fail := func(key, msg string) {
		param := ParamPrefix + key
		if !failed[param] {
			failed[param] = true
			errs = append(errs, switchyard.FieldError{Param: param, Msg: msg})
		}
	}

	for n := range i.Fields {
		f := &i.Fields[n]
		if f.DependsOn != nil && !dependsHolds(out, f.DependsOn) {
			delete(out, f.Key)
			continue
		}
		v, ok := out[f.Key]
		if !ok || blank(v) {
			switch {
			case f.Default != nil:
				out[f.Key] = cloneValue(f.Default)
			case f.Required:
				delete(out, f.Key)
				fail(f.Key, "is required")
			default:
				delete(out, f.Key)
			}
			continue
		}
		nv, msg := f.normalise(v)
		if msg != "" {
			delete(out, f.Key)
			fail(f.Key, msg)
			continue
		}
		out[f.Key] = nv
	}

	for _, e := range NormaliseNumbers(out) {
		if !failed[e.Param] {
			failed[e.Param] = true
			errs = append(errs, e)
		}
	}
	if i.Check != nil {
		for _, e := range i.Check(out, opts) {
			if !failed[e.Param] {
				failed[e.Param] = true
				errs = append(errs, e)
			}
		}
	}
	return out, errs
}

// dependsHolds reports whether the field d names has one of d's values in meta (compared
// case-insensitively; non-string values by their JSON text).
func dependsHolds(meta map[string]any, d *DependsOn) bool {
	v, ok := meta[d.Field]
	if !ok || v == nil {
		return false
	}
	s, isString := v.(string)
	if !isString {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		s = string(b)
	}
	for _, want := range d.Value {
		if strings.EqualFold(s, want) {
			return true
		}
	}
	return false
}

// blank reports whether v counts as "not given": null, or a string of only white space.
func blank(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(v) == ""
	}
	return false
}

// normalise converts v to the field's canonical form, or says why it cannot.
func (f *Field) normalise(v any) (any, string) {
	switch f.Type {
	case FieldText, FieldPassword:
		s, ok := v.(string)
		if !ok {
			return nil, "must be a string"
		}
		s = strings.TrimSpace(s)
		if f.Validate == ValidateURL && !isHTTPURL(s) {
			return nil, "must be an absolute http or https URL"
		}
		return s, ""
	case FieldTextarea:
		s, ok := v.(string)
		if !ok {
			return nil, "must be a string"
		}
		return s, ""
	case FieldSelect:
		s, ok := v.(string)
		if !ok {
			return nil, "must be a string"
		}
		s = strings.TrimSpace(s)
		for _, o := range f.Options {
			if strings.EqualFold(s, o.Value) {
				return o.Value, ""
			}
		}
		return nil, "must be one of: " + f.optionList()
	case FieldNumber:
		n, ok := toFloat(v)
		if !ok {
			return nil, "must be a number"
		}
		return n, ""
	case FieldBoolean:
		switch v := v.(type) {
		case bool:
			return v, ""
		case string:
			if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
				return b, ""
			}
		}
		return nil, "must be true or false"
	case FieldObject:
		switch v := v.(type) {
		case map[string]any, map[string]string:
			return cloneValue(v), ""
		}
		return nil, "must be an object"
	}
	return nil, fmt.Sprintf("has an unknown field type %q", f.Type)
}

func (f *Field) optionList() string {
	vals := make([]string, len(f.Options))
	for n, o := range f.Options {
		vals[n] = o.Value
	}
	return strings.Join(vals, ", ")
}

// toFloat accepts the numeric forms metadata arrives in: encoding/json's float64 and
// json.Number, Go integers from callers, and numeric strings from forms.
func toFloat(v any) (float64, bool) {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case float32:
		f = float64(v)
	case int:
		f = float64(v)
	case int32:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint:
		f = float64(v)
	case uint32:
		f = float64(v)
	case uint64:
		f = float64(v)
	case json.Number:
		x, err := v.Float64()
		if err != nil {
			return 0, false
		}
		f = x
	case string:
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, false
		}
		f = x
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// isHTTPURL reports whether s is an absolute http or https URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return (scheme == "http" || scheme == "https") && u.Host != "" && u.Hostname() != ""
}

// NormaliseNumbers turns every number in meta, however deep in its objects and arrays, into the
// float64 it is read back as (metadata is stored as JSON and decoded with encoding/json), and
// refuses, naming its top-level key, a number no float64 holds (beyond ±1.8e308): stored, it
// could not be read back, and every read of the connection or rule — lists, the claims of its
// deliveries — would fail. meta is changed in place.
func NormaliseNumbers(meta map[string]any) []switchyard.FieldError {
	var errs []switchyard.FieldError
	for k, v := range meta {
		nv, ok := FloatNumbers(v)
		meta[k] = nv
		if !ok {
			errs = append(errs, switchyard.FieldError{Param: ParamPrefix + k,
				Msg: "holds a number beyond what can be stored (±1.8e308)"})
		}
	}
	slices.SortFunc(errs, func(a, b switchyard.FieldError) int { return strings.Compare(a.Param, b.Param) })
	return errs
}

// FloatNumbers replaces each json.Number in v, however deep in its objects and arrays (changed
// in place), by its float64, and returns the result; ok is false when some number is beyond a
// float64's range, and those are left as they are.
func FloatNumbers(v any) (_ any, ok bool) {
	ok = true
	switch v := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return v, false
		}
		return f, true
	case map[string]any:
		for k, e := range v {
			ne, eok := FloatNumbers(e)
			v[k], ok = ne, ok && eok
		}
	case []any:
		for n, e := range v {
			ne, eok := FloatNumbers(e)
			v[n], ok = ne, ok && eok
		}
	}
	return v, ok
}
