package testutil

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestPollReturnsWhenTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	if !Poll(10*time.Second, func() bool { return n.Add(1) >= 3 }) {
		t.Fatal("Poll gave up on a condition that became true")
	}
	if got := n.Load(); got != 3 {
		t.Errorf("condition called %d times, want 3", got)
	}
}

func TestPollGivesUpAtTheDeadline(t *testing.T) {
	start := time.Now()
	if Poll(30*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll reported success for a condition that never held")
	}
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Errorf("Poll gave up after %v, before its deadline", waited)
	}
}

// fatalRecorder is a testing.TB whose Fatalf is recorded instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
}

func TestEventuallyFailsWithWhatItWaitedFor(t *testing.T) {
	r := &fatalRecorder{TB: t}
	Eventually(r, 10*time.Millisecond, "nothing", func() bool { return false })
	if r.msg == "" {
		t.Fatal("Eventually did not fail the test")
	}
	r = &fatalRecorder{TB: t}
	Eventually(r, time.Second, "something", func() bool { return true })
	if r.msg != "" {
		t.Fatalf("Eventually failed a condition that held: %s", r.msg)
	}
}

func TestReceiveReturnsTheValueOrFails(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := Receive(t, ch, time.Second, "a value"); got != 7 {
		t.Fatalf("Receive returned %d, want 7", got)
	}
	r := &fatalRecorder{TB: t}
	Receive(r, make(chan int), 10*time.Millisecond, "nothing")
	if r.msg == "" {
		t.Fatal("Receive did not fail the test when nothing came")
	}
}
