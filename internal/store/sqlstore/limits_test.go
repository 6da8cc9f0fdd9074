package sqlstore_test

import (
	"context"
	"testing"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// TestLimitsConformance runs the suite of the limits shared across nodes on every dialect.
func TestLimitsConformance(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		storetest.RunLimits(t, func(t *testing.T) store.Store {
			db, err := sqlstore.Open(context.Background(), d.NewURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}
