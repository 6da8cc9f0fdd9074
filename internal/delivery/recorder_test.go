package delivery

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
	"github.com/switchyardhq/switchyard/internal/testutil"
)

// gatedStore holds each DeliveryRecordBatch until the test lets it go, telling the test how
// many outcomes each call carries: a real store whose writes the test can keep in flight.
type gatedStore struct {
	store.Store
	entered chan int
	release chan struct{}
}

func (s *gatedStore) DeliveryRecordBatch(ctx context.Context, b []store.DeliveryRecordParams) ([]error, error) {
	s.entered <- len(b)
	<-s.release
	return s.Store.DeliveryRecordBatch(ctx, b)
}

// With several writers, the spares write only while the queue is full: an outcome queued while
// the first writer's batch is being written waits for its next batch, and once the queue fills
// a spare writes it beside the first writer.
func TestRecorderSparesTakeOnlyAFullQueue(t *testing.T) {
	t.Parallel()
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "record.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	gs := &gatedStore{Store: db, entered: make(chan int, 8), release: make(chan struct{})}
	r := newRecorder(gs, slog.New(slog.NewTextHandler(io.Discard, nil)), 4, 3, nil)
	// Outcomes of deliveries that do not exist: the store answers each with a lost lease.
	outcome := func() store.DeliveryRecordParams {
		return store.DeliveryRecordParams{DeliveryID: uuid.Must(uuid.NewV7()), LeaseUntil: time.Now().Add(time.Minute), Now: time.Now()}
	}

	r.add(outcome())
	if n := <-gs.entered; n != 1 {
		t.Fatalf("the first batch carries %d outcomes, want 1", n)
	}
	// The first writer is busy. One queued outcome is not a full queue: no spare takes it.
	r.add(outcome())
	// Three more fill the queue (4): a spare writes all four while the first batch is in flight.
	for range 3 {
		r.add(outcome())
	}
	if n := testutil.Receive(t, gs.entered, 10*time.Second, "a spare to write the full queue while the first writer is busy"); n != 4 {
		t.Fatalf("the spare's batch carries %d outcomes, want the full queue of 4", n)
	}
	close(gs.release)
	r.close()
	if len(r.in) != 0 {
		t.Fatalf("%d outcomes left queued after close", len(r.in))
	}
}

// An outcome the database refuses costs only itself: a batch that keeps failing is written
// outcome by outcome. Here the third outcome's attempt reuses the second's id (a primary-key
// violation, on both stores), which failed the whole batch — and with it every other outcome,
// of every tenant, written in it.
func TestRecorderWritesAFailingBatchOneByOne(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, d.NewURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		tn := storetest.NewTenant(t, db)
		ps := storetest.ClaimDelivered(t, db, tn, 3)
		ps[2].Attempt.ID = ps[1].Attempt.ID
		if _, err := db.DeliveryRecordBatch(ctx, ps); err == nil {
			t.Fatal("the batch with a duplicate attempt id was stored: the test proves nothing")
		}
		r := newRecorderRetrying(db, slog.New(slog.NewTextHandler(io.Discard, nil)), 8, 1, nil, time.Millisecond)
		for _, p := range ps {
			r.add(p)
		}
		r.close()
		for i, want := range []switchyard.Status{switchyard.StatusCompleted, switchyard.StatusCompleted, switchyard.StatusProcessing} {
			_, ds, err := db.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: ps[i].EventID})
			if err != nil || len(ds) != 1 || ds[0].Status != want {
				t.Errorf("delivery %d: %+v (%v), want %s", i, ds, err, want)
			}
		}
	})
}
