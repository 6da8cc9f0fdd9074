-- +goose Up
-- Embed sessions (the sessions API). A session grants the embedded UI access to one workspace
-- with a role and a type until it expires or is revoked. Its tokens are never stored: token_hash
-- is the SHA-256 of the current access token (a refresh replaces it and moves token_version on,
-- compare-and-swap, so the previous token stops verifying), launch_hash the SHA-256 of the
-- single-use launch token.
CREATE TABLE sessions (
    id                UUID PRIMARY KEY,
    organization_id   UUID NOT NULL,
    workspace_id      UUID NOT NULL REFERENCES workspaces (id),
    role              TEXT NOT NULL,
    session_type      TEXT NOT NULL,
    resource          TEXT NOT NULL DEFAULT '',
    resource_id       TEXT NOT NULL DEFAULT '',
    external_user_id  TEXT,
    allowed_origins   JSONB NOT NULL DEFAULT '[]',
    scopes            JSONB NOT NULL DEFAULT '[]',
    launch_page       TEXT NOT NULL,
    ttl_seconds       BIGINT NOT NULL,
    token_hash        TEXT NOT NULL,
    token_version     BIGINT NOT NULL,
    launch_hash       TEXT NOT NULL UNIQUE,
    launch_expires_at BIGINT NOT NULL,
    launch_used_at    BIGINT,
    created_by        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    refreshed_at      BIGINT,
    revoked_at        BIGINT
);
-- GET /api/v1/sessions pages through one workspace's sessions, newest first; its filters
-- (status, resource) scan that page index.
CREATE INDEX sessions_workspace_page ON sessions (workspace_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE sessions;
