package fleet_test

// TestPostgresFleetKill: three worker processes run the fleet on one
// PostgreSQL database for 50 locations of a fake API with its real rate
// limits, while the test enqueues GymFlow's changes in transactions (some
// rolled back) and kills a worker with SIGKILL ten times, restarting it.
// The app is installed at the agency; each location's client comes from
// an oauth.Manager over the shared SQL token store, which exchanges the
// agency token for location tokens that expire every 8 s, so the workers
// renew them all along, whichever process runs the location. At the end
// every location's contacts, tags, tasks and notes equal GymFlow's, each
// exactly once, and the API answered no request with 429.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/internal/pgtest"
	"github.com/gymflow/contacts-go/oauth"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/fleet"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

// The environment of a worker process.
const (
	killEnvDSN   = "FLEET_KILL_DSN"   // the PostgreSQL URL: run a worker
	killEnvAPI   = "FLEET_KILL_API"   // the fake API's URL
	killEnvOAuth = "FLEET_KILL_OAUTH" // a JSON file: the app's oauth.Config fields
	killEnvSlice = "FLEET_KILL_SLICE" // the fleet's Slice, if not killConfig's
	killEnvStop  = "FLEET_KILL_STOP"  // how long Stop waits on SIGTERM (default 20 s)
	// The fleet's Workers and Batch, if not killConfig's.
	killEnvWorkers = "FLEET_KILL_WORKERS"
	killEnvBatch   = "FLEET_KILL_BATCH"
	killEnvLease   = "FLEET_KILL_LEASE" // the fleet's LeaseTTL, if not killConfig's
	// killEnvTimeout replaces the clients' 3 s timeout (and the engine's
	// resolve grace with it). A request's time includes its wait for the
	// client's rate limiter, which may hold it until the API's window
	// ends: a run at the live limits (10 s windows) needs more than 10 s.
	killEnvTimeout = "FLEET_KILL_TIMEOUT"
)

// killCompany is the agency of every location.
const killCompany = "company-1"

// killApp is the app's OAuth configuration the workers share.
type killApp struct {
	ClientID, ClientSecret, RedirectURL string
}

func (a killApp) config(api string) *oauth.Config {
	return &oauth.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, RedirectURL: a.RedirectURL,
		Scopes: []string{contacts.ScopeContactsReadonly, contacts.ScopeContactsWrite}, BaseURL: api}
}

// The run's shape.
const (
	killLocations = 50
	killWorkers   = 3
	killKills     = 10
	killMembers   = 6 // per location, at most
)

// killConfig is the fleet of a worker: short slices, and a short rescue so
// that the jobs of a killed worker run again within the test.
func killConfig() fleet.Config {
	return fleet.Config{Workers: 16, Batch: 10, Slice: 2 * time.Second, RescueAfter: 15 * time.Second, LeaseTTL: 3 * time.Second}
}

// runKillWorker runs a worker process if the environment asks for one.
func runKillWorker() (code int, ok bool) {
	dsn := os.Getenv(killEnvDSN)
	if dsn == "" {
		return 0, false
	}
	if err := killWorker(dsn); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1, true
	}
	return 0, true
}

func killWorker(dsn string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return err
	}
	pcfg.MaxConns = 30 // three processes stay under the test server's 200 connections
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	raw, err := sql.Open(pgtest.Driver, dsn)
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetMaxOpenConns(25)
	state, err := sqlstore.New(raw, sqlstore.Postgres)
	if err != nil {
		return err
	}
	defer state.Close()
	b, err := os.ReadFile(os.Getenv(killEnvOAuth))
	if err != nil {
		return err
	}
	var app killApp
	if err := json.Unmarshal(b, &app); err != nil {
		return err
	}
	tokens, err := oauth.NewSQLStore(raw, oauth.Postgres)
	if err != nil {
		return err
	}
	api := os.Getenv(killEnvAPI)
	// One client per location, refreshing its token through the shared
	// store (one refresh at a time across the processes), with the
	// default rate limiter.
	// Requests time out after 3 s (the fake answers in milliseconds, and
	// these runs never wait long for the rate limiter), so a create left
	// pending by a killed or stopped worker is looked up after 3 s
	// (WithResolveGrace), not the default 30 s, which would outlast the
	// short job timeout of these runs.
	timeout := 3 * time.Second
	if v := os.Getenv(killEnvTimeout); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil {
			return err
		}
	}
	mgr := oauth.NewManager(ctx, app.config(api), tokens, oauth.WithAgency(killCompany),
		oauth.WithSourceOptions(oauth.WithRefreshSkew(2*time.Second)), oauth.WithHTTPClient(&http.Client{Timeout: timeout}))
	m, err := contactsync.NewMapping(
		contactsync.Map("first_name", "firstName", contactsync.Required()),
		contactsync.Map("email", "email", contactsync.Transform(contactsync.Email)),
	)
	if err != nil {
		return err
	}
	cfg := killConfig()
	if v := os.Getenv(killEnvSlice); v != "" {
		if cfg.Slice, err = time.ParseDuration(v); err != nil {
			return err
		}
		cfg.RescueAfter = 10 * cfg.Slice
	}
	for env, dst := range map[string]*int{killEnvWorkers: &cfg.Workers, killEnvBatch: &cfg.Batch} {
		if v := os.Getenv(env); v != "" {
			if *dst, err = strconv.Atoi(v); err != nil {
				return err
			}
		}
	}
	if v := os.Getenv(killEnvLease); v != "" {
		if cfg.LeaseTTL, err = time.ParseDuration(v); err != nil {
			return err
		}
	}
	stopWait := 20 * time.Second
	if v := os.Getenv(killEnvStop); v != "" {
		if stopWait, err = time.ParseDuration(v); err != nil {
			return err
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Engine = fleet.Cached(func(ctx context.Context, loc string) (*contactsync.Engine, error) {
		c, err := mgr.Client(ctx, loc)
		if err != nil {
			return nil, err
		}
		s, err := state.Location(loc)
		if err != nil {
			return nil, err
		}
		// A killed worker's lease lapses in 3 s.
		return contactsync.NewEngine(c, s, m, contactsync.WithLeaseTTL(3*time.Second), contactsync.WithResolveGrace(timeout))
	})
	f, err := fleet.NewPostgres(pool, cfg)
	if err != nil {
		return err
	}
	if err := f.Start(context.Background()); err != nil {
		return err
	}
	fmt.Println("started")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), stopWait)
	defer cancel()
	err = f.Stop(sctx)
	fmt.Fprintln(os.Stderr, "stopped:", err)
	return err
}

// gymModel is GymFlow's side of one location: what the API must end with.
type gymModel struct {
	members map[string]*modelMember
}

type modelMember struct {
	name  string
	tags  map[string]bool
	tasks map[string]string // task ID → title
	notes map[string]string // note ID → body
}

type worker struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan error
}

// killRig is the parent's side of a multi-process run: the fake API with
// the app installed at the agency, the database migrated, GymFlow's
// insert-only fleet, and a way to start worker processes.
type killRig struct {
	url   string
	srv   *contactstest.Server
	locs  []string
	pool  *pgxpool.Pool
	gym   *fleet.Fleet[pgx.Tx]
	start func(env ...string) *worker
}

func newKillRig(t *testing.T, nLocs int, limits contactstest.RateLimits, tokenTTL time.Duration) *killRig {
	t.Helper()
	url := pgtest.URL(t)
	srv := contactstest.NewServer(contactstest.WithRequestLogLimit(1<<20), contactstest.WithRateLimits(limits))
	t.Cleanup(srv.Close)
	// The app is installed at the agency (its token lives a day); the
	// location tokens the workers obtain from it live tokenTTL (0: a day).
	reg := srv.RegisterApp(contactstest.App{RedirectURIs: []string{"http://localhost/callback"}})
	app := killApp{ClientID: reg.ClientID, ClientSecret: reg.ClientSecret, RedirectURL: "http://localhost/callback"}
	tokenStore, err := oauth.NewSQLStore(pgtest.Open(t, url), oauth.Postgres)
	if err == nil {
		err = tokenStore.Migrate(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	var locs []string
	for i := range nLocs {
		locs = append(locs, srv.AddLocation(fmt.Sprintf("gym%02d", i), killCompany, contactstest.LocationSettings{}))
	}
	code, err := srv.AuthorizationCode(app.ClientID, contactstest.Grant{UserType: contactstest.UserTypeCompany, CompanyID: killCompany, RedirectURI: app.RedirectURL})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := oauth.Install(context.Background(), app.config(srv.URL), tokenStore, code, oauth.UserType(contactstest.UserTypeCompany)); err != nil {
		t.Fatal(err)
	}
	srv.SetAccessTokenTTL(tokenTTL)
	appFile := filepath.Join(t.TempDir(), "app.json")
	b, _ := json.Marshal(app)
	if err := os.WriteFile(appFile, b, 0o600); err != nil {
		t.Fatal(err)
	}

	// GymFlow's side: its own pool, an insert-only fleet.
	pool := newPool(t, url)
	gym, err := fleet.NewPostgres(pool, fleet.Config{InsertOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := gym.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	pgState(t, url) // the sync's tables, for the workers

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &killRig{url: url, srv: srv, locs: locs, pool: pool, gym: gym}
	r.start = func(env ...string) *worker {
		w := &worker{out: new(bytes.Buffer), done: make(chan error, 1)}
		w.cmd = exec.Command(exe, "-test.run=^$")
		w.cmd.Env = append(append(os.Environ(), killEnvDSN+"="+url, killEnvAPI+"="+srv.URL, killEnvOAuth+"="+appFile), env...)
		w.cmd.Stdout, w.cmd.Stderr = io.Discard, &lockedWriter{w: w.out}
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { w.done <- w.cmd.Wait() }()
		return w
	}
	return r
}

func TestPostgresFleetKill(t *testing.T) {
	rig := newKillRig(t, killLocations, contactstest.DefaultRateLimits(), 8*time.Second) // the live API's limits
	srv, locs, pool, gym, start := rig.srv, rig.locs, rig.pool, rig.gym, func() *worker { return rig.start() }
	workers := make([]*worker, killWorkers)
	for i := range workers {
		workers[i] = start()
	}
	defer func() {
		for _, w := range workers {
			w.cmd.Process.Kill()
			<-w.done
			if t.Failed() && w.out.Len() > 0 {
				t.Logf("worker log:\n%s", tail(w.out.String(), 3000))
			}
		}
	}()

	// GymFlow changes members while the workers run; a killer kills one
	// worker ten times.
	rng := rand.New(rand.NewPCG(42, 7))
	models := map[string]*gymModel{}
	for _, loc := range locs {
		models[loc] = &gymModel{members: map[string]*modelMember{}}
	}
	ctx := context.Background()
	var killed sync.WaitGroup
	killed.Go(func() {
		krng := rand.New(rand.NewPCG(9, 9))
		for k := range killKills {
			time.Sleep(time.Duration(800+krng.IntN(1500)) * time.Millisecond)
			i := krng.IntN(len(workers))
			workers[i].cmd.Process.Signal(syscall.SIGKILL)
			<-workers[i].done
			t.Logf("kill %d: worker %d", k+1, i)
			workers[i] = start()
		}
	})
	committed, rolledBack, changes := 0, 0, 0
	deadline := time.Now().Add(20 * time.Second)
	for n := 0; time.Now().Before(deadline) || n < 400; n++ {
		loc := locs[rng.IntN(len(locs))]
		model := models[loc]
		next := cloneModel(model)
		chs := randomChanges(rng, next, n)
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := gym.Enqueue(ctx, tx, loc, chs...); err != nil {
			tx.Rollback(ctx)
			t.Fatal(err)
		}
		if rng.IntN(8) == 0 {
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			rolledBack++
			continue
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		models[loc] = next
		committed++
		changes += len(chs)
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
	}
	killed.Wait()
	t.Logf("%d transactions committed (%d changes), %d rolled back", committed, changes, rolledBack)

	// Everything drains: the killed workers' jobs are rescued by River and
	// their in-flight writes resolved by the engine's intents.
	waitDrained(t, gym, 3*time.Minute)
	for _, w := range workers {
		w.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-w.done; err != nil {
			t.Errorf("worker stopped with %v", err)
		}
		w.done <- nil // for the deferred cleanup
	}

	// The kills hit jobs in flight: River rescued them (or their workers'
	// jobs were retried after an error).
	rescued := 0
	jobs, err := gym.Client().JobList(ctx, river.NewJobListParams().States(rivertype.JobStateCompleted).First(10000))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Jobs {
		for _, e := range j.Errors {
			if strings.Contains(strings.ToLower(e.Error), "stuck") {
				rescued++
				break
			}
		}
	}
	t.Logf("%d jobs completed, %d of them rescued from a killed worker", len(jobs.Jobs), rescued)
	if rescued == 0 {
		t.Error("no job was rescued: the kills hit no job in flight")
	}

	// Every location equals GymFlow, each record once.
	for _, loc := range locs {
		checkLocation(t, srv, loc, models[loc])
	}
	tooMany, perLoc := 0, map[string]int{}
	for _, r := range srv.Requests() {
		perLoc[r.Location]++
		if r.Status == 429 {
			tooMany++
		}
	}
	if tooMany != 0 {
		t.Errorf("the API answered %d requests with 429", tooMany)
	}
	exchanges := 0
	for _, r := range srv.Requests() {
		if r.Path == "/oauth/locationToken" && r.Status == 200 {
			exchanges++
		}
	}
	t.Logf("%d API requests, %d × 429, %d location tokens from the agency's, %d refreshes", len(srv.Requests()), tooMany,
		exchanges, srv.TokenRequests("refresh_token"))
	// Every location's first token, and more as they expired every 8 s
	// in workers all over.
	if exchanges <= killLocations {
		t.Errorf("%d location tokens for %d locations: none expired and was renewed during the run", exchanges, killLocations)
	}
}

// randomChanges makes one transaction's changes of a location and applies
// them to m.
func randomChanges(rng *rand.Rand, m *gymModel, n int) []contactsync.Change {
	var out []contactsync.Change
	tags := []string{"vip", "new", "trial", "lapsed"}
	for range 1 + rng.IntN(3) {
		ids := slices.Sorted(maps.Keys(m.members))
		if len(ids) < killMembers && (len(ids) == 0 || rng.IntN(3) == 0) {
			id := fmt.Sprintf("m%d", len(ids))
			mm := &modelMember{name: fmt.Sprintf("Member %s v%d", id, n), tags: map[string]bool{"new": true},
				tasks: map[string]string{id + "-t0": "Call " + id}, notes: map[string]string{id + "-n0": "Joined " + id}}
			m.members[id] = mm
			out = append(out, contactsync.MemberUpserted{Member: memberOf(id, mm, true)})
			continue
		}
		id := ids[rng.IntN(len(ids))]
		mm := m.members[id]
		switch rng.IntN(4) {
		case 0: // the record, renamed
			mm.name = fmt.Sprintf("Member %s v%d", id, n)
			out = append(out, contactsync.MemberUpserted{Member: memberOf(id, mm, false)})
		case 1: // a tag on or off
			tag := tags[rng.IntN(len(tags))]
			if mm.tags[tag] {
				delete(mm.tags, tag)
				out = append(out, contactsync.TagsChanged{Member: id, Removed: []string{tag}})
			} else {
				mm.tags[tag] = true
				out = append(out, contactsync.TagsChanged{Member: id, Added: []string{tag}})
			}
		case 2: // a task, new or retitled
			tid := fmt.Sprintf("%s-t%d", id, rng.IntN(3))
			mm.tasks[tid] = fmt.Sprintf("Follow up %s v%d", tid, n)
			out = append(out, contactsync.TaskUpserted{Member: id, Task: contactsync.Task{ID: tid, Title: mm.tasks[tid]}})
		case 3: // a note
			nid := fmt.Sprintf("%s-n%d", id, len(mm.notes))
			mm.notes[nid] = fmt.Sprintf("Note %s v%d", nid, n)
			out = append(out, contactsync.NoteUpserted{Member: id, Note: contactsync.Note{ID: nid, Body: mm.notes[nid]}})
		}
	}
	return out
}

// memberOf is a member's full record; with its follow-ups on creation
// (nil afterwards: leave them alone).
func memberOf(id string, mm *modelMember, withChildren bool) contactsync.Member {
	m := contactsync.Member{ID: id, Fields: map[string]any{"first_name": mm.name, "email": id + "@example.com"},
		Tags: slices.Sorted(maps.Keys(mm.tags))}
	if withChildren {
		for tid, title := range mm.tasks {
			m.Tasks = append(m.Tasks, contactsync.Task{ID: tid, Title: title})
		}
		for nid, body := range mm.notes {
			m.Notes = append(m.Notes, contactsync.Note{ID: nid, Body: body})
		}
	}
	return m
}

func cloneModel(m *gymModel) *gymModel {
	c := &gymModel{members: map[string]*modelMember{}}
	for id, mm := range m.members {
		c.members[id] = &modelMember{name: mm.name, tags: maps.Clone(mm.tags), tasks: maps.Clone(mm.tasks), notes: maps.Clone(mm.notes)}
	}
	return c
}

// waitDrained waits until no change of any location is queued.
func waitDrained[TTx any](t *testing.T, f *fleet.Fleet[TTx], within time.Duration) {
	t.Helper()
	end := time.Now().Add(within)
	for {
		all, err := f.Backlogs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, b := range all {
			left += b.Changes
		}
		if left == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%d changes still queued after %s", left, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fakeLocations adds n locations to srv, named by format, each with a
// client of its own token and the default rate limiter.
func fakeLocations(t *testing.T, srv *contactstest.Server, n int, format string) ([]string, map[string]*contacts.Client) {
	t.Helper()
	var locs []string
	clients := map[string]*contacts.Client{}
	for i := range n {
		loc := srv.AddLocation(fmt.Sprintf(format, i), "", contactstest.LocationSettings{})
		c, err := contacts.NewClient(contacts.WithBaseURL(srv.URL), contacts.WithToken(srv.IssueToken(contactstest.TokenSpec{LocationID: loc})),
			contacts.WithLocationID(loc), contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		if err != nil {
			t.Fatal(err)
		}
		clients[loc] = c
		locs = append(locs, loc)
	}
	return locs, clients
}

func checkLocation(t *testing.T, srv *contactstest.Server, loc string, m *gymModel) {
	t.Helper()
	byEmail := map[string][]contactstest.Contact{}
	for _, c := range srv.Contacts(loc) {
		byEmail[c.Email] = append(byEmail[c.Email], c)
	}
	if len(byEmail) != len(m.members) {
		t.Errorf("%s: %d contacts' emails, GymFlow has %d members", loc, len(byEmail), len(m.members))
	}
	for id, mm := range m.members {
		cs := byEmail[id+"@example.com"]
		if len(cs) != 1 {
			t.Errorf("%s: member %s is %d contacts", loc, id, len(cs))
			continue
		}
		c := cs[0]
		if c.FirstName != mm.name {
			t.Errorf("%s: %s is named %q, GymFlow says %q", loc, id, c.FirstName, mm.name)
		}
		if got, want := slices.Sorted(slices.Values(lower(c.Tags))), slices.Sorted(maps.Keys(mm.tags)); !slices.Equal(got, want) {
			t.Errorf("%s: %s has tags %v, GymFlow %v", loc, id, got, want)
		}
		var titles, bodies []string
		for _, task := range srv.Tasks(c.ID) {
			titles = append(titles, task.Title)
		}
		for _, note := range srv.Notes(c.ID) {
			bodies = append(bodies, note.Body)
		}
		slices.Sort(titles)
		slices.Sort(bodies)
		if want := slices.Sorted(maps.Values(mm.tasks)); !slices.Equal(titles, want) {
			t.Errorf("%s: %s has tasks %q, GymFlow %q", loc, id, titles, want)
		}
		if want := slices.Sorted(maps.Values(mm.notes)); !slices.Equal(bodies, want) {
			t.Errorf("%s: %s has notes %q, GymFlow %q", loc, id, bodies, want)
		}
	}
}

func lower(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(v)
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// lockedWriter serializes a child's writes into its buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestSQLiteFleetSuite is the same run on the embedded SQLite driver, its
// workers in one process: 50 locations, changes enqueued in transactions
// (some rolled back) while the fleet runs, the fleet stopped mid-job (its
// jobs cancelled) and started again three times.
func TestSQLiteFleetSuite(t *testing.T) {
	srv := contactstest.NewServer(contactstest.WithRequestLogLimit(1 << 20))
	t.Cleanup(srv.Close)
	db, state := openSQLite(t)
	m := mapping(t)
	locs, clients := fakeLocations(t, srv, killLocations, "gym%02d")
	newFleet := func() *fleet.Fleet[*sql.Tx] {
		cfg := killConfig()
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		cfg.Engine = fleet.Cached(func(ctx context.Context, loc string) (*contactsync.Engine, error) {
			s, err := state.Location(loc)
			if err != nil {
				return nil, err
			}
			return contactsync.NewEngine(clients[loc], s, m, contactsync.WithLeaseTTL(3*time.Second))
		})
		f, err := fleet.NewSQLite(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := f.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := newFleet()
	defer func() { f.Stop(context.Background()) }()

	rng := rand.New(rand.NewPCG(42, 8))
	models := map[string]*gymModel{}
	for _, loc := range locs {
		models[loc] = &gymModel{members: map[string]*modelMember{}}
	}
	ctx := context.Background()
	committed, restarts := 0, 0
	for n := range 600 {
		if n > 0 && n%150 == 0 { // a stop mid-job: the jobs in flight are cancelled
			sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			f.Stop(sctx)
			cancel()
			f = newFleet()
			restarts++
		}
		loc := locs[rng.IntN(len(locs))]
		next := cloneModel(models[loc])
		chs := randomChanges(rng, next, n)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Enqueue(ctx, tx, loc, chs...); err != nil {
			tx.Rollback()
			t.Fatal(err)
		}
		if rng.IntN(8) == 0 {
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		models[loc] = next
		committed++
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
	}
	t.Logf("%d transactions committed, %d restarts", committed, restarts)
	waitDrained(t, f, 3*time.Minute)
	for _, loc := range locs {
		checkLocation(t, srv, loc, models[loc])
	}
	tooMany := 0
	for _, r := range srv.Requests() {
		if r.Status == 429 {
			tooMany++
		}
	}
	if tooMany != 0 {
		t.Errorf("the API answered %d requests with 429", tooMany)
	}
	t.Logf("%d API requests, %d × 429", len(srv.Requests()), tooMany)
}

// TestPostgresFleetSIGTERMHandsBack: SIGTERM stops a worker within its
// stop timeout although its job has minutes of work left: the job is
// cancelled and handed back to River (not left running), its changes wait
// in the outbox, and the next worker applies every one, once.
func TestPostgresFleetSIGTERMHandsBack(t *testing.T) {
	// 10 requests a second, in windows of 2 s (the live API's are 10 s):
	// the job's work outlasts a window or two.
	rig := newKillRig(t, 1, contactstest.RateLimits{Burst: 20, Interval: 2 * time.Second, Daily: 200_000}, 8*time.Second)
	loc := rig.locs[0]
	w := rig.start(killEnvSlice+"=5m", killEnvStop+"=1s")
	defer func() { w.cmd.Process.Kill(); <-w.done }()
	const n = 120 // six windows' worth
	ctx := context.Background()
	for from := 0; from < n; from += 40 {
		var chs []contactsync.Change
		for i := from; i < from+40; i++ {
			chs = append(chs, contactsync.MemberUpserted{Member: contactsync.Member{ID: fmt.Sprintf("m%03d", i),
				Fields: map[string]any{"first_name": "Member", "email": fmt.Sprintf("m%03d@example.com", i)}}})
		}
		if err := pgx.BeginFunc(ctx, rig.pool, func(tx pgx.Tx) error { return rig.gym.Enqueue(ctx, tx, loc, chs...) }); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the job to be past the first window", func() bool { return len(rig.srv.Contacts(loc)) > 20 })
	t0 := time.Now()
	t.Logf("SIGTERM at %d synced", len(rig.srv.Contacts(loc)))
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-w.done:
		w.done <- nil
		if err != nil {
			t.Fatalf("the worker exited with %v:\n%s", err, tail(w.out.String(), 2000))
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the worker did not stop")
	}
	running, err := rig.gym.Client().JobList(ctx, river.NewJobListParams().States(rivertype.JobStateRunning))
	if err != nil {
		t.Fatal(err)
	}
	if len(running.Jobs) != 0 {
		t.Fatalf("%d jobs left running by a stopped worker", len(running.Jobs))
	}
	if b, err := rig.gym.Backlog(ctx, loc); err != nil || b.Changes == 0 {
		t.Fatalf("backlog after the stop: %+v, %v; want changes left", b, err)
	}
	synced := len(rig.srv.Contacts(loc))
	if synced >= n {
		t.Fatalf("all %d synced before the stop: the job was not cut short", synced)
	}
	t.Logf("stopped after %s", time.Since(t0))
	w2 := rig.start()
	defer func() { w2.cmd.Process.Kill(); <-w2.done }()
	waitDrained(t, rig.gym, 2*time.Minute)
	t.Logf("drained after %s", time.Since(t0))
	emails := map[string]int{}
	for _, c := range rig.srv.Contacts(loc) {
		emails[c.Email]++
	}
	if len(emails) != n {
		t.Errorf("%d members synced, want %d", len(emails), n)
	}
	for e, k := range emails {
		if k != 1 {
			t.Errorf("%s is %d contacts", e, k)
		}
	}
	t.Logf("stopped with %d of %d synced; the next worker did the rest", synced, n)
}
