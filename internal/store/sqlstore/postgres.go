package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"slices"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

// postgresIDIn is the PostgreSQL dialect's idIn.
func postgresIDIn(query string) string { return `id = ANY(ARRAY(` + query + `))` }

var postgresDialect = dialect{
	name: "postgres",
	lockDue: func(ids string) string {
		return `SELECT id FROM deliveries WHERE ` + postgresIDIn(ids) + ` AND next_attempt_at <= $2 FOR UPDATE SKIP LOCKED`
	},
	idIn: postgresIDIn,
	isUniqueViolation: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505"
	},
	isForeignKeyViolation: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23503"
	},
	isAborted: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && (e.Code == "40P01" || e.Code == "40001") // deadlock_detected, serialization_failure
	},
	sessionLocker: func(ctx context.Context, db *sql.DB) (goose.ProviderOption, error) {
		// Several serve processes may start at once on one database: one migrates, the others
		// wait. The advisory lock is per database and schema, so that stores in different schemas
		// (tests, several installations in one database) never wait for each other.
		var where string
		if err := db.QueryRowContext(ctx, `SELECT current_database() || '.' || current_schema()`).Scan(&where); err != nil {
			return nil, fmt.Errorf("reading current schema: %w", err)
		}
		h := fnv.New64a()
		h.Write([]byte(where))
		l, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		return goose.WithSessionLocker(l), nil
	},
}

// defaultPoolSize is how many connections a process opens at most unless the URL's
// pool_max_conns says otherwise (docs/postgres.md sizes it).
const defaultPoolSize = 20

// openPostgres opens a pgx pool through database/sql. pgx prepares and caches every statement
// on each connection (its default QueryExecModeCacheStatement), so each query is parsed and
// planned once per connection.
//
// Each connection learns to send a uuid.UUID as the 16 bytes it is. Without that, pgx sees a
// driver.Valuer, formats the id as text and parses the text back into bytes, for every id of
// every array parameter: 17 % of the process's CPU in a busy connection's delivery on
// PostgreSQL (docs/benchmarks.md).
func openPostgres(rawURL string) (*DB, error) {
	dsn, pool, err := poolSizes(rawURL)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("opening postgres: %w", err) // pgx's error masks the password
	}
	db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
		pgxuuid.Register(c.TypeMap())
		return nil
	}))
	db.SetMaxOpenConns(pool.max)
	db.SetMaxIdleConns(pool.max)
	return &DB{d: postgresDialect, w: db, r: db, warm: pool.min}, nil
}

// PoolURL returns a PostgreSQL URL as the driver takes it (without the pool parameters) and the
// most connections a store opened on rawURL keeps (pool_max_conns, defaultPoolSize without it),
// refusing sizes the store would refuse. The bench sizes its raw-insert writers by it.
func PoolURL(rawURL string) (string, int, error) {
	dsn, pool, err := poolSizes(rawURL)
	return dsn, pool.max, err
}

// poolConfig is the pool's size: at most max connections, min of them opened by OpenPool.
type poolConfig struct{ max, min int }

// poolSizes takes the pool_max_conns and pool_min_conns parameters (pgxpool's names for them)
// out of a PostgreSQL URL, since the server would refuse them as unknown settings, and returns
// the URL without them and the sizes: max defaultPoolSize, min max unless the URL says
// otherwise.
func poolSizes(rawURL string) (string, poolConfig, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", poolConfig{}, fmt.Errorf("parsing the PostgreSQL URL: %s", redactURL(rawURL))
	}
	q := u.Query()
	var pool poolConfig
	if pool.max, err = intParam(q, "pool_max_conns", 2, 1000, "2 to 1000", defaultPoolSize); err != nil {
		return "", poolConfig{}, err
	}
	if pool.min, err = intParam(q, "pool_min_conns", 0, pool.max, fmt.Sprintf("0 to pool_max_conns (%d)", pool.max), pool.max); err != nil {
		return "", poolConfig{}, err
	}
	if !q.Has("pool_max_conns") && !q.Has("pool_min_conns") {
		return rawURL, pool, nil
	}
	q.Del("pool_max_conns")
	q.Del("pool_min_conns")
	u.RawQuery = q.Encode()
	return u.String(), pool, nil
}

// intParam is the whole number q gives for name, from lo to hi (span says so in the error), or
// def when q does not have it.
func intParam(q url.Values, name string, lo, hi int, span string, def int) (int, error) {
	if !q.Has(name) {
		return def, nil
	}
	v := q.Get(name)
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be a whole number from %s, not %q", name, span, v)
	}
	return n, nil
}

// OpenPool opens the pool's first connections (pool_min_conns; by default all of
// pool_max_conns) side by side, for a node about to serve. Without it the pool grows when work
// first needs more connections than are open, and database/sql makes each request that finds
// none free open one of its own, however soon another would have been free: a connection's
// start (a server process forked, TLS, authentication) then delays everything that wanted one.
// On the 2-core machine of docs/benchmarks.md the first wave of timed-out attempts in the
// isolation benchmark grew a cold pool by about a dozen connections at once and held every
// delivery and every ingest for 150–250 ms. Connections the server closes later are opened
// again on demand, not by this. A no-op on SQLite.
//
// Its error says how many it opened of how many, and why not the rest (the pool still works
// with fewer: they are opened on demand, if the server lets them).
func (db *DB) OpenPool(ctx context.Context) error {
	if db.warm <= 1 {
		return nil // OpenNoMigrate's ping opened one
	}
	conns := make([]*sql.Conn, db.warm)
	errs := make([]error, db.warm)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() { conns[i], errs[i] = db.w.Conn(ctx) })
	}
	wg.Wait()
	opened := 0
	for _, c := range conns {
		if c != nil {
			opened++
			_ = c.Close() // back to the pool, idle
		}
	}
	if i := slices.IndexFunc(errs, func(err error) bool { return err != nil }); i >= 0 {
		return fmt.Errorf("opened %d of the pool's first %d connections (pool_min_conns): %w", opened, db.warm, errs[i])
	}
	return nil
}
