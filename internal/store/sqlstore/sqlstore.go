// Package sqlstore implements store.Store on SQLite (modernc.org/sqlite, the default) and on
// PostgreSQL (pgx). Almost all of Switchyard's SQL is portable — $N placeholders, integer
// microsecond times, RETURNING — so the two dialects share one implementation here, and the few
// places where they truly differ (connection setup, migrations, claiming with SKIP LOCKED,
// recognising a unique violation) sit behind the dialect type. Each dialect keeps its own
// migrations under migrations/<dialect>.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore/migrations"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// dialect is what differs between SQLite and PostgreSQL.
type dialect struct {
	// name is "sqlite" or "postgres", also the name of the dialect's migrations (migrations.Provider).
	name string
	// lockDue wraps a query selecting due delivery ids ($2 is now) so that the rows are locked
	// for the claiming transaction (PostgreSQL: FOR UPDATE SKIP LOCKED, re-checking dueness).
	// SQLite has one writer, so the query stands as it is.
	lockDue func(ids string) string
	// idIn is the condition that id is one of the ids a query selects. On PostgreSQL it is
	// id = ANY(ARRAY(query)): the ids computed once, then primary-key lookups, whatever the
	// planner's statistics say. As id IN (query), statistics gathered while nothing was due let
	// it walk every due delivery and run the query once for each (docs/postgres.md, "Statistics").
	idIn func(query string) string
	// isUniqueViolation recognises the driver's unique-constraint error.
	isUniqueViolation func(error) bool
	// isForeignKeyViolation recognises the driver's foreign-key error.
	isForeignKeyViolation func(error) bool
	// isAborted recognises a transaction the database aborted for a reason of the moment (a
	// deadlock, a serialization failure), worth running again; nil where none happens.
	isAborted func(error) bool
	// sessionLocker serialises migrations across processes, nil where the database does.
	sessionLocker func(ctx context.Context, db *sql.DB) (goose.ProviderOption, error)
}

// DB is a store.Store on a SQL database.
type DB struct {
	d dialect
	// w takes every write. On SQLite it holds a single connection: SQLite has one writer, and
	// queueing in Go is cheaper and fairer than spinning on SQLITE_BUSY.
	w *sql.DB
	// r serves reads; on PostgreSQL it is the same pool as w.
	r *sql.DB
	// warm is how many connections OpenPool opens (PostgreSQL's pool_min_conns; 0 on SQLite).
	warm int
	// stop and stopped end the SQLite background checkpointer (nil on PostgreSQL).
	stop, stopped chan struct{}
	closeOnce     sync.Once
	checkpointErr error // set by the checkpointer before stopped closes
	// txq feeds the SQLite group committer (groupcommit.go); nil on PostgreSQL, where
	// transactions run side by side.
	txq       chan *txRequest
	txStopped chan struct{}
	txMu      sync.RWMutex // held to send on txq; Close takes it to close txq
	txClosed  bool
	// routes caches workspaces' rules per event name (see router); rules and conns the rules
	// and connections claims hand to attempts (see DeliveryClaim).
	routes versioned[routeKey, []route]
	rules  versioned[uuid.UUID, *switchyard.Rule]
	conns  versioned[uuid.UUID, *switchyard.Connection]
	// recent keeps just-stored events for the claims of their deliveries (SQLite only; nil on
	// PostgreSQL).
	recent *recentEvents
	// catalogued remembers stored catalogue entries (see catalogue).
	catalogued catalogKnown
	// channel is the NOTIFY channel of due work, once read (notify.go).
	channelMu sync.Mutex
	channel   string
}

var _ store.Store = (*DB)(nil)

// Open opens the store named by url — sqlite://PATH (or sqlite::memory: for a throwaway store)
// or postgres://… / postgresql://… — and applies pending migrations.
func Open(ctx context.Context, url string) (*DB, error) {
	db, err := OpenNoMigrate(ctx, url)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenNoMigrate opens the store without touching its schema.
func OpenNoMigrate(ctx context.Context, url string) (*DB, error) {
	var (
		db  *DB
		err error
	)
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		db, err = openSQLite(strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err = openPostgres(url)
	default:
		return nil, fmt.Errorf("unsupported database URL %q: use sqlite://PATH or postgres://…", redactURL(url))
	}
	if err != nil {
		return nil, err
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to %s: %w", db.d.name, err)
	}
	return db, nil
}

// Dialect names the database: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.d.name }

// Migrate applies pending migrations and returns how many it applied.
func (db *DB) Migrate(ctx context.Context) (int, error) { return db.MigrateSteps(ctx, nil) }

// MigrateSteps is Migrate calling step after each migration it applies, with the migration's
// file name and how long it took (for `switchyard migrate`'s progress on a large store). A nil
// step applies them all at once, as Migrate does.
func (db *DB) MigrateSteps(ctx context.Context, step func(name string, took time.Duration)) (int, error) {
	var opts []goose.ProviderOption
	if db.d.sessionLocker != nil {
		opt, err := db.d.sessionLocker(ctx, db.w)
		if err != nil {
			return 0, err
		}
		opts = append(opts, opt)
	}
	p, err := migrations.Provider(db.d.name, db.w, opts...)
	if err != nil {
		return 0, err
	}
	if step == nil {
		res, err := p.Up(ctx)
		if err != nil {
			return 0, fmt.Errorf("migrating %s: %w", db.d.name, err)
		}
		return len(res), nil
	}
	n := 0
	for {
		res, err := p.UpByOne(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("migrating %s: %w", db.d.name, err)
		}
		n++
		step(filepath.Base(res.Source.Path), res.Duration)
	}
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.r.PingContext(ctx)
}

// Close closes both pools.
func (db *DB) Close() error {
	db.stopCommitter()
	if db.stop != nil {
		db.closeOnce.Do(func() { close(db.stop) })
		<-db.stopped
	}
	err := errors.Join(db.checkpointErr, db.w.Close())
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// tx runs fn in a write transaction, committing if it returns nil. On SQLite the transaction
// may be shared with other callers' functions (a group commit, see groupcommit.go); fn's
// effects are committed, or rolled back, all the same.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if db.txq != nil {
		return db.grouped(ctx, fn)
	}
	return db.txAlone(ctx, fn)
}

// snapshot runs fn's reads in one read-only transaction, so that they all see the database as
// of one moment: a list of events and their deliveries never shows an event's status from
// before an outcome beside its delivery's from after it. On SQLite (WAL) a transaction's reads
// share the snapshot its first read takes; on PostgreSQL that takes REPEATABLE READ, which
// costs a read-only transaction nothing more than BEGIN and COMMIT.
func (db *DB) snapshot(ctx context.Context, fn func(*sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.d.name == "postgres" {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.r.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("beginning a read: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// txAborted is how many times txAlone runs a transaction the database aborted (isAborted).
const txAborted = 3

// txAlone runs fn in a write transaction of its own. A transaction the database aborted for a
// deadlock (PostgreSQL detects one and aborts one side) is run again, up to txAborted times:
// fn must be safe to run more than once — as it already must be for SQLite's group committer,
// which runs a function again on its own when the group it was in failed. Without that, a
// deadlock between, say, an API cancel and an outcome batch would fail the API request.
func (db *DB) txAlone(ctx context.Context, fn func(*sql.Tx) error) error {
	for run := 1; ; run++ {
		err := db.txOnce(ctx, fn)
		if err == nil || run == txAborted || db.d.isAborted == nil || !db.d.isAborted(err) || ctx.Err() != nil {
			return err
		}
	}
}

// txOnce runs fn in a write transaction of its own, once.
func (db *DB) txOnce(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// insertErr turns a unique violation into store.ErrConflict.
func (db *DB) insertErr(what string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case db.d.isUniqueViolation(err):
		return fmt.Errorf("inserting %s: %w", what, store.ErrConflict)
	case db.d.isForeignKeyViolation(err):
		// What the row refers to is gone (deleted concurrently): report it as not found.
		return fmt.Errorf("inserting %s: a referenced record does not exist: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("inserting %s: %w", what, err)
}

// redactURL drops the password from a database URL for error messages.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	userinfo := u[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return u[:scheme+3] + userinfo[:i] + ":xxxxx" + u[at:]
	}
	return u
}
