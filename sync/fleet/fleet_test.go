package fleet_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/internal/pgtest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/fleet"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// env is a fleet over one database, a fake API with a few locations, and
// the sync's state in a sqlstore.
type env[TTx any] struct {
	f     *fleet.Fleet[TTx]
	begin func(t *testing.T) (tx TTx, commit, rollback func() error)
	srv   *contactstest.Server
	locs  []string
	// gate, when set, holds every API request until it is closed.
	gate atomic.Pointer[chan struct{}]
	// inFlight counts API requests held at the gate.
	inFlight atomic.Int64
	// lockWaits counts sessions waiting for a lock (PostgreSQL).
	lockWaits func(t *testing.T) int
}

type gateTransport struct {
	base http.RoundTripper
	gate *atomic.Pointer[chan struct{}]
	n    *atomic.Int64
}

func (g gateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c := g.gate.Load(); c != nil {
		g.n.Add(1)
		select {
		case <-*c:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return g.base.RoundTrip(r)
}

func mapping(t testing.TB) *contactsync.Mapping {
	t.Helper()
	m, err := contactsync.NewMapping(
		contactsync.Map("first_name", "firstName", contactsync.Required()),
		contactsync.Map("email", "email", contactsync.Transform(contactsync.Email)),
	)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// setup builds the fake, the locations and the engine factory over a
// sqlstore; newFleet builds the fleet with that factory.
func setup[TTx any](t *testing.T, e *env[TTx], state *sqlstore.DB, nLocs int, cfg fleet.Config, newFleet func(fleet.Config) (*fleet.Fleet[TTx], error)) {
	t.Helper()
	e.srv = contactstest.NewServer(contactstest.WithoutRateLimits())
	t.Cleanup(e.srv.Close)
	clients := map[string]*contacts.Client{}
	for i := range nLocs {
		loc := e.srv.AddLocation(fmt.Sprintf("loc%02d", i), "", contactstest.LocationSettings{})
		tok := e.srv.IssueToken(contactstest.TokenSpec{LocationID: loc})
		hc := &http.Client{Transport: gateTransport{base: e.srv.HTTPClient().Transport, gate: &e.gate, n: &e.inFlight}}
		clients[loc] = e.srv.Client(contacts.WithToken(tok), contacts.WithLocationID(loc), contacts.WithHTTPClient(hc))
		e.locs = append(e.locs, loc)
	}
	var mu sync.Mutex
	engines := map[string]*contactsync.Engine{}
	m := mapping(t)
	cfg.Engine = func(ctx context.Context, loc string) (*contactsync.Engine, error) {
		mu.Lock()
		defer mu.Unlock()
		if eng := engines[loc]; eng != nil {
			return eng, nil
		}
		c := clients[loc]
		if c == nil {
			return nil, fmt.Errorf("no location %q", loc)
		}
		s, err := state.Location(loc)
		if err != nil {
			return nil, err
		}
		eng, err := contactsync.NewEngine(c, s, m)
		if err != nil {
			return nil, err
		}
		engines[loc] = eng
		return eng, nil
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	f, err := newFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.f = f
}

func sqliteEnv(t *testing.T, nLocs int, cfg fleet.Config) *env[*sql.Tx] {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "gymflow.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	state, err := sqlstore.OpenSQLite(filepath.Join(dir, "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { state.Close() })
	e := &env[*sql.Tx]{}
	e.begin = func(t *testing.T) (*sql.Tx, func() error, func() error) {
		tx, err := db.BeginTx(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return tx, tx.Commit, tx.Rollback
	}
	setup(t, e, state, nLocs, cfg, func(cfg fleet.Config) (*fleet.Fleet[*sql.Tx], error) { return fleet.NewSQLite(db, cfg) })
	return e
}

func postgresEnv(t *testing.T, nLocs int, cfg fleet.Config) *env[pgx.Tx] {
	t.Helper()
	url := pgtest.URL(t)
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.MaxConns = 20 // River's client, the workers and the tests' open transactions
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	state, err := sqlstore.New(pgtest.Open(t, url), sqlstore.Postgres)
	if err == nil {
		err = state.Migrate(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { state.Close() })
	e := &env[pgx.Tx]{}
	e.lockWaits = func(t *testing.T) int {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE NOT granted`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	e.begin = func(t *testing.T) (pgx.Tx, func() error, func() error) {
		tx, err := pool.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tx, func() error { return tx.Commit(context.Background()) }, func() error { return tx.Rollback(context.Background()) }
	}
	setup(t, e, state, nLocs, cfg, func(cfg fleet.Config) (*fleet.Fleet[pgx.Tx], error) { return fleet.NewPostgres(pool, cfg) })
	return e
}

// forEachDriver runs test on the embedded SQLite driver and on PostgreSQL.
func forEachDriver(t *testing.T, nLocs int, cfg fleet.Config, sqlite func(*testing.T, *env[*sql.Tx]), pg func(*testing.T, *env[pgx.Tx])) {
	t.Run("SQLite", func(t *testing.T) { sqlite(t, sqliteEnv(t, nLocs, cfg)) })
	t.Run("Postgres", func(t *testing.T) { pg(t, postgresEnv(t, nLocs, cfg)) })
}

func member(id, name string, tags ...string) contactsync.Member {
	return contactsync.Member{ID: id, Fields: map[string]any{"first_name": name, "email": id + "@example.com"}, Tags: tags}
}

func (e *env[TTx]) enqueue(t *testing.T, commit bool, loc string, changes ...contactsync.Change) {
	t.Helper()
	tx, c, r := e.begin(t)
	if err := e.f.Enqueue(context.Background(), tx, loc, changes...); err != nil {
		r()
		t.Fatal(err)
	}
	end := r
	if commit {
		end = c
	}
	if err := end(); err != nil {
		t.Fatal(err)
	}
}

// jobs lists the fleet's jobs in the given states.
func (e *env[TTx]) jobs(t *testing.T, states ...rivertype.JobState) []*rivertype.JobRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := e.f.Client().JobList(ctx, river.NewJobListParams().States(states...).First(1000))
	if err != nil {
		t.Fatal(err)
	}
	return res.Jobs
}

var waiting = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled}

// waitIdle waits until no job waits or runs and every outbox is empty.
func (e *env[TTx]) waitIdle(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		pending := 0
		for _, loc := range e.locs {
			n, _, err := e.f.Pending(context.Background(), loc)
			if err != nil {
				t.Fatal(err)
			}
			pending += n
		}
		js := e.jobs(t, waiting...)
		if pending == 0 && len(js) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not idle after %s: %d changes pending, %d jobs waiting or running", within, pending, len(js))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env[TTx]) start(t *testing.T) {
	t.Helper()
	if err := e.f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.f.Stop(ctx); err != nil {
			t.Errorf("stopping the fleet: %v", err)
		}
	})
}

// contactsOf returns the fake's contacts of a location by email.
func (e *env[TTx]) contactsOf(loc string) map[string]contactstest.Contact {
	out := map[string]contactstest.Contact{}
	for _, c := range e.srv.Contacts(loc) {
		out[c.Email] = c
	}
	return out
}

func TestTransactionalEnqueue(t *testing.T) {
	forEachDriver(t, 2, fleet.Config{}, testTransactionalEnqueue[*sql.Tx], testTransactionalEnqueue[pgx.Tx])
}

// A rolled-back transaction enqueues nothing; a committed one is synced.
func testTransactionalEnqueue[TTx any](t *testing.T, e *env[TTx]) {
	a, b := e.locs[0], e.locs[1]
	e.enqueue(t, false, a, contactsync.MemberUpserted{Member: member("m1", "Rolled")})
	if n, _, err := e.f.Pending(context.Background(), a); err != nil || n != 0 {
		t.Fatalf("after a rollback: %d pending, %v", n, err)
	}
	if js := e.jobs(t, waiting...); len(js) != 0 {
		t.Fatalf("after a rollback: %d jobs", len(js))
	}
	e.enqueue(t, true, a, contactsync.MemberUpserted{Member: member("m2", "Ada")})
	e.enqueue(t, true, b, contactsync.MemberUpserted{Member: member("m3", "Grace")}, contactsync.MemberUpserted{Member: member("m4", "Alan")})
	if n, oldest, err := e.f.Pending(context.Background(), b); err != nil || n != 2 || oldest.IsZero() {
		t.Fatalf("location b: %d pending since %v, %v; want 2", n, oldest, err)
	}
	if js := e.jobs(t, waiting...); len(js) != 2 {
		t.Fatalf("%d jobs for two locations, want 2 (one each)", len(js))
	}
	e.start(t)
	e.waitIdle(t, 30*time.Second)
	if got := e.contactsOf(a); len(got) != 1 || got["m2@example.com"].FirstName != "Ada" {
		t.Errorf("location a has %v, want only Ada", got)
	}
	if got := e.contactsOf(b); len(got) != 2 || got["m3@example.com"].FirstName != "Grace" || got["m4@example.com"].FirstName != "Alan" {
		t.Errorf("location b has %v, want Grace and Alan", got)
	}
}

func TestChangeCommittedWhileItsLocationRuns(t *testing.T) {
	forEachDriver(t, 1, fleet.Config{}, testChangeWhileRunning[*sql.Tx], testChangeWhileRunning[pgx.Tx])
}

// A change committed while its location's job is running (its insert of
// a job skipped as a duplicate of the running one) is applied, after the
// changes before it, in order — also when the transaction commits only
// after the job has applied everything else, as it is about to complete.
func testChangeWhileRunning[TTx any](t *testing.T, e *env[TTx]) {
	loc := e.locs[0]
	gate := make(chan struct{})
	e.gate.Store(&gate)
	e.enqueue(t, true, loc, contactsync.MemberUpserted{Member: member("m1", "First")})
	e.start(t)
	// The job is running, held at its first API call.
	waitFor(t, "the job's first API call", func() bool { return e.inFlight.Load() > 0 })
	e.enqueue(t, true, loc,
		contactsync.TagsChanged{Member: "m1", Added: []string{"vip"}},
		contactsync.MemberUpserted{Member: member("m1", "Second", "vip")})
	// And one more, in a transaction still open when the job runs out of
	// changes.
	tx, commit, rollback := e.begin(t)
	defer rollback() // a no-op once committed; frees the connection if the test fails
	if err := e.f.Enqueue(context.Background(), tx, loc, contactsync.MemberUpserted{Member: member("m2", "Late")}); err != nil {
		t.Fatal(err)
	}
	if e.lockWaits != nil { // (SQLite: the open transaction holds River's one connection)
		running, all := e.jobs(t, rivertype.JobStateRunning), e.jobs(t, waiting...)
		if len(running) != 1 || len(all) != 1 {
			t.Fatalf("%d jobs running, %d waiting or running: want the one running (the inserts skipped)", len(running), len(all))
		}
	}
	e.gate.Store(nil)
	close(gate)
	if e.lockWaits != nil {
		// The job has applied what was committed and waits for the open
		// transaction: for the location's lock (or, wrongly, for the row
		// of its job, which River's skipped insert locked, to complete
		// itself without reading the outbox again).
		waitFor(t, "the job to wait for the open transaction", func() bool {
			return e.lockWaits(t) > 0 || len(e.jobs(t, rivertype.JobStateRunning)) == 0
		})
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	e.waitIdle(t, 30*time.Second)
	got := e.contactsOf(loc)
	if len(got) != 2 {
		t.Fatalf("%d contacts, want 2: %v", len(got), got)
	}
	if c := got["m1@example.com"]; c.FirstName != "Second" || !slices.Contains(c.Tags, "vip") {
		t.Errorf("m1 is %q with tags %v, want Second with vip", c.FirstName, c.Tags)
	}
	if got["m2@example.com"].FirstName != "Late" {
		t.Errorf("m2 missing: %v", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
