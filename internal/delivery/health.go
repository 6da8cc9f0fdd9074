package delivery

import (
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
// recently opened first. With SharedLimits it is the cluster's view (as last read, at most
// clusterFollow old); otherwise this node's, like the controller.
func (e *Engine) Health(now time.Time) []ConnectionHealth {
	if e.cfg.SharedLimits {
		if out, ok := e.clusterHealth(now); ok {
			return out
		}
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
	return out
}

// clusterHealth is Health from the cluster's pauses and circuits; false until they were read.
func (e *Engine) clusterHealth(now time.Time) ([]ConnectionHealth, bool) {
	e.cluster.mu.Lock()
	states, read := e.cluster.states, e.cluster.read
	e.cluster.mu.Unlock()
	if !read {
		return nil, false
	}
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
	return out, true
}

func sortHealth(out []ConnectionHealth) {
	sort.Slice(out, func(i, j int) bool { return out[i].OpenUntil.After(out[j].OpenUntil) })
}
