package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/switchyardhq/switchyard/internal/batch"
)

// SQLite group commit.
//
// SQLite has one writer, so every write transaction waits its turn anyway. Each commit writes
// every page the transaction changed to the WAL, and the hot writers (ingest, claims, outcomes)
// change many of the same pages: the deliveries' and events' rows and indexes. So on SQLite,
// db.tx does not run its function in a transaction of its own: a single committer goroutine
// takes every function queued while the previous commit ran and runs them one after another in
// one transaction, each inside a savepoint. A function that fails is rolled back to its
// savepoint and gets its error; the others commit together. Should the shared transaction
// itself fail (BEGIN, a savepoint, COMMIT), each function is run again in a transaction of its
// own, so one cannot fail another. Callers see what they saw before: db.tx returns once their
// function's effects are committed, or its error.

// maxGroup bounds how many functions share one commit.
const maxGroup = 32

// txRequest is one transaction body waiting for the committer.
type txRequest struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

// errClosed is the error of writes after Close.
var errClosed = errors.New("the store is closed")

// startCommitter starts the SQLite group committer.
func (db *DB) startCommitter() {
	db.txq, db.txStopped = make(chan *txRequest, 64), make(chan struct{})
	go db.commitLoop()
}

// stopCommitter stops taking functions, lets the committer run those already queued, and
// waits for it to finish.
func (db *DB) stopCommitter() {
	if db.txq == nil {
		return
	}
	db.txMu.Lock()
	if !db.txClosed {
		db.txClosed = true
		close(db.txq) // no sender holds txMu now, so none can send on the closed channel
	}
	db.txMu.Unlock()
	<-db.txStopped
}

// grouped runs fn through the committer and waits for its outcome.
func (db *DB) grouped(ctx context.Context, fn func(*sql.Tx) error) error {
	r := &txRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
	db.txMu.RLock()
	if db.txClosed {
		db.txMu.RUnlock()
		return errClosed
	}
	select {
	case db.txq <- r:
	case <-ctx.Done():
		db.txMu.RUnlock()
		return ctx.Err()
	}
	db.txMu.RUnlock()
	// Once queued, fn may run: wait for its outcome even if ctx ends meanwhile (the committer
	// checks ctx before it starts fn, and fn's statements use ctx).
	return <-r.done
}

func (db *DB) commitLoop() {
	defer close(db.txStopped)
	group := make([]*txRequest, 0, maxGroup)
	for r := range db.txq {
		group, _ = batch.Fill(append(group[:0], r), db.txq, maxGroup, nil)
		db.commitGroup(group)
		clear(group)
	}
}

// commitGroup runs a group's functions in one transaction and answers each request.
func (db *DB) commitGroup(group []*txRequest) {
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // given up before it started: nothing ran
			continue
		}
		live = append(live, r)
	}
	if len(live) == 1 {
		live[0].done <- db.txAlone(live[0].ctx, live[0].fn)
		return
	}
	if len(live) == 0 {
		return
	}
	errs, err := db.txShared(live)
	if err != nil {
		// The shared transaction failed as a whole: give each function a transaction of its
		// own (those that failed on their own fail again, and say why).
		for _, r := range live {
			r.done <- db.txAlone(r.ctx, r.fn)
		}
		return
	}
	for i, r := range live {
		r.done <- errs[i]
	}
}

// txShared runs each request's function in one transaction, inside its own savepoint, and
// commits. It returns each function's error, or an error of the transaction as a whole (then
// nothing was committed).
func (db *DB) txShared(group []*txRequest) ([]error, error) {
	ctx := context.Background()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("beginning transaction: %w", err)
	}
	errs := make([]error, len(group))
	for i, r := range group {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT g`); err != nil {
			_ = tx.Rollback()
			return nil, fmt.Errorf("savepoint: %w", err)
		}
		if errs[i] = r.fn(tx); errs[i] != nil {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO g`); err != nil {
				_ = tx.Rollback()
				return nil, fmt.Errorf("rolling back to savepoint: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE g`); err != nil {
			_ = tx.Rollback()
			return nil, fmt.Errorf("releasing savepoint: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("committing: %w", err)
	}
	return errs, nil
}
