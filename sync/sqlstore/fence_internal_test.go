package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/internal/pgtest"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// TestSQLiteAndPostgresFenceHeldToCommit checks that a fenced write's
// check of the lease and the write are atomic with respect to another
// process: while the transaction of a fenced write whose check has passed
// is open, another handle (a connection pool of its own, as another
// process has) cannot acquire the expired lease; it does once the write
// has committed, with a greater token, and later fenced writes of the old
// token fail. (Were the lease's row not locked by the check, the
// acquisition would commit while the write is pending, and the write then
// land after it.)
//
// It waits 300 ms to see that the acquisition does not complete: a
// correct store never completes it early, so the wait can only make a
// broken store pass, never a correct one fail.
func TestSQLiteAndPostgresFenceHeldToCommit(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"SQLite", "Postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			var open func() *DB
			if dialect == "SQLite" {
				path := filepath.Join(t.TempDir(), "sync.db")
				open = func() *DB {
					db, err := OpenSQLite(path)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					return db
				}
			} else {
				u := pgtest.URL(t)
				open = func() *DB {
					db, err := New(pgtest.Open(t, u), Postgres)
					if err != nil {
						t.Fatal(err)
					}
					if err := db.Migrate(t.Context()); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					return db
				}
			}
			testFenceHeldToCommit(t, open(), open())
		})
	}
}

func testFenceHeldToCommit(t *testing.T, db1, db2 *DB) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s1, _ := db1.Location("loc1")
	s2, _ := db2.Location("loc1")
	old, err := s1.AcquireLease(ctx, contactsync.LeaseEngine, "a", 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // expired: anyone may take it

	inTx, release := make(chan struct{}), make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		wrote <- db1.writeOp(ctx, &op{ctx: ctx, loc: "loc1", fence: &old, done: make(chan error, 1), run: func(ctx context.Context, tx *sql.Tx) error {
			close(inTx) // the fence check passed
			<-release
			_, err := db1.exec(ctx, tx, db1.q.putIntent, "loc1", "k-old", "member", "m1", "create", nil, nil)
			return err
		}})
	}()
	<-inTx

	type result struct {
		l   contactsync.Lease
		err error
	}
	acquired := make(chan result, 1)
	go func() {
		l, err := s2.AcquireLease(ctx, contactsync.LeaseEngine, "b", time.Minute)
		acquired <- result{l, err}
	}()
	var r result
	early := false
	select {
	case r = <-acquired:
		early = true
		t.Errorf("another handle acquired the lease (%+v, %v) while a fenced write of the old token was pending", r.l, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-wrote; err != nil {
		t.Fatalf("the fenced write whose check passed: %v", err)
	}
	if !early {
		r = <-acquired
	}
	if r.err != nil || r.l.Token <= old.Token {
		t.Fatalf("AcquireLease after the fenced write = %+v, %v; want a token greater than %d", r.l, r.err, old.Token)
	}
	if _, err := s2.Intent(ctx, "k-old"); err != nil {
		t.Errorf("the fenced write that passed its check: %v", err)
	}
	if err := s1.Fenced(old).PutIntent(ctx, contactsync.Intent{Key: "k-late", Op: "create"}); !errors.Is(err, contactsync.ErrLeaseLost) {
		t.Errorf("a fenced write of the old token after the acquisition: %v, want ErrLeaseLost", err)
	}
	if err := s2.Fenced(r.l).PutIntent(ctx, contactsync.Intent{Key: "k-new", Op: "create"}); err != nil {
		t.Errorf("a fenced write of the new token: %v", err)
	}
}
