package switchyard

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// CatalogKind says which workspace catalogue an entry belongs to.
type CatalogKind string

// The two catalogues of a workspace (docs/meshes-compat.md §1).
const (
	CatalogEventType CatalogKind = "event_type"
	CatalogResource  CatalogKind = "resource"
)

// CatalogEntry is one event type or resource of a workspace. Switchyard catalogues both
// automatically the first time an event uses them (docs/decisions.md §3): Key is the name, Label starts
// equal to it, and CreatedBy is whoever emitted that first event.
type CatalogEntry struct {
	ID             uuid.UUID
	OrganizationID uuid.UUID
	WorkspaceID    uuid.UUID
	Kind           CatalogKind
	Key            string
	Label          string
	Description    *string
	Active         bool
	// CreatedBy is "" when unknown.
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Mapping is one stored version of a connection's default field mapping (docs/meshes-compat.md §7).
// Every save adds a version; MappingID stays the same across versions, ID names the version.
type Mapping struct {
	ID              uuid.UUID
	MappingID       uuid.UUID
	OrganizationID  uuid.UUID
	WorkspaceID     uuid.UUID
	ConnectionID    uuid.UUID
	IntegrationType string
	// Version starts at 1 and grows by one with every save.
	Version int
	Name    string
	// Schema is the validated mapping schema as JSON (package mapping).
	Schema    json.RawMessage
	CreatedBy string
	// CreatedAt is when the mapping's first version was saved; UpdatedAt when this one was.
	CreatedAt time.Time
	UpdatedAt time.Time
}
