package api

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyardhq/switchyard/internal/batch"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// ingester writes accepted events in group commits: the events of concurrent requests (single
// events and bulk batches alike) that arrive while a transaction runs are written together in
// the next one, and each request gets its answer only once its events are committed. On SQLite,
// whose one writer makes every transaction a queue position, this multiplies ingestion; on
// PostgreSQL it saves round trips and commits. No request waits for a batch to fill.
//
// A writer does not commit the moment it finds work, though: it first lets the goroutines that
// are ready to run go ahead (twice, which costs a microsecond when nobody is), and goes on doing so
// while requests it was told about (expect, at the start of a handler, before the body is read)
// are still on their way, for at most arrivalWait. Under many concurrent clients a commit then
// carries a dozen events instead of four, and each commit's cost — the pages it writes to the WAL,
// its round trip — is shared by more of them (ingest-single on 2 cores: 16k → 20k events/s, p99
// 13 → 9 ms). It is PostgreSQL's commit_delay, taken only when someone is coming; a lone client
// is not kept waiting.
//
// With several writers (PostgreSQL), the first takes whatever is queued and the others are
// spares: they take work only while at least a full batch is waiting. Writers that all took
// what they found would commit one or two events each at moderate rates — four times the
// commits, contending for the same index pages — and on a 2-core machine that cost more than it
// bought: at 1,000 events/s, four such writers left PostgreSQL saturated and emit→delivered at
// p50 0.2–1 s, where one writer kept it at 10–17 ms (docs/benchmarks.md). Spares still help
// where one writer cannot keep up: bulk requests, a full batch each.
type ingester struct {
	store    store.Store
	in       chan *ingestRequest
	max      int
	wait     time.Duration // how long a writer waits for announced requests (arrivalWait)
	stop     chan struct{}
	wg       sync.WaitGroup
	arriving atomic.Int64  // requests announced with expect and not yet queued or withdrawn
	queued   atomic.Int64  // events queued in in and not yet taken by a writer
	overflow chan struct{} // wakes a spare writer: a full batch is waiting

	closeOnce sync.Once
}

// maxIngestBatch is about how many events one ingest transaction holds: ten bulk requests, or
// a thousand single events. Larger batches would only lengthen the wait of the first request.
const maxIngestBatch = 1000

// ingestRequest is one request's events: they are committed together or not at all.
type ingestRequest struct {
	events []*switchyard.Event
	done   chan error
}

// arrivalWait bounds how long a writer waits for announced requests before it commits what it
// has: a few times what parsing one request takes, far below a commit's own time.
const arrivalWait = 200 * time.Microsecond

// arrival is a request announced to the ingester (expect): it counts as on its way until it is
// queued by insert or withdrawn.
type arrival struct {
	g    *ingester
	done bool
}

// expect announces a request that will probably insert events soon. The caller must withdraw
// it (deferring withdraw is enough: insert withdraws it too, and withdrawing twice is harmless).
func (g *ingester) expect() *arrival {
	g.arriving.Add(1)
	return &arrival{g: g}
}

// withdraw says the request will not be queued after all, or has been.
func (a *arrival) withdraw() {
	if a != nil && !a.done {
		a.done = true
		a.g.arriving.Add(-1)
	}
}

// newIngester starts writers goroutines that each commit up to about max events per
// transaction (a request's events are never split, so one transaction may hold more): one that
// takes whatever is queued, the others spares.
func newIngester(s store.Store, writers, max int) *ingester {
	g := &ingester{store: s, in: make(chan *ingestRequest, 256*writers), max: max, wait: arrivalWait, stop: make(chan struct{}),
		overflow: make(chan struct{}, 1)}
	g.wg.Go(g.run)
	for range writers - 1 {
		g.wg.Go(g.spare)
	}
	return g
}

// insert stores events (and their deliveries) durably, all or none, in one transaction with
// whatever else is waiting. a is the request's announcement (nil if it made none); insert
// withdraws it once the events are queued.
func (g *ingester) insert(ctx context.Context, a *arrival, events ...*switchyard.Event) error {
	defer a.withdraw()
	r := &ingestRequest{events: events, done: make(chan error, 1)}
	n := int64(len(events))
	g.queued.Add(n)
	select {
	case g.in <- r:
	case <-ctx.Done():
		g.queued.Add(-n)
		return ctx.Err()
	case <-g.stop:
		g.queued.Add(-n)
		return fmt.Errorf("inserting events: the server is shutting down")
	}
	a.withdraw() // queued: the writer sees it in g.in from now on
	if g.fullBatchWaits() {
		batch.Wake(g.overflow)
	}
	// Wait for the commit even if the caller went away: the events may already be stored.
	return <-r.done
}

// close stops the writers after they have written everything queued. Calling it again waits
// for the same stop.
func (g *ingester) close() {
	g.closeOnce.Do(func() { close(g.stop) })
	g.wg.Wait()
}

func (g *ingester) run() {
	var (
		reqs   []*ingestRequest
		events []*switchyard.Event
	)
	for {
		var first *ingestRequest
		select {
		case first = <-g.in:
		case <-g.stop:
			// Write what is still queued, then stop.
			for {
				select {
				case r := <-g.in:
					events = g.take([]*ingestRequest{r}, events)
				default:
					return
				}
			}
		}
		reqs = g.fill(append(reqs[:0], first))
		events = g.take(reqs, events)
	}
}

// spare is a writer that takes work only while a full batch is waiting (see ingester).
func (g *ingester) spare() {
	var events []*switchyard.Event
	batch.Spare(g.in, g.overflow, g.stop, g.fullBatchWaits, g.max, requestWeight, func(reqs []*ingestRequest) {
		events = g.take(reqs, events)
	})
}

// fullBatchWaits reports whether at least a full batch of events is queued.
func (g *ingester) fullBatchWaits() bool { return g.queued.Load() >= int64(g.max) }

// take writes the requests a writer took from the queue, using events as scratch space, which
// it returns for the next batch.
func (g *ingester) take(reqs []*ingestRequest, events []*switchyard.Event) []*switchyard.Event {
	events = events[:0]
	for _, r := range reqs {
		events = append(events, r.events...)
	}
	g.queued.Add(-int64(len(events)))
	g.write(reqs, events)
	clear(reqs)
	clear(events)
	return events
}

func requestWeight(r *ingestRequest) int { return len(r.events) }

// fill adds to reqs the requests already queued; then, while the batch is not full, it yields
// and takes what was queued meanwhile: twice in any case, and on while announced requests are
// still on their way, for at most g.wait.
func (g *ingester) fill(reqs []*ingestRequest) []*ingestRequest {
	reqs, _ = batch.Fill(reqs, g.in, g.max, requestWeight)
	deadline := time.Now().Add(g.wait)
	for i := 0; (i < 2 || g.arriving.Load() > 0) && batchWeight(reqs) < g.max && time.Now().Before(deadline); i++ {
		runtime.Gosched()
		reqs, _ = batch.Fill(reqs, g.in, g.max, requestWeight)
	}
	return reqs
}

func batchWeight(reqs []*ingestRequest) (n int) {
	for _, r := range reqs {
		n += len(r.events)
	}
	return n
}

// write commits a batch (events are its requests' events, in order). If the batch transaction
// fails, each request is tried on its own so that one bad request cannot fail its neighbours.
func (g *ingester) write(batch []*ingestRequest, events []*switchyard.Event) {
	ctx := context.Background()
	_, err := g.store.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: events})
	if err == nil || len(batch) == 1 {
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	for _, r := range batch {
		_, err := g.store.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: r.events})
		r.done <- err
	}
}
