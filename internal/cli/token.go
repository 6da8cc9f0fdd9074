package cli

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/auth"
)

// TokenCmd mints a machine JWT exactly as Meshes' clients do.
type TokenCmd struct {
	AccessKey string        `name:"access-key" env:"SWITCHYARD_ACCESS_KEY,MESHES_ACCESS_KEY" required:"" help:"Machine access key (mk_…)."`
	SecretKey string        `name:"secret-key" env:"SWITCHYARD_SECRET_KEY,MESHES_SECRET_KEY" required:"" help:"Machine secret key."`
	OrgID     string        `name:"org" env:"SWITCHYARD_ORG_ID,MESHES_ORG_ID" required:"" help:"Organization id."`
	TTL       time.Duration `name:"ttl" default:"60s" help:"Token lifetime (at most 60s)."`
}

// Run prints the token.
func (c *TokenCmd) Run(e *env) error {
	org, err := uuid.Parse(c.OrgID)
	if err != nil {
		return fmt.Errorf("--org must be a UUID")
	}
	if c.TTL <= 0 || c.TTL > time.Minute {
		return fmt.Errorf("--ttl must be between 1s and 60s")
	}
	tok, err := auth.Mint(c.AccessKey, c.SecretKey, org, time.Now(), c.TTL)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, tok)
	return nil
}
