package bench

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
)

func TestErrorCounterCountsErrorsWhateverTheHandlerKeeps(t *testing.T) {
	var n atomic.Int64
	var out bytes.Buffer
	// The handler passed on to keeps warnings and up; errors are counted whatever it keeps.
	log := slog.New(errorCounter{next: slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}), n: &n}).With("node", 1)
	log.Info("claim")
	log.Warn("lease expired")
	log.Error("recording delivery outcomes", "error", "deadlock detected")
	log.WithGroup("g").Error("another")
	if n.Load() != 2 {
		t.Fatalf("counted %d errors, want 2", n.Load())
	}
	if got := out.String(); strings.Contains(got, "claim") || !strings.Contains(got, "lease expired") ||
		!strings.Contains(got, "deadlock detected") || !strings.Contains(got, "node=1") {
		t.Fatalf("passed on:\n%s", got)
	}

	quiet := slog.New(errorCounter{next: slog.DiscardHandler, n: &n})
	quiet.Error("counted though discarded")
	if n.Load() != 3 {
		t.Fatalf("counted %d errors, want 3", n.Load())
	}
}
