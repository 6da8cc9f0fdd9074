// Package cli is the switchyard command line: the server's commands (serve, init, keys, migrate,
// token, receive, version, …) and a client of a running server's API (login, events,
// workspaces, connections, rules; docs/cli.md). Each subcommand is a struct with a Run method;
// flags and their environment twins come from struct tags (kong).
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
)

// CLI is the command tree.
type CLI struct {
	Serve       ServeCmd       `cmd:"" help:"Run the API and the delivery workers (--role api or worker: one of them)."`
	Init        InitCmd        `cmd:"" help:"Create the first organization, machine key and workspace, without serving."`
	Migrate     MigrateCmd     `cmd:"" help:"Apply pending database migrations and exit."`
	Keys        KeysCmd        `cmd:"" help:"Create, list and revoke machine keys in the store."`
	Dashboard   DashboardCmd   `cmd:"" help:"Print a one-time login URL for the operator dashboard (/dashboard)."`
	Token       TokenCmd       `cmd:"" help:"Mint a short-lived machine JWT (for curl and scripts)."`
	Mcp         McpCmd         `cmd:"" help:"Serve the MCP server on stdio for AI agents (docs/mcp.md)."`
	Receive     ReceiveCmd     `cmd:"" help:"Run a local webhook receiver that prints what it gets (development)."`
	Version     VersionCmd     `cmd:"" help:"Print the version, commit and build date."`
	Healthcheck HealthcheckCmd `cmd:"" help:"Exit 0 when a server answers its readiness check (for container health checks)."`
	Bench       BenchCmd       `cmd:"" help:"Measure throughput and latency on this machine (in-process server, local endpoint; docs/benchmarks.md)."`
	Login       LoginCmd       `cmd:"" help:"Save a server URL and machine key as a profile for the commands below (login --list shows them)." group:"API client (through a running server; see login)"`
	Logout      LogoutCmd      `cmd:"" help:"Remove a saved profile." group:"API client (through a running server; see login)"`
	Events      EventsCmd      `cmd:"" help:"Send, list, inspect, follow, retry and cancel events (through the API)." group:"API client (through a running server; see login)"`
	Workspaces  WorkspacesCmd  `cmd:"" help:"List, show, create and update workspaces; rotate publishable keys." group:"API client (through a running server; see login)"`
	Connections ConnectionsCmd `cmd:"" help:"List, show, create, update and delete connections (destinations)." group:"API client (through a running server; see login)"`
	Rules       RulesCmd       `cmd:"" help:"List, show, create and delete rules (which events go to which connection)." group:"API client (through a running server; see login)"`
	Completion  CompletionCmd  `cmd:"" help:"Print a shell completion script (bash, zsh or fish)."`
}

// env is what every command gets: where to write, and a context canceled on SIGINT/SIGTERM,
// and the process around it (host: stdin, environment, terminals; output.go).
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	host
}

// Main runs the command line and returns the process exit code (docs/cli.md lists them).
func Main(args []string, stdout, stderr io.Writer) int {
	return run(args, stdout, stderr, osHost(stdout, stderr))
}

// run is Main with the process's surroundings given: tests pass their own environment and
// standard input.
func run(args []string, stdout, stderr io.Writer, h host) int {
	var c CLI
	// kong "exits" after printing --help; remember that instead of exiting the process (or of
	// going on to run the command, which `keys create --help` once did).
	exited := -1
	parser, err := kong.New(&c, kong.Name("switchyard"),
		kong.Description("Switchyard: emit product events once; route, deliver and track them everywhere."),
		kong.Writers(stdout, stderr), kong.UsageOnError(), kong.Exit(func(code int) { exited = code }))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	kctx, err := parser.Parse(args)
	if exited >= 0 {
		return exited
	}
	if err != nil {
		if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
			return 0
		}
		fmt.Fprintln(stderr, "switchyard:", err)
		return 2
	}
	if kctx == nil || kctx.Command() == "" {
		return 0
	}
	ctx, stop := signal.NotifyContext(h.baseContext(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := kctx.Run(&env{ctx: ctx, stdout: stdout, stderr: stderr, host: h}); err != nil {
		printError(stderr, err)
		return exitCode(ctx, err)
	}
	return 0
}

// ServeCmd runs the server.
type ServeCmd struct {
	config.Config `embed:""`
}

// Run bootstraps an empty store, prints first-run credentials once, and serves until signaled.
func (c *ServeCmd) Run(e *env) error {
	log := c.Logger()
	a, err := app.New(e.ctx, c.Config, log)
	if err != nil {
		return err
	}
	defer a.Close()
	creds, err := a.Bootstrap(e.ctx)
	if err != nil {
		return err
	}
	if creds.Created {
		printCredentials(e.stdout, creds)
	}
	ls, err := a.Listen()
	if err != nil {
		return err
	}
	return a.Run(e.ctx, ls)
}

func printCredentials(w io.Writer, c *app.Credentials) {
	fmt.Fprintf(w, `
Switchyard initialized a new store. These credentials are shown once; keep the secret key safe.

  organization id   %s
  access key        %s
  secret key        %s
  workspace id      %s
  publishable key   %s

`, c.OrganizationID, c.AccessKey, c.SecretKey, c.WorkspaceID, c.PublishableKey)
}

// InitCmd bootstraps without serving.
type InitCmd struct {
	JSON         bool `name:"json" help:"Print the result as one JSON object."`
	config.Store `embed:""`
}

// Run creates the first tenant (or reports the existing one, without secrets).
func (c *InitCmd) Run(e *env) error {
	cfg := config.Default()
	cfg.Store = c.Store
	a, err := app.New(e.ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	creds, err := a.Bootstrap(e.ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(e.stdout)
		return enc.Encode(creds)
	}
	if creds.Created {
		printCredentials(e.stdout, creds)
		return nil
	}
	fmt.Fprintf(e.stdout, "The store is already initialized (organization %s, workspace %s, access key %s).\n",
		creds.OrganizationID, creds.WorkspaceID, creds.AccessKey)
	return nil
}

// MigrateCmd applies migrations.
type MigrateCmd struct {
	config.Database `embed:""`
}

// Run applies pending migrations.
func (c *MigrateCmd) Run(e *env) error {
	db, err := sqlstore.OpenNoMigrate(e.ctx, c.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.MigrateSteps(e.ctx, func(name string, took time.Duration) {
		fmt.Fprintf(e.stderr, "applied %s (%s)\n", name, took.Round(time.Millisecond))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Applied %d migration(s) to the %s store.\n", n, db.Dialect())
	return nil
}
