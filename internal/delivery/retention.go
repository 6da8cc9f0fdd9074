package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Cleaner removes finished events older than the retention period, with their deliveries and
// attempts (docs/decisions.md §12). It deletes in small batches with a pause between them, so each
// write transaction is short and ingestion is never held up behind it. Of several nodes on one
// database, only the one elected to run the maintenance runs it (internal/cluster); the deletes
// are idempotent all the same, so a moment with two leaders does no harm.
type Cleaner struct {
	Store store.Store
	// Retention is how long events are kept (default 30 days).
	Retention time.Duration
	// Interval is how often the cleaner runs (default 1 h); it also runs once a minute after start.
	Interval time.Duration
	// Batch is how many events one transaction deletes (default 1000).
	Batch  int
	Logger *slog.Logger
	Now    func() time.Time
}

// Run cleans until ctx ends.
func (c *Cleaner) Run(ctx context.Context) {
	setDefault(&c.Retention, 30*24*time.Hour)
	setDefault(&c.Interval, time.Hour)
	setDefault(&c.Batch, 1000)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	wait := min(time.Minute, c.Interval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = c.Interval
		n, err := c.Clean(ctx)
		if err != nil && ctx.Err() == nil {
			c.Logger.Error("retention: deleting old events", slog.Any("error", err))
		} else if n > 0 {
			c.Logger.Info("retention: deleted old events", slog.Int("events", n), slog.Duration("retention", c.Retention))
		}
	}
}

// Clean deletes everything past retention now, and idempotency keys past their window, and
// returns how many events it deleted.
func (c *Cleaner) Clean(ctx context.Context) (int, error) {
	keysBefore := c.Now().Add(-switchyard.IdempotencyWindow)
	for {
		n, err := c.Store.IdempotencyKeyDeleteBefore(ctx, store.IdempotencyKeyDeleteBeforeParams{Before: keysBefore, Limit: c.Batch})
		if err != nil {
			return 0, err
		}
		if n < c.Batch {
			break
		}
	}
	total := 0
	cutoff := c.Now().Add(-c.Retention)
	for {
		n, err := c.Store.EventDeleteBefore(ctx, store.EventDeleteBeforeParams{Before: cutoff, Limit: c.Batch})
		total += n
		if err != nil || n < c.Batch {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(20 * time.Millisecond): // let other writers in between batches
		}
	}
}
