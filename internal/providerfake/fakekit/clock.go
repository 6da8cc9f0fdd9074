package fakekit

import (
	"sync/atomic"
	"time"
)

// Clock is a fake's notion of now: a base clock (time.Now unless replaced)
// plus the sum of Advance calls. It is safe for concurrent use and has a
// lock of its own, so it can be read while holding the fake's lock.
type Clock struct {
	base  func() time.Time
	shift atomic.Int64
}

// NewClock returns a clock reading base, or time.Now when base is nil.
func NewClock(base func() time.Time) *Clock {
	if base == nil {
		base = time.Now
	}
	return &Clock{base: base}
}

// Now returns the base time moved forward by every Advance so far.
func (c *Clock) Now() time.Time { return c.base().Add(time.Duration(c.shift.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.shift.Add(int64(d)) }
