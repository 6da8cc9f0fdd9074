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
// turns one off. Machine and publishable keys' limits hold for the whole cluster: each node
// enforces its share, the limit divided by the number of live API nodes (ShareRateLimits), so
// that no request waits on the database for a count. The failed-authentication limit stays per
// node: it guards this node's CPU, not a tenant's quota.
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

// ShareRateLimits makes this node enforce 1/nodes of the machine and publishable keys' limits
// (rate and burst), nodes being how many live nodes serve the API (internal/cluster counts them
// from their heartbeats). Buckets keep the tokens they hold, up to the new burst. Safe to call
// at any time; a count below 1 counts as 1.
func (s *Server) ShareRateLimits(nodes int) {
	now := s.Now()
	s.machineLimits.share(nodes, now)
	s.publishableLimits.share(nodes, now)
}

// maxBuckets bounds each limiter's map: past it, the map starts over, and a forgotten bucket
// starts full again. It is far more keys than are active at once on any node.
const maxBuckets = 100000

// limiters holds one token bucket per key.
type limiters struct {
	mu sync.Mutex
	// rate and burst are the cluster's limit; nodeRate and nodeBurst this node's share.
	rate, nodeRate   float64
	burst, nodeBurst int
	byKey            map[string]*rate.Limiter
}

func newLimiters(perSecond float64) *limiters {
	if perSecond <= 0 {
		return nil
	}
	burst := max(1, int(math.Ceil(2*perSecond)))
	return &limiters{rate: perSecond, nodeRate: perSecond, burst: burst, nodeBurst: burst, byKey: map[string]*rate.Limiter{}}
}

// share sets this node's share to 1/nodes of the limit, re-setting every bucket.
func (l *limiters) share(nodes int, now time.Time) {
	if l == nil {
		return
	}
	nodes = max(1, nodes)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nodeRate = l.rate / float64(nodes)
	l.nodeBurst = max(1, int(math.Ceil(2*l.nodeRate)))
	for _, lim := range l.byKey {
		lim.SetLimitAt(now, rate.Limit(l.nodeRate))
		lim.SetBurstAt(now, l.nodeBurst)
	}
}

// bucket returns key's bucket. l.mu must be held.
func (l *limiters) bucket(key string) *rate.Limiter {
	lim := l.byKey[key]
	if lim == nil {
		if len(l.byKey) >= maxBuckets {
			clear(l.byKey)
		}
		lim = rate.NewLimiter(rate.Limit(l.nodeRate), l.nodeBurst)
		l.byKey[key] = lim
	}
	return lim
}

// allow takes n tokens for key and sets the RateLimit-* headers on w (they describe this
// node's share). When the bucket holds fewer it takes none and returns a 429 error with
// Retry-After. n larger than the cluster's burst can never be allowed, so it is a 400 saying
// so; n larger than this node's share of the burst (a bulk request on a cluster of many nodes)
// takes the whole bucket.
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
	n = min(n, l.nodeBurst)
	ok := lim.AllowN(now, n)
	tokens := lim.TokensAt(now)
	perSecond, burst := l.nodeRate, l.nodeBurst
	l.mu.Unlock()

	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(0, int(tokens))))
	// Reset: when the next request of one token (or, refused, this one) could pass.
	need, wait := 1.0, 0
	if !ok {
		need = float64(n)
	}
	if tokens < need {
		wait = int(math.Ceil((need - tokens) / perSecond))
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
	tokens, perSecond := float64(l.nodeBurst), l.nodeRate
	if seen {
		tokens = lim.TokensAt(now)
	}
	l.mu.Unlock()
	if tokens >= 1 {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil((1-tokens)/perSecond)))))
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
