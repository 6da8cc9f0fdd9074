package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

const catalogCols = `id, organization_id, workspace_id, kind, key, label, description, active, created_by, created_at, updated_at`

func scanCatalogEntry(s scanner) (*switchyard.CatalogEntry, error) {
	var (
		c                    switchyard.CatalogEntry
		desc, createdBy      sql.NullString
		createdAt, updatedAt int64
	)
	if err := s.Scan(&c.ID, &c.OrganizationID, &c.WorkspaceID, &c.Kind, &c.Key, &c.Label, &desc, &c.Active, &createdBy,
		&createdAt, &updatedAt); err != nil {
		return nil, err
	}
	c.Description = stringPtr(desc)
	c.CreatedBy = createdBy.String
	c.CreatedAt, c.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	return &c, nil
}

// catalogue records the event types and resources of events in their workspaces' catalogues,
// inside the transaction that stores the events. It is on the ingest path, so it costs one
// statement however many events there are: a multi-row insert that does nothing for entries
// already present. Rows go in a fixed order so that concurrent first emits of the same new names
// take their index locks in the same order and cannot deadlock.
func (db *DB) catalogue(ctx context.Context, tx *sql.Tx, events []*switchyard.Event) error {
	type entry struct {
		e    *switchyard.Event // the first event that uses the entry
		kind switchyard.CatalogKind
		key  string
	}
	seen := make(map[catalogID]bool, 2*len(events))
	entries := make([]entry, 0, 2*len(events))
	for _, e := range events {
		for _, en := range []entry{{e, switchyard.CatalogEventType, e.Name}, {e, switchyard.CatalogResource, e.Resource}} {
			k := catalogID{e.WorkspaceID, en.kind, en.key}
			if en.key == "" || seen[k] || db.catalogued.has(k) {
				continue
			}
			seen[k] = true
			entries = append(entries, en)
		}
	}
	if len(entries) == 0 {
		return nil
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(strings.Compare(a.e.WorkspaceID.String(), b.e.WorkspaceID.String()),
			strings.Compare(string(a.kind), string(b.kind)), strings.Compare(a.key, b.key))
	})
	const perRow = 9
	var (
		values strings.Builder
		args   = make([]any, 0, perRow*len(entries))
	)
	for i, en := range entries {
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(" + placeholders(i*perRow+1, perRow) + ", NULL, TRUE)")
		at := micros(en.e.CreatedAt)
		args = append(args, uuid.Must(uuid.NewV7()), en.e.OrganizationID, en.e.WorkspaceID, en.kind, en.key, en.key,
			en.e.CreatedBy, at, at)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_entries (id, organization_id, workspace_id, kind, key, label,
		created_by, created_at, updated_at, description, active) VALUES `+values.String()+`
		ON CONFLICT (workspace_id, kind, key) DO NOTHING`, args...); err != nil {
		return fmt.Errorf("cataloguing event types and resources: %w", err)
	}
	return nil
}

// catalogID names one catalogue entry.
type catalogID struct {
	workspace uuid.UUID
	kind      switchyard.CatalogKind
	key       string
}

// catalogKnown remembers catalogue entries known to be stored, so that ingestion skips them.
// Entries are never deleted but with their workspace, whose events can no longer be ingested.
type catalogKnown struct {
	mu sync.Mutex
	m  map[catalogID]struct{}
}

// maxKnownCatalog bounds catalogKnown; past it, it starts over.
const maxKnownCatalog = 100000

func (c *catalogKnown) has(k catalogID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[k]
	return ok
}

// hasAll says whether e's entries (its event type and resource) are all stored.
func (c *catalogKnown) hasAll(e *switchyard.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, name := c.m[catalogID{e.WorkspaceID, switchyard.CatalogEventType, e.Name}]
	_, resource := c.m[catalogID{e.WorkspaceID, switchyard.CatalogResource, e.Resource}]
	return name && (resource || e.Resource == "")
}

// add records the entries of events as stored; call it only after their transaction committed.
func (c *catalogKnown) add(events []*switchyard.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxKnownCatalog {
		c.m = map[catalogID]struct{}{}
	}
	for _, e := range events {
		c.m[catalogID{e.WorkspaceID, switchyard.CatalogEventType, e.Name}] = struct{}{}
		if e.Resource != "" {
			c.m[catalogID{e.WorkspaceID, switchyard.CatalogResource, e.Resource}] = struct{}{}
		}
	}
}

// CatalogList returns a workspace's catalogue of one kind, by key.
func (db *DB) CatalogList(ctx context.Context, p store.CatalogListParams) ([]*switchyard.CatalogEntry, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+catalogCols+` FROM catalog_entries
		WHERE organization_id = $1 AND workspace_id = $2 AND kind = $3 ORDER BY key`, p.OrganizationID, p.WorkspaceID, p.Kind)
	if err != nil {
		return nil, fmt.Errorf("listing catalogue: %w", err)
	}
	return collect(rows, scanCatalogEntry, "catalogue")
}
