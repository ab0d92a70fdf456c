package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/gymflow/contacts-go/internal/sqldb"
)

// OpenSQLite opens the SQLite database file at path (a file path, not a
// URI), creating it if it does not exist with mode 0600 (it holds member
// data), and returns a DB in it with its schema migrated. The database is
// opened in WAL mode, so readers never wait for the writer, with a
// five-second busy timeout, immediate transactions and synchronous=FULL,
// so that a recorded intent survives a power loss as well as a crash.
// Close the DB to close the database.
//
// Several processes on one machine may share the file. Do not put it on a
// network file system: SQLite's WAL mode needs the processes sharing it to
// be on one machine. For several machines, use PostgreSQL.
func OpenSQLite(path string, opts ...Option) (*DB, error) {
	if path == "" || path == ":memory:" {
		return nil, errors.New("contactsync: OpenSQLite needs a file path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("contactsync: opening %s: %w", path, err)
	}
	if err := sqldb.PrivateSQLiteFile(abs); err != nil {
		return nil, fmt.Errorf("contactsync: opening %s: %w", path, err)
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/dir/sync.db
	}
	// A file: URI, which SQLite percent-decodes: url escapes any ?, # or %
	// in the path.
	u := url.URL{Scheme: "file", OmitHost: true, Path: p}
	dsn := u.String() + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("contactsync: opening %s: %w", path, err)
	}
	s, err := New(db, SQLite, opts...)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("contactsync: opening %s: %w", path, err)
	}
	return s, nil
}
