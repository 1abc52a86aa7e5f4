package main

import (
	"context"
	"fmt"
	"strings"

	"jifen/points"
	"jifen/sqlite"
)

// defaultDB is the embedded database used when --db is not given.
const defaultDB = "./jifen.db"

// ledgerStore is a store the commands can run the service and verify on.
type ledgerStore interface {
	points.Store
	points.Auditor
}

// openStore opens the database named by dsn: a postgres:// URL or a
// SQLite file path.
func openStore(ctx context.Context, dsn string) (ledgerStore, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return nil, fmt.Errorf("PostgreSQL is not supported by this build yet: %s", redact(dsn))
	}
	return sqlite.Open(ctx, dsn)
}

// redact hides a password in a DSN for messages.
func redact(dsn string) string {
	at := strings.Index(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 {
		return dsn
	}
	creds := dsn[scheme+3 : at]
	if user, _, ok := strings.Cut(creds, ":"); ok {
		return dsn[:scheme+3] + user + ":***" + dsn[at:]
	}
	return dsn
}
