package oauth_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/internal/pgtest"
	"github.com/gymflow/contacts-go/oauth"
	"github.com/gymflow/contacts-go/oauth/storetest"
)

// The SQLStore on a real PostgreSQL server (internal/pgtest): each test
// has a database of its own. Without PostgreSQL these tests are skipped,
// unless CONTACTS_REQUIRE_POSTGRES=1.

// openPostgres opens a migrated store in the PostgreSQL database at url,
// with a pool of its own.
func openPostgres(url string, opts ...oauth.SQLOption) (*oauth.SQLStore, *sql.DB, error) {
	db, err := sql.Open(pgtest.Driver, url)
	if err != nil {
		return nil, nil, err
	}
	s, err := oauth.NewSQLStore(db, oauth.Postgres, opts...)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	if err := s.Migrate(context.Background()); err != nil {
		db.Close()
		return nil, nil, err
	}
	return s, db, nil
}

// openPostgresStore is openPostgres for a test, which closes the pool.
func openPostgresStore(t *testing.T, url string, opts ...oauth.SQLOption) *oauth.SQLStore {
	t.Helper()
	s, db, err := openPostgres(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return s
}

// isPostgresURL tells a helper process's PostgreSQL URL from a SQLite path.
func isPostgresURL(path string) bool {
	return strings.HasPrefix(path, "postgres://") || strings.HasPrefix(path, "postgresql://") || strings.Contains(path, "dbname=")
}

// TestSQLStorePostgres runs the suite on a store of its own for each
// subtest, with a pool of its own, all in one database: the suite's keys
// have random app IDs so that stores can share one, and creating a
// database for each subtest would cost more than the subtests themselves
// (a database for each test, pgtest's unit, is 0.1 to 0.5 s). Each store
// migrates the database anew, which must find the tables there.
func TestSQLStorePostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	storetest.Run(t, func(t *testing.T) oauth.TokenStore {
		return openPostgresStore(t, url)
	})
}

// TestSQLStoreSharedDatabasePostgres runs the suite on two stores with
// their own connection pools on one database, as two processes would
// have.
func TestSQLStoreSharedDatabasePostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	storetest.Run(t, func(t *testing.T) oauth.TokenStore {
		return &alternatingStore{stores: []oauth.TokenStore{openPostgresStore(t, url), openPostgresStore(t, url)}}
	})
}

// TestSQLStoreIsolationPostgres runs the suite, on two stores sharing a
// database, with sessions that default to the stricter isolation levels a
// deployment may impose: there PostgreSQL refuses a statement that meets a
// row another transaction changed since its snapshot (SQLSTATE 40001),
// which the store runs again.
func TestSQLStoreIsolationPostgres(t *testing.T) {
	t.Parallel()
	for name, level := range map[string]string{"RepeatableRead": "repeatable read", "Serializable": "serializable"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url := pgtest.URL(t)
			pgtest.SetDefault(t, url, "default_transaction_isolation", level)
			var got string
			if err := pgtest.Open(t, url).QueryRowContext(t.Context(), `SHOW transaction_isolation`).Scan(&got); err != nil || got != level {
				t.Fatalf("isolation %q (%v), want %q", got, err, level)
			}
			storetest.Run(t, func(t *testing.T) oauth.TokenStore {
				return &alternatingStore{stores: []oauth.TokenStore{openPostgresStore(t, url), openPostgresStore(t, url)}}
			})
		})
	}
}

func TestSQLStoreMultiProcessPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	runStoreProcesses(t, "postgres", url, 4, 10, openPostgresStore(t, url))
}

// TestSQLStoreMigrateConcurrentlyPostgres: stores starting at once on a
// database without their tables all migrate it (PostgreSQL's CREATE TABLE
// IF NOT EXISTS can fail when another session creates the table at the
// same moment). Each round has tables of its own, by their prefix.
func TestSQLStoreMigrateConcurrentlyPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	db := pgtest.Open(t, url)
	for round := range 3 {
		const n = 6
		stores := make([]*oauth.SQLStore, n)
		for i := range stores {
			// A pool of its own, as another process would have.
			s, err := oauth.NewSQLStore(pgtest.Open(t, url), oauth.Postgres, oauth.WithTablePrefix(fmt.Sprintf("round%d_", round)))
			if err != nil {
				t.Fatal(err)
			}
			stores[i] = s
		}
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
		)
		for i, s := range stores {
			wg.Go(func() {
				<-start
				if err := s.Migrate(t.Context()); err != nil {
					t.Errorf("round %d, store %d: Migrate: %v", round, i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if _, err := stores[0].Save(t.Context(), oauth.LocationKey("app", "loc"), oauth.Token{AccessToken: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	var tables int
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'round%'`).Scan(&tables); err != nil || tables != 6 {
		t.Errorf("%d tables (%v), want 6", tables, err)
	}
}

func TestSQLStoreTablePrefixPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a := openPostgresStore(t, url, oauth.WithTablePrefix("a_"))
	b := openPostgresStore(t, url, oauth.WithTablePrefix("b_"))
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
	db := pgtest.Open(t, url)
	for table, want := range map[string]int{"a_tokens": 1, "b_tokens": 0, "a_locks": 1, "b_locks": 0} {
		var n int
		if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != want {
			t.Errorf("%s has %d rows (%v), want %d", table, n, err, want)
		}
	}
}

// TestSQLStoreTablesPostgres checks the rows a store writes, that it takes
// over a lease a crashed process left, and that a corrupt row is an error
// that does not quote it.
func TestSQLStoreTablesPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := openPostgresStore(t, url)
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

	db := pgtest.Open(t, url)
	var columns []string
	rows, err := db.QueryContext(t.Context(), `SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns
		WHERE table_name IN ('contacts_oauth_tokens', 'contacts_oauth_locks') ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		columns = append(columns, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := "contacts_oauth_locks.app_id text, contacts_oauth_locks.subject text, contacts_oauth_locks.holder text, contacts_oauth_locks.expires_at bigint, " +
		"contacts_oauth_tokens.app_id text, contacts_oauth_tokens.subject text, contacts_oauth_tokens.token text, contacts_oauth_tokens.version bigint, contacts_oauth_tokens.updated_at bigint"
	if got := strings.Join(columns, ", "); got != want {
		t.Errorf("columns:\n%s\nwant\n%s", got, want)
	}

	var (
		token                       string
		version, updated, expiresAt int64
		holder                      string
	)
	err = db.QueryRowContext(t.Context(), `SELECT token, version, updated_at FROM contacts_oauth_tokens WHERE app_id = $1 AND subject = $2`,
		"app-1", "company:co-1").Scan(&token, &version, &updated)
	if err != nil {
		t.Fatal(err)
	}
	if version != 1 || updated != saved.UpdatedAt.UnixMilli() || !strings.Contains(token, `"refresh_token":"refresh"`) {
		t.Fatalf("row: version %d, updated_at %d (want %d), token %s", version, updated, saved.UpdatedAt.UnixMilli(), token)
	}
	err = db.QueryRowContext(t.Context(), `SELECT holder, expires_at FROM contacts_oauth_locks WHERE app_id = $1 AND subject = $2`,
		"app-1", "company:co-1").Scan(&holder, &expiresAt)
	if err != nil {
		t.Fatal(err)
	}
	if holder == "" || expiresAt < time.Now().Add(50*time.Second).UnixMilli() {
		t.Fatalf("lock row: holder %q, expires_at %d", holder, expiresAt)
	}
	unlock()
	if err := db.QueryRowContext(t.Context(), `SELECT holder FROM contacts_oauth_locks`).Scan(&holder); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("unlock left its row: %v", err)
	}

	// A lease row a crashed process left expired is taken over; a live
	// one is not.
	if _, err := db.ExecContext(t.Context(), `INSERT INTO contacts_oauth_locks VALUES ($1, $2, $3, $4)`,
		"app-1", "company:co-1", "crashed", time.Now().Add(-time.Second).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	unlock, err = s.Lock(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	if u, err := s.Lock(ctx, key, time.Minute); err == nil {
		u()
		t.Error("a second Lock took the live lease")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a second Lock of a live lease = %v, want the context's error", err)
	}
	cancel()
	unlock()

	// A corrupt row is an error that does not quote the row.
	if _, err := db.ExecContext(t.Context(), `UPDATE contacts_oauth_tokens SET token = $1`, `{"refresh_token":"SECRET`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context(), key); err == nil || errors.Is(err, oauth.ErrNoToken) || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("Load of a corrupt row = %v", err)
	}
}

func TestSQLStoreUnmigratedPostgres(t *testing.T) {
	t.Parallel()
	s, err := oauth.NewSQLStore(pgtest.DB(t), oauth.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	key := oauth.LocationKey("app", "loc")
	if _, err := s.Load(t.Context(), key); err == nil || errors.Is(err, oauth.ErrNoToken) {
		t.Fatalf("Load without tables = %v, want an error", err)
	}
	if _, err := s.Save(t.Context(), key, oauth.Token{AccessToken: "a"}); err == nil || errors.Is(err, oauth.ErrConflict) {
		t.Fatalf("Save without tables = %v, want the database's error", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.Lock(ctx, key, time.Minute); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock without tables = %v, want the database's error at once", err)
	}
}
