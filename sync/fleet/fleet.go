package fleet

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/internal/sqldb"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// Defaults of Config.
const (
	DefaultQueue   = "contactsync"
	DefaultWorkers = 10
	DefaultBatch   = 500
	DefaultSlice   = time.Minute
	DefaultPrefix  = "contactsync_"

	DefaultCycleEvery     = 5 * time.Minute
	DefaultReconcileEvery = 24 * time.Hour
	DefaultTick           = time.Minute
	DefaultRefreshLimit   = 50
	DefaultLeaseTTL       = 30 * time.Second
)

// newOwner names this process in run leases: host, process and a random
// part, so that two processes never share a name.
func newOwner() string {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
}

// Config configures a Fleet.
type Config struct {
	// Engine returns the engine of a location: its client (with the
	// location's token and rate limiter) over its store (a sqlstore
	// location, whose lease keeps one engine per location running). It is
	// called for each job; it may return a cached engine. Required unless
	// InsertOnly.
	Engine func(ctx context.Context, location string) (*contactsync.Engine, error)

	// Inbound returns the inbound side of a location (over its store, as
	// Engine). Required for Deliver and for the periodic cycles.
	Inbound func(ctx context.Context, location string) (*contactsync.Inbound, error)
	// Locations lists the locations whose inbound side runs periodically:
	// a Cycle (contact poll, dirty refresh, inbox) every CycleEvery
	// (DefaultCycleEvery) and a Reconcile every ReconcileEvery
	// (DefaultReconcileEvery), each location at its own offset within
	// the period. A negative period turns that task off. The fleet's
	// leader calls it every Tick (DefaultTick) and schedules what falls
	// due in the next Tick. Nil: no periodic work.
	Locations      func(ctx context.Context) ([]string, error)
	CycleEvery     time.Duration
	ReconcileEvery time.Duration
	Tick           time.Duration
	// RefreshLimit bounds the contacts a Cycle re-reads
	// (DefaultRefreshLimit).
	RefreshLimit int

	// InsertOnly makes a fleet that only enqueues (GymFlow's web
	// processes): it runs no jobs.
	InsertOnly bool
	// Queue is the River queue of the fleet's jobs (DefaultQueue), and
	// Workers how many of its jobs this process runs at once
	// (DefaultWorkers).
	Queue   string
	Workers int
	// Batch bounds the changes one Apply takes from the outbox
	// (DefaultBatch); Slice how long one job drains its location before it
	// hands the rest on to a new job at the back of the queue
	// (DefaultSlice), so that a location with a backlog does not hold a
	// worker for hours, nor run long enough to look stuck to River.
	Batch int
	Slice time.Duration
	// RescueAfter is how long a job may run before River takes its worker
	// for dead and runs it again (River's RescueStuckJobsAfter; default
	// 10 × Slice, at least 5 minutes). A job is cancelled a little before
	// (at RescueAfter − Slice/2): leave room for a batch's API calls at the
	// location's rate and for the engine's WithResolveGrace (30 s by
	// default), which a run waits out before looking up a create that a
	// killed worker left pending.
	RescueAfter time.Duration
	// TablePrefix prefixes the fleet's tables (DefaultPrefix). River's
	// tables are River's own.
	TablePrefix string
	// Logger receives the fleet's and River's logs (slog.Default()).
	Logger *slog.Logger
	// LeaseTTL is how long a location's run lease lasts unless renewed
	// (DefaultLeaseTTL): a worker killed while running a location's job
	// keeps the location's other jobs waiting that long.
	LeaseTTL time.Duration
	// Metrics receives the fleet's metrics (the Metric… names), and
	// MetricsEvery sets how often the queues are reported
	// (DefaultMetricsEvery).
	Metrics      contactsync.Metrics
	MetricsEvery time.Duration
}

func (c *Config) setDefaults() error {
	c.Queue = cmp.Or(c.Queue, DefaultQueue)
	c.Workers = cmp.Or(c.Workers, DefaultWorkers)
	c.Batch = cmp.Or(c.Batch, DefaultBatch)
	c.Slice = cmp.Or(c.Slice, DefaultSlice)
	c.RescueAfter = cmp.Or(c.RescueAfter, max(10*c.Slice, 5*time.Minute))
	c.TablePrefix = cmp.Or(c.TablePrefix, DefaultPrefix)
	c.CycleEvery = cmp.Or(c.CycleEvery, DefaultCycleEvery)
	c.ReconcileEvery = cmp.Or(c.ReconcileEvery, DefaultReconcileEvery)
	c.Tick = cmp.Or(c.Tick, DefaultTick)
	c.RefreshLimit = cmp.Or(c.RefreshLimit, DefaultRefreshLimit)
	c.MetricsEvery = cmp.Or(c.MetricsEvery, DefaultMetricsEvery)
	c.LeaseTTL = cmp.Or(c.LeaseTTL, DefaultLeaseTTL)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case !c.InsertOnly && c.Engine == nil:
		return errors.New("fleet: Config.Engine is required (or InsertOnly)")
	case !c.InsertOnly && c.Locations != nil && c.Inbound == nil:
		return errors.New("fleet: Config.Locations needs Config.Inbound")
	case c.Workers < 0 || c.Batch < 0 || c.Slice < 0 || c.RescueAfter < 0 || c.Tick < 0 || c.RefreshLimit < 0 || c.MetricsEvery < 0:
		return errors.New("fleet: Workers, Batch, Slice, RescueAfter, Tick, RefreshLimit and MetricsEvery must not be negative")
	case c.LeaseTTL < 0 || (c.LeaseTTL > 0 && c.LeaseTTL < 300*time.Millisecond):
		return fmt.Errorf("fleet: LeaseTTL (%s) must be at least 300 ms", c.LeaseTTL)
	case c.Tick < time.Second:
		return fmt.Errorf("fleet: Tick (%s) must be at least a second", c.Tick)
	case !validPrefix.MatchString(c.TablePrefix):
		return fmt.Errorf("fleet: table prefix %q: only letters, digits and underscores, not starting with a digit", c.TablePrefix)
	case c.RescueAfter <= c.Slice:
		return fmt.Errorf("fleet: RescueAfter (%s) must be longer than Slice (%s)", c.RescueAfter, c.Slice)
	}
	return nil
}

var validPrefix = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,40}$`)

// Fleet runs the sync of many locations as River jobs. TTx is the
// transaction type of its River driver: pgx.Tx for PostgreSQL (NewPostgres),
// *sql.Tx for SQLite (NewSQLite). GymFlow enqueues changes in its own
// transactions of that type (Enqueue).
type Fleet[TTx any] struct {
	cfg         Config
	owner       string       // this fleet's name in run leases
	seq         atomic.Int64 // makes each job's lease owner unique
	stopReports func()       // ends reportQueues and waits for it
	db          backend[TTx]
	client      *river.Client[TTx]
	q           queries
	// complete marks a job completed in a transaction (river.JobCompleteTx
	// for the fleet's driver).
	complete func(ctx context.Context, tx TTx, job *rivertype.JobRow) error
	migrate  func(ctx context.Context) error
}

// NewPostgres returns a fleet on PostgreSQL: River's pgx driver over pool,
// the outbox in the same database.
func NewPostgres(pool *pgxpool.Pool, cfg Config) (*Fleet[pgx.Tx], error) {
	if pool == nil {
		return nil, errors.New("fleet: a nil pool")
	}
	return newFleet(riverpgxv5.New(pool), pgBackend{pool: pool, prefix: cmp.Or(cfg.TablePrefix, DefaultPrefix)}, cfg)
}

// NewSQLite returns a fleet on SQLite: River's SQLite driver over db (a
// modernc.org/sqlite database with one connection, as River's SQLite
// driver asks: db.SetMaxOpenConns(1) is applied), the outbox in the same
// file. It runs in one process; a fleet of processes needs PostgreSQL.
func NewSQLite(db *sql.DB, cfg Config) (*Fleet[*sql.Tx], error) {
	if db == nil {
		return nil, errors.New("fleet: a nil database")
	}
	db.SetMaxOpenConns(1)
	return newFleet(riversqlite.New(db), sqliteBackend{db: db, locks: new(sync.Map)}, cfg)
}

func migrateRiver[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], logger *slog.Logger) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("fleet: River's migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("fleet: migrating River's tables: %w", err)
	}
	return nil
}

func newFleet[D riverdriver.Driver[TTx], TTx any](driver D, db backend[TTx], cfg Config) (*Fleet[TTx], error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	f := &Fleet[TTx]{cfg: cfg, db: db, q: buildQueries(db.dialect(), cfg.TablePrefix), owner: newOwner()}
	f.complete = func(ctx context.Context, tx TTx, job *rivertype.JobRow) error {
		_, err := river.JobCompleteTx[D](ctx, tx, &river.Job[outboundArgs]{JobRow: job})
		return err
	}
	f.migrate = func(ctx context.Context) error { return migrateRiver(ctx, driver, cfg.Logger) }
	rc := &river.Config{
		Logger:               cfg.Logger,
		RescueStuckJobsAfter: cfg.RescueAfter,
		// A job's own bound is Slice; River's timeout only backs it up.
		JobTimeout: cfg.RescueAfter - cfg.Slice/2,
		// Changes must never be discarded: a job fails only for reasons
		// that pass (a store or API outage), and is retried until they do,
		// soon (River's default backoff grows to days).
		MaxAttempts: 10_000,
		RetryPolicy: retryPolicy{},
	}
	if !cfg.InsertOnly {
		workers := river.NewWorkers()
		river.AddWorker(workers, &outboundWorker[TTx]{f: f})
		if cfg.Inbound != nil {
			river.AddWorker(workers, &inboundWorker[TTx]{f: f})
		}
		if cfg.Locations != nil {
			river.AddWorker(workers, &scheduleWorker[TTx]{f: f})
			rc.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(alignedEvery(cfg.Tick),
				func() (river.JobArgs, *river.InsertOpts) { return scheduleArgs{}, f.uniqueOpts() },
				&river.PeriodicJobOpts{RunOnStart: true, ID: "contactsync_schedule"})}
		}
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{cfg.Queue: {MaxWorkers: cfg.Workers}}
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	f.client = client
	return f, nil
}

// Client is the fleet's River client, for what the fleet does not wrap
// (subscriptions, River UI, listing jobs). Insert the fleet's jobs through
// Enqueue, not through it.
func (f *Fleet[TTx]) Client() *river.Client[TTx] { return f.client }

// Migrate creates River's tables (River's own migrations) and the fleet's.
// It is idempotent, and safe to run at every start from several processes
// at once: on PostgreSQL it holds an advisory lock meanwhile, so that
// processes starting together do not race on CREATE TYPE or CREATE TABLE
// (River's migrations from two processes at once fail one of them).
func (f *Fleet[TTx]) Migrate(ctx context.Context) error {
	return f.db.exclusive(ctx, func() error {
		if err := f.migrate(ctx); err != nil {
			return err
		}
		for _, stmt := range ddl(f.db.dialect(), f.cfg.TablePrefix) {
			if err := f.db.exec(ctx, stmt); err != nil {
				return fmt.Errorf("fleet: creating the fleet's tables: %w", err)
			}
		}
		return nil
	})
}

// Dialect is the SQL dialect of Schema (the one type of oauth, webhook and
// sqlstore).
type Dialect = sqldb.Dialect

// The dialects.
const (
	SQLite   = sqldb.SQLite
	Postgres = sqldb.Postgres
)

// Schema returns the statements that create the fleet's tables, for a
// migration tool of one's own (River's tables come from River's
// migrations: rivermigrate or the river CLI).
func Schema(d Dialect, tablePrefix string) (string, error) {
	if tablePrefix == "" {
		tablePrefix = DefaultPrefix
	}
	if !validPrefix.MatchString(tablePrefix) {
		return "", fmt.Errorf("fleet: table prefix %q: only letters, digits and underscores, not starting with a digit", tablePrefix)
	}
	return strings.Join(ddl(d, tablePrefix), ";\n\n") + ";\n", nil
}

// Start starts the fleet's workers (River's client); Stop lets the jobs
// in flight finish (each within Slice) and stops.
func (f *Fleet[TTx]) Start(ctx context.Context) error {
	if err := f.client.Start(ctx); err != nil {
		return err
	}
	if f.cfg.Metrics != nil && f.stopReports == nil {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		wg.Go(func() { f.reportQueues(rctx) })
		f.stopReports = func() { cancel(); wg.Wait() }
	}
	return nil
}

// Stop stops the fleet: no new job starts, the jobs in flight finish or
// are cancelled when ctx ends (their changes stay in the outbox and run
// again later). It returns once they have.
func (f *Fleet[TTx]) Stop(ctx context.Context) error {
	if f.stopReports != nil {
		f.stopReports()
		f.stopReports = nil
	}
	err := f.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		// Hand the jobs in flight back: cancelled, they return and River
		// records them for a retry.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return f.client.StopAndCancel(cctx)
	}
	return err
}

// Enqueue records changes of a location in GymFlow's transaction tx and
// schedules the location's sync job in the same transaction: if tx
// commits, the changes will be applied, in the order given (and after the
// location's changes committed before); if it rolls back, nothing was
// enqueued. A change committed while the location's job is running is
// applied by that job or by one that follows it, never lost.
//
// With PostgreSQL, tx holds a shared lock on the location until it ends,
// which keeps the location's job from reading past a change still being
// written; keep such transactions short.
func (f *Fleet[TTx]) Enqueue(ctx context.Context, tx TTx, location string, changes ...contactsync.Change) error {
	if err := checkLocation(location); err != nil {
		return err
	}
	if len(changes) == 0 {
		return nil
	}
	encoded := make([][]byte, len(changes))
	for i, ch := range changes {
		b, err := encodeChange(ch)
		if err != nil {
			return err
		}
		encoded[i] = b
	}
	if f.db.dialect() == sqldb.Postgres {
		if err := f.db.execTx(ctx, tx, f.q.lockShared, lockKey(location)); err != nil {
			return fmt.Errorf("fleet: locking location %q: %w", location, err)
		}
	}
	now := time.Now().UnixMilli()
	if f.q.out.insertMany != "" && len(encoded) > 1 {
		if err := f.db.execTx(ctx, tx, f.q.out.insertMany, location, now, encoded); err != nil {
			return fmt.Errorf("fleet: enqueueing the changes of location %q: %w", location, err)
		}
	} else {
		for _, b := range encoded {
			if err := f.db.execTx(ctx, tx, f.q.out.insert, location, b, now); err != nil {
				return fmt.Errorf("fleet: enqueueing a change of location %q: %w", location, err)
			}
		}
	}
	if _, err := f.client.InsertTx(ctx, tx, outboundArgs{Location: location}, f.uniqueOpts()); err != nil {
		return fmt.Errorf("fleet: scheduling the sync of location %q: %w", location, err)
	}
	return nil
}

// Backlog is what waits in a location's queues.
type Backlog struct {
	// Changes enqueued and not yet applied, and when the oldest was
	// enqueued (zero if none): the location's outbound lag.
	Changes      int
	OldestChange time.Time
	// Webhook deliveries not yet handed to the location's Inbound.
	Deliveries     int
	OldestDelivery time.Time
}

// Backlog reports what waits in a location's queues.
func (f *Fleet[TTx]) Backlog(ctx context.Context, location string) (Backlog, error) {
	var b Backlog
	for _, p := range []struct {
		query  string
		n      *int
		oldest *time.Time
	}{{f.q.out.pending, &b.Changes, &b.OldestChange}, {f.q.in.pending, &b.Deliveries, &b.OldestDelivery}} {
		var ms sql.NullInt64
		if err := f.db.queryRow(ctx, p.query, []any{location}, p.n, &ms); err != nil {
			return Backlog{}, fmt.Errorf("fleet: reading the queues of location %q: %w", location, err)
		}
		if ms.Valid {
			*p.oldest = time.UnixMilli(ms.Int64)
		}
	}
	return b, nil
}

func checkLocation(location string) error {
	if location == "" || len(location) > 256 || strings.ContainsAny(location, "\x00") {
		return fmt.Errorf("fleet: invalid location ID %q", location)
	}
	return nil
}

// lockKey is the PostgreSQL advisory lock of a location's queues.
func lockKey(location string) int64 {
	h := fnv.New64a()
	h.Write([]byte("contactsync/fleet/outbox\x00"))
	h.Write([]byte(location))
	return int64(h.Sum64())
}

// holdLocation takes the location's run lease for a job: one job of a
// location runs at a time across every process — outbound or inbound — so
// that the location's API rate limit and daily budget are spent by one
// client at a time. A job that finds it held is snoozed briefly. The lease
// is renewed every third of LeaseTTL while the job runs; if it is lost
// (the database unreachable past its expiry), the job's context ends. The
// job gives its client to the hold (use) and ends it (end).
func (f *Fleet[TTx]) holdLocation(ctx context.Context, loc string) (context.Context, *hold, error) {
	owner := f.owner + "/" + strconv.FormatInt(f.seq.Add(1), 10)
	ok, err := f.db.tryLease(ctx, loc, owner, f.cfg.LeaseTTL)
	if err != nil {
		return nil, nil, fmt.Errorf("fleet: taking the lease of location %q: %w", loc, err)
	}
	if !ok {
		f.count(MetricSnoozes, loc, 1, "reason", "busy")
		return nil, nil, river.JobSnooze(snoozeBusy)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(f.cfg.LeaseTTL / 3)
		defer t.Stop()
		held := time.Now() // the lease is ours until held + LeaseTTL at least
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.LeaseTTL/3)
			start := time.Now()
			ok, err := f.db.renewLease(rctx, loc, owner, f.cfg.LeaseTTL)
			rcancel()
			switch {
			case err == nil && ok:
				held = start
			case err == nil:
				cancel(fmt.Errorf("fleet: the lease of location %q was lost", loc))
				return
			case time.Since(held) >= f.cfg.LeaseTTL:
				// Not renewed for its whole lifetime: another process may
				// hold the location by now.
				cancel(fmt.Errorf("fleet: the lease of location %q expired while the database was unreachable: %w", loc, err))
				return
			}
		}
	})
	return ctx, &hold{release: func(quiet time.Duration) {
		close(done)
		wg.Wait()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if err := f.db.releaseLease(rctx, loc, owner, min(quiet, f.cfg.LeaseTTL)); err != nil {
			f.cfg.Logger.Warn("fleet: releasing the lease of a location (it expires by itself)", "location", loc, "err", err)
		}
		cancel(nil)
	}}, nil
}

// hold is a job's run lease of its location.
type hold struct {
	release func(quiet time.Duration)
	client  *contacts.Client
}

// use is the job's client of the location: it forgets the rate-limit count
// it last read, as another process may have run the location since and
// spent part of the window; its first request asks again.
func (h *hold) use(c *contacts.Client) {
	c.ResetRateLimit()
	h.client = c
}

// end releases the lease. If the job's client saw the location's window
// spent, the lease is kept until the window ends, at the latest: the next
// job (of any process) would otherwise find out with a 429.
func (h *hold) end() { h.release(windowSpent(h.client, time.Now())) }

// windowSpent is how long c holds its requests back because the server
// reported the window spent.
func windowSpent(c *contacts.Client, now time.Time) time.Duration {
	if c == nil {
		return 0
	}
	return max(c.RateLimitedUntil().Sub(now), 0)
}

// retryPolicy retries a failed job after 2^attempt seconds, at most a
// minute, with up to 20% jitter: a location's queue waits no longer than
// an outage lasts.
type retryPolicy struct{}

func (retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := time.Minute
	if job.Attempt < 6 {
		d = time.Duration(1<<max(job.Attempt, 0)) * time.Second
	}
	var b [1]byte
	rand.Read(b[:])
	d -= d * time.Duration(b[0]) / 255 / 5
	return time.Now().Add(d)
}

// Cached wraps a Config.Engine or Config.Inbound function so that each
// location's value is built once and reused by its later jobs (an engine
// keeps its rate limiter and spent budget between runs); a failed build is
// tried again on the next call.
func Cached[T any](build func(ctx context.Context, location string) (T, error)) func(ctx context.Context, location string) (T, error) {
	var (
		mu    sync.Mutex
		built = map[string]T{}
	)
	return func(ctx context.Context, location string) (T, error) {
		mu.Lock()
		defer mu.Unlock()
		if v, ok := built[location]; ok {
			return v, nil
		}
		v, err := build(ctx, location)
		if err != nil {
			return v, err
		}
		built[location] = v
		return v, nil
	}
}
