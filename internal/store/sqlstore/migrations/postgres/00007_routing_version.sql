-- +goose Up
-- A counter that every change to rules or connections moves on (by trigger, so no write path
-- can forget it). Ingestion caches each workspace's rules per event name for one value of it.
CREATE TABLE routing_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    v  BIGINT NOT NULL
);
INSERT INTO routing_version (id, v) VALUES (1, 0);

-- +goose StatementBegin
CREATE FUNCTION bump_routing_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE routing_version SET v = v + 1;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER rules_routing AFTER INSERT OR UPDATE OR DELETE ON rules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_routing_version();
CREATE TRIGGER connections_routing AFTER INSERT OR UPDATE OR DELETE ON connections
    FOR EACH STATEMENT EXECUTE FUNCTION bump_routing_version();

-- +goose Down
DROP TRIGGER connections_routing ON connections;
DROP TRIGGER rules_routing ON rules;
DROP FUNCTION bump_routing_version();
DROP TABLE routing_version;
