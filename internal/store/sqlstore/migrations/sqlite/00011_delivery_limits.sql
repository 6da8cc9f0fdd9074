-- +goose Up
-- Per-connection delivery limits shared by every node on one database (docs/delivery.md, "Limits
-- across nodes"); see the PostgreSQL migration of the same number for the columns. A SQLite file
-- has one node, whose in-memory controller is authoritative, so the engine does not use this
-- table here; it exists so that both dialects keep one schema and pass one conformance suite.
-- The leased-deliveries index of the PostgreSQL migration is left out on purpose: it would cost
-- every claim and record on SQLite's single writer for nothing.
CREATE TABLE delivery_limits (
    key          TEXT PRIMARY KEY,
    paused_until INTEGER NOT NULL DEFAULT 0,
    circuit      TEXT NOT NULL DEFAULT 'closed',
    open_until   INTEGER NOT NULL DEFAULT 0,
    probe_until  INTEGER NOT NULL DEFAULT 0,
    cooldown     INTEGER NOT NULL DEFAULT 0,
    rate_tat     INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
);

-- +goose Down
DROP TABLE delivery_limits;
