// Command gymflow-fleet runs GymFlow's sync for many gyms at once on a
// fleet of River workers (package fleet): each gym is a location of the
// Contacts API with its own token and its own rate limit, and GymFlow
// enqueues its members' changes in its own database transactions.
//
// With no arguments it runs on one machine with no server: River, the
// fleet's queues, GymFlow's transactions and the sync's state in SQLite
// files, the embedded fake API with the live API's per-location limits
// (100 requests per 10 s), 50 locations × 200 members, workers in this
// process. It streams the progress, prints a table per location (members,
// API calls, 429s, the longest lag of a change) and exits 0 when every
// location holds its members exactly once:
//
//	go run ./examples/gymflow-fleet
//	go run ./examples/gymflow-fleet -locations 10 -members 50
//	go run ./examples/gymflow-fleet -database postgres://localhost/gymflow   # or DATABASE_URL
//	go run ./examples/gymflow-fleet -http 127.0.0.1:8080                     # /metrics and River UI while it runs
//
// On PostgreSQL the work can be spread over processes and machines: one
// API (here the fake-server example, serving many locations), one
// database, any number of workers, and GymFlow's side enqueueing:
//
//	go run ./examples/fake-server -addr 127.0.0.1:8080 -locations 50 -locations-file gyms.json
//	go run ./examples/gymflow-fleet -role worker  -database $DB -api http://127.0.0.1:8080 -locations-file gyms.json   # as many as you like
//	go run ./examples/gymflow-fleet -role enqueue -database $DB -api http://127.0.0.1:8080 -locations-file gyms.json
//
// The enqueue process saves the members, follows the queues until they are
// empty, checks every location's contacts through the API and exits 0; the
// workers run until SIGINT or SIGTERM, finish or hand back their jobs, and
// exit.
package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql over pgx, for the sync's state
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	_ "modernc.org/sqlite"
	"riverqueue.com/riverui"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/internal/demoloc"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/fleet"
	"github.com/gymflow/contacts-go/sync/prommetrics"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		log.Fatal(err)
	}
}

// The roles of a process.
const (
	roleAll     = "all"     // GymFlow's side and the workers, in this process
	roleWorker  = "worker"  // workers only, until stopped
	roleEnqueue = "enqueue" // GymFlow's side only: enqueue, follow, check
)

type config struct {
	role, database, data, httpAddr string
	api, locationsFile             string
	locations, members, workers    int
	perTx                          int
	timeout                        time.Duration
}

func parseFlags(args []string, errOut io.Writer, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("gymflow-fleet", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var c config
	fs.StringVar(&c.role, "role", roleAll, "all: everything in this process; worker: run jobs until stopped; enqueue: save the members, follow, check (worker and enqueue need PostgreSQL and -api)")
	fs.StringVar(&c.database, "database", getenv("DATABASE_URL"), "PostgreSQL URL (default $DATABASE_URL; empty: embedded SQLite)")
	fs.StringVar(&c.data, "data", "", "directory of the SQLite files (default: a temporary directory)")
	fs.StringVar(&c.httpAddr, "http", "", "serve /metrics (Prometheus) and /riverui/ (River UI, which can cancel and retry jobs: keep it on loopback) on this address while running")
	fs.StringVar(&c.api, "api", "", "the API's base URL (default: the embedded fake); needs -locations-file")
	fs.StringVar(&c.locationsFile, "locations-file", "", "the API's locations and their tokens, as written by go run ./examples/fake-server -locations N -locations-file F")
	fs.IntVar(&c.locations, "locations", 50, "locations (gyms) of the embedded fake")
	fs.IntVar(&c.members, "members", 200, "members per location")
	fs.IntVar(&c.workers, "workers", 0, "jobs run at once (default: one per location, at most 100)")
	fs.IntVar(&c.perTx, "per-tx", 20, "members GymFlow saves per transaction")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "give up after this long (a worker stops)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	setLocations := false
	fs.Visit(func(f *flag.Flag) { setLocations = setLocations || f.Name == "locations" })
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case c.role != roleAll && c.role != roleWorker && c.role != roleEnqueue:
		return c, fmt.Errorf("-role %q: want all, worker or enqueue", c.role)
	case c.locations < 1 || c.locations > demoloc.MaxLocations:
		return c, fmt.Errorf("-locations %d: want 1 to %d", c.locations, demoloc.MaxLocations)
	case c.members < 1 || c.members > 100_000:
		return c, fmt.Errorf("-members %d: want 1 to 100000", c.members)
	case c.perTx < 1 || c.workers < 0 || c.timeout <= 0:
		return c, errors.New("-per-tx and -timeout must be positive, -workers not negative")
	case c.database != "" && !strings.HasPrefix(c.database, "postgres://") && !strings.HasPrefix(c.database, "postgresql://"):
		return c, errors.New("-database: want a postgres:// URL (or nothing for the embedded SQLite)")
	case (c.api == "") != (c.locationsFile == ""):
		return c, errors.New("-api and -locations-file go together")
	case c.locationsFile != "" && setLocations:
		return c, errors.New("-locations is for the embedded fake; with -locations-file the file lists the locations")
	case c.role != roleAll && (c.database == "" || c.api == ""):
		return c, fmt.Errorf("-role %s shares the work with other processes: it needs -database postgres://… (the embedded SQLite serves one process) and -api with -locations-file", c.role)
	}
	if c.api != "" {
		u, err := url.Parse(c.api)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("-api %q: want an http(s) URL", c.api)
		}
	}
	return c, nil
}

// gym is what the run knows of one location.
type gym struct {
	id, token string
	// Sampled from the fleet's queues while the run lasts.
	maxLag time.Duration
	doneAt time.Duration
}

// apiSide is the API the workers write to and its locations: the embedded
// fake (fake set), or another process's (-api).
type apiSide struct {
	url  string
	gyms []*gym
	fake *contactstest.Server
}

func openAPI(cfg config) (*apiSide, error) {
	if cfg.api != "" {
		locs, err := demoloc.Read(cfg.locationsFile)
		if err != nil {
			return nil, fmt.Errorf("-locations-file: %w", err)
		}
		a := &apiSide{url: strings.TrimSuffix(cfg.api, "/")}
		for _, l := range locs {
			a.gyms = append(a.gyms, &gym{id: l.ID, token: l.Token})
		}
		return a, nil
	}
	// The embedded fake with the live limits, a location and a token per
	// gym.
	fake := contactstest.NewServer(contactstest.WithRequestLogLimit(cfg.locations*cfg.members*4 + 1000))
	a := &apiSide{url: fake.URL, fake: fake}
	for i := range cfg.locations {
		id := fake.AddLocation(fmt.Sprintf("gym-%04d", i+1), "", contactstest.LocationSettings{})
		a.gyms = append(a.gyms, &gym{id: id, token: fake.IssueToken(contactstest.TokenSpec{LocationID: id})})
	}
	return a, nil
}

func (a *apiSide) close() {
	if a.fake != nil {
		a.fake.Close()
	}
}

// client is a client of location g with the live API's rate limiter.
func (a *apiSide) client(g *gym) (*contacts.Client, error) {
	return contacts.NewClient(contacts.WithBaseURL(a.url), contacts.WithToken(g.token),
		contacts.WithLocationID(g.id), contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
}

// emails counts location g's contacts by email: in the embedded fake's
// memory, or through the API.
func (a *apiSide) emails(ctx context.Context, g *gym) (map[string]int, error) {
	out := map[string]int{}
	if a.fake != nil {
		for _, c := range a.fake.Contacts(g.id) {
			out[c.Email]++
		}
		return out, nil
	}
	c, err := a.client(g)
	if err != nil {
		return nil, err
	}
	for ct, err := range c.Contacts.SearchAll(ctx, contacts.SearchParams{PageLimit: 500}) {
		if err != nil {
			return nil, fmt.Errorf("reading the contacts of %s: %w", g.id, err)
		}
		out[ct.Email]++
	}
	return out, nil
}

func run(ctx context.Context, args []string, out, errOut io.Writer, getenv func(string) string) error {
	cfg, err := parseFlags(args, errOut, getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))

	api, err := openAPI(cfg)
	if err != nil {
		return err
	}
	defer api.close()
	gyms := api.gyms
	byID := map[string]*gym{}
	for _, g := range gyms {
		byID[g.id] = g
	}
	cfg.workers = cmp.Or(cfg.workers, min(len(gyms), 100))
	mapping, err := contactsync.NewMapping(
		contactsync.Map("first_name", "firstName", contactsync.Required()),
		contactsync.Map("last_name", "lastName"),
		contactsync.Map("email", "email", contactsync.Transform(contactsync.Email)),
	)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	metrics := prommetrics.New(reg)
	engine := func(state *sqlstore.DB) func(context.Context, string) (*contactsync.Engine, error) {
		return fleet.Cached(func(ctx context.Context, loc string) (*contactsync.Engine, error) {
			g := byID[loc]
			if g == nil {
				return nil, fmt.Errorf("unknown location %q", loc)
			}
			client, err := api.client(g)
			if err != nil {
				return nil, err
			}
			s, err := state.Location(loc)
			if err != nil {
				return nil, err
			}
			return contactsync.NewEngine(client, s, mapping, contactsync.WithMetrics(metrics.With("location", loc)))
		})
	}
	fcfg := fleet.Config{Workers: cfg.workers, Logger: logger, Metrics: metrics, MetricsEvery: time.Second,
		InsertOnly: cfg.role == roleEnqueue}

	var r runner
	if cfg.database == "" {
		r, err = openSQLite(ctx, cfg, fcfg, engine, out)
	} else {
		r, err = openPostgres(ctx, cfg, fcfg, engine, out)
	}
	if err != nil {
		return err
	}
	defer r.close()
	if cfg.httpAddr != "" {
		stopHTTP, err := serve(ctx, cfg.httpAddr, reg, r, logger, out)
		if err != nil {
			return err
		}
		defer stopHTTP()
	}
	if cfg.role == roleWorker {
		return work(ctx, r, reg, len(gyms), cfg.workers, out)
	}
	if cfg.role == roleAll {
		if err := r.start(ctx); err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			r.stop(sctx)
		}()
	}

	// GymFlow saves its members, a transaction at a time, while the
	// workers run; the progress streams meanwhile.
	start := time.Now()
	total := len(gyms) * cfg.members
	fmt.Fprintf(out, "enqueueing %d members of %d locations (%d per transaction)\n", total, len(gyms), cfg.perTx)
	enqueued := make(chan error, 1)
	go func() { enqueued <- enqueueAll(ctx, r, gyms, cfg) }()
	if err := follow(ctx, r, api, cfg, start, enqueued, out); err != nil {
		return err
	}
	return report(ctx, out, api, cfg, time.Since(start))
}

// work runs this process's workers until ctx ends (SIGINT, SIGTERM or
// -timeout), then finishes or hands back the jobs it holds.
func work(ctx context.Context, r runner, reg *prometheus.Registry, locations, workers int, out io.Writer) error {
	if err := r.start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "worker: %d locations, up to %d jobs at once; stop with SIGINT or SIGTERM\n", locations, workers)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := r.stop(sctx)
	fmt.Fprintf(out, "worker: stopped after %.0f API calls of its own\n", apiCalls(reg))
	return err
}

// apiCalls sums the fleet's API call counter in reg.
func apiCalls(reg *prometheus.Registry) float64 {
	families, _ := reg.Gather()
	sum := 0.0
	for _, f := range families {
		if f.GetName() == fleet.MetricAPICalls {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// member is GymFlow's member i of a location.
func member(loc string, i int) contactsync.Member {
	id := fmt.Sprintf("m%05d", i)
	m := contactsync.Member{ID: id, Fields: map[string]any{
		"first_name": fmt.Sprintf("Member %d", i),
		"last_name":  strings.ToUpper(loc[:1]) + loc[1:],
		"email":      fmt.Sprintf("%s.%s@members.example", id, loc),
	}, Tags: []string{"member"}}
	if i%3 == 0 {
		m.Tasks = []contactsync.Task{{ID: id + "-welcome", Title: "Welcome call", Due: time.Now().Add(72 * time.Hour)}}
	}
	if i%4 == 0 {
		m.Notes = []contactsync.Note{{ID: id + "-joined", Body: "Joined at the front desk"}}
	}
	return m
}

// enqueueAll saves every location's members, round-robin over the
// locations, perTx members per transaction.
func enqueueAll(ctx context.Context, r runner, gyms []*gym, cfg config) error {
	for from := 0; from < cfg.members; from += cfg.perTx {
		for _, g := range gyms {
			var chs []contactsync.Change
			for i := from; i < min(from+cfg.perTx, cfg.members); i++ {
				chs = append(chs, contactsync.MemberUpserted{Member: member(g.id, i)})
			}
			if err := r.enqueue(ctx, g.id, chs); err != nil {
				return err
			}
		}
	}
	return nil
}

// follow prints the progress every second until every location's queue
// is empty (and, with the embedded fake, its contacts are there).
func follow(ctx context.Context, r runner, api *apiSide, cfg config, start time.Time, enqueued <-chan error, out io.Writer) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastLine := time.Time{}
	doneEnqueueing := false
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped before the end: %w", context.Cause(ctx))
		case err := <-enqueued:
			if err != nil {
				return fmt.Errorf("enqueueing: %w", err)
			}
			doneEnqueueing = true
			fmt.Fprintf(out, "%6.1fs  every change enqueued\n", time.Since(start).Seconds())
			continue
		case <-tick.C:
		}
		backlogs, err := r.backlogs(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		queued, synced, finished := 0, 0, 0
		for _, g := range api.gyms {
			b := backlogs[g.id]
			queued += b.Changes
			if !b.OldestChange.IsZero() {
				g.maxLag = max(g.maxLag, now.Sub(b.OldestChange))
			}
			n := -1 // not known: another process's API
			if api.fake != nil {
				n = len(api.fake.Contacts(g.id))
				synced += n
			}
			if g.doneAt == 0 && doneEnqueueing && b.Changes == 0 && (n < 0 || n == cfg.members) {
				g.doneAt = now.Sub(start)
				fmt.Fprintf(out, "%6.1fs  %s done\n", g.doneAt.Seconds(), g.id)
			}
			if g.doneAt != 0 {
				finished++
			}
		}
		if now.Sub(lastLine) >= time.Second || finished == len(api.gyms) {
			lastLine = now
			if api.fake != nil {
				fmt.Fprintf(out, "%6.1fs  %d/%d members synced, %d/%d locations done, %d API requests\n",
					now.Sub(start).Seconds(), synced, len(api.gyms)*cfg.members, finished, len(api.gyms), api.fake.RequestCount())
			} else {
				fmt.Fprintf(out, "%6.1fs  %d changes queued, %d/%d locations done\n", now.Sub(start).Seconds(), queued, finished, len(api.gyms))
			}
		}
		if finished == len(api.gyms) {
			return nil
		}
	}
}

// report prints the table per location and checks every member is there
// once: the API calls and 429s are the embedded fake's count, and only
// shown with it.
func report(ctx context.Context, out io.Writer, api *apiSide, cfg config, took time.Duration) error {
	calls, tooMany := map[string]int{}, map[string]int{}
	if api.fake != nil {
		for _, req := range api.fake.Requests() {
			calls[req.Location]++
			if req.Status == http.StatusTooManyRequests {
				tooMany[req.Location]++
			}
		}
		fmt.Fprintf(out, "\n%-10s %8s %8s %6s %9s %9s\n", "location", "members", "calls", "429s", "max lag", "done at")
	} else {
		fmt.Fprintf(out, "\n%-10s %8s %9s %9s\n", "location", "members", "max lag", "done at")
	}
	var bad []string
	totalCalls, total429 := 0, 0
	for _, g := range api.gyms {
		emails, err := api.emails(ctx, g)
		if err != nil {
			return err
		}
		dup := 0
		for _, n := range emails {
			dup += n - 1
		}
		if len(emails) != cfg.members || dup > 0 {
			bad = append(bad, fmt.Sprintf("%s: %d members, %d duplicates", g.id, len(emails), dup))
		}
		if api.fake == nil {
			fmt.Fprintf(out, "%-10s %8d %8.1fs %8.1fs\n", g.id, len(emails), g.maxLag.Seconds(), g.doneAt.Seconds())
			continue
		}
		totalCalls += calls[g.id]
		total429 += tooMany[g.id]
		fmt.Fprintf(out, "%-10s %8d %8d %6d %8.1fs %8.1fs\n", g.id, len(emails), calls[g.id], tooMany[g.id], g.maxLag.Seconds(), g.doneAt.Seconds())
	}
	if api.fake != nil {
		rate := float64(totalCalls) / took.Seconds()
		fmt.Fprintf(out, "\n%d locations, %d members each, in %.1fs: %d API requests (%.0f/s, %.0f%% of %d locations' 10/s), %d × 429\n",
			len(api.gyms), cfg.members, took.Seconds(), totalCalls, rate, 100*rate/float64(10*len(api.gyms)), len(api.gyms), total429)
	} else {
		fmt.Fprintf(out, "\n%d locations, %d members each, in %.1fs, checked through the API\n", len(api.gyms), cfg.members, took.Seconds())
	}
	if len(bad) > 0 {
		return fmt.Errorf("locations not in step with GymFlow:\n  %s", strings.Join(bad, "\n  "))
	}
	return nil
}

// runner is the fleet on its database, whichever it is.
type runner interface {
	start(ctx context.Context) error
	stop(ctx context.Context) error
	enqueue(ctx context.Context, loc string, chs []contactsync.Change) error
	backlogs(ctx context.Context) (map[string]fleet.Backlog, error)
	// riverUI is River's UI over the fleet's jobs, running until ctx ends.
	riverUI(ctx context.Context, logger *slog.Logger) (http.Handler, error)
	close()
}

type fleetRunner[TTx any] struct {
	f       *fleet.Fleet[TTx]
	inTx    func(ctx context.Context, fn func(TTx) error) error
	closers []func()
}

func (r *fleetRunner[TTx]) start(ctx context.Context) error { return r.f.Start(ctx) }
func (r *fleetRunner[TTx]) stop(ctx context.Context) error  { return r.f.Stop(ctx) }
func (r *fleetRunner[TTx]) backlogs(ctx context.Context) (map[string]fleet.Backlog, error) {
	return r.f.Backlogs(ctx)
}

// enqueue is GymFlow saving members: its own writes (here none) and the
// fleet's enqueue in one transaction.
func (r *fleetRunner[TTx]) enqueue(ctx context.Context, loc string, chs []contactsync.Change) error {
	return r.inTx(ctx, func(tx TTx) error { return r.f.Enqueue(ctx, tx, loc, chs...) })
}

func (r *fleetRunner[TTx]) riverUI(ctx context.Context, logger *slog.Logger) (http.Handler, error) {
	h, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(r.f.Client(), nil), Logger: logger, Prefix: "/riverui"})
	if err != nil {
		return nil, err
	}
	if err := h.Start(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// open builds the fleet over the sync's state and migrates its tables;
// on failure it closes what the runner holds.
func (r *fleetRunner[TTx]) open(ctx context.Context, state *sqlstore.DB, fcfg fleet.Config, engine engineFactory,
	build func(fleet.Config) (*fleet.Fleet[TTx], error)) error {
	r.closers = append(r.closers, func() { state.Close() })
	fcfg.Engine = engine(state)
	f, err := build(fcfg)
	if err == nil {
		err = f.Migrate(ctx)
	}
	if err != nil {
		r.close()
		return err
	}
	r.f = f
	return nil
}

// engineFactory makes Config.Engine over a state database.
type engineFactory = func(*sqlstore.DB) func(context.Context, string) (*contactsync.Engine, error)

func (r *fleetRunner[TTx]) close() {
	for _, c := range slices.Backward(r.closers) {
		c()
	}
}

func openSQLite(ctx context.Context, cfg config, fcfg fleet.Config, engine engineFactory, out io.Writer) (runner, error) {
	dir := cfg.data
	r := &fleetRunner[*sql.Tx]{}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "gymflow-fleet-")
		if err != nil {
			return nil, err
		}
		dir = tmp
		r.closers = append(r.closers, func() { os.RemoveAll(tmp) })
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "gymflow.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		r.close()
		return nil, err
	}
	r.closers = append(r.closers, func() { db.Close() })
	state, err := sqlstore.OpenSQLite(filepath.Join(dir, "sync.db"))
	if err != nil {
		r.close()
		return nil, err
	}
	if err := r.open(ctx, state, fcfg, engine, func(c fleet.Config) (*fleet.Fleet[*sql.Tx], error) { return fleet.NewSQLite(db, c) }); err != nil {
		return nil, err
	}
	r.inTx = func(ctx context.Context, fn func(*sql.Tx) error) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	fmt.Fprintf(out, "database: embedded SQLite in %s (River's riversqlite driver)\n", dir)
	return r, nil
}

func openPostgres(ctx context.Context, cfg config, fcfg fleet.Config, engine engineFactory, out io.Writer) (runner, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.database)
	if err != nil {
		return nil, fmt.Errorf("-database: %w", err)
	}
	// A connection per running job (its location's lock), River's own,
	// and GymFlow's transactions.
	pcfg.MaxConns = int32(cfg.workers + 10)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	r := &fleetRunner[pgx.Tx]{closers: []func(){pool.Close}}
	raw, err := sql.Open("pgx", cfg.database)
	if err != nil {
		r.close()
		return nil, err
	}
	r.closers = append(r.closers, func() { raw.Close() })
	state, err := sqlstore.New(raw, sqlstore.Postgres)
	if err == nil {
		err = state.Migrate(ctx)
	}
	if err != nil {
		r.close()
		return nil, err
	}
	if err := r.open(ctx, state, fcfg, engine, func(c fleet.Config) (*fleet.Fleet[pgx.Tx], error) { return fleet.NewPostgres(pool, c) }); err != nil {
		return nil, err
	}
	r.inTx = func(ctx context.Context, fn func(pgx.Tx) error) error { return pgx.BeginFunc(ctx, pool, fn) }
	fmt.Fprintln(out, "database: PostgreSQL (River's riverpgxv5 driver)")
	return r, nil
}

// serve serves /metrics and River UI on addr until the returned stop.
func serve(ctx context.Context, addr string, reg *prometheus.Registry, r runner, logger *slog.Logger, out io.Writer) (func(), error) {
	ui, err := r.riverUI(ctx, logger)
	if err != nil {
		return nil, fmt.Errorf("starting River UI: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/riverui/", ui)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ln) })
	fmt.Fprintf(out, "serving http://%s/metrics and http://%s/riverui/\n", ln.Addr(), ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		wg.Wait()
	}, nil
}
