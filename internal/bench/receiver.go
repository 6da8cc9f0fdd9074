package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// endpointMode is how a receiving endpoint answers.
type endpointMode int

const (
	// answerOK answers 200 at once.
	answerOK endpointMode = iota
	// answerHang never answers: it holds the request until the sender gives up (its timeout)
	// or the receiver stops.
	answerHang
	// answer500 answers 500 at once.
	answer500
)

// receipt is what the receiver saw of one event: how many deliveries of it arrived, and when
// the first and the last did (nanoseconds on the bench clock).
type receipt struct {
	count       int32
	first, last int64
}

// receiverShards spreads the receipt map over several locks so that concurrent deliveries
// rarely wait for each other.
const receiverShards = 64

// receiver is the local webhook endpoint deliveries go to. It listens on one loopback port per
// endpoint (so that each connection has its own host:port and keep-alive pool, like distinct
// customer endpoints), records per event id (the envelope's "uuid") the receipt time of every
// delivery, and answers each endpoint in its mode.
type receiver struct {
	clock *clock
	// total counts every request received; hits counts them by endpoint mode.
	total atomic.Int64
	// distinct counts the events received at least once; last is the latest receipt's time.
	distinct, last atomic.Int64
	hits           [answer500 + 1]atomic.Int64
	srvs           []*http.Server
	wg             sync.WaitGroup
	// stop ends hanging requests when the receiver closes.
	stop     chan struct{}
	stopOnce sync.Once
	shards   [receiverShards]receiptShard
}

// receiptShard is one lock's share of the receipts.
type receiptShard struct {
	mu sync.Mutex
	m  map[uuid.UUID]*receipt
}

func newReceiver(c *clock) *receiver {
	r := &receiver{clock: c, stop: make(chan struct{})}
	for i := range r.shards {
		r.shards[i].m = map[uuid.UUID]*receipt{}
	}
	return r
}

// endpoint starts one more endpoint answering in mode and returns its URL.
func (r *receiver) endpoint(mode endpointMode) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("starting a receiving endpoint: %w", err)
	}
	srv := &http.Server{Handler: r.handler(mode), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	r.srvs = append(r.srvs, srv)
	r.wg.Go(func() { side("endpoints", func() { _ = srv.Serve(ln) }) })
	return "http://" + ln.Addr().String() + "/hook", nil
}

func (r *receiver) handler(mode endpointMode) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		at := r.clock.now()
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.hits[mode].Add(1)
		if id, ok := envelopeID(body, req.Header); ok {
			r.record(id, at)
		}
		switch mode {
		case answerHang:
			select {
			case <-req.Context().Done():
			case <-r.stop:
			case <-time.After(2 * time.Minute):
			}
			return
		case answer500:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
}

// envelopeID finds the event id of a delivery: the wrapped envelope's "uuid" (the first field
// Switchyard writes), else the X-Meshes-Event-Id header. A byte search costs far less than
// decoding the body, and the receiver shares the CPUs with the server it measures.
func envelopeID(body []byte, h http.Header) (uuid.UUID, bool) {
	const key = `"uuid":"`
	if i := bytes.Index(body, []byte(key)); i >= 0 && len(body) >= i+len(key)+36 {
		if id, err := uuid.ParseBytes(body[i+len(key) : i+len(key)+36]); err == nil {
			return id, true
		}
	}
	if id, err := uuid.Parse(h.Get("X-Meshes-Event-Id")); err == nil {
		return id, true
	}
	return uuid.Nil, false
}

func (r *receiver) shard(id uuid.UUID) *receiptShard {
	return &r.shards[int(id[15])%receiverShards]
}

func (r *receiver) record(id uuid.UUID, at int64) {
	s := r.shard(id)
	s.mu.Lock()
	rc, ok := s.m[id]
	if !ok {
		rc = &receipt{first: at}
		s.m[id] = rc
		r.distinct.Add(1)
	}
	rc.count++
	rc.last = at
	s.mu.Unlock()
	r.total.Add(1)
	for {
		l := r.last.Load()
		if at <= l || r.last.CompareAndSwap(l, at) {
			return
		}
	}
}

// lookup returns what was received of one event.
func (r *receiver) lookup(id uuid.UUID) (receipt, bool) {
	s := r.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	rc, ok := s.m[id]
	if !ok {
		return receipt{}, false
	}
	return *rc, true
}

// receipts returns how many distinct events have been received and the latest receipt's time.
func (r *receiver) receipts() (events int64, last int64) {
	return r.distinct.Load(), r.last.Load()
}

// close stops every endpoint, ending hanging requests.
func (r *receiver) close() {
	r.stopOnce.Do(func() { close(r.stop) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range r.srvs {
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			_ = srv.Close()
		}
		_ = srv.Close()
	}
	r.wg.Wait()
}
