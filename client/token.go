package client

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
)

// MachineKey is a machine key's credentials: its access key, its secret, and the organization
// it belongs to (the "org" claim of the tokens minted from it).
type MachineKey struct {
	AccessKey, SecretKey string
	OrgID                uuid.UUID
}

// tokenTTL is the lifetime of minted tokens, what every Meshes client uses; renewBefore is how
// long before expiry a token is replaced, so a request in flight (and a server clock a little
// ahead, within the server's 5-second leeway) still sees it valid.
const (
	tokenTTL    = auth.DefaultTokenTTL
	renewBefore = 10 * time.Second
)

// WithMachineKey authenticates with a machine key: the client mints an HS256 JWT from it exactly
// as the server expects (iss urn:meshes:m2m:<access key>, aud meshes-api, org, a 30-second
// lifetime) and mints a new one when the current one has less than 10 seconds left. The secret
// never leaves the process. It replaces WithBearerToken if both are given; the last one wins.
func WithMachineKey(k MachineKey) Option {
	return func(c *Client) {
		switch {
		case k.AccessKey == "":
			c.setErr(errors.New("client: WithMachineKey: access key is empty"))
			return
		case k.SecretKey == "":
			c.setErr(errors.New("client: WithMachineKey: secret key is empty"))
			return
		case k.OrgID == uuid.Nil:
			c.setErr(errors.New("client: WithMachineKey: organization ID is the nil UUID"))
			return
		}
		c.machine, c.bearer = &tokenSource{key: k, now: time.Now}, ""
	}
}

// tokenSource mints machine JWTs and reuses each until it is near expiry.
type tokenSource struct {
	key MachineKey
	now func() time.Time

	mu      sync.Mutex
	current string
	expires time.Time
}

// token returns a token valid for at least renewBefore more.
func (s *tokenSource) token() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.current != "" && now.Add(renewBefore).Before(s.expires) {
		return s.current, nil
	}
	tok, err := auth.Mint(s.key.AccessKey, s.key.SecretKey, s.key.OrgID, now, tokenTTL)
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	// Mint truncates iat to whole seconds; the expiry follows it.
	s.current, s.expires = tok, time.Unix(now.Unix(), 0).Add(tokenTTL)
	return tok, nil
}
