-- +goose Up
-- Per-connection delivery limits that hold for every node on this database (docs/delivery.md,
-- "Limits across nodes"). One row per connection ("c:<uuid>") or provider account ("s:<name>")
-- that was ever paused, opened or rate limited; times are microseconds since the epoch.
--   paused_until  no new attempts before this (a 429's Retry-After)
--   circuit       'closed', 'open' or 'half_open'; open_until ends an open period, probe_until
--                 the lease of the one half-open probe; cooldown is the current open period (µs)
--   rate_tat      the rate limiter's theoretical arrival time (GCRA): the bucket is full when
--                 rate_tat <= now
CREATE TABLE delivery_limits (
    key          TEXT PRIMARY KEY,
    paused_until BIGINT NOT NULL DEFAULT 0,
    circuit      TEXT NOT NULL DEFAULT 'closed',
    open_until   BIGINT NOT NULL DEFAULT 0,
    probe_until  BIGINT NOT NULL DEFAULT 0,
    cooldown     BIGINT NOT NULL DEFAULT 0,
    rate_tat     BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL
);
-- Leased deliveries by connection: a claim counts each connection's attempts in flight on every
-- node (status processing, lease not expired) without reading its backlog.
CREATE INDEX deliveries_leased ON deliveries (connection_id, next_attempt_at) WHERE status = 'processing';

-- +goose Down
DROP INDEX deliveries_leased;
DROP TABLE delivery_limits;
