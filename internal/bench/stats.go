package bench

import (
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted, which must be in ascending
// order, by the nearest-rank method: the smallest value with at least p % of the values at or
// below it. It never interpolates, so every percentile is a latency that was really observed.
// It returns 0 for no values; p ≤ 0 gives the minimum.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// latencies summarises a set of latencies.
type latencies struct {
	N                  int
	P50, P95, P99, Max time.Duration
}

// summarize sorts ds in place and returns its percentiles.
func summarize(ds []time.Duration) latencies {
	slices.Sort(ds)
	l := latencies{N: len(ds), P50: percentile(ds, 50), P95: percentile(ds, 95), P99: percentile(ds, 99)}
	if len(ds) > 0 {
		l.Max = ds[len(ds)-1]
	}
	return l
}

// median returns the median of vs (the mean of the middle two for an even count), 0 for none.
// vs is not modified.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// perSecond returns n per second over d, 0 for an empty window.
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// ratio returns a/b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// ms converts a duration to fractional milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
