// Package destination defines the contract every destination adapter follows, the registry of
// built-in integrations, and the declared configuration schemas that drive validation, secret
// handling and GET /api/v1/integrations.
//
// Adapters make one call and report what happened, classified into the shared outcome codes;
// only the delivery engine retries, backs off and records attempts (style.md conventions 4, 5).
package destination

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Request is everything an adapter needs for one attempt at one delivery.
type Request struct {
	// DeliveryID is stable across attempts: receivers can use it to deduplicate.
	DeliveryID uuid.UUID
	// Attempt is the 1-based number of this attempt.
	Attempt int
	// Event carries the payload.
	Event *switchyard.Event
	Rule  *switchyard.Rule
	// Connection's Metadata has its secret fields opened (plaintext) for the adapter's use only.
	Connection *switchyard.Connection
	// SentAt is the time the attempt starts.
	SentAt time.Time
}

// Result is what one attempt came to.
type Result struct {
	Outcome switchyard.Outcome
	// HTTPStatus is the destination's status code, 0 if no response arrived.
	HTTPStatus int
	// Message is a short human-readable summary ("HTTP 503 Service Unavailable", "dial tcp: …").
	// It must never contain secrets.
	Message string
	// RetryAfter is the delay the destination asked for (Retry-After), 0 if none.
	RetryAfter time.Duration
	// Response is a bounded excerpt of the response (status line, selected headers, body start).
	Response string
	// Deactivate, when not "", asks the engine to deactivate the connection with this
	// inactive_reason (for example a 410 Gone or a definitive authentication failure).
	Deactivate string
}

// Adapter delivers to one kind of destination. Deliver must honour ctx's deadline, must not
// sleep or retry, and must classify every failure into an outcome code.
type Adapter interface {
	Deliver(ctx context.Context, req *Request) Result
}
