-- +goose Up
-- A counter that every change to rules or connections moves on (by trigger, so no write path
-- can forget it). Ingestion caches each workspace's rules per event name for one value of it.
CREATE TABLE routing_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    v  INTEGER NOT NULL
);
INSERT INTO routing_version (id, v) VALUES (1, 0);

-- +goose StatementBegin
CREATE TRIGGER rules_routing_insert AFTER INSERT ON rules BEGIN UPDATE routing_version SET v = v + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rules_routing_update AFTER UPDATE ON rules BEGIN UPDATE routing_version SET v = v + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER rules_routing_delete AFTER DELETE ON rules BEGIN UPDATE routing_version SET v = v + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER connections_routing_insert AFTER INSERT ON connections BEGIN UPDATE routing_version SET v = v + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER connections_routing_update AFTER UPDATE ON connections BEGIN UPDATE routing_version SET v = v + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER connections_routing_delete AFTER DELETE ON connections BEGIN UPDATE routing_version SET v = v + 1; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER connections_routing_delete;
DROP TRIGGER connections_routing_update;
DROP TRIGGER connections_routing_insert;
DROP TRIGGER rules_routing_delete;
DROP TRIGGER rules_routing_update;
DROP TRIGGER rules_routing_insert;
DROP TABLE routing_version;
