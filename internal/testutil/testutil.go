// Package testutil holds what tests of several packages share: waiting for asynchronous work
// without sleeping blindly (docs/conventions.md §9).
package testutil

import (
	"testing"
	"time"
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
