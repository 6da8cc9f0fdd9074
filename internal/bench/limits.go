package bench

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// limits are this machine's ceilings, measured in the same run as the scenarios so that each
// result can be read as a fraction of what the machine allows.
type limits struct {
	// httpRPS is the request rate of a trivial Go handler over loopback, with the bench's
	// client and concurrency.
	httpRPS float64
	// storeRows is the store's raw insert rate: event-sized rows, 100 per transaction.
	storeRows float64
}

// limitWindow bounds how long each limit is measured: long enough to be stable, short enough
// that the SQLite scratch table stays small.
const limitWindow = 5 * time.Second

// measureHTTPLimit serves a handler that reads the body and answers 201 with a small JSON body,
// like the ingest endpoint minus all its work, and drives it closed-loop exactly as
// ingest-single drives Switchyard.
func (r *runner) measureHTTPLimit(ctx context.Context) (Result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, fmt.Errorf("starting the trivial handler: %w", err)
	}
	reply := []byte(`{"event":{"id":"0190f0a2-3b4c-7d5e-8f60-718293a4b5c6","type":"event","status":"pending"}}` + "\n")
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(reply)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	url := "http://" + ln.Addr().String() + "/api/v1/events"
	bodies := eventBodies("bench.limit", 256)
	m := r.newMeter("limits http", nil)
	defer m.done()
	load := &closedLoad{workers: r.opts.Concurrency, warmup: min(r.opts.Warmup, time.Second), duration: min(r.opts.Duration, limitWindow),
		send: func(ctx context.Context, seq uint64, buf *bytes.Buffer) outcome {
			return r.post(ctx, url, "", bodies[seq%uint64(len(bodies))], buf, 1, false)
		}}
	var sp *span
	load.onMeasure = func() { sp = r.startCPU() }
	res := load.run(ctx, r.clock, m.meter)
	cpu := sp.use()
	out := Result{Scenario: "limits", Variant: "http",
		Setup: fmt.Sprintf("trivial Go handler (reads the body, answers 201 + 90-byte JSON) over loopback, %d clients closed loop, %s window",
			r.opts.Concurrency, res.window().Round(time.Millisecond)),
		Errors: res.errorCounts()}
	out.add("requests", perSecond(res.requests, res.window()), "req/s")
	l := summarize(res.latencies)
	out.add("p50", ms(l.P50), "ms")
	out.add("p99", ms(l.P99), "ms")
	out.add("errors", float64(res.errors), "count")
	out.addCPU(cpu)
	r.limits.httpRPS = perSecond(res.requests, res.window())
	return out, ctx.Err()
}

// measureStoreLimit inserts event-sized rows (a ~200-byte payload) into a scratch table of a
// fresh store of the bench's kind, with sqlstore's driver, pragmas and pool size: one prepared
// INSERT run 100 times per transaction, from as many writers as sqlstore's write pool has (SQLite 1,
// PostgreSQL pool_max_conns, 20 by default).
func (r *runner) measureStoreLimit(ctx context.Context) (Result, error) {
	storeURL, cleanup, err := r.backend.newStore(ctx, "limits")
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	db, writers, err := r.backend.openRaw(storeURL)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	idType, payloadType := "TEXT", "TEXT"
	if r.backend.name() == "postgres" {
		idType, payloadType = "UUID", "JSON"
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench_scratch (
		id `+idType+` PRIMARY KEY, workspace_id `+idType+` NOT NULL, event TEXT NOT NULL, resource TEXT NOT NULL,
		status TEXT NOT NULL, created_at BIGINT NOT NULL, payload `+payloadType+` NOT NULL)`); err != nil {
		return Result{}, fmt.Errorf("creating the scratch table: %w", err)
	}
	payload := string(eventPayload(1))
	ws := uuid.Must(uuid.NewV7())
	const perTx = 100

	var (
		phase atomic.Int32
		rows  atomic.Int64
		errs  atomic.Int64
		first atomic.Pointer[error]
		wg    sync.WaitGroup
	)
	m := r.newMeter("limits store", nil)
	defer m.done()
	for range writers {
		wg.Go(func() {
			for ctx.Err() == nil && phase.Load() != phaseStopped {
				err := insertBatch(ctx, db, perTx, ws, payload)
				measured := phase.Load() == phaseMeasure
				m.sent.Add(1)
				if err != nil {
					m.errors.Add(1)
					if measured {
						errs.Add(1)
						first.CompareAndSwap(nil, &err)
					}
					sleepCtx(ctx, 10*time.Millisecond)
					continue
				}
				m.accepted.Add(perTx)
				if measured {
					rows.Add(perTx)
				}
			}
		})
	}
	m.setPhase("warm-up")
	sleepCtx(ctx, min(r.opts.Warmup, time.Second))
	m.setPhase("measure")
	t0, sp := time.Now(), r.startCPU()
	phase.Store(phaseMeasure)
	sleepCtx(ctx, min(r.opts.Duration, limitWindow))
	phase.Store(phaseStopped)
	window, cpu := time.Since(t0), sp.use()
	wg.Wait()

	out := Result{Scenario: "limits", Variant: "store-insert",
		Setup: fmt.Sprintf("%s scratch table (no secondary index), ~200-byte payload, %d INSERTs per transaction (one prepared statement), %d writer(s), %s window",
			r.backend.name(), perTx, writers, window.Round(time.Millisecond))}
	out.add("rows", perSecond(rows.Load(), window), "rows/s")
	out.add("errors", float64(errs.Load()), "count")
	out.addCPU(cpu)
	if p := first.Load(); p != nil {
		out.Errors = []ErrorCount{{Message: errorKey(*p), Count: errs.Load()}}
	}
	r.limits.storeRows = perSecond(rows.Load(), window)
	return out, ctx.Err()
}

// insertBatch inserts n event-sized rows in one transaction, through one prepared statement.
// The statements run under ctx without its cancellation: with a cancellable context the SQLite
// driver starts a goroutine per statement to watch it, and preparing each INSERT anew would make
// the raw figure a measure of the driver's parser; a plain loop over a prepared INSERT is the
// raw cost this limit stands for. ctx still ends the loop between transactions.
func insertBatch(ctx context.Context, db *sql.DB, n int, ws uuid.UUID, payload string) error {
	ctx = context.WithoutCancel(ctx)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO bench_scratch (id, workspace_id, event, resource, status, created_at, payload)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`)
	if err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("preparing: %w", err)
	}
	now := time.Now().UnixMicro()
	for range n {
		if _, err := stmt.ExecContext(ctx, uuid.Must(uuid.NewV7()), ws, "bench.limit", "user", "pending", now, payload); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("inserting: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// eventPayload returns an event payload of about 200 bytes.
func eventPayload(seq int) []byte {
	p := fmt.Appendf(nil, `{"email":"user%d@example.com","name":"Ada Lovelace","plan":"pro","seats":%d,"source":"switchyard-bench",`+
		`"utm":{"campaign":"spring_launch","medium":"email"},"note":"`, seq, seq%50+1)
	if pad := 198 - len(p); pad > 0 {
		p = append(p, strings.Repeat("x", pad)...)
	}
	return append(p, `"}`...)
}
