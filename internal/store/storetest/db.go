// Package storetest holds the store conformance suite that every dialect passes, and the helpers
// that give each test its own real database: a fresh SQLite file always, and a fresh PostgreSQL
// schema when TEST_DATABASE_URL is set.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create and drop schemas
	_ "modernc.org/sqlite"             // the "sqlite" driver, to migrate the SQLite template

	"github.com/switchyardhq/switchyard/internal/store/sqlstore/migrations"
)

// Dialect is one database a test can run on.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// NewURL returns the URL of a fresh database private to t, removed when t ends: empty on
	// PostgreSQL, migrated already on SQLite (SQLiteURL).
	NewURL func(t testing.TB) string
}

// Dialects returns SQLite, and PostgreSQL when TEST_DATABASE_URL is set. With
// SWITCHYARD_REQUIRE_POSTGRES=1 (as CI sets) a missing TEST_DATABASE_URL fails the test instead
// of skipping the PostgreSQL run.
func Dialects(t testing.TB) []Dialect {
	t.Helper()
	ds := []Dialect{{Name: "sqlite", NewURL: SQLiteURL}}
	if os.Getenv("TEST_DATABASE_URL") != "" {
		ds = append(ds, Dialect{Name: "postgres", NewURL: PostgresURL})
	} else if os.Getenv("SWITCHYARD_REQUIRE_POSTGRES") == "1" {
		t.Fatal("SWITCHYARD_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
	}
	return ds
}

// Each runs fn as a subtest once per available dialect.
func Each(t *testing.T, fn func(t *testing.T, d Dialect)) {
	t.Helper()
	for _, d := range Dialects(t) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// SQLiteURL returns the URL of a new SQLite file in t's temporary directory, already migrated:
// a copy of a template this process migrated once, so that a test's store opens without running
// every migration again (16–19 ms of CPU a store, a large part of the suites' time). Opening it
// runs the migrations as ever, and finds none to apply.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	template, err := sqliteTemplate()
	if err != nil {
		t.Fatalf("making the SQLite template: %v", err)
	}
	path := filepath.Join(t.TempDir(), "switchyard.db")
	if err := os.WriteFile(path, template, 0o600); err != nil {
		t.Fatalf("copying the SQLite template: %v", err)
	}
	return "sqlite://" + path
}

// sqliteTemplate is the bytes of a SQLite database with every migration applied, made once per
// test process in a directory removed at once.
var sqliteTemplate = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "switchyard-storetest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(ON)")
	if err != nil {
		return nil, err
	}
	p, err := migrations.Provider("sqlite", db)
	if err == nil {
		_, err = p.Up(context.Background())
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return os.ReadFile(path)
})

// PostgresURL creates a new schema in the TEST_DATABASE_URL database and returns a URL whose
// search_path selects it; the schema is dropped when t ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Skip("TEST_DATABASE_URL is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("opening TEST_DATABASE_URL: %v", err)
	}
	defer admin.Close()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "sy_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Errorf("dropping schema: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parsing TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	// A serving node opens its whole pool at start (20 connections by default); tests start
	// many nodes side by side, which would together pass PostgreSQL's max_connections.
	if !q.Has("pool_min_conns") {
		q.Set("pool_min_conns", "2")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// DriverURL is a URL from PostgresURL without Switchyard's own parameters (the pool's sizes),
// for opening the database with the pgx driver directly: the server refuses settings it does
// not know.
func DriverURL(t testing.TB, rawURL string) string {
	return WithParams(t, rawURL, url.Values{"pool_min_conns": nil, "pool_max_conns": nil})
}

// WithParams returns rawURL with its query parameters set as params says: a key with values
// takes them, a key with none is removed.
func WithParams(t testing.TB, rawURL string, params url.Values) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parsing %s: %v", rawURL, err)
	}
	q := u.Query()
	for k, v := range params {
		if len(v) == 0 {
			q.Del(k)
		} else {
			q[k] = v
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
