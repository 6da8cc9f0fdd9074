package api

import (
	"context"
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

// ingestStore opens a SQLite store in the test's directory, with one tenant.
func ingestStore(t *testing.T) (*sqlstore.DB, *storetest.Tenant) {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "ingest.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, storetest.NewTenant(t, db)
}

// ingestEvent is an accepted user.signup event of the tenant's workspace.
func ingestEvent(tn *storetest.Tenant, id uuid.UUID) *switchyard.Event {
	return &switchyard.Event{ID: id, OrganizationID: tn.Org.ID, WorkspaceID: tn.Workspace.ID, Name: "user.signup",
		Resource: "user", Payload: []byte(`{}`), CreatedBy: "test", CreatedAt: time.Now()}
}

// Requests queued together are committed in one transaction; when that fails, each request is
// written on its own, so a bad request fails alone and a good bulk request still commits whole.
func TestIngesterGroupCommitIsolatesABadRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tn := ingestStore(t)
	storetest.NewRule(t, db, tn, storetest.RuleOpts{})
	existing, _ := storetest.NewEvent(t, db, tn, storetest.EventOpts{})
	event := func(id uuid.UUID) *switchyard.Event { return ingestEvent(tn, id) }
	bulk := []*switchyard.Event{event(uuid.Must(uuid.NewV7())), event(uuid.Must(uuid.NewV7())), event(uuid.Must(uuid.NewV7()))}
	single := event(uuid.Must(uuid.NewV7()))
	bad := event(existing.ID) // its id is taken: its insert fails

	// Queue all three before a writer runs, so that they meet in one batch.
	g := &ingester{store: db, in: make(chan *ingestRequest, 8), max: maxIngestBatch, stop: make(chan struct{})}
	results := make([]chan error, 3)
	for i, evs := range [][]*switchyard.Event{bulk, {bad}, {single}} {
		results[i] = make(chan error, 1)
		go func() { results[i] <- g.insert(ctx, nil, evs...) }()
	}
	testutil.Eventually(t, 10*time.Second, "the three requests to be queued", func() bool { return len(g.in) >= 3 })
	g.wg.Go(g.run)
	t.Cleanup(g.close)

	if err := <-results[0]; err != nil {
		t.Fatalf("bulk request: %v", err)
	}
	if err := <-results[1]; err == nil {
		t.Fatal("the request with a taken id succeeded")
	}
	if err := <-results[2]; err != nil {
		t.Fatalf("single request: %v", err)
	}
	for _, e := range append(bulk, single) {
		_, ds, err := db.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
		if err != nil || len(ds) != 1 {
			t.Fatalf("event %s: %d deliveries (err %v), want it stored with its delivery", e.ID, len(ds), err)
		}
	}
	if got, err := db.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: existing.ID}); err != nil || !got.CreatedAt.Equal(existing.CreatedAt) {
		t.Fatalf("the existing event changed: %+v, %v", got, err)
	}
}

// A writer whose batch is not full waits for announced requests (until they are queued or
// withdrawn) and takes them into the same batch; with none announced it does not wait at all.
func TestIngesterWaitsForAnnouncedRequests(t *testing.T) {
	t.Parallel()
	g := &ingester{in: make(chan *ingestRequest, 8), max: maxIngestBatch, wait: time.Hour, stop: make(chan struct{})}
	first := &ingestRequest{events: []*switchyard.Event{{}}}
	if got := g.fill([]*ingestRequest{first}); len(got) != 1 {
		t.Fatalf("fill with nothing announced took %d requests, want 1", len(got))
	}

	a := g.expect()
	withdrawn := g.expect()
	filled := make(chan []*ingestRequest, 1)
	go func() { filled <- g.fill([]*ingestRequest{first}) }()
	withdrawn.withdraw()
	withdrawn.withdraw()                                                               // twice is harmless
	g.in <- &ingestRequest{events: []*switchyard.Event{{}}, done: make(chan error, 1)} // as insert queues it
	a.withdraw()
	got := <-filled
	if len(got) != 2 {
		t.Fatalf("fill took %d requests, want the first and the announced one", len(got))
	}
	if n := g.arriving.Load(); n != 0 {
		t.Fatalf("%d requests still counted as arriving", n)
	}

	// An announced request that never comes holds a writer for g.wait at most.
	g.wait = time.Millisecond
	late := g.expect()
	defer late.withdraw()
	if got := g.fill([]*ingestRequest{first}); len(got) != 1 {
		t.Fatalf("fill took %d requests, want 1", len(got))
	}
}

// gatedStore holds each EventInsertBatch until the test lets it go, telling the test how many
// events each call carries: a real store whose writes the test can keep in flight.
type gatedStore struct {
	store.Store
	entered chan int
	release chan struct{}
}

func (s *gatedStore) EventInsertBatch(ctx context.Context, p store.EventInsertBatchParams) ([][]*switchyard.Delivery, error) {
	s.entered <- len(p.Events)
	<-s.release
	return s.Store.EventInsertBatch(ctx, p)
}

// With several writers, the spares write only when a full batch is waiting: a request that
// arrives while the first writer's commit runs waits for the next batch instead of being
// committed alone, and once a full batch is queued a spare commits it beside the first writer.
func TestIngesterSparesTakeOnlyFullBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, tn := ingestStore(t)
	event := func() *switchyard.Event { return ingestEvent(tn, uuid.Must(uuid.NewV7())) }
	gs := &gatedStore{Store: db, entered: make(chan int, 8), release: make(chan struct{})}
	g := newIngester(gs, 3, 4)
	t.Cleanup(g.close)
	t.Cleanup(func() { close(gs.release) })

	errs := make(chan error, 8)
	send := func(evs ...*switchyard.Event) { go func() { errs <- g.insert(ctx, nil, evs...) }() }
	send(event())
	if n := <-gs.entered; n != 1 {
		t.Fatalf("the first commit carries %d events, want 1", n)
	}
	// The first writer's commit is in flight. One event is not a full batch: no spare takes it.
	send(event())
	testutil.Eventually(t, 10*time.Second, "the second request to be queued", func() bool { return g.queued.Load() == 1 })
	// Four more make one: a spare commits the five together while the first commit still runs.
	send(event(), event(), event(), event())
	if n := testutil.Receive(t, gs.entered, 10*time.Second, "a spare to commit the full batch while the first writer is busy"); n != 5 {
		t.Fatalf("the spare's commit carries %d events, want the waiting 1 and the 4 after it", n)
	}
	if n := g.queued.Load(); n != 0 {
		t.Fatalf("%d events still counted as queued", n)
	}
	gs.release <- struct{}{}
	gs.release <- struct{}{}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
