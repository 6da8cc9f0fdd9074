-- +goose Up
-- The events' page indexes in ascending order. New events carry the newest created_at, so in a
-- DESC index each one went to the far left of the tree, where every page split redistributes
-- entries (SQLite's and PostgreSQL's fast paths are for appends at the right edge). Lists read
-- newest first by scanning these backwards, which both databases do for ORDER BY ... DESC.
DROP INDEX events_org_page;
CREATE INDEX events_org_page ON events (organization_id, created_at, id);
DROP INDEX events_workspace_page;
CREATE INDEX events_workspace_page ON events (workspace_id, created_at, id);

-- +goose Down
DROP INDEX events_org_page;
CREATE INDEX events_org_page ON events (organization_id, created_at DESC, id DESC);
DROP INDEX events_workspace_page;
CREATE INDEX events_workspace_page ON events (workspace_id, created_at DESC, id DESC);
