package store

import (
	"time"

	"github.com/google/uuid"
)

// Per-connection delivery limits shared by every node on one database (docs/delivery.md, "Limits
// across nodes"): the 429 pause and the circuit breaker live in a small table that every claim
// reads, and a claim with Shared set counts each connection's attempts in flight on every node
// and draws on its cluster-wide rate budget.

// Circuit states as stored.
const (
	CircuitClosed   = "closed"
	CircuitOpen     = "open"
	CircuitHalfOpen = "half_open"
)

// LimitKeyConnection is the delivery_limits key of a connection; LimitKeyScope that of a
// provider account several connections share (destination.RateLimited).
func LimitKeyConnection(id uuid.UUID) string { return "c:" + id.String() }

// LimitKeyScope is the delivery_limits key of a provider account (a HubSpot portal).
func LimitKeyScope(name string) string { return "s:" + name }

// LimitPauseParams pauses a connection or a provider account: no attempt starts before Until.
// A pause never shortens a longer one already stored.
type LimitPauseParams struct {
	Key   string
	Until time.Time
	Now   time.Time
}

// CircuitOpenParams opens a connection's circuit after consecutive failures, or reopens it
// after its half-open probe failed (Probe), doubling the stored cool-down up to MaxCooldown.
type CircuitOpenParams struct {
	ConnectionID uuid.UUID
	// Cooldown is the first open period (a circuit that was closed).
	Cooldown    time.Duration
	MaxCooldown time.Duration
	// Probe says the failure was the half-open probe's; without it an open or half-open circuit
	// is left as it is (attempts that started before it opened fail afterwards, and say nothing
	// new).
	Probe bool
	Now   time.Time
}

// CircuitOpenResult is the circuit after CircuitOpen.
type CircuitOpenResult struct {
	// Opened is true when this call opened (or reopened) the circuit.
	Opened bool
	// OpenUntil is when the circuit lets its probe through (zero if it is not open).
	OpenUntil time.Time
}

// CircuitCloseParams closes a connection's circuit (its probe was answered). Reprobe instead
// hands the probe back (it never ran: a failure on Switchyard's side) so that the next claim on
// any node takes another at once.
type CircuitCloseParams struct {
	ConnectionID uuid.UUID
	Reprobe      bool
	Now          time.Time
}

// LimitListParams lists the limits in force as of Now.
type LimitListParams struct {
	Now time.Time
}

// LimitState is one row of delivery_limits that is not simply healthy: paused, or with a
// circuit that is not closed.
type LimitState struct {
	// Key is LimitKeyConnection(id) or LimitKeyScope(name); ConnectionID is set for the former.
	Key          string
	ConnectionID uuid.UUID
	PausedUntil  time.Time // zero: not paused
	Circuit      string
	OpenUntil    time.Time
}
