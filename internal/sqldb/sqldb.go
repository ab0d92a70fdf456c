// Package sqldb holds what the SDK's database/sql stores share: retrying
// statements SQLite refused because the database was busy, and writing
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
// runs f once.
func Retry(ctx context.Context, sqlite bool, f func() error) error {
	deadline := time.Now().Add(RetryFor)
	wait := time.Millisecond
	for {
		err := f()
		if err == nil || !sqlite || !IsBusy(err) || time.Now().After(deadline) {
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
