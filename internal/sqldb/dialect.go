package sqldb

import (
	"context"
	"strconv"
)

// Dialect is the SQL dialect of a store's database. The SDK's SQL stores
// (oauth.SQLStore, webhook.SQLDedup) export it under their own names,
// oauth.Dialect and webhook.Dialect, as type aliases, so one value serves
// them all.
type Dialect int

// The dialects the SQL stores speak.
const (
	// SQLite 3.24 or later, e.g. through modernc.org/sqlite or
	// github.com/mattn/go-sqlite3.
	SQLite Dialect = iota + 1
	// Postgres is PostgreSQL 9.5 or later, e.g. through
	// github.com/jackc/pgx/v5/stdlib or github.com/lib/pq.
	Postgres
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "SQLite"
	case Postgres:
		return "Postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// Valid reports whether d is one of the dialects above.
func (d Dialect) Valid() bool { return d == SQLite || d == Postgres }

// IsSQLite reports whether d is SQLite.
func (d Dialect) IsSQLite() bool { return d == SQLite }

// Rebind writes query, whose placeholders are ?, in d's placeholders:
// $1, $2, … (Numbered) for Postgres, unchanged for SQLite. The queries it
// is given have no ? in literals.
func (d Dialect) Rebind(query string) string {
	if d == Postgres {
		return Numbered(query)
	}
	return query
}

// Retryable reports whether err refused a statement that can run again
// as it is: SQLite's SQLITE_BUSY or SQLITE_LOCKED (IsBusy), or
// PostgreSQL's serialization failure or deadlock (IsSerializationFailure).
// Either way the statement took no effect.
func (d Dialect) Retryable(err error) bool {
	switch d {
	case SQLite:
		return IsBusy(err)
	case Postgres:
		return IsSerializationFailure(err)
	}
	return false
}

// Retry runs f, again while d.Retryable reports its error, until ctx ends
// or RetryFor passes, waiting a little longer each time (1 ms, doubling,
// up to 100 ms).
func (d Dialect) Retry(ctx context.Context, f func() error) error {
	return retry(ctx, d.Retryable, f)
}
