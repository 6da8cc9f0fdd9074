package oauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Refreshing across nodes. A credential row's version moves on at every write, and its parity
// says whether a refresh is under way: odd is idle, even is claimed. A node that wants to refresh
// first claims the refresh with a compare-and-swap that rewrites the row unchanged (version v →
// v+1, updated_at now); only the winner calls the provider, with the one refresh token, and
// writes the new token (v+1 → v+2), or hands the claim back unchanged if the provider failed. A node that loses the claim waits for the new
// token to appear; if the winner died mid-refresh, the claim is taken over once it is
// claimStale old. So two nodes never spend one refresh token — which matters where providers
// rotate refresh tokens (Zoom) and a second use would look like a revoked grant.
const (
	claimStale = 30 * time.Second
	// waitForRefresh bounds how long a caller waits for another node's refresh.
	waitForRefresh = 15 * time.Second
	pollRefresh    = 100 * time.Millisecond
)

// Tokens returns the token source of a connection's managed credential and the account it belongs
// to (delivery.TokenProvider); destination.ErrNoCredentials when the connection has none. The
// credential is read from the store on every call (once per provisioned connection value), so a
// re-authorization is picked up.
func (s *Service) Tokens(ctx context.Context, conn *switchyard.Connection) (destination.Tokens, string, error) {
	in, ok := s.Integrations.Get(conn.Type)
	if !ok || in.OAuth == nil {
		return nil, "", ErrNotOAuth
	}
	c, err := s.Store.CredentialGet(ctx, store.CredentialGetParams{ConnectionID: conn.ID})
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", destination.ErrNoCredentials
	} else if err != nil {
		return nil, "", err
	}
	v, _ := s.tokens.LoadOrStore(conn.ID, &connTokens{svc: s, in: in, id: conn.ID})
	t := v.(*connTokens)
	if err := t.adopt(c); err != nil {
		return nil, "", err
	}
	return t, c.Account, nil
}

// connTokens is one connection's token source on this node.
type connTokens struct {
	svc *Service
	in  *destination.Integration
	id  [16]byte

	mu      sync.Mutex
	tok     *oauth2.Token
	extra   map[string]any
	version int64
}

// adopt takes the stored credential c if it is newer than what is held.
func (t *connTokens) adopt(c *switchyard.Credential) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && c.Version <= t.version {
		return nil
	}
	tok, extra, err := t.svc.open(c)
	if err != nil {
		return err
	}
	t.tok, t.extra, t.version = tok, extra, c.Version
	return nil
}

func (t *connTokens) current() (*oauth2.Token, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tok, t.version
}

// fresh reports whether tok may be used without refreshing first.
func (t *connTokens) fresh(tok *oauth2.Token) bool {
	return tok != nil && tok.AccessToken != "" && (tok.Expiry.IsZero() || tok.Expiry.Sub(t.svc.now()) > destination.RefreshAhead)
}

// Token returns the access token, refreshing it first when it expires within RefreshAhead.
func (t *connTokens) Token(ctx context.Context) (*oauth2.Token, error) {
	if tok, _ := t.current(); t.fresh(tok) {
		return tok, nil
	}
	return t.refresh(ctx, nil)
}

// Refresh returns a token newer than stale (which the provider refused), refreshing unless
// another caller already has.
func (t *connTokens) Refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	if tok, _ := t.current(); tok != nil && stale != nil && tok.AccessToken != stale.AccessToken {
		return tok, nil
	}
	return t.refresh(ctx, stale)
}

// refresh gets a new token, once per connection at a time on this node (single flight) and
// across nodes (the claim described above). stale, when set, is a token the provider refused:
// a token equal to it is not fresh whatever its expiry says.
func (t *connTokens) refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	usable := func(tok *oauth2.Token) bool {
		return t.fresh(tok) && (stale == nil || tok.AccessToken != stale.AccessToken)
	}
	v, err, _ := t.svc.flight.Do(fmt.Sprintf("%x", t.id), func() (any, error) {
		deadline := t.svc.now().Add(waitForRefresh)
		for {
			c, err := t.svc.Store.CredentialGet(ctx, store.CredentialGetParams{ConnectionID: t.id})
			if errors.Is(err, store.ErrNotFound) {
				return nil, destination.ErrNoCredentials
			} else if err != nil {
				return nil, err
			}
			if err := t.adopt(c); err != nil {
				return nil, err
			}
			tok, version := t.current()
			if usable(tok) {
				return tok, nil // another node refreshed meanwhile
			}
			if version != c.Version {
				c.Version = version // never older than the store: only the store writes versions
			}
			claimable := c.Version%2 == 1 || t.svc.now().Sub(c.UpdatedAt) > claimStale
			if claimable {
				if tok, err := t.claimAndRefresh(ctx, c, tok); !errors.Is(err, store.ErrConflict) {
					return tok, err
				}
			}
			if t.svc.now().After(deadline) {
				return nil, errors.New("another node's token refresh did not finish in time")
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(pollRefresh):
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return v.(*oauth2.Token), nil
}

// claimAndRefresh claims the refresh of credential c (version odd: idle) and, having won it,
// spends the refresh token and stores the new token. ErrConflict: another node claimed first.
func (t *connTokens) claimAndRefresh(ctx context.Context, c *switchyard.Credential, tok *oauth2.Token) (*oauth2.Token, error) {
	if c.Version%2 == 0 {
		// A claim left by a node that died mid-refresh: release it first, keeping the parity.
		released, err := t.svc.Store.CredentialUpdate(ctx, store.CredentialUpdateParams{ConnectionID: t.id,
			ExpectedVersion: c.Version, Sealed: c.Sealed, Now: t.svc.now().UTC()})
		if err != nil {
			return nil, err
		}
		c = released
	}
	claimed, err := t.svc.Store.CredentialUpdate(ctx, store.CredentialUpdateParams{ConnectionID: t.id, ExpectedVersion: c.Version,
		Sealed: c.Sealed, Now: t.svc.now().UTC()})
	if err != nil {
		return nil, err
	}
	if tok.RefreshToken == "" {
		return nil, fmt.Errorf("the access token expired and there is no refresh token: %w", destination.ErrGrantRevoked)
	}
	_, app, err := t.svc.integration(t.in.Type)
	if err != nil {
		return nil, err
	}
	src := app.Config(t.in.OAuth, t.svc.CallbackURL).TokenSource(t.svc.ctx(ctx), &oauth2.Token{RefreshToken: tok.RefreshToken})
	fresh, err := src.Token()
	if err != nil {
		if revoked(err, t.in.OAuth) {
			return nil, fmt.Errorf("%w: %w", destination.ErrGrantRevoked, err)
		}
		// Hand the claim back so that the next caller can try at once.
		_, _ = t.svc.Store.CredentialUpdate(ctx, store.CredentialUpdateParams{ConnectionID: t.id, ExpectedVersion: claimed.Version,
			Sealed: c.Sealed, Now: t.svc.now().UTC()})
		return nil, fmt.Errorf("refreshing the token: %w", err)
	}
	t.svc.stampExpiry(fresh)
	t.mu.Lock()
	extra := t.extra
	t.mu.Unlock()
	sealed, err := t.svc.seal(fresh, extra)
	if err != nil {
		return nil, err
	}
	stored, err := t.svc.Store.CredentialUpdate(ctx, store.CredentialUpdateParams{ConnectionID: t.id, ExpectedVersion: claimed.Version,
		Sealed: sealed, Now: t.svc.now().UTC()})
	if err != nil {
		return nil, fmt.Errorf("storing the refreshed token: %w", err)
	}
	if err := t.adopt(stored); err != nil {
		return nil, err
	}
	got, _ := t.current()
	return got, nil
}
