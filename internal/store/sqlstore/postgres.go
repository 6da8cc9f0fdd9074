package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

var postgresDialect = dialect{
	name:  "postgres",
	goose: goose.DialectPostgres,
	lockDue: func(ids string) string {
		return `SELECT id FROM deliveries WHERE id IN (` + ids + `) AND next_attempt_at <= $2 FOR UPDATE SKIP LOCKED`
	},
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
	dsn, size, err := poolSize(rawURL)
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
	db.SetMaxOpenConns(size)
	db.SetMaxIdleConns(size)
	return &DB{d: postgresDialect, w: db, r: db}, nil
}

// poolSize takes the pool_max_conns parameter (pgxpool's name for it) out of a PostgreSQL URL,
// since the server would refuse it as an unknown setting, and returns the URL without it and the
// pool size (default defaultPoolSize).
func poolSize(rawURL string) (string, int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", 0, fmt.Errorf("parsing the PostgreSQL URL: %s", redactURL(rawURL))
	}
	q := u.Query()
	v := q.Get("pool_max_conns")
	if v == "" {
		return rawURL, defaultPoolSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 || n > 1000 {
		return "", 0, fmt.Errorf("pool_max_conns must be a whole number from 2 to 1000, not %q", v)
	}
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}
