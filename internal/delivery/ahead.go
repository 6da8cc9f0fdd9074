package delivery

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
)

// Claiming ahead.
//
// A connection whose every slot is busy would otherwise get its next delivery only after one
// of its attempts finished, asked for a claim and the claim came back: each slot then sits idle
// for a claim's round trip, which on one busy connection is most of a slot's cycle. So a claim
// also takes up to aheadDepth times the connection's concurrency in deliveries it cannot start
// yet, and keeps them here, leased; the worker whose attempt finishes starts the next one at
// once, and the claim its finish asks for tops the queue up.
//
// Only connections whose one reason to wait is their busy slots are claimed ahead (no rate
// limit, no provider-account rate, circuit closed, no pause, last attempt not failed, and one
// attempt answered: aheadMax): their next finish is sure to come soon and to free a slot. A
// delivery kept longer than aheadFor, or whose connection cannot take it when its turn comes (a
// circuit opened, a 429 pause), is handed back, due at once, for the claims to deal with as they
// do with anything due (parking, deferral).
//
// With shared limits a claim counts the cluster's leased rows as the connection's slots, and a
// delivery kept here is leased: so a node keeps ahead only beyond what the cluster lets it start
// (store.DeliveryClaimParams.Ahead), and starts a kept delivery only in a slot handed over — the
// slot of one of its own attempts of the connection, as that attempt finishes (handOver). The
// cluster's count of attempts in flight does not move in a hand-over: the finished delivery stays
// leased until its outcome is written, and the successor was leased already. Other nodes count
// the kept deliveries as slots taken (more than there are, never fewer), and this node's claims
// leave them out of its count as they leave out its settled ones (Engine.claim). One more way
// in: a slot that freed with nothing kept to hand over to, while the claim was on its way (the
// claim counted it as taken), is given to one of the deliveries that claim took ahead (Engine.
// claim's credit) — on the backlog bench the queue ran dry during most claims, and without it
// what they took ahead found no slot at all. What is kept for a connection with no attempt in
// flight here has no slot to inherit and goes back (startAhead).

// aheadDepth is how many times its concurrency a connection may have claimed ahead. The claims
// that top the queue up take a turn at the store's writer each, behind the outcome batches, and
// their wait varies: with one concurrency's worth kept, the queue of a busy connection ran dry
// while a claim was on its way — on the backlog bench a worker found nothing kept after 1.9
// attempts on average, and its slot stood idle until the next claim. Two keep it fed through
// such a wait (3.8 attempts per worker, a third more deliveries/s); four gained nothing more
// (docs/benchmarks.md).
const aheadDepth = 2

// sharedAheadDepth is aheadDepth with shared limits. There a claim is a pipelined PostgreSQL
// transaction of several milliseconds (5–15 ms on the backlog bench, against attempts of 1–2 ms
// on loopback), and a node's slots may start only what it kept, or what the claim lets them:
// two concurrencies' worth ran out while a claim was on its way, four gave the backlog bench
// 10–15 % more (docs/benchmarks.md).
const sharedAheadDepth = 4

// Topping up. The finish that asks for the claim which tops a connection's queue up is the
// first to find no more than one concurrency's worth kept (controller.release), not every
// finish: a claim then takes at least that much. Asked at every finish, the claims of one busy
// connection took what had finished while the last one ran, about 10 deliveries each on the
// SQLite backlog bench, and each paid a claim's fixed cost (reading and ranking its window, the
// routing version, a turn at the writer) for so few; with the mark they take about 18, half as
// many claims for the same deliveries, and no fewer deliveries/s (docs/benchmarks.md): one
// concurrency's worth kept covers a claim's wait.

// aheadFor is how long a delivery claimed ahead may wait for a slot. Its lease must still cover
// the attempt afterwards: a quarter of the default lease leaves 90 s, more than the longest
// connection timeout (60 s).
func (e *Engine) aheadFor() time.Duration { return e.cfg.Lease / 4 }

// aheadQueue holds the deliveries claimed ahead, per connection, oldest first.
type aheadQueue struct {
	mu     sync.Mutex
	conns  map[uuid.UUID][]aheadItem
	closed bool
}

type aheadItem struct {
	c      *store.Claimed
	queued time.Time
}

func newAheadQueue() *aheadQueue { return &aheadQueue{conns: map[uuid.UUID][]aheadItem{}} }

// push keeps c for its connection unless the queue is closed or already holds max of them.
func (q *aheadQueue) push(c *store.Claimed, now time.Time, max int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	id := c.Connection.ID
	if q.closed || len(q.conns[id]) >= max {
		return false
	}
	q.conns[id] = append(q.conns[id], aheadItem{c: c, queued: now})
	return true
}

// pop takes the connection's oldest delivery kept ahead.
func (q *aheadQueue) pop(id uuid.UUID) (aheadItem, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.conns[id]
	if len(items) == 0 {
		return aheadItem{}, false
	}
	it := items[0]
	items[0] = aheadItem{}
	if items = items[1:]; len(items) == 0 {
		delete(q.conns, id)
	} else {
		q.conns[id] = items
	}
	return it, true
}

// length is how many deliveries are kept for the connection.
func (q *aheadQueue) length(id uuid.UUID) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.conns[id])
}

// ids lists every delivery kept.
func (q *aheadQueue) ids() []uuid.UUID {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []uuid.UUID
	for _, items := range q.conns {
		for _, it := range items {
			out = append(out, it.c.Delivery.ID)
		}
	}
	return out
}

// take removes every delivery kept for the connection.
func (q *aheadQueue) take(id uuid.UUID) []*store.Claimed {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.conns[id]
	delete(q.conns, id)
	return claimsOf(nil, items)
}

func claimsOf(out []*store.Claimed, items []aheadItem) []*store.Claimed {
	for _, it := range items {
		out = append(out, it.c)
	}
	return out
}

// lengths returns how many deliveries are kept for each connection that has some.
func (q *aheadQueue) lengths() map[uuid.UUID]int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.conns) == 0 {
		return nil
	}
	out := make(map[uuid.UUID]int, len(q.conns))
	for id, items := range q.conns {
		out[id] = len(items)
	}
	return out
}

// close empties the queue and refuses further pushes; it returns what was kept.
func (q *aheadQueue) close() []*store.Claimed {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	var all []*store.Claimed
	for id, items := range q.conns {
		all = claimsOf(all, items)
		delete(q.conns, id)
	}
	return all
}

// unpop puts an item back at the front of its connection's queue (unless the queue is closed:
// then it is handed back by the caller's next look, or its lease runs out).
func (q *aheadQueue) unpop(it aheadItem) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	id := it.c.Connection.ID
	q.conns[id] = append([]aheadItem{it}, q.conns[id]...)
	return true
}

// next returns the connection's next delivery kept ahead, its slot taken, or nil: none kept, or
// none may start now. Deliveries kept too long are handed back; so is everything kept for a
// connection that can no longer be claimed ahead for (a circuit opened, a 429 pause).
func (e *Engine) next(id uuid.UUID) *store.Claimed {
	for {
		it, ok := e.ahead.pop(id)
		if !ok {
			return nil
		}
		if c, expired := e.startKept(it); !expired {
			return c
		}
	}
}

// startKept starts a delivery taken out of its connection's queue (its slot taken), or deals
// with it and returns nil: kept too long, it is handed back (expired: the caller may look at the
// next); the connection's slots busy still, it goes back to the queue; the connection unable to
// take what is kept (controller.startKept), it is handed back with everything kept for it.
func (e *Engine) startKept(it aheadItem) (c *store.Claimed, expired bool) {
	now := e.cfg.Now()
	if now.Sub(it.queued) > e.aheadFor() {
		e.handBack([]*store.Claimed{it.c}, now)
		return nil, true
	}
	switch e.ctl.startKept(it.c.Connection, now) {
	case keptStarted:
		return it.c, false
	case keptWaits:
		// (A claim took the slot, or this node's adaptive limit fell): the next finish starts it.
		if e.ahead.unpop(it) {
			return nil, false
		}
		e.handBack([]*store.Claimed{it.c}, now)
	default:
		e.handBack(append([]*store.Claimed{it.c}, e.ahead.take(it.c.Connection.ID)...), now)
	}
	return nil, false
}

// startAhead starts, up to limit, what is kept ahead for connections that have a free slot (a
// delivery kept just as the connection's last attempt finished has no finish to start it). It
// returns how many it started. With shared limits a free slot here is not the cluster's: what
// is kept for a connection with no attempt in flight on this node is handed back instead.
func (e *Engine) startAhead(launch func(*store.Claimed), limit int) int {
	if e.cfg.SharedLimits {
		for id := range e.ahead.lengths() {
			if !e.ctl.busy(id) {
				e.handBack(e.ahead.take(id), e.cfg.Now())
			}
		}
		return 0
	}
	n := 0
	for id := range e.ahead.lengths() {
		for ; n < limit; n++ {
			c := e.next(id)
			if c == nil {
				break
			}
			launch(c)
		}
	}
	return n
}

// handOver starts, with shared limits, the delivery a finished attempt took out of its
// connection's queue (attempt) in that attempt's slot, or returns nil (startKept). Unlike next
// it looks at no other kept delivery: the slot was this one's to take, and another started
// after the finished delivery counts as settled could be uncounted by a claim (Engine.claim).
func (e *Engine) handOver(it *aheadItem) *store.Claimed {
	if it == nil {
		return nil
	}
	c, _ := e.startKept(*it)
	return c
}
