package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/batch"
	"github.com/switchyardhq/switchyard/internal/store"
)

// recorder writes delivery outcomes in batches: whatever has queued up while the previous
// transaction ran goes into the next one (a group commit). On SQLite, whose one writer is the
// bottleneck, this turns thousands of small transactions a second into a few larger ones. On
// PostgreSQL more writers may run such batches side by side, but only while the queue is full:
// one writer takes whatever is queued, the others are spares, as for ingest (api's ingester) —
// writers that each took what they found would commit an outcome or two each at moderate rates.
// The queue is short on purpose: an outcome delivered but not yet recorded is delivered again
// after a crash, so workers wait for the recorder rather than run far ahead of it.
type recorder struct {
	store    store.Store
	log      *slog.Logger
	in       chan store.DeliveryRecordParams
	overflow chan struct{} // wakes a spare writer: the queue is full
	stop     chan struct{}
	wg       sync.WaitGroup
	maxBatch int
	settled  *settledSet // nil unless limits are shared; what is written leaves it
}

func newRecorder(s store.Store, log *slog.Logger, maxBatch, writers int, settled *settledSet) *recorder {
	r := &recorder{store: s, log: log, in: make(chan store.DeliveryRecordParams, maxBatch), maxBatch: maxBatch, settled: settled,
		overflow: make(chan struct{}, 1), stop: make(chan struct{})}
	r.wg.Go(r.run)
	for range max(1, writers) - 1 {
		r.wg.Go(r.spare)
	}
	return r
}

// add queues one outcome. It blocks only while the queue is full, which slows the workers down
// to what the database can take, and wakes a spare writer then.
func (r *recorder) add(p store.DeliveryRecordParams) {
	r.in <- p
	if r.full() {
		batch.Wake(r.overflow)
	}
}

// full reports whether the queue is full.
func (r *recorder) full() bool { return len(r.in) == cap(r.in) }

// close writes everything queued and stops.
func (r *recorder) close() {
	close(r.stop)
	close(r.in)
	r.wg.Wait()
}

func (r *recorder) run() {
	b := make([]store.DeliveryRecordParams, 0, r.maxBatch)
	for first := range r.in {
		b, _ = batch.Fill(append(b[:0], first), r.in, r.maxBatch, nil)
		r.write(b)
	}
}

// spare is a writer that takes a batch only while the queue is full (see recorder).
func (r *recorder) spare() {
	batch.Spare(r.in, r.overflow, r.stop, r.full, r.maxBatch, nil, r.write)
}

// settledSet is the set of deliveries finished on this node whose outcomes are queued or being
// written (shared limits only: a nil set does nothing). A delivery whose outcome could not be
// written leaves it too: its lease holds until it expires, and the claims count it again.
type settledSet struct {
	mu  sync.Mutex
	ids map[uuid.UUID]struct{}
}

func (s *settledSet) add(id uuid.UUID) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.ids[id] = struct{}{}
	s.mu.Unlock()
}

func (s *settledSet) remove(b []store.DeliveryRecordParams) {
	if s == nil {
		return
	}
	s.mu.Lock()
	for _, p := range b {
		delete(s.ids, p.DeliveryID)
	}
	s.mu.Unlock()
}

// list returns the set's deliveries (nil for a nil set).
func (s *settledSet) list() []uuid.UUID {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uuid.UUID, 0, len(s.ids))
	for id := range s.ids {
		out = append(out, id)
	}
	return out
}

// write stores one batch, trying again briefly if the database fails, and takes its deliveries
// out of the settled set. Should it keep failing, the outcomes are dropped: the leases expire and
// the deliveries are attempted again — at least once, never lost.
func (r *recorder) write(batch []store.DeliveryRecordParams) {
	defer r.settled.remove(batch)
	var (
		errs []error
		err  error
	)
	for try, wait := 0, 50*time.Millisecond; try < 5; try, wait = try+1, wait*3 {
		if errs, err = r.store.DeliveryRecordBatch(context.Background(), batch); err == nil {
			break
		}
		r.log.Error("recording delivery outcomes", slog.Int("batch", len(batch)), slog.Any("error", err))
		time.Sleep(wait)
	}
	if err != nil {
		r.log.Error("giving up on recording delivery outcomes; their leases will expire and they will be retried",
			slog.Int("batch", len(batch)))
		return
	}
	for i, e := range errs {
		if errors.Is(e, store.ErrLeaseLost) {
			r.log.Warn("delivery lease expired or was revoked before its outcome was recorded",
				slog.String("delivery_id", batch[i].DeliveryID.String()))
		}
	}
}
