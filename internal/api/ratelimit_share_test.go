package api

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// With several API nodes each enforces its share of a key's limit: rate and burst divided by
// the number of nodes, so that together they allow what the limit says.
func TestRateLimitShares(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	takeAll := func(l *limiters, key string, at time.Time) int {
		n := 0
		for l.allow(httptest.NewRecorder(), key, 1, at) == nil {
			n++
		}
		return n
	}

	t.Run("two nodes each allow half the burst and half the rate", func(t *testing.T) {
		t.Parallel()
		l := newLimiters(100) // burst 200 for the cluster
		l.share(2, now)
		if n := takeAll(l, "k", now); n != 100 {
			t.Fatalf("a fresh key took %d at once, want 100", n)
		}
		if n := takeAll(l, "k", now.Add(time.Second)); n != 50 {
			t.Fatalf("a second later it took %d, want 50", n)
		}
		w := httptest.NewRecorder()
		_ = l.allow(w, "other", 1, now)
		if got := w.Header().Get("RateLimit-Limit"); got != "100" {
			t.Errorf("RateLimit-Limit = %q, want this node's share, 100", got)
		}
	})

	t.Run("existing buckets follow a change in the number of nodes", func(t *testing.T) {
		t.Parallel()
		l := newLimiters(100)
		if n := takeAll(l, "k", now); n != 200 {
			t.Fatalf("one node: took %d at once, want 200", n)
		}
		l.share(4, now)
		if n := takeAll(l, "k", now.Add(time.Second)); n != 25 {
			t.Fatalf("four nodes, a second later: took %d, want 25", n)
		}
		l.share(0, now.Add(time.Second)) // counts as one
		if n := takeAll(l, "k", now.Add(2*time.Second)); n != 100 {
			t.Fatalf("back to one node, a second later: took %d, want 100", n)
		}
	})

	t.Run("a bulk request larger than this node's share of the burst takes the whole bucket", func(t *testing.T) {
		t.Parallel()
		l := newLimiters(50) // burst 100 for the cluster, 25 on each of four nodes
		l.share(4, now)
		if err := l.allow(httptest.NewRecorder(), "k", 100, now); err != nil {
			t.Fatalf("a bulk of 100 on a full bucket: %v", err)
		}
		if err := l.allow(httptest.NewRecorder(), "k", 1, now); err == nil {
			t.Fatal("the bucket was not emptied by the bulk")
		}
		if err := l.allow(httptest.NewRecorder(), "k", 101, now.Add(time.Hour)); err == nil {
			t.Fatal("a bulk over the cluster's burst was allowed")
		}
	})
}

// Every per-node cache of the API package stays within its bound however many keys pass.
func TestAPICachesAreBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

	t.Run("token buckets", func(t *testing.T) {
		t.Parallel()
		l := newLimiters(10)
		for i := range maxBuckets + 1000 {
			l.take(strconv.Itoa(i), now)
			if len(l.byKey) > maxBuckets {
				t.Fatalf("after %d keys: %d buckets, want at most %d", i+1, len(l.byKey), maxBuckets)
			}
		}
	})

	t.Run("credential lookups", func(t *testing.T) {
		t.Parallel()
		c := newTTLCache[string, int](time.Minute, 100)
		for i := range 1000 {
			c.putUnlessForgotten(strconv.Itoa(i), i, now, c.generation())
			if len(c.entries) > 100 {
				t.Fatalf("after %d keys: %d entries, want at most 100", i+1, len(c.entries))
			}
		}
		if v, ok := c.get("999", now); !ok || v != 999 {
			t.Errorf("the latest entry: %v %v", v, ok)
		}
	})
}

// BenchmarkRateLimitAllow is the per-request cost of a key's limit on a node that shares it with
// others: no database work, one lock and one token bucket.
func BenchmarkRateLimitAllow(b *testing.B) {
	l := newLimiters(1e9)
	l.share(3, time.Now())
	w := httptest.NewRecorder()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.allow(w, "mesh_pub_key", 1, now); err != nil {
			b.Fatal(err)
		}
	}
}
