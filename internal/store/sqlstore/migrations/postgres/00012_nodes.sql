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

-- +goose Down
DROP TABLE nodes;
