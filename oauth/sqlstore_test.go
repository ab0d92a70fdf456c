package oauth_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/gymflow/contacts-go/oauth"
	"github.com/gymflow/contacts-go/oauth/storetest"
)

// openSQLiteDB opens the SQLite file database at path the way SQLStore's
// documentation asks: made private by PrepareSQLiteFile, in WAL mode, with a
// busy timeout.
func openSQLiteDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	if err := oauth.PrepareSQLiteFile(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openSQLiteStore returns a migrated store in the SQLite database at path.
func openSQLiteStore(t *testing.T, path string, opts ...oauth.SQLOption) *oauth.SQLStore {
	t.Helper()
	s, err := oauth.NewSQLStore(openSQLiteDB(t, path), oauth.SQLite, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) oauth.TokenStore {
		return openSQLiteStore(t, filepath.Join(t.TempDir(), "tokens.db"))
	})
}

// TestSQLStoreSharedDatabase runs the suite on two stores with their own
// connection pools on one database, as two processes would have.
func TestSQLStoreSharedDatabase(t *testing.T) {
	storetest.Run(t, func(t *testing.T) oauth.TokenStore {
		path := filepath.Join(t.TempDir(), "tokens.db")
		return &alternatingStore{stores: []oauth.TokenStore{openSQLiteStore(t, path), openSQLiteStore(t, path)}}
	})
}

func TestSQLStoreMultiProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.db")
	runStoreProcesses(t, "sqlite", path, 4, 10, openSQLiteStore(t, path))
}

func TestSQLStoreTablePrefix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.db")
	a := openSQLiteStore(t, path, oauth.WithTablePrefix("a_"))
	b := openSQLiteStore(t, path, oauth.WithTablePrefix("b_"))
	key := oauth.LocationKey("app", "loc")
	if _, err := a.Save(t.Context(), key, oauth.Token{AccessToken: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(t.Context(), key); !errors.Is(err, oauth.ErrNoToken) {
		t.Fatalf("Load through another prefix = %v, want ErrNoToken", err)
	}
	unlock, err := a.Lock(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	unlockB, err := b.Lock(t.Context(), key, time.Minute) // other tables, other lock
	if err != nil {
		t.Fatal(err)
	}
	unlockB()

	var n int
	db := openSQLiteDB(t, path)
	if err := db.QueryRow(`SELECT count(*) FROM a_tokens`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("a_tokens has %d rows (%v), want 1", n, err)
	}
	for _, bad := range []string{"", "1abc", "a-b", "a b", "x; DROP TABLE y; --", "s.t_", strings.Repeat("a", 49)} {
		if _, err := oauth.NewSQLStore(db, oauth.SQLite, oauth.WithTablePrefix(bad)); err == nil {
			t.Errorf("table prefix %q accepted", bad)
		}
	}
}

func TestSQLStoreTables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.db")
	s := openSQLiteStore(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	key := oauth.CompanyKey("app-1", "co-1")
	saved, err := s.Save(t.Context(), key, oauth.Token{AccessToken: "access", RefreshToken: "refresh"})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	db := openSQLiteDB(t, path)
	var (
		token                       string
		version, updated, expiresAt int64
		holder                      string
	)
	err = db.QueryRow(`SELECT token, version, updated_at FROM contacts_oauth_tokens WHERE app_id = ? AND subject = ?`,
		"app-1", "company:co-1").Scan(&token, &version, &updated)
	if err != nil {
		t.Fatal(err)
	}
	if version != 1 || updated != saved.UpdatedAt.UnixMilli() || !strings.Contains(token, `"refresh_token":"refresh"`) {
		t.Fatalf("row: version %d, updated_at %d (want %d), token %s", version, updated, saved.UpdatedAt.UnixMilli(), token)
	}
	err = db.QueryRow(`SELECT holder, expires_at FROM contacts_oauth_locks WHERE app_id = ? AND subject = ?`,
		"app-1", "company:co-1").Scan(&holder, &expiresAt)
	if err != nil {
		t.Fatal(err)
	}
	if holder == "" || expiresAt < time.Now().Add(50*time.Second).UnixMilli() {
		t.Fatalf("lock row: holder %q, expires_at %d", holder, expiresAt)
	}
	unlock()
	if err := db.QueryRow(`SELECT holder FROM contacts_oauth_locks`).Scan(&holder); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("unlock left its row: %v", err)
	}

	// A lease row a crashed process left expired is taken over.
	if _, err := db.Exec(`INSERT INTO contacts_oauth_locks VALUES (?, ?, ?, ?)`,
		"app-1", "company:co-1", "crashed", time.Now().Add(-time.Second).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	unlock, err = s.Lock(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	unlock()

	// A corrupt row is an error that does not quote the row.
	if _, err := db.Exec(`UPDATE contacts_oauth_tokens SET token = ?`, `{"refresh_token":"SECRET`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context(), key); err == nil || errors.Is(err, oauth.ErrNoToken) || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("Load of a corrupt row = %v", err)
	}
}

func TestSQLStoreUnmigrated(t *testing.T) {
	s, err := oauth.NewSQLStore(openSQLiteDB(t, filepath.Join(t.TempDir(), "tokens.db")), oauth.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	key := oauth.LocationKey("app", "loc")
	if _, err := s.Load(t.Context(), key); err == nil || errors.Is(err, oauth.ErrNoToken) {
		t.Fatalf("Load without tables = %v, want an error", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.Lock(ctx, key, time.Minute); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock without tables = %v, want the database's error at once", err)
	}
}

func TestNewSQLStoreErrors(t *testing.T) {
	db := openSQLiteDB(t, filepath.Join(t.TempDir(), "tokens.db"))
	if _, err := oauth.NewSQLStore(nil, oauth.SQLite); err == nil {
		t.Error("nil database accepted")
	}
	if _, err := oauth.NewSQLStore(db, oauth.Dialect(0)); err == nil {
		t.Error("zero dialect accepted")
	}
	if _, err := oauth.NewSQLStore(db, oauth.Dialect(9)); err == nil {
		t.Error("unknown dialect accepted")
	}
	if _, err := oauth.NewSQLStore(db, oauth.Postgres); err != nil {
		t.Errorf("Postgres: %v", err)
	}
	if oauth.SQLite.String() != "SQLite" || oauth.Postgres.String() != "Postgres" || oauth.Dialect(9).String() != "Dialect(9)" {
		t.Error("Dialect.String")
	}
}

func TestSQLStorePostgresSchema(t *testing.T) {
	s, err := oauth.NewSQLStore(openSQLiteDB(t, filepath.Join(t.TempDir(), "tokens.db")), oauth.Postgres, oauth.WithTablePrefix("gym_"))
	if err != nil {
		t.Fatal(err)
	}
	schema := s.Schema()
	if len(schema) != 2 || !strings.Contains(schema[0], "CREATE TABLE IF NOT EXISTS gym_tokens (") ||
		!strings.Contains(schema[1], "CREATE TABLE IF NOT EXISTS gym_locks (") {
		t.Fatalf("schema: %q", schema)
	}
}

// TestPrepareSQLiteFile: a SQLite token database opened as SQLStore's
// documentation says is private, like a FileStore's file: the database and
// the WAL and shared-memory files SQLite makes beside it have mode 0600
// (SQLite alone makes them 0644 under the usual umask), its new directory
// 0700, and an existing database that others can read is restricted.
func TestPrepareSQLiteFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes do not apply on Windows")
	}
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "tokens.db")
	s := openSQLiteStore(t, path) // PrepareSQLiteFile, then sql.Open
	if _, err := s.Save(t.Context(), oauth.LocationKey("app", "loc"), oauth.Token{AccessToken: "a", RefreshToken: "r"}); err != nil {
		t.Fatal(err)
	}
	files := []string{path, path + "-wal", path + "-shm"}
	for _, f := range files {
		wantMode(t, f, 0o600)
	}
	wantMode(t, dir, 0o700)

	// A database others can read is restricted, with its companions.
	for _, f := range files {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := oauth.PrepareSQLiteFile(path); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		wantMode(t, f, 0o600)
	}
	if tok, err := s.Load(t.Context(), oauth.LocationKey("app", "loc")); err != nil || tok.RefreshToken != "r" {
		t.Fatalf("Load after PrepareSQLiteFile on an open database = %v, %v", tok, err)
	}

	for _, bad := range []string{"", ":memory:", "file:" + path, dir} {
		if err := oauth.PrepareSQLiteFile(bad); err == nil {
			t.Errorf("PrepareSQLiteFile(%q) succeeded", bad)
		}
	}
}
