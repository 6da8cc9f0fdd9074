-- +goose Up
-- Managed OAuth: each connection's credential in a table of its own (a token refresh must not
-- move the routing version that flushes every node's caches), and the single-use states of OAuth
-- flows in progress.

-- connection_credentials holds a connection's OAuth token (access, refresh, expiry and the
-- token response's other fields), sealed with the encryption key as one JSON document. version
-- moves on at every write: refreshes compare-and-swap on it, so two nodes never both use one
-- refresh token.
CREATE TABLE connection_credentials (
    connection_id   UUID PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL,
    sealed          TEXT NOT NULL,
    account         TEXT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- oauth_states are OAuth flows started and not yet completed. The state itself is never stored,
-- only its SHA-256; the PKCE verifier is sealed. A state is taken once (used_at), within its
-- expiry, by the callback.
CREATE TABLE oauth_states (
    state_hash       TEXT PRIMARY KEY,
    organization_id  UUID NOT NULL,
    workspace_id     UUID NOT NULL,
    integration_type TEXT NOT NULL,
    name             TEXT NOT NULL,
    redirect_url     TEXT NOT NULL,
    verifier_sealed  TEXT NOT NULL,
    connection_id    UUID,
    created_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

-- A saved mapping moves the routing version too, so that each node's provisioned sender (which
-- holds the connection's compiled mapping) follows the save as it follows a connection change.
CREATE TRIGGER connection_mappings_routing AFTER INSERT ON connection_mappings
    FOR EACH STATEMENT EXECUTE FUNCTION bump_routing_version();

-- +goose Down
DROP TRIGGER connection_mappings_routing ON connection_mappings;
DROP TABLE oauth_states;
DROP TABLE connection_credentials;
