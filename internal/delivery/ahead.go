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
// limit, no provider-account rate, circuit closed, no pause, last attempt not failed): their
// next finish is sure to come soon and to free a slot. A delivery kept longer than aheadFor, or
// whose connection cannot take it when its turn comes (a circuit opened, a 429 pause), is
// handed back, due at once, for the claims to deal with as they do with anything due (parking,
// deferral). None with shared limits: there the claim counts the cluster's leased rows as its
// slots, and a delivery held here would hold one.

// aheadDepth is how many times its concurrency a connection may have claimed ahead. The claims
// that top the queue up take a turn at the store's writer each, behind the outcome batches, and
// their wait varies: with one concurrency's worth kept, the queue of a busy connection ran dry
// while a claim was on its way — on the backlog bench a worker found nothing kept after 1.9
// attempts on average, and its slot stood idle until the next claim. Two keep it fed through
// such a wait (3.8 attempts per worker, a third more deliveries/s); four gained nothing more
// (docs/benchmarks.md).
const aheadDepth = 2

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
		now := e.cfg.Now()
		switch {
		case now.Sub(it.queued) > e.aheadFor():
			e.handBack([]*store.Claimed{it.c}, now)
		case e.ctl.take(it.c.Connection, now, false):
			return it.c
		case e.ctl.claimsAhead(it.c.Connection, now) > 0:
			// Busy still (a claim took the slot): the next finish starts it.
			if !e.ahead.unpop(it) {
				e.handBack([]*store.Claimed{it.c}, now)
			}
			return nil
		default:
			e.handBack(append([]*store.Claimed{it.c}, e.ahead.take(id)...), now)
			return nil
		}
	}
}

// startAhead starts, up to limit, what is kept ahead for connections that have a free slot (a
// delivery kept just as the connection's last attempt finished has no finish to start it). It
// returns how many it started.
func (e *Engine) startAhead(launch func(*store.Claimed), limit int) int {
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
