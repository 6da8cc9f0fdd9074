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

func TestPositionalParameters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		order    []int
	}{
		{`SELECT 1`, `SELECT 1`, nil},
		{`INSERT INTO t VALUES ($1, $2), ($3, $4)`, `INSERT INTO t VALUES (?, ?), (?, ?)`, []int{0, 1, 2, 3}},
		{`SELECT $2 WHERE a = $1 OR b = $2 OR c = $10`, `SELECT ? WHERE a = ? OR b = ? OR c = ?`, []int{1, 0, 1, 9}},
		{`SELECT '$1', "$2", $1`, `SELECT '$1', "$2", ?`, []int{0}},
		{`SELECT 'it''s $1', $1`, `SELECT 'it''s $1', ?`, []int{0}},
		{`SELECT ?, $1`, `SELECT ?, $1`, nil},
		{`SELECT $0, $a`, `SELECT $0, $a`, nil},
	} {
		got, order := positional(tc.in)
		if got != tc.want || fmt.Sprint(order) != fmt.Sprint(tc.order) {
			t.Errorf("positional(%q) = %q %v, want %q %v", tc.in, got, order, tc.want, tc.order)
		}
	}
}

// Rewritten statements bind each parameter to the argument its $N named, also when a
// parameter repeats or comes out of order.
func TestPositionalParametersBind(t *testing.T) {
	t.Parallel()
	db, err := Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var a, b, c string
	if err := db.r.QueryRowContext(context.Background(), `SELECT $2, $1 || $2, $3`, "x", "y", "z").Scan(&a, &b, &c); err != nil {
		t.Fatal(err)
	}
	if a != "y" || b != "xy" || c != "z" {
		t.Fatalf("got %q %q %q, want y xy z", a, b, c)
	}
	if err := db.r.QueryRowContext(context.Background(), `SELECT $1, $3`, "x").Scan(&a, &c); err == nil {
		t.Fatal("a missing argument was not an error")
	}
}
