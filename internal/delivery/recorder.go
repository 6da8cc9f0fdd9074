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
// bottleneck, this turns thousands of small transactions a second into a few larger ones; on
// PostgreSQL several writers run such batches side by side. The queue is short on purpose: an
// outcome delivered but not yet recorded is delivered again after a crash, so workers wait for
// the recorder rather than run far ahead of it.
type recorder struct {
	store    store.Store
	log      *slog.Logger
	in       chan store.DeliveryRecordParams
	wg       sync.WaitGroup
	maxBatch int
	settled  *settledSet // nil unless limits are shared; what is written leaves it
}

func newRecorder(s store.Store, log *slog.Logger, maxBatch, writers int, settled *settledSet) *recorder {
	r := &recorder{store: s, log: log, in: make(chan store.DeliveryRecordParams, maxBatch), maxBatch: maxBatch, settled: settled}
	for range max(1, writers) {
		r.wg.Go(r.run)
	}
	return r
}

// add queues one outcome. It blocks only while the queue is full, which slows the workers down
// to what the database can take.
func (r *recorder) add(p store.DeliveryRecordParams) { r.in <- p }

// close writes everything queued and stops.
func (r *recorder) close() {
	close(r.in)
	r.wg.Wait()
}

func (r *recorder) run() {
	b := make([]store.DeliveryRecordParams, 0, r.maxBatch)
	for first := range r.in {
		b, _ = batch.Fill(append(b[:0], first), r.in, r.maxBatch, nil)
		r.write(b)
		r.settled.remove(b)
	}
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

// write stores one batch, trying again briefly if the database fails. Should it keep failing,
// the outcomes are dropped: the leases expire and the deliveries are attempted again — at
// least once, never lost.
func (r *recorder) write(batch []store.DeliveryRecordParams) {
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
