package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gymflow/contacts-go/internal/pgtest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/sqlstore"
	"github.com/gymflow/contacts-go/sync/statetest"
)

// TestMain runs the package's tests, with the PostgreSQL server of
// pgtest, or, when the environment asks for one, a helper process of
// TestPostgresMultiProcessKill or TestSQLiteMultiProcessKill
// (multiprocess_test.go), which uses the parent's database and never
// starts a server.
func TestMain(m *testing.M) {
	if code, ok := runHelper(); ok {
		os.Exit(code)
	}
	os.Exit(pgtest.Run(m))
}

// openSQLite opens a fresh SQLite DB closed at the end of the test.
func openSQLite(t testing.TB) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openPostgres returns a DB in a fresh PostgreSQL database of its own.
func openPostgres(t testing.TB, opts ...sqlstore.Option) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.New(pgtest.DB(t), sqlstore.Postgres, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// locations hands out the stores of one DB, a new location each time, so
// that the suites' subtests share the DB's tables and so also check that
// locations are isolated.
type locations struct {
	db *sqlstore.DB
	n  atomic.Int64
}

func (l *locations) next(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := l.db.Location(fmt.Sprintf("loc%d", l.n.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runAll runs every conformance suite on the stores of newStore.
func runAll(t *testing.T, newStore func(t *testing.T) *sqlstore.Store) {
	t.Run("State", func(t *testing.T) {
		statetest.Run(t, func(t *testing.T) contactsync.StateStore { return newStore(t) })
	})
	t.Run("Activity", func(t *testing.T) {
		statetest.RunActivity(t, func(t *testing.T) contactsync.ActivityStore { return newStore(t) })
	})
	t.Run("Inbound", func(t *testing.T) {
		statetest.RunInbound(t, func(t *testing.T) contactsync.InboundStore { return newStore(t) })
	})
	t.Run("Lease", func(t *testing.T) {
		statetest.RunLease(t, func(t *testing.T) statetest.LeaseStateStore { return newStore(t) })
	})
	t.Run("Budget", func(t *testing.T) {
		statetest.RunBudget(t, func(t *testing.T) contactsync.BudgetStore { return newStore(t) })
	})
	t.Run("Insights", func(t *testing.T) {
		statetest.RunInsights(t, func(t *testing.T) statetest.InsightsStore { return newStore(t) })
	})
}

// TestSQLiteSuites runs the suites on SQLite, a fresh file per subtest.
func TestSQLiteSuites(t *testing.T) {
	t.Parallel()
	runAll(t, func(t *testing.T) *sqlstore.Store {
		s, err := openSQLite(t).Location("loc1")
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestSQLiteSuitesSharedDB runs the suites on one SQLite file, a location
// per subtest.
func TestSQLiteSuitesSharedDB(t *testing.T) {
	t.Parallel()
	locs := &locations{db: openSQLite(t)}
	runAll(t, locs.next)
}

// TestPostgresSuites runs the suites on PostgreSQL, one database, a
// location per subtest.
func TestPostgresSuites(t *testing.T) {
	t.Parallel()
	locs := &locations{db: openPostgres(t)}
	runAll(t, locs.next)
}

// TestPostgresSuitesPrefixed runs the state suite on tables of another
// prefix beside the default ones.
func TestPostgresSuitesPrefixed(t *testing.T) {
	t.Parallel()
	raw := pgtest.DB(t)
	for _, prefix := range []string{sqlstore.DefaultTablePrefix, "gym_sync_"} {
		db, err := sqlstore.New(raw, sqlstore.Postgres, sqlstore.WithTablePrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		locs := &locations{db: db}
		t.Run(prefix, func(t *testing.T) {
			statetest.Run(t, func(t *testing.T) contactsync.StateStore { return locs.next(t) })
		})
	}
}

// TestOpenSQLiteIsPrivate: the database and the files beside it hold
// member data and are created 0600.
func TestOpenSQLiteIsPrivate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "sync.db")
	db, err := sqlstore.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, _ := db.Location("loc1")
	if err := s.PutLink(t.Context(), contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// TestOldSchemaIsRefused: a file of contactsync.SQLiteStore (schema
// version 2, one location per file) is refused with a clear error and left
// as it was.
func TestOldSchemaIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE TABLE contactsync_meta (name TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)`,
		`INSERT INTO contactsync_meta VALUES ('schema_version', '2')`,
		`CREATE TABLE contactsync_links (id INTEGER PRIMARY KEY, kind TEXT, local_id TEXT)`,
		`INSERT INTO contactsync_links (kind, local_id) VALUES ('member', 'm1')`,
	} {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	_, err = sqlstore.OpenSQLite(path)
	var bad *sqlstore.SchemaVersionError
	if !errors.As(err, &bad) || !strings.Contains(err.Error(), "SQLiteStore") {
		t.Fatalf("OpenSQLite on an old file: %v, want a SchemaVersionError naming SQLiteStore", err)
	}
	raw, _ = sql.Open("sqlite", "file:"+path)
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM contactsync_links`).Scan(&n); err != nil || n != 1 {
		t.Errorf("the old file was changed: %d links, %v", n, err)
	}
}

// TestSchemaForOwnMigrations: the statements of Schema, run by an
// application's own migration tool, give a schema Migrate accepts.
func TestSchemaForOwnMigrations(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"SQLite", "Postgres"} {
		t.Run(dialect, func(t *testing.T) {
			var (
				raw *sql.DB
				d   sqlstore.Dialect
			)
			if dialect == "SQLite" {
				var err error
				raw, err = sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "own.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
				d = sqlstore.SQLite
			} else {
				raw, d = pgtest.DB(t), sqlstore.Postgres
			}
			db, err := sqlstore.New(raw, d, sqlstore.WithTablePrefix("own_"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, stmt := range db.Schema() {
				if _, err := raw.Exec(stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
			locs := &locations{db: db}
			statetest.Run(t, func(t *testing.T) contactsync.StateStore { return locs.next(t) })
		})
	}
}

// TestCloseStopsWrites: a write after Close fails; reads of an open
// database are unaffected by another DB's Close.
func TestCloseStopsWrites(t *testing.T) {
	t.Parallel()
	db := openSQLite(t)
	s, _ := db.Location("loc1")
	if err := s.PutIntent(t.Context(), contactsync.Intent{Key: "k", Kind: contactsync.KindMember, LocalID: "m"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIntent(t.Context(), contactsync.Intent{Key: "k2", Kind: contactsync.KindMember, LocalID: "m"}); err == nil {
		t.Error("a write after Close succeeded")
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestOptions refuses bad options.
func TestOptions(t *testing.T) {
	t.Parallel()
	raw, _ := sql.Open("sqlite", "file::memory:")
	defer raw.Close()
	for _, bad := range []sqlstore.Option{
		sqlstore.WithTablePrefix(""), sqlstore.WithTablePrefix("a-b"), sqlstore.WithTablePrefix("1a"),
		sqlstore.WithTablePrefix("x; DROP TABLE y"), sqlstore.WithWriters(0),
	} {
		if _, err := sqlstore.New(raw, sqlstore.SQLite, bad); err == nil {
			t.Error("New accepted a bad option")
		}
	}
	if _, err := sqlstore.New(raw, sqlstore.Dialect(9)); err == nil {
		t.Error("New accepted an unknown dialect")
	}
	if _, err := sqlstore.New(nil, sqlstore.SQLite); err == nil {
		t.Error("New accepted a nil database")
	}
	db, _ := sqlstore.New(raw, sqlstore.SQLite)
	if _, err := db.Location(""); err == nil {
		t.Error("Location accepted an empty ID")
	}
}
