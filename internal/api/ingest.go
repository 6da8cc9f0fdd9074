package api

import (
	"context"
	"fmt"
	"sync"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// ingester writes single accepted events in group commits: the events of concurrent requests that
// arrive while a transaction runs are written together in the next one, and each request gets its
// 201 only once its event is committed. On SQLite, whose one writer makes every transaction a
// queue position, this multiplies single-event ingestion; on PostgreSQL it saves round trips
// and commits. A lone request is written at once, so nothing waits for a batch to fill.
type ingester struct {
	store store.Store
	in    chan *ingestRequest
	max   int
	stop  chan struct{}
	wg    sync.WaitGroup
}

type ingestRequest struct {
	event *switchyard.Event
	done  chan error
}

// newIngester starts writers goroutines that each commit up to max events per transaction.
func newIngester(s store.Store, writers, max int) *ingester {
	g := &ingester{store: s, in: make(chan *ingestRequest, max*writers), max: max, stop: make(chan struct{})}
	for range writers {
		g.wg.Go(g.run)
	}
	return g
}

// insert stores one event (and its deliveries) durably, in a batch with whatever else is waiting.
func (g *ingester) insert(ctx context.Context, e *switchyard.Event) error {
	r := &ingestRequest{event: e, done: make(chan error, 1)}
	select {
	case g.in <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.stop:
		return fmt.Errorf("inserting event: the server is shutting down")
	}
	// Wait for the commit even if the caller went away: the event may already be stored.
	return <-r.done
}

// close stops the writers after they have written everything queued.
func (g *ingester) close() {
	close(g.stop)
	g.wg.Wait()
}

func (g *ingester) run() {
	batch := make([]*ingestRequest, 0, g.max)
	for {
		var first *ingestRequest
		select {
		case first = <-g.in:
		case <-g.stop:
			// Write what is still queued, then stop.
			for {
				select {
				case r := <-g.in:
					g.write([]*ingestRequest{r})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < g.max {
			select {
			case r := <-g.in:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		g.write(batch)
	}
}

// write commits a batch. If the batch transaction fails, each event is tried on its own so that
// one bad event cannot fail its neighbours.
func (g *ingester) write(batch []*ingestRequest) {
	ctx := context.Background()
	events := make([]*switchyard.Event, len(batch))
	for i, r := range batch {
		events[i] = r.event
	}
	_, err := g.store.EventInsertBatch(ctx, store.EventInsertBatchParams{Events: events})
	if err == nil || len(batch) == 1 {
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	for _, r := range batch {
		_, err := g.store.EventInsert(ctx, store.EventInsertParams{Event: r.event})
		r.done <- err
	}
}
