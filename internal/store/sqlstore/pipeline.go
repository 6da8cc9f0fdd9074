package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// rowsIter is how a claim reads rows: *sql.Rows, or pgx's rows read from a pipeline.
type rowsIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// claimStmts runs the statements of a shared claim inside its transaction.
type claimStmts struct {
	query func(ctx context.Context, q string, args ...any) (rowsIter, error)
	exec  func(ctx context.Context, q string, args ...any) error
	// last, if set, is told that the next query is the transaction's last statement.
	last func()
}

// execQueryer runs statements through database/sql: a transaction or a pool.
type execQueryer interface {
	queryer
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// sqlStmts runs a claim's statements through database/sql: in a transaction, or on the pool.
func sqlStmts(tx execQueryer) claimStmts {
	return claimStmts{
		query: func(ctx context.Context, q string, args ...any) (rowsIter, error) {
			rows, err := tx.QueryContext(ctx, q, args...)
			if err != nil {
				return nil, err
			}
			return rows, nil
		},
		exec: func(ctx context.Context, q string, args ...any) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		},
	}
}

// pipelined runs a transaction on one pgx connection with several statements per round trip:
// a shared claim's, with BEGIN sent together with the claim's first statement and, when nothing
// is to be written after the claim itself, COMMIT together with its last (query); an outcome
// batch's, in two or three sends (send). Each round trip costs both sides a wake-up, which on
// two cores costs about as much as the statements (docs/postgres.md).
type pipelined struct {
	c                            *pgx.Conn
	begun, commitNext, committed bool
}

func (p *pipelined) stmts() claimStmts {
	return claimStmts{query: p.query, exec: p.exec, last: func() { p.commitNext = true }}
}

func (p *pipelined) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	b := &pgx.Batch{}
	b.Queue(q, args...)
	commit := p.commitNext
	br, err := p.start(ctx, b, commit)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	r := &batchRows{Rows: rows, br: br}
	if commit {
		r.commit = p
	}
	return r, nil
}

// start sends b's statements in one round trip, after BEGIN if the transaction has not begun
// (whose result it reads) and followed by COMMIT with commit: what is left to read is b's
// results, then the COMMIT's (readCommit).
func (p *pipelined) start(ctx context.Context, b *pgx.Batch, commit bool) (pgx.BatchResults, error) {
	all := &pgx.Batch{}
	begin := !p.begun
	if begin {
		all.Queue("begin")
	}
	all.QueuedQueries = append(all.QueuedQueries, b.QueuedQueries...)
	if commit {
		all.Queue("commit")
	}
	p.begun = true
	br := p.c.SendBatch(ctx, all)
	if begin {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

// readCommit reads the result of the COMMIT that start sent.
func (p *pipelined) readCommit(br pgx.BatchResults) error {
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	p.committed = true
	return nil
}

func (p *pipelined) exec(ctx context.Context, q string, args ...any) error {
	rows, err := p.query(ctx, q, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	return rows.Close()
}

// finish commits the transaction unless it is committed already, or rolls it back after err.
func (p *pipelined) finish(ctx context.Context, err error) error {
	switch {
	case !p.begun:
		return err
	case err != nil:
		if !p.committed {
			_, _ = p.c.Exec(ctx, "rollback") // else the pool drops the connection (open transaction)
		}
		return err
	case !p.committed:
		if _, err := p.c.Exec(ctx, "commit"); err != nil {
			return fmt.Errorf("committing: %w", err)
		}
	}
	return nil
}

// batchRows are a pipelined statement's rows; closing them reads the COMMIT sent behind it, if
// any (commit: its transaction).
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	commit *pipelined
}

func (r *batchRows) Close() error {
	r.Rows.Close()
	err := r.Rows.Err()
	if r.commit != nil && err == nil {
		err = r.commit.readCommit(r.br)
	}
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// send sends b's statements like start and hands their results to read, which must consume one
// per statement of b, in order; then it reads the COMMIT's, with commit.
func (p *pipelined) send(ctx context.Context, b *pgx.Batch, commit bool, read func(pgx.BatchResults) error) error {
	br, err := p.start(ctx, b, commit)
	if err != nil {
		return err
	}
	err = read(br)
	if err == nil && commit {
		err = p.readCommit(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// withPipeline runs fn with a pipelined transaction on a connection of db's write pool.
func (db *DB) withPipeline(ctx context.Context, fn func(claimStmts) error) error {
	return db.withPipelined(ctx, func(p *pipelined) error { return fn(p.stmts()) })
}

// withPipelined runs fn with a pipelined transaction on a connection of db's write pool, and
// commits it unless fn did (or rolls it back after an error).
func (db *DB) withPipelined(ctx context.Context, fn func(*pipelined) error) error {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("taking a connection: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		p := &pipelined{c: dc.(*stdlib.Conn).Conn()}
		return p.finish(ctx, fn(p))
	})
}

// pgxRows are a batch's pgx rows as a rowsIter.
type pgxRows struct{ pgx.Rows }

func (r pgxRows) Close() error {
	r.Rows.Close()
	return r.Rows.Err()
}
