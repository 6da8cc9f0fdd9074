package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/client"
	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/mcp"
)

// McpCmd serves the MCP server over stdio (docs/mcp.md): for desktop agents, which start it as
// a subprocess. It talks to a Switchyard server (--url and a machine key; Meshes' MCP variables
// work too, so agent configurations written for Meshes only need their URL changed) or, with
// --database-url, to a store directly through an in-process API. Standard output is the
// protocol: everything else goes to standard error.
type McpCmd struct {
	URL       string `name:"url" env:"SWITCHYARD_URL,SWITCHYARD_SERVER,MESHES_API_URL" help:"Server URL, e.g. http://127.0.0.1:8080 (a trailing /api/v1 is accepted)."`
	AccessKey string `name:"access-key" env:"SWITCHYARD_ACCESS_KEY,MESHES_ACCESS_KEY" help:"Machine access key (mk_…). With --database-url: which key of the store to act as (default: the newest active key without limits)."`
	SecretKey string `name:"secret-key" env:"SWITCHYARD_SECRET_KEY,MESHES_SECRET_KEY" help:"Machine secret key (with --url)."`
	OrgID     string `name:"org" env:"SWITCHYARD_ORG_ID,MESHES_ORG_ID,MESHES_ORGANIZATION_ID" help:"Organization id (with --url: required; with --database-url: default the store's first organization)."`

	DatabaseURL   string `name:"database-url" help:"Work on this store directly instead of a server: sqlite://PATH or postgres://… (no delivery runs in this process)."`
	EncryptionKey string `name:"encryption-key" env:"SWITCHYARD_ENCRYPTION_KEY" help:"With --database-url: the store's encryption key."`
	KeyFile       string `name:"encryption-key-file" env:"SWITCHYARD_ENCRYPTION_KEY_FILE" help:"With --database-url: file holding the encryption key."`
	AllowPrivate  bool   `name:"allow-private-destinations" env:"SWITCHYARD_ALLOW_PRIVATE_DESTINATIONS" help:"With --database-url: allow http:// and private destination addresses, as the server does with the same flag (development only)."`
	LogLevel      string `name:"log-level" env:"SWITCHYARD_LOG_LEVEL" default:"warn" enum:"debug,info,warn,error" help:"Level of the logs written to standard error."`
}

// Help is the detailed help of mcp.
func (c *McpCmd) Help() string {
	return `Standard output is the MCP protocol; logs go to standard error. Without --url or
--database-url, the server and machine key saved by 'switchyard login' are used.

Examples:
  switchyard mcp --url http://127.0.0.1:8080 --access-key mk_… --org 0190…   # secret in $SWITCHYARD_SECRET_KEY
  MESHES_API_URL=http://127.0.0.1:8080 MESHES_ACCESS_KEY=mk_… MESHES_SECRET_KEY=… MESHES_ORG_ID=… switchyard mcp
  switchyard mcp --database-url sqlite://./switchyard.db
  switchyard mcp --database-url sqlite://./switchyard.db --access-key mk_readonly…   # act as that key`
}

// apiSuffix matches the /api/vN suffix Meshes' MCP server accepts at the end of its URL.
var apiSuffix = regexp.MustCompile(`/api/v[0-9]+/?$`)

// Run serves MCP on stdin and stdout until stdin closes or the process is signaled.
func (c *McpCmd) Run(e *env) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	var api *client.Client
	switch {
	case c.DatabaseURL != "" && c.URL != "":
		return errors.New("give either --url (a server) or --database-url (a store), not both")
	case c.DatabaseURL != "":
		cfg := config.Default()
		cfg.DatabaseURL, cfg.EncryptionKey, cfg.EncryptionKeyFile = c.DatabaseURL, c.EncryptionKey, c.KeyFile
		cfg.AllowPrivateDestinations = c.AllowPrivate
		a, err := app.New(e.ctx, cfg, log)
		if err != nil {
			return err
		}
		defer a.Close()
		orgID := uuid.Nil
		if c.OrgID != "" {
			if orgID, err = uuid.Parse(c.OrgID); err != nil {
				return errors.New("--org must be a UUID")
			}
		}
		org, err := a.Organization(e.ctx, orgID)
		if err != nil {
			return err
		}
		cl, key, release, err := a.InProcessClient(e.ctx, org.ID, c.AccessKey)
		if err != nil {
			return err
		}
		defer release()
		log.Info("serving MCP on stdio over the store", slog.String("store", a.Store.Dialect()),
			slog.String("organization", org.ID.String()), slog.String("access_key", key.AccessKey))
		api = cl
	case c.URL != "":
		cl, err := c.remoteClient()
		if err != nil {
			return err
		}
		log.Info("serving MCP on stdio", slog.String("server", c.URL))
		api = cl
	default:
		// The server and key 'switchyard login' saved, under the flags and variables given.
		st, err := (&apiFlags{AccessKey: c.AccessKey, SecretKey: c.SecretKey, Org: c.OrgID}).resolve(e)
		if err != nil {
			return err
		}
		if st.Server == "" {
			return errors.New("set --url (or SWITCHYARD_URL / MESHES_API_URL) with a machine key, run 'switchyard login' first, " +
				"or give --database-url to work on a store")
		}
		c.URL, c.AccessKey, c.SecretKey, c.OrgID = st.Server, st.AccessKey, st.SecretKey, st.OrgID
		cl, err := c.remoteClient()
		if err != nil {
			return err
		}
		log.Info("serving MCP on stdio", slog.String("server", c.URL), slog.String("profile", st.profileName))
		api = cl
	}
	srv := mcp.NewServer(mcp.Config{Version: app.Version, Logger: log, Client: mcp.StaticClient(api)})
	return mcp.ServeStdio(e.ctx, srv, os.Stdin, e.stdout)
}

// remoteClient is a client of the server at --url with the machine key.
func (c *McpCmd) remoteClient() (*client.Client, error) {
	var missing []string
	for name, v := range map[string]string{"--access-key": c.AccessKey, "--secret-key": c.SecretKey, "--org": c.OrgID} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		return nil, fmt.Errorf("with --url, set %s (or their SWITCHYARD_* / MESHES_* variables)", strings.Join(missing, ", "))
	}
	org, err := uuid.Parse(c.OrgID)
	if err != nil {
		return nil, errors.New("--org must be a UUID")
	}
	base := apiSuffix.ReplaceAllString(strings.TrimRight(strings.TrimSpace(c.URL), "/"), "")
	return client.New(base, client.WithMachineKey(client.MachineKey{AccessKey: c.AccessKey, SecretKey: c.SecretKey, OrgID: org}),
		client.WithUserAgent("switchyard-mcp/"+app.Version))
}
