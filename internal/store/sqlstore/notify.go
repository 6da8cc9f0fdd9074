package sqlstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/jackc/pgx/v5/stdlib"
)

// Waking other nodes (store.Cluster's DueNotify and DueListen): a node that accepts events but
// does not deliver (role api) tells the delivering nodes with PostgreSQL's NOTIFY, so that they
// claim at once rather than at their next poll. Channels are per database, so the channel's
// name carries a hash of the schema: installations in different schemas never wake each other.

// dueChannel returns this store's NOTIFY channel, read once.
func (db *DB) dueChannel(ctx context.Context) (string, error) {
	db.channelMu.Lock()
	defer db.channelMu.Unlock()
	if db.channel != "" {
		return db.channel, nil
	}
	var where string
	if err := db.r.QueryRowContext(ctx, `SELECT current_database() || '.' || current_schema()`).Scan(&where); err != nil {
		return "", fmt.Errorf("reading current schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte(where))
	db.channel = "switchyard_due_" + strconv.FormatUint(h.Sum64(), 36)
	return db.channel, nil
}

// DueNotify implements store.Cluster: one round trip on PostgreSQL, nothing on SQLite (one
// process, which wakes its own engine).
func (db *DB) DueNotify(ctx context.Context) error {
	if db.d.name != "postgres" {
		return nil
	}
	ch, err := db.dueChannel(ctx)
	if err != nil {
		return err
	}
	if _, err := db.w.ExecContext(ctx, `SELECT pg_notify($1, '')`, ch); err != nil {
		return fmt.Errorf("notifying the delivering nodes: %w", err)
	}
	return nil
}

// DueListen implements store.Cluster: it holds a connection of the pool, LISTENing, and calls
// wake once when the LISTEN is in place (for what was notified before) and then for every
// notification, until ctx ends or the connection fails (then it returns the error; the caller
// listens again). On SQLite it waits for ctx and returns nil.
func (db *DB) DueListen(ctx context.Context, wake func()) error {
	if db.d.name != "postgres" {
		<-ctx.Done()
		return nil
	}
	ch, err := db.dueChannel(ctx)
	if err != nil {
		return err
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("taking a connection to listen on: %w", err)
	}
	// The connection LISTENs: close it rather than let the pool hand it to other work.
	defer discard(conn)
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("listening: unexpected driver connection %T", dc)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, `LISTEN "`+ch+`"`); err != nil {
			return fmt.Errorf("listening: %w", err)
		}
		// Whatever was notified before the LISTEN took effect was missed: look now.
		wake()
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("waiting for notifications: %w", err)
			}
			wake()
		}
	})
}
