package contactsync_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/statetest"
)

// Environment of a store helper process (see TestMain).
const (
	helperEnv      = "CONTACTSYNC_STORE_HELPER" // the helper's number
	helperPathEnv  = "CONTACTSYNC_STORE_HELPER_PATH"
	helperKeysEnv  = "CONTACTSYNC_STORE_HELPER_KEYS"
	helperStartEnv = "CONTACTSYNC_STORE_HELPER_START" // Unix ms to start at
)

// TestMain turns the test binary into a store helper process when the
// environment asks for one, so that TestSQLiteStoreMultiProcess can run
// several processes on one database file, or into a fake server process
// for TestLongPeakMemory100k (bench_test.go). It is the package's only
// TestMain: add other helpers here rather than another TestMain.
func TestMain(m *testing.M) {
	if os.Getenv(fakeHelperEnv) != "" { // bench_test.go's fake server process
		if err := runFakeHelper(); err != nil {
			fmt.Fprintln(os.Stderr, "fake helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if n := os.Getenv(helperEnv); n != "" {
		if err := runStoreHelper(n); err != nil {
			fmt.Fprintln(os.Stderr, "store helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runStoreHelper marks the keys lead/0 … lead/<keys-1> done and stores a
// member link p<n>-<i> for each, then prints how many of the keys it marked
// first.
func runStoreHelper(n string) error {
	keys, err := strconv.Atoi(os.Getenv(helperKeysEnv))
	if err != nil {
		return err
	}
	start, err := strconv.ParseInt(os.Getenv(helperStartEnv), 10, 64)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	time.Sleep(time.Until(time.UnixMilli(start))) // start with the others
	s, err := contactsync.OpenSQLite(os.Getenv(helperPathEnv))
	if err != nil {
		return err
	}
	defer s.Close()
	firsts := 0
	for i := range keys {
		first, err := s.MarkDone(ctx, "lead/"+strconv.Itoa(i))
		if err != nil {
			return fmt.Errorf("MarkDone: %w", err)
		}
		if first {
			firsts++
		}
		id := "p" + n + "-" + strconv.Itoa(i)
		l := contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: "c-" + id, Hash: n, UpdatedAt: time.Now()}
		if err := s.PutLink(ctx, l); err != nil {
			return fmt.Errorf("PutLink: %w", err)
		}
	}
	fmt.Printf("firsts=%d\n", firsts)
	return s.Close()
}

// openSQLite opens the store in the file at path, closed with the test.
func openSQLite(t testing.TB, path string) *contactsync.SQLiteStore {
	t.Helper()
	s, err := contactsync.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openRawDB opens the database file at path without a store, closed with
// the test.
func openRawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMemoryStoreConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) contactsync.StateStore { return contactsync.NewMemoryStore() })
}

func TestSQLiteStoreConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) contactsync.StateStore {
		return openSQLite(t, filepath.Join(t.TempDir(), "sync.db"))
	})
}

// TestSQLiteStoreSharedFile runs the suite on two stores with their own
// connection pools on one file, taking turns, as two processes would.
func TestSQLiteStoreSharedFile(t *testing.T) {
	statetest.Run(t, func(t *testing.T) contactsync.StateStore {
		path := filepath.Join(t.TempDir(), "sync.db")
		return &alternating{stores: []contactsync.StateStore{openSQLite(t, path), openSQLite(t, path)}}
	})
}

// TestNewSQLiteStore uses a database the caller opened, in memory with
// one connection, and checks that closing the store leaves it open.
func TestNewSQLiteStore(t *testing.T) {
	if _, err := contactsync.NewSQLiteStore(nil); err == nil {
		t.Error("NewSQLiteStore(nil) succeeded")
	}
	newStore := func(t *testing.T) *contactsync.SQLiteStore {
		db, err := sql.Open("sqlite", ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		s, err := contactsync.NewSQLiteStore(db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := db.Ping(); err != nil {
				t.Errorf("the caller's database after Close: %v", err)
			}
		})
		return s
	}
	statetest.Run(t, func(t *testing.T) contactsync.StateStore { return newStore(t) })

	// Stats makes two queries, which must not need two connections.
	s := newStore(t)
	if err := s.PutIntent(t.Context(), contactsync.Intent{Key: "k", Op: "create"}); err != nil {
		t.Fatal(err)
	}
	links, intents, err := s.Stats(t.Context())
	if err != nil || len(links) != 0 || intents != 1 {
		t.Errorf("Stats = %v, %d, %v; want no links and 1 intent", links, intents, err)
	}
}

// TestStoresRefuseBadKeys checks what both stores refuse: links without a
// kind or local ID, intents without a key, the empty idempotency key. A
// refused Commit leaves its intent alone.
func TestStoresRefuseBadKeys(t *testing.T) {
	for name, s := range map[string]contactsync.StateStore{
		"memory": contactsync.NewMemoryStore(),
		"sqlite": openSQLite(t, filepath.Join(t.TempDir(), "sync.db")),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
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
			if _, err := s.Intent(ctx, "k"); err != nil {
				t.Errorf("a refused Commit removed its intent: %v", err)
			}
			if err := s.PutIntent(ctx, contactsync.Intent{Op: "create"}); err == nil {
				t.Error("PutIntent without a key succeeded")
			}
			if _, err := s.MarkDone(ctx, ""); err == nil {
				t.Error(`MarkDone("") succeeded`)
			}
		})
	}
}

// TestSQLiteStoreReopen closes a store and finds everything in the file
// again.
func TestSQLiteStoreReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sync.db")
	s, err := contactsync.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_770_000_000_123).UTC()
	link := contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1", RemoteID: "c1", Hash: "h",
		State: []byte(`{"a":1}`), Tags: []string{"vip"}, Archived: true, UpdatedAt: at}
	task := contactsync.Link{Kind: contactsync.KindTask, LocalID: "t1", RemoteID: "r1", MemberID: "m1", ContactID: "c1"}
	in := contactsync.Intent{Key: "create/note/n1", Kind: contactsync.KindNote, LocalID: "n1", Op: "create", Data: []byte("x"), CreatedAt: at}
	run := contactsync.RunRecord{ID: "run1", Started: at, Finished: at.Add(time.Second), Report: []byte("{}")}
	for _, err := range []error{
		s.PutLink(ctx, link),
		s.PutIntent(ctx, contactsync.Intent{Key: "create/task/t1", Op: "create", CreatedAt: at}),
		s.Commit(ctx, task, "create/task/t1"),
		s.PutIntent(ctx, in),
		s.AppendRun(ctx, run),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.MarkDone(ctx, "lead/1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Link(ctx, contactsync.KindMember, "m1"); err == nil {
		t.Error("Link after Close succeeded")
	}

	s = openSQLite(t, path)
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
	if err != nil || len(runs) != 1 || runs[0].ID != "run1" || !runs[0].Finished.Equal(run.Finished) {
		t.Errorf("runs after reopening = %+v, %v", runs, err)
	}
	links, intents, err := s.Stats(ctx)
	if err != nil || links[contactsync.KindMember] != 1 || links[contactsync.KindTask] != 1 || len(links) != 2 || intents != 1 {
		t.Errorf("Stats after reopening = %v, %d, %v", links, intents, err)
	}
}

// TestSQLiteStoreTwoHandles has two stores on one file mark the same keys
// done at once: each key is first for exactly one of them.
func TestSQLiteStoreTwoHandles(t *testing.T) {
	const keys = 100
	path := filepath.Join(t.TempDir(), "sync.db")
	stores := []*contactsync.SQLiteStore{openSQLite(t, path), openSQLite(t, path)}
	var firsts [keys]atomic.Int32
	var wg sync.WaitGroup
	for g := range 4 { // two goroutines per store
		s := stores[g%2]
		wg.Go(func() {
			for i := range keys {
				key := "lead/" + strconv.Itoa(i)
				first, err := s.MarkDone(t.Context(), key)
				if err != nil {
					t.Errorf("MarkDone(%s): %v", key, err)
					return
				}
				if first {
					firsts[i].Add(1)
				}
				id := fmt.Sprintf("g%d-%d", g, i)
				if err := s.Commit(t.Context(), contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: "c" + id}, ""); err != nil {
					t.Errorf("Commit(%s): %v", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range keys {
		if n := firsts[i].Load(); n != 1 {
			t.Errorf("lead/%d was first %d times, want once", i, n)
		}
	}
	for _, s := range stores {
		links, _, err := s.Stats(t.Context())
		if err != nil || links[contactsync.KindMember] != 4*keys {
			t.Errorf("Stats = %v, %v; want %d member links", links, err, 4*keys)
		}
	}
}

// TestSQLiteStoreMultiProcess runs three processes on one new database
// file: they migrate it at once, mark the same 200 keys done and store
// links of their own. Each key must be first in exactly one process, and
// every link must be there.
func TestSQLiteStoreMultiProcess(t *testing.T) {
	const (
		procs = 3
		keys  = 200
	)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sync.db")
	start := strconv.FormatInt(time.Now().Add(500*time.Millisecond).UnixMilli(), 10)
	outs := make([]bytes.Buffer, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for p := range procs {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), helperEnv+"="+strconv.Itoa(p), helperPathEnv+"="+path,
			helperKeysEnv+"="+strconv.Itoa(keys), helperStartEnv+"="+start)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &outs[p], &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := cmd.Wait(); err != nil {
				errs[p] = fmt.Errorf("%w: %s", err, stderr.Bytes())
			}
		})
	}
	wg.Wait()
	total := 0
	for p := range procs {
		if errs[p] != nil {
			t.Fatalf("helper process %d: %v", p, errs[p])
		}
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(outs[p].String()), "firsts=%d", &n); err != nil {
			t.Fatalf("helper process %d printed %q", p, outs[p].Bytes())
		}
		total += n
	}
	if total != keys {
		t.Errorf("%d processes marked %d keys first %d times in all, want %d", procs, keys, total, keys)
	}

	s := openSQLite(t, path)
	ctx := t.Context()
	for i := range keys {
		if done, err := s.Done(ctx, "lead/"+strconv.Itoa(i)); err != nil || !done {
			t.Fatalf("Done(lead/%d) = %t, %v", i, done, err)
		}
	}
	for p := range procs {
		for i := range keys {
			id := "p" + strconv.Itoa(p) + "-" + strconv.Itoa(i)
			if l, err := s.Link(ctx, contactsync.KindMember, id); err != nil || l.RemoteID != "c-"+id {
				t.Fatalf("Link(%s) = %+v, %v", id, l, err)
			}
		}
	}
	all, err := s.Links(ctx, contactsync.KindMember, "", 0)
	if err != nil || len(all) != procs*keys {
		t.Errorf("Links = %d links, %v; want %d", len(all), err, procs*keys)
	}
}

func TestOpenSQLitePaths(t *testing.T) {
	for _, bad := range []string{"", ":memory:", filepath.Join(t.TempDir(), "no", "such", "dir", "sync.db")} {
		if s, err := contactsync.OpenSQLite(bad); err == nil {
			s.Close()
			t.Errorf("OpenSQLite(%q) succeeded", bad)
		}
	}
	// Characters that mean something in a URI are part of the name.
	dir := filepath.Join(t.TempDir(), "a b#c?d%20e&f")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sync.db")
	s := openSQLite(t, path)
	if err := s.PutLink(t.Context(), contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not where it was asked for: %v", err)
	}
	// A relative path is relative to the working directory.
	t.Chdir(dir)
	if _, err := openSQLite(t, "sync.db").Link(t.Context(), contactsync.KindMember, "m1"); err != nil {
		t.Errorf("the database through a relative path: %v", err)
	}
}

// TestSQLiteStorePragmas checks the settings OpenSQLite promises.
func TestSQLiteStorePragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	openSQLite(t, path)
	var mode string
	if err := openRawDB(t, path).QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

// TestSQLiteStoreNewerSchema checks that a store refuses a file a newer
// version of the package migrated.
func TestSQLiteStoreNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	s := openSQLite(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := openRawDB(t, path).Exec(`UPDATE contactsync_meta SET value = '99' WHERE name = 'schema_version'`); err != nil {
		t.Fatal(err)
	}
	if s, err := contactsync.OpenSQLite(path); err == nil {
		s.Close()
		t.Fatal("OpenSQLite of a newer schema succeeded")
	} else if !strings.Contains(err.Error(), "schema version") {
		t.Errorf("OpenSQLite of a newer schema: %v", err)
	}
}

// alternating is a StateStore that sends each call to the next of its
// stores, which share one database.
type alternating struct {
	stores []contactsync.StateStore
	n      atomic.Uint32
}

func (a *alternating) next() contactsync.StateStore {
	return a.stores[int(a.n.Add(1))%len(a.stores)]
}

func (a *alternating) Link(ctx context.Context, kind contactsync.Kind, localID string) (contactsync.Link, error) {
	return a.next().Link(ctx, kind, localID)
}

func (a *alternating) LinkByRemote(ctx context.Context, kind contactsync.Kind, remoteID string) (contactsync.Link, error) {
	return a.next().LinkByRemote(ctx, kind, remoteID)
}

func (a *alternating) PutLink(ctx context.Context, l contactsync.Link) error {
	return a.next().PutLink(ctx, l)
}

func (a *alternating) DeleteLink(ctx context.Context, kind contactsync.Kind, localID string) error {
	return a.next().DeleteLink(ctx, kind, localID)
}

func (a *alternating) Links(ctx context.Context, kind contactsync.Kind, after string, limit int) ([]contactsync.Link, error) {
	return a.next().Links(ctx, kind, after, limit)
}

func (a *alternating) MemberLinks(ctx context.Context, kind contactsync.Kind, memberID string) ([]contactsync.Link, error) {
	return a.next().MemberLinks(ctx, kind, memberID)
}

func (a *alternating) PutIntent(ctx context.Context, in contactsync.Intent) error {
	return a.next().PutIntent(ctx, in)
}

func (a *alternating) Intent(ctx context.Context, key string) (contactsync.Intent, error) {
	return a.next().Intent(ctx, key)
}

func (a *alternating) Intents(ctx context.Context) ([]contactsync.Intent, error) {
	return a.next().Intents(ctx)
}

func (a *alternating) Commit(ctx context.Context, l contactsync.Link, key string) error {
	return a.next().Commit(ctx, l, key)
}

func (a *alternating) DeleteIntent(ctx context.Context, key string) error {
	return a.next().DeleteIntent(ctx, key)
}

func (a *alternating) MarkDone(ctx context.Context, key string) (bool, error) {
	return a.next().MarkDone(ctx, key)
}

func (a *alternating) Done(ctx context.Context, key string) (bool, error) {
	return a.next().Done(ctx, key)
}

func (a *alternating) AppendRun(ctx context.Context, r contactsync.RunRecord) error {
	return a.next().AppendRun(ctx, r)
}

func (a *alternating) Runs(ctx context.Context, limit int) ([]contactsync.RunRecord, error) {
	return a.next().Runs(ctx, limit)
}

// preload fills the database at path with n member links, m0000000 …, in
// one transaction, and returns the store on it.
func preload(b *testing.B, path string, n int) *contactsync.SQLiteStore {
	b.Helper()
	s := openSQLite(b, path)
	db := openRawDB(b, path)
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO contactsync_links (kind, local_id, remote_id, member_id, contact_id, hash, state, tags, archived, updated_at)
		VALUES ('member', ?, ?, '', '', 'hash', ?, '["gymflow"]', 0, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	state := bytes.Repeat([]byte("x"), 300)
	for i := range n {
		id := fmt.Sprintf("m%07d", i)
		if _, err := stmt.Exec(id, "c"+id, state, time.Now().UnixMilli()); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkSQLiteStoreCommit measures what the engine's store costs per
// written record: PutIntent before the API call and Commit after it, on an
// empty store and on one with 100,000 links.
func BenchmarkSQLiteStoreCommit(b *testing.B) {
	for _, n := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("links=%d", n), func(b *testing.B) {
			s := preload(b, filepath.Join(b.TempDir(), "sync.db"), n)
			ctx := b.Context()
			state := bytes.Repeat([]byte("x"), 300)
			now := time.Now()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				id := fmt.Sprintf("n%07d", i) // new members, between the preloaded ones
				i++
				key := "create/member/" + id
				in := contactsync.Intent{Key: key, Kind: contactsync.KindMember, LocalID: id, Op: "create", Data: state[:100], CreatedAt: now}
				if err := s.PutIntent(ctx, in); err != nil {
					b.Fatal(err)
				}
				l := contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: "c" + id, Hash: "hash",
					State: state, Tags: []string{"gymflow", "vip"}, UpdatedAt: now}
				if err := s.Commit(ctx, l, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSQLiteStoreLink measures a lookup by local ID (what the engine
// does for every member it sees) among 100,000 links.
func BenchmarkSQLiteStoreLink(b *testing.B) {
	const n = 100_000
	s := preload(b, filepath.Join(b.TempDir(), "sync.db"), n)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("m%07d", (i*7919)%n)
		i++
		if _, err := s.Link(ctx, contactsync.KindMember, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSQLiteStoreLinks measures paging through 100,000 links, 500 at
// a time, per link.
func BenchmarkSQLiteStoreLinks(b *testing.B) {
	const n = 100_000
	s := preload(b, filepath.Join(b.TempDir(), "sync.db"), n)
	ctx := b.Context()
	b.ReportAllocs()
	after := ""
	for b.Loop() {
		page, err := s.Links(ctx, contactsync.KindMember, after, 500)
		if err != nil {
			b.Fatal(err)
		}
		if len(page) < 500 {
			after = ""
		} else {
			after = page[len(page)-1].LocalID
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/500, "ns/link")
}

// BenchmarkSQLiteStoreStats measures Stats on 100,000 links.
func BenchmarkSQLiteStoreStats(b *testing.B) {
	s := preload(b, filepath.Join(b.TempDir(), "sync.db"), 100_000)
	for b.Loop() {
		if _, _, err := s.Stats(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryStoreCommit is BenchmarkSQLiteStoreCommit's work on a
// MemoryStore, for comparison.
func BenchmarkMemoryStoreCommit(b *testing.B) {
	s := contactsync.NewMemoryStore()
	ctx := b.Context()
	state := bytes.Repeat([]byte("x"), 300)
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("n%07d", i)
		i++
		key := "create/member/" + id
		if err := s.PutIntent(ctx, contactsync.Intent{Key: key, LocalID: id, Op: "create", Data: state[:100], CreatedAt: now}); err != nil {
			b.Fatal(err)
		}
		l := contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: "c" + id, State: state, Tags: []string{"gymflow"}, UpdatedAt: now}
		if err := s.Commit(ctx, l, key); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMemoryStoreActivityConformance(t *testing.T) {
	statetest.RunActivity(t, func(t *testing.T) contactsync.ActivityStore { return contactsync.NewMemoryStore() })
}

func TestSQLiteStoreActivityConformance(t *testing.T) {
	statetest.RunActivity(t, func(t *testing.T) contactsync.ActivityStore {
		return openSQLite(t, filepath.Join(t.TempDir(), "sync.db"))
	})
}

func TestMemoryStoreInboundConformance(t *testing.T) {
	statetest.RunInbound(t, func(t *testing.T) contactsync.InboundStore { return contactsync.NewMemoryStore() })
}

func TestSQLiteStoreInboundConformance(t *testing.T) {
	statetest.RunInbound(t, func(t *testing.T) contactsync.InboundStore {
		return openSQLite(t, filepath.Join(t.TempDir(), "sync.db"))
	})
}

// TestNewSQLiteStoreActivityAndInbound runs the activity and inbound
// suites on a database the caller opened, in memory with one connection:
// no method may need a second connection.
func TestNewSQLiteStoreActivityAndInbound(t *testing.T) {
	newStore := func(t *testing.T) *contactsync.SQLiteStore {
		db, err := sql.Open("sqlite", ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		s, err := contactsync.NewSQLiteStore(db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	statetest.RunActivity(t, func(t *testing.T) contactsync.ActivityStore { return newStore(t) })
	statetest.RunInbound(t, func(t *testing.T) contactsync.InboundStore { return newStore(t) })
}

// TestStoresFillReceived checks what both stores do with an inbox entry
// without a Received time: they set it to when it was stored.
func TestStoresFillReceived(t *testing.T) {
	for name, s := range map[string]contactsync.InboundStore{
		"memory": contactsync.NewMemoryStore(),
		"sqlite": openSQLite(t, filepath.Join(t.TempDir(), "sync.db")),
	} {
		t.Run(name, func(t *testing.T) {
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
}

// TestOneStoreServesAll uses one MemoryStore and one SQLiteStore as all
// three stores of the inbound side: the read model, the inbound state and
// the links do not disturb each other.
func TestOneStoreServesAll(t *testing.T) {
	type allStores interface {
		contactsync.StateStore
		contactsync.ActivityStore
		contactsync.InboundStore
	}
	for name, s := range map[string]allStores{
		"memory": contactsync.NewMemoryStore(),
		"sqlite": openSQLite(t, filepath.Join(t.TempDir(), "sync.db")),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
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
}

// TestSQLiteStoreReopenInbound closes a store and finds the read model and
// the inbound state in the file again.
func TestSQLiteStoreReopenInbound(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sync.db")
	s, err := contactsync.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_770_000_000_123).UTC()
	act := contactsync.Activity{Kind: contactsync.KindAppointment, RemoteID: "a1", ContactID: "c1", MemberID: "m1",
		Title: "PT session", Body: "bring shoes", At: at, End: at.Add(time.Hour), Status: "confirmed", UpdatedAt: at}
	for _, err := range []error{
		s.PutActivity(ctx, act),
		s.SetCursor(ctx, "contacts.dateUpdated", "2026-02-02T00:00:00Z"),
		s.PutSeen(ctx, contactsync.Seen{Kind: contactsync.KindMember, RemoteID: "c1", At: at, Hash: "h", State: []byte("{}")}),
		s.MarkDirty(ctx, "c1", at),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"w1", "w2"} {
		if _, err := s.PutInbox(ctx, contactsync.InboxEntry{ID: id, Received: at, Timestamp: at, Body: []byte(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DoneInbox(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Activities(ctx, contactsync.ActivityQuery{}); err == nil {
		t.Error("Activities after Close succeeded")
	}

	s = openSQLite(t, path)
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
}

// TestSQLiteStoreInboxTwoHandles has two stores on one file receive the
// same deliveries at once: each is stored first by exactly one of them.
func TestSQLiteStoreInboxTwoHandles(t *testing.T) {
	const ids = 100
	path := filepath.Join(t.TempDir(), "sync.db")
	stores := []*contactsync.SQLiteStore{openSQLite(t, path), openSQLite(t, path)}
	var firsts [ids]atomic.Int32
	var wg sync.WaitGroup
	for g := range 4 {
		s := stores[g%2]
		wg.Go(func() {
			for i := range ids {
				first, err := s.PutInbox(t.Context(), contactsync.InboxEntry{ID: "w" + strconv.Itoa(i), Body: []byte("x")})
				if err != nil {
					t.Errorf("PutInbox: %v", err)
					return
				}
				if first {
					firsts[i].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for i := range ids {
		if n := firsts[i].Load(); n != 1 {
			t.Errorf("w%d was first %d times, want once", i, n)
		}
	}
}

// sqliteSchemaV1 is the schema version 1 of the package wrote, as it wrote
// it, for TestSQLiteStoreUpgradeFromV1.
var sqliteSchemaV1 = []string{
	`CREATE TABLE contactsync_meta (name TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)`,
	`CREATE TABLE contactsync_links (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, local_id TEXT NOT NULL,
	remote_id TEXT NOT NULL, member_id TEXT NOT NULL, contact_id TEXT NOT NULL, hash TEXT NOT NULL, state BLOB,
	tags TEXT, archived INTEGER NOT NULL, updated_at INTEGER)`,
	`CREATE UNIQUE INDEX contactsync_links_local ON contactsync_links (kind, local_id)`,
	`CREATE INDEX contactsync_links_remote ON contactsync_links (kind, remote_id, local_id)`,
	`CREATE INDEX contactsync_links_member ON contactsync_links (kind, member_id, local_id)`,
	`CREATE TABLE contactsync_intents (key TEXT NOT NULL PRIMARY KEY, kind TEXT NOT NULL, local_id TEXT NOT NULL,
	op TEXT NOT NULL, data BLOB, created_at INTEGER)`,
	`CREATE INDEX contactsync_intents_created ON contactsync_intents (created_at, key)`,
	`CREATE TABLE contactsync_done (key TEXT NOT NULL PRIMARY KEY, done_at INTEGER NOT NULL)`,
	`CREATE TABLE contactsync_runs (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, started INTEGER,
	finished INTEGER, report BLOB, err TEXT NOT NULL)`,
	`CREATE INDEX contactsync_runs_started ON contactsync_runs (started, seq)`,
	`INSERT INTO contactsync_meta (name, value) VALUES ('schema_version', '1')`,
	`INSERT INTO contactsync_links (kind, local_id, remote_id, member_id, contact_id, hash, state, tags, archived, updated_at)
	VALUES ('member', 'm1', 'c1', '', '', 'h1', NULL, '["vip"]', 0, 1770000000123)`,
	`INSERT INTO contactsync_intents (key, kind, local_id, op, data, created_at) VALUES ('create/task/t1', 'task', 't1', 'create', NULL, 1)`,
	`INSERT INTO contactsync_done (key, done_at) VALUES ('lead/1', 1)`,
}

// TestSQLiteStoreUpgradeFromV1 opens a file of schema version 1: the store
// upgrades it to version 2 in place, keeping what it held, and the new
// stores work in it; the upgrade happens once.
func TestSQLiteStoreUpgradeFromV1(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sync.db")
	raw := openRawDB(t, path)
	for _, stmt := range sqliteSchemaV1 {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	version := func() string {
		t.Helper()
		var v string
		if err := raw.QueryRow(`SELECT value FROM contactsync_meta WHERE name = 'schema_version'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	s := openSQLite(t, path)
	if v := version(); v != "2" {
		t.Errorf("schema version after opening a version 1 file = %s, want 2", v)
	}
	l, err := s.Link(ctx, contactsync.KindMember, "m1")
	if err != nil || l.RemoteID != "c1" || l.Hash != "h1" || len(l.Tags) != 1 || l.UpdatedAt.UnixMilli() != 1770000000123 {
		t.Errorf("the version 1 link after the upgrade = %+v, %v", l, err)
	}
	if _, err := s.Intent(ctx, "create/task/t1"); err != nil {
		t.Errorf("the version 1 intent after the upgrade: %v", err)
	}
	if done, err := s.Done(ctx, "lead/1"); err != nil || !done {
		t.Errorf("the version 1 idempotency key after the upgrade = %t, %v", done, err)
	}
	act := contactsync.Activity{Kind: contactsync.KindTask, RemoteID: "r1", ContactID: "c1", MemberID: "m1", At: time.UnixMilli(5).UTC()}
	if err := s.PutActivity(ctx, act); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutInbox(ctx, contactsync.InboxEntry{ID: "w1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDirty(ctx, "c1", time.Now()); err != nil {
		t.Fatal(err)
	}
	var tables int
	if err := raw.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name LIKE 'contactsync_%'`).Scan(&tables); err != nil || tables != 10 {
		t.Errorf("%d contactsync_ tables after the upgrade, %v; want 10", tables, err)
	}

	// Opening the upgraded file again changes nothing.
	s2 := openSQLite(t, path)
	if got, err := s2.Activities(ctx, contactsync.ActivityQuery{ContactID: "c1"}); err != nil || len(got) != 1 || got[0] != act {
		t.Errorf("activities through a second store = %+v, %v", got, err)
	}
	if v := version(); v != "2" {
		t.Errorf("schema version after opening again = %s, want 2", v)
	}
}

// TestSQLiteStoreBadSchemaVersion checks that a store refuses a file whose
// schema version it cannot read.
func TestSQLiteStoreBadSchemaVersion(t *testing.T) {
	for _, v := range []string{"0", "x", "3"} {
		path := filepath.Join(t.TempDir(), "sync.db")
		s := openSQLite(t, path)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := openRawDB(t, path).Exec(`UPDATE contactsync_meta SET value = ? WHERE name = 'schema_version'`, v); err != nil {
			t.Fatal(err)
		}
		if s, err := contactsync.OpenSQLite(path); err == nil {
			s.Close()
			t.Errorf("OpenSQLite of schema version %q succeeded", v)
		} else if !strings.Contains(err.Error(), "schema version") {
			t.Errorf("OpenSQLite of schema version %q: %v", v, err)
		}
	}
}

// benchActivities returns n activities — a third each tasks (three in
// four of them open), notes and appointments (one in seven cancelled) — of
// n/10 contacts c00000 …, of members m00000 …, at times scattered over the
// 60 days around now.
func benchActivities(n int, now time.Time) []contactsync.Activity {
	kinds := []contactsync.Kind{contactsync.KindTask, contactsync.KindNote, contactsync.KindAppointment}
	out := make([]contactsync.Activity, n)
	for i := range n {
		const steps = 60 * 24 * 4 // quarter hours in 60 days
		id := fmt.Sprintf("%05d", i%(n/10))
		a := contactsync.Activity{Kind: kinds[i%3], RemoteID: fmt.Sprintf("r%07d", i), ContactID: "c" + id, MemberID: "m" + id,
			Title: "title", Body: "body", At: now.Add(time.Duration(i*7919%steps-steps/2) * 15 * time.Minute),
			Completed: i%4 != 0, Status: "booked"}
		if i%7 == 0 {
			a.Status = "cancelled"
		}
		out[i] = a
	}
	return out
}

// BenchmarkViews measures the views on a read model of 100,000
// activities in each store, and a write to it.
func BenchmarkViews(b *testing.B) {
	const n = 100_000
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	acts := benchActivities(n, now)
	for _, name := range []string{"memory", "sqlite"} {
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			var s viewsStores
			if name == "memory" {
				m := contactsync.NewMemoryStore()
				for _, a := range acts {
					if err := m.PutActivity(ctx, a); err != nil {
						b.Fatal(err)
					}
				}
				s = m
			} else {
				path := filepath.Join(b.TempDir(), "sync.db")
				s = openSQLite(b, path)
				preloadActivities(b, path, acts)
			}
			for i := range 100 { // Timeline needs only the members it asks for
				id := fmt.Sprintf("%05d", i)
				if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m" + id, RemoteID: "c" + id}); err != nil {
					b.Fatal(err)
				}
			}
			benchViews(b, &contactsync.Views{State: s, Activity: s, Now: func() time.Time { return now }})
			b.Run("PutActivity", func(b *testing.B) {
				i := 0
				for b.Loop() {
					a := contactsync.Activity{Kind: contactsync.KindTask, RemoteID: fmt.Sprintf("new%07d", i), ContactID: "c00001", MemberID: "m00001", At: now}
					i++
					if err := s.PutActivity(b.Context(), a); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// preloadActivities inserts acts into the SQLite file at path in one
// transaction, much faster than PutActivity's transaction each.
func preloadActivities(b *testing.B, path string, acts []contactsync.Activity) {
	b.Helper()
	db := openRawDB(b, path)
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO contactsync_activities (kind, remote_id, contact_id, member_id, title, body, at, end_at, completed, status, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL)`)
	if err != nil {
		b.Fatal(err)
	}
	for _, a := range acts {
		if _, err := stmt.Exec(a.Kind, a.RemoteID, a.ContactID, a.MemberID, a.Title, a.Body, a.At.UnixMilli(), a.Completed, a.Status); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// benchViews measures each view of v.
func benchViews(b *testing.B, v *contactsync.Views) {
	week := 7 * 24 * time.Hour
	for _, bc := range []struct {
		name string
		view func(ctx context.Context) ([]contactsync.Activity, error)
	}{
		{"Timeline", func(ctx context.Context) ([]contactsync.Activity, error) { return v.Timeline(ctx, "m00042") }},
		{"OpenTasks", func(ctx context.Context) ([]contactsync.Activity, error) { return v.OpenTasks(ctx, 20) }},
		{"OverdueTasks", func(ctx context.Context) ([]contactsync.Activity, error) { return v.OverdueTasks(ctx, 20) }},
		{"UpcomingAppointments", func(ctx context.Context) ([]contactsync.Activity, error) {
			return v.UpcomingAppointments(ctx, week, 20)
		}},
		{"RecentNotes", func(ctx context.Context) ([]contactsync.Activity, error) { return v.RecentNotes(ctx, week, 20) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				as, err := bc.view(b.Context())
				if err != nil || len(as) == 0 {
					b.Fatalf("%d activities, %v", len(as), err)
				}
			}
		})
	}
}
