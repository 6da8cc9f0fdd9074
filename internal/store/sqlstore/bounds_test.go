package sqlstore

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Every per-node cache of the store stays within its bound however many keys pass through it
// (a million connections over a day, or events of as many names).
func TestStoreCachesAreBounded(t *testing.T) {
	t.Parallel()

	t.Run("the routing caches", func(t *testing.T) {
		t.Parallel()
		var c versioned[uuid.UUID, int]
		for i := range maxCached + 500 {
			c.put(1, uuid.New(), i)
			if len(c.m) > maxCached {
				t.Fatalf("after %d keys: %d entries, want at most %d", i+1, len(c.m), maxCached)
			}
		}
	})

	t.Run("the catalogue entries known to be stored", func(t *testing.T) {
		t.Parallel()
		var c catalogKnown
		ws := uuid.New()
		for i := range maxKnownCatalog/2 + 100 {
			c.add([]*switchyard.Event{{WorkspaceID: ws, Name: "e" + strconv.Itoa(i), Resource: "r" + strconv.Itoa(i)}})
			if len(c.m) > maxKnownCatalog {
				t.Fatalf("after %d events: %d entries, want at most %d", i+1, len(c.m), maxKnownCatalog)
			}
		}
	})

	t.Run("the prepared statements of a SQLite connection", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		db, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "b.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, err := db.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for i := range maxCachedStmts + 100 {
			var n int
			if err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&n); err != nil || n != i {
				t.Fatalf("query %d: %d, %v", i, n, err)
			}
		}
		var cached int
		if err := conn.Raw(func(dc any) error {
			cached = len(dc.(*cachingConn).stmts)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if cached > maxCachedStmts || cached < maxCachedStmts/2 {
			t.Errorf("%d statements cached after %d distinct queries, want at most %d (and the cache used)", cached, maxCachedStmts+100, maxCachedStmts)
		}
	})

	t.Run("the events just stored, kept for their claims", func(t *testing.T) {
		t.Parallel()
		ev := func(payload int, rules int) *switchyard.Event {
			return &switchyard.Event{ID: uuid.Must(uuid.NewV7()), Name: "e", Payload: bytes.Repeat([]byte("x"), payload), TotalRules: rules,
				Status: switchyard.StatusPending}
		}
		t.Run("by the slots", func(t *testing.T) {
			c := &recentEvents{m: map[uuid.UUID]*switchyard.Event{}, budget: 1 << 20, slots: 8}
			var all []*switchyard.Event
			for range 11 {
				all = append(all, ev(10, 1))
			}
			c.add(all)
			if n, _ := c.held(); n != 8 {
				t.Fatalf("%d kept, want 8", n)
			}
			for i, e := range all {
				if got := c.take(e.ID, time.Now()) != nil; got != (i >= 3) {
					t.Errorf("event %d kept: %v", i, got)
				}
			}
			if n, b := c.held(); n != 0 || b != 0 {
				t.Fatalf("after every take: %d events, %d bytes", n, b)
			}
		})
		t.Run("by the bytes", func(t *testing.T) {
			c := &recentEvents{m: map[uuid.UUID]*switchyard.Event{}, budget: 100 * (1000 + recentOverhead + 1), slots: 1000}
			var all []*switchyard.Event
			for range 150 {
				all = append(all, ev(1000, 2))
			}
			c.add(all[:120])
			c.add(all[120:])
			n, b := c.held()
			if n != 100 || b > c.budget {
				t.Fatalf("%d kept in %d bytes, want 100 within %d", n, b, c.budget)
			}
			if c.take(all[49].ID, time.Now()) != nil || c.take(all[50].ID, time.Now()) == nil {
				t.Fatal("the oldest were not the ones dropped")
			}
			// A fan-out event stays after a take; the cache keeps its own payload, and a take's
			// status is the caller's own.
			all[51].Payload[0] = 'y'
			got := c.take(all[51].ID, time.Now())
			got.Status = switchyard.StatusFailed
			again := c.take(all[51].ID, time.Now())
			if again == nil || again.Payload[0] != 'x' || again.Status != switchyard.StatusProcessing || again.StartedAt == nil {
				t.Fatalf("the fan-out event's second take: %+v", again)
			}
		})
		t.Run("left out", func(t *testing.T) {
			c := newRecentEvents()
			replayed := ev(10, 1)
			replayed.Replayed = true
			c.add([]*switchyard.Event{replayed, ev(10, 0), ev(recentBudget/16, 1)})
			if n, b := c.held(); n != 0 || b != 0 {
				t.Fatalf("%d kept (%d bytes), want none: replayed, no deliveries, too large", n, b)
			}
		})
	})
}
