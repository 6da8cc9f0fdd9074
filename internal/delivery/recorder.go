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
	// retryWait is the first wait before a failed write is tried again (tripled each time).
	retryWait time.Duration
}

func newRecorder(s store.Store, log *slog.Logger, maxBatch, writers int, settled *settledSet) *recorder {
	return newRecorderRetrying(s, log, maxBatch, writers, settled, 50*time.Millisecond)
}

// newRecorderRetrying is newRecorder whose failed writes are first tried again after retryWait.
func newRecorderRetrying(s store.Store, log *slog.Logger, maxBatch, writers int, settled *settledSet, retryWait time.Duration) *recorder {
	r := &recorder{store: s, log: log, in: make(chan store.DeliveryRecordParams, maxBatch), maxBatch: maxBatch, settled: settled,
		overflow: make(chan struct{}, 1), stop: make(chan struct{}), retryWait: retryWait}
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
// out of the settled set. A batch the database keeps refusing is then written outcome by
// outcome, so that an outcome it refuses costs only itself — one bad row failed the whole batch,
// every tenant's outcomes in it, again at each retry of its delivery (a provider's message with
// a NUL did, before the integrations and the store cleaned it). Should the database refuse the
// single outcomes too, it is down: the rest are dropped, their leases expire and the deliveries
// are attempted again — at least once, never lost.
func (r *recorder) write(b []store.DeliveryRecordParams) {
	defer r.settled.remove(b)
	if r.writeBatch(b, batchTries) || len(b) == 1 {
		return
	}
	r.log.Warn("writing the outcomes of a failed batch one by one", slog.Int("batch", len(b)))
	refused := 0 // in a row
	for i := range b {
		if r.writeBatch(b[i:i+1], singleTries) {
			refused = 0
			continue
		}
		r.log.Error("dropping a delivery outcome the database refuses; its lease will expire and it will be retried",
			slog.String("delivery_id", b[i].DeliveryID.String()))
		if refused++; refused == downAfter && i+1 < len(b) {
			r.log.Error("giving up on recording delivery outcomes; their leases will expire and they will be retried",
				slog.Int("dropped", len(b)-i-1))
			return
		}
	}
}

// How often write tries a batch, and each of its outcomes alone once the batch failed; and after
// how many single outcomes refused in a row it takes the database for down.
const (
	batchTries  = 5
	singleTries = 2
	downAfter   = 3
)

// writeBatch stores b, trying up to tries times with a growing wait (r.retryWait, tripled after
// each failure), and reports whether it was stored. Outcomes whose lease was lost are logged.
func (r *recorder) writeBatch(b []store.DeliveryRecordParams, tries int) bool {
	wait := r.retryWait
	for try := range tries {
		errs, err := r.store.DeliveryRecordBatch(context.Background(), b)
		if err == nil {
			for i, e := range errs {
				if errors.Is(e, store.ErrLeaseLost) {
					r.log.Warn("delivery lease expired or was revoked before its outcome was recorded",
						slog.String("delivery_id", b[i].DeliveryID.String()))
				}
			}
			return true
		}
		r.log.Error("recording delivery outcomes", slog.Int("batch", len(b)), slog.Any("error", err))
		if try < tries-1 {
			time.Sleep(wait)
			wait *= 3
		}
	}
	return false
}
