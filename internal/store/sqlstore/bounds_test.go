package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

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
}
