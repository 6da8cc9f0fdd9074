package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

func TestStatementCache(t *testing.T) {
	t.Parallel()
	db, err := Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE t (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := db.w.ExecContext(ctx, `INSERT INTO t (n) VALUES ($1)`, i); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a query runs again while its own rows are still open", func(t *testing.T) {
		// One transaction: one connection, so the inner query meets the outer one's statement.
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		outer, err := tx.QueryContext(ctx, `SELECT n FROM t ORDER BY n`)
		if err != nil {
			t.Fatal(err)
		}
		defer outer.Close()
		sum := 0
		for outer.Next() {
			var n int
			if err := outer.Scan(&n); err != nil {
				t.Fatal(err)
			}
			// Same text, same connection: must not reuse the busy statement.
			var inner int
			if err := tx.QueryRowContext(ctx, `SELECT n FROM t ORDER BY n`).Scan(&inner); err != nil {
				t.Fatal(err)
			}
			sum += n + inner
		}
		if err := outer.Err(); err != nil {
			t.Fatal(err)
		}
		if sum != 0+1+2 {
			t.Fatalf("sum = %d, want 3", sum)
		}
	})

	t.Run("more distinct queries than the cache holds still run", func(t *testing.T) {
		for i := range maxCachedStmts + 20 {
			var n int
			if err := db.w.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) + %d FROM t`, i)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 3+i {
				t.Fatalf("query %d = %d", i, n)
			}
		}
	})

	t.Run("a cached statement sees new rows", func(t *testing.T) {
		count := func() int {
			var n int
			if err := db.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := count()
		if _, err := db.w.ExecContext(ctx, `INSERT INTO t (n) VALUES ($1)`, 9); err != nil {
			t.Fatal(err)
		}
		if after := count(); after != before+1 {
			t.Fatalf("count %d after insert, want %d", after, before+1)
		}
	})
}
