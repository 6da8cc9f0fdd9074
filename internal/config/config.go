// Package config holds Switchyard's one configuration struct. Every field is a command-line flag
// with an environment twin (SWITCHYARD_…); the struct is passed, never global, and tests build
// it directly.
package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Database is the store's address: the one setting of every command that opens the store. It
// is declared here once; commands embed it (or Store).
type Database struct {
	// DatabaseURL selects the store: sqlite://PATH (default) or postgres://…. A PostgreSQL URL
	// may carry pool_max_conns=N, the most connections this process opens (default 20), and
	// pool_min_conns=N, how many of them serve opens before serving (default all;
	// docs/postgres.md).
	DatabaseURL string `name:"database-url" env:"SWITCHYARD_DATABASE_URL" default:"sqlite://./switchyard.db" help:"Store: sqlite://PATH or postgres://USER@HOST/DB (?pool_max_conns=N sets the pool size, default 20; pool_min_conns=N how many serve opens at start, default all)."`
}

// Store is what opening the store with its sealed secrets takes: its address and the encryption
// key. serve, init, keys and dashboard embed it.
type Store struct {
	Database `embed:""`
	// EncryptionKey is the 32-byte key (base64 or hex) that seals secrets at rest.
	EncryptionKey string `name:"encryption-key" env:"SWITCHYARD_ENCRYPTION_KEY" help:"32-byte key, base64 or hex, sealing secrets at rest. Default with SQLite: a key file beside the database, created on first start." json:"-"`
	// EncryptionKeyFile is read (SQLite: created) when EncryptionKey is empty.
	EncryptionKeyFile string `name:"encryption-key-file" env:"SWITCHYARD_ENCRYPTION_KEY_FILE" help:"File holding the encryption key (default with SQLite: switchyard.key beside the database)."`
}

// Config is the server configuration. Tags drive the CLI parser (kong): the flag name, the
// environment variable, the default and the help text.
type Config struct {
	// Addr is the HTTP listen address.
	Addr string `name:"addr" env:"SWITCHYARD_ADDR" default:"127.0.0.1:8080" help:"HTTP listen address."`
	// Store is the store's address and the key sealing its secrets.
	Store `embed:""`
	// Role is what this process does: "all" (default) serves the API and delivers; "api" serves
	// the API, embed UI, dashboard and MCP without delivering; "worker" delivers and runs the
	// cluster's maintenance, serving only /healthz, /readyz and the metrics. api and worker need
	// PostgreSQL (docs/deploy.md, "Node roles").
	Role string `name:"role" env:"SWITCHYARD_ROLE" default:"all" enum:"all,api,worker" help:"What this node does: all, api (HTTP API without delivery) or worker (delivery and maintenance; PostgreSQL only for api and worker)."`
	// AllowPrivateDestinations lifts the https-only and no-private-address rules for
	// destinations (development and tests only).
	AllowPrivateDestinations bool `name:"allow-private-destinations" env:"SWITCHYARD_ALLOW_PRIVATE_DESTINATIONS" help:"Allow http:// and private, loopback and link-local destination addresses (development only)."`
	// ClusterInterval is how often a node refreshes its heartbeat row and tries (or, leading,
	// checks) the maintenance lock; a node whose heartbeat is three intervals old counts as gone.
	// PostgreSQL only; default 5s.
	ClusterInterval time.Duration `name:"cluster-interval" env:"SWITCHYARD_CLUSTER_INTERVAL" default:"5s" help:"PostgreSQL: how often a node beats its heartbeat and tries the maintenance lock (a node is gone after 3 missed beats)."`
	// SharedLimits makes each connection's max_concurrency, rate limit, 429 pause and circuit
	// hold for all the nodes on a PostgreSQL store (docs/delivery.md, "Limits across nodes").
	// It costs one busy connection most of its throughput today (docs/benchmarks.md), so a
	// deployment with a single delivering node may turn it off. Ignored on SQLite (one node).
	SharedLimits bool `name:"shared-limits" env:"SWITCHYARD_SHARED_LIMITS" default:"true" negatable:"" help:"PostgreSQL: hold each connection's limits for the whole cluster (--no-shared-limits: per node; right for a single delivering node)."`
	// Workers is how many delivery attempts may run at once in this process.
	Workers int `name:"workers" env:"SWITCHYARD_WORKERS" default:"512" help:"Delivery attempts in flight at once (mostly waiting on the network)."`
	// ConnectionConcurrency is how many attempts one connection may have in flight (for the
	// cluster with shared limits, else per node), unless the connection's max_concurrency says
	// otherwise.
	ConnectionConcurrency int `name:"connection-concurrency" env:"SWITCHYARD_CONNECTION_CONCURRENCY" default:"16" help:"Attempts in flight per connection (on PostgreSQL for all nodes together unless --no-shared-limits, on SQLite per process); a connection's max_concurrency overrides it."`
	// DeliveryLease is how long a claimed delivery is reserved for its worker; after a crash it
	// is delivered again once the lease runs out. It must exceed the longest connection timeout.
	DeliveryLease time.Duration `name:"delivery-lease" env:"SWITCHYARD_DELIVERY_LEASE" default:"2m" help:"How long a claimed delivery stays reserved (crash recovery delay); must exceed connection timeouts."`
	// ShutdownGrace is how long a stopping server lets attempts in flight finish.
	ShutdownGrace time.Duration `name:"shutdown-grace" env:"SWITCHYARD_SHUTDOWN_GRACE" default:"20s" help:"How long shutdown waits for attempts in flight before handing them back."`
	// Retention is how long events, deliveries and attempts are kept.
	Retention time.Duration `name:"retention" env:"SWITCHYARD_RETENTION" default:"720h" help:"How long events and their delivery history are kept."`
	// PollInterval is how often idle workers look for due retries.
	PollInterval time.Duration `name:"poll-interval" env:"SWITCHYARD_POLL_INTERVAL" default:"1s" help:"How often idle workers look for due deliveries."`
	// RateLimitMachine is the request rate allowed per machine key (burst twice that); 0 = off.
	RateLimitMachine float64 `name:"rate-limit-machine" env:"SWITCHYARD_RATE_LIMIT_MACHINE" default:"1000" help:"Requests per second per machine key (burst 2x; 0 = no limit)."`
	// RateLimitPublishable is the request rate allowed per publishable key; 0 = off.
	RateLimitPublishable float64 `name:"rate-limit-publishable" env:"SWITCHYARD_RATE_LIMIT_PUBLISHABLE" default:"1000" help:"Requests per second per publishable key (burst 2x; 0 = no limit)."`
	// RateLimitAuthFailures is the failed authentications per second allowed per client address
	// (IPv6: per /64; burst twice that); past it the address gets 429 until it slows down. 0 = off.
	RateLimitAuthFailures float64 `name:"rate-limit-auth-failures" env:"SWITCHYARD_RATE_LIMIT_AUTH_FAILURES" default:"100" help:"Failed authentications per second per client address before 429 (burst 2x; 0 = no limit)."`
	// MetricsAddr is where the Prometheus metrics are served, apart from the API: they name
	// every tenant's connections. Loopback by default; "" serves no metrics.
	MetricsAddr string `name:"metrics-addr" env:"SWITCHYARD_METRICS_ADDR" default:"127.0.0.1:9464" help:"Listen address of GET /metrics (apart from the API; empty: no metrics endpoint)."`
	// MaxConnections caps the open HTTP connections of the API; past it new connections wait
	// in the kernel's accept queue until one closes. 0 means 4096, or what the open-file limit
	// leaves room for if that is less (see APIConnections).
	MaxConnections int `name:"max-connections" env:"SWITCHYARD_MAX_CONNECTIONS" default:"0" help:"Most HTTP connections the API holds open at once; more wait to be accepted (0: 4096, or less if the open-file limit is lower)."`
	// PublicURL is the URL this server is reached at from the outside (browsers, providers):
	// the OAuth callback is PublicURL + /api/v1/oauth/callback. Default: http://<addr>.
	PublicURL string `name:"public-url" env:"SWITCHYARD_PUBLIC_URL" help:"External base URL of this server (OAuth redirect URLs are built from it; default http://<addr>)."`
	// OAuthApps configures provider apps as TYPE.KEY=VALUE (keys client_id, client_secret,
	// client_secret_file, scopes, auth_url, token_url, api_base); the environment twins
	// SWITCHYARD_<TYPE>_<KEY> (e.g. SWITCHYARD_HUBSPOT_CLIENT_ID) are read for every OAuth
	// integration too, and a flag wins over its twin.
	OAuthApps []string `name:"oauth-app" env:"SWITCHYARD_OAUTH_APPS" placeholder:"TYPE.KEY=VALUE" help:"Provider OAuth app setting, e.g. hubspot.client_id=… (repeatable; or SWITCHYARD_HUBSPOT_CLIENT_ID …)." json:"-"`
	// LookupEnv reads the environment for the per-integration twins (nil: os.LookupEnv); tests
	// inject it instead of setting variables.
	LookupEnv func(string) (string, bool) `kong:"-" json:"-"`
	// LogFormat is text or json.
	LogFormat string `name:"log-format" env:"SWITCHYARD_LOG_FORMAT" default:"text" enum:"text,json" help:"Log format: text or json."`
	// LogLevel is debug, info, warn or error.
	LogLevel string `name:"log-level" env:"SWITCHYARD_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level."`
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64 `name:"max-body-bytes" env:"SWITCHYARD_MAX_BODY_BYTES" default:"5242880" help:"Largest request body accepted (bytes)."`
	// MaxPayloadBytes bounds one event's payload.
	MaxPayloadBytes int `name:"max-payload-bytes" env:"SWITCHYARD_MAX_PAYLOAD_BYTES" default:"262144" help:"Largest event payload accepted (bytes)."`
}

// Default returns the configuration with every default applied, as the CLI would build it.
func Default() Config {
	return Config{
		Addr: "127.0.0.1:8080", Store: Store{Database: Database{DatabaseURL: "sqlite://./switchyard.db"}}, Role: RoleAll, ClusterInterval: 5 * time.Second, SharedLimits: true, Workers: 512, PollInterval: time.Second,
		RateLimitMachine: 1000, RateLimitPublishable: 1000, RateLimitAuthFailures: 100,
		MetricsAddr:           "127.0.0.1:9464",
		ConnectionConcurrency: 16, DeliveryLease: 2 * time.Minute, ShutdownGrace: 20 * time.Second, Retention: 720 * time.Hour,
		LogFormat: "text", LogLevel: "info", MaxBodyBytes: 5 << 20, MaxPayloadBytes: 256 << 10,
	}
}

// Validate reports the first setting that cannot work. An empty Role becomes "all".
func (c *Config) Validate() error {
	if c.Role == "" {
		c.Role = RoleAll
	}
	switch {
	case !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "postgres://") &&
		!strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		return fmt.Errorf("database URL must start with sqlite:// or postgres://")
	case c.Role != RoleAll && c.Role != RoleAPI && c.Role != RoleWorker:
		return fmt.Errorf("role must be all, api or worker, not %q", c.Role)
	case c.Role != RoleAll && strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		return fmt.Errorf("role %s needs PostgreSQL: a SQLite file serves one process, which must both serve the API and deliver (use --role all)", c.Role)
	case c.ClusterInterval != 0 && c.ClusterInterval < 100*time.Millisecond:
		return fmt.Errorf("cluster interval must be at least 100ms")
	case c.Workers < 1:
		return fmt.Errorf("workers must be at least 1")
	case c.RateLimitMachine < 0 || c.RateLimitPublishable < 0 || c.RateLimitAuthFailures < 0:
		return fmt.Errorf("rate limits must not be negative")
	case c.MaxConnections < 0:
		return fmt.Errorf("max connections must not be negative")
	case c.MaxConnections > maxConnectionsLimit():
		return fmt.Errorf("max connections %d exceeds what the open-file limit leaves for connections (%d): "+
			"raise the limit (ulimit -n) or lower --max-connections", c.MaxConnections, maxConnectionsLimit())
	case c.ConnectionConcurrency < 1:
		return fmt.Errorf("connection concurrency must be at least 1")
	case c.DeliveryLease < 2*time.Second:
		return fmt.Errorf("delivery lease must be at least 2s")
	case c.ShutdownGrace < 0:
		return fmt.Errorf("shutdown grace must not be negative")
	case c.Retention < time.Hour:
		return fmt.Errorf("retention must be at least 1h")
	case c.PollInterval < 10*time.Millisecond:
		return fmt.Errorf("poll interval must be at least 10ms")
	case c.MaxBodyBytes < 1024:
		return fmt.Errorf("max body bytes must be at least 1024")
	case c.MaxPayloadBytes < 2 || int64(c.MaxPayloadBytes) > c.MaxBodyBytes:
		return fmt.Errorf("max payload bytes must be between 2 and max body bytes")
	}
	return nil
}

// Node roles (Config.Role).
const (
	RoleAll    = "all"
	RoleAPI    = "api"
	RoleWorker = "worker"
)

// ServesAPI reports whether this node serves the API (roles all and api).
func (c *Config) ServesAPI() bool { return c.Role != RoleWorker }

// Delivers reports whether this node runs the delivery engine and takes part in the election of
// the node that runs the cluster's maintenance (roles all and worker).
func (c *Config) Delivers() bool { return c.Role != RoleAPI }

// ElectionInterval is ClusterInterval, or its default of 5s when unset.
func (c *Config) ElectionInterval() time.Duration {
	if c.ClusterInterval <= 0 {
		return 5 * time.Second
	}
	return c.ClusterInterval
}

// defaultMaxConnections is the API's connection cap when none is configured: far more than a
// 2-core node serves usefully at once, far fewer than an idle-connection flood would hold.
const defaultMaxConnections = 4096

// APIConnections is the cap on the API's open connections: MaxConnections, or by default 4096
// or what the open-file limit leaves room for, whichever is less.
func (c *Config) APIConnections() int {
	if c.MaxConnections > 0 {
		return c.MaxConnections
	}
	return min(defaultMaxConnections, maxConnectionsLimit())
}

// CallbackURL is the OAuth redirect URL providers send customers back to.
func (c *Config) CallbackURL() string {
	base := strings.TrimSuffix(c.PublicURL, "/")
	if base == "" {
		base = "http://" + c.Addr
	}
	return base + "/api/v1/oauth/callback"
}

// SQLitePath returns the database file of a sqlite:// URL, or "" for PostgreSQL and in-memory
// stores.
func (c *Config) SQLitePath() string {
	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") {
		return ""
	}
	p := strings.TrimPrefix(strings.TrimPrefix(c.DatabaseURL, "sqlite:"), "//")
	if p == ":memory:" {
		return ""
	}
	return p
}

// KeyFile returns where the encryption key is read from (and, on SQLite, created) when no key is
// given: the configured file, or switchyard.key beside the SQLite database.
func (c *Config) KeyFile() string {
	if c.EncryptionKeyFile != "" {
		return c.EncryptionKeyFile
	}
	if p := c.SQLitePath(); p != "" {
		return filepath.Join(filepath.Dir(p), "switchyard.key")
	}
	return ""
}

// Logger builds the slog logger the settings ask for.
func (c *Config) Logger() *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
