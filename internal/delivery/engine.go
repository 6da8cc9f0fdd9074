// Package delivery is the delivery engine: it claims due deliveries from the store with a lease,
// fairly across connections, runs each through its connection's adapter, records the attempt,
// and schedules retries with backoff. Adapters only report outcomes; every retry, pause and
// circuit decision is made here (docs/conventions.md §5). docs/delivery.md explains the whole design.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Config configures an Engine. Zero values take the documented defaults.
type Config struct {
	Store        store.Store
	Integrations *destination.Registry
	// Box opens connections' secret fields for the adapters.
	Box *secret.Box
	// Options are passed to every integration's constructor.
	Options destination.Options
	// Tokens gives OAuth integrations their connections' managed credentials (nil: none).
	Tokens  TokenProvider
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Workers is how many attempts may be in flight at once (default 512). Attempts mostly wait
	// on the network, so this is a bound on memory and sockets, not on CPU; it is large so that
	// connections that hang until their timeout, each capped by its own concurrency, cannot use
	// up the workers the healthy ones need.
	Workers int
	// ConnectionConcurrency is how many attempts one connection may have in flight on this
	// node unless its max_concurrency says otherwise (default 16).
	ConnectionConcurrency int
	// PollInterval is how often the engine looks for due work when nothing wakes it (default 1 s).
	PollInterval time.Duration
	// Lease is how long a claimed delivery stays reserved for its claimer (default 2 min; it
	// must exceed the longest connection timeout, 60 s). A delivery whose claimer died becomes
	// due again when its lease runs out.
	Lease time.Duration
	// Schedule is the wait before each retry (default DefaultSchedule), unless the connection's
	// retry_schedule says otherwise.
	Schedule []time.Duration
	// InternalRetry is the wait after a failure on Switchyard's own side (default 30 s).
	InternalRetry time.Duration
	// BreakerThreshold is how many consecutive failures (timeouts, network errors, 5xx) open a
	// connection's circuit (default 5); BreakerCooldown the first open period (default 30 s),
	// doubling after each failed probe up to BreakerMaxCooldown (default 10 min).
	BreakerThreshold   int
	BreakerCooldown    time.Duration
	BreakerMaxCooldown time.Duration
	// ShutdownGrace is how long Run waits for attempts in flight when it stops (default 20 s);
	// attempts still running then are abandoned and their deliveries handed back, due at once.
	ShutdownGrace time.Duration
	// WakeDelay is how long the engine waits after being woken by new events before claiming,
	// so that events accepted meanwhile are claimed together (default 3 ms).
	WakeDelay time.Duration
	// RecordWriters is how many transactions may record outcomes at once (default 1, right for
	// SQLite's one writer; more suit PostgreSQL).
	RecordWriters int
	// SharedLimits makes every connection's concurrency, rate limit, 429 pause and circuit hold
	// for all the nodes on the store instead of per node (shared.go): right for PostgreSQL with
	// several nodes; SQLite has one node per file and keeps them in memory (default false).
	SharedLimits bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&c.Workers, 512)
	setDefault(&c.ConnectionConcurrency, 16)
	setDefault(&c.PollInterval, time.Second)
	setDefault(&c.Lease, 2*time.Minute)
	setDefault(&c.InternalRetry, 30*time.Second)
	setDefault(&c.BreakerThreshold, 5)
	setDefault(&c.BreakerCooldown, 30*time.Second)
	setDefault(&c.BreakerMaxCooldown, 10*time.Minute)
	setDefault(&c.ShutdownGrace, 20*time.Second)
	setDefault(&c.RecordWriters, 1)
	setDefault(&c.WakeDelay, 3*time.Millisecond)
	if c.Schedule == nil {
		c.Schedule = DefaultSchedule
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Engine delivers due deliveries until its context ends.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	ctl  *controller
	wake chan struct{}
	// senders holds each connection value's provisioned sender (see senders.go).
	senders *senders
	// cluster is the last list of the cluster's pauses and circuits (SharedLimits; shared.go).
	cluster clusterView
	// settled (SharedLimits) holds the deliveries finished here whose outcomes are not yet
	// written, which the claim must not count as holding a slot (DeliveryClaimParams.Settled).
	settled *settledSet
	// recheck (shared limits) is the earliest time a connection left out of the claims for
	// the cluster's saturation is to be looked at again; only the Run loop uses it.
	recheck time.Time
	// swept is when a claim last looked past the connections its predecessor filled, and
	// sweepGap how long until the next may (see sweepEvery); only the Run loop touches them.
	swept    time.Time
	sweepGap time.Duration
	// sweepAfter is where the next sweep's walk of the connections starts (store.DeliveryClaimParams.SweepAfter).
	sweepAfter uuid.UUID
	// ahead holds the deliveries claimed for connections whose every slot is busy (ahead.go).
	ahead *aheadQueue
}

// New builds an engine and the provisioners of every registered integration.
func New(cfg Config) *Engine {
	cfg.setDefaults()
	e := &Engine{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1),
		ctl: newController(cfg.ConnectionConcurrency, cfg.Schedule,
			breakerConfig{threshold: cfg.BreakerThreshold, cooldown: cfg.BreakerCooldown, maxCooldown: cfg.BreakerMaxCooldown},
			cfg.Metrics),
		senders: newSenders(cfg.Store, cfg.Integrations, cfg.Box, cfg.Options, cfg.Tokens), ahead: newAheadQueue()}
	e.ctl.shared = cfg.SharedLimits
	if cfg.SharedLimits {
		e.settled = &settledSet{ids: map[uuid.UUID]struct{}{}}
	}
	return e
}

// Wake asks the engine to look for due work now. It never blocks.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run claims and delivers until ctx is canceled. Then it stops claiming, lets the attempts in
// flight finish for up to ShutdownGrace, hands back those that do not, and writes every outcome
// before it returns.
func (e *Engine) Run(ctx context.Context) error {
	// hard ends the attempts still running when the grace period is over.
	hard, abandon := context.WithCancel(context.Background())
	defer abandon()
	rec := newRecorder(e.cfg.Store, e.log, 256, e.cfg.RecordWriters, e.settled)
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, e.cfg.Workers)
		done = make(chan struct{}, 1) // a worker finished: there is room again
		// idle hands a claimed delivery to a worker that is waiting for one (workerIdle).
		idle = make(chan *store.Claimed)
	)
	// work attempts c, then what was claimed ahead for its connection, in the slot c took; then
	// it waits up to workerIdle for another delivery to attempt.
	work := func(c *store.Claimed) {
		wait := time.NewTimer(workerIdle)
		defer wait.Stop()
		for {
			// Then what was claimed ahead for the connection, in this worker's slot.
			for c != nil {
				r, succ := e.attempt(hard, c)
				rec.add(r)
				if e.cfg.SharedLimits {
					c = e.handOver(succ)
				} else {
					c = e.next(c.Connection.ID)
				}
			}
			<-sem
			select {
			case done <- struct{}{}:
			default:
			}
			wait.Reset(workerIdle)
			select {
			case c = <-idle: // its slot taken by launch
			case <-wait.C:
				return
			case <-ctx.Done():
				return
			}
		}
	}
	launch := func(c *store.Claimed) {
		sem <- struct{}{}
		select {
		case idle <- c:
		default:
			wg.Go(func() { work(c) })
		}
	}
	if e.cfg.Metrics != nil {
		wg.Go(func() { e.sampleQueue(ctx) })
	}
	wg.Go(func() { e.pruneSenders(ctx) })
	wg.Go(func() { every(ctx, parkEvery, func() { e.park(ctx) }) })
	if e.cfg.SharedLimits {
		wg.Go(func() { e.followCluster(ctx) })
	}
	ticker := time.NewTicker(e.cfg.PollInterval)
	defer ticker.Stop()
	coalesce := time.NewTimer(0)
	<-coalesce.C
	recheck := time.NewTimer(time.Hour)
	defer recheck.Stop()
	for ctx.Err() == nil {
		want := min(cap(sem)-len(sem), maxClaimBatch)
		claimed := 0
		if want > 0 {
			claimed = e.claim(ctx, want, launch, rec)
		}
		if claimed > 0 && claimed == want {
			// A full batch: there is probably more due work. Claim again at once if a worker
			// is free, else as soon as one is.
			if len(sem) < cap(sem) {
				continue
			}
			select {
			case <-ctx.Done():
			case <-done:
			}
			continue
		}
		if !e.recheck.IsZero() {
			// A connection saturated on the cluster: another node's finish is noticed here.
			recheck.Reset(max(0, e.recheck.Sub(e.cfg.Now())))
			e.recheck = time.Time{}
		}
		select {
		case <-ctx.Done():
		case <-recheck.C:
		case <-e.wake:
			// New events: give the ones accepted in the next moment the chance to join this
			// claim. One claim of many costs far less than many claims of one. But a slot freed
			// on a busy connection meanwhile ends the wait: under steady ingest the engine is
			// woken all the time, and a freed slot left idle for the delay held one busy
			// connection's deliveries a fifth below its ingest (docs/benchmarks.md).
			coalesce.Reset(e.cfg.WakeDelay)
			select {
			case <-ctx.Done():
			case <-coalesce.C:
			case <-e.ctl.freed:
				coalesce.Stop()
			}
		case <-e.ctl.freed:
		case <-ticker.C:
		}
	}

	// What was claimed ahead goes back at once, for another node or the next start.
	e.handBack(e.ahead.close(), e.cfg.Now())
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(e.cfg.ShutdownGrace):
		e.log.Warn("shutdown grace period over; handing back the deliveries still in flight")
		abandon()
		<-finished
	}
	rec.close()
	e.senders.close()
	return nil
}

// senderIdle is how long a connection's provisioned sender is kept without an attempt.
const senderIdle = 10 * time.Minute

// pruneSenders drops the senders of connections that have had no attempt for senderIdle, once
// a minute, so that the cache holds the connections in use, not every connection ever seen.
func (e *Engine) pruneSenders(ctx context.Context) {
	every(ctx, time.Minute, func() {
		now := e.cfg.Now()
		e.senders.prune(now.Add(-senderIdle))
		e.ctl.prune(now, now.Add(-senderIdle)) // and the controller's idle, healthy connections
	})
}

// every calls fn every d until ctx ends (the first time after d).
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// workerIdle is how long a worker whose attempts are done waits for another claimed delivery
// before it ends. A worker that goes on saves starting a goroutine for each attempt and growing
// its stack to what an HTTP request needs each time: about 2 % of the CPU of e2e-throughput, where
// most attempts had a goroutine of their own (docs/benchmarks.md).
const workerIdle = time.Second

// maxClaimBatch bounds one claim, so that claims stay short however many workers are free.
const maxClaimBatch = 128

// claimWindow is how many of the oldest due deliveries a claim chooses among: 16 for each
// connection active on this node and one more (a connection not seen yet), so at least 32 (the
// store bounds it by its default, store.DeliveryClaimParams.Window). Reading and numbering the
// candidates is most of a claim's cost, and a claim made because one busy connection freed a
// slot needs few: with the default of 1,024 one connection spent half its CPU there, and a floor
// of 64 instead of 32 still cost it 5–13 % of its deliveries/s on SQLite. A connection the window
// misses is reached by the sweep (sweepEvery) and is active from then on.
func claimWindow(active int) int {
	return 16 * (max(active, 1) + 1)
}

// sweepEvery is how often, at most, a claim that busy connections filled, or that left some
// out, is followed by a sweep. A claim reads a bounded window of the oldest due deliveries (and
// reads past those of the connections it leaves out only so far); one connection's backlog can
// fill that, and the claims made as its slots free would then never reach other connections'
// due work until that backlog drained. A sweep walks a bounded number of connections instead
// (store.DeliveryClaimParams.Sweep), each time from where the last stopped: another connection
// waits about this long behind a busy one, longer only when more than store.SweepConnections
// connections have deliveries queued. A sweep that finds nothing doubles the gap to the next,
// up to maxSweepGap: with one busy connection and no other (the common case) sweeping every
// 50 ms cost it about 10 % of its throughput on SQLite.
const (
	sweepEvery  = 50 * time.Millisecond
	maxSweepGap = 400 * time.Millisecond
)

// claim starts (via launch) what was claimed ahead for connections that have a free slot again,
// then leases due deliveries up to free in all and starts those whose connection may take
// another attempt now, keeping ahead those of connections whose every slot is busy. It returns
// how many it started from the queue and claimed (launched, kept, settled or handed back).
func (e *Engine) claim(ctx context.Context, free int, launch func(*store.Claimed), rec *recorder) int {
	if ctx.Err() != nil {
		return 0
	}
	// The claim must not be abandoned half-way by a shutdown: a claim the database committed
	// but whose commit the driver reported as canceled would leave rows leased to no one until
	// the lease expired. So store calls here ignore ctx's cancellation (bounded by a timeout).
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	started := e.startAhead(launch, free)
	if free -= started; free <= 0 {
		return started
	}
	now := e.cfg.Now()
	kept := e.ahead.lengths()
	exclude, recheck := e.ctl.blocked(now, kept)
	e.recheckAt(recheck)
	var full []uuid.UUID
	perConn := e.cfg.ConnectionConcurrency
	if !e.cfg.SharedLimits {
		perConn *= 1 + aheadDepth // its slots and what may be claimed ahead (ahead.go)
	}
	room, ahead, active := e.ctl.room(now, perConn, kept)
	var vacated map[uuid.UUID]int
	cp := store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(e.cfg.Lease),
		Limit: free, PerConnection: perConn, Exclude: exclude, Room: room, Window: claimWindow(active),
		Full: func(id uuid.UUID) {
			full = append(full, id)
			e.ctl.claimedFull(id)
		}}
	if e.cfg.SharedLimits {
		cp.Shared, cp.Ahead = true, ahead
		cp.Settled = func() []uuid.UUID {
			// The settled deliveries first, then those kept: a slot handed over takes its
			// delivery out of the queue before the finished one is settled (attempt), so that a
			// claim never finds both uncounted. Then the slots vacated so far (vacate), after
			// the settled list, as attempt counts a vacated slot before it settles its delivery:
			// a finish is then either settled in the list or vacated after the count, never
			// both.
			out := append(e.settled.list(), e.ahead.ids()...)
			vacated = e.ctl.vacatedOf(ahead)
			return out
		}
		cp.Blocked = func(id uuid.UUID, until time.Time) {
			e.ctl.sharedBlocked(id, until, now)
			e.recheckAt(until)
		}
	}
	work, err := e.cfg.Store.DeliveryClaim(sctx, cp)
	if err != nil {
		e.log.Error("claiming deliveries", slog.Any("error", err))
		return 0
	}
	if len(work) < free && len(full)+len(exclude) > 0 && now.Sub(e.swept) >= e.sweepGap {
		// The connections this claim filled or left out may have hidden others' due work
		// (sweepEvery).
		e.swept = now
		cp.Limit, cp.Exclude = free-len(work), append(slices.Clone(exclude), full...)
		cp.Sweep, cp.SweepAfter, cp.Swept = true, e.sweepAfter, func(last uuid.UUID) { e.sweepAfter = last }
		more, err := e.cfg.Store.DeliveryClaim(sctx, cp)
		if err != nil {
			e.log.Error("claiming deliveries", slog.Any("error", err))
		}
		if len(more) > 0 {
			e.sweepGap = sweepEvery
		} else {
			e.sweepGap = min(max(2*e.sweepGap, sweepEvery), maxSweepGap)
		}
		work = append(work, more...)
	}
	if e.log.Enabled(ctx, slog.LevelDebug) {
		e.log.Debug("claim", slog.Int("want", free), slog.Int("claimed", len(work)), slog.Int("excluded", len(exclude)))
	}
	var (
		giveBack []*store.Claimed
		// credit is, per connection, how many of its slots on this node were vacated with no
		// hand-over while the claim ran (shared limits): the claim counted them as taken, so
		// as many deliveries it took ahead may start in them now.
		credit map[uuid.UUID]int
	)
	if vacated != nil {
		cur := e.ctl.vacatedOf(ahead)
		credit = make(map[uuid.UUID]int, len(vacated))
		for id, n := range vacated {
			credit[id] = cur[id] - n
		}
		// What the claim lets start now comes first; what it took ahead, after.
		slices.SortStableFunc(work, func(a, b *store.Claimed) int {
			switch {
			case a.Ahead == b.Ahead:
				return 0
			case b.Ahead:
				return -1
			}
			return 1
		})
	}
	for _, c := range work {
		switch {
		case c.Rule == nil || c.Connection == nil || !c.Connection.Active:
			rec.add(e.unattemptable(c))
		case c.Ahead && credit[c.Connection.ID] > 0 && e.ctl.take(c.Connection, now, false):
			credit[c.Connection.ID]--
			launch(c)
		case c.Ahead:
			// Beyond the cluster's budget (shared limits): it starts only in a slot one of this
			// node's attempts of the connection hands over (handOver).
			if !e.ahead.push(c, now, e.ctl.claimsAhead(c.Connection, now)) {
				giveBack = append(giveBack, c)
			}
		case e.ctl.take(c.Connection, now, c.Probe):
			launch(c)
		case e.ahead.push(c, now, e.ctl.claimsAhead(c.Connection, now)):
			// Every slot busy: kept to start as one frees (ahead.go).
		default:
			// Over this connection's budget (the claim's per-connection cap is coarser than the
			// controller's): hand it back, due at once; the next claim skips the connection.
			giveBack = append(giveBack, c)
		}
	}
	e.handBack(giveBack, now)
	return started + len(work)
}

// handBack releases claimed deliveries that will not be attempted here, due at once (each
// only while its lease holds). A failure is logged: their leases run out in time and they are
// claimed again then.
func (e *Engine) handBack(claims []*store.Claimed, now time.Time) {
	if len(claims) == 0 {
		return
	}
	refs := make([]store.ClaimRef, len(claims))
	for i, c := range claims {
		refs[i] = store.ClaimRef{DeliveryID: c.Delivery.ID, LeaseUntil: c.LeaseUntil}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.cfg.Store.DeliveryRelease(ctx, store.DeliveryReleaseParams{Claims: refs, DueAt: now, Now: now}); err != nil {
		e.log.Error("handing back deliveries", slog.Int("count", len(refs)), slog.Any("error", err))
	}
}

// Parking (controller.toPark): a stuck connection (every slot busy, nothing finished for
// stuckAfter) has what comes due deferred by parkFor; open circuits and long 429 pauses have it
// deferred until they end. Each is looked at again every parkRecheck.
const (
	stuckAfter  = 500 * time.Millisecond
	parkFor     = 5 * time.Second
	parkRecheck = 200 * time.Millisecond
)

// parkEvery is how often the engine parks (park) what blocked connections have due, in a
// goroutine beside the claim loop rather than in it: each park is a statement per connection,
// and on PostgreSQL, with five open circuits re-parked every parkRecheck, those statements held
// up the claims of the healthy connections by milliseconds at a time (docs/benchmarks.md).
const parkEvery = 50 * time.Millisecond

// park defers the due deliveries of connections that cannot take an attempt for a while (see
// controller.toPark), so that claims need not skip over them. No attempt is used up.
func (e *Engine) park(ctx context.Context) {
	now := e.cfg.Now()
	for _, p := range e.ctl.toPark(now, stuckAfter, parkFor, parkRecheck) {
		n, err := e.cfg.Store.DeliveryDefer(context.WithoutCancel(ctx), store.DeliveryDeferParams{
			ConnectionID: p.id, Until: p.until, DueBy: now, Now: now})
		if err != nil {
			e.log.Error("parking a blocked connection's deliveries", slog.Any("error", err))
		} else if n > 0 {
			e.log.Debug("connection blocked: its due deliveries are parked", slog.String("connection_id", p.id.String()),
				slog.Int("deliveries", n), slog.Time("until", p.until))
		}
	}
}

// recheckAt asks the Run loop to claim again at t at the latest (zero: nothing to ask).
func (e *Engine) recheckAt(t time.Time) {
	if !t.IsZero() && (e.recheck.IsZero() || t.Before(e.recheck)) {
		e.recheck = t
	}
}

// unattemptable settles a delivery that can no longer be attempted, without an attempt.
func (e *Engine) unattemptable(c *store.Claimed) store.DeliveryRecordParams {
	rec := store.DeliveryRecordParams{DeliveryID: c.Delivery.ID, EventID: c.Delivery.EventID, LeaseUntil: c.LeaseUntil, Now: e.cfg.Now()}
	switch {
	case c.Rule == nil:
		rec.Status, rec.LastError = switchyard.StatusCanceled, "The rule was deleted before the delivery was attempted."
	case c.Connection == nil:
		rec.Status, rec.LastError = switchyard.StatusCanceled, "The connection was deleted before the delivery was attempted."
	default:
		rec.Status, rec.LastError = switchyard.StatusFailed, "The connection is inactive ("+c.Connection.InactiveReason+")."
	}
	return rec
}

// attemptLog is an attempt's logger, which says which delivery and event it is about. It is made
// the first time the attempt logs something: most log nothing, and making it for each (the two
// ids formatted, the handler's attributes copied) was about 1 % of the e2e benchmark's CPU.
type attemptLog struct {
	base *slog.Logger
	d    *switchyard.Delivery
	l    *slog.Logger
}

func (a *attemptLog) get() *slog.Logger {
	if a.l == nil {
		a.l = a.base.With(slog.String("delivery_id", a.d.ID.String()), slog.String("event_id", a.d.EventID.String()))
	}
	return a.l
}

// attempt makes one attempt at a claimed delivery (whose connection slot is held) and returns
// its outcome to record. With shared limits it also returns the delivery kept ahead for the
// connection that is to take over the slot (handOver), if any.
func (e *Engine) attempt(hard context.Context, c *store.Claimed) (store.DeliveryRecordParams, *aheadItem) {
	d := c.Delivery
	log := &attemptLog{base: e.log, d: d}
	rec := store.DeliveryRecordParams{DeliveryID: d.ID, EventID: d.EventID, LeaseUntil: c.LeaseUntil,
		EventTotalRules: c.Event.TotalRules}
	outcome, attempted, retryAfter := e.deliver(hard, c, &rec, log)
	rec.Now = e.cfg.Now()
	var succ *aheadItem
	if e.cfg.SharedLimits {
		// Out of the queue before this delivery counts as settled: a claim reads the settled
		// ones first, then those kept (Engine.claim), and so finds one of the two still counted.
		if it, ok := e.ahead.pop(c.Connection.ID); ok {
			succ = &it
		} else {
			e.ctl.vacate(c.Connection.ID)
		}
	}
	// Before the slot is released (which may start a claim at once): the claim must already
	// know that this lease no longer holds a slot.
	e.settled.add(d.ID)
	until := e.ctl.release(c.Connection.ID, outcome, attempted, retryAfter, e.ahead.length(c.Connection.ID), rec.Now)
	if e.cfg.SharedLimits {
		until = e.shareOutcome(c, outcome, attempted, retryAfter, until, rec.Now, log)
	}
	if !until.IsZero() {
		log.get().Warn("circuit opened: deferring the connection's waiting deliveries", slog.String("connection_id", c.Connection.ID.String()),
			slog.Time("until", until))
		// Only what is due now: what comes due during the cool-down (deliveries parked while
		// the connection was stuck, retries) is parked as it comes due (see park), instead of
		// all at once here — a hanging connection's whole backlog, moved in one burst of large
		// UPDATEs just as its timeout wave is being recorded, was the isolation bench's tail.
		if _, err := e.cfg.Store.DeliveryDefer(context.Background(), store.DeliveryDeferParams{
			ConnectionID: c.Connection.ID, Until: until, DueBy: rec.Now, Now: rec.Now}); err != nil {
			log.get().Error("deferring deliveries", slog.Any("error", err))
		}
	}
	return rec, succ
}

// deliver runs the adapter and fills rec with the attempt and the delivery's next state. It
// reports the outcome, whether an attempt was really made, and the destination's Retry-After.
func (e *Engine) deliver(hard context.Context, c *store.Claimed, rec *store.DeliveryRecordParams,
	log *attemptLog) (switchyard.Outcome, bool, time.Duration) {
	d := c.Delivery
	p, err := e.senders.acquire(hard, c.Connection, e.cfg.Now())
	switch {
	case errors.Is(err, errUnknownIntegration):
		rec.Status, rec.LastError = switchyard.StatusFailed, "This server has no "+d.IntegrationType+" integration."
		return switchyard.OutcomeInternalError, false, 0
	case err != nil:
		// Our failure, not the destination's: retry later without using up an attempt.
		log.get().Error("provisioning the connection", slog.Any("error", err))
		e.internalRetry(rec, d, "Switchyard could not prepare the connection (its secrets or credentials).", e.cfg.InternalRetry)
		return switchyard.OutcomeInternalError, false, 0
	}
	defer e.senders.release(p)
	conn := *c.Connection
	if rl, ok := p.sender.(destination.RateLimited); ok {
		name, perSecond, burst := rl.RateLimit()
		if override := e.cfg.Options.Apps[c.Connection.Type].RateLimit; override != nil {
			perSecond, burst = *override, max(1, int(*override))
		}
		e.ctl.setScope(c.Connection, name, perSecond, burst)
	}

	start := e.cfg.Now()
	var res destination.Result
	if p.invalid != nil {
		res = destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: p.invalid.Message}
	} else {
		// The sender bounds the call by the connection's own timeout; this outer bound only
		// guards against a sender that forgets to (and bounds a catalog load for a generated
		// mapping). hard is canceled when a shutdown's grace period ends.
		ctx, cancel := context.WithTimeout(hard, e.cfg.Lease/2)
		action, _ := c.Rule.Metadata["action"].(string)
		req := &destination.Request{DeliveryID: d.ID, Attempt: d.AttemptCount + 1, Event: c.Event,
			Rule: c.Rule, Connection: p.conn, SentAt: start, Action: action}
		failed, warnings := prepare(ctx, p.fields, c.Rule, c.Event, req, start)
		if failed != nil {
			res = *failed
		} else {
			res = p.sender.Deliver(ctx, req)
			res.Message = withWarnings(res.Message, warnings)
		}
		cancel()
	}
	end := e.cfg.Now()

	if hard.Err() != nil {
		// Abandoned at shutdown: hand the delivery back, due at once, with no attempt counted.
		e.internalRetry(rec, d, "The attempt was interrupted by a shutdown.", 0)
		return switchyard.OutcomeInternalError, false, 0
	}
	if res.Outcome == switchyard.OutcomeInternalError {
		log.get().Error("adapter failed on our side", slog.String("message", res.Message))
		e.internalRetry(rec, d, res.Message, e.cfg.InternalRetry)
		return res.Outcome, false, 0
	}
	e.cfg.Metrics.Attempt(string(res.Outcome), end.Sub(start))
	rec.Attempt = &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: d.ID, EventID: d.EventID,
		Number: d.AttemptCount + 1, StartedAt: start, CompletedAt: end, Outcome: res.Outcome, HTTPStatus: res.HTTPStatus,
		Message: res.Message, ResponseExcerpt: res.Response}
	switch {
	case res.Outcome == switchyard.OutcomeDelivered:
		rec.Status = switchyard.StatusCompleted
		e.cfg.Metrics.Delivered(end.Sub(c.Event.CreatedAt))
	case res.Outcome.Retryable():
		rec.LastError = res.Message
		if wait, ok := retryDelay(e.ctl.scheduleOf(c.Connection), rec.Attempt.Number, res.RetryAfter); ok {
			next := end.Add(wait)
			rec.Status, rec.NextAttemptAt = switchyard.StatusRetrying, &next
		} else {
			rec.Status = switchyard.StatusFailed
			rec.LastError = fmt.Sprintf("%s (gave up after %d attempts)", res.Message, rec.Attempt.Number)
		}
	default:
		rec.Status, rec.LastError = switchyard.StatusFailed, res.Message
	}
	if res.Outcome == switchyard.OutcomeRateLimited && res.RateLimitScope != "" {
		// The provider's limit is its account's, not this connection's: every connection to
		// the account waits (at least a second, at most an hour).
		e.ctl.pauseScope(res.RateLimitScope, end.Add(min(max(res.RetryAfter, time.Second), time.Hour)))
		if e.cfg.SharedLimits {
			e.sharePause(store.LimitKeyScope(res.RateLimitScope), end.Add(min(max(res.RetryAfter, time.Second), time.Hour)), end, log)
		}
	}
	if res.Deactivate != "" {
		if err := e.cfg.Store.ConnectionDeactivate(context.Background(), store.ConnectionDeactivateParams{
			ConnectionID: conn.ID, Reason: res.Deactivate, Now: end}); err != nil {
			log.get().Error("deactivating connection", slog.Any("error", err))
		} else {
			log.get().Warn("connection deactivated", slog.String("connection_id", conn.ID.String()), slog.String("reason", res.Deactivate))
		}
	}
	return res.Outcome, true, res.RetryAfter
}

// internalRetry hands the delivery back after a failure on Switchyard's side, due after wait,
// recording no attempt so the customer's attempt budget is untouched.
func (e *Engine) internalRetry(rec *store.DeliveryRecordParams, d *switchyard.Delivery, msg string, wait time.Duration) {
	next := e.cfg.Now().Add(wait)
	rec.Status, rec.NextAttemptAt, rec.LastError = switchyard.StatusRetrying, &next, msg
	if d.AttemptCount == 0 {
		rec.Status = switchyard.StatusPending
	}
}

// sampleQueue reports the queue depth and the age of the oldest due delivery every few seconds.
func (e *Engine) sampleQueue(ctx context.Context) {
	sample := func() {
		now := e.cfg.Now()
		if s, err := e.cfg.Store.DeliveryQueueStats(ctx, store.DeliveryQueueStatsParams{Now: now}); err == nil {
			age := time.Duration(0)
			if s.OldestDue != nil {
				age = now.Sub(*s.OldestDue)
			}
			e.cfg.Metrics.Queue(s.Due, age)
		}
	}
	sample()
	every(ctx, 5*time.Second, sample)
}
