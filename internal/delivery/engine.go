// Package delivery is the delivery engine: it claims due deliveries from the store with a lease,
// runs each through its connection's adapter, records the attempt, and schedules retries with
// backoff. Adapters only report outcomes; every retry decision is made here (style.md §5).
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/secret"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Config configures an Engine. Zero values take the documented defaults.
type Config struct {
	Store        store.Store
	Integrations *destination.Registry
	// Box opens connections' secret fields for the adapters.
	Box *secret.Box
	// Options are passed to every adapter constructor.
	Options destination.Options
	Logger  *slog.Logger
	// Workers is how many attempts may be in flight at once (default 64).
	Workers int
	// PollInterval is how often the engine looks for due work when nothing wakes it (default 1 s).
	PollInterval time.Duration
	// Lease is how long a claimed delivery stays reserved for its claimer (default 2 min; it
	// must exceed the longest connection timeout, 60 s). A delivery whose claimer died becomes
	// due again when its lease runs out.
	Lease time.Duration
	// Schedule is the wait before each retry (default DefaultSchedule).
	Schedule []time.Duration
	// InternalRetry is the wait after a failure on Switchyard's own side (default 30 s).
	InternalRetry time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Engine delivers due deliveries until its context ends.
type Engine struct {
	cfg      Config
	log      *slog.Logger
	adapters map[string]destination.Adapter
	wake     chan struct{}
}

// New builds an engine and the adapters of every registered integration.
func New(cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.InternalRetry <= 0 {
		cfg.InternalRetry = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, adapters: map[string]destination.Adapter{}, wake: make(chan struct{}, 1)}
	for _, in := range cfg.Integrations.List() {
		e.adapters[in.Type] = in.New(cfg.Options)
	}
	return e
}

// Wake asks the engine to look for due work now. It never blocks.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run claims and delivers until ctx is canceled, then waits for the attempts in flight to be
// recorded. Attempts run on their own contexts bounded by the connection timeout, so stopping
// never turns an in-flight attempt into a spurious failure.
func (e *Engine) Run(ctx context.Context) error {
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, e.cfg.Workers)
		done = make(chan struct{}, 1) // a worker finished: there is room again
	)
	defer wg.Wait()
	ticker := time.NewTicker(e.cfg.PollInterval)
	defer ticker.Stop()
	for {
		free := cap(sem) - len(sem)
		claimed := 0
		if free > 0 {
			now := e.cfg.Now()
			work, err := e.cfg.Store.DeliveryClaim(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(e.cfg.Lease), Limit: free})
			if err != nil && ctx.Err() == nil {
				e.log.Error("claiming deliveries", slog.Any("error", err))
			}
			claimed = len(work)
			for _, c := range work {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() {
						<-sem
						select {
						case done <- struct{}{}:
						default:
						}
					}()
					e.attempt(c)
				})
			}
		}
		if claimed > 0 && claimed == free {
			// A full batch: there is probably more due work; take it as soon as there is room.
			select {
			case <-ctx.Done():
				return nil
			case <-done:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-done:
		case <-ticker.C:
		}
	}
}

// attempt makes one attempt at a claimed delivery and records its outcome.
func (e *Engine) attempt(c *store.Claimed) {
	d := c.Delivery
	log := e.log.With(slog.String("delivery_id", d.ID.String()), slog.String("event_id", d.EventID.String()))
	rec := store.DeliveryRecordParams{DeliveryID: d.ID, EventID: d.EventID, LeaseUntil: c.LeaseUntil}

	integration, known := e.cfg.Integrations.Get(d.IntegrationType)
	adapter := e.adapters[d.IntegrationType]
	switch {
	case c.Rule == nil:
		rec.Status, rec.LastError = switchyard.StatusCanceled, "The rule was deleted before the delivery was attempted."
	case c.Connection == nil:
		rec.Status, rec.LastError = switchyard.StatusCanceled, "The connection was deleted before the delivery was attempted."
	case !c.Connection.Active:
		rec.Status, rec.LastError = switchyard.StatusFailed, "The connection is inactive ("+c.Connection.InactiveReason+")."
	case !known || adapter == nil:
		rec.Status, rec.LastError = switchyard.StatusFailed, "This server has no "+d.IntegrationType+" integration."
	default:
		e.deliver(c, integration, adapter, &rec, log)
	}
	rec.Now = e.cfg.Now()
	err := e.cfg.Store.DeliveryRecord(context.Background(), rec)
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		log.Warn("delivery lease expired before its outcome was recorded; another worker retries it")
	case err != nil:
		// The lease will expire and the delivery will be tried again: at least once, never lost.
		log.Error("recording delivery outcome", slog.Any("error", err))
	}
}

// deliver runs the adapter and fills rec with the attempt and the delivery's next state.
func (e *Engine) deliver(c *store.Claimed, integration *destination.Integration, adapter destination.Adapter,
	rec *store.DeliveryRecordParams, log *slog.Logger) {
	d := c.Delivery
	conn := *c.Connection
	meta, err := secret.OpenFields(e.cfg.Box, conn.Metadata, integration.SecretFields())
	if err != nil {
		// Our failure, not the destination's: retry later without using up an attempt.
		log.Error("opening connection secrets", slog.Any("error", err))
		e.internalRetry(rec, "Switchyard could not open the connection's secrets.")
		return
	}
	conn.Metadata = meta

	start := e.cfg.Now()
	// The adapter bounds the call by the connection's own timeout; this outer bound only guards
	// against an adapter that forgets to.
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Lease/2)
	res := adapter.Deliver(ctx, &destination.Request{DeliveryID: d.ID, Attempt: d.AttemptCount + 1, Event: c.Event,
		Rule: c.Rule, Connection: &conn, SentAt: start})
	cancel()
	end := e.cfg.Now()

	if res.Outcome == switchyard.OutcomeInternalError {
		log.Error("adapter failed on our side", slog.String("message", res.Message))
		e.internalRetry(rec, res.Message)
		return
	}
	rec.Attempt = &switchyard.Attempt{ID: uuid.Must(uuid.NewV7()), DeliveryID: d.ID, EventID: d.EventID,
		Number: d.AttemptCount + 1, StartedAt: start, CompletedAt: end, Outcome: res.Outcome, HTTPStatus: res.HTTPStatus,
		Message: res.Message, ResponseExcerpt: res.Response}
	switch {
	case res.Outcome == switchyard.OutcomeDelivered:
		rec.Status = switchyard.StatusCompleted
	case res.Outcome.Retryable():
		rec.LastError = res.Message
		if wait, ok := retryDelay(e.cfg.Schedule, rec.Attempt.Number, res.RetryAfter); ok {
			next := end.Add(wait)
			rec.Status, rec.NextAttemptAt = switchyard.StatusRetrying, &next
		} else {
			rec.Status = switchyard.StatusFailed
			rec.LastError = fmt.Sprintf("%s (gave up after %d attempts)", res.Message, rec.Attempt.Number)
		}
	default:
		rec.Status, rec.LastError = switchyard.StatusFailed, res.Message
	}
	if res.Deactivate != "" {
		if err := e.cfg.Store.ConnectionDeactivate(context.Background(), store.ConnectionDeactivateParams{
			ConnectionID: conn.ID, Reason: res.Deactivate, Now: end}); err != nil {
			log.Error("deactivating connection", slog.Any("error", err))
		} else {
			log.Warn("connection deactivated", slog.String("connection_id", conn.ID.String()), slog.String("reason", res.Deactivate))
		}
	}
}

// internalRetry schedules the delivery again after a failure on Switchyard's side, recording no
// attempt so the customer's attempt budget is untouched.
func (e *Engine) internalRetry(rec *store.DeliveryRecordParams, msg string) {
	next := e.cfg.Now().Add(e.cfg.InternalRetry)
	rec.Status, rec.NextAttemptAt, rec.LastError = switchyard.StatusRetrying, &next, msg
}
