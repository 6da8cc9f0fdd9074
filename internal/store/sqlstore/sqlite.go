package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var sqliteDialect = dialect{
	name:    "sqlite",
	lockDue: func(ids string) string { return ids },
	idIn:    func(query string) string { return `id IN (` + query + `)` },
	isUniqueViolation: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) &&
			(e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	},
	isForeignKeyViolation: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	},
}

// openSQLite opens a SQLite database file in WAL mode with one writer connection and a small
// pool of readers.
func openSQLite(path string) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite URL has no path: use sqlite://PATH")
	}
	memory := path == ":memory:"
	if !memory {
		if err := secureSQLiteFiles(path); err != nil {
			return nil, err
		}
	}
	if memory {
		// A shared in-memory database, private to this process; readers share the writer.
		path = "file::memory:?cache=shared"
	}
	pragmas := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(NORMAL)", // durable in WAL mode across process crashes; see docs/architecture.md
		"busy_timeout(10000)",
		"foreign_keys(ON)",
		// Statement journals (which a multi-row INSERT needs to undo itself on a constraint
		// error) in memory: past 64 KiB SQLite spills them to a temporary file, and those
		// writes were 5 % of the e2e CPU.
		"temp_store(MEMORY)",
	} {
		pragmas.Add("_pragma", p)
	}
	dsn := func(extra string) string {
		sep := "?"
		if memory {
			sep = "&"
		}
		return "file:" + path + sep + pragmas.Encode() + extra
	}
	if memory {
		dsn = func(extra string) string { return path + "&" + pragmas.Encode() + extra }
	}
	// _txlock=immediate takes the write lock at BEGIN, so a transaction never fails half-way
	// when it upgrades from reading to writing.
	// The writer never checkpoints (wal_autocheckpoint 0): a checkpoint fsyncs the database file,
	// and done in the committing connection it stalls every writer behind it for as long (100–
	// 200 ms spikes on a VM disk). A checkpointer connection does it in the background instead.
	w := sql.OpenDB(&cachingConnector{drv: &sqlite.Driver{}, dsn: dsn("&_txlock=immediate&_pragma=wal_autocheckpoint(0)")})
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if memory {
		db := &DB{d: sqliteDialect, w: w, r: w, recent: newRecentEvents()}
		db.startCommitter()
		return db, nil
	}
	r := sql.OpenDB(&cachingConnector{drv: &sqlite.Driver{}, dsn: dsn("&_pragma=query_only(ON)")})
	readers := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxIdleTime(0)
	r.SetConnMaxLifetime(0)
	cp := sql.OpenDB(&cachingConnector{drv: &sqlite.Driver{}, dsn: dsn("")})
	cp.SetMaxOpenConns(1)
	db := &DB{d: sqliteDialect, w: w, r: r, stop: make(chan struct{}), stopped: make(chan struct{}), recent: newRecentEvents()}
	db.startCommitter()
	go db.checkpoint(cp)
	return db, nil
}

// secureSQLiteFiles keeps the database file at path (as given in the sqlite:// URL) and its
// -wal and -shm files readable by their owner only, like the key file beside them: they hold
// every event payload and the sealed secrets.
//
// SQLite creates -wal and -shm with the permissions of the database file, so a new database
// file is created here, empty and with mode 0600, before SQLite opens it (SQLite takes an empty
// file as a new database). An existing database file, -wal or -shm readable or writable by
// group or others loses those bits (0644 becomes 0600). Tightening is best effort: a file
// Switchyard does not own, or a file system without Unix permissions, refuses chmod, and
// refusing to start over that would only push operators to worse workarounds.
func secureSQLiteFiles(path string) error {
	// The path is a SQLite URI path: it ends at '?' or '#', and SQLite decodes %HH escapes.
	name, query, _ := strings.Cut(path, "?")
	name, _, _ = strings.Cut(name, "#")
	if decoded, err := url.PathUnescape(name); err == nil {
		name = decoded
	}
	params, _ := url.ParseQuery(query)
	if name == "" || params.Get("mode") == "memory" || params.Get("vfs") != "" {
		return nil // no file of ours
	}
	if params.Get("mode") != "ro" {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case err == nil:
			if err := f.Close(); err != nil {
				return fmt.Errorf("creating the sqlite database file: %w", err)
			}
		case !errors.Is(err, fs.ErrExist):
			return fmt.Errorf("creating the sqlite database file: %w", err)
		}
	}
	// The database file first: SQLite copies its mode to a -wal or -shm it creates.
	for _, p := range []string{name, name + "-wal", name + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			_ = os.Chmod(p, perm&^0o077)
		}
	}
	return nil
}

// checkpointEvery is how often the background checkpointer copies the WAL into the database.
const checkpointEvery = time.Second

// checkpoint runs passive WAL checkpoints on its own connection until the store closes.
// Passive checkpoints never block the writer or the readers: they copy what they can, and the
// writer goes on appending to the WAL meanwhile.
func (db *DB) checkpoint(cp *sql.DB) {
	defer close(db.stopped)
	defer cp.Close()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			// A last, full checkpoint so the database file is complete on a clean shutdown; its
			// failure is Close's error.
			if _, err := cp.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				db.checkpointErr = fmt.Errorf("final checkpoint: %w", err)
			}
			return
		case <-t.C:
			// A passive checkpoint that cannot finish (readers, the writer) simply tries again
			// next tick; a real I/O failure would show on the next write as well.
			_, _ = cp.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}
