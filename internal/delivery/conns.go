package delivery

import (
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Breaker states.
type breakerState int

const (
	closed breakerState = iota
	halfOpen
	open
)

// conn is this node's view of one connection: what is in flight, how much it may take, and
// whether it is healthy. It is only touched under controller.mu.
type conn struct {
	id       uuid.UUID
	version  time.Time // the connection's UpdatedAt its settings were read from
	inflight int
	// max is the connection's concurrency ceiling; limit the current, adaptive one (AIMD:
	// halved on 429, grown by 1/limit per success).
	max      int
	limit    float64
	limiter  *rate.Limiter // nil: no rate limit
	pausedTo time.Time     // after a 429: no new attempts before this
	schedule []time.Duration

	// lastProgress is when an attempt last finished (or the connection went from idle to
	// busy); parkedTo is when toPark may next report the connection.
	lastProgress time.Time
	parkedTo     time.Time

	// scope is the provider account the connection shares rate limits with (nil: none known).
	scope *scope

	state    breakerState
	failures int           // consecutive failures while closed
	openTo   time.Time     // open: no attempts before this; then half-open
	cooldown time.Duration // the current open period; doubles on a failed probe

	// lastUsed is when the connection was last claimed for (prune drops idle entries).
	lastUsed time.Time
	// sharedTo (shared limits) is until when the last claim found the connection unable to take
	// anything on the cluster; a slot freed on this node ends it early.
	sharedTo time.Time
	// releasedAt is when an attempt of the connection last finished on this node.
	releasedAt time.Time
	// full (shared limits): the last claim took all the cluster let it, so more may be due.
	full   bool
	shared bool // the controller's shared
	// vacated counts (shared limits) the attempts that finished here with nothing kept ahead
	// to hand their slot over to (Engine.claim's credit).
	vacated int
	// answered: an attempt of the connection has had the destination's answer since this node
	// first used it (aheadMax).
	answered bool
}

// scope is a provider account that several connections share (a HubSpot portal): its
// documented request rate spaces all their attempts, and a 429 that names it pauses them all.
type scope struct {
	name     string
	limiter  *rate.Limiter // nil: no documented rate
	pausedTo time.Time
}

// breakerConfig sets the circuit breaker.
type breakerConfig struct {
	threshold   int           // consecutive failures that open the circuit
	cooldown    time.Duration // first open period
	maxCooldown time.Duration
}

// controller decides, per connection, whether another attempt may start now: concurrency,
// rate limit, 429 pauses and the circuit breaker. It keeps fairness and isolation local and
// cheap; the store keeps the durable state.
type controller struct {
	// freed is signaled when a connection that had every slot busy frees one: the only finish
	// after which a claim can find work the previous claim had to skip.
	freed    chan struct{}
	mu       sync.Mutex
	conns    map[uuid.UUID]*conn
	scopes   map[string]*scope
	defMax   int
	schedule []time.Duration
	breaker  breakerConfig
	metrics  *metrics.Metrics
	// shared: the limits hold for the cluster and are enforced by the claim on the database
	// (store.DeliveryClaimParams.Shared); this controller then only keeps this node's adaptive
	// concurrency, and a copy of the cluster's pauses and circuits to leave blocked connections
	// out of claims and to park their deliveries. See docs/delivery.md, "Limits across nodes".
	shared bool
}

func newController(defMax int, schedule []time.Duration, b breakerConfig, m *metrics.Metrics) *controller {
	return &controller{conns: map[uuid.UUID]*conn{}, scopes: map[string]*scope{}, defMax: defMax, schedule: schedule, breaker: b, metrics: m,
		freed: make(chan struct{}, 1)}
}

// get returns the state of c, (re)reading its settings when the connection changed.
func (ctl *controller) get(c *switchyard.Connection) *conn {
	st := ctl.conns[c.ID]
	if st == nil {
		st = &conn{id: c.ID, cooldown: ctl.breaker.cooldown, shared: ctl.shared}
		ctl.conns[c.ID] = st
	}
	if !st.version.Equal(c.UpdatedAt) || st.max == 0 {
		st.version = c.UpdatedAt
		st.max = destination.MaxConcurrencyOf(c.Metadata, ctl.defMax)
		st.limit = float64(st.max)
		st.limiter = nil
		if v := destination.RateLimitOf(c.Metadata); v > 0 && !ctl.shared {
			// (Shared limits: the claim draws on the cluster's rate budget instead.)
			st.limiter = rate.NewLimiter(rate.Limit(v), max(1, int(v)))
		}
		st.schedule = ctl.schedule
		if v, ok := c.Metadata[destination.KeyRetrySchedule].(string); ok && v != "" {
			if s, err := destination.ParseRetrySchedule(v); err == nil {
				st.schedule = s
			}
		}
	}
	return st
}

// blocked lists the connections that may not start an attempt now, for the claim to skip,
// and (shared limits) the earliest time one of them left out for the cluster's saturation is
// to be looked at again (zero: none). A connection that may still be claimed ahead for (ahead
// holds how many are kept for each, ahead.go) is not blocked: its room caps the claim instead.
func (ctl *controller) blocked(now time.Time, ahead map[uuid.UUID]int) (ids []uuid.UUID, recheck time.Time) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	for id, st := range ctl.conns {
		saturated := ctl.shared && now.Before(st.sharedTo)
		if !st.available(now) && st.aheadMax(now) <= ahead[id] || saturated {
			ids = append(ids, id)
		}
		if saturated && (recheck.IsZero() || st.sharedTo.Before(recheck)) {
			recheck = st.sharedTo
		}
	}
	return ids, recheck
}

// room lists the connections this node has attempts in flight for (or a rate limit or a
// circuit that is not closed) that may start fewer than per attempts now, with how many they
// may start: a claim's cap for them (store.DeliveryClaimParams.Room), so that it does not lease
// deliveries only to hand them back. None with shared limits, where the claim counts the
// cluster's slots itself; there it lists instead how many more deliveries each connection may
// have claimed ahead (aheadOut, store.DeliveryClaimParams.Ahead): aheadMax less what ahead says
// is kept. (The claim gives none to a connection with a rate limit, a pause or a circuit not
// closed on the cluster, which this node may not know of yet.)
//
// It also counts the connections active here: with attempts in flight, or claimed for within
// the last second. One pass over the connections serves all three, under the lock the attempts
// take too.
func (ctl *controller) room(now time.Time, per int, ahead map[uuid.UUID]int) (out, aheadOut map[uuid.UUID]int, active int) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	for id, st := range ctl.conns {
		if st.inflight > 0 || now.Sub(st.lastUsed) < time.Second {
			active++
		}
		if ctl.shared {
			if k := st.aheadMax(now) - ahead[id]; k > 0 {
				if aheadOut == nil {
					aheadOut = map[uuid.UUID]int{}
				}
				aheadOut[id] = k
			}
			continue
		}
		if st.inflight == 0 && st.limiter == nil && st.scope == nil && st.state == closed {
			continue
		}
		n := int(math.Ceil(st.limit)) - st.inflight // available: inflight < limit
		if st.state != closed {
			n = 1 - st.inflight // one probe at a time
		}
		if k := st.aheadMax(now); k > 0 {
			n = max(n, 0) + max(k-ahead[id], 0) // and what may be claimed ahead (ahead.go)
		}
		if st.limiter != nil {
			n = min(n, int(st.limiter.TokensAt(now)))
		}
		if sc := st.scope; sc != nil && sc.limiter != nil {
			n = min(n, int(sc.limiter.TokensAt(now)))
		}
		if n = max(n, 0); n < per {
			if out == nil {
				out = map[uuid.UUID]int{}
			}
			out[id] = n
		}
	}
	return out, aheadOut, active
}

// aheadMax is how many deliveries may be claimed ahead for the connection (ahead.go): aheadDepth
// times its concurrency if busy slots are the one thing it waits for, else none. A connection
// whose last attempt failed (a timeout, a 5xx) is not claimed ahead for: its slots may hang for
// a whole timeout and its circuit may open, and what was kept would only wait and go back. Nor
// is one that has never answered here: a destination that hangs from its first request has no
// failure counted until its first timeout, and with shared limits (PostgreSQL, the isolation
// bench's hanging connections) what was kept for it meanwhile took the healthy connections'
// p99 from 2–10× their baseline to 16–22× (docs/benchmarks.md).
func (st *conn) aheadMax(now time.Time) int {
	if st.inflight == 0 || !st.answered || st.limiter != nil || st.scope != nil || st.state != closed || st.failures > 0 ||
		now.Before(st.pausedTo) {
		return 0
	}
	if st.shared {
		return sharedAheadDepth * int(math.Ceil(st.limit))
	}
	return aheadDepth * int(math.Ceil(st.limit))
}

// busy reports whether the connection has an attempt in flight on this node.
func (ctl *controller) busy(id uuid.UUID) bool {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	st := ctl.conns[id]
	return st != nil && st.inflight > 0
}

// vacate counts a slot of the connection vacated with no hand-over (shared limits).
func (ctl *controller) vacate(id uuid.UUID) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if st := ctl.conns[id]; st != nil {
		st.vacated++
	}
}

// vacatedOf returns the vacated counts of the connections in ids (nil for none).
func (ctl *controller) vacatedOf(ids map[uuid.UUID]int) map[uuid.UUID]int {
	if len(ids) == 0 {
		return nil
	}
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	out := make(map[uuid.UUID]int, len(ids))
	for id := range ids {
		if st := ctl.conns[id]; st != nil {
			out[id] = st.vacated
		}
	}
	return out
}

// keptVerdict is what becomes of a delivery kept ahead when its turn comes (startKept).
type keptVerdict int

const (
	keptStarted keptVerdict = iota // its slot is taken: start it
	keptWaits                      // the connection's slots are busy still: back to the queue
	keptRefused                    // the connection can no longer take what is kept: hand it all back
)

// startKept takes a slot for a delivery kept ahead for c, or says why it cannot. With shared
// limits the slot is one a finished attempt of c on this node hands over (Engine.handOver), and
// the cluster's pauses and circuits, as this node last read them, refuse it; only this node's
// own adaptive limit (after a 429) makes it wait. Otherwise take decides, and a connection
// that may still be claimed ahead for waits for its next finish.
func (ctl *controller) startKept(c *switchyard.Connection, now time.Time) keptVerdict {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	st := ctl.get(c)
	switch {
	case ctl.shared && (st.state != closed || now.Before(st.pausedTo) || st.scope != nil):
		return keptRefused
	case ctl.takeLocked(st, now, false):
		return keptStarted
	case ctl.shared || st.aheadMax(now) > 0:
		return keptWaits
	}
	return keptRefused
}

// claimsAhead is aheadMax for a claimed delivery's connection that may not start an attempt now.
func (ctl *controller) claimsAhead(c *switchyard.Connection, now time.Time) int {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	st, ok := ctl.conns[c.ID]
	if !ok {
		return 0
	}
	return st.aheadMax(now)
}

// sharedBlocked records that a shared claim begun at claimed found the connection unable to
// take anything until until (store.DeliveryClaimParams.Blocked). If one of its attempts here
// finished since the claim began, the claim's count may predate that free slot: nothing is
// recorded, and another claim is asked for (controller.freed) to look again — the finish
// itself may not have asked, the connection being neither full nor saturated then.
func (ctl *controller) sharedBlocked(id uuid.UUID, until, claimed time.Time) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	st := ctl.conns[id]
	if st != nil && !st.releasedAt.Before(claimed) {
		select {
		case ctl.freed <- struct{}{}:
		default:
		}
		return
	}
	if st == nil {
		// Not yet attempted on this node (its settings are read on first use: max 0); still
		// to be left out of the next claims, or its backlog would fill their candidate window.
		st = &conn{id: id, cooldown: ctl.breaker.cooldown, shared: ctl.shared, limit: math.Inf(1)}
		ctl.conns[id] = st
	}
	st.sharedTo = until
}

// claimedFull records that a claim took all it was allowed of the connection
// (store.DeliveryClaimParams.Full: shared limits, what the cluster allowed; otherwise its room
// here or the per-claim cap), so more may be due: the next of its attempts to finish asks for
// a claim.
func (ctl *controller) claimedFull(id uuid.UUID) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	st := ctl.conns[id]
	if st == nil {
		// First claimed here (its settings are read when its first attempt starts).
		st = &conn{id: id, cooldown: ctl.breaker.cooldown, shared: ctl.shared, limit: math.Inf(1)}
		ctl.conns[id] = st
	}
	st.full = true
}

// setScope records the account a connection shares rate limits with, as its provisioned
// sender declares it (destination.RateLimited), and the account's documented rate.
func (ctl *controller) setScope(c *switchyard.Connection, name string, perSecond float64, burst int) {
	if name == "" {
		return
	}
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	sc := ctl.scopes[name]
	if sc == nil {
		if len(ctl.scopes) >= 100000 {
			clear(ctl.scopes) // bounded; a forgotten scope starts afresh
		}
		sc = &scope{name: name}
		ctl.scopes[name] = sc
	}
	switch {
	case perSecond <= 0:
		sc.limiter = nil // no spacing; a 429 naming the scope still pauses it
	case sc.limiter == nil || float64(sc.limiter.Limit()) != perSecond || sc.limiter.Burst() != max(1, burst):
		sc.limiter = rate.NewLimiter(rate.Limit(perSecond), max(1, burst))
	}
	ctl.get(c).scope = sc
}

// pauseScope pauses every connection of the named scope until until (a 429 that named it).
func (ctl *controller) pauseScope(name string, until time.Time) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if sc := ctl.scopes[name]; sc != nil && until.After(sc.pausedTo) {
		sc.pausedTo = until
	}
}

// available reports whether one more attempt may start now.
func (st *conn) available(now time.Time) bool {
	if sc := st.scope; sc != nil && (now.Before(sc.pausedTo) || sc.limiter != nil && sc.limiter.TokensAt(now) < 1) {
		return false
	}
	switch {
	case now.Before(st.pausedTo):
		return false
	case st.state == open && now.Before(st.openTo):
		return false
	case st.shared:
		// The claim gives out the cluster's one half-open probe; here only this node's
		// adaptive concurrency counts.
		return float64(st.inflight) < st.limit
	case st.state == open || st.state == halfOpen:
		return st.inflight == 0 // one probe at a time
	case float64(st.inflight) >= st.limit:
		return false
	case st.limiter != nil && st.limiter.TokensAt(now) < 1:
		return false
	}
	return true
}

// acquire takes a slot for an attempt on c, or reports that it may not start now.
func (ctl *controller) acquire(c *switchyard.Connection, now time.Time) bool {
	return ctl.take(c, now, false)
}

// take is acquire for a claimed delivery. probe marks the cluster's half-open probe (shared
// limits), which is always let through: the claim that gave it out is the cluster's decision.
func (ctl *controller) take(c *switchyard.Connection, now time.Time, probe bool) bool {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	return ctl.takeLocked(ctl.get(c), now, probe)
}

// takeLocked is take for a connection's state, with ctl.mu held.
func (ctl *controller) takeLocked(st *conn, now time.Time, probe bool) bool {
	st.lastUsed = now
	if ctl.shared {
		if !probe && float64(st.inflight) >= st.limit {
			return false
		}
		if sc := st.scope; sc != nil && sc.limiter != nil && !sc.limiter.AllowN(now, 1) && !probe {
			return false // provider-account rates stay per node (docs/delivery.md)
		}
		if st.inflight == 0 {
			st.lastProgress = now
		}
		st.inflight++
		return true
	}
	if !st.available(now) {
		return false
	}
	if st.state == open {
		st.state = halfOpen // the cool-down is over: this attempt is the probe
		ctl.metrics.Circuit(st.id.String(), metrics.CircuitHalfOpen)
	}
	if st.limiter != nil && !st.limiter.AllowN(now, 1) {
		return false
	}
	if sc := st.scope; sc != nil && sc.limiter != nil && !sc.limiter.AllowN(now, 1) {
		return false
	}
	if st.inflight == 0 {
		st.lastProgress = now
	}
	st.inflight++
	return true
}

// park is a connection whose due deliveries should be moved out of the claims' way until a time.
type park struct {
	id    uuid.UUID
	until time.Time
}

// toPark returns the connections that cannot take an attempt for a while and whose due
// deliveries should therefore be deferred, so that claims need not wade through them to find
// other connections' work:
//   - stuck: every slot busy and no attempt finished for stuckAfter (typically a destination
//     that hangs until its timeout; the breaker only hears of it when the timeouts come):
//     deferred by stuckFor;
//   - circuit open: deferred until the circuit half-opens (the opening itself deferred what was
//     waiting then; this moves what was accepted since);
//   - paused after a 429 for at least recheck: deferred until the pause ends.
//
// A connection reported is not reported again for recheck, so each deferral moves only what
// came due since the last one.
func (ctl *controller) toPark(now time.Time, stuckAfter, stuckFor, recheck time.Duration) []park {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	var out []park
	for id, st := range ctl.conns {
		if now.Before(st.parkedTo) {
			continue
		}
		var until time.Time
		switch {
		case st.state == open && st.openTo.Sub(now) >= recheck:
			until = st.openTo
		case st.pausedTo.Sub(now) >= recheck:
			until = st.pausedTo
		case st.inflight > 0 && float64(st.inflight) >= st.limit && now.Sub(st.lastProgress) >= stuckAfter:
			until = now.Add(stuckFor)
		default:
			continue
		}
		st.parkedTo = now.Add(recheck)
		out = append(out, park{id: id, until: until})
	}
	return out
}

// scheduleOf returns the retry schedule of a connection.
func (ctl *controller) scheduleOf(c *switchyard.Connection) []time.Duration {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	return ctl.get(c).schedule
}

// breakerFailure reports whether an outcome says the destination is unhealthy (as opposed to
// refusing one request).
func breakerFailure(o switchyard.Outcome) bool {
	switch o {
	case switchyard.OutcomeTimeout, switchyard.OutcomeNetworkError, switchyard.OutcomeRejectedServerError,
		switchyard.OutcomeDestinationTimeout:
		return true
	}
	return false
}

// release returns the slot of a finished attempt and learns from its outcome; kept is how many
// deliveries are kept ahead for the connection (ahead.go). It returns the time until which the
// connection's waiting deliveries should be deferred (zero for none): set only when the circuit
// goes from closed or half-open to open.
func (ctl *controller) release(id uuid.UUID, outcome switchyard.Outcome, attempted bool, retryAfter time.Duration, kept int, now time.Time) time.Time {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	st := ctl.conns[id]
	if st == nil {
		return time.Time{}
	}
	if st.aheadMax(now) > 0 && kept > int(math.Ceil(st.limit)) {
		// More than one concurrency's worth is kept ahead: the finishes ask for the claim
		// that tops the queue up only once it has fallen to that (ahead.go, "Topping up"),
		// and st.full stays set for them.
	} else if float64(st.inflight) >= st.limit || st.full || ctl.shared && now.Before(st.sharedTo) {
		// A slot of a connection that had none free, or whose last claim took all it was
		// allowed (so more may be due): claim again. (Shared: however few this node holds, the
		// cluster had none free — the last claim took all it was allowed, or found nothing to
		// take — and this is one.) Without full, the attempts that finish while a claim capped
		// by their connection's room is running would free slots no claim is asked to fill.
		st.sharedTo, st.full = time.Time{}, false
		select {
		case ctl.freed <- struct{}{}:
		default:
		}
	}
	st.inflight--
	st.lastProgress, st.releasedAt = now, now
	if !attempted {
		if st.state == halfOpen {
			st.state = open // the probe never ran: probe again at once
		}
		return time.Time{}
	}
	switch {
	case outcome == switchyard.OutcomeRateLimited:
		// Adaptive slow-down: halve the concurrency and pause new attempts for what the
		// destination asked (at least a second, at most a minute).
		st.limit = max(1, st.limit/2)
		st.pausedTo = now.Add(min(max(retryAfter, time.Second), time.Minute))
	case breakerFailure(outcome):
		st.failures++
		if st.state == open {
			// An attempt that started before the circuit opened: the circuit already knows,
			// and its waiting deliveries are already deferred. Deferring them again for each
			// such failure (a whole timeout wave of them) would only keep the writer busy.
			return time.Time{}
		}
		if st.state == halfOpen && !ctl.shared {
			st.cooldown = min(st.cooldown*2, ctl.breaker.maxCooldown)
		}
		if st.state == halfOpen && !ctl.shared || st.failures >= ctl.breaker.threshold {
			st.state, st.openTo = open, now.Add(st.cooldown)
			ctl.metrics.Circuit(st.id.String(), metrics.CircuitOpen)
			return st.openTo
		}
	default:
		// The destination answered (delivered, or refused this one request): it is healthy.
		if st.state != closed {
			ctl.metrics.Circuit(st.id.String(), metrics.CircuitClosed)
		}
		st.state, st.failures, st.cooldown, st.answered = closed, 0, ctl.breaker.cooldown, true
		if outcome == switchyard.OutcomeDelivered {
			st.limit = min(float64(st.max), st.limit+1/st.limit)
		}
	}
	return time.Time{}
}

// prune forgets the connections that have had no attempt since before idleSince and have nothing
// to remember: nothing in flight, circuit closed with no failures counted, not paused, and
// their adaptive limit grown back to its ceiling. A connection seen again starts afresh from
// its settings, as a new one would; so the map holds the connections in use, not every
// connection ever delivered to. It returns how many it dropped.
func (ctl *controller) prune(now, idleSince time.Time) int {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	n := 0
	for id, st := range ctl.conns {
		if st.inflight == 0 && st.state == closed && st.failures == 0 && !now.Before(st.pausedTo) &&
			st.limit >= float64(st.max) && st.lastUsed.Before(idleSince) {
			delete(ctl.conns, id)
			n++
		}
	}
	return n
}

// syncShared applies the cluster's pauses and circuits (store.LimitList, shared limits) to this
// node's copy, which leaves blocked connections out of claims, parks their deliveries and
// feeds the circuit metric.
func (ctl *controller) syncShared(states []store.LimitState) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	seen := make(map[uuid.UUID]bool, len(states))
	for _, l := range states {
		if l.ConnectionID == uuid.Nil {
			if sc := ctl.scopes[strings.TrimPrefix(l.Key, "s:")]; sc != nil && l.PausedUntil.After(sc.pausedTo) {
				sc.pausedTo = l.PausedUntil
			}
			continue
		}
		st := ctl.conns[l.ConnectionID]
		if st == nil {
			continue
		}
		seen[l.ConnectionID] = true
		if l.PausedUntil.After(st.pausedTo) {
			st.pausedTo = l.PausedUntil
		}
		state := closed
		switch l.Circuit {
		case store.CircuitOpen:
			state, st.openTo = open, l.OpenUntil
		case store.CircuitHalfOpen:
			state = halfOpen
		}
		ctl.setState(st, state)
	}
	for id, st := range ctl.conns {
		if !seen[id] && st.state != closed {
			ctl.setState(st, closed)
		}
	}
}

// setState changes a connection's breaker state and its metric.
func (ctl *controller) setState(st *conn, state breakerState) {
	if st.state == state {
		return
	}
	st.state = state
	switch state {
	case open:
		ctl.metrics.Circuit(st.id.String(), metrics.CircuitOpen)
	case halfOpen:
		ctl.metrics.Circuit(st.id.String(), metrics.CircuitHalfOpen)
	default:
		ctl.metrics.Circuit(st.id.String(), metrics.CircuitClosed)
	}
}

// sharedOpened records the circuit the cluster has after this node reported its opening.
func (ctl *controller) sharedOpened(id uuid.UUID, until time.Time) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if st := ctl.conns[id]; st != nil && !until.IsZero() {
		st.openTo = until
		ctl.setState(st, open)
	}
}
