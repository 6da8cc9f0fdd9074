package bench

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// errorCounter is the server's log handler in a bench: it counts the records at level Error and
// above, whatever the handler it passes records on to keeps, so that every measured phase
// reports how many errors the server logged while it ran ("server errors logged"). An error
// under load is a finding, not noise: deadlocks on PostgreSQL showed only as a spread in
// fan-out figures until the server's log was read (docs/benchmarks.md).
type errorCounter struct {
	next slog.Handler
	n    *atomic.Int64
}

func (h errorCounter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || h.next.Enabled(ctx, l)
}

func (h errorCounter) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelError {
		h.n.Add(1)
	}
	if !h.next.Enabled(ctx, rec.Level) {
		return nil
	}
	return h.next.Handle(ctx, rec)
}

func (h errorCounter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return errorCounter{next: h.next.WithAttrs(attrs), n: h.n}
}

func (h errorCounter) WithGroup(name string) slog.Handler {
	return errorCounter{next: h.next.WithGroup(name), n: h.n}
}
