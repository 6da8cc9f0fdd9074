-- +goose Up
-- deliveries.event_id and attempts.delivery_id lose their foreign keys. Both rows are only ever
-- written by the store together with the row they point to (a delivery in the statement that
-- inserts its event, an attempt in the outcome that updates its delivery), and retention deletes
-- attempts, deliveries and events itself, children first, so the keys checked nothing the code
-- does not already guarantee. They cost the hottest statements dearly: each inserted delivery
-- and attempt ran a referential check that locks the parent row (FOR KEY SHARE, itself a write
-- to the parent's page and to the WAL), about half of the ingest statement's execution time for
-- one event (docs/postgres.md). The indexes on the columns stay: reads and retention use them.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_id_fkey;
ALTER TABLE attempts DROP CONSTRAINT attempts_delivery_id_fkey;

-- +goose Down
ALTER TABLE attempts ADD CONSTRAINT attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE;
