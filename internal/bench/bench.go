// Package bench is Switchyard's load tool (`switchyard bench`, docs/benchmarks.md). It starts
// Switchyard in-process on a fresh store (SQLite in a temporary directory, or a throwaway
// PostgreSQL database), a local receiving endpoint, and drives load over loopback: ingest
// throughput, end-to-end delivery throughput and latency, fan-out and isolation. Every run
// also measures the machine's own limits — a trivial Go handler's request rate with the same
// client, and the store's raw batched insert rate — so that each result can be read as a
// fraction of what the machine allows. CPU and allocation profiles cover the measured phases
// only.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario names, in the order a run measures them.
const (
	ScenarioLimits           = "limits"
	ScenarioIngestSingle     = "ingest-single"
	ScenarioIngestBulk       = "ingest-bulk"
	ScenarioE2EThroughput    = "e2e-throughput"
	ScenarioIngestDelivering = "ingest-delivering"
	ScenarioE2ELatency       = "e2e-latency"
	ScenarioFanout           = "fanout"
	ScenarioBacklog          = "backlog"
	ScenarioIsolation        = "isolation"
	ScenarioSaaS             = "saas"
)

// Scenarios lists every scenario in the order a run measures them.
func Scenarios() []string {
	return []string{ScenarioLimits, ScenarioIngestSingle, ScenarioIngestBulk, ScenarioE2EThroughput, ScenarioIngestDelivering, ScenarioE2ELatency,
		ScenarioFanout, ScenarioBacklog, ScenarioIsolation, ScenarioSaaS}
}

// Options configures a bench invocation. Zero values take the defaults noted.
type Options struct {
	// Scenarios to run (default: all). The limits are measured in every run whatever is
	// selected, since the ratios need them.
	Scenarios []string
	// Duration of each measured phase (default 10 s); Warmup precedes it, unmeasured (default 2 s).
	Duration, Warmup time.Duration
	// Concurrency is the closed-loop client count (default 64).
	Concurrency int
	// Rate is the open-loop offered rate in events per second (default 1000).
	Rate int
	// Backlog is how many events the backlog scenario bulk-emits to its one connection
	// (default 20,000; rounded up to whole requests of 100).
	Backlog int
	// DatabaseURL is a PostgreSQL admin URL; empty means SQLite in a temporary directory.
	DatabaseURL string
	// CPUProfile and MemProfile name pprof files covering the measured phases. With more than
	// one measured phase in the invocation, each phase gets its own file: the scenario, the
	// variant and the run are inserted before the extension.
	CPUProfile, MemProfile string
	// Runs is how many times everything is repeated; the report gives medians (default 1).
	Runs int
	// Workers and ConnectionConcurrency configure the server's delivery engine (defaults 64
	// and 16, as `switchyard serve`).
	Workers, ConnectionConcurrency int
	// PerNodeLimits turns the server's shared (cluster-wide) connection limits off on
	// PostgreSQL, as `serve --no-shared-limits`, to measure what they cost.
	PerNodeLimits bool
	// DrainTimeout bounds the wait for deliveries after a delivery scenario's load stops
	// (default 60 s).
	DrainTimeout time.Duration
	// WaitIdle, when positive, makes every scenario (and limit) first wait up to this long
	// for a second in which the rest of the machine uses less than IdleCores cores: on a
	// shared machine, other work is the largest source of noise.
	WaitIdle time.Duration
	// IdleCores is the other processes' CPU use WaitIdle waits for (default 0.25).
	IdleCores float64
	// NoiseRetries is how many times a measured phase (a limit, or a scenario variant) is
	// measured again when the rest of the machine used more than IdleCores cores during it;
	// the last attempt is reported, with the number of attempts.
	NoiseRetries int
	// Progress receives the one-line progress display (default: discarded).
	Progress io.Writer
	// Logger receives the server's logs (default: discarded).
	Logger *slog.Logger
}

func (o *Options) normalize() error {
	if len(o.Scenarios) == 0 || slices.Contains(o.Scenarios, "all") {
		o.Scenarios = Scenarios()
	}
	for _, s := range o.Scenarios {
		if !slices.Contains(Scenarios(), s) {
			return fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(Scenarios(), ", "))
		}
	}
	// Run them in the canonical order, each once.
	var ordered []string
	for _, s := range Scenarios() {
		if slices.Contains(o.Scenarios, s) {
			ordered = append(ordered, s)
		}
	}
	o.Scenarios = ordered
	setDefault(&o.Duration, 10*time.Second)
	setDefault(&o.Warmup, 2*time.Second)
	setDefault(&o.Concurrency, 64)
	setDefault(&o.Rate, 1000)
	setDefault(&o.Backlog, 20_000)
	setDefault(&o.Runs, 1)
	setDefault(&o.Workers, 64)
	setDefault(&o.ConnectionConcurrency, 16)
	setDefault(&o.DrainTimeout, 60*time.Second)
	if o.IdleCores <= 0 {
		o.IdleCores = 0.25
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Duration < 100*time.Millisecond:
		return errors.New("duration must be at least 100ms")
	case o.Concurrency > 4096:
		return errors.New("concurrency must be at most 4096")
	case o.Rate > 100000:
		return errors.New("rate must be at most 100000 events/s")
	case o.Backlog > 10_000_000:
		return errors.New("backlog must be at most 10,000,000 events")
	case o.Runs > 100:
		return errors.New("runs must be at most 100")
	}
	return nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Run measures every selected scenario Options.Runs times and returns the report. On an error
// (or when ctx ends) it returns the phases it completed so far with the error.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	be, err := newBackend(ctx, opts.DatabaseURL)
	if err != nil {
		return nil, err
	}
	r := &runner{opts: opts, clock: newClock(), backend: be, client: newClient(max(opts.Concurrency, 256)),
		key: base64.StdEncoding.EncodeToString(randomKey()), tty: isTerminal(opts.Progress)}
	r.logger = slog.New(errorCounter{next: opts.Logger.Handler(), n: &r.serverErrors})
	r.prof = newProfiler(opts.CPUProfile, opts.MemProfile, r.measuredPhases() > 1)
	defer r.client.CloseIdleConnections()

	rep := &Report{Started: time.Now().UTC(), Machine: machineInfo(), Settings: Settings{Store: be.name(),
		Scenarios: opts.Scenarios, Duration: opts.Duration.String(), Warmup: opts.Warmup.String(), Concurrency: opts.Concurrency,
		Rate: opts.Rate, Runs: opts.Runs, Workers: opts.Workers, ConnectionConcurrency: opts.ConnectionConcurrency}}
	if opts.WaitIdle > 0 {
		rep.Settings.WaitIdle = opts.WaitIdle.String()
	}
	if opts.WaitIdle > 0 || opts.NoiseRetries > 0 {
		rep.Settings.NoiseRetries, rep.Settings.IdleCores = opts.NoiseRetries, opts.IdleCores
	}
	err = r.runAll(ctx, rep)
	rep.Summary = summarizeRuns(rep.Runs, be.name())
	rep.Profiles = r.prof.written
	if cerr := be.close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if perr := r.prof.err(); perr != nil {
		err = errors.Join(err, perr)
	}
	return rep, err
}

func (r *runner) runAll(ctx context.Context, rep *Report) error {
	for run := 1; run <= r.opts.Runs; run++ {
		r.run = run
		rr := RunResult{Run: run, LoadBefore: loadAverage()}
		err := r.runOnce(ctx, &rr)
		rr.LoadAfter = loadAverage()
		rep.Runs = append(rep.Runs, rr)
		if err != nil {
			return err
		}
	}
	return nil
}

// runOnce measures the limits, then each selected scenario.
func (r *runner) runOnce(ctx context.Context, rr *RunResult) error {
	r.webhookE2E = 0
	for _, lim := range []struct {
		label string
		fn    func(context.Context) (Result, error)
	}{{"limits-http", r.measureHTTPLimit}, {"limits-store", r.measureStoreLimit}} {
		res, err := r.measure(ctx, lim.label, func() (Result, error) { return lim.fn(ctx) })
		if err != nil {
			return fmt.Errorf("measuring the limits: %w", err)
		}
		rr.Results = append(rr.Results, res)
	}
	for _, name := range r.opts.Scenarios {
		fn := r.scenario(name)
		if fn == nil {
			continue // limits: measured above
		}
		results, err := fn(ctx)
		rr.Results = append(rr.Results, results...)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", name, err)
		}
	}
	return nil
}

// waitIdle waits, up to Options.WaitIdle, for a second in which the other processes of the
// machine use less than Options.IdleCores cores.
func (r *runner) waitIdle(ctx context.Context, label string) {
	if r.opts.WaitIdle <= 0 {
		return
	}
	deadline := time.Now().Add(r.opts.WaitIdle)
	for ctx.Err() == nil {
		s := r.startCPU()
		sleepCtx(ctx, time.Second)
		u := s.use()
		if u.other < r.opts.IdleCores || time.Now().After(deadline) {
			return
		}
		line := fmt.Sprintf("[%s, run %d/%d] waiting for an idle machine: other processes use %.2f cores", label, r.run,
			r.opts.Runs, u.other)
		if r.tty {
			fmt.Fprintf(r.opts.Progress, "\r%s\x1b[K", line)
		} else {
			fmt.Fprintln(r.opts.Progress, line)
		}
	}
}

// measure runs one measured phase (a limit, or a scenario variant) after waitIdle. When the
// rest of the machine used more than IdleCores cores during it, it measures again, up to
// NoiseRetries times, and keeps the last attempt, which says how many attempts were made.
func (r *runner) measure(ctx context.Context, label string, fn func() (Result, error)) (Result, error) {
	for attempt := 1; ; attempt++ {
		r.waitIdle(ctx, label)
		errs := r.serverErrors.Load()
		res, err := fn()
		if err != nil {
			return res, err
		}
		if res.Scenario != ScenarioLimits {
			res.add("server errors logged", float64(r.serverErrors.Load()-errs), "count")
		}
		other, _ := res.metric("other CPU")
		if other <= r.opts.IdleCores || attempt > r.opts.NoiseRetries || ctx.Err() != nil {
			if r.opts.NoiseRetries > 0 {
				res.add("attempts", float64(attempt), "count")
			}
			return res, nil
		}
		line := fmt.Sprintf("[%s, run %d/%d] other processes used %.2f cores while it was measured: measuring again",
			label, r.run, r.opts.Runs, other)
		fmt.Fprintln(r.opts.Progress, line)
	}
}

// scenario returns a scenario's function, nil for limits.
func (r *runner) scenario(name string) func(context.Context) ([]Result, error) {
	switch name {
	case ScenarioIngestSingle:
		return r.ingestSingle
	case ScenarioIngestBulk:
		return r.ingestBulk
	case ScenarioE2EThroughput:
		return r.e2eThroughput
	case ScenarioIngestDelivering:
		return r.ingestDelivering
	case ScenarioE2ELatency:
		return r.e2eLatency
	case ScenarioFanout:
		return r.fanout
	case ScenarioIsolation:
		return r.isolation
	case ScenarioBacklog:
		return r.backlog
	case ScenarioSaaS:
		return r.saas
	}
	return nil
}

// measuredPhases counts the measured phases the invocation will profile.
func (r *runner) measuredPhases() int {
	n := 0
	for _, s := range r.opts.Scenarios {
		switch s {
		case ScenarioLimits:
		case ScenarioFanout:
			n += len(fanoutWidths)
		case ScenarioIsolation:
			n += len(isolationVariants)
		case ScenarioSaaS:
			n++
			if !slices.Contains(r.opts.Scenarios, ScenarioE2EThroughput) {
				n++ // its webhook baseline
			}
		default:
			n++
		}
	}
	return n * r.opts.Runs
}

// runner holds what every scenario of an invocation shares.
type runner struct {
	opts    Options
	run     int
	clock   *clock
	backend backend
	client  *http.Client
	// key is the encryption key every server of the invocation uses (base64).
	key    string
	limits limits
	// webhookE2E is this run's e2e-throughput figure (deliveries/s), for the saas ratio.
	webhookE2E float64
	prof       *profiler
	tty        bool
	// logger is the servers' logger: opts.Logger, counting into serverErrors the errors
	// logged (errorCounter).
	logger       *slog.Logger
	serverErrors atomic.Int64
}

func randomKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// isTerminal reports whether w is a terminal, where the progress line updates in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress prints one line a second while a phase runs: what was sent, the accepted rate over
// the last second, what was delivered, and the errors.
type progress struct {
	*meter
	stop chan struct{}
	wg   sync.WaitGroup
}

// newMeter starts the progress line for one phase; recv (optional) supplies the deliveries.
func (r *runner) newMeter(label string, recv *receiver) *progress {
	p := &progress{meter: &meter{}, stop: make(chan struct{})}
	p.setPhase("setup")
	start := time.Now()
	prefix := fmt.Sprintf("[%s, run %d/%d]", label, r.run, r.opts.Runs)
	show := func(rate float64, final bool) {
		var delivered int64
		if recv != nil {
			delivered = recv.total.Load()
		}
		line := fmt.Sprintf("%s %-7s %4.0fs  sent %d  accepted %.0f/s  delivered %d  errors %d", prefix, *p.phase.Load(),
			time.Since(start).Seconds(), p.sent.Load(), rate, delivered, p.errors.Load())
		switch {
		case r.tty && final:
			fmt.Fprintf(r.opts.Progress, "\r%s\x1b[K\n", line)
		case r.tty:
			fmt.Fprintf(r.opts.Progress, "\r%s\x1b[K", line)
		default:
			fmt.Fprintln(r.opts.Progress, line)
		}
	}
	p.wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last, lastAt := int64(0), time.Now()
		for {
			select {
			case <-p.stop:
				show(0, true)
				return
			case now := <-t.C:
				cur := p.accepted.Load()
				show(float64(cur-last)/now.Sub(lastAt).Seconds(), false)
				last, lastAt = cur, now
			}
		}
	})
	return p
}

// done ends the progress line.
func (p *progress) done() {
	close(p.stop)
	p.wg.Wait()
}

// span is a measured phase in progress: its profiles run and its CPU time is counted.
type span struct {
	wall time.Time
	cpu  time.Duration
	// busy and total are the machine's CPU ticks (ok: known).
	busy, total int64
	ok          bool
	// match selects the database server's processes working for the bench; server holds
	// their CPU ticks at the start.
	match  string
	server map[int]int64
}

// cpuUse is the CPU a measured phase used, in cores: this process's, the database server's
// on the bench's behalf (PostgreSQL), and the rest of the machine's (other work: noise).
type cpuUse struct {
	process, server, other float64
	// known is false where the machine's CPU time cannot be read; server is measured only
	// for PostgreSQL.
	known, hasServer bool
}

// begin starts a measured phase: the profiles (labelled for their file names) and the CPU
// clocks.
func (r *runner) begin(label string) *span {
	r.prof.start(fmt.Sprintf("%s-r%d", label, r.run))
	return r.startCPU()
}

// end stops a measured phase's profiles and returns the CPU it used (zeros when the phase
// never began).
func (r *runner) end(s *span) cpuUse {
	r.prof.stop()
	return s.use()
}

// startCPU starts counting CPU time.
func (r *runner) startCPU() *span {
	s := &span{wall: time.Now(), cpu: processCPU(), match: r.backend.serverMatch()}
	s.busy, s.total, s.ok = machineCPU()
	s.server = serverTicks(s.match)
	return s
}

// use returns the CPU used since startCPU, zeros where unknown.
func (s *span) use() cpuUse {
	if s == nil {
		return cpuUse{}
	}
	var u cpuUse
	wall := time.Since(s.wall)
	if wall <= 0 {
		return u
	}
	if cpu := processCPU() - s.cpu; cpu > 0 {
		u.process = cpu.Seconds() / wall.Seconds()
	}
	if s.server != nil {
		u.hasServer = true
		u.server = float64(ticksSince(s.server, serverTicks(s.match))) / clockTicks / wall.Seconds()
	}
	if busy, total, ok := machineCPU(); ok && s.ok && total > s.total {
		machine := float64(busy-s.busy) / float64(total-s.total) * float64(runtime.NumCPU())
		u.other = max(0, machine-u.process-u.server)
		u.known = true
	}
	return u
}

// addCPU adds a phase's CPU use to a result.
// Every run of a scenario reports the same metrics, so that their medians line up.
func (res *Result) addCPU(u cpuUse) {
	if !u.known {
		return
	}
	res.add("process CPU", u.process, "cores")
	if u.hasServer {
		res.add("postgres CPU", u.server, "cores")
	}
	res.add("other CPU", u.other, "cores")
}
