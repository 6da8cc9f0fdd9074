package sqlstore

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// ownerOnly fails t unless the file at path exists and has no group or other permission bits.
func ownerOnly(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", filepath.Base(path), err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("%s has mode %#o, want no group or other permissions (0600)", filepath.Base(path), perm)
	}
	return fi.Mode().Perm()
}

func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}

	t.Run("a new database, its WAL and its SHM are created 0600", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "new.db")
		db, err := Open(t.Context(), "sqlite://"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.w.Exec(`CREATE TABLE t (b BLOB)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.Exec(`INSERT INTO t (b) VALUES (randomblob(4096))`); err != nil {
			t.Fatal(err)
		}
		// While the store is open all three exist; the writer never checkpoints, so the WAL
		// holds the insert.
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if got := ownerOnly(t, p); got&0o077 == 0 && got != 0o600 {
				t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), got)
			}
		}
		if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
			t.Errorf("WAL = %v (err %v), want it to hold the write", fi, err)
		}
	})

	t.Run("an existing database, WAL and SHM are tightened at open", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "old.db")
		db, err := Open(t.Context(), "sqlite://"+path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.Exec(`CREATE TABLE t (n INTEGER)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.Exec(`INSERT INTO t (n) VALUES (42)`); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		// As an older Switchyard (or a copy with cp) left them: readable by everyone. Empty
		// -wal and -shm files are what SQLite leaves after a clean close, and reinitialises.
		loose := map[string]os.FileMode{path: 0o644, path + "-wal": 0o666, path + "-shm": 0o640}
		for p, mode := range loose {
			if _, err := os.Stat(p); os.IsNotExist(err) {
				if err := os.WriteFile(p, nil, mode); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
		}

		db, err = Open(t.Context(), "sqlite://"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for p := range loose {
			if got := ownerOnly(t, p); got&0o077 == 0 && got != 0o600 {
				t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), got)
			}
		}
		var n int
		if err := db.r.QueryRow(`SELECT n FROM t`).Scan(&n); err != nil || n != 42 {
			t.Errorf("after tightening: n = %d (err %v), want the stored 42", n, err)
		}
		if _, err := db.w.Exec(`INSERT INTO t (n) VALUES (43)`); err != nil {
			t.Errorf("writing after tightening: %v", err)
		}
	})
}

func TestSecureSQLiteFiles(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}

	t.Run("only group and other bits are taken away", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "x.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := secureSQLiteFiles(path); err != nil {
			t.Fatal(err)
		}
		if got := ownerOnly(t, path); got != 0o700 {
			t.Errorf("mode = %#o, want 0700", got)
		}
	})

	t.Run("the URI path is the file name: query and fragment cut, escapes decoded", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if err := secureSQLiteFiles(filepath.Join(dir, "a%20b.db") + "?cache=shared#frag"); err != nil {
			t.Fatal(err)
		}
		ownerOnly(t, filepath.Join(dir, "a b.db"))
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 1 {
			t.Errorf("directory holds %v (err %v), want only \"a b.db\"", entries, err)
		}
	})

	t.Run("nothing is created for memory or read-only databases", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		for _, p := range []string{"m.db?mode=memory", "v.db?vfs=memdb", "ro.db?mode=ro"} {
			if err := secureSQLiteFiles(filepath.Join(dir, p)); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("directory holds %v, want nothing", entries)
		}
	})

	t.Run("a missing directory is an error naming the file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "missing", "x.db")
		err := secureSQLiteFiles(path)
		if err == nil || !strings.Contains(err.Error(), "creating the sqlite database file") {
			t.Errorf("secureSQLiteFiles = %v, want an error creating the file", err)
		}
	})
}
