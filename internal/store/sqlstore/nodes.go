package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/switchyardhq/switchyard/internal/store"
)

// The cluster plumbing (store.Cluster): node heartbeats and the leader lock.

var _ store.Cluster = (*DB)(nil)

// NodeBeat implements store.Cluster.
func (db *DB) NodeBeat(ctx context.Context, p store.NodeBeatParams) (time.Time, error) {
	const upsert = `INSERT INTO nodes (id, role, host, started_at, seen_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET role = excluded.role, seen_at = excluded.seen_at`
	args := []any{p.ID, p.Role, p.Host, micros(p.StartedAt), micros(p.Now)}
	if db.d.name != "postgres" {
		if _, err := db.w.ExecContext(ctx, upsert, args...); err != nil {
			return time.Time{}, fmt.Errorf("recording a node heartbeat: %w", err)
		}
		return p.Now, nil // one node per file: its clock is the cluster's
	}
	var at int64
	err := db.w.QueryRowContext(ctx, upsert+` RETURNING (extract(epoch FROM clock_timestamp()) * 1000000)::bigint`, args...).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("recording a node heartbeat: %w", err)
	}
	return fromMicros(at), nil
}

// NodeList implements store.Cluster.
func (db *DB) NodeList(ctx context.Context, p store.NodeListParams) ([]store.Node, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, role, host, started_at, seen_at FROM nodes
		WHERE seen_at >= $1 ORDER BY started_at, id`, micros(p.SeenSince))
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	defer rows.Close()
	var nodes []store.Node
	for rows.Next() {
		var (
			n             store.Node
			started, seen int64
		)
		if err := rows.Scan(&n.ID, &n.Role, &n.Host, &started, &seen); err != nil {
			return nil, fmt.Errorf("listing nodes: %w", err)
		}
		n.StartedAt, n.SeenAt = fromMicros(started), fromMicros(seen)
		nodes = append(nodes, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	return nodes, nil
}

// NodeDelete implements store.Cluster.
func (db *DB) NodeDelete(ctx context.Context, p store.NodeDeleteParams) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM nodes WHERE id = $1`, p.ID); err != nil {
		return fmt.Errorf("deleting a node: %w", err)
	}
	return nil
}

// NodeDeleteBefore implements store.Cluster.
func (db *DB) NodeDeleteBefore(ctx context.Context, p store.NodeDeleteBeforeParams) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM nodes WHERE seen_at < $1`, micros(p.Before))
	if err != nil {
		return 0, fmt.Errorf("deleting departed nodes: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// LeaderTry implements store.Cluster. On PostgreSQL the lock is pg_try_advisory_lock on a
// connection taken from the pool for as long as the lock is held (so the pool has one
// connection fewer for other work meanwhile); its key is derived from the database, the schema
// and the name, like the migration lock's.
func (db *DB) LeaderTry(ctx context.Context, p store.LeaderTryParams) (store.Leadership, error) {
	if db.d.name != "postgres" {
		return soleLeader{}, nil
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("taking a connection for the leader lock: %w", err)
	}
	var where string
	if err := conn.QueryRowContext(ctx, `SELECT current_database() || '.' || current_schema()`).Scan(&where); err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading current schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("switchyard leader " + p.Name + " " + where))
	key := int64(h.Sum64())
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		discard(conn)
		return nil, fmt.Errorf("trying the leader lock: %w", err)
	}
	if !got {
		conn.Close()
		return nil, store.ErrLeaderElsewhere
	}
	return &pgLeader{conn: conn}, nil
}

// pgLeader holds the leader lock on its connection.
type pgLeader struct {
	conn *sql.Conn
}

// leaderCheckTimeout bounds a leadership check, so that a leader cut off from the database
// notices in bounded time.
const leaderCheckTimeout = 5 * time.Second

func (l *pgLeader) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, leaderCheckTimeout)
	defer cancel()
	if err := l.conn.PingContext(ctx); err != nil {
		return fmt.Errorf("the leader lock's connection: %w", err)
	}
	var one int
	if err := l.conn.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("the leader lock's connection: %w", err)
	}
	return nil
}

// Release closes the lock's connection instead of returning it to the pool: ending the session
// releases the lock whatever state the connection is in, and a pooled connection that still held
// the lock would make some unrelated query its holder.
func (l *pgLeader) Release() error {
	discard(l.conn)
	return nil
}

// discard closes conn's underlying connection rather than returning it to the pool.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// soleLeader is SQLite's lock: one process owns the file, so it always leads.
type soleLeader struct{}

func (soleLeader) Check(context.Context) error { return nil }
func (soleLeader) Release() error              { return nil }
