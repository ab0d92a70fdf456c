package sqlstore

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"
	"time"
)

// TestSQLitePragmas checks the settings OpenSQLite promises on every
// connection of its pool, not only the first: WAL mode, synchronous=FULL
// (2) and a five-second busy timeout, and that its transactions are
// immediate (they take the write lock at BEGIN, so that a transaction
// never fails to upgrade a read lock).
func TestSQLitePragmas(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sync.db")
	db, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	// Hold several connections at once, so that the pool opens new ones.
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 4 {
		c, err := db.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var mode string
		var sync, busy int
		if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("connection %d: journal_mode = %q, %v; want wal", i, mode, err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
			t.Errorf("connection %d: synchronous = %d, %v; want 2 (FULL)", i, sync, err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != 5000 {
			t.Errorf("connection %d: busy_timeout = %d, %v; want 5000", i, busy, err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil

	// A transaction of the DB's pool that has run nothing yet holds the
	// write lock already: another connection cannot begin writing.
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path)}
	other, err := sql.Open("sqlite", u.String()+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, `BEGIN IMMEDIATE`); err == nil {
		other.ExecContext(ctx, `ROLLBACK`)
		t.Error("another connection began writing while a transaction of the DB was open: its transactions are not immediate")
	}
}
