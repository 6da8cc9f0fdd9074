package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		open := func(t *testing.T) store.Store {
			db, err := sqlstore.Open(context.Background(), d.NewURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		storetest.Run(t, open)
		storetest.RunEngine(t, open)
		storetest.RunIdempotency(t, open)
		storetest.RunAPI(t, open)
		storetest.RunKeys(t, open)
		storetest.RunOAuth(t, open)
		storetest.RunActivity(t, open)
		storetest.RunSessions(t, open)
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, d.NewURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		n, err := db.Migrate(ctx)
		if err != nil || n != 0 {
			t.Fatalf("second migrate applied %d (err %v), want 0", n, err)
		}
	})
}

func TestOpenRejectsUnknownURLs(t *testing.T) {
	t.Parallel()
	_, err := sqlstore.Open(context.Background(), "mysql://root:hunter2@localhost/db")
	if err == nil {
		t.Fatal("opened a mysql URL")
	}
	if got := err.Error(); strings.Contains(got, "hunter2") {
		t.Fatalf("error leaks the password: %s", got)
	}
}
