package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/mapping"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// The engine applies each connection's default mapping before its sender is called, so senders
// see destination fields only (docs/mappings.md). A provisioned connection value holds its
// mapping compiled: the stored one, or — before one is saved — one generated from the
// destination's field catalog for the keys each payload has. Saving a mapping moves the routing
// version (a trigger), so the next attempt provisions a new value with the new mapping.

// fieldMapper maps one connection value's payloads.
type fieldMapper struct {
	// stored is the saved mapping, compiled; nil when none is saved.
	stored *mapping.Compiled

	// Without a stored mapping: the generated one, per set of payload keys.
	mu          sync.Mutex
	catalog     []mapping.CatalogField
	catalogErr  error
	catalogAt   time.Time
	byKeys      map[string]*mapping.Compiled
	loadCatalog func(ctx context.Context) ([]destination.CatalogField, error)
}

// maxGenerated bounds the generated mappings kept per connection value (one per distinct set of
// top-level payload keys; events of one name usually share one).
const maxGenerated = 64

// catalogRetry is how long a failed catalog load is remembered before it is tried again.
const catalogRetry = time.Minute

// newFieldMapper loads a connection's stored mapping. Without one, the mapping is generated from
// the field catalog the sender provides (loaded on first use); a sender without a catalog maps
// nothing, and gets nil fields.
func newFieldMapper(ctx context.Context, st store.Store, c *switchyard.Connection, sender destination.Sender) (*fieldMapper, error) {
	m, err := st.MappingGet(ctx, store.MappingGetParams{OrganizationID: c.OrganizationID, ConnectionID: c.ID})
	switch {
	case errors.Is(err, store.ErrNotFound):
		fm := &fieldMapper{byKeys: map[string]*mapping.Compiled{}}
		if src, ok := sender.(destination.FieldCatalogSource); ok {
			fm.loadCatalog = src.FieldCatalog
		}
		return fm, nil
	case err != nil:
		return nil, fmt.Errorf("reading the connection's mapping: %w", err)
	}
	schema, errs := mapping.Parse(m.Schema, "")
	if len(errs) > 0 {
		return nil, fmt.Errorf("the stored mapping is invalid: %s %s", errs[0].Param, errs[0].Msg)
	}
	compiled, err := mapping.Compile(schema)
	if err != nil {
		return nil, fmt.Errorf("compiling the stored mapping: %w", err)
	}
	return &fieldMapper{stored: compiled}, nil
}

// apply maps payload. A *mapping.FieldError (a fail_action field that could not be mapped) is
// the attempt's mapping_error; fields is nil when there is nothing to map with (no stored
// mapping and no catalog to generate one from).
func (fm *fieldMapper) apply(ctx context.Context, payload json.RawMessage, now time.Time) (map[string]any, []mapping.Warning, error) {
	c := fm.stored
	if c == nil {
		var err error
		if c, err = fm.generated(ctx, payload, now); err != nil || c == nil {
			return nil, nil, err
		}
	}
	res, err := c.Apply(payload)
	if err != nil {
		return nil, nil, err
	}
	return res.Fields, res.Warnings, nil
}

// generated returns the default mapping for payload's top-level keys.
func (fm *fieldMapper) generated(ctx context.Context, payload json.RawMessage, now time.Time) (*mapping.Compiled, error) {
	keys, err := mapping.PayloadKeys(payload)
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	sig := strings.Join(keys, "\x00")
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if c, ok := fm.byKeys[sig]; ok {
		return c, nil
	}
	if fm.catalog == nil && fm.loadCatalog != nil && (fm.catalogErr == nil || now.Sub(fm.catalogAt) > catalogRetry) {
		// One load per connection value (or per minute while it fails); attempts of the
		// connection wait for it, as they would for its provisioning.
		cat, err := fm.loadCatalog(ctx)
		fm.catalogAt, fm.catalogErr = now, err
		if err == nil {
			fm.catalog = make([]mapping.CatalogField, 0, len(cat))
			for _, f := range cat {
				if f.Constraints != nil && f.Constraints.ReadOnly {
					continue // a default mapping writes nothing the destination will refuse
				}
				fm.catalog = append(fm.catalog, mapping.CatalogField{Key: f.Key, Type: f.Type,
					Required: f.Constraints != nil && f.Constraints.Required})
			}
		}
	}
	if fm.catalog == nil {
		return nil, nil
	}
	c, err := mapping.Compile(mapping.Generate(fm.catalog, keys))
	if err != nil {
		return nil, err
	}
	if len(fm.byKeys) >= maxGenerated {
		clear(fm.byKeys)
	}
	fm.byKeys[sig] = c
	return c, nil
}

// prepare builds what a sender needs beyond the event: the rule's params with their templates
// resolved, and for mapped integrations (fm not nil) the event's destination fields. A failure
// is the attempt's result (mapping_error, not retried); warnings are added to the attempt's
// message.
func prepare(ctx context.Context, fm *fieldMapper, rule *switchyard.Rule, ev *switchyard.Event, req *destination.Request, now time.Time) (*destination.Result, []mapping.Warning) {
	params, err := mapping.ResolveParams(rule.Metadata, ev.Payload)
	if err != nil {
		return &destination.Result{Outcome: switchyard.OutcomeMappingError, Message: "rule metadata: " + err.Error()}, nil
	}
	req.Params = params
	if fm == nil {
		return nil, nil
	}
	fields, warnings, err := fm.apply(ctx, ev.Payload, now)
	if err != nil {
		return &destination.Result{Outcome: switchyard.OutcomeMappingError, Message: err.Error()}, nil
	}
	req.Fields = fields
	return nil, warnings
}

// Prepared is a request as the engine would hand it to a sender, for one event outside the
// queue (a rule's test): Failed is set when the event cannot be mapped or the rule's templates
// not rendered (the attempt would end there, as mapping_error).
type Prepared struct {
	Request  *destination.Request
	Failed   *destination.Result
	Warnings []mapping.Warning
}

// PrepareRequest does for ev what the engine does before an attempt: resolve the rule's
// templates and, for a mapped integration, map the payload through the connection's stored
// mapping or the default generated from sender's catalog. conn is the connection as
// provisioned (metadata normalised, secrets opened).
func PrepareRequest(ctx context.Context, st store.Store, in *destination.Integration, sender destination.Sender,
	conn *switchyard.Connection, rule *switchyard.Rule, ev *switchyard.Event, now time.Time) (*Prepared, error) {
	var fm *fieldMapper
	if in.Mapped {
		var err error
		if fm, err = newFieldMapper(ctx, st, conn, sender); err != nil {
			return nil, err
		}
	}
	action, _ := rule.Metadata["action"].(string)
	req := &destination.Request{DeliveryID: ev.ID, Attempt: 1, Event: ev, Rule: rule, Connection: conn, SentAt: now, Action: action}
	failed, warnings := prepare(ctx, fm, rule, ev, req, now)
	return &Prepared{Request: req, Failed: failed, Warnings: warnings}, nil
}

// withWarnings adds the warn_action warnings of a mapping to an attempt's message.
func withWarnings(msg string, warnings []mapping.Warning) string {
	var parts []string
	for _, w := range warnings {
		if w.OnError == mapping.OnErrorWarnAction {
			parts = append(parts, w.String())
		}
	}
	if len(parts) == 0 {
		return msg
	}
	return msg + " (mapping warnings: " + strings.Join(parts, "; ") + ")"
}
