-- +goose Up
-- Idempotency keys of accepted events: one row per (workspace, key) while the key is within its
-- 24-hour window; the retention cleaner removes expired rows.
CREATE TABLE idempotency_keys (
    workspace_id UUID NOT NULL,
    key          TEXT NOT NULL,
    event_id     UUID NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
