package sqlstore

import "sync"

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
