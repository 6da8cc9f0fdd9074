package sqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
	"github.com/switchyardhq/switchyard/internal/switchyard"
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

// TestRoutingChangedByAnotherNode: a node routes events by the rules it has cached only while
// no other node has changed them. Two stores on one database stand for two nodes; the first
// has routed (and cached) one rule when the second replaces it.
func TestRoutingChangedByAnotherNode(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		ctx := context.Background()
		url := d.NewURL(t)
		open := func() store.Store {
			db, err := sqlstore.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		a, b := open(), open()
		tn := storetest.NewTenant(t, a)
		old := storetest.NewRule(t, a, tn, storetest.RuleOpts{})
		for range 2 { // the second is routed from the cache
			if _, ds := storetest.NewEvent(t, a, tn, storetest.EventOpts{}); len(ds) != 1 || ds[0].RuleID != old.ID {
				t.Fatalf("before the change: deliveries for rules %v, want one for rule %s", ruleIDs(ds), old.ID)
			}
		}

		other := storetest.NewConnection(tn.Workspace)
		if err := b.ConnectionInsert(ctx, other); err != nil {
			t.Fatal(err)
		}
		replacement := storetest.NewRule(t, b, tn, storetest.RuleOpts{Connection: other})
		if _, err := b.RuleDelete(ctx, store.RuleDeleteParams{OrganizationID: tn.Org.ID, ID: old.ID, Now: storetest.T0}); err != nil {
			t.Fatal(err)
		}

		e, ds := storetest.NewEvent(t, a, tn, storetest.EventOpts{})
		if len(ds) != 1 || ds[0].RuleID != replacement.ID {
			t.Fatalf("after the change: deliveries for rules %v, want one for rule %s", ruleIDs(ds), replacement.ID)
		}
		_, stored, err := b.EventGetWithDeliveries(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != 1 || stored[0].ID != ds[0].ID || stored[0].ConnectionID != other.ID {
			t.Fatalf("stored deliveries for rules %v, want the one returned (%s) on connection %s", ruleIDs(stored), ds[0].ID, other.ID)
		}
		got, err := b.EventGet(ctx, store.EventGetParams{OrganizationID: tn.Org.ID, ID: e.ID, WithPayload: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.TotalRules != 1 || got.Status != switchyard.StatusPending || string(got.Payload) != string(e.Payload) {
			t.Fatalf("stored event: rules %d, status %s, payload %s", got.TotalRules, got.Status, got.Payload)
		}
	})
}

func ruleIDs(ds []*switchyard.Delivery) (ids []string) {
	for _, d := range ds {
		ids = append(ids, d.RuleID.String())
	}
	return ids
}

// TestColumnTypesPG: the types that the array statements give their arrays are the columns'
// own (a migration that changed a column would otherwise surface as a cast error at run time).
func TestColumnTypesPG(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	conn, err := sql.Open("pgx", storetest.DriverURL(t, url))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, c := range sqlstore.ColumnTypesPG {
		cols := strings.Split(c.Columns, ", ")
		if len(cols) != len(c.Types) {
			t.Fatalf("%s: %d columns, %d types", c.Table, len(cols), len(c.Types))
		}
		for i, col := range cols {
			var typ string
			if err := conn.QueryRowContext(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
				WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped`, c.Table, col).Scan(&typ); err != nil {
				t.Fatalf("%s.%s: %v", c.Table, col, err)
			}
			if typ != c.Types[i] {
				t.Errorf("%s.%s is %s, the statement casts it to %s", c.Table, col, typ, c.Types[i])
			}
		}
	}
}
