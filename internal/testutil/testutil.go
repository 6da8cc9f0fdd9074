// Package testutil holds what tests of several packages share: waiting for asynchronous work
// without sleeping blindly (docs/conventions.md §9), checking that no goroutine is left running,
// and a buffer goroutines may write to while the test reads it.
package testutil

import (
	"flag"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// pollEvery is how often Eventually re-checks its condition: often enough that a test waits at
// most a few milliseconds after the condition holds, rarely enough not to load a busy machine.
const pollEvery = 5 * time.Millisecond

// Eventually polls cond until it returns true and fails the test with what if it does not
// within the given time. Conditions should be cheap and safe to call from the test goroutine.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(within, cond) {
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}

// Poll calls cond until it returns true or the time is up, and reports whether it did. For
// waits whose failure is not a test failure by itself (a caller that reports its own message,
// or a goroutine other than the test's, where t.Fatal must not be called).
func Poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return cond()
		}
		<-tick.C
	}
	return true
}

// Receive returns the next value from ch, and fails the test with what if none comes within the
// given time: a signal waited for, with a bound instead of a hang.
func Receive[T any](t testing.TB, ch <-chan T, within time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(within):
		t.Fatalf("timed out after %v waiting for %s", within, what)
		var zero T
		return zero
	}
}

// VerifyNoLeaks runs a package's tests and then fails if any goroutine they started is still
// running (go.uber.org/goleak), so a test that forgets to stop a worker, close a store or shut
// a server down is caught where it is written. Call it from TestMain. While fuzzing it only
// runs the tests: the fuzzing engine's own goroutines would be reported.
func VerifyNoLeaks(m *testing.M, ignore ...goleak.Option) {
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m, ignore...)
}
