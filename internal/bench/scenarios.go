package bench

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/config"
)

// rig is one scenario variant's world: a fresh Switchyard, the receiving endpoints, and the
// progress line.
type rig struct {
	r    *runner
	in   *instance
	recv *receiver
	line *progress
}

func (r *runner) newRig(ctx context.Context, label string, configure func(*config.Config)) (*rig, error) {
	recv := newReceiver(r.clock)
	in, err := r.startInstance(ctx, label, configure)
	if err != nil {
		recv.close()
		return nil, err
	}
	return &rig{r: r, in: in, recv: recv, line: r.newMeter(label, recv)}, nil
}

// close ends the progress line, stops the endpoints (ending hanging requests), then the server.
func (g *rig) close() error {
	g.line.done()
	g.recv.close()
	err := g.in.close()
	g.r.client.CloseIdleConnections()
	return err
}

// withRig measures fn on a fresh rig (again on a fresh rig when the measurement was noisy; see
// measure).
func (r *runner) withRig(ctx context.Context, label string, fn func(g *rig) (Result, error)) (Result, error) {
	return r.measure(ctx, label, func() (Result, error) { return r.withRigOnce(ctx, label, fn) })
}

// withRigOnce runs fn on a fresh rig and closes it, keeping the first error.
func (r *runner) withRigOnce(ctx context.Context, label string, fn func(g *rig) (Result, error)) (Result, error) {
	return r.withConfiguredRig(ctx, label, nil, fn)
}

// withConfiguredRig is withRigOnce with the server's configuration changed by configure.
func (r *runner) withConfiguredRig(ctx context.Context, label string, configure func(*config.Config),
	fn func(g *rig) (Result, error)) (Result, error) {
	g, err := r.newRig(ctx, label, configure)
	if err != nil {
		return Result{}, err
	}
	res, err := fn(g)
	if cerr := g.close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	return res, err
}

// one returns a single-variant scenario's result, or none when it failed: a phase cut short
// measured nothing worth reporting.
func one(res Result, err error) ([]Result, error) {
	if err != nil {
		return nil, err
	}
	return []Result{res}, nil
}

// deliveryBudget bounds the deliveries a delivery scenario's measured phase may create, so that
// the backlog left when the load stops drains in bounded time: 5,000 per second of --duration.
func (r *runner) deliveryBudget() int64 {
	return max(5000, int64(5000*r.opts.Duration.Seconds()))
}

// ingestBudget bounds the events an ingest scenario may accept in its measured phase.
const ingestBudget = 10_000_000

// ingestSingle measures single-event ingest: POST /api/v1/events, closed loop. The workspace
// has one rule, for another event name, so every event is routed (the rule query runs) and
// matches nothing: the number is ingest alone, with no delivery competing for the store.
func (r *runner) ingestSingle(ctx context.Context) ([]Result, error) {
	res, err := r.withRig(ctx, ScenarioIngestSingle, func(g *rig) (Result, error) {
		url, err := g.recv.endpoint(answerOK)
		if err != nil {
			return Result{}, err
		}
		conn, err := g.in.connection(ctx, "Bench hook", url, 0)
		if err != nil {
			return Result{}, err
		}
		if err := g.in.rule(ctx, conn, "bench.unrouted"); err != nil {
			return Result{}, err
		}
		bodies := eventBodies("bench.ingest", 1024)
		var sp *span
		load := &closedLoad{workers: r.opts.Concurrency, warmup: r.opts.Warmup, duration: r.opts.Duration, budget: ingestBudget,
			send: func(ctx context.Context, seq uint64, buf *bytes.Buffer) outcome {
				return r.post(ctx, g.in.eventsURL(), g.in.pubKey, bodies[seq%uint64(len(bodies))], buf, 1, false)
			},
			onMeasure: func() { sp = r.begin(ScenarioIngestSingle) }}
		lr := load.run(ctx, r.clock, g.line.meter)
		cpu := r.end(sp)
		out := Result{Scenario: ScenarioIngestSingle,
			Setup: fmt.Sprintf("POST /api/v1/events with the publishable key, %d clients closed loop, ~320-byte body; "+
				"1 rule in the workspace, matching none of the events (no deliveries); %s window",
				r.opts.Concurrency, lr.window().Round(time.Millisecond)),
			Errors: lr.errorCounts()}
		r.ingestMetrics(&out, &lr, 1, cpu)
		return out, nil
	})
	return one(res, err)
}

// ingestBulk measures bulk ingest: POST /api/v1/events/bulk with 100 events, closed loop, the
// same single non-matching rule as ingest-single.
func (r *runner) ingestBulk(ctx context.Context) ([]Result, error) {
	const size = 100
	res, err := r.withRig(ctx, ScenarioIngestBulk, func(g *rig) (Result, error) {
		url, err := g.recv.endpoint(answerOK)
		if err != nil {
			return Result{}, err
		}
		conn, err := g.in.connection(ctx, "Bench hook", url, 0)
		if err != nil {
			return Result{}, err
		}
		if err := g.in.rule(ctx, conn, "bench.unrouted"); err != nil {
			return Result{}, err
		}
		bodies := bulkBodies("bench.ingest", 16, size)
		var sp *span
		load := &closedLoad{workers: r.opts.Concurrency, warmup: r.opts.Warmup, duration: r.opts.Duration, budget: ingestBudget,
			send: func(ctx context.Context, seq uint64, buf *bytes.Buffer) outcome {
				return r.post(ctx, g.in.bulkURL(), g.in.pubKey, bodies[seq%uint64(len(bodies))], buf, size, false)
			},
			onMeasure: func() { sp = r.begin(ScenarioIngestBulk) }}
		lr := load.run(ctx, r.clock, g.line.meter)
		cpu := r.end(sp)
		out := Result{Scenario: ScenarioIngestBulk,
			Setup: fmt.Sprintf("POST /api/v1/events/bulk, %d events per request (~%d KB), %d clients closed loop; "+
				"1 rule matching none (no deliveries); %s window",
				size, len(bodies[0])/1024, r.opts.Concurrency, lr.window().Round(time.Millisecond)),
			Errors: lr.errorCounts()}
		r.ingestMetrics(&out, &lr, size, cpu)
		return out, nil
	})
	return one(res, err)
}

// ingestMetrics adds an ingest scenario's numbers: events and requests per second, the share
// of each limit, the answer times, the errors and the CPU used.
func (r *runner) ingestMetrics(out *Result, lr *loadResult, perRequest int, cpu cpuUse) {
	events := perSecond(lr.events, lr.window())
	requests := perSecond(lr.requests, lr.window())
	out.add("accepted", events, "events/s")
	if perRequest > 1 {
		out.add("requests", requests, "req/s")
	}
	out.add("of HTTP limit", 100*ratio(requests, r.limits.httpRPS), "%")
	out.add("of store limit", 100*ratio(events, r.limits.storeRows), "%")
	answerMetrics(out, lr)
	out.add("errors", float64(lr.errors), "count")
	out.addCPU(cpu)
}

// answerMetrics adds how long the load's successful requests waited for their answers.
func answerMetrics(out *Result, lr *loadResult) {
	l := summarize(lr.latencies)
	out.add("answer p50", ms(l.P50), "ms")
	out.add("answer p99", ms(l.P99), "ms")
}

// e2eConnections is how many connections e2e-throughput spreads its events over: enough that
// the per-connection concurrency does not cap the engine's workers (512 / 16 = 32 by default).
func (r *runner) e2eConnections() int {
	return max(1, (r.opts.Workers+r.opts.ConnectionConcurrency-1)/r.opts.ConnectionConcurrency)
}

// e2eThroughput measures deliveries completed per second under saturating load: closed-loop
// single-event ingest at --concurrency, each event routed by one rule to one of a few
// connections. After an unmeasured warm-up whose deliveries are drained, the measured phase
// sends for --duration (or until the delivery budget is accepted); the rate is the deliveries
// of those events over the time from the first accept to the last receipt.
func (r *runner) e2eThroughput(ctx context.Context) ([]Result, error) {
	res, err := r.withRig(ctx, ScenarioE2EThroughput, func(g *rig) (Result, error) {
		conns := r.e2eConnections()
		name := func(i int) string { return fmt.Sprintf("bench.e2e.%d", i%conns) }
		if err := g.in.routes(ctx, g.recv, conns, answerOK, 0, "Bench hook", name); err != nil {
			return Result{}, err
		}
		bodies := eventBodiesFor(name, 1024)
		st, lr, cpu, err := r.deliveryLoad(ctx, g, ScenarioE2EThroughput, r.opts.Concurrency, bodies, 1, r.deliveryBudget())
		if err != nil {
			return Result{}, err
		}
		out := Result{Scenario: ScenarioE2EThroughput,
			Setup: fmt.Sprintf("POST /api/v1/events, %d clients closed loop; %d connections (signed webhooks, one local endpoint each), "+
				"1 matching rule per event; sent for %s (budget %d events), then drained",
				r.opts.Concurrency, conns, lr.window().Round(time.Millisecond), r.deliveryBudget()),
			Errors: lr.errorCounts()}
		r.deliveryMetrics(&out, &lr, &st, cpu)
		return out, nil
	})
	if err == nil {
		r.webhookE2E, _ = res.metric("delivered")
	}
	return one(res, err)
}

// ingestDeliveringClients is ingest-delivering's closed-loop client count: the shape in which
// issue 13 set its figure (32 clients, one webhook destination).
const ingestDeliveringClients = 32

// ingestDelivering measures single-event ingest while the events are being delivered: 32
// clients closed loop, every event routed by one rule to one webhook connection with default
// settings (--connection-concurrency attempts in flight). Its figure is the events accepted per
// second in the measured phase, as ingest-single's; beside it stand the deliveries received
// during that phase (and their share of the accepted, "deliveries kept up"), the end-to-end rate
// once drained and the drain itself, so that an ingest rate the one connection does not keep up
// with shows as such.
func (r *runner) ingestDelivering(ctx context.Context) ([]Result, error) {
	res, err := r.withRig(ctx, ScenarioIngestDelivering, func(g *rig) (Result, error) {
		name := func(int) string { return "bench.delivering" }
		if err := g.in.routes(ctx, g.recv, 1, answerOK, 0, "Bench hook", name); err != nil {
			return Result{}, err
		}
		bodies := eventBodies("bench.delivering", 1024)
		st, lr, cpu, err := r.deliveryLoad(ctx, g, ScenarioIngestDelivering, ingestDeliveringClients, bodies, 1, r.deliveryBudget())
		if err != nil {
			return Result{}, err
		}
		out := Result{Scenario: ScenarioIngestDelivering,
			Setup: fmt.Sprintf("POST /api/v1/events, %d clients closed loop, every event routed by 1 rule to 1 connection (signed webhook, "+
				"one local endpoint, default settings: %d attempts in flight); sent for %s (budget %d events), then drained",
				ingestDeliveringClients, r.opts.ConnectionConcurrency, lr.window().Round(time.Millisecond), r.deliveryBudget()),
			Errors: lr.errorCounts()}
		accepted := perSecond(lr.events, lr.window())
		out.add("accepted", accepted, "events/s")
		out.add("of HTTP limit", 100*ratio(accepted, r.limits.httpRPS), "%")
		during := perSecond(st.duringLoad, lr.window())
		out.add("delivered during load", during, "deliveries/s")
		// How much of the ingest the deliveries kept up with: below 100 %, the accepted rate
		// builds a backlog and is not one the connection sustains.
		out.add("deliveries kept up", 100*ratio(during, accepted), "%")
		out.add("delivered", st.rate(), "deliveries/s")
		drainMetrics(&out, &lr, &st)
		answerMetrics(&out, &lr)
		out.add("errors", float64(lr.errors), "count")
		out.addCPU(cpu)
		return out, nil
	})
	return one(res, err)
}

// deliveryLoad runs a delivery scenario's load from clients closed-loop clients, each posting
// bodies: an unmeasured warm-up (its deliveries are waited for, then PostgreSQL's statistics
// gathered, as autovacuum would have by then in a real deployment: instance.analyze), then the
// measured closed-loop phase tracking every accepted event, then the drain. The profiles cover
// the measured phase and the drain.
func (r *runner) deliveryLoad(ctx context.Context, g *rig, label string, clients int, bodies [][]byte, rules int,
	budget int64) (deliveryStats, loadResult, cpuUse, error) {
	send := func(ctx context.Context, seq uint64, buf *bytes.Buffer) outcome {
		return r.post(ctx, g.in.eventsURL(), g.in.pubKey, bodies[seq%uint64(len(bodies))], buf, 1, true)
	}
	return r.deliveryLoadOf(ctx, g, label, clients, send, rules, budget, nil)
}

// deliveryLoadOf is deliveryLoad with the requests made by send
// (its outcomes' ids are what the receiver records). afterWarmup, when not nil, runs once the
// warm-up's deliveries have arrived, just before the measured phase.
func (r *runner) deliveryLoadOf(ctx context.Context, g *rig, label string, clients int, send requestFunc, rules int,
	budget int64, afterWarmup func()) (deliveryStats, loadResult, cpuUse, error) {
	eventBudget := max(1, budget/int64(rules))
	warm := &closedLoad{workers: clients, duration: r.opts.Warmup, budget: max(1, eventBudget/10), send: send}
	before := g.recv.total.Load()
	wr := warm.run(ctx, r.clock, g.line.meter)
	g.line.setPhase("drain")
	waitTotal(ctx, g.recv, before+wr.events*int64(rules), r.opts.DrainTimeout)
	if err := g.in.analyze(ctx); err != nil {
		return deliveryStats{}, loadResult{}, cpuUse{}, err
	}
	if afterWarmup != nil {
		afterWarmup()
	}

	var (
		sp           *span
		receiptsAtT0 int64
	)
	load := &closedLoad{workers: clients, duration: r.opts.Duration, budget: eventBudget, track: true, send: send,
		onMeasure: func() { sp, receiptsAtT0 = r.begin(label), g.recv.total.Load() }}
	lr := load.run(ctx, r.clock, g.line.meter)
	receiptsDuring := g.recv.total.Load() - receiptsAtT0
	g.line.setPhase("drain")
	st := awaitDeliveries(ctx, g.recv, lr.tracked, func(int) int { return rules }, r.opts.DrainTimeout)
	st.duringLoad = receiptsDuring
	return st, lr, r.end(sp), nil
}

// deliveryMetrics adds a delivery scenario's numbers.
func (r *runner) deliveryMetrics(out *Result, lr *loadResult, st *deliveryStats, cpu cpuUse) {
	delivered := st.rate()
	out.add("delivered", delivered, "deliveries/s")
	out.add("accepted", perSecond(lr.events, lr.window()), "events/s")
	out.add("of HTTP limit", 100*ratio(delivered, r.limits.httpRPS), "%")
	out.add("of store limit", 100*ratio(delivered, r.limits.storeRows), "%")
	out.add("deliveries", float64(st.delivered), "count")
	drainMetrics(out, lr, st)
	l := summarize(st.latencies)
	out.add("first delivery p50", ms(l.P50), "ms")
	out.add("first delivery p99", ms(l.P99), "ms")
	out.add("errors", float64(lr.errors), "count")
	out.addCPU(cpu)
}

// drainMetrics adds what waiting for a delivery scenario's deliveries found: those that never
// came, those that came more than once, and how long after the load the last one arrived.
func drainMetrics(out *Result, lr *loadResult, st *deliveryStats) {
	out.add("undelivered", float64(st.expected-st.delivered), "count")
	out.add("duplicates", float64(st.duplicates), "count")
	out.add("drain after load", ms(time.Duration(max(0, st.lastReceipt-lr.t1)))/1000, "s")
}

// waitTotal waits until the receiver has seen n deliveries, or timeout passes, or ctx ends.
func waitTotal(ctx context.Context, recv *receiver, n int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for recv.total.Load() < n && ctx.Err() == nil && time.Now().Before(deadline) {
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

// maxInFlight bounds an open loop's outstanding requests: past it requests are dropped (and
// reported), so that a stalled server cannot make the bench grow without bound.
func (r *runner) maxInFlight() int64 { return int64(max(1024, r.opts.Rate)) }

// e2eLatency measures ingest→delivered latency at a fixed offered rate (open loop): for every
// event sent in the measured window, its delivery's receipt time minus its request's start.
func (r *runner) e2eLatency(ctx context.Context) ([]Result, error) {
	res, err := r.withRig(ctx, ScenarioE2ELatency, func(g *rig) (Result, error) {
		if err := g.in.routes(ctx, g.recv, 1, answerOK, 0, "Bench hook", func(int) string { return "bench.latency" }); err != nil {
			return Result{}, err
		}
		bodies := eventBodies("bench.latency", 1024)
		send := func(ctx context.Context, seq uint64, buf *bytes.Buffer) outcome {
			return r.post(ctx, g.in.eventsURL(), g.in.pubKey, bodies[seq%uint64(len(bodies))], buf, 1, true)
		}
		// The warm-up at the offered rate, its deliveries waited for, then PostgreSQL's
		// statistics, as the closed-loop scenarios have theirs (deliveryLoadOf): without them the
		// first run measured a planner that had never seen the tables (p99 259 ms against 29 and
		// 35 ms for the two runs after it, docs/benchmarks.md).
		before := g.recv.total.Load()
		warm := (&openLoad{rate: float64(r.opts.Rate), duration: r.opts.Warmup, maxInFlight: r.maxInFlight(), send: send}).
			run(ctx, r.clock, g.line.meter)
		g.line.setPhase("drain")
		waitTotal(ctx, g.recv, before+warm.events, r.opts.DrainTimeout)
		if err := g.in.analyze(ctx); err != nil {
			return Result{}, err
		}
		var sp *span
		load := &openLoad{rate: float64(r.opts.Rate), duration: r.opts.Duration, maxInFlight: r.maxInFlight(), track: true,
			send: send, onMeasure: func() { sp = r.begin(ScenarioE2ELatency) }}
		lr := load.run(ctx, r.clock, g.line.meter)
		g.line.setPhase("drain")
		st := awaitDeliveries(ctx, g.recv, lr.tracked, func(int) int { return 1 }, r.opts.DrainTimeout)
		cpu := r.end(sp)
		out := Result{Scenario: ScenarioE2ELatency,
			Setup: fmt.Sprintf("POST /api/v1/events open loop at %d events/s (1 ms pacer, one goroutine per event); 1 connection, "+
				"1 rule; latency = receipt at the endpoint − request start; %s window", r.opts.Rate, lr.window().Round(time.Millisecond)),
			Errors: lr.errorCounts()}
		l := summarize(st.latencies)
		out.add("p50", ms(l.P50), "ms")
		out.add("p95", ms(l.P95), "ms")
		out.add("p99", ms(l.P99), "ms")
		out.add("max", ms(l.Max), "ms")
		out.add("offered", perSecond(lr.issued, lr.window()), "events/s")
		out.add("accepted", float64(lr.events), "count")
		out.add("delivered", float64(st.delivered), "count")
		out.add("undelivered", float64(st.expected-st.delivered), "count")
		answerMetrics(&out, &lr)
		out.add("errors", float64(lr.errors), "count")
		out.add("dropped (client)", float64(lr.dropped), "count")
		out.addCPU(cpu)
		return out, nil
	})
	return one(res, err)
}

// backlogRequests is the backlog scenario's concurrent bulk requests.
const backlogRequests = 4

// backlog measures one busy connection, the common real case (a customer with one endpoint or
// one CRM): --backlog events bulk-emitted (100 per request, a few requests at a time) to one
// webhook connection with the default settings, then delivered. The rate is the deliveries over
// the time from the first request to the last receipt, so it is the connection's ceiling once the
// emit (a fraction of a second) is done.
func (r *runner) backlog(ctx context.Context) ([]Result, error) {
	const size = 100
	res, err := r.withRig(ctx, ScenarioBacklog, func(g *rig) (Result, error) {
		if err := g.in.routes(ctx, g.recv, 1, answerOK, 0, "Bench hook", func(int) string { return "bench.backlog" }); err != nil {
			return Result{}, err
		}
		requests := int64((r.opts.Backlog + size - 1) / size)
		bodies := bulkBodies("bench.backlog", int(min(requests, 16)), size)
		var (
			next, accepted atomic.Int64
			wg             sync.WaitGroup
			mu             sync.Mutex
			failed         collector
		)
		sp := r.begin(ScenarioBacklog)
		t0 := r.clock.now()
		for range backlogRequests {
			wg.Go(func() {
				var buf bytes.Buffer
				for i := next.Add(1) - 1; i < requests && ctx.Err() == nil; i = next.Add(1) - 1 {
					o := r.post(ctx, g.in.bulkURL(), g.in.pubKey, bodies[i%int64(len(bodies))], &buf, size, false)
					if o.err != nil {
						mu.Lock()
						failed.add(o, false)
						mu.Unlock()
						continue
					}
					accepted.Add(o.events)
					g.line.meter.accepted.Add(o.events)
				}
			})
		}
		wg.Wait()
		emitted := r.clock.now()
		g.line.setPhase("drain")
		waitDistinct(ctx, g.recv, accepted.Load(), r.opts.DrainTimeout)
		cpu := r.end(sp)
		delivered, last := g.recv.receipts()
		out := Result{Scenario: ScenarioBacklog,
			Setup: fmt.Sprintf("%d events bulk-emitted (POST /api/v1/events/bulk, %d per request, %d requests at a time) to 1 connection "+
				"(1 rule, one local endpoint, default settings: %d attempts in flight); rate = deliveries / (last receipt − first request)",
				requests*size, size, backlogRequests, r.opts.ConnectionConcurrency),
			Errors: (&loadResult{errs: failed.errs}).errorCounts()}
		rate := 0.0
		if last > t0 {
			rate = perSecond(delivered, time.Duration(last-t0))
		}
		out.add("delivered", rate, "deliveries/s")
		out.add("of HTTP limit", 100*ratio(rate, r.limits.httpRPS), "%")
		out.add("emit", perSecond(accepted.Load(), time.Duration(emitted-t0)), "events/s")
		out.add("accepted", float64(accepted.Load()), "count")
		out.add("undelivered", float64(accepted.Load()-delivered), "count")
		out.add("duplicates", float64(g.recv.total.Load()-delivered), "count")
		out.add("errors", float64(failed.errors), "count")
		out.addCPU(cpu)
		return out, nil
	})
	return one(res, err)
}

// waitDistinct waits until the receiver has seen n distinct events, or timeout passes, or ctx
// ends.
func waitDistinct(ctx context.Context, recv *receiver, n int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if got, _ := recv.receipts(); got >= n {
			return
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

// fanoutWidths are the rule counts fanout measures.
var fanoutWidths = []int{1, 10, 100}

// fanout measures one event routed to 1, 10 and 100 rules, each rule its own connection to its
// own local endpoint: events accepted per second (each insert writes that many deliveries) and
// deliveries completed per second, closed loop like e2e-throughput.
func (r *runner) fanout(ctx context.Context) ([]Result, error) {
	var out []Result
	for _, n := range fanoutWidths {
		variant := fmt.Sprintf("%d rules", n)
		if n == 1 {
			variant = "1 rule"
		}
		label := fmt.Sprintf("%s-%d", ScenarioFanout, n)
		res, err := r.withRig(ctx, label, func(g *rig) (Result, error) {
			if err := g.in.routes(ctx, g.recv, n, answerOK, 0, "Bench hook", func(int) string { return "bench.fanout" }); err != nil {
				return Result{}, err
			}
			bodies := eventBodies("bench.fanout", 1024)
			st, lr, cpu, err := r.deliveryLoad(ctx, g, label, r.opts.Concurrency, bodies, n, r.deliveryBudget())
			if err != nil {
				return Result{}, err
			}
			res := Result{Scenario: ScenarioFanout, Variant: variant,
				Setup: fmt.Sprintf("%d rule(s) on %d connection(s), one endpoint each; %d clients closed loop for %s (budget %d deliveries), then drained",
					n, n, r.opts.Concurrency, lr.window().Round(time.Millisecond), r.deliveryBudget()),
				Errors: lr.errorCounts()}
			r.deliveryMetrics(&res, &lr, &st, cpu)
			return res, nil
		})
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// isolationVariant is one isolation run: the healthy traffic alone, or with bad connections.
type isolationVariant struct {
	name string
	bad  endpointMode
	// hasBad is false for the baseline.
	hasBad bool
}

var isolationVariants = []isolationVariant{
	{name: "baseline"},
	{name: "hang", bad: answerHang, hasBad: true},
	{name: "http-500", bad: answer500, hasBad: true},
}

// Isolation shape: healthy and bad connections, and the bad ones' timeout.
const (
	isolationHealthy = 5
	isolationBad     = 5
	isolationTimeout = 5 // seconds
)

// Event tags in isolation.
const (
	tagHealthy = iota
	tagBad
)

// isolation measures the healthy connections' delivery latency while bad connections hang
// until their 5 s timeout or answer 500, beside a baseline of the same healthy traffic alone.
// Open loop: the healthy load is --rate/2 events/s over 5 healthy connections in every
// variant; the bad variants add --rate/2 events/s over 5 bad connections.
func (r *runner) isolation(ctx context.Context) ([]Result, error) {
	var out []Result
	for _, v := range isolationVariants {
		label := ScenarioIsolation + "-" + v.name
		res, err := r.withRig(ctx, label, func(g *rig) (Result, error) {
			healthy := func(i int) string { return fmt.Sprintf("bench.healthy.%d", i%isolationHealthy) }
			bad := func(i int) string { return fmt.Sprintf("bench.bad.%d", i%isolationBad) }
			if err := g.in.routes(ctx, g.recv, isolationHealthy, answerOK, isolationTimeout, "Healthy", healthy); err != nil {
				return Result{}, err
			}
			rate := float64(r.opts.Rate) / 2
			if v.hasBad {
				if err := g.in.routes(ctx, g.recv, isolationBad, v.bad, isolationTimeout, "Bad", bad); err != nil {
					return Result{}, err
				}
				rate = float64(r.opts.Rate)
			}
			good, poor := eventBodiesFor(healthy, 1000), eventBodiesFor(bad, 1000)
			var sp *span
			load := &openLoad{rate: rate, warmup: r.opts.Warmup, duration: r.opts.Duration, maxInFlight: r.maxInFlight(), track: true,
				send: func(ctx context.Context, seq uint64, buf *bytes.Buffer) outcome {
					if v.hasBad && seq%2 == 0 {
						o := r.post(ctx, g.in.eventsURL(), g.in.pubKey, poor[(seq/2)%uint64(len(poor))], buf, 1, true)
						o.tag = tagBad
						return o
					}
					o := r.post(ctx, g.in.eventsURL(), g.in.pubKey, good[(seq/2)%uint64(len(good))], buf, 1, true)
					o.tag = tagHealthy
					return o
				},
				onMeasure: func() { sp = r.begin(label) }}
			lr := load.run(ctx, r.clock, g.line.meter)
			g.line.setPhase("drain")
			st := awaitDeliveries(ctx, g.recv, lr.tracked, func(tag int) int {
				if tag == tagHealthy {
					return 1
				}
				return 0
			}, r.opts.DrainTimeout)
			cpu := r.end(sp)
			setup := fmt.Sprintf("open loop, %.0f events/s to %d healthy connections", float64(r.opts.Rate)/2, isolationHealthy)
			if v.hasBad {
				what := map[endpointMode]string{answerHang: "hang until their 5 s timeout", answer500: "answer 500"}[v.bad]
				setup += fmt.Sprintf(" + %.0f events/s to %d connections that %s", float64(r.opts.Rate)/2, isolationBad, what)
			}
			res := Result{Scenario: ScenarioIsolation, Variant: v.name,
				Setup:  setup + fmt.Sprintf("; healthy latency = receipt − request start; %s window", lr.window().Round(time.Millisecond)),
				Errors: lr.errorCounts()}
			l := summarize(st.latencies)
			res.add("p50", ms(l.P50), "ms")
			res.add("p99", ms(l.P99), "ms")
			res.add("max", ms(l.Max), "ms")
			if v.hasBad {
				res.add("bad endpoint requests (all phases)", float64(g.recv.hits[v.bad].Load()), "count")
			}
			res.add("healthy delivered", float64(st.delivered), "count")
			res.add("healthy undelivered", float64(st.expected-st.delivered), "count")
			res.add("errors", float64(lr.errors), "count")
			res.addCPU(cpu)
			return res, nil
		})
		if err != nil {
			return out, err
		}
		if v.hasBad && len(out) > 0 {
			// Beside the baseline of the same run.
			p50, _ := res.metric("p50")
			p99, _ := res.metric("p99")
			b50, _ := out[0].metric("p50")
			b99, _ := out[0].metric("p99")
			res.add("p50 vs baseline", ratio(p50, b50), "×")
			res.add("p99 vs baseline", ratio(p99, b99), "×")
			for _, name := range []string{"bad endpoint requests (all phases)", "healthy delivered", "healthy undelivered", "errors",
				"process CPU", "postgres CPU", "other CPU", "attempts"} {
				res.moveLast(name)
			}
		}
		out = append(out, res)
	}
	return out, nil
}
