package delivery

import (
	"math/rand/v2"
	"time"
)

// DefaultSchedule is the wait before each retry: the first attempt is immediate, then 5 s, 1 min,
// 5 min, 30 min, 2 h, 6 h and 12 h — eight attempts over about 21 hours (docs/decisions.md §7).
var DefaultSchedule = []time.Duration{
	5 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour,
}

// MaxRetryAfter caps how long a destination's Retry-After can push a retry back.
const MaxRetryAfter = time.Hour

// retryDelay returns the wait before the retry that follows attempt number n (1-based), and
// false when the schedule is exhausted. retryAfter, when positive, replaces the schedule's wait
// (capped at MaxRetryAfter). The wait gets ±10 % jitter so retries of a burst spread out.
func retryDelay(schedule []time.Duration, n int, retryAfter time.Duration) (time.Duration, bool) {
	if n < 1 || n > len(schedule) {
		return 0, false
	}
	d := schedule[n-1]
	if retryAfter > 0 {
		return min(retryAfter, MaxRetryAfter), true
	}
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	return d + jitter, true
}
