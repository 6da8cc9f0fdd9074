package delivery

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// provisioned is what one stored connection value becomes on this node: its sender (built once,
// by the integration's Provisioner, from the normalised metadata with the secrets opened), or the
// reason it could not be built. The store hands out one *Connection value per connection until
// the connection — or anything else that moves the routing version — changes, so the entry is
// kept for as long as the same value comes back.
type provisioned struct {
	src *switchyard.Connection
	// conn is src as provisioned: metadata normalised, secrets opened.
	conn   *switchyard.Connection
	sender destination.Sender
	// invalid is set when the stored metadata cannot be used: every attempt fails with it.
	invalid *switchyard.Error
	// fields maps payloads for integrations that take mapped fields (nil for the others).
	fields *fieldMapper
	// lastUsed (unix nanoseconds) lets the pruner drop entries of connections gone quiet.
	lastUsed atomic.Int64
	// inflight counts attempts using sender; a replaced entry is cleaned up when it drops to 0.
	inflight atomic.Int64
	replaced atomic.Bool
	cleaned  sync.Once
}

// senders caches provisioned connection values per connection id.
type senders struct {
	store        store.Store
	provisioners map[string]destination.Provisioner
	integrations *destination.Registry
	box          *secret.Box
	opts         destination.Options
	// tokens gives OAuth integrations the connection's managed credential (nil: none).
	tokens TokenProvider
	byConn sync.Map // uuid.UUID → *provisioned
	flight singleflight.Group
	// size counts byConn's entries; max bounds it (maxSenders unless a test sets it): past it,
	// acquire drops the idler half at once rather than waiting for the minutely prune.
	size    atomic.Int64
	max     int64
	halving atomic.Bool
}

// maxSenders bounds the provisioned connection values a node keeps. The minutely prune keeps
// those used in the last senderIdle; this bounds the burst of a day when more than this many
// connections are used within senderIdle.
const maxSenders = 10000

// forgetter is the optional part of a TokenProvider that drops a connection's token source from
// memory (oauth.Service), so that pruning a connection's sender prunes its tokens too.
type forgetter interface{ Forget(id uuid.UUID) }

// TokenProvider gives a connection's managed OAuth credential to its sender.
type TokenProvider interface {
	// Tokens returns the connection's token source and the provider account it belongs to;
	// destination.ErrNoCredentials when the connection has none.
	Tokens(ctx context.Context, conn *switchyard.Connection) (destination.Tokens, string, error)
}

func newSenders(st store.Store, reg *destination.Registry, box *secret.Box, opts destination.Options, tokens TokenProvider) *senders {
	s := &senders{store: st, provisioners: map[string]destination.Provisioner{}, integrations: reg, box: box, opts: opts, tokens: tokens,
		max: maxSenders}
	for _, in := range reg.List() {
		s.provisioners[in.Type] = in.New(opts)
	}
	return s
}

// errUnknownIntegration: the server has no integration of the connection's type.
var errUnknownIntegration = errors.New("unknown integration")

// acquire returns the provisioned value of c, provisioning it on first use, and counts an
// attempt on it: call release when the attempt is done. An error is Switchyard's side (a
// secret that cannot be opened, a credential store that does not answer): the attempt is
// retried later without being counted. Metadata the integration refuses is not an error: the
// entry's invalid says why, and attempts fail with it.
func (s *senders) acquire(ctx context.Context, c *switchyard.Connection, now time.Time) (*provisioned, error) {
	for {
		p, err := s.get(ctx, c)
		if err != nil {
			return nil, err
		}
		p.inflight.Add(1)
		if p.replaced.Load() {
			// Replaced between the lookup and the count: take the newer value instead.
			s.release(p)
			continue
		}
		p.lastUsed.Store(now.UnixNano())
		if s.size.Load() > s.max {
			s.halve()
		}
		return p, nil
	}
}

// halve drops the less recently used half of the entries not in use (one caller at a time).
func (s *senders) halve() {
	if !s.halving.CompareAndSwap(false, true) {
		return
	}
	defer s.halving.Store(false)
	var used []int64
	s.byConn.Range(func(_, v any) bool {
		used = append(used, v.(*provisioned).lastUsed.Load())
		return true
	})
	if len(used) == 0 {
		return
	}
	slices.Sort(used)
	s.prune(time.Unix(0, used[len(used)/2]))
}

// release ends an attempt's use of p, cleaning p up if it was replaced meanwhile.
func (s *senders) release(p *provisioned) {
	if p.inflight.Add(-1) == 0 && p.replaced.Load() {
		p.cleanup()
	}
}

func (p *provisioned) cleanup() {
	p.cleaned.Do(func() {
		if c, ok := p.sender.(destination.Cleaner); ok {
			c.Cleanup()
		}
	})
}

// get returns the entry for c's very value, provisioning it once (concurrent attempts of one
// connection wait for the same provisioning).
func (s *senders) get(ctx context.Context, c *switchyard.Connection) (*provisioned, error) {
	if v, ok := s.byConn.Load(c.ID); ok && v.(*provisioned).src == c {
		return v.(*provisioned), nil
	}
	v, err, _ := s.flight.Do(c.ID.String(), func() (any, error) {
		if v, ok := s.byConn.Load(c.ID); ok && v.(*provisioned).src == c {
			return v, nil
		}
		p, err := s.provision(ctx, c)
		if err != nil {
			return nil, err
		}
		if old, loaded := s.byConn.Swap(c.ID, p); loaded {
			s.retire(old.(*provisioned))
		} else {
			s.size.Add(1)
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	p := v.(*provisioned)
	if p.src != c {
		// Another attempt provisioned an older or newer value of the connection meanwhile.
		return s.get(ctx, c)
	}
	return p, nil
}

// retire marks a replaced or dropped entry, cleaning it up now if no attempt uses it.
func (s *senders) retire(p *provisioned) {
	p.replaced.Store(true)
	if p.inflight.Load() == 0 {
		p.cleanup()
	}
}

// provision builds the sender of connection value c: secrets opened, metadata normalised by the
// integration's schema (so senders only ever see what validation would store today), the
// managed credential for OAuth integrations, then the integration's Provision.
func (s *senders) provision(ctx context.Context, c *switchyard.Connection) (*provisioned, error) {
	in, ok := s.integrations.Get(c.Type)
	prov := s.provisioners[c.Type]
	if !ok || prov == nil {
		return nil, errUnknownIntegration
	}
	meta, err := secret.OpenFields(s.box, c.Metadata, in.SecretFields())
	if err != nil {
		return nil, err
	}
	p := &provisioned{src: c}
	norm, errs := in.ValidateMetadata(meta, s.opts)
	if len(errs) > 0 {
		p.invalid = &switchyard.Error{Code: switchyard.EINVALID, Message: "connection metadata is invalid: " + errs[0].Param + " " + errs[0].Msg,
			Fields: errs}
		return p, nil
	}
	conn := *c
	conn.Metadata = norm
	p.conn = &conn
	params := destination.Provision{Connection: &conn}
	if in.AuthType == destination.AuthOAuth && s.tokens != nil && !in.PastedCredential(norm) {
		tokens, account, err := s.tokens.Tokens(ctx, c)
		switch {
		case errors.Is(err, destination.ErrNoCredentials):
			// Provision without: the sender reports the missing authorization per attempt.
		case err != nil:
			return nil, err
		default:
			params.Tokens, params.Account = tokens, account
		}
	}
	sender, err := prov.Provision(ctx, params)
	var invalid *switchyard.Error
	switch {
	case errors.As(err, &invalid):
		p.invalid = invalid
	case err != nil:
		return nil, err
	}
	p.sender = sender
	if in.Mapped {
		if p.fields, err = newFieldMapper(ctx, s.store, c, sender); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// prune drops the entries of connections not used since before idle, cleaning them up, so that
// a node that has served a million connections in a day does not keep them all.
func (s *senders) prune(idle time.Time) int {
	n := 0
	s.byConn.Range(func(k, v any) bool {
		p := v.(*provisioned)
		if time.Unix(0, p.lastUsed.Load()).Before(idle) && p.inflight.Load() == 0 {
			if s.byConn.CompareAndDelete(k, v) {
				s.size.Add(-1)
				s.retire(p)
				s.forgetTokens(k.(uuid.UUID))
				n++
			}
		}
		return true
	})
	return n
}

// forget drops connection id's entry (a connection deleted or changed on this node).
func (s *senders) forget(id uuid.UUID) {
	if v, loaded := s.byConn.LoadAndDelete(id); loaded {
		s.size.Add(-1)
		s.retire(v.(*provisioned))
	}
	s.forgetTokens(id)
}

// forgetTokens drops connection id's token source from the token provider's memory, if it
// keeps one. A token source dropped while a sender still holds it is harmless: the next
// provisioning makes another, and refreshes stay single across both (and across nodes) through
// the credential row's claim (internal/oauth).
func (s *senders) forgetTokens(id uuid.UUID) {
	if f, ok := s.tokens.(forgetter); ok {
		f.Forget(id)
	}
}

// close cleans up every entry and the provisioners.
func (s *senders) close() {
	s.byConn.Range(func(k, v any) bool {
		s.byConn.Delete(k)
		s.size.Add(-1)
		s.retire(v.(*provisioned))
		return true
	})
	for _, p := range s.provisioners {
		if c, ok := p.(destination.Cleaner); ok {
			c.Cleanup()
		}
	}
}
