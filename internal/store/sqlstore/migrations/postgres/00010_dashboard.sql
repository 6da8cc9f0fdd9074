-- +goose Up
-- The operator dashboard (internal/dashboard). Its secrets are never stored: token_hash is the
-- SHA-256 of a single-use login token (`switchyard dashboard` prints it in a URL), id_hash the
-- SHA-256 of the session id the browser keeps in its cookie.
CREATE TABLE dashboard_logins (
    token_hash      TEXT PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);
CREATE INDEX dashboard_logins_expiry ON dashboard_logins (expires_at);

CREATE TABLE dashboard_sessions (
    id_hash         TEXT PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);

-- +goose Down
DROP TABLE dashboard_sessions;
DROP TABLE dashboard_logins;
