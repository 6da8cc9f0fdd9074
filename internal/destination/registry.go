package destination

import (
	"fmt"
	"github.com/switchyardhq/switchyard/internal/switchyard"
	"slices"
	"strings"
)

// Registry holds the integrations a server offers, by type. It is built once at startup and
// read-only afterwards, so it is safe for concurrent use.
type Registry struct {
	byType map[string]*Integration
	sorted []*Integration
}

// NewRegistry returns a registry of the given integrations. It panics if one is malformed or
// two share a type: integrations are declared in code, so that is a programming error best
// caught by the first test that builds the registry.
func NewRegistry(integrations ...*Integration) *Registry {
	r := &Registry{byType: make(map[string]*Integration, len(integrations))}
	for _, in := range integrations {
		if err := in.check(); err != nil {
			panic(fmt.Sprintf("destination: integration %q: %v", in.Type, err))
		}
		in = withDeliveryFields(in)
		if _, dup := r.byType[in.Type]; dup {
			panic(fmt.Sprintf("destination: integration %q registered twice", in.Type))
		}
		r.byType[in.Type] = in
		r.sorted = append(r.sorted, in)
	}
	slices.SortFunc(r.sorted, func(a, b *Integration) int { return strings.Compare(a.Type, b.Type) })
	return r
}

// Get returns the integration of type typ.
func (r *Registry) Get(typ string) (*Integration, bool) {
	in, ok := r.byType[typ]
	return in, ok
}

// List returns every integration, sorted by Type. The slice is the caller's to keep.
func (r *Registry) List() []*Integration {
	return slices.Clone(r.sorted)
}

// check reports the first way in which the declaration is malformed.
func (i *Integration) check() error {
	if i.Type == "" || i.Name == "" {
		return fmt.Errorf("type and name are required")
	}
	switch i.AuthType {
	case AuthNone, AuthAPIKey, AuthBasic:
	case AuthOAuth:
		if i.OAuthVersion != 1 && i.OAuthVersion != 2 {
			return fmt.Errorf("oauth version must be 1 or 2, not %d", i.OAuthVersion)
		}
		if i.OAuth == nil || i.OAuth.AuthURL == "" || i.OAuth.TokenURL == "" {
			return fmt.Errorf("an OAuth integration declares its provider's authorize and token URLs")
		}
	default:
		return fmt.Errorf("unknown auth type %q", i.AuthType)
	}
	if i.New == nil {
		return fmt.Errorf("New is required")
	}
	seen := make(map[string]bool)
	for _, f := range i.Fields {
		if f.Key == "" {
			return fmt.Errorf("a field has no key")
		}
		if seen[f.Key] {
			return fmt.Errorf("field %q declared twice", f.Key)
		}
		switch f.Type {
		case FieldText, FieldPassword, FieldTextarea, FieldNumber, FieldBoolean, FieldObject:
		case FieldSelect:
			if len(f.Options) == 0 {
				return fmt.Errorf("select field %q has no options", f.Key)
			}
		default:
			return fmt.Errorf("field %q has unknown type %q", f.Key, f.Type)
		}
		if f.Validate != "" && f.Validate != ValidateURL {
			return fmt.Errorf("field %q has unknown validation %q", f.Key, f.Validate)
		}
		if f.Default != nil {
			if _, msg := f.normalise(f.Default); msg != "" {
				return fmt.Errorf("field %q: default %v %s", f.Key, f.Default, msg)
			}
		}
		if f.DependsOn != nil && !seen[f.DependsOn.Field] {
			return fmt.Errorf("field %q depends on %q, which is not declared before it", f.Key, f.DependsOn.Field)
		}
		seen[f.Key] = true
	}
	actions := make(map[string]bool)
	for _, a := range i.Actions {
		if a.Key == "" || actions[a.Key] {
			return fmt.Errorf("action key %q is empty or declared twice", a.Key)
		}
		actions[a.Key] = true
	}
	return nil
}

// withDeliveryFields returns a copy of in whose schema also declares the delivery settings
// every connection accepts, and whose Check also checks them.
func withDeliveryFields(in *Integration) *Integration {
	out := *in
	out.Fields = slices.Clone(in.Fields)
	for _, f := range deliveryFields {
		if in.field(f.Key) == nil {
			out.Fields = append(out.Fields, f)
		}
	}
	check := in.Check
	out.Check = func(meta map[string]any, opts Options) []switchyard.FieldError {
		errs := checkDeliveryFields(meta)
		if check != nil {
			errs = append(errs, check(meta, opts)...)
		}
		return errs
	}
	return &out
}
