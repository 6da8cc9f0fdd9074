// Package switchyard holds Switchyard's domain types: organizations, machine keys, workspaces,
// connections, rules, events, deliveries (the API's "rule events") and attempts, with the status
// and outcome vocabularies they share. It is a leaf package: it imports nothing of the project's,
// so every other package can speak in these types.
package switchyard

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// DefaultResource is the resource an event has when it is emitted without one.
const DefaultResource = "global"

// Organization is the account every other record belongs to. Machine JWTs name it in their
// "org" claim.
type Organization struct {
	ID        uuid.UUID
	Name      string
	CreatedAt time.Time
}

// MachineKey is a management credential: an access key (public, the JWT "kid") and a secret
// (the HS256 key). The secret is kept sealed; only the auth layer opens it to verify a token.
type MachineKey struct {
	ID             uuid.UUID
	OrganizationID uuid.UUID
	Name           string
	AccessKey      string
	// SecretSealed is the secret encrypted with the server's encryption key (package secret).
	SecretSealed string
	CreatedAt    time.Time
	// RevokedAt is set once the key is revoked; a revoked key authenticates nothing.
	RevokedAt *time.Time
	// Workspaces limits the key to these workspaces of its organization; empty means all of
	// them, including workspaces created later (see keys.go).
	Workspaces []uuid.UUID
	// Permissions limits what the key may do; empty means every permission.
	Permissions []Permission
}

// Workspace is the isolation boundary inside an organization: it owns connections, rules,
// events and one publishable key.
type Workspace struct {
	ID                 uuid.UUID
	OrganizationID     uuid.UUID
	Name               string
	Description        *string
	PublishableKey     string
	PublishableKeyName string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Connection is a configured destination inside one workspace. Metadata holds the integration's
// configuration; fields the integration declares secret are stored sealed.
type Connection struct {
	ID             uuid.UUID
	OrganizationID uuid.UUID
	WorkspaceID    uuid.UUID
	Type           string
	Name           string
	Metadata       map[string]any
	Active         bool
	// InactiveReason says why Active is false: one of the InactiveReason constants, or "".
	InactiveReason string
	Hidden         bool
	CreatedBy      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Reasons a connection is inactive, as the Meshes API names them.
const (
	InactiveAuthenticationInvalid      = "authentication_invalid"
	InactiveOAuthAuthorizationRevoked  = "oauth_authorization_revoked"
	InactiveOAuthReauthorizationNeeded = "oauth_reauthorization_required"
	InactiveManuallyInactivated        = "manually_inactivated"
)

// Rule routes events of one name (and optionally one resource and resource id) in a workspace to
// a connection, with an action and its parameters in Metadata.
type Rule struct {
	ID             uuid.UUID
	OrganizationID uuid.UUID
	WorkspaceID    uuid.UUID
	ConnectionID   uuid.UUID
	// Type is the integration type of the rule's connection.
	Type  string
	Event string
	// Resource is "" when the rule matches every resource.
	Resource string
	// ResourceID is "" when the rule matches every resource id.
	ResourceID string
	Metadata   map[string]any
	Active     bool
	Hidden     bool
	CreatedBy  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Event is one product event emitted into a workspace. Its status and counters are derived from
// its deliveries.
type Event struct {
	ID             uuid.UUID
	OrganizationID uuid.UUID
	WorkspaceID    uuid.UUID
	Name           string
	Resource       string
	ResourceID     string
	Payload        json.RawMessage
	Status         Status
	TotalRules     int
	CompletedCount int
	FailedCount    int
	StartedAt      *time.Time
	CompletedAt    *time.Time
	CreatedBy      string
	CreatedAt      time.Time

	// IdempotencyKey, when set on insert, makes the insert idempotent within the workspace for
	// IdempotencyWindow: a second insert with the same key stores nothing.
	IdempotencyKey string
	// Replayed is set by an insert that found an earlier event with the same idempotency key;
	// the Event then describes that earlier event.
	Replayed bool
}

// IdempotencyWindow is how long an idempotency key deduplicates events (docs/decisions.md §4).
const IdempotencyWindow = 24 * time.Hour

// Delivery is the delivery of one event through one rule (a "rule event" in the Meshes API).
type Delivery struct {
	ID              uuid.UUID
	OrganizationID  uuid.UUID
	WorkspaceID     uuid.UUID
	EventID         uuid.UUID
	RuleID          uuid.UUID
	ConnectionID    uuid.UUID
	IntegrationType string
	EventName       string
	Resource        string
	ResourceID      string
	Status          Status
	AttemptCount    int
	// NextAttemptAt is when the delivery is next due; nil once it is terminal.
	NextAttemptAt *time.Time
	StartedAt     *time.Time
	CompletedAt   *time.Time
	LastError     string
	CreatedBy     string
	CreatedAt     time.Time
}

// Attempt is one try at a delivery and what came of it.
type Attempt struct {
	ID          uuid.UUID
	DeliveryID  uuid.UUID
	EventID     uuid.UUID
	Number      int
	StartedAt   time.Time
	CompletedAt time.Time
	Outcome     Outcome
	// HTTPStatus is the destination's status code, or 0 when no response arrived.
	HTTPStatus int
	Message    string
	// ResponseExcerpt is the start of the destination's response body, bounded in size.
	ResponseExcerpt string
}

// Duration is how long the attempt took.
func (a *Attempt) Duration() time.Duration { return a.CompletedAt.Sub(a.StartedAt) }
