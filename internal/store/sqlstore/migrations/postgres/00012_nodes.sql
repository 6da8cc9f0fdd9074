-- +goose Up
-- The nodes sharing this database (internal/cluster): each running process refreshes its row
-- every few seconds; rows not refreshed for a while belong to nodes that are gone. The API
-- rate limits are shared out among the live API nodes by counting these rows.
CREATE TABLE nodes (
    id         UUID PRIMARY KEY,
    role       TEXT NOT NULL,
    host       TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);

-- Retention selects the oldest finished events (ORDER BY created_at LIMIT n): without this index
-- every batch of its deletes scanned the whole events table, three times (docs/postgres.md).
-- created_at never changes, so updates of an event stay HOT.
CREATE INDEX events_created ON events (created_at);

-- deliveries is a queue: every delivery is inserted, claimed and recorded (two or three row
-- versions each), and most rows are soon finished. Vacuum it after 2 % of its rows changed
-- rather than the default 20 %, so that dead versions do not pile up under a steady load and
-- claims keep scanning a small deliveries_due index (docs/postgres.md). events is updated as its
-- deliveries finish.
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.05);
ALTER TABLE events SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05);

-- +goose Down
ALTER TABLE events RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE deliveries RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor,
    autovacuum_vacuum_insert_scale_factor);
DROP INDEX events_created;
DROP TABLE nodes;
