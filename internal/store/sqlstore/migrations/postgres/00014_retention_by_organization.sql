-- +goose Up
-- Retention finds the oldest finished events through each organization's page index
-- (organization_id, created_at, id) instead of an index of its own: events_created was one more
-- index entry written by every insert, for a chore that runs once an hour (docs/postgres.md).
DROP INDEX events_created;

-- +goose Down
CREATE INDEX events_created ON events (created_at);
