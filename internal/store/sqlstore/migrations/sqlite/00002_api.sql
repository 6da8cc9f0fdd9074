-- +goose Up
-- The rest of the Meshes API surface: the workspace catalogues, stored field mappings, and the
-- indexes the organization-wide and filtered lists page through.

-- catalog_entries are a workspace's event types (kind 'event_type') and resources (kind
-- 'resource'), catalogued on first emit with an insert-if-absent on the unique key.
CREATE TABLE catalog_entries (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    label           TEXT NOT NULL,
    description     TEXT,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_by      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (workspace_id, kind, key)
);

-- connection_mappings keeps every saved version of a connection's default mapping; the latest
-- version is the mapping. The unique key makes concurrent saves of one version conflict.
CREATE TABLE connection_mappings (
    id               TEXT PRIMARY KEY,
    mapping_id       TEXT NOT NULL,
    organization_id  TEXT NOT NULL,
    workspace_id     TEXT NOT NULL,
    connection_id    TEXT NOT NULL REFERENCES connections (id),
    integration_type TEXT NOT NULL,
    version          INTEGER NOT NULL,
    name             TEXT NOT NULL,
    schema           TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (connection_id, version)
);

CREATE INDEX connections_org_page ON connections (organization_id, created_at DESC, id DESC);
CREATE INDEX rules_org_page ON rules (organization_id, created_at DESC, id DESC);
CREATE INDEX rules_workspace_page ON rules (workspace_id, created_at DESC, id DESC);
CREATE INDEX rules_connection ON rules (connection_id);
-- The event name is the filter that matters most on the events lists; other filters (status,
-- resource) scan the workspace's page index, which keeps the ingest path to few indexes.
CREATE INDEX events_workspace_event_page ON events (workspace_id, event, created_at DESC, id DESC);

-- +goose Down
DROP INDEX events_workspace_event_page;
DROP INDEX rules_connection;
DROP INDEX rules_workspace_page;
DROP INDEX rules_org_page;
DROP INDEX connections_org_page;
DROP TABLE connection_mappings;
DROP TABLE catalog_entries;
