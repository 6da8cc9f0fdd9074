// Package store defines Switchyard's storage interface: every database operation the API, the
// delivery engine and the CLI need, with one params struct per method and the current time passed
// in so tests control it. Package sqlstore implements it for SQLite and PostgreSQL, and package
// storetest holds the conformance suite both dialects pass.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// ErrNotFound is returned when the requested row does not exist (or belongs to another tenant:
// the two are indistinguishable by design).
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write would violate a uniqueness rule.
var ErrConflict = errors.New("conflict")

// ErrLeaseLost is returned by DeliveryRecord when the delivery's lease was taken over by another
// worker (it expired) before the result was recorded.
var ErrLeaseLost = errors.New("delivery lease lost")

// Store is every database operation of Switchyard. Methods that read tenant data take the
// organization id and never return another organization's rows.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database handles.
	Close() error

	// Bootstrap creates the first organization, its owner machine key and a default workspace in
	// one transaction when the store has no organization yet. Otherwise it creates nothing and
	// returns the existing first organization, workspace and key (Created false).
	Bootstrap(ctx context.Context, p BootstrapParams) (*BootstrapResult, error)

	// OrganizationInsert stores a new organization.
	OrganizationInsert(ctx context.Context, o *switchyard.Organization) error

	// MachineKeyInsert stores a new machine key.
	MachineKeyInsert(ctx context.Context, k *switchyard.MachineKey) error
	// MachineKeyGetByAccessKey finds a key (revoked or not) by its access key.
	MachineKeyGetByAccessKey(ctx context.Context, accessKey string) (*switchyard.MachineKey, error)

	// WorkspaceInsert stores a new workspace; ErrConflict if its name is taken in the organization.
	WorkspaceInsert(ctx context.Context, w *switchyard.Workspace) error
	// WorkspaceGet returns one workspace of the organization.
	WorkspaceGet(ctx context.Context, orgID, id uuid.UUID) (*switchyard.Workspace, error)
	// WorkspaceGetByPublishableKey finds the workspace a publishable key belongs to.
	WorkspaceGetByPublishableKey(ctx context.Context, key string) (*switchyard.Workspace, error)
	// WorkspaceList lists the organization's workspaces, newest first.
	WorkspaceList(ctx context.Context, p ListParams) (*Page[*switchyard.Workspace], error)

	// ConnectionInsert stores a new connection.
	ConnectionInsert(ctx context.Context, c *switchyard.Connection) error
	// ConnectionGet returns one connection of the organization.
	ConnectionGet(ctx context.Context, orgID, id uuid.UUID) (*switchyard.Connection, error)

	// RuleInsert stores a new rule.
	RuleInsert(ctx context.Context, r *switchyard.Rule) error
	// RuleGet returns one rule of the organization.
	RuleGet(ctx context.Context, orgID, id uuid.UUID) (*switchyard.Rule, error)

	// EventInsert stores an accepted event and, in the same transaction, one pending delivery per
	// active rule of its workspace that matches it (on an active connection). It sets the event's
	// status and TotalRules and returns the deliveries.
	EventInsert(ctx context.Context, p EventInsertParams) ([]*switchyard.Delivery, error)
	// EventGet returns one event of the organization, without its payload unless WithPayload.
	EventGet(ctx context.Context, p EventGetParams) (*switchyard.Event, error)
	// DeliveryListByEvent returns the deliveries of one event of the organization, oldest first.
	DeliveryListByEvent(ctx context.Context, orgID, eventID uuid.UUID) ([]*switchyard.Delivery, error)

	// DeliveryClaim leases up to Limit due deliveries (due time at or before Now, including
	// deliveries whose earlier lease expired) until LeaseUntil, marks them processing and returns
	// them. Concurrent claimers never receive the same delivery while its lease holds.
	DeliveryClaim(ctx context.Context, p DeliveryClaimParams) ([]*Claimed, error)
	// DeliveryRecord stores the outcome of one claimed delivery: the attempt (if one was made),
	// its new status and due time, and the event's derived status and counters, in one
	// transaction. It returns ErrLeaseLost when the lease was no longer held.
	DeliveryRecord(ctx context.Context, p DeliveryRecordParams) error
	// ConnectionDeactivate marks a connection inactive with a reason.
	ConnectionDeactivate(ctx context.Context, p ConnectionDeactivateParams) error
	// AttemptListByDelivery returns the attempts of one delivery, oldest first.
	AttemptListByDelivery(ctx context.Context, orgID, deliveryID uuid.UUID) ([]*switchyard.Attempt, error)
}

// BootstrapParams holds the records Bootstrap creates on an empty store.
type BootstrapParams struct {
	Organization *switchyard.Organization
	MachineKey   *switchyard.MachineKey
	Workspace    *switchyard.Workspace
}

// BootstrapResult says what Bootstrap did. When Created is false the records are the existing
// ones (the machine key's sealed secret included, for the caller to withhold).
type BootstrapResult struct {
	Created      bool
	Organization *switchyard.Organization
	MachineKey   *switchyard.MachineKey
	Workspace    *switchyard.Workspace
}

// ListParams selects one page of an organization-wide list.
type ListParams struct {
	OrganizationID uuid.UUID
	// Limit is the page size; callers validate it (1–200).
	Limit int
	// Cursor is the opaque NextCursor of the previous page, or "".
	Cursor string
}

// Page is one page of a list, newest first. NextCursor is "" on the last page.
type Page[T any] struct {
	Records    []T
	NextCursor string
}

// EventInsertParams holds an accepted event. The event's ID, workspace, organization, name,
// resource, payload, creator and CreatedAt are set by the caller.
type EventInsertParams struct {
	Event *switchyard.Event
}

// EventGetParams selects one event.
type EventGetParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
	WithPayload    bool
}

// DeliveryClaimParams selects and leases due deliveries.
type DeliveryClaimParams struct {
	Now        time.Time
	LeaseUntil time.Time
	Limit      int
}

// Claimed is a leased delivery with everything needed to attempt it.
type Claimed struct {
	Delivery   *switchyard.Delivery
	Event      *switchyard.Event // with payload
	Rule       *switchyard.Rule
	Connection *switchyard.Connection
	// LeaseUntil identifies this claim: DeliveryRecord only succeeds while it still holds.
	LeaseUntil time.Time
}

// DeliveryRecordParams is the outcome of one claimed delivery.
type DeliveryRecordParams struct {
	DeliveryID uuid.UUID
	EventID    uuid.UUID
	LeaseUntil time.Time
	// Attempt is the attempt made, or nil when none was (for example Switchyard's own failure
	// before calling the destination); an attempt increments the delivery's attempt count.
	Attempt *switchyard.Attempt
	// Status is the delivery's new status.
	Status switchyard.Status
	// NextAttemptAt is when to try again (Status retrying or pending), nil when terminal.
	NextAttemptAt *time.Time
	LastError     string
	Now           time.Time
}

// ConnectionDeactivateParams marks one connection inactive.
type ConnectionDeactivateParams struct {
	ConnectionID uuid.UUID
	Reason       string
	Now          time.Time
}
