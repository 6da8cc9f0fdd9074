package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// RateLimits sets the token buckets (docs/decisions.md §6), each with a burst of twice its rate; zero
// turns one off. The buckets are per node: with N nodes behind a load balancer a key may get up
// to N times the rate.
type RateLimits struct {
	// Machine and Publishable are requests per second per key. A bulk request counts one per
	// event it carries, so that the limit bounds the work a key can ask for, not the number of
	// HTTP requests it takes to ask.
	Machine     float64
	Publishable float64
	// AuthFailures is the failed authentications per second allowed per client address (IPv6:
	// per /64). Past it, requests from that address get 429 before their credentials are even
	// checked, so a flood of forged tokens costs neither an HMAC nor a lookup.
	AuthFailures float64
}

// DefaultRateLimits are the product defaults: 1000 requests (or events) per second per key, and
// 100 failed authentications per second per client address.
var DefaultRateLimits = RateLimits{Machine: 1000, Publishable: 1000, AuthFailures: 100}

// limiters holds one token bucket per key.
type limiters struct {
	mu    sync.Mutex
	rate  float64
	burst int
	byKey map[string]*rate.Limiter
}

func newLimiters(perSecond float64) *limiters {
	if perSecond <= 0 {
		return nil
	}
	return &limiters{rate: perSecond, burst: max(1, int(math.Ceil(2*perSecond))), byKey: map[string]*rate.Limiter{}}
}

// bucket returns key's bucket. l.mu must be held.
func (l *limiters) bucket(key string) *rate.Limiter {
	lim := l.byKey[key]
	if lim == nil {
		if len(l.byKey) >= 100000 {
			clear(l.byKey) // bounded memory; a forgotten bucket starts full again
		}
		lim = rate.NewLimiter(rate.Limit(l.rate), l.burst)
		l.byKey[key] = lim
	}
	return lim
}

// allow takes n tokens for key and sets the RateLimit-* headers on w. When the bucket holds
// fewer it takes none and returns a 429 error with Retry-After. n larger than the burst can
// never be allowed, so it is a 400 saying so.
func (l *limiters) allow(w http.ResponseWriter, key string, n int, now time.Time) error {
	if l == nil || n <= 0 {
		return nil
	}
	if n > l.burst {
		return &switchyard.Error{Code: switchyard.EINVALID,
			Message: fmt.Sprintf("This bulk request carries more events than this key's rate limit allows at once: split it into requests of at most %d events.", l.burst),
			Fields:  []switchyard.FieldError{{Param: "events", Msg: fmt.Sprintf("must hold at most %d events for this key", l.burst)}}}
	}
	l.mu.Lock()
	lim := l.bucket(key)
	ok := lim.AllowN(now, n)
	tokens := lim.TokensAt(now)
	l.mu.Unlock()

	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(l.burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(0, int(tokens))))
	// Reset: when the next request of one token (or, refused, this one) could pass.
	need, wait := 1.0, 0
	if !ok {
		need = float64(n)
	}
	if tokens < need {
		wait = int(math.Ceil((need - tokens) / l.rate))
	}
	h.Set("RateLimit-Reset", strconv.Itoa(wait))
	if ok {
		return nil
	}
	h.Set("Retry-After", strconv.Itoa(max(1, wait)))
	return &switchyard.Error{Code: switchyard.ERATELIMITED,
		Message: "Too many requests for this key: slow down and retry after the time in Retry-After."}
}

// exhausted reports whether key's bucket is empty (without taking anything), setting
// Retry-After when it is.
func (l *limiters) exhausted(w http.ResponseWriter, key string, now time.Time) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	lim, seen := l.byKey[key]
	tokens := float64(l.burst)
	if seen {
		tokens = lim.TokensAt(now)
	}
	l.mu.Unlock()
	if tokens >= 1 {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil((1-tokens)/l.rate)))))
	return true
}

// take takes one token from key's bucket, if it has one.
func (l *limiters) take(key string, now time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.bucket(key).AllowN(now, 1)
	l.mu.Unlock()
}

// clientAddress is the key failed authentications are counted under: the peer's IP address,
// or its /64 for IPv6, where one host commonly holds a whole /64. Behind a reverse proxy every
// client shares the proxy's address (the README says so).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if addr.Is6() && !addr.Is4In6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.Unmap().String()
}

var errTooManyAuthFailures = &switchyard.Error{Code: switchyard.ERATELIMITED,
	Message: "Too many failed authentications from this address: retry after the time in Retry-After."}
