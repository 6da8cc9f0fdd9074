package sqlstore_test

import (
	"context"
	"testing"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// TestDashboardConformance runs the operator dashboard's store suite on every dialect.
func TestDashboardConformance(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		storetest.RunDashboard(t, func(t *testing.T) store.Store {
			db, err := sqlstore.Open(context.Background(), d.NewURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}
