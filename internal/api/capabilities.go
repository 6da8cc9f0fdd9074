package api

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/mapping"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// The integration capabilities the API serves — live action data, the field catalog, the test
// call — are asked of a sender provisioned for the stored connection value, the same way the
// delivery engine provisions one: secrets opened, metadata normalised by the schema, the managed
// OAuth credential for OAuth integrations. The sender (and the provisioner built for it) is
// cleaned up after the request.

// withSender provisions a sender for stored connection conn and runs fn with it.
func (s *Server) withSender(ctx context.Context, conn *switchyard.Connection, fn func(destination.Sender) error) error {
	return s.withProvisioned(ctx, conn, func(sender destination.Sender, _ *switchyard.Connection) error { return fn(sender) })
}

// withProvisioned is withSender that also gives fn the connection as provisioned (metadata
// normalised, secrets opened).
func (s *Server) withProvisioned(ctx context.Context, conn *switchyard.Connection, fn func(destination.Sender, *switchyard.Connection) error) error {
	in, ok := s.Integrations.Get(conn.Type)
	if !ok {
		return &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "This server has no " + conn.Type + " integration."}
	}
	meta, err := secret.OpenFields(s.Box, conn.Metadata, in.SecretFields())
	if err != nil {
		return fmt.Errorf("opening connection secrets: %w", err)
	}
	norm, errs := in.ValidateMetadata(meta, s.DestinationOptions)
	if len(errs) > 0 {
		return &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: "The connection's metadata is no longer valid: update the connection.",
			Fields: errs}
	}
	c := *conn
	c.Metadata = norm
	p := destination.Provision{Connection: &c}
	if err := s.managedTokens(ctx, in, conn, &p); err != nil {
		return err
	}
	prov := in.New(s.DestinationOptions)
	if cl, ok := prov.(destination.Cleaner); ok {
		defer cl.Cleanup()
	}
	sender, err := prov.Provision(ctx, p)
	if err != nil {
		return err
	}
	if cl, ok := sender.(destination.Cleaner); ok {
		defer cl.Cleanup()
	}
	return fn(sender, &c)
}

// managedTokens gives p the connection's managed OAuth credential when the integration uses
// OAuth and the connection has no pasted credential instead.
func (s *Server) managedTokens(ctx context.Context, in *destination.Integration, conn *switchyard.Connection, p *destination.Provision) error {
	if s.OAuth == nil || in.AuthType != destination.AuthOAuth || in.OAuth == nil {
		return nil
	}
	if in.PastedCredential(p.Connection.Metadata) {
		return nil
	}
	tokens, account, err := s.OAuth.Tokens(ctx, conn)
	switch {
	case errors.Is(err, destination.ErrNoCredentials):
		return nil // the sender says the connection was never authorized
	case err != nil:
		return err
	}
	p.Tokens, p.Account = tokens, account
	return nil
}

// providerError turns a capability's failure into an API error: an integration's own
// *switchyard.Error as it is, anything else a 422 saying the provider could not be asked.
func providerError(what string, err error) error {
	var e *switchyard.Error
	if errors.As(err, &e) {
		return err
	}
	return &switchyard.Error{Code: switchyard.EUNPROCESSABLE, Message: fmt.Sprintf("Could not load the %s from the provider: %v", what, err)}
}

// catalogTTL is how long a connection's field catalog is kept before it is loaded again (or
// until refresh=true, or a change of the connection).
const catalogTTL = 15 * time.Minute

// catalogCache keeps field catalogs per connection value (id and updated_at), bounded.
type catalogCache struct {
	mu sync.Mutex
	m  map[uuid.UUID]cachedCatalog
}

type cachedCatalog struct {
	updatedAt   time.Time
	refreshedAt time.Time
	fields      []destination.CatalogField
}

// catalog returns conn's field catalog: cached unless refresh, loaded from the provider
// otherwise. ok is false for an integration without one.
func (s *Server) catalog(ctx context.Context, conn *switchyard.Connection, refresh bool) (fields []destination.CatalogField, refreshedAt time.Time, ok bool, err error) {
	now := s.Now().UTC()
	s.catalogs.mu.Lock()
	c, hit := s.catalogs.m[conn.ID]
	s.catalogs.mu.Unlock()
	if hit && !refresh && c.updatedAt.Equal(conn.UpdatedAt) && now.Sub(c.refreshedAt) < catalogTTL {
		return c.fields, c.refreshedAt, true, nil
	}
	err = s.withSender(ctx, conn, func(sender destination.Sender) error {
		src, has := sender.(destination.FieldCatalogSource)
		if !has {
			return nil
		}
		ok = true
		fields, err = src.FieldCatalog(ctx)
		return err
	})
	if err != nil || !ok {
		return nil, now, ok, err
	}
	s.catalogs.mu.Lock()
	if s.catalogs.m == nil || len(s.catalogs.m) >= 10000 {
		s.catalogs.m = map[uuid.UUID]cachedCatalog{}
	}
	s.catalogs.m[conn.ID] = cachedCatalog{updatedAt: conn.UpdatedAt, refreshedAt: now, fields: fields}
	s.catalogs.mu.Unlock()
	return fields, now, true, nil
}

// DefaultMapping returns what connection conn maps payloads with: its stored mapping, or — none
// saved yet — the one the engine would generate from the destination's field catalog (without a
// payload, from the synonyms; empty for integrations that take no mapping). The catalog is loaded
// when the mapping is generated, or when withCatalog asks for it (nil for integrations without
// one). The embed UI's mapping page shows the same.
func (s *Server) DefaultMapping(ctx context.Context, conn *switchyard.Connection, withCatalog bool) (*switchyard.Mapping, *mapping.Schema, []destination.CatalogField, error) {
	var cat []destination.CatalogField
	loadCatalog := func() error {
		if in, ok := s.Integrations.Get(conn.Type); ok && in.Mapped {
			fields, _, has, err := s.catalog(ctx, conn, false)
			if err != nil {
				return providerError("field catalog", err)
			}
			if has {
				cat = fields
			}
		}
		return nil
	}
	m, err := s.Store.MappingGet(ctx, store.MappingGetParams{OrganizationID: conn.OrganizationID, ConnectionID: conn.ID})
	switch {
	case err == nil:
		if withCatalog {
			if err := loadCatalog(); err != nil {
				return nil, nil, nil, err
			}
		}
		return m, nil, cat, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, nil, nil, err
	}
	if err := loadCatalog(); err != nil {
		return nil, nil, nil, err
	}
	generated := mapping.Empty()
	if cat != nil {
		generated = mapping.Generate(catalogFields(cat), nil)
	}
	return nil, generated, cat, nil
}
