package store

import (
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// WorkspaceUpdateParams replaces a workspace's editable fields.
type WorkspaceUpdateParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
	Name           string
	// Description is the new description; nil clears it.
	Description *string
	Now         time.Time
}

// ConnectionListParams selects one page of connections. WorkspaceID uuid.Nil lists the whole
// organization.
type ConnectionListParams struct {
	ListParams
	WorkspaceID uuid.UUID
}

// ConnectionUpdateParams replaces a connection's editable fields. Metadata is stored as given
// (secret fields already sealed).
type ConnectionUpdateParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
	Name           string
	Metadata       map[string]any
	Hidden         bool
	Now            time.Time
}

// ConnectionDeleteParams selects the connection to delete.
type ConnectionDeleteParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
	// Force deletes the connection's active rules too instead of refusing.
	Force bool
	Now   time.Time
}

// RuleListParams selects one page of rules. Empty filters and WorkspaceID uuid.Nil select all.
type RuleListParams struct {
	ListParams
	WorkspaceID uuid.UUID
	// Event, Resource and ResourceID match the rule's fields exactly when not "".
	Event, Resource, ResourceID string
}

// RuleDeleteParams selects the rule to delete.
type RuleDeleteParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
	Now            time.Time
}

// CatalogListParams selects one catalogue of a workspace.
type CatalogListParams struct {
	OrganizationID uuid.UUID
	WorkspaceID    uuid.UUID
	Kind           switchyard.CatalogKind
}

// MappingGetParams selects a connection's default mapping.
type MappingGetParams struct {
	OrganizationID uuid.UUID
	ConnectionID   uuid.UUID
}

// MappingSaveParams is a new version of a connection's default mapping.
type MappingSaveParams struct {
	OrganizationID uuid.UUID
	ConnectionID   uuid.UUID
	// ExpectedVersion, when not 0, must be the latest stored version (optimistic concurrency).
	ExpectedVersion int
	// MappingID, when not uuid.Nil, must be the stored mapping's id.
	MappingID uuid.UUID
	// NewMappingID is the mapping id to use when this is the first version.
	NewMappingID uuid.UUID
	// Name is the version's name; "" keeps the previous version's (or "Default" for the first).
	Name      string
	Schema    []byte
	CreatedBy string
	Now       time.Time
}

// EventListParams selects one page of events. Empty filters and WorkspaceID uuid.Nil select all.
type EventListParams struct {
	ListParams
	WorkspaceID uuid.UUID
	// Event, Resource and ResourceID match the event's fields exactly when not "".
	Event, Resource, ResourceID string
	// Status, when not "", matches the event's derived status.
	Status switchyard.Status
}

// EventInsertBatchParams holds accepted events, each prepared as for EventInsert.
type EventInsertBatchParams struct {
	Events []*switchyard.Event
}

// EventCancelParams selects the event whose deliveries to cancel.
type EventCancelParams struct {
	OrganizationID uuid.UUID
	ID             uuid.UUID
	Now            time.Time
}

// DeliveryGetParams selects a delivery by its event and rule (the API's /events/{e}/rules/{r}).
type DeliveryGetParams struct {
	OrganizationID uuid.UUID
	EventID        uuid.UUID
	RuleID         uuid.UUID
}

// DeliveryRetryParams selects the delivery to retry.
type DeliveryRetryParams struct {
	DeliveryGetParams
	// ImminentWithin is how soon a scheduled attempt counts as imminent (ErrTooEarly).
	ImminentWithin time.Duration
	Now            time.Time
}

// DeliveryCancelParams selects the delivery to cancel.
type DeliveryCancelParams struct {
	DeliveryGetParams
	Now time.Time
}

// AttemptListParams selects one page of a delivery's attempts.
type AttemptListParams struct {
	ListParams
	DeliveryID uuid.UUID
}

// AttemptGetParams selects one attempt of a delivery.
type AttemptGetParams struct {
	OrganizationID uuid.UUID
	DeliveryID     uuid.UUID
	ID             uuid.UUID
}
