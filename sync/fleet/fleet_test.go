package fleet_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	"github.com/gymflow/contacts-go/webhook"
)

func TestMain(m *testing.M) {
	if code, ok := runKillWorker(); ok {
		os.Exit(code)
	}
	os.Exit(pgtest.Run(m))
}

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
	// metrics records what the fleet reports.
	metrics *recordingMetrics
	// tokens are the locations' tokens.
	tokens map[string]string
	// sink records what the locations' inbound sides deliver.
	sink *recordingSink
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
	e.tokens = map[string]string{}
	for i := range nLocs {
		loc := e.srv.AddLocation(fmt.Sprintf("loc%02d", i), "", contactstest.LocationSettings{})
		tok := e.srv.IssueToken(contactstest.TokenSpec{LocationID: loc})
		e.tokens[loc] = tok
		hc := &http.Client{Transport: gateTransport{base: e.srv.HTTPClient().Transport, gate: &e.gate, n: &e.inFlight}}
		clients[loc] = e.srv.Client(contacts.WithToken(tok), contacts.WithLocationID(loc), contacts.WithHTTPClient(hc))
		e.locs = append(e.locs, loc)
	}
	m := mapping(t)
	e.sink = &recordingSink{}
	storeOf := func(loc string) (*sqlstore.Store, *contacts.Client, error) {
		c := clients[loc]
		if c == nil {
			return nil, nil, fmt.Errorf("no location %q", loc)
		}
		s, err := state.Location(loc)
		return s, c, err
	}
	cfg.Engine = fleet.Cached(func(ctx context.Context, loc string) (*contactsync.Engine, error) {
		s, c, err := storeOf(loc)
		if err != nil {
			return nil, err
		}
		return contactsync.NewEngine(c, s, m)
	})
	cfg.Inbound = fleet.Cached(func(ctx context.Context, loc string) (*contactsync.Inbound, error) {
		s, c, err := storeOf(loc)
		if err != nil {
			return nil, err
		}
		return contactsync.NewInbound(c, s, s, s, m, e.sink, contactsync.WithInboundPolicies(contactsync.Policies{Default: contactsync.APIWins}))
	})
	if cfg.CycleEvery != 0 {
		cfg.Locations = func(context.Context) ([]string, error) { return e.locs, nil }
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	e.metrics = &recordingMetrics{counters: map[string]int64{}, gauges: map[string]float64{}}
	cfg.Metrics, cfg.MetricsEvery = e.metrics, 50*time.Millisecond
	f, err := newFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.f = f
	// The fake's webhooks reach the fleet's inbox through a verifying
	// receiver.
	edKey, _ := e.srv.WebhookPublicKeys()
	v, err := webhook.NewVerifier(webhook.WithEd25519PublicKey(edKey))
	if err != nil {
		t.Fatal(err)
	}
	h, err := webhook.NewHandler(v, f.Handler())
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(h)
	t.Cleanup(hook.Close)
	if err := e.srv.AddWebhook(hook.URL); err != nil {
		t.Fatal(err)
	}
}

// recordingMetrics records the fleet's metrics by name and labels.
type recordingMetrics struct {
	mu       sync.Mutex
	counters map[string]int64
	gauges   map[string]float64
}

func metricKey(name string, labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	var b strings.Builder
	b.WriteString(name)
	for _, k := range keys {
		fmt.Fprintf(&b, ",%s=%s", k, labels[k])
	}
	return b.String()
}

func (m *recordingMetrics) Counter(name string, delta int64, labels map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counters[metricKey(name, labels)] += delta
}

func (m *recordingMetrics) Gauge(name string, v float64, labels map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gauges[metricKey(name, labels)] = v
}

func (m *recordingMetrics) counter(key string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counters[key]
}

func (m *recordingMetrics) gauge(key string) (float64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.gauges[key]
	return v, ok
}

// recordingSink records what the inbound side delivers.
type recordingSink struct {
	mu      sync.Mutex
	changes []contactsync.InboundChange
}

func (s *recordingSink) Receive(_ context.Context, ch contactsync.InboundChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes = append(s.changes, ch)
	return nil
}

// firstNames returns the first names the sink received, by member.
func (s *recordingSink) firstNames() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, ch := range s.changes {
		if c, ok := ch.(contactsync.ContactChanged); ok && c.Fields["firstName"] != "" {
			out[c.MemberID] = c.Fields["firstName"]
		}
	}
	return out
}

func flush(t *testing.T, srv *contactstest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

// openSQLite opens GymFlow's database (River's and the fleet's tables,
// GymFlow's transactions) and the sync's state, two SQLite files closed
// when t ends.
func openSQLite(t *testing.T) (*sql.DB, *sqlstore.DB) {
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
	return db, state
}

func sqliteEnv(t *testing.T, nLocs int, cfg fleet.Config) *env[*sql.Tx] {
	t.Helper()
	db, state := openSQLite(t)
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
	state := pgState(t, url)
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

// pgState opens the sync's state on the PostgreSQL database at url,
// migrated, and closed when t ends.
func pgState(t testing.TB, url string) *sqlstore.DB {
	t.Helper()
	state, err := sqlstore.New(pgtest.Open(t, url), sqlstore.Postgres)
	if err == nil {
		err = state.Migrate(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { state.Close() })
	return state
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
			b := e.backlog(t, loc)
			pending += b.Changes + b.Deliveries
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

func (e *env[TTx]) backlog(t *testing.T, loc string) fleet.Backlog {
	t.Helper()
	b, err := e.f.Backlog(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	return b
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
	if b := e.backlog(t, a); b.Changes != 0 {
		t.Fatalf("after a rollback: %+v", b)
	}
	if js := e.jobs(t, waiting...); len(js) != 0 {
		t.Fatalf("after a rollback: %d jobs", len(js))
	}
	e.enqueue(t, true, a, contactsync.MemberUpserted{Member: member("m2", "Ada")})
	e.enqueue(t, true, b, contactsync.MemberUpserted{Member: member("m3", "Grace")}, contactsync.MemberUpserted{Member: member("m4", "Alan")})
	if bl := e.backlog(t, b); bl.Changes != 2 || bl.OldestChange.IsZero() || bl.Deliveries != 0 {
		t.Fatalf("location b: %+v; want 2 changes", bl)
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

func TestWebhooksReachTheSinkThroughTheInbox(t *testing.T) {
	forEachDriver(t, 2, fleet.Config{}, testWebhooks[*sql.Tx], testWebhooks[pgx.Tx])
}

// A CRM edit's webhook goes through the fleet's inbox (its delivery and
// the location's inbound job in one transaction) to the sink; a delivery
// rolled back stores nothing; a redelivery changes nothing.
func testWebhooks[TTx any](t *testing.T, e *env[TTx]) {
	a, b := e.locs[0], e.locs[1]
	e.enqueue(t, true, a, contactsync.MemberUpserted{Member: member("m1", "Ada")})
	e.enqueue(t, true, b, contactsync.MemberUpserted{Member: member("m2", "Grace")})
	e.start(t)
	e.waitIdle(t, 30*time.Second)
	flush(t, e.srv) // the creates' own webhooks (echoes)
	e.waitIdle(t, 30*time.Second)

	var last webhook.Event
	for _, loc := range []string{a, b} {
		for _, c := range e.srv.Contacts(loc) {
			if _, err := e.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.FirstName = "Edited-" + loc }); err != nil {
				t.Fatal(err)
			}
		}
	}
	flush(t, e.srv)
	e.waitIdle(t, 30*time.Second)
	got := e.sink.firstNames()
	if got["m1"] != "Edited-"+a || got["m2"] != "Edited-"+b {
		t.Fatalf("the sink got %v", got)
	}
	for _, d := range e.srv.WebhookDeliveries() {
		if ev, err := webhook.Parse(d.Body); err == nil && ev.Info().LocationID == a {
			last = ev
		}
	}
	if last == nil {
		t.Fatal("no delivery of location a")
	}
	// Rolled back: nothing stored, no job.
	tx, _, rollback := e.begin(t)
	if err := e.f.Deliver(context.Background(), tx, last); err != nil {
		rollback()
		t.Fatal(err)
	}
	if err := rollback(); err != nil {
		t.Fatal(err)
	}
	if bl := e.backlog(t, a); bl.Deliveries != 0 {
		t.Fatalf("a rolled-back delivery left %+v", bl)
	}
	// Redelivered, twice in one transaction: stored once, changes nothing.
	before := len(e.sink.firstNames())
	tx, commit, rollback := e.begin(t)
	defer rollback()
	for range 2 {
		if err := e.f.Deliver(context.Background(), tx, last); err != nil {
			t.Fatal(err)
		}
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	e.waitIdle(t, 30*time.Second)
	e.sink.mu.Lock()
	n := len(e.sink.changes)
	e.sink.mu.Unlock()
	if after := len(e.sink.firstNames()); after != before || n != 2 {
		t.Errorf("a redelivery delivered again: %d changes in all, want 2", n)
	}
}

func TestPeriodicCyclesCatchWhatNoWebhookSaid(t *testing.T) { // and reconcile
	cfg := fleet.Config{CycleEvery: 2 * time.Second, Tick: time.Second, ReconcileEvery: 3 * time.Second}
	forEachDriver(t, 3, cfg, testPeriodicCycles[*sql.Tx], testPeriodicCycles[pgx.Tx])
}

// With webhooks lost, each location's periodic cycle (scheduled by the
// fleet, at the location's own offset) polls the CRM's edits.
func testPeriodicCycles[TTx any](t *testing.T, e *env[TTx]) {
	for i, loc := range e.locs {
		e.enqueue(t, true, loc, contactsync.MemberUpserted{Member: member(fmt.Sprintf("m%d", i), "Member")})
	}
	e.start(t)
	waitFor(t, "the members created", func() bool {
		for _, loc := range e.locs {
			if len(e.srv.Contacts(loc)) != 1 {
				return false
			}
		}
		return true
	})
	e.srv.SetWebhookOptions(contactstest.WebhookOptions{DropRate: 1}) // from now on, only polling tells
	for _, loc := range e.locs {
		for _, c := range e.srv.Contacts(loc) {
			if _, err := e.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.FirstName = "Polled-" + loc }); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "every location's cycle to poll its edit", func() bool {
		got := e.sink.firstNames()
		for i, loc := range e.locs {
			if got[fmt.Sprintf("m%d", i)] != "Polled-"+loc {
				return false
			}
		}
		return true
	})
	// Each location's reconciliation ran too.
	waitFor(t, "every location's reconciliation", func() bool {
		seen := map[string]bool{}
		for _, j := range e.jobs(t, rivertype.JobStateCompleted) {
			var args struct{ Location, Task string }
			if j.Kind == "contactsync_inbound" && json.Unmarshal(j.EncodedArgs, &args) == nil && args.Task == "reconcile" {
				seen[args.Location] = true
			}
		}
		return len(seen) == len(e.locs)
	})
	// The cycles were scheduled at each location's own offset within the
	// period (their slot; a job snoozed meanwhile runs later).
	done := e.jobs(t, append([]rivertype.JobState{rivertype.JobStateCompleted}, waiting...)...)
	offsets := map[string]map[int64]bool{}
	for _, j := range done {
		var args struct {
			Location, Task string
			Slot           time.Time
		}
		if j.Kind != "contactsync_inbound" || json.Unmarshal(j.EncodedArgs, &args) != nil || args.Task != "cycle" {
			continue
		}
		if offsets[args.Location] == nil {
			offsets[args.Location] = map[int64]bool{}
		}
		offsets[args.Location][args.Slot.UnixMilli()%2000] = true
	}
	if len(offsets) != len(e.locs) {
		t.Fatalf("cycles ran for %d locations, want %d", len(offsets), len(e.locs))
	}
	distinct := map[int64]bool{}
	for loc, o := range offsets {
		if len(o) != 1 {
			t.Errorf("location %s cycled at offsets %v, want one", loc, o)
		}
		for k := range o {
			distinct[k] = true
		}
	}
	if len(distinct) < 2 {
		t.Errorf("all locations cycled at the same offset %v", distinct)
	}
}

func TestConfigRefused(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	eng := func(context.Context, string) (*contactsync.Engine, error) { return nil, nil }
	locs := func(context.Context) ([]string, error) { return nil, nil }
	for name, cfg := range map[string]fleet.Config{
		"no engine":                  {},
		"negative workers":           {Engine: eng, Workers: -1},
		"a bad prefix":               {Engine: eng, TablePrefix: "x; DROP TABLE y"},
		"locations without inbound":  {Engine: eng, Locations: locs},
		"a tick under a second":      {Engine: eng, Tick: time.Millisecond},
		"rescue before a slice ends": {Engine: eng, Slice: time.Hour, RescueAfter: time.Minute},
	} {
		if _, err := fleet.NewSQLite(db, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := fleet.NewSQLite(db, fleet.Config{InsertOnly: true}); err != nil {
		t.Errorf("insert-only: %v", err)
	}
	if _, err := fleet.NewSQLite(nil, fleet.Config{InsertOnly: true}); err == nil {
		t.Error("a nil database: accepted")
	}
	if _, err := fleet.Schema(fleet.Postgres, "x y"); err == nil {
		t.Error("Schema with a bad prefix: accepted")
	}
	if s, err := fleet.Schema(fleet.SQLite, ""); err != nil || !strings.Contains(s, "contactsync_fleet_outbox") {
		t.Errorf("Schema: %v\n%s", err, s)
	}
}

func TestOneJobPerLocationAtATime(t *testing.T) {
	forEachDriver(t, 1, fleet.Config{}, testOneJobPerLocation[*sql.Tx], testOneJobPerLocation[pgx.Tx])
}

// While a location's outbound job runs, its inbound job waits (snoozed),
// whatever the free workers: one client spends the location's rate limit
// and budget at a time.
func testOneJobPerLocation[TTx any](t *testing.T, e *env[TTx]) {
	loc := e.locs[0]
	gate := make(chan struct{})
	e.gate.Store(&gate)
	e.enqueue(t, true, loc, contactsync.MemberUpserted{Member: member("m1", "First")})
	e.start(t)
	waitFor(t, "the outbound job's first API call", func() bool { return e.inFlight.Load() > 0 })
	ev, err := webhook.Parse([]byte(`{"type":"FleetTestEvent","locationId":"` + loc + `","webhookId":"w-lock-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.f.Handler()(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the inbound job to be snoozed", func() bool {
		for _, j := range e.jobs(t, waiting...) {
			var meta struct{ Snoozes int }
			if j.Kind == "contactsync_inbound" && json.Unmarshal(j.Metadata, &meta) == nil && meta.Snoozes > 0 {
				return true
			}
		}
		return false
	})
	if n := e.inFlight.Load(); n != 1 {
		t.Errorf("%d API calls held, want the outbound job's one", n)
	}
	e.gate.Store(nil)
	close(gate)
	e.waitIdle(t, 30*time.Second)
	if got := e.contactsOf(loc); len(got) != 1 {
		t.Errorf("contacts %v", got)
	}
}

func TestRevokedLocationIsParkedAndReported(t *testing.T) {
	forEachDriver(t, 2, fleet.Config{}, testParked[*sql.Tx], testParked[pgx.Tx])
}

// A location whose token is refused (its app uninstalled) is parked: its
// job snoozed, its changes kept, the gauge at 1; the other location goes
// on and its calls, changes and queues are reported.
func testParked[TTx any](t *testing.T, e *env[TTx]) {
	a, b := e.locs[0], e.locs[1]
	e.srv.RevokeToken(e.tokens[a])
	e.enqueue(t, true, a, contactsync.MemberUpserted{Member: member("m1", "Parked")})
	e.enqueue(t, true, b, contactsync.MemberUpserted{Member: member("m2", "Fine")})
	e.start(t)
	m := e.metrics
	waitFor(t, "location a parked and b synced", func() bool {
		parked, _ := m.gauge(fleet.MetricParked + ",location=" + a)
		return parked == 1 && len(e.contactsOf(b)) == 1 && m.counter(fleet.MetricSnoozes+",location="+a+",reason=parked") >= 1 &&
			m.counter(fleet.MetricChanges+",location="+b) >= 1 // reported once the run has returned
	})
	if bl := e.backlog(t, a); bl.Changes != 1 {
		t.Errorf("parked location's backlog %+v, want its change kept", bl)
	}
	if n := m.counter(fleet.MetricAPICalls + ",location=" + b + ",side=outbound"); n < 1 {
		t.Errorf("api calls of b: %d", n)
	}
	if n := m.counter(fleet.MetricChanges + ",location=" + b); n != 1 {
		t.Errorf("changes of b: %d, want 1", n)
	}
	if d, ok := m.gauge(fleet.MetricQueueDepth + ",location=" + b + ",queue=changes"); ok && d != 0 {
		// (b may have been synced before the first report: then absent.)
		waitFor(t, "b's emptied queue reported", func() bool {
			d, _ := m.gauge(fleet.MetricQueueDepth + ",location=" + b + ",queue=changes")
			return d == 0
		})
	}
	waitFor(t, "a's queue reported", func() bool {
		depth, _ := m.gauge(fleet.MetricQueueDepth + ",location=" + a + ",queue=changes")
		lag, _ := m.gauge(fleet.MetricLag + ",location=" + a)
		return depth == 1 && lag > 0
	})
	if len(e.contactsOf(a)) != 0 {
		t.Errorf("the parked location got contacts")
	}
}
