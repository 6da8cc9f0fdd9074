package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RateLimits sets the per-key token buckets (product.md §6): requests per second per machine key
// and per publishable key, with a burst of twice the rate. Zero turns a limit off. The buckets
// are per node: with N nodes behind a load balancer a key may get up to N times the rate.
type RateLimits struct {
	Machine     float64
	Publishable float64
}

// DefaultRateLimits are the product defaults: 1000 requests per second per key.
var DefaultRateLimits = RateLimits{Machine: 1000, Publishable: 1000}

// limiters holds one token bucket per key.
type limiters struct {
	mu    sync.Mutex
	rate  float64
	byKey map[string]*rate.Limiter
}

func newLimiters(perSecond float64) *limiters {
	if perSecond <= 0 {
		return nil
	}
	return &limiters{rate: perSecond, byKey: map[string]*rate.Limiter{}}
}

// allow takes a token for key and sets the RateLimit-* headers on w. When the bucket is empty
// it returns a 429 error and sets Retry-After.
func (l *limiters) allow(w http.ResponseWriter, key string, now time.Time) error {
	if l == nil {
		return nil
	}
	burst := max(1, int(math.Ceil(2*l.rate)))
	l.mu.Lock()
	lim := l.byKey[key]
	if lim == nil {
		if len(l.byKey) >= 100000 {
			clear(l.byKey) // bounded memory; a forgotten bucket starts full again
		}
		lim = rate.NewLimiter(rate.Limit(l.rate), burst)
		l.byKey[key] = lim
	}
	ok := lim.AllowN(now, 1)
	tokens := lim.TokensAt(now)
	l.mu.Unlock()

	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(0, int(tokens))))
	wait := 0
	if tokens < 1 {
		wait = int(math.Ceil((1 - tokens) / l.rate))
	}
	h.Set("RateLimit-Reset", strconv.Itoa(wait))
	if ok {
		return nil
	}
	h.Set("Retry-After", strconv.Itoa(max(1, wait)))
	return &switchyard.Error{Code: switchyard.ERATELIMITED,
		Message: "Too many requests for this key: slow down and retry after the time in Retry-After."}
}
