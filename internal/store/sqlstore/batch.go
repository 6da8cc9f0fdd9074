package sqlstore

import (
	"context"
	"database/sql"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// EventInsertBatch stores several events, their deliveries and their catalogue entries in one
// transaction: one commit (one fsync) for the whole bulk request instead of one per event.
func (db *DB) EventInsertBatch(ctx context.Context, p store.EventInsertBatchParams) ([][]*switchyard.Delivery, error) {
	if len(p.Events) == 0 {
		return nil, nil
	}
	out := make([][]*switchyard.Delivery, len(p.Events))
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for i, e := range p.Events {
			ds, err := db.insertEvent(ctx, tx, e)
			if err != nil {
				return err
			}
			out[i] = ds
		}
		return db.catalogue(ctx, tx, p.Events)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
