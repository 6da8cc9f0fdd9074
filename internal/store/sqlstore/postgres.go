package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
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

// openPostgres opens a pgx pool through database/sql.
func openPostgres(url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	return &DB{d: postgresDialect, w: db, r: db}, nil
}
