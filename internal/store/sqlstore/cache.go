package sqlstore

import (
	"bytes"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// versioned caches values read at one routing version (see router): a value stored for an older
// version is never returned, and the first value stored for a newer version drops them all. The
// values are shared by every reader and must not be modified.
type versioned[K comparable, V any] struct {
	mu      sync.Mutex
	version int64
	m       map[K]V
}

// maxCached bounds each cache; past it, the cache starts over.
const maxCached = 10000

func (c *versioned[K, V]) get(version int64, k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		var zero V
		return zero, false
	}
	v, ok := c.m[k]
	return v, ok
}

// current returns the version the cache holds values of (0 before any).
func (c *versioned[K, V]) current() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

func (c *versioned[K, V]) put(version int64, k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version < c.version {
		return // read before a change another transaction has already seen
	}
	if version > c.version || c.m == nil || len(c.m) >= maxCached {
		c.version, c.m = version, map[K]V{}
	}
	c.m[k] = v
}

// recentEvents keeps the events this process has just stored that have deliveries to make,
// payloads included, so that claiming those deliveries need not read the events back. On SQLite
// a claim otherwise reads its events through the read pool after its commit, about 13 µs of CPU
// a delivery (docs/benchmarks.md); SQLite has one process, so what it stored is what its claims
// will take. PostgreSQL's claim returns its events in the same statement, and another node may
// claim what this one stored: it keeps no such cache (a nil *recentEvents, whose methods do
// nothing).
//
// It holds at most recentBudget bytes (payloads and an estimate of the rest) in at most
// recentSlots events, the oldest dropped first. An event with one delivery leaves it when that
// delivery is claimed; a fan-out event stays until dropped. Only what does not change is relied
// on: a cached event is returned with its status and start applied as the claim applies them
// (claimUpdate), and its counts as they were at insert.
type recentEvents struct {
	mu    sync.Mutex
	m     map[uuid.UUID]*switchyard.Event
	ring  []uuid.UUID // insertion order, oldest at head; an id may be gone from m already
	head  int
	n     int // ids in ring
	bytes int // held by the events in m
	// budget and slots are recentBudget and recentSlots (smaller in tests).
	budget, slots int
}

const (
	// recentBudget bounds the memory the cache holds; recentSlots the events it remembers (the
	// ring's fixed size: 16 bytes each).
	recentBudget = 32 << 20
	recentSlots  = 1 << 16
	// recentOverhead estimates an event's memory besides its payload and strings: the struct,
	// the map entry and the ring slot.
	recentOverhead = 320
)

func newRecentEvents() *recentEvents {
	return &recentEvents{m: map[uuid.UUID]*switchyard.Event{}, budget: recentBudget, slots: recentSlots}
}

// recentSize is what an event counts against recentBudget.
func recentSize(e *switchyard.Event) int {
	return len(e.Payload) + len(e.Name) + len(e.Resource) + len(e.ResourceID) + len(e.CreatedBy) + recentOverhead
}

// add keeps the events just committed that will have deliveries claimed. Replayed events (an
// idempotency key's earlier event, stored before) and events larger than a sixteenth of the
// budget are left out.
func (c *recentEvents) add(events []*switchyard.Event) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring == nil {
		c.ring = make([]uuid.UUID, c.slots)
	}
	for _, e := range events {
		size := recentSize(e)
		if e.Replayed || e.TotalRules == 0 || size > c.budget/16 {
			continue
		}
		for c.n == len(c.ring) || c.bytes+size > c.budget {
			c.dropOldest()
		}
		kept := *e // as the database holds it: times to the microsecond, in UTC
		kept.IdempotencyKey = ""
		kept.Payload = bytes.Clone(e.Payload) // the cache's own: the caller's may be reused
		kept.CreatedAt = fromMicros(micros(e.CreatedAt))
		kept.StartedAt, kept.CompletedAt = microsPtr(e.StartedAt), microsPtr(e.CompletedAt)
		c.m[e.ID] = &kept
		c.ring[(c.head+c.n)%len(c.ring)] = e.ID
		c.n++
		c.bytes += size
	}
}

// dropOldest forgets the oldest id in the ring (and its event, if still kept).
func (c *recentEvents) dropOldest() {
	id := c.ring[c.head]
	c.head = (c.head + 1) % len(c.ring)
	c.n--
	if e, ok := c.m[id]; ok {
		c.bytes -= recentSize(e)
		delete(c.m, id)
	}
}

// take returns a copy of the event with that id as a claim at now leaves it (started, and
// processing if it was pending), or nil if it is not kept. The copy shares the cache's payload
// bytes, which nobody modifies (claimed events are read-only). An event with one delivery is
// forgotten: that delivery is the one being claimed, and a later claim of it (a retry) reads
// the event from the database.
func (c *recentEvents) take(id uuid.UUID, now time.Time) *switchyard.Event {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	e, ok := c.m[id]
	if ok && e.TotalRules == 1 {
		c.bytes -= recentSize(e)
		delete(c.m, id)
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	out := *e
	startEvent(&out, fromMicros(micros(now)))
	return &out
}

// held reports how many events are kept and the bytes they count (tests).
func (c *recentEvents) held() (events, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m), c.bytes
}
