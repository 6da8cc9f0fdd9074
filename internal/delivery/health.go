package delivery

import (
	"sort"
	"time"

	"github.com/google/uuid"
)

// ConnectionHealth is what this node's controller knows of a connection that is not simply
// healthy: an open or half-open circuit, or a pause after a 429.
type ConnectionHealth struct {
	ConnectionID uuid.UUID
	// Circuit is "open" or "half-open" ("closed" when only paused).
	Circuit string
	// OpenUntil is when an open circuit lets a probe through.
	OpenUntil time.Time
	// PausedUntil is when a rate-limited connection may start attempts again (zero: not paused).
	PausedUntil time.Time
	// Failures is the consecutive failures counted while closed.
	Failures int
}

// Health lists this node's connections whose circuit is not closed or that are paused after a
// 429, most recently opened first. It is per node, like the controller.
func (e *Engine) Health(now time.Time) []ConnectionHealth {
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
	sort.Slice(out, func(i, j int) bool { return out[i].OpenUntil.After(out[j].OpenUntil) })
	return out
}
