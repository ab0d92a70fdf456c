package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/internal/pgtest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

// TestSQLiteAndPostgresOneConnectionPool: a DB on a pool of one
// connection (SetMaxOpenConns(1): what an in-memory SQLite database needs,
// and common advice for SQLite) writes. Today every write blocks until its
// context ends: the writer's transaction holds the pool's one connection
// and DB.exec prepares the statement on the pool (DB.stmt →
// sql.DB.PrepareContext), which waits for a second one.
func TestSQLiteAndPostgresOneConnectionPool(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"SQLite", "Postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			var raw *sql.DB
			d := sqlstore.SQLite
			if dialect == "SQLite" {
				var err error
				if raw, err = sql.Open("sqlite", "file::memory:"); err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
			} else {
				raw, d = pgtest.DB(t), sqlstore.Postgres
			}
			raw.SetMaxOpenConns(1)
			db, err := sqlstore.New(raw, d)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			s, _ := db.Location("loc1")
			l, err := s.AcquireLease(ctx, contactsync.LeaseEngine, "a", time.Minute)
			if err != nil {
				t.Fatalf("AcquireLease: %v", err)
			}
			f := s.Fenced(l)
			if err := f.PutIntent(ctx, contactsync.Intent{Key: "k", Op: "create"}); err != nil {
				t.Fatalf("PutIntent: %v", err)
			}
			if err := f.Commit(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1"}, "k"); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if first, err := s.MarkDone(ctx, "lead/1"); err != nil || !first {
				t.Fatalf("MarkDone = %t, %v", first, err)
			}
			if _, _, err := s.SpendBudget(ctx, "2026-02-02", 1, 10); err != nil {
				t.Fatalf("SpendBudget: %v", err)
			}
			links, intents, err := s.Stats(ctx)
			if err != nil || links[contactsync.KindMember] != 1 || intents != 0 {
				t.Fatalf("Stats = %v, %d, %v", links, intents, err)
			}
			if err := s.ReleaseLease(ctx, l); errors.Is(err, context.DeadlineExceeded) || err != nil {
				t.Fatalf("ReleaseLease: %v", err)
			}
		})
	}
}
