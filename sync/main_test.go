package contactsync_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/gymflow/contacts-go/internal/pgtest"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

// TestMain turns the test binary into a fake server process when the
// environment asks for one (TestLongPeakMemory100k, bench_test.go), and
// otherwise runs the tests with internal/pgtest's PostgreSQL server for
// those that ask for one. It is the package's only TestMain: add other
// helpers here.
func TestMain(m *testing.M) {
	if os.Getenv(fakeHelperEnv) != "" { // bench_test.go's fake server process
		if err := runFakeHelper(); err != nil {
			fmt.Fprintln(os.Stderr, "fake helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(pgtest.Run(m))
}

// sqliteStore is a location's store in a SQLite file, with its DB.
type sqliteStore struct {
	*sqlstore.Store
	db *sqlstore.DB
}

// Close closes the store's DB.
func (s sqliteStore) Close() error { return s.db.Close() }

// openSQLite opens location's store in the SQLite file at path, closed
// with the test.
func openSQLite(t testing.TB, path, location string) sqliteStore {
	t.Helper()
	db, err := sqlstore.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	s, err := db.Location(location)
	if err != nil {
		t.Fatal(err)
	}
	return sqliteStore{Store: s, db: db}
}
