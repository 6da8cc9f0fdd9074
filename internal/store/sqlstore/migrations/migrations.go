// Package migrations holds the store's schema migrations, one goose directory per dialect
// (postgres/, sqlite/), for sqlstore to apply when it opens a store. It is a package of its own
// so that storetest can migrate a SQLite template without importing sqlstore, whose own tests
// import storetest.
package migrations

import (
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed postgres sqlite
var files embed.FS

// dialects are the goose dialects of the migration directories.
var dialects = map[string]goose.Dialect{"sqlite": goose.DialectSQLite3, "postgres": goose.DialectPostgres}

// Provider returns a goose provider for db over the named dialect's migrations ("sqlite" or
// "postgres").
func Provider(name string, db *sql.DB, opts ...goose.ProviderOption) (*goose.Provider, error) {
	d, ok := dialects[name]
	if !ok {
		return nil, fmt.Errorf("no migrations for %q", name)
	}
	sub, err := fs.Sub(files, name)
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(d, db, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("preparing migrations: %w", err)
	}
	return p, nil
}
