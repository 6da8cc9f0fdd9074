-- +goose Up
-- Waiting deliveries by connection: deferring one connection's backlog (circuit breaker, stuck
-- connections) must not scan the whole table while holding the writer.
CREATE INDEX deliveries_connection_due ON deliveries (connection_id, next_attempt_at) WHERE next_attempt_at IS NOT NULL;

-- +goose Down
DROP INDEX deliveries_connection_due;
