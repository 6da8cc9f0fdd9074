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
