package store

import (
	"time"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// WorkspaceActivityParams selects one workspace's activity since Since (an hour boundary).
type WorkspaceActivityParams struct {
	OrganizationID uuid.UUID
	WorkspaceID    uuid.UUID
	// Resource and ResourceID, when not "", narrow the activity to one resource.
	Resource, ResourceID string
	Since, Now           time.Time
}

// WorkspaceActivity is a workspace's recent activity.
type WorkspaceActivity struct {
	// Hours counts the events created in each hour from Since, by status; index 0 is the hour
	// starting at Since.
	Hours []map[switchyard.Status]int
	// FailedAttempts counts the attempts since Since that did not deliver, by outcome.
	FailedAttempts map[switchyard.Outcome]int
	// Attempts counts every attempt since Since; Delivered those that delivered.
	Attempts, Delivered int
	// OldestDue is the due time of the oldest delivery waiting to be attempted (nil: none).
	OldestDue *time.Time
}
