package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/switchyardhq/switchyard/internal/bench"
	"github.com/switchyardhq/switchyard/internal/config"
)

// BenchCmd runs the load tool: it starts Switchyard in-process on a fresh store with a local
// receiving endpoint, drives load over loopback and reports throughput and latency beside the
// machine's own limits (docs/benchmarks.md).
type BenchCmd struct {
	Scenario              []string      `name:"scenario" placeholder:"NAME" help:"Scenario to run, repeatable: limits, ingest-single, ingest-bulk, e2e-throughput, ingest-delivering, e2e-latency, fanout, backlog, isolation, saas (default: all). The limits are measured in every run; saas also measures e2e-throughput (its baseline) and the HubSpot fake's own capacity."`
	Duration              time.Duration `name:"duration" default:"10s" help:"Length of each measured phase."`
	Warmup                time.Duration `name:"warmup" default:"2s" help:"Unmeasured warm-up before each measured phase."`
	Concurrency           int           `name:"concurrency" default:"64" help:"Closed-loop clients (ingest, e2e-throughput, fanout, limits)."`
	Rate                  int           `name:"rate" default:"1000" help:"Offered events/s of the open-loop scenarios (e2e-latency, isolation)."`
	Backlog               int           `name:"backlog" default:"20000" help:"Events the backlog scenario bulk-emits to its one connection before measuring how fast they are delivered."`
	DatabaseURL           string        `name:"database-url" placeholder:"postgres://…" help:"PostgreSQL admin URL: the bench creates a throwaway database switchyard_bench_<random> there and drops it afterwards; pool_max_conns and pool_min_conns on it size each store's pool (and the raw insert limit's writers). Default: SQLite in a temporary directory."`
	CPUProfile            string        `name:"cpuprofile" placeholder:"FILE" help:"Write a CPU profile of the measured phase(s) (one file per phase when there are several)."`
	MemProfile            string        `name:"memprofile" placeholder:"FILE" help:"Write allocation profiles at the start (FILE.base) and end of the measured phase(s)."`
	Runs                  int           `name:"runs" default:"1" help:"Repeat everything N times and report the median."`
	JSON                  string        `name:"json" placeholder:"FILE" help:"Also write the report as JSON to FILE."`
	Workers               int           `name:"workers" default:"512" help:"The server's delivery workers (as serve --workers)."`
	ConnectionConcurrency int           `name:"connection-concurrency" default:"16" help:"The server's attempts per connection (as serve --connection-concurrency)."`
	PerNodeLimits         bool          `name:"per-node-limits" help:"PostgreSQL: run the server with --no-shared-limits (connection limits per node), to measure what cluster-wide limits cost."`
	DrainTimeout          time.Duration `name:"drain-timeout" default:"60s" help:"How long a delivery scenario waits for its deliveries after the load stops."`
	WaitIdle              time.Duration `name:"wait-idle" default:"0s" help:"Before each scenario, wait up to this long for a second in which other processes use less than --idle-cores (shared machines)."`
	IdleCores             float64       `name:"idle-cores" default:"0.25" help:"CPU cores other processes may use for --wait-idle to count the machine as idle."`
	NoiseRetries          int           `name:"noise-retries" default:"0" help:"Measure a scenario again, up to N times, when other processes used more than --idle-cores during it (shared machines)."`
	LogLevel              string        `name:"log-level" default:"error" enum:"debug,info,warn,error" help:"The server's log level (logs go to stderr)."`
}

// Run measures, prints the table on stdout (and writes the JSON), and fails if a scenario did.
// A partial report is still printed when the bench is interrupted.
func (c *BenchCmd) Run(e *env) error {
	logCfg := config.Config{LogLevel: c.LogLevel, LogFormat: "text"}
	rep, err := bench.Run(e.ctx, bench.Options{Scenarios: c.Scenario, Duration: c.Duration, Warmup: c.Warmup,
		Concurrency: c.Concurrency, Rate: c.Rate, Backlog: c.Backlog, DatabaseURL: c.DatabaseURL, CPUProfile: c.CPUProfile, MemProfile: c.MemProfile,
		Runs: c.Runs, Workers: c.Workers, ConnectionConcurrency: c.ConnectionConcurrency, PerNodeLimits: c.PerNodeLimits, DrainTimeout: c.DrainTimeout,
		WaitIdle: c.WaitIdle, IdleCores: c.IdleCores, NoiseRetries: c.NoiseRetries, Progress: e.stderr, Logger: logCfg.Logger()})
	if rep == nil {
		return err
	}
	if werr := rep.WriteTable(e.stdout); werr != nil {
		err = errors.Join(err, werr)
	}
	if c.JSON != "" {
		f, ferr := os.Create(c.JSON)
		if ferr != nil {
			return errors.Join(err, fmt.Errorf("creating %s: %w", c.JSON, ferr))
		}
		werr := rep.WriteJSON(f)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			err = errors.Join(err, fmt.Errorf("writing %s: %w", c.JSON, werr))
		}
	}
	return err
}
