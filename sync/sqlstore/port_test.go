package sqlstore_test

// Tests ported from the single-location contactsync.SQLiteStore's
// (sync/sqlitestore_test.go before package sqlstore), run on SQLite and on
// PostgreSQL, and the isolation of locations in one database.
//
// Not ported, as they no longer apply: TestSQLiteStoreUpgradeFromV1 (sqlstore
// refuses the old single-location schemas instead of upgrading them:
// TestOldSchemaIsRefused, TestSQLiteSchemaVersions), TestNewSQLiteStore and
// TestNewSQLiteStoreActivityAndInbound (NewSQLiteStore is gone; New on a
// caller's database is covered by TestSchemaForOwnMigrations), the memory
// store's halves of the shared tests (memstore has its own tests), the
// conformance runs (store_test.go's suites) and TestSQLiteStoreSharedFile
// (TestSQLiteSuitesSharedDB and the two-handle tests below).
// TestSQLiteStoreMultiProcess became TestPostgresMultiProcessKill and
// TestSQLiteMultiProcessKill (multiprocess_test.go); the benchmarks are in
// bench_test.go, the pragmas in pragma_internal_test.go.

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/internal/pgtest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

// target is one database, SQLite or PostgreSQL, that tests open several
// handles on, as several processes would.
type target struct {
	dialect sqlstore.Dialect
	// open returns a new DB handle, with a connection pool of its own, on
	// the database, closed at the end of the test.
	open func(t testing.TB) *sqlstore.DB
	// raw is a pool of connections to the database, for what the stores do
	// not do (reading the schema version, preloading).
	raw *sql.DB
	// path is the SQLite file ("" for PostgreSQL).
	path string
}

// sqliteTarget is a fresh SQLite file.
func sqliteTarget(t testing.TB) *target {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sync.db")
	tg := &target{dialect: sqlstore.SQLite, path: path}
	tg.open = func(t testing.TB) *sqlstore.DB {
		t.Helper()
		db, err := sqlstore.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	tg.open(t).Close() // create the file and its schema
	tg.raw = openRawSQLite(t, path)
	return tg
}

// postgresTarget is a fresh PostgreSQL database.
func postgresTarget(t testing.TB) *target {
	t.Helper()
	u := pgtest.URL(t)
	tg := &target{dialect: sqlstore.Postgres, raw: pgtest.Open(t, u)}
	tg.open = func(t testing.TB) *sqlstore.DB {
		t.Helper()
		db, err := sqlstore.New(pgtest.Open(t, u), sqlstore.Postgres)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	tg.open(t).Close() // create the schema
	return tg
}

// sqliteURI is the file: URI of path with the settings OpenSQLite uses.
func sqliteURI(path string) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path)}
	return u.String() + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
}

// openRawSQLite opens the SQLite file at path without a store, closed
// with the test.
func openRawSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", sqliteURI(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rebind writes query's ? placeholders as $1, $2, … for PostgreSQL.
func (tg *target) rebind(query string) string { return tg.dialect.Rebind(query) }

// loc returns location id's store of db.
func loc(t testing.TB, db *sqlstore.DB, id string) *sqlstore.Store {
	t.Helper()
	s, err := db.Location(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bothDialects runs f on a fresh SQLite file and, as subtest
// "Postgres", on a fresh PostgreSQL database. Tests calling it carry
// Postgres in their names.
func bothDialects(t *testing.T, f func(t *testing.T, tg *target)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		f(t, sqliteTarget(t))
	})
	t.Run("Postgres", func(t *testing.T) {
		t.Parallel()
		f(t, postgresTarget(t))
	})
}

// TestSQLiteAndPostgresReopen closes a DB and finds everything it wrote
// again through a new handle (for PostgreSQL, a new connection pool):
// links, intents, idempotency keys, runs, the read model, the inbound
// state, leases and the budget.
func TestSQLiteAndPostgresReopen(t *testing.T) {
	t.Parallel()
	bothDialects(t, func(t *testing.T, tg *target) {
		ctx := t.Context()
		db := tg.open(t)
		s := loc(t, db, "loc1")
		at := time.UnixMilli(1_770_000_000_123).UTC()
		link := contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1", RemoteID: "c1", Hash: "h",
			State: []byte(`{"a":1}`), Tags: []string{"vip"}, Archived: true, UpdatedAt: at}
		task := contactsync.Link{Kind: contactsync.KindTask, LocalID: "t1", RemoteID: "r1", MemberID: "m1", ContactID: "c1"}
		in := contactsync.Intent{Key: "create/note/n1", Kind: contactsync.KindNote, LocalID: "n1", Op: "create", Data: []byte("x"), CreatedAt: at}
		run := contactsync.RunRecord{ID: "run1", Started: at, Finished: at.Add(time.Second), Report: []byte("{}"), Err: "boom"}
		act := contactsync.Activity{Kind: contactsync.KindAppointment, RemoteID: "a1", ContactID: "c1", MemberID: "m1",
			Title: "PT session", Body: "bring shoes", At: at, End: at.Add(time.Hour), Status: "confirmed", UpdatedAt: at}
		for _, err := range []error{
			s.PutLink(ctx, link),
			s.PutIntent(ctx, contactsync.Intent{Key: "create/task/t1", Op: "create", CreatedAt: at}),
			s.Commit(ctx, task, "create/task/t1"),
			s.PutIntent(ctx, in),
			s.AppendRun(ctx, run),
			s.PutActivity(ctx, act),
			s.SetCursor(ctx, "contacts.dateUpdated", "2026-02-02T00:00:00Z"),
			s.PutSeen(ctx, contactsync.Seen{Kind: contactsync.KindMember, RemoteID: "c1", At: at, Hash: "h", State: []byte("{}")}),
			s.MarkDirty(ctx, "c1", at),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.MarkDone(ctx, "lead/1"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"w1", "w2"} {
			if _, err := s.PutInbox(ctx, contactsync.InboxEntry{ID: id, Received: at, Timestamp: at, Body: []byte(id)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DoneInbox(ctx, "w1"); err != nil {
			t.Fatal(err)
		}
		lease, err := s.AcquireLease(ctx, contactsync.LeaseEngine, "runner-a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if granted, _, err := s.SpendBudget(ctx, "2026-02-02", 7, 10); err != nil || granted != 7 {
			t.Fatalf("SpendBudget = %d, %v", granted, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m2"}); err == nil {
			t.Error("PutLink after Close succeeded")
		}
		if tg.dialect == sqlstore.SQLite { // OpenSQLite's DB closes its database
			if _, err := s.Link(ctx, contactsync.KindMember, "m1"); err == nil {
				t.Error("Link after Close succeeded")
			}
			if _, err := s.Activities(ctx, contactsync.ActivityQuery{}); err == nil {
				t.Error("Activities after Close succeeded")
			}
		}

		s = loc(t, tg.open(t), "loc1")
		got, err := s.Link(ctx, contactsync.KindMember, "m1")
		if err != nil || got.RemoteID != "c1" || string(got.State) != `{"a":1}` || len(got.Tags) != 1 || !got.Archived || !got.UpdatedAt.Equal(at) {
			t.Errorf("member link after reopening = %+v, %v", got, err)
		}
		if got, err := s.LinkByRemote(ctx, contactsync.KindTask, "r1"); err != nil || got.LocalID != "t1" {
			t.Errorf("task link after reopening = %+v, %v", got, err)
		}
		if got, err := s.MemberLinks(ctx, contactsync.KindTask, "m1"); err != nil || len(got) != 1 {
			t.Errorf("member's tasks after reopening = %d, %v", len(got), err)
		}
		ins, err := s.Intents(ctx)
		if err != nil || len(ins) != 1 || ins[0].Key != in.Key || string(ins[0].Data) != "x" || !ins[0].CreatedAt.Equal(at) {
			t.Errorf("intents after reopening = %+v, %v", ins, err)
		}
		if done, err := s.Done(ctx, "lead/1"); err != nil || !done {
			t.Errorf("Done after reopening = %t, %v", done, err)
		}
		if first, err := s.MarkDone(ctx, "lead/1"); err != nil || first {
			t.Errorf("MarkDone after reopening = %t, %v", first, err)
		}
		runs, err := s.Runs(ctx, 0)
		if err != nil || len(runs) != 1 || runs[0].ID != "run1" || !runs[0].Finished.Equal(run.Finished) || runs[0].Err != "boom" {
			t.Errorf("runs after reopening = %+v, %v", runs, err)
		}
		links, intents, err := s.Stats(ctx)
		if err != nil || links[contactsync.KindMember] != 1 || links[contactsync.KindTask] != 1 || len(links) != 2 || intents != 1 {
			t.Errorf("Stats after reopening = %v, %d, %v", links, intents, err)
		}

		if got, err := s.Activity(ctx, contactsync.KindAppointment, "a1"); err != nil || got != act {
			t.Errorf("activity after reopening = %+v, %v; want %+v", got, err, act)
		}
		if got, err := s.Activities(ctx, contactsync.ActivityQuery{MemberID: "m1", From: at}); err != nil || len(got) != 1 {
			t.Errorf("member's activities after reopening = %d, %v", len(got), err)
		}
		if c, err := s.Cursor(ctx, "contacts.dateUpdated"); err != nil || c != "2026-02-02T00:00:00Z" {
			t.Errorf("cursor after reopening = %q, %v", c, err)
		}
		if seen, err := s.Seen(ctx, contactsync.KindMember, "c1"); err != nil || seen.Hash != "h" || !seen.At.Equal(at) || string(seen.State) != "{}" {
			t.Errorf("Seen after reopening = %+v, %v", seen, err)
		}
		if ids, err := s.Dirty(ctx, at, 0); err != nil || len(ids) != 1 || ids[0] != "c1" {
			t.Errorf("Dirty after reopening = %q, %v", ids, err)
		}
		es, err := s.PendingInbox(ctx, 0)
		if err != nil || len(es) != 1 || es[0].ID != "w2" || string(es[0].Body) != "w2" || !es[0].Received.Equal(at) {
			t.Errorf("pending inbox after reopening = %+v, %v", es, err)
		}
		for id, wantFirst := range map[string]bool{"w1": false, "w2": false, "w3": true} {
			if first, err := s.PutInbox(ctx, contactsync.InboxEntry{ID: id, Received: at}); err != nil || first != wantFirst {
				t.Errorf("PutInbox(%s) after reopening = %t, %v; want %t", id, first, err, wantFirst)
			}
		}

		wantHeldBy(t, s, "runner-b", "runner-a")
		if again, err := s.AcquireLease(ctx, contactsync.LeaseEngine, "runner-a", time.Minute); err != nil || again.Token != lease.Token {
			t.Errorf("the holder's AcquireLease after reopening = %+v, %v; want token %d", again, err, lease.Token)
		}
		if err := s.Fenced(lease).PutIntent(ctx, contactsync.Intent{Key: "k", Op: "create"}); err != nil {
			t.Errorf("a fenced write with the lease from before reopening: %v", err)
		}
		if granted, used, err := s.SpendBudget(ctx, "2026-02-02", 7, 10); err != nil || granted != 3 || used != 10 {
			t.Errorf("SpendBudget after reopening = %d, %d, %v; want 3, 10", granted, used, err)
		}
	})
}

// wantHeldBy checks that owner cannot take s's engine lease from holder.
func wantHeldBy(t *testing.T, s *sqlstore.Store, owner, holder string) {
	t.Helper()
	_, err := s.AcquireLease(t.Context(), contactsync.LeaseEngine, owner, time.Minute)
	var held *contactsync.LeaseHeldError
	if !errors.As(err, &held) || held.Owner != holder {
		t.Errorf("AcquireLease by %s: %v, want it held by %s", owner, err, holder)
	}
}

// TestSQLiteAndPostgresTwoHandles has two DB handles, with connection
// pools of their own, on one database, as two processes would: each sees
// the other's writes at once, and when both mark the same keys done and
// store the same inbox IDs at once, each key and ID is first for exactly
// one of them.
func TestSQLiteAndPostgresTwoHandles(t *testing.T) {
	t.Parallel()
	bothDialects(t, func(t *testing.T, tg *target) {
		const keys = 100
		ctx := t.Context()
		stores := []*sqlstore.Store{loc(t, tg.open(t), "loc1"), loc(t, tg.open(t), "loc1")}

		// Each sees the other's writes as soon as they return.
		for i := range 10 {
			w, r := stores[i%2], stores[(i+1)%2]
			id := "x" + strconv.Itoa(i)
			if err := w.PutIntent(ctx, contactsync.Intent{Key: "create/member/" + id, Op: "create"}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Intent(ctx, "create/member/"+id); err != nil {
				t.Errorf("the other handle's intent: %v", err)
			}
			if err := w.Commit(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: "c" + id}, "create/member/"+id); err != nil {
				t.Fatal(err)
			}
			if l, err := r.Link(ctx, contactsync.KindMember, id); err != nil || l.RemoteID != "c"+id {
				t.Errorf("the other handle's link = %+v, %v", l, err)
			}
			if _, err := r.Intent(ctx, "create/member/"+id); !errors.Is(err, contactsync.ErrNotFound) {
				t.Errorf("the intent the other handle committed: %v, want ErrNotFound", err)
			}
		}

		var doneFirsts, inboxFirsts [keys]atomic.Int32
		var wg sync.WaitGroup
		for g := range 4 { // two goroutines per handle
			s := stores[g%2]
			wg.Go(func() {
				for j := range keys {
					i := (j + g*keys/4) % keys // each starts elsewhere, and they meet
					key := "lead/" + strconv.Itoa(i)
					first, err := s.MarkDone(ctx, key)
					if err != nil {
						t.Errorf("MarkDone(%s): %v", key, err)
						return
					}
					if first {
						doneFirsts[i].Add(1)
					}
					first, err = s.PutInbox(ctx, contactsync.InboxEntry{ID: "w" + strconv.Itoa(i), Body: []byte("x")})
					if err != nil {
						t.Errorf("PutInbox: %v", err)
						return
					}
					if first {
						inboxFirsts[i].Add(1)
					}
					id := fmt.Sprintf("g%d-%d", g, i)
					if err := s.Commit(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: "c" + id}, ""); err != nil {
						t.Errorf("Commit(%s): %v", id, err)
						return
					}
				}
			})
		}
		wg.Wait()
		for i := range keys {
			if n := doneFirsts[i].Load(); n != 1 {
				t.Errorf("lead/%d was first %d times, want once", i, n)
			}
			if n := inboxFirsts[i].Load(); n != 1 {
				t.Errorf("w%d was first %d times, want once", i, n)
			}
		}
		for h, s := range stores {
			links, intents, err := s.Stats(ctx)
			if err != nil || links[contactsync.KindMember] != 4*keys+10 || intents != 0 {
				t.Errorf("handle %d: Stats = %v, %d, %v; want %d member links", h, links, intents, err, 4*keys+10)
			}
			es, err := s.PendingInbox(ctx, 0)
			if err != nil || len(es) != keys {
				t.Errorf("handle %d: %d pending entries, %v; want %d", h, len(es), err, keys)
			}
			for i := range keys {
				if done, err := s.Done(ctx, "lead/"+strconv.Itoa(i)); err != nil || !done {
					t.Fatalf("handle %d: Done(lead/%d) = %t, %v", h, i, done, err)
				}
			}
		}
	})
}

// TestSQLiteAndPostgresRefuseBadKeys checks what the store refuses: links
// and activities it cannot key, intents without a key, the empty
// idempotency key, inbox entries without an ID, cursors without a name,
// Seen without a kind or remote ID, marks without a contact, leases
// without a name, owner or time to live, and budgets without a day. A
// refused Commit, fenced or not, leaves its intent alone.
func TestSQLiteAndPostgresRefuseBadKeys(t *testing.T) {
	t.Parallel()
	bothDialects(t, func(t *testing.T, tg *target) {
		ctx := t.Context()
		s := loc(t, tg.open(t), "loc1")
		for _, l := range []contactsync.Link{{Kind: contactsync.KindMember}, {LocalID: "m1"}} {
			if err := s.PutLink(ctx, l); err == nil {
				t.Errorf("PutLink(%+v) succeeded", l)
			}
		}
		if err := s.PutIntent(ctx, contactsync.Intent{Key: "k", Op: "create"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, contactsync.Link{Kind: contactsync.KindMember}, "k"); err == nil {
			t.Error("Commit of a link without a local ID succeeded")
		}
		lease, err := s.AcquireLease(ctx, contactsync.LeaseEngine, "a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		fenced := s.Fenced(lease)
		if err := fenced.Commit(ctx, contactsync.Link{LocalID: "m1"}, "k"); err == nil {
			t.Error("fenced Commit of a link without a kind succeeded")
		}
		if err := fenced.PutIntent(ctx, contactsync.Intent{Op: "create"}); err == nil {
			t.Error("fenced PutIntent without a key succeeded")
		}
		if _, err := s.Intent(ctx, "k"); err != nil {
			t.Errorf("a refused Commit removed its intent: %v", err)
		}
		if err := s.PutIntent(ctx, contactsync.Intent{Op: "create"}); err == nil {
			t.Error("PutIntent without a key succeeded")
		}
		if _, err := s.MarkDone(ctx, ""); err == nil {
			t.Error(`MarkDone("") succeeded`)
		}
		for _, a := range []contactsync.Activity{{Kind: contactsync.KindTask}, {RemoteID: "r1"}} {
			if err := s.PutActivity(ctx, a); err == nil {
				t.Errorf("PutActivity(%+v) succeeded", a)
			}
		}
		if _, err := s.PutInbox(ctx, contactsync.InboxEntry{Body: []byte("x")}); err == nil {
			t.Error("PutInbox without an ID succeeded")
		}
		if err := s.SetCursor(ctx, "", "v"); err == nil {
			t.Error("SetCursor without a name succeeded")
		}
		for _, seen := range []contactsync.Seen{{Kind: contactsync.KindMember}, {RemoteID: "c1"}} {
			if err := s.PutSeen(ctx, seen); err == nil {
				t.Errorf("PutSeen(%+v) succeeded", seen)
			}
		}
		if err := s.MarkDirty(ctx, "", time.Now()); err == nil {
			t.Error("MarkDirty without a contact succeeded")
		}
		for _, bad := range []struct {
			name, owner string
			ttl         time.Duration
		}{{"", "a", time.Minute}, {"engine", "", time.Minute}, {"engine", "b", 0}, {"engine", "b", time.Microsecond}} {
			if _, err := s.AcquireLease(ctx, bad.name, bad.owner, bad.ttl); err == nil {
				t.Errorf("AcquireLease(%q, %q, %v) succeeded", bad.name, bad.owner, bad.ttl)
			}
		}
		if _, err := s.RenewLease(ctx, lease, 0); err == nil {
			t.Error("RenewLease with no time to live succeeded")
		}
		if _, _, err := s.SpendBudget(ctx, "", 1, 10); err == nil {
			t.Error("SpendBudget without a day succeeded")
		}
		// Nothing of the refused writes landed.
		links, intents, err := s.Stats(ctx)
		if err != nil || len(links) != 0 || intents != 1 {
			t.Errorf("Stats after the refused writes = %v, %d, %v; want no links and 1 intent", links, intents, err)
		}
		if acts, err := s.Activities(ctx, contactsync.ActivityQuery{}); err != nil || len(acts) != 0 {
			t.Errorf("activities after the refused writes = %+v, %v", acts, err)
		}
		if es, err := s.PendingInbox(ctx, 0); err != nil || len(es) != 0 {
			t.Errorf("inbox after the refused writes = %+v, %v", es, err)
		}
	})
}

// TestOpenSQLitePaths: OpenSQLite refuses what is not a file path, takes
// characters that mean something in a URI as part of the name, and
// resolves a relative path against the working directory (the test
// changes it, so it does not run in parallel).
func TestOpenSQLitePaths(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", ":memory:", t.TempDir(), filepath.Join(notDir, "sync.db")} {
		if db, err := sqlstore.OpenSQLite(bad); err == nil {
			db.Close()
			t.Errorf("OpenSQLite(%q) succeeded", bad)
		}
	}
	// A missing directory is created (0700).
	deep := filepath.Join(t.TempDir(), "no", "such", "dir", "sync.db")
	db, err := sqlstore.OpenSQLite(deep)
	if err != nil {
		t.Fatalf("OpenSQLite in a missing directory: %v", err)
	}
	db.Close()
	if fi, err := os.Stat(filepath.Dir(deep)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the created directory: %v, %v; want mode 0700", fi, err)
	}

	// Characters that mean something in a URI are part of the name.
	dir := filepath.Join(t.TempDir(), "a b#c?d%20e&f")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sync.db")
	db, err = sqlstore.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := loc(t, db, "loc1").PutLink(t.Context(), contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not where it was asked for: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("files beside the odd directory: %v", entries)
	}

	// A relative path is relative to the working directory, even one that
	// looks like a URI.
	t.Chdir(dir)
	for _, rel := range []string{"sync.db", "./sync.db", "file:sync.db"} {
		db, err := sqlstore.OpenSQLite(rel)
		if err != nil {
			t.Fatalf("OpenSQLite(%q): %v", rel, err)
		}
		_, err = loc(t, db, "loc1").Link(t.Context(), contactsync.KindMember, "m1")
		if rel == "file:sync.db" {
			if !errors.Is(err, contactsync.ErrNotFound) {
				t.Errorf("OpenSQLite(%q) read another file: %v", rel, err)
			}
			if _, serr := os.Stat(filepath.Join(dir, "file:sync.db")); serr != nil {
				t.Errorf("OpenSQLite(%q) did not make a file of that name: %v", rel, serr)
			}
		} else if err != nil {
			t.Errorf("the database through %q: %v", rel, err)
		}
		db.Close()
	}
}

// TestSQLiteSchemaVersions: OpenSQLite refuses a file whose schema
// version is newer, older or unreadable with a SchemaVersionError naming
// it, and leaves the file as it was.
func TestSQLiteSchemaVersions(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"99", "5", "0", "1", "2", "x", "", "4.0", " 4"} {
		path := filepath.Join(t.TempDir(), "sync.db")
		db, err := sqlstore.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		raw := openRawSQLite(t, path)
		if _, err := raw.Exec(`UPDATE contactsync_meta SET value = ? WHERE name = 'schema_version'`, v); err != nil {
			t.Fatal(err)
		}
		checkRefused(t, v, func() error {
			db, err := sqlstore.OpenSQLite(path)
			if err == nil {
				db.Close()
			}
			return err
		})
		var still string
		if err := raw.QueryRow(`SELECT value FROM contactsync_meta WHERE name = 'schema_version'`).Scan(&still); err != nil || still != v {
			t.Errorf("schema version %q after the refusal: %q, %v", v, still, err)
		}
	}
}

// TestPostgresSchemaVersions: Migrate refuses a database whose schema
// version is newer, older or unreadable, from every handle.
func TestPostgresSchemaVersions(t *testing.T) {
	t.Parallel()
	tg := postgresTarget(t)
	tg.open(t)
	for _, v := range []string{"99", "5", "0", "2", "x", ""} {
		if _, err := tg.raw.Exec(`UPDATE contactsync_meta SET value = $1 WHERE name = 'schema_version'`, v); err != nil {
			t.Fatal(err)
		}
		db, err := sqlstore.New(tg.raw, sqlstore.Postgres)
		if err != nil {
			t.Fatal(err)
		}
		checkRefused(t, v, func() error { return db.Migrate(t.Context()) })
		db.Close()
	}
	if _, err := tg.raw.Exec(`UPDATE contactsync_meta SET value = '4' WHERE name = 'schema_version'`); err != nil {
		t.Fatal(err)
	}
	tg.open(t) // the right version again: accepted
}

// TestSchemaUpgradeFrom3: Migrate brings a version 3 schema (before
// activities.completed_at) to version 4 in place, keeping its rows.
func TestSchemaUpgradeFrom3(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, raw *sql.DB, d sqlstore.Dialect, q func(string) string) {
		db, err := sqlstore.New(raw, d)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		s, _ := db.Location("loc")
		old := contactsync.Activity{Kind: contactsync.KindNote, RemoteID: "n1", ContactID: "c1", Body: "kept", At: time.UnixMilli(1_700_000_000_000).UTC()}
		if err := s.PutActivity(t.Context(), old); err != nil {
			t.Fatal(err)
		}
		// Back to version 3: no completed_at, no index of the insights.
		for _, stmt := range []string{`DROP INDEX contactsync_activities_insights`, `ALTER TABLE contactsync_activities DROP COLUMN completed_at`, `UPDATE contactsync_meta SET value = '3' WHERE name = 'schema_version'`} {
			if _, err := raw.Exec(q(stmt)); err != nil {
				t.Fatal(err)
			}
		}
		db2, err := sqlstore.New(raw, d)
		if err != nil {
			t.Fatal(err)
		}
		if err := db2.Migrate(t.Context()); err != nil {
			t.Fatalf("upgrading from version 3: %v", err)
		}
		var v string
		if err := raw.QueryRow(q(`SELECT value FROM contactsync_meta WHERE name = 'schema_version'`)).Scan(&v); err != nil || v != "4" {
			t.Fatalf("schema version %q, %v; want 4", v, err)
		}
		s2, _ := db2.Location("loc")
		if got, err := s2.Activity(t.Context(), contactsync.KindNote, "n1"); err != nil || got.Body != "kept" {
			t.Errorf("the old row: %+v, %v", got, err)
		}
		done := contactsync.Activity{Kind: contactsync.KindTask, RemoteID: "t1", ContactID: "c1", Completed: true,
			At: time.UnixMilli(1_700_000_000_000).UTC(), CompletedAt: time.UnixMilli(1_700_000_360_000).UTC()}
		if err := s2.PutActivity(t.Context(), done); err != nil {
			t.Fatal(err)
		}
		if got, err := s2.Activity(t.Context(), contactsync.KindTask, "t1"); err != nil || !got.CompletedAt.Equal(done.CompletedAt) {
			t.Errorf("completed_at after the upgrade: %+v, %v", got, err)
		}
		if _, err := raw.Exec(q(`DROP INDEX contactsync_activities_insights`)); err != nil {
			t.Errorf("the upgrade did not create the insights' index: %v", err)
		}
	}
	t.Run("SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sync.db")
		check(t, openRawSQLite(t, path), sqlstore.SQLite, func(s string) string { return s })
	})
	t.Run("Postgres", func(t *testing.T) {
		tg := postgresTarget(t)
		check(t, tg.raw, sqlstore.Postgres, func(s string) string { return s })
	})
}

// checkRefused checks open's error for a database of schema version v.
func checkRefused(t *testing.T, v string, open func() error) {
	t.Helper()
	err := open()
	var bad *sqlstore.SchemaVersionError
	switch {
	case !errors.As(err, &bad):
		t.Errorf("schema version %q: %v, want a SchemaVersionError", v, err)
	case bad.Found != v:
		t.Errorf("schema version %q: Found = %q", v, bad.Found)
	case !strings.Contains(err.Error(), "schema version"):
		t.Errorf("schema version %q: %v", v, err)
	case (v == "1" || v == "2") && !strings.Contains(err.Error(), "SQLiteStore"):
		t.Errorf("schema version %q: %v; want it named SQLiteStore's", v, err)
	case (v == "99" || v == "5") && !strings.Contains(err.Error(), "knows 4"):
		t.Errorf("schema version %q: %v; want the version this package knows", v, err)
	}
}

// TestSQLiteAndPostgresStats: Stats counts a location's links by kind and
// its intents, and nothing of other locations.
func TestSQLiteAndPostgresStats(t *testing.T) {
	t.Parallel()
	bothDialects(t, func(t *testing.T, tg *target) {
		ctx := t.Context()
		db := tg.open(t)
		a, b := loc(t, db, "locA"), loc(t, db, "locB")
		check := func(s *sqlstore.Store, wantLinks map[contactsync.Kind]int, wantIntents int) {
			t.Helper()
			links, intents, err := s.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if links == nil || len(links) != len(wantLinks) || intents != wantIntents {
				t.Errorf("%s: Stats = %v, %d; want %v, %d", s.LocationID(), links, intents, wantLinks, wantIntents)
				return
			}
			for k, n := range wantLinks {
				if links[k] != n {
					t.Errorf("%s: Stats = %v; want %v", s.LocationID(), links, wantLinks)
				}
			}
		}
		check(a, map[contactsync.Kind]int{}, 0)
		for i := range 5 {
			id := strconv.Itoa(i)
			if err := a.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m" + id}); err != nil {
				t.Fatal(err)
			}
			if err := a.PutIntent(ctx, contactsync.Intent{Key: "create/task/t" + id, Op: "create"}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 3 {
			id := strconv.Itoa(i)
			if err := a.Commit(ctx, contactsync.Link{Kind: contactsync.KindTask, LocalID: "t" + id, MemberID: "m" + id}, "create/task/t"+id); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.PutLink(ctx, contactsync.Link{Kind: contactsync.KindNote, LocalID: "n1"}); err != nil {
			t.Fatal(err)
		}
		if err := b.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1"}); err != nil {
			t.Fatal(err)
		}
		check(a, map[contactsync.Kind]int{contactsync.KindMember: 5, contactsync.KindTask: 3, contactsync.KindNote: 1}, 2)
		check(b, map[contactsync.Kind]int{contactsync.KindMember: 1}, 0)
		if err := a.DeleteLink(ctx, contactsync.KindNote, "n1"); err != nil {
			t.Fatal(err)
		}
		if err := a.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m0", Archived: true}); err != nil {
			t.Fatal(err) // replaced, not added
		}
		check(a, map[contactsync.Kind]int{contactsync.KindMember: 5, contactsync.KindTask: 3}, 2)
		check(loc(t, tg.open(t), "locA"), map[contactsync.Kind]int{contactsync.KindMember: 5, contactsync.KindTask: 3}, 2)
	})
}

// TestSQLiteAndPostgresLocationsIsolated writes every table of the schema
// (links, intents, done, runs, activities, inbox, cursors, seen, dirty,
// leases, budget) in location A and checks that location B of the same
// database sees none of it, that B's writes of the same keys are its own
// (first again, a token of its own, a budget of its own), and that B's
// deletes, purges and releases leave A's records alone.
func TestSQLiteAndPostgresLocationsIsolated(t *testing.T) {
	t.Parallel()
	bothDialects(t, func(t *testing.T, tg *target) {
		ctx := t.Context()
		db := tg.open(t)
		a, b := loc(t, db, "locA"), loc(t, db, "locB")
		at := time.UnixMilli(1_770_000_000_000).UTC()
		day := "2026-02-02"
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		link := contactsync.Link{Kind: contactsync.KindTask, LocalID: "t1", RemoteID: "r1", MemberID: "m1", ContactID: "c1"}
		act := contactsync.Activity{Kind: contactsync.KindTask, RemoteID: "r1", ContactID: "c1", MemberID: "m1", At: at}

		// A writes one of everything.
		must(a.PutLink(ctx, link))
		must(a.PutIntent(ctx, contactsync.Intent{Key: "k1", Op: "create", CreatedAt: at}))
		if first, err := a.MarkDone(ctx, "lead/1"); err != nil || !first {
			t.Fatalf("A: MarkDone = %t, %v", first, err)
		}
		must(a.AppendRun(ctx, contactsync.RunRecord{ID: "run1", Started: at}))
		must(a.PutActivity(ctx, act))
		if first, err := a.PutInbox(ctx, contactsync.InboxEntry{ID: "w1", Received: at, Timestamp: at}); err != nil || !first {
			t.Fatalf("A: PutInbox = %t, %v", first, err)
		}
		if first, err := a.PutInbox(ctx, contactsync.InboxEntry{ID: "w2", Received: at, Timestamp: at}); err != nil || !first {
			t.Fatalf("A: PutInbox = %t, %v", first, err)
		}
		must(a.DoneInbox(ctx, "w2"))
		must(a.SetCursor(ctx, "cur", "a"))
		must(a.PutSeen(ctx, contactsync.Seen{Kind: contactsync.KindMember, RemoteID: "c1", Hash: "ha"}))
		must(a.MarkDirty(ctx, "c1", at))
		leaseA, err := a.AcquireLease(ctx, contactsync.LeaseEngine, "runner-a", time.Minute)
		must(err)
		if granted, _, err := a.SpendBudget(ctx, day, 10, 10); err != nil || granted != 10 {
			t.Fatalf("A: SpendBudget = %d, %v", granted, err)
		}

		// B sees none of it.
		if _, err := b.Link(ctx, link.Kind, link.LocalID); !errors.Is(err, contactsync.ErrNotFound) {
			t.Errorf("B: Link = %v, want ErrNotFound", err)
		}
		if _, err := b.LinkByRemote(ctx, link.Kind, link.RemoteID); !errors.Is(err, contactsync.ErrNotFound) {
			t.Errorf("B: LinkByRemote = %v, want ErrNotFound", err)
		}
		if ls, err := b.Links(ctx, link.Kind, "", 0); err != nil || len(ls) != 0 {
			t.Errorf("B: Links = %v, %v", ls, err)
		}
		if ls, err := b.MemberLinks(ctx, link.Kind, "m1"); err != nil || len(ls) != 0 {
			t.Errorf("B: MemberLinks = %v, %v", ls, err)
		}
		if _, err := b.Intent(ctx, "k1"); !errors.Is(err, contactsync.ErrNotFound) {
			t.Errorf("B: Intent = %v, want ErrNotFound", err)
		}
		if ins, err := b.Intents(ctx); err != nil || len(ins) != 0 {
			t.Errorf("B: Intents = %v, %v", ins, err)
		}
		if done, err := b.Done(ctx, "lead/1"); err != nil || done {
			t.Errorf("B: Done = %t, %v", done, err)
		}
		if runs, err := b.Runs(ctx, 0); err != nil || len(runs) != 0 {
			t.Errorf("B: Runs = %v, %v", runs, err)
		}
		if _, err := b.Activity(ctx, act.Kind, act.RemoteID); !errors.Is(err, contactsync.ErrNotFound) {
			t.Errorf("B: Activity = %v, want ErrNotFound", err)
		}
		for _, q := range []contactsync.ActivityQuery{{}, {ContactID: "c1"}, {MemberID: "m1"}, {Kinds: []contactsync.Kind{contactsync.KindTask}}} {
			if acts, err := b.Activities(ctx, q); err != nil || len(acts) != 0 {
				t.Errorf("B: Activities(%+v) = %v, %v", q, acts, err)
			}
		}
		if es, err := b.PendingInbox(ctx, 0); err != nil || len(es) != 0 {
			t.Errorf("B: PendingInbox = %v, %v", es, err)
		}
		if c, err := b.Cursor(ctx, "cur"); err != nil || c != "" {
			t.Errorf("B: Cursor = %q, %v", c, err)
		}
		if _, err := b.Seen(ctx, contactsync.KindMember, "c1"); !errors.Is(err, contactsync.ErrNotFound) {
			t.Errorf("B: Seen = %v, want ErrNotFound", err)
		}
		if ids, err := b.Dirty(ctx, at.Add(time.Hour), 0); err != nil || len(ids) != 0 {
			t.Errorf("B: Dirty = %v, %v", ids, err)
		}
		if links, intents, err := b.Stats(ctx); err != nil || len(links) != 0 || intents != 0 {
			t.Errorf("B: Stats = %v, %d, %v", links, intents, err)
		}

		// B's writes of the same keys are its own.
		if first, err := b.MarkDone(ctx, "lead/1"); err != nil || !first {
			t.Errorf("B: MarkDone of A's key = %t, %v; want first", first, err)
		}
		for _, id := range []string{"w1", "w2"} {
			if first, err := b.PutInbox(ctx, contactsync.InboxEntry{ID: id, Received: at}); err != nil || !first {
				t.Errorf("B: PutInbox(%s) of A's ID = %t, %v; want first", id, first, err)
			}
		}
		leaseB, err := b.AcquireLease(ctx, contactsync.LeaseEngine, "runner-b", time.Minute)
		if err != nil {
			t.Fatalf("B: AcquireLease while A's is held: %v", err)
		}
		if granted, used, err := b.SpendBudget(ctx, day, 4, 10); err != nil || granted != 4 || used != 4 {
			t.Errorf("B: SpendBudget = %d, %d, %v; want 4, 4", granted, used, err)
		}
		// A fenced write of B's lease does not depend on A's lease, and
		// the other way round.
		must(b.Fenced(leaseB).PutIntent(ctx, contactsync.Intent{Key: "kb", Op: "create"}))
		must(a.Fenced(leaseA).PutIntent(ctx, contactsync.Intent{Key: "ka", Op: "create"}))
		must(b.PutLink(ctx, contactsync.Link{Kind: link.Kind, LocalID: link.LocalID, RemoteID: "rb", MemberID: "m1"}))
		must(b.PutIntent(ctx, contactsync.Intent{Key: "k1", Op: "update"}))
		must(b.AppendRun(ctx, contactsync.RunRecord{ID: "run1", Started: at.Add(time.Hour)}))
		must(b.PutActivity(ctx, contactsync.Activity{Kind: act.Kind, RemoteID: act.RemoteID, ContactID: "c1", Title: "b", At: at}))
		must(b.SetCursor(ctx, "cur", "b"))
		must(b.PutSeen(ctx, contactsync.Seen{Kind: contactsync.KindMember, RemoteID: "c1", Hash: "hb"}))
		must(b.MarkDirty(ctx, "c1", at.Add(-time.Hour)))

		// B's deletes, purges, clears and releases leave A alone.
		must(b.DeleteLink(ctx, link.Kind, link.LocalID))
		must(b.Commit(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "mb"}, "k1"))
		must(b.DeleteIntent(ctx, "ka"))
		must(b.DeleteActivity(ctx, act.Kind, act.RemoteID))
		must(b.DeleteContactActivities(ctx, "c1"))
		must(b.DoneInbox(ctx, "w1"))
		must(b.DoneInbox(ctx, "w2"))
		must(b.PurgeInbox(ctx, time.Now().Add(time.Hour)))
		must(b.SetCursor(ctx, "cur", ""))
		must(b.ClearDirty(ctx, "c1", at.Add(time.Hour)))
		must(b.ReleaseLease(ctx, leaseB))
		if granted, used, err := b.SpendBudget(ctx, day, -4, 10); err != nil || granted != -4 || used != 0 {
			t.Errorf("B: giving its budget back = %d, %d, %v", granted, used, err)
		}

		// A's records are as A wrote them.
		if l, err := a.Link(ctx, link.Kind, link.LocalID); err != nil || l.RemoteID != "r1" {
			t.Errorf("A: Link = %+v, %v", l, err)
		}
		if l, err := a.LinkByRemote(ctx, link.Kind, "r1"); err != nil || l.LocalID != "t1" {
			t.Errorf("A: LinkByRemote = %+v, %v", l, err)
		}
		if _, err := a.Link(ctx, contactsync.KindMember, "mb"); !errors.Is(err, contactsync.ErrNotFound) {
			t.Errorf("A: B's committed link: %v, want ErrNotFound", err)
		}
		if in, err := a.Intent(ctx, "k1"); err != nil || in.Op != "create" {
			t.Errorf("A: Intent(k1) = %+v, %v", in, err)
		}
		if ins, err := a.Intents(ctx); err != nil || len(ins) != 2 {
			t.Errorf("A: Intents = %+v, %v; want k1 and ka", ins, err)
		}
		if runs, err := a.Runs(ctx, 0); err != nil || len(runs) != 1 || !runs[0].Started.Equal(at) {
			t.Errorf("A: Runs = %+v, %v", runs, err)
		}
		if got, err := a.Activity(ctx, act.Kind, act.RemoteID); err != nil || got != act {
			t.Errorf("A: Activity = %+v, %v; want %+v", got, err, act)
		}
		if acts, err := a.Activities(ctx, contactsync.ActivityQuery{ContactID: "c1"}); err != nil || len(acts) != 1 {
			t.Errorf("A: Activities = %+v, %v", acts, err)
		}
		if es, err := a.PendingInbox(ctx, 0); err != nil || len(es) != 1 || es[0].ID != "w1" {
			t.Errorf("A: PendingInbox = %+v, %v; want w1", es, err)
		}
		if first, err := a.PutInbox(ctx, contactsync.InboxEntry{ID: "w2"}); err != nil || first {
			t.Errorf("A: PutInbox(w2) after B's purge = %t, %v; want it kept as processed", first, err)
		}
		if c, err := a.Cursor(ctx, "cur"); err != nil || c != "a" {
			t.Errorf("A: Cursor = %q, %v", c, err)
		}
		if s, err := a.Seen(ctx, contactsync.KindMember, "c1"); err != nil || s.Hash != "ha" {
			t.Errorf("A: Seen = %+v, %v", s, err)
		}
		if ids, err := a.Dirty(ctx, at, 0); err != nil || len(ids) != 1 {
			t.Errorf("A: Dirty = %v, %v", ids, err)
		}
		if ids, err := a.Dirty(ctx, at.Add(-time.Minute), 0); err != nil || len(ids) != 0 {
			t.Errorf("A: Dirty before its mark = %v, %v (B's earlier mark leaked)", ids, err)
		}
		wantHeldBy(t, a, "runner-c", "runner-a")
		if err := a.Fenced(leaseA).PutIntent(ctx, contactsync.Intent{Key: "ka2", Op: "create"}); err != nil {
			t.Errorf("A: a fenced write after B's lease changed hands: %v", err)
		}
		if granted, used, err := a.SpendBudget(ctx, day, 1, 10); err != nil || granted != 0 || used != 10 {
			t.Errorf("A: SpendBudget = %d, %d, %v; want 0, 10", granted, used, err)
		}
		if done, err := a.Done(ctx, "lead/1"); err != nil || !done {
			t.Errorf("A: Done = %t, %v", done, err)
		}
		if links, intents, err := a.Stats(ctx); err != nil || links[link.Kind] != 1 || len(links) != 1 || intents != 3 {
			t.Errorf("A: Stats = %v, %d, %v", links, intents, err)
		}
	})
}

// TestSQLiteAndPostgresFillReceived: an inbox entry stored without a
// Received time gets the time it was stored.
func TestSQLiteAndPostgresFillReceived(t *testing.T) {
	t.Parallel()
	bothDialects(t, func(t *testing.T, tg *target) {
		s := loc(t, tg.open(t), "loc1")
		before := time.Now().Truncate(time.Millisecond)
		if _, err := s.PutInbox(t.Context(), contactsync.InboxEntry{ID: "w1"}); err != nil {
			t.Fatal(err)
		}
		es, err := s.PendingInbox(t.Context(), 0)
		if err != nil || len(es) != 1 {
			t.Fatalf("PendingInbox = %d entries, %v", len(es), err)
		}
		if r := es[0].Received; r.Before(before) || r.After(time.Now()) {
			t.Errorf("Received = %v, want the time of PutInbox (after %v)", r, before)
		}
	})
}

// TestSQLiteAndPostgresOneStoreServesAll uses one location's store as the
// state, activity and inbound store at once: the read model, the inbound
// state and the links do not disturb each other.
func TestSQLiteAndPostgresOneStoreServesAll(t *testing.T) {
	t.Parallel()
	bothDialects(t, func(t *testing.T, tg *target) {
		ctx := t.Context()
		s := loc(t, tg.open(t), "loc1")
		link := contactsync.Link{Kind: contactsync.KindTask, LocalID: "t1", RemoteID: "r1", MemberID: "m1", ContactID: "c1"}
		act := contactsync.Activity{Kind: contactsync.KindTask, RemoteID: "r1", ContactID: "c1", MemberID: "m1", Title: "Call"}
		seen := contactsync.Seen{Kind: contactsync.KindTask, RemoteID: "r1", Hash: "h"}
		if err := errors.Join(s.PutLink(ctx, link), s.PutActivity(ctx, act), s.PutSeen(ctx, seen)); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteActivity(ctx, contactsync.KindTask, "r1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LinkByRemote(ctx, contactsync.KindTask, "r1"); err != nil {
			t.Errorf("the link after its activity was deleted: %v", err)
		}
		if _, err := s.Seen(ctx, contactsync.KindTask, "r1"); err != nil {
			t.Errorf("Seen after the activity was deleted: %v", err)
		}
		if err := s.DeleteLink(ctx, contactsync.KindTask, "t1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Seen(ctx, contactsync.KindTask, "r1"); err != nil {
			t.Errorf("Seen after the link was deleted: %v", err)
		}
	})
}
