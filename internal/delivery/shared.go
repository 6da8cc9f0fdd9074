package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Limits across nodes (Config.SharedLimits; docs/delivery.md, "Limits across nodes").
//
// The claim enforces each connection's concurrency, rate budget, 429 pause and open circuit for
// the whole cluster (store.DeliveryClaimParams.Shared). What a node learns from an attempt is
// written where every claim reads it: a 429's pause, a circuit that opens after consecutive
// failures, and the outcome of the cluster's one half-open probe. Every node follows the
// cluster's pauses and circuits (followCluster) to leave blocked connections out of its claims,
// park their deliveries, and report them (Health, the circuit metric).

// clusterFollow is how often a node reads the cluster's pauses and circuits.
const clusterFollow = 200 * time.Millisecond

// sharedWriteTimeout bounds one write of a limit.
const sharedWriteTimeout = 5 * time.Second

// clusterStale is how old a followed view of the cluster's pauses and circuits may be for Health:
// older (the engine stopped, or the store is slow to answer), Health reads them afresh.
const clusterStale = 5 * clusterFollow

// clusterView is the last list of the cluster's pauses and circuits.
type clusterView struct {
	mu     sync.Mutex
	states []store.LimitState
	at     time.Time // when states were read (the wall clock: Config.Now may be a test's); zero: never
}

func (v *clusterView) set(states []store.LimitState) {
	v.mu.Lock()
	v.states, v.at = states, time.Now()
	v.mu.Unlock()
}

// get returns the last list read, and whether it is at most clusterStale old.
func (v *clusterView) get() ([]store.LimitState, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.states, !v.at.IsZero() && time.Since(v.at) <= clusterStale
}

// followCluster reads the cluster's pauses and circuits every clusterFollow until ctx ends.
func (e *Engine) followCluster(ctx context.Context) {
	follow := func() {
		states, err := e.cfg.Store.LimitList(ctx, store.LimitListParams{Now: e.cfg.Now()})
		switch {
		case err != nil && ctx.Err() == nil:
			e.log.Error("reading the cluster's connection limits", slog.Any("error", err))
		case err == nil:
			e.ctl.syncShared(states)
			e.cluster.set(states)
		}
	}
	follow()
	every(ctx, clusterFollow, follow)
}

// shareOutcome writes what an attempt taught this node about its connection where every node's
// claim reads it, and returns until when the connection's waiting deliveries should be deferred
// (zero for none). opened is the controller's answer: this node counted enough consecutive
// failures to open the circuit.
func (e *Engine) shareOutcome(c *store.Claimed, outcome switchyard.Outcome, attempted bool, retryAfter time.Duration,
	opened, now time.Time, log *attemptLog) time.Time {
	id := c.Connection.ID
	if attempted && outcome == switchyard.OutcomeRateLimited {
		// As the controller pauses itself: what the destination asked, 1 s to 1 min.
		e.sharePause(store.LimitKeyConnection(id), now.Add(min(max(retryAfter, time.Second), time.Minute)), now, log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedWriteTimeout)
	defer cancel()
	switch {
	case c.Probe && !attempted:
		// The probe never ran (our failure): another, at once, on whichever node claims next.
		if err := e.cfg.Store.CircuitClose(ctx, store.CircuitCloseParams{ConnectionID: id, Reprobe: true, Now: now}); err != nil {
			log.get().Error("handing back the circuit's probe", slog.Any("error", err))
		}
		return time.Time{}
	case c.Probe && breakerFailure(outcome):
		res, err := e.cfg.Store.CircuitOpen(ctx, store.CircuitOpenParams{ConnectionID: id, Cooldown: e.cfg.BreakerCooldown,
			MaxCooldown: e.cfg.BreakerMaxCooldown, Probe: true, Now: now})
		if err != nil {
			log.get().Error("reopening the circuit", slog.Any("error", err))
			return time.Time{}
		}
		e.ctl.sharedOpened(id, res.OpenUntil)
		return res.OpenUntil
	case c.Probe:
		// The destination answered: healthy again, for every node.
		if err := e.cfg.Store.CircuitClose(ctx, store.CircuitCloseParams{ConnectionID: id, Now: now}); err != nil {
			log.get().Error("closing the circuit", slog.Any("error", err))
		}
		return time.Time{}
	case !opened.IsZero():
		res, err := e.cfg.Store.CircuitOpen(ctx, store.CircuitOpenParams{ConnectionID: id, Cooldown: e.cfg.BreakerCooldown,
			MaxCooldown: e.cfg.BreakerMaxCooldown, Now: now})
		if err != nil {
			log.get().Error("opening the circuit", slog.Any("error", err))
			return opened // this node's own opening still parks what is waiting
		}
		e.ctl.sharedOpened(id, res.OpenUntil)
		if !res.Opened {
			return time.Time{} // another node opened it and deferred what was waiting then
		}
		return res.OpenUntil
	}
	return time.Time{}
}

// sharePause pauses a connection or provider account for every node.
func (e *Engine) sharePause(key string, until, now time.Time, log *attemptLog) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedWriteTimeout)
	defer cancel()
	if err := e.cfg.Store.LimitPause(ctx, store.LimitPauseParams{Key: key, Until: until, Now: now}); err != nil {
		log.get().Error("pausing for the cluster", slog.Any("error", err))
	}
}
