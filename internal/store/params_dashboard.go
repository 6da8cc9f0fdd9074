package store

import (
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// The operator dashboard (internal/dashboard): single-use login tokens and browser sessions,
// both stored only as the SHA-256 of their secret, and the aggregates of its overview page.

// DashboardLoginInsertParams stores a new single-use login token (by its hash).
type DashboardLoginInsertParams struct {
	// TokenHash is the hex SHA-256 of the login token; the token itself is never stored.
	TokenHash      string
	OrganizationID uuid.UUID
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

// DashboardLoginTakeParams spends a login token, selected by its hash, as of Now.
type DashboardLoginTakeParams struct {
	TokenHash string
	Now       time.Time
}

// DashboardLogin is a login token as stored.
type DashboardLogin struct {
	TokenHash      string
	OrganizationID uuid.UUID
	CreatedAt      time.Time
	ExpiresAt      time.Time
	UsedAt         *time.Time
}

// DashboardSessionInsertParams stores a new dashboard session (by the hash of its id).
type DashboardSessionInsertParams struct {
	// IDHash is the hex SHA-256 of the session id the browser holds in its cookie.
	IDHash         string
	OrganizationID uuid.UUID
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

// DashboardSessionGetParams selects a live session by the hash of its id, as of Now.
type DashboardSessionGetParams struct {
	IDHash string
	Now    time.Time
}

// DashboardSessionRevokeParams ends a session (logout).
type DashboardSessionRevokeParams struct {
	IDHash string
	Now    time.Time
}

// DashboardSession is a dashboard session as stored.
type DashboardSession struct {
	IDHash         string
	OrganizationID uuid.UUID
	CreatedAt      time.Time
	ExpiresAt      time.Time
	RevokedAt      *time.Time
}

// DeliveryQueueByConnectionParams asks for an organization's unfinished deliveries per
// connection, as of Now.
type DeliveryQueueByConnectionParams struct {
	OrganizationID uuid.UUID
	Now            time.Time
}

// ConnectionQueue is the unfinished deliveries of one connection.
type ConnectionQueue struct {
	ConnectionID uuid.UUID
	WorkspaceID  uuid.UUID
	// Due are waiting deliveries due at or before Now (what DeliveryQueueStats counts).
	Due int
	// Scheduled are waiting deliveries due later (retries with backoff, deferrals).
	Scheduled int
	// Processing are deliveries leased by a worker.
	Processing int
	// OldestDue is the earliest due time among the Due ones, nil when there are none.
	OldestDue *time.Time
}

// EventStatusCountsParams asks for an organization's event counts by workspace and status.
type EventStatusCountsParams struct {
	OrganizationID uuid.UUID
}

// EventStatusCount is how many events of one workspace have one status.
type EventStatusCount struct {
	WorkspaceID uuid.UUID
	Status      switchyard.Status
	N           int
}
