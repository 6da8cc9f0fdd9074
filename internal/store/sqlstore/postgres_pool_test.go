package sqlstore

import (
	"context"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

func TestPoolSizeFromTheURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url, want string
		size      int
		err       string
	}{
		{url: "postgres://u@h/db", want: "postgres://u@h/db", size: defaultPoolSize},
		{url: "postgres://u@h/db?pool_max_conns=40&sslmode=disable", want: "postgres://u@h/db?sslmode=disable", size: 40},
		{url: "postgres://u:pw@h/db?pool_max_conns=1", err: "from 2 to 1000"},
		{url: "postgres://u@h/db?pool_max_conns=many", err: "from 2 to 1000"},
	} {
		got, size, err := poolSize(c.url)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "pw") {
				t.Errorf("%s: %v, want an error saying %q without the password", c.url, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want || size != c.size {
			t.Errorf("%s: %q %d %v, want %q %d", c.url, got, size, err, c.want, c.size)
		}
	}
}

func TestPostgresPoolSize(t *testing.T) {
	t.Parallel()
	db, err := Open(context.Background(), storetest.PostgresURL(t)+"&pool_max_conns=7")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.w.Stats().MaxOpenConnections; got != 7 {
		t.Errorf("pool of %d connections, want 7", got)
	}
}

// pgx prepares each statement once per connection and runs it by name afterwards (its default
// statement cache): the store's queries are parsed and planned once per connection.
func TestPostgresPreparesStatements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const q = `SELECT count(*) FROM nodes WHERE seen_at >= $1`
	for range 3 {
		var n int
		if err := conn.QueryRowContext(ctx, q, 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	var prepared int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE statement = $1`, q).Scan(&prepared); err != nil {
		t.Fatal(err)
	}
	if prepared != 1 {
		t.Errorf("the query is prepared %d times on its connection, want once", prepared)
	}
}
