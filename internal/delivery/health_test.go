package delivery_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/delivery"
	"github.com/switchyardhq/switchyard/internal/destination/builtin"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// With shared limits, a node that does not deliver (--role api: its engine never runs, so it
// follows nothing) reports the cluster's circuits and pauses, read from the store, as they are
// when asked; without shared limits it reports its own, which are none.
func TestHealthOfANodeThatDoesNotDeliver(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		f := setup(t, d, func(int64, http.ResponseWriter) {}) // the engine's fixture; no attempt is made
		s, broken, limited := f.store, f.conn, f.tenant.Connection
		ctx, now := context.Background(), time.Now().UTC().Truncate(time.Millisecond)
		if _, err := s.CircuitOpen(ctx, store.CircuitOpenParams{ConnectionID: broken.ID, Cooldown: 30 * time.Second,
			MaxCooldown: time.Minute, Now: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.LimitPause(ctx, store.LimitPauseParams{Key: store.LimitKeyConnection(limited.ID), Until: now.Add(time.Minute), Now: now}); err != nil {
			t.Fatal(err)
		}

		api := delivery.New(delivery.Config{Store: s, Integrations: builtin.Registry(), SharedLimits: true})
		hs, err := api.Health(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]delivery.ConnectionHealth{}
		for _, h := range hs {
			got[h.ConnectionID.String()] = h
		}
		if h := got[broken.ID.String()]; len(got) != 2 || h.Circuit != "open" || !h.OpenUntil.Equal(now.Add(30*time.Second)) {
			t.Fatalf("health = %+v; want the broken connection open until %v, and the paused one", hs, now.Add(30*time.Second))
		}
		if h := got[limited.ID.String()]; h.Circuit != "closed" || !h.PausedUntil.Equal(now.Add(time.Minute)) {
			t.Fatalf("the paused connection: %+v, want closed and paused until %v", h, now.Add(time.Minute))
		}

		// Read when asked, not remembered: the circuit closed by another node is closed here.
		if err := s.CircuitClose(ctx, store.CircuitCloseParams{ConnectionID: broken.ID, Now: now}); err != nil {
			t.Fatal(err)
		}
		if hs, err = api.Health(ctx, now); err != nil || len(hs) != 1 || hs[0].ConnectionID != limited.ID {
			t.Fatalf("after the circuit closed: %+v, %v; want only the paused connection", hs, err)
		}

		own := delivery.New(delivery.Config{Store: s, Integrations: builtin.Registry()})
		if hs, err := own.Health(ctx, now); err != nil || len(hs) != 0 {
			t.Fatalf("without shared limits: %+v, %v; want this node's view, empty", hs, err)
		}
	})
}
