package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/testutil"
)

// Functions queued while a commit runs share the next transaction; one that fails is rolled
// back to its savepoint alone, and one whose caller gave up before it started never runs.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE g (n INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	insert := func(n int) func(*sql.Tx) error {
		return func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO g (n) VALUES ($1)`, n)
			return err
		}
	}

	// Hold the committer in a first transaction until the others are queued behind it.
	release, started := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.tx(ctx, func(tx *sql.Tx) error {
			close(started)
			<-release
			return insert(1)(tx)
		})
	}()
	<-started
	gaveUp, cancel := context.WithCancel(ctx)
	type call struct {
		ctx context.Context
		fn  func(*sql.Tx) error
	}
	boom := errors.New("boom")
	calls := []call{
		{ctx, insert(2)},
		{ctx, func(tx *sql.Tx) error { // writes, then fails: its write must not survive
			if err := insert(3)(tx); err != nil {
				return err
			}
			return boom
		}},
		{ctx, insert(2)}, // a conflict with the first call of the group
		{gaveUp, insert(4)},
		{ctx, insert(5)},
	}
	results := make([]chan error, len(calls))
	queued := make(chan struct{}, len(calls))
	for i, c := range calls {
		results[i] = make(chan error, 1)
		go func() {
			queued <- struct{}{}
			results[i] <- db.tx(c.ctx, c.fn)
		}()
		<-queued
	}
	// Wait until every call is queued, then cancel one caller and let the committer go.
	testutil.Eventually(t, 10*time.Second, "every call to be queued", func() bool { return len(db.txq) >= len(calls) })
	cancel()
	close(release)

	if err := <-first; err != nil {
		t.Fatalf("first: %v", err)
	}
	want := []func(error) bool{
		func(err error) bool { return err == nil },
		func(err error) bool { return errors.Is(err, boom) },
		func(err error) bool { return err != nil && !errors.Is(err, boom) },
		func(err error) bool { return errors.Is(err, context.Canceled) }, // gave up before it ran
		func(err error) bool { return err == nil },
	}
	for i, r := range results {
		if err := <-r; !want[i](err) {
			t.Errorf("call %d: err = %v", i, err)
		}
	}
	rows, err := db.r.QueryContext(ctx, `SELECT n FROM g ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	rows.Close()
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 5 {
		t.Fatalf("committed rows %v, want [1 2 5]", got)
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.tx(ctx, insert(6)); !errors.Is(err, errClosed) {
		t.Fatalf("after Close: err = %v, want errClosed", err)
	}
}
