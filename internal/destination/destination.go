// Package destination defines the contract every destination adapter follows, the registry of
// built-in integrations, and the declared configuration schemas that drive validation, secret
// handling and GET /api/v1/integrations.
//
// Adapters make one call and report what happened, classified into the shared outcome codes;
// only the delivery engine retries, backs off and records attempts (docs/conventions.md §4 and §5).
package destination

import (
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
	// Action is the rule's metadata.action.
	Action string
	// Params is the rule's metadata with every {{field}} template resolved from the event's
	// payload (dot notation from its root).
	Params map[string]any
	// Fields is the event's payload mapped through the connection's default mapping, for
	// integrations that declare Mapped; nil otherwise. The engine applies the mapping, so
	// senders only ever see destination fields.
	Fields map[string]any
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
	// RateLimitScope names what a rate limit applies to when it is wider than the connection:
	// the provider's account ("hubspot:portal:123"), shared by every connection to it. With
	// RateLimited, the engine pauses every connection of the scope, not only this one.
	RateLimitScope string
}

// RateLimited is a sender whose provider documents a request rate per account: the engine
// spaces the attempts of every connection of one scope (e.g. HubSpot's portal) to it, so that
// customers never meet the provider's 429 in normal operation.
type RateLimited interface {
	// RateLimit returns the scope ("" for none) and its documented rate and burst.
	RateLimit() (scope string, perSecond float64, burst int)
}
