-- +goose Up
-- Machine keys may be limited to some workspaces and to some permissions (docs/decisions.md §2). Both
-- limits are JSON arrays (workspace ids; "read", "write", "events:emit"); an empty array is no
-- limit. Existing keys keep full access.
ALTER TABLE machine_keys ADD COLUMN workspaces JSONB NOT NULL DEFAULT '[]';
ALTER TABLE machine_keys ADD COLUMN permissions JSONB NOT NULL DEFAULT '[]';
-- GET /api/v1/machine-keys and `switchyard keys list` page through an organization's keys.
CREATE INDEX machine_keys_org_page ON machine_keys (organization_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX machine_keys_org_page;
ALTER TABLE machine_keys DROP COLUMN permissions;
ALTER TABLE machine_keys DROP COLUMN workspaces;
