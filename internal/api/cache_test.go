package api

import (
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

	t.Run("an entry lives for the TTL and forget drops it at once", func(t *testing.T) {
		t.Parallel()
		c := newTTLCache[string, int](5*time.Second, 10)
		c.putUnlessForgotten("k", 1, now, c.generation())
		if v, ok := c.get("k", now.Add(5*time.Second)); !ok || v != 1 {
			t.Fatalf("within the TTL: %v %v", v, ok)
		}
		if _, ok := c.get("k", now.Add(5*time.Second+time.Nanosecond)); ok {
			t.Fatal("the entry outlived its TTL")
		}
		c.forget(func(k string, _ int) bool { return k == "k" })
		if _, ok := c.get("k", now); ok {
			t.Fatal("forget kept the entry")
		}
	})
	t.Run("a lookup that started before a forget cannot put its stale value back", func(t *testing.T) {
		t.Parallel()
		c := newTTLCache[string, int](5*time.Second, 10)
		gen := c.generation()                            // a request starts reading the credential…
		c.forget(func(string, int) bool { return true }) // …the credential is revoked meanwhile…
		c.putUnlessForgotten("k", 1, now, gen)           // …and the read value arrives late
		if _, ok := c.get("k", now); ok {
			t.Fatal("the stale value was cached")
		}
		c.putUnlessForgotten("k", 2, now, c.generation())
		if v, ok := c.get("k", now); !ok || v != 2 {
			t.Fatalf("a fresh lookup: %v %v", v, ok)
		}
	})
}
