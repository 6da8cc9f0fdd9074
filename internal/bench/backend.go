package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, as sqlstore uses it
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver, as sqlstore uses it

	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
)

// backend hands out fresh, empty stores: every scenario (and variant) starts from an empty
// database, so that one scenario's rows never slow the next.
type backend interface {
	// name is "sqlite" or "postgres".
	name() string
	// newStore returns the URL of a new empty store and a function that removes it.
	newStore(ctx context.Context, label string) (string, func(), error)
	// openRaw opens a store URL from newStore with the driver, pragmas and pool size sqlstore
	// uses, for the raw insert limit. It also returns how many writers that pool allows.
	openRaw(url string) (*sql.DB, int, error)
	// serverMatch is a string in the command line of the database server processes that work
	// for the bench (PostgreSQL backends show their database), "" for an embedded store.
	serverMatch() string
	// close removes everything the backend created.
	close() error
}

// newBackend returns a SQLite backend in a temporary directory for an empty databaseURL, or a
// PostgreSQL backend that creates a throwaway database through the admin URL given.
func newBackend(ctx context.Context, databaseURL string) (backend, error) {
	switch {
	case databaseURL == "":
		dir, err := os.MkdirTemp("", "switchyard-bench-")
		if err != nil {
			return nil, fmt.Errorf("creating the SQLite directory: %w", err)
		}
		return &sqliteBackend{dir: dir}, nil
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return newPostgresBackend(ctx, databaseURL)
	}
	return nil, errors.New("--database-url must be a postgres:// URL (leave it out for SQLite in a temporary directory)")
}

// sqliteBackend makes one SQLite file per store in a temporary directory.
type sqliteBackend struct {
	dir string
	n   int
}

func (b *sqliteBackend) name() string { return "sqlite" }

func (b *sqliteBackend) newStore(_ context.Context, label string) (string, func(), error) {
	b.n++
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.db", b.n, label))
	return "sqlite://" + path, func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(path + suffix)
		}
	}, nil
}

// openRaw mirrors sqlstore's SQLite writer (internal/store/sqlstore/sqlite.go): WAL,
// synchronous=NORMAL, busy_timeout, foreign keys, BEGIN IMMEDIATE, one connection.
func (b *sqliteBackend) openRaw(storeURL string) (*sql.DB, int, error) {
	path := strings.TrimPrefix(storeURL, "sqlite://")
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, 0, fmt.Errorf("opening sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db, 1, nil
}

func (b *sqliteBackend) serverMatch() string { return "" }

func (b *sqliteBackend) close() error {
	if err := os.RemoveAll(b.dir); err != nil {
		return fmt.Errorf("removing %s: %w", b.dir, err)
	}
	return nil
}

// poolParams are the store URL's pool parameters (sqlstore's, pgxpool's names): given on
// --database-url they size each store the bench makes, and the raw limit's writers with them.
var poolParams = []string{"pool_max_conns", "pool_min_conns"}

// postgresBackend creates a database switchyard_bench_<random> on the admin URL's server, one
// schema per store inside it, and drops the database at the end.
type postgresBackend struct {
	admin  string
	dbName string
	dbURL  string
	pool   url.Values // poolParams as given on the admin URL
	db     *sql.DB
	n      int
}

func newPostgresBackend(ctx context.Context, adminURL string) (*postgresBackend, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, fmt.Errorf("parsing --database-url: %w", err)
	}
	// The bench's own connections go without the pool parameters (the server refuses them as
	// settings); each store's URL gets them back. Sizes the store would refuse fail here, first.
	q, pool := u.Query(), url.Values{}
	for _, k := range poolParams {
		if q.Has(k) {
			pool.Set(k, q.Get(k))
		}
	}
	if adminURL, _, err = sqlstore.PoolURL(adminURL); err != nil {
		return nil, fmt.Errorf("--database-url: %w", err)
	}
	if u, err = url.Parse(adminURL); err != nil {
		return nil, fmt.Errorf("parsing --database-url: %w", err)
	}
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return nil, fmt.Errorf("opening the admin connection: %w", err)
	}
	defer admin.Close()
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "switchyard_bench_" + hex.EncodeToString(suffix)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	u.Path = "/" + name
	b := &postgresBackend{admin: adminURL, dbName: name, dbURL: u.String(), pool: pool}
	if b.db, err = sql.Open("pgx", b.dbURL); err != nil {
		_ = b.close()
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	return b, nil
}

func (b *postgresBackend) name() string { return "postgres" }

func (b *postgresBackend) newStore(ctx context.Context, label string) (string, func(), error) {
	b.n++
	schema := fmt.Sprintf("s%02d_%s", b.n, strings.ReplaceAll(label, "-", "_"))
	if _, err := b.db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("creating schema %s: %w", schema, err)
	}
	u, err := url.Parse(b.dbURL)
	if err != nil {
		return "", nil, fmt.Errorf("parsing the bench database URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	for k, v := range b.pool {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = b.db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
	}, nil
}

func (b *postgresBackend) openRaw(storeURL string) (*sql.DB, int, error) {
	dsn, writers, err := sqlstore.PoolURL(storeURL)
	if err != nil {
		return nil, 0, err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, 0, fmt.Errorf("opening postgres: %w", err)
	}
	db.SetMaxOpenConns(writers)
	db.SetMaxIdleConns(writers)
	return db, writers, nil
}

func (b *postgresBackend) serverMatch() string { return " " + b.dbName + " " }

// close drops the bench database, disconnecting whatever is still connected to it.
func (b *postgresBackend) close() error {
	if b.db != nil {
		_ = b.db.Close()
	}
	admin, err := sql.Open("pgx", b.admin)
	if err != nil {
		return fmt.Errorf("opening the admin connection: %w", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+b.dbName+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %s: %w", b.dbName, err)
	}
	return nil
}
