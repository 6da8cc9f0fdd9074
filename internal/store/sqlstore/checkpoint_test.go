package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckpointerEmptiesTheWALOnClose(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec(`CREATE TABLE t (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if _, err := db.w.Exec(`INSERT INTO t (b) VALUES (randomblob(4096))`); err != nil {
			t.Fatal(err)
		}
	}
	// The writer does not checkpoint by itself, so the WAL holds the writes.
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() < 200*4096 {
		t.Fatalf("WAL before close: %v (err %v), want at least the 800 KB written", fi, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Fatalf("WAL after close is %d bytes, want it checkpointed and truncated", fi.Size())
	}
	reopened, err := Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	var n int
	if err := reopened.r.QueryRow(`SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 200 {
		t.Fatalf("after reopening: %d rows (err %v), want 200", n, err)
	}
}
