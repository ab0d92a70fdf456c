// Package sqldb holds what the SDK's database/sql stores share: their
// Dialect, retrying statements that SQLite refused because the database was
// busy or PostgreSQL because of a concurrent transaction, and writing
// queries for PostgreSQL's numbered placeholders.
package sqldb

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// RetryFor bounds how long a statement is retried while the database is
// busy.
const RetryFor = 30 * time.Second

// Retry runs f, again while IsBusy reports its error (which a busy timeout
// mostly prevents), until ctx ends or RetryFor passes. A statement refused
// as busy did not run, so running it again is safe. With sqlite false it
// runs f once. Dialect.Retry is the same for SQLite, and retries
// PostgreSQL's serialization failures.
func Retry(ctx context.Context, sqlite bool, f func() error) error {
	if !sqlite {
		return f()
	}
	return retry(ctx, IsBusy, f)
}

// retry runs f, again while again reports its error, until ctx ends or
// RetryFor passes.
func retry(ctx context.Context, again func(error) bool, f func() error) error {
	deadline := time.Now().Add(RetryFor)
	wait := time.Millisecond
	for {
		err := f()
		if err == nil || !again(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// IsBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED, as
// modernc.org/sqlite (an error with a Code method) or another driver (by
// its message) reports it.
func IsBusy(err error) bool {
	if err == nil {
		return false
	}
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		code := coded.Code() & 0xff // the primary result code
		return code == 5 || code == 6
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "database table is locked") ||
		strings.Contains(msg, "SQLITE_BUSY")
}

// IsSerializationFailure reports whether err is PostgreSQL's refusal of a
// transaction that could not be serialized with concurrent ones
// (serialization_failure, SQLSTATE 40001: under REPEATABLE READ or
// SERIALIZABLE, even a single statement that meets a row updated since
// its snapshot) or that a deadlock aborted (deadlock_detected, 40P01), as
// github.com/jackc/pgx (an error with a SQLState method) or another driver
// (by its message) reports it. The transaction was rolled back, so running
// it again is safe.
func IsSerializationFailure(err error) bool {
	if err == nil {
		return false
	}
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		code := coded.SQLState()
		return code == "40001" || code == "40P01"
	}
	msg := err.Error()
	return strings.Contains(msg, "could not serialize access") || strings.Contains(msg, "deadlock detected") ||
		strings.Contains(msg, "SQLSTATE 40001") || strings.Contains(msg, "SQLSTATE 40P01")
}

// Numbered turns each ? of query into $1, $2, … in order, for PostgreSQL.
// The queries it is given have no ? in literals.
func Numbered(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
	}
	return b.String()
}
