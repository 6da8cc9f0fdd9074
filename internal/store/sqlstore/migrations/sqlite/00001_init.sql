-- +goose Up
-- Times are INTEGER microseconds since the Unix epoch (UTC) in both dialects, so that the shared
-- SQL compares and orders them the same way everywhere.
CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE machine_keys (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    access_key      TEXT NOT NULL UNIQUE,
    secret_sealed   TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
);

CREATE TABLE workspaces (
    id                   TEXT PRIMARY KEY,
    organization_id      TEXT NOT NULL REFERENCES organizations (id),
    name                 TEXT NOT NULL,
    description          TEXT,
    publishable_key      TEXT NOT NULL UNIQUE,
    publishable_key_name TEXT NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (organization_id, name)
);
CREATE INDEX workspaces_org_page ON workspaces (organization_id, created_at DESC, id DESC);

CREATE TABLE connections (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    type            TEXT NOT NULL,
    name            TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    inactive_reason TEXT NOT NULL DEFAULT '',
    hidden          BOOLEAN NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX connections_workspace ON connections (workspace_id, created_at DESC, id DESC);

CREATE TABLE rules (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    connection_id   TEXT NOT NULL REFERENCES connections (id),
    type            TEXT NOT NULL,
    event           TEXT NOT NULL,
    resource        TEXT NOT NULL DEFAULT '',
    resource_id     TEXT NOT NULL DEFAULT '',
    metadata        TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    hidden          BOOLEAN NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX rules_match ON rules (workspace_id, event);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    workspace_id    TEXT NOT NULL,
    event           TEXT NOT NULL,
    resource        TEXT NOT NULL,
    resource_id     TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    total_rules     INTEGER NOT NULL,
    completed_count INTEGER NOT NULL DEFAULT 0,
    failed_count    INTEGER NOT NULL DEFAULT 0,
    started_at      INTEGER,
    completed_at    INTEGER,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX events_org_page ON events (organization_id, created_at DESC, id DESC);
CREATE INDEX events_workspace_page ON events (workspace_id, created_at DESC, id DESC);

-- deliveries are the API's "rule events". next_attempt_at is both the due time of a waiting
-- delivery and the lease expiry of a claimed one: a delivery whose claimer died becomes due again
-- when its lease runs out. It is NULL once the delivery is terminal.
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL,
    workspace_id     TEXT NOT NULL,
    event_id         TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    rule_id          TEXT NOT NULL,
    connection_id    TEXT NOT NULL,
    integration_type TEXT NOT NULL,
    event_name       TEXT NOT NULL,
    resource         TEXT NOT NULL,
    resource_id      TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    attempt_count    INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    started_at       INTEGER,
    completed_at     INTEGER,
    last_error       TEXT NOT NULL DEFAULT '',
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX deliveries_event ON deliveries (event_id);

CREATE TABLE attempts (
    id               TEXT PRIMARY KEY,
    delivery_id      TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    number           INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    completed_at     INTEGER NOT NULL,
    outcome          TEXT NOT NULL,
    http_status      INTEGER NOT NULL DEFAULT 0,
    message          TEXT NOT NULL DEFAULT '',
    response_excerpt TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, number);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE events;
DROP TABLE rules;
DROP TABLE connections;
DROP TABLE workspaces;
DROP TABLE machine_keys;
DROP TABLE organizations;
