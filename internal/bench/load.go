package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// clock is the bench's one time base: nanoseconds since the bench started, read from the
// monotonic clock, so that send, answer and receipt times compare exactly.
type clock struct{ epoch time.Time }

func newClock() *clock { return &clock{epoch: time.Now()} }

func (c *clock) now() int64 { return int64(time.Since(c.epoch)) }

// newClient returns the load client: one shared Transport whose idle pool holds at least conns
// keep-alive connections, and whose dialer refuses anything but loopback addresses, so that
// the bench can only ever send traffic to this machine.
func newClient(conns int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// loopbackOnly is a dialer Control that refuses non-loopback addresses.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("bench dial %s: %w", address, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("bench dial %s: only loopback addresses are allowed", address)
	}
	return nil
}

// outcome is the result of one request of the load.
type outcome struct {
	// events is how many events the request got accepted.
	events int64
	// id is the accepted event's id (single-event requests), for tracking its delivery.
	id uuid.UUID
	// tag is the scenario's class of the event (isolation: healthy or not).
	tag int
	// start and end are when the request was sent and answered, on the bench clock.
	start, end int64
	err        error
}

// sentEvent is an event accepted in a measured phase, to follow to its delivery.
type sentEvent struct {
	id         uuid.UUID
	tag        int
	start, end int64
}

// requestFunc makes request number seq of the load, using buf for the answer.
type requestFunc func(ctx context.Context, seq uint64, buf *bytes.Buffer) outcome

// httpError is an answer other than the one a request expects.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, e.body)
}

// errorKey turns an error into a short message to count by. Transport errors carry the random
// port, which would make every one unique; the port is cut.
func errorKey(err error) string {
	msg := err.Error()
	var he *httpError
	if !errors.As(err, &he) {
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = "transport: " + msg[i+2:]
		}
	}
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return msg
}

// meter counts a load for the progress line: everything since the phase began, warm-up
// included.
type meter struct {
	sent, accepted, errors atomic.Int64
	phase                  atomic.Pointer[string]
}

func (m *meter) setPhase(p string) { m.phase.Store(&p) }

// loadResult is what a load measured in its measured phase.
type loadResult struct {
	// t0 and t1 bound the measured phase on the bench clock.
	t0, t1 int64
	// requests answered successfully, events accepted, failed requests.
	requests, events, errors int64
	// issued is how many requests the open loop started in the measured phase; dropped is how
	// many it could not start because too many were in flight.
	issued, dropped int64
	// latencies are the successful requests' response times.
	latencies []time.Duration
	// tracked are the accepted events to follow, when tracking.
	tracked []sentEvent
	errs    map[string]int64
}

func (l *loadResult) window() time.Duration { return time.Duration(l.t1 - l.t0) }

// errorCounts lists the errors, most frequent first.
func (l *loadResult) errorCounts() []ErrorCount {
	out := make([]ErrorCount, 0, len(l.errs))
	for k, v := range l.errs {
		out = append(out, ErrorCount{Message: k, Count: v})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Count > out[j].Count || (out[i].Count == out[j].Count && out[i].Message < out[j].Message)
	})
	return out
}

// collector gathers per-request results of a measured phase.
type collector struct {
	requests, events, errors int64
	latencies                []time.Duration
	tracked                  []sentEvent
	errs                     map[string]int64
}

// maxErrorKinds bounds how many distinct error messages are kept.
const maxErrorKinds = 20

func (c *collector) add(o outcome, track bool) {
	if o.err != nil {
		c.errors++
		if c.errs == nil {
			c.errs = map[string]int64{}
		}
		k := errorKey(o.err)
		if _, ok := c.errs[k]; ok || len(c.errs) < maxErrorKinds {
			c.errs[k]++
		}
		return
	}
	c.requests++
	c.events += o.events
	c.latencies = append(c.latencies, time.Duration(o.end-o.start))
	if track && o.id != uuid.Nil {
		c.tracked = append(c.tracked, sentEvent{id: o.id, tag: o.tag, start: o.start, end: o.end})
	}
}

func (l *loadResult) merge(c *collector) {
	l.requests += c.requests
	l.events += c.events
	l.errors += c.errors
	l.latencies = append(l.latencies, c.latencies...)
	l.tracked = append(l.tracked, c.tracked...)
	for k, v := range c.errs {
		if l.errs == nil {
			l.errs = map[string]int64{}
		}
		l.errs[k] += v
	}
}

// Phases of a load.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStopped
)

// closedLoad is closed-loop load: each worker sends a request, waits for its answer, and sends
// the next, so the offered rate is whatever the server sustains.
type closedLoad struct {
	workers int
	// warmup runs first, unmeasured; then duration is measured.
	warmup, duration time.Duration
	// budget ends the measured phase early once it has accepted this many events (0: no
	// budget), bounding the work a delivery scenario leaves queued.
	budget int64
	// track keeps the accepted events for following them to delivery.
	track bool
	send  requestFunc
	// onMeasure is called as the measured phase begins.
	onMeasure func()
}

// run drives the load until its measured phase ends (or ctx does). Requests answered after
// the measured phase ends are not counted; the workers finish them before run returns.
func (l *closedLoad) run(ctx context.Context, c *clock, m *meter) loadResult {
	var (
		phase    atomic.Int32
		measured atomic.Int64 // events accepted in the measured phase, for the budget
		seq      atomic.Uint64
		mu       sync.Mutex
		res      loadResult
		wg       sync.WaitGroup
	)
	for range l.workers {
		wg.Go(func() {
			side("load", func() {
				var (
					buf bytes.Buffer
					col collector
				)
				for ctx.Err() == nil && phase.Load() != phaseStopped {
					o := l.send(ctx, seq.Add(1), &buf)
					m.sent.Add(1)
					if o.err != nil {
						m.errors.Add(1)
					} else {
						m.accepted.Add(o.events)
					}
					if phase.Load() != phaseMeasure {
						continue
					}
					col.add(o, l.track)
					if o.err == nil {
						measured.Add(o.events)
					}
					var he *httpError
					if o.err != nil && !errors.As(o.err, &he) && ctx.Err() == nil {
						// A transport error comes back at once; do not spin on it.
						time.Sleep(10 * time.Millisecond)
					}
				}
				mu.Lock()
				res.merge(&col)
				mu.Unlock()
			})
		})
	}
	if l.warmup > 0 {
		m.setPhase("warm-up")
		sleepCtx(ctx, l.warmup)
	}
	m.setPhase("measure")
	res.t0 = c.now()
	phase.Store(phaseMeasure)
	if l.onMeasure != nil {
		l.onMeasure()
	}
	deadline := time.Now().Add(l.duration)
	for ctx.Err() == nil && time.Now().Before(deadline) && (l.budget == 0 || measured.Load() < l.budget) {
		sleepCtx(ctx, min(5*time.Millisecond, time.Until(deadline)))
	}
	res.t1 = c.now()
	phase.Store(phaseStopped)
	wg.Wait()
	res.issued = res.requests + res.errors
	return res
}

// openLoad is open-loop load: requests start at a fixed rate, each in its own goroutine,
// whatever the server's answer time, so a slow server sees queueing rather than a politer
// client (no coordinated omission).
type openLoad struct {
	// rate is the requests started per second.
	rate float64
	// warmup runs first, unmeasured; then duration is measured.
	warmup, duration time.Duration
	// maxInFlight bounds the requests outstanding; past it a request is dropped (and counted).
	maxInFlight int64
	track       bool
	send        requestFunc
	onMeasure   func()
}

// run paces requests by a 1 ms ticker: at every tick it starts as many requests as the rate
// owes by then, so a late tick never lowers the offered rate. A request belongs to the
// measured phase if it was started in it.
func (l *openLoad) run(ctx context.Context, c *clock, m *meter) loadResult {
	var (
		inFlight atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		col      collector
		res      loadResult
		issued   int64
		bufs     = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	)
	ticker := time.NewTicker(time.Millisecond)
	defer ticker.Stop()
	m.setPhase("warm-up")
	start := time.Now()
	measuring := false
	for ctx.Err() == nil {
		elapsed := time.Since(start)
		if !measuring && elapsed >= l.warmup {
			measuring = true
			m.setPhase("measure")
			res.t0 = c.now()
			if l.onMeasure != nil {
				l.onMeasure()
			}
		}
		if elapsed >= l.warmup+l.duration {
			break
		}
		for due := int64(l.rate*elapsed.Seconds()) - issued; due > 0; due-- {
			issued++
			if measuring {
				res.issued++
			}
			if inFlight.Load() >= l.maxInFlight {
				if measuring {
					res.dropped++
				}
				continue
			}
			inFlight.Add(1)
			measured, n := measuring, uint64(issued)
			wg.Go(func() {
				defer inFlight.Add(-1)
				buf := bufs.Get().(*bytes.Buffer)
				var o outcome
				side("load", func() { o = l.send(ctx, n, buf) })
				bufs.Put(buf)
				m.sent.Add(1)
				if o.err != nil {
					m.errors.Add(1)
				} else {
					m.accepted.Add(o.events)
				}
				if measured {
					mu.Lock()
					col.add(o, l.track)
					mu.Unlock()
				}
			})
		}
		select {
		case <-ctx.Done():
		case <-ticker.C:
		}
	}
	res.t1 = c.now()
	if !measuring {
		res.t0 = res.t1
	}
	wg.Wait()
	res.merge(&col)
	return res
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// deliveryStats is what the receiver saw of a set of tracked events.
type deliveryStats struct {
	// expected deliveries (events × rules), delivered (at most the expected number per event),
	// duplicates (deliveries past that: at-least-once redeliveries).
	expected, delivered, duplicates int64
	// firstAccept is the earliest answer to a tracked event; lastReceipt the latest delivery.
	firstAccept, lastReceipt int64
	// latencies are, per event with a delivery, its first receipt minus its request start.
	latencies []time.Duration
	// duringLoad is how many deliveries the receiver got while the measured load ran (of any
	// event, the warm-up's stragglers included).
	duringLoad int64
}

// awaitDeliveries waits until every tracked event for which want(tag) > 0 has been received
// want(tag) times, or timeout passes, or ctx ends; then it reports what arrived.
func awaitDeliveries(ctx context.Context, recv *receiver, tracked []sentEvent, want func(tag int) int,
	timeout time.Duration) deliveryStats {
	pending := make([]sentEvent, 0, len(tracked))
	for _, e := range tracked {
		if want(e.tag) > 0 {
			pending = append(pending, e)
		}
	}
	deadline := time.Now().Add(timeout)
	for len(pending) > 0 && ctx.Err() == nil && time.Now().Before(deadline) {
		kept := pending[:0]
		for _, e := range pending {
			if rc, ok := recv.lookup(e.id); !ok || int(rc.count) < want(e.tag) {
				kept = append(kept, e)
			}
		}
		pending = kept
		if len(pending) > 0 {
			sleepCtx(ctx, 20*time.Millisecond)
		}
	}
	var st deliveryStats
	st.firstAccept = -1
	for _, e := range tracked {
		n := int64(want(e.tag))
		if n == 0 {
			continue
		}
		st.expected += n
		if st.firstAccept < 0 || e.end < st.firstAccept {
			st.firstAccept = e.end
		}
		rc, ok := recv.lookup(e.id)
		if !ok {
			continue
		}
		got := int64(rc.count)
		st.delivered += min(got, n)
		st.duplicates += max(got-n, 0)
		st.lastReceipt = max(st.lastReceipt, rc.last)
		st.latencies = append(st.latencies, time.Duration(rc.first-e.start))
	}
	return st
}

// rate returns deliveries per second from the first accepted event to the last delivery.
func (s *deliveryStats) rate() float64 {
	if s.delivered == 0 || s.lastReceipt <= s.firstAccept {
		return 0
	}
	return perSecond(s.delivered, time.Duration(s.lastReceipt-s.firstAccept))
}
