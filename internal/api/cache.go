package api

import (
	"sync"
	"time"
)

// ttlCache remembers values for a short time. It fronts the credential lookups every request
// makes (machine keys, publishable keys), so a burst of requests costs one database read per key
// and TTL instead of one per request. The TTL bounds how long another node may still accept a
// revoked or rotated credential; this node forgets it at once (forget).
type ttlCache[K comparable, V any] struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[K]ttlEntry[V]
	// gen counts forget calls, so that a lookup that started before a forget cannot put back
	// what the forget removed (putUnlessForgotten).
	gen uint64
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[K comparable, V any](ttl time.Duration, max int) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, max: max, entries: make(map[K]ttlEntry[V])}
}

func (c *ttlCache[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || now.After(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[K, V]) putLocked(k K, v V, now time.Time) {
	if len(c.entries) >= c.max {
		// Crude but bounded: a cache this small is cheaper to refill than to manage.
		clear(c.entries)
	}
	c.entries[k] = ttlEntry[V]{v: v, expires: now.Add(c.ttl)}
}

// generation returns the current forget count; pass it to putUnlessForgotten.
func (c *ttlCache[K, V]) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// putUnlessForgotten is put, unless forget was called since generation returned gen: the value
// was then read before a revocation or rotation that the forget announced, and may be stale.
// Skipping it costs one more database read; keeping it could let a revoked credential work on
// this node for another TTL.
func (c *ttlCache[K, V]) putUnlessForgotten(k K, v V, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.putLocked(k, v, now)
	}
}

// forget drops every entry for which match is true.
func (c *ttlCache[K, V]) forget(match func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.entries {
		if match(k, e.v) {
			delete(c.entries, k)
		}
	}
}
