package delivery

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
)

// ConnectionHealth is what the engine knows of a connection that is not simply healthy: an
// open or half-open circuit, or a pause after a 429.
type ConnectionHealth struct {
	ConnectionID uuid.UUID
	// Circuit is "open" or "half-open" ("closed" when only paused).
	Circuit string
	// OpenUntil is when an open circuit lets a probe through.
	OpenUntil time.Time
	// PausedUntil is when a rate-limited connection may start attempts again (zero: not paused).
	PausedUntil time.Time
	// Failures is the consecutive failures counted while closed (on this node).
	Failures int
}

// Health lists the connections whose circuit is not closed or that are paused after a 429, most
// recently opened first. With SharedLimits it is the cluster's view: as this node last followed
// it (at most clusterStale old) or, on a node that does not deliver (--role api) or has not
// followed it yet, read from the store now. Otherwise it is this node's, like the controller.
func (e *Engine) Health(ctx context.Context, now time.Time) ([]ConnectionHealth, error) {
	if e.cfg.SharedLimits {
		states, fresh := e.cluster.get()
		if !fresh {
			var err error
			if states, err = e.cfg.Store.LimitList(ctx, store.LimitListParams{Now: now}); err != nil {
				return nil, fmt.Errorf("reading the cluster's connection limits: %w", err)
			}
		}
		return e.clusterHealth(states, now), nil
	}
	ctl := e.ctl
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	var out []ConnectionHealth
	for id, st := range ctl.conns {
		paused := now.Before(st.pausedTo)
		if st.state == closed && !paused {
			continue
		}
		h := ConnectionHealth{ConnectionID: id, Circuit: "closed", Failures: st.failures}
		switch st.state {
		case open:
			h.Circuit, h.OpenUntil = "open", st.openTo
		case halfOpen:
			h.Circuit = "half-open"
		}
		if paused {
			h.PausedUntil = st.pausedTo
		}
		out = append(out, h)
	}
	sortHealth(out)
	return out, nil
}

// clusterHealth is Health from the cluster's pauses and circuits.
func (e *Engine) clusterHealth(states []store.LimitState, now time.Time) []ConnectionHealth {
	var out []ConnectionHealth
	for _, l := range states {
		if l.ConnectionID == uuid.Nil {
			continue // a provider account, not a connection
		}
		h := ConnectionHealth{ConnectionID: l.ConnectionID, Circuit: "closed"}
		switch l.Circuit {
		case store.CircuitOpen:
			h.Circuit, h.OpenUntil = "open", l.OpenUntil
		case store.CircuitHalfOpen:
			h.Circuit = "half-open"
		}
		if now.Before(l.PausedUntil) {
			h.PausedUntil = l.PausedUntil
		}
		if h.Circuit == "closed" && h.PausedUntil.IsZero() {
			continue
		}
		e.ctl.mu.Lock()
		if st := e.ctl.conns[l.ConnectionID]; st != nil {
			h.Failures = st.failures
		}
		e.ctl.mu.Unlock()
		out = append(out, h)
	}
	sortHealth(out)
	return out
}

func sortHealth(out []ConnectionHealth) {
	sort.Slice(out, func(i, j int) bool { return out[i].OpenUntil.After(out[j].OpenUntil) })
}
