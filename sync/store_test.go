package contactsync_test

import (
	"bytes"
	"context"
	"database/sql"
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
