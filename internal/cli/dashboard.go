package cli

import (
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/dashboard"
)

// DashboardCmd prints a one-time login URL for the operator dashboard (/dashboard): an owner
// session of the organization, with no password. It works on the store directly, like keys.
type DashboardCmd struct {
	keysStore `embed:""`
	PublicURL string        `name:"public-url" env:"SWITCHYARD_PUBLIC_URL" default:"http://127.0.0.1:8080" help:"External base URL of the server the URL is for."`
	TTL       time.Duration `name:"ttl" default:"5m" help:"How long the login URL stays valid (it works once)."`
}

// Run stores the login token's hash and prints the URL that spends it.
func (c *DashboardCmd) Run(e *env) error {
	if c.TTL <= 0 || c.TTL > time.Hour {
		return fmt.Errorf("--ttl must be between 1s and 1h")
	}
	a, org, err := c.open(e.ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	link, expires, err := dashboard.IssueLogin(e.ctx, a.Store, org.ID, c.PublicURL, c.TTL, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, `
Operator dashboard login for organization %q (%s). The URL works once, until %s:

  %s

`, org.Name, org.ID, expires.Local().Format(time.RFC3339), link)
	return nil
}
