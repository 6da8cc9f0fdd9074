package api

import (
	"context"
	"fmt"
	"sync"

	"github.com/switchyardhq/switchyard/internal/batch"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// ingester writes accepted events in group commits: the events of concurrent requests (single
// events and bulk batches alike) that arrive while a transaction runs are written together in
// the next one, and each request gets its answer only once its events are committed. On SQLite,
// whose one writer makes every transaction a queue position, this multiplies ingestion; on
// PostgreSQL it saves round trips and commits. A lone request is written at once, so nothing
// waits for a batch to fill.
type ingester struct {
	store store.Store
	in    chan *ingestRequest
	max   int
	stop  chan struct{}
	wg    sync.WaitGroup

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

// newIngester starts writers goroutines that each commit up to about max events per
// transaction (a request's events are never split, so one transaction may hold more).
func newIngester(s store.Store, writers, max int) *ingester {
	g := &ingester{store: s, in: make(chan *ingestRequest, 256*writers), max: max, stop: make(chan struct{})}
	for range writers {
		g.wg.Go(g.run)
	}
	return g
}

// insert stores events (and their deliveries) durably, all or none, in one transaction with
// whatever else is waiting.
func (g *ingester) insert(ctx context.Context, events ...*switchyard.Event) error {
	r := &ingestRequest{events: events, done: make(chan error, 1)}
	select {
	case g.in <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.stop:
		return fmt.Errorf("inserting events: the server is shutting down")
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
					g.write([]*ingestRequest{r}, r.events)
				default:
					return
				}
			}
		}
		reqs, _ = batch.Fill(append(reqs[:0], first), g.in, g.max, func(r *ingestRequest) int { return len(r.events) })
		events = events[:0]
		for _, r := range reqs {
			events = append(events, r.events...)
		}
		g.write(reqs, events)
		clear(reqs)
		clear(events)
	}
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
