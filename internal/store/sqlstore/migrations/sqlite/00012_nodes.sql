-- +goose Up
-- The nodes sharing this database (internal/cluster): each running process refreshes its row
-- every few seconds; rows not refreshed for a while belong to nodes that are gone. On SQLite
-- there is one node, which does not write here; the table keeps the two schemas alike.
CREATE TABLE nodes (
    id         TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    host       TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL
);

-- Retention selects the oldest finished events (ORDER BY created_at LIMIT n): without this index
-- every batch of its deletes scanned the whole events table.
CREATE INDEX events_created ON events (created_at);

-- +goose Down
DROP INDEX events_created;
DROP TABLE nodes;
