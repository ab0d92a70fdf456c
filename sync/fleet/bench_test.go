package fleet_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/fleet"
)

// The fleet's measurements run only with CONTACTSYNC_LONG=1:
//
//	CONTACTSYNC_LONG=1 go test -run 'TestLongFleet' -v -timeout 60m ./sync/fleet/
//
// CONTACTSYNC_LONG_FLEET_SIZES (comma-separated) replaces the location
// counts 10, 100 and 1,000.
func skipUnlessLong(t *testing.T) {
	t.Helper()
	if os.Getenv("CONTACTSYNC_LONG") != "1" {
		t.Skip("a long measurement: set CONTACTSYNC_LONG=1 to run it")
	}
}

func fleetSizes(t *testing.T) []int {
	sizes := []int{10, 100, 1000}
	if s := os.Getenv("CONTACTSYNC_LONG_FLEET_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	return sizes
}

// The measurement: every location has more work than the window can take
// (benchMembers contacts to create, 10 requests a second), the workers
// run, and the window [benchWarm, benchWarm+benchWindow) after they start
// counts the requests the fake served per location (its first window's
// burst of 100 is outside).
const (
	benchMembers = 500
	benchWarm    = 10 * time.Second
	benchWindow  = 30 * time.Second
)

type fleetRow struct {
	store                       string
	procs, locations            int
	perSec, minUse, medUse, p10 float64
	tooMany                     int
	enqueued                    time.Duration
}

func TestLongFleetThroughput(t *testing.T) {
	skipUnlessLong(t)
	var rows []fleetRow
	for _, n := range fleetSizes(t) {
		if os.Getenv("CONTACTSYNC_LONG_FLEET_PG_ONLY") == "" {
			rows = append(rows, benchSQLite(t, n))
		}
		rows = append(rows, benchPostgres(t, n, 1))
		rows = append(rows, benchPostgres(t, n, 3))
	}
	var b strings.Builder
	b.WriteString("\n| store | worker processes | locations | requests/s | × the locations' 10/s | budget use: lowest / p10 / median location | 429s | all enqueued after |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %.2f | %.0f%% / %.0f%% / %.0f%% | %d | %.1f s |\n", r.store, r.procs, r.locations, r.perSec,
			r.perSec/float64(10*r.locations), 100*r.minUse, 100*r.p10, 100*r.medUse, r.tooMany, r.enqueued.Seconds())
	}
	t.Log(b.String())
}

// measure reads the fake's log for the window after start.
func measure(srv *contactstest.Server, locs []string, start time.Time) (perSec float64, uses []float64, tooMany int) {
	from, to := start.Add(benchWarm), start.Add(benchWarm+benchWindow)
	served := map[string]int{}
	total := 0
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.Path, "/oauth/") || r.Time.Before(from) || !r.Time.Before(to) {
			continue
		}
		if r.Status == 429 {
			tooMany++
			continue
		}
		served[r.Location]++
		total++
	}
	for _, loc := range locs {
		uses = append(uses, float64(served[loc])/(10*benchWindow.Seconds()))
	}
	slices.Sort(uses)
	return float64(total) / benchWindow.Seconds(), uses, tooMany
}

func row(store string, procs int, locs []string, perSec float64, uses []float64, tooMany int, enq time.Duration) fleetRow {
	return fleetRow{store: store, procs: procs, locations: len(locs), perSec: perSec, minUse: uses[0],
		p10: uses[len(uses)/10], medUse: uses[len(uses)/2], tooMany: tooMany, enqueued: enq}
}

// benchChanges are a location's changes: benchMembers new contacts.
func benchChanges(from, to int) []contactsync.Change {
	var chs []contactsync.Change
	for i := from; i < to; i++ {
		chs = append(chs, contactsync.MemberUpserted{Member: contactsync.Member{ID: fmt.Sprintf("m%04d", i),
			Fields: map[string]any{"first_name": "Member", "email": fmt.Sprintf("m%04d@example.com", i)}}})
	}
	return chs
}

// enqueueAllBench enqueues every location's changes, 100 per transaction,
// round-robin, and returns how long it took.
func enqueueAllBench(t *testing.T, locs []string, enqueue func(loc string, chs []contactsync.Change) error) time.Duration {
	start := time.Now()
	for from := 0; from < benchMembers; from += 100 {
		chs := benchChanges(from, from+100)
		for _, loc := range locs {
			if err := enqueue(loc, chs); err != nil {
				t.Fatal(err)
			}
		}
	}
	return time.Since(start)
}

func benchSQLite(t *testing.T, n int) fleetRow {
	srv := contactstest.NewServer(contactstest.WithRequestLogLimit(1 << 24))
	defer srv.Close()
	db, state := openSQLite(t)
	m := mapping(t)
	locs, clients := fakeLocations(t, srv, n, "gym%04d")
	cfg := fleet.Config{Workers: n, Batch: 100, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg.Engine = fleet.Cached(func(ctx context.Context, loc string) (*contactsync.Engine, error) {
		s, err := state.Location(loc)
		if err != nil {
			return nil, err
		}
		return contactsync.NewEngine(clients[loc], s, m)
	})
	f, err := fleet.NewSQLite(db, cfg)
	if err == nil {
		err = f.Migrate(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	enq := enqueueAllBench(t, locs, func(loc string, chs []contactsync.Change) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := f.Enqueue(ctx, tx, loc, chs...); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
	time.Sleep(time.Until(start.Add(benchWarm + benchWindow)))
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	f.Stop(sctx)
	cancel()
	perSec, uses, tooMany := measure(srv, locs, start)
	t.Logf("SQLite, 1 process, %d locations: %.0f requests/s, use %.2f–%.2f, %d × 429, enqueued in %s", n, perSec, uses[0], uses[len(uses)-1], tooMany, enq)
	return row("SQLite", 1, locs, perSec, uses, tooMany, enq)
}

func benchPostgres(t *testing.T, n, procs int) fleetRow {
	rig := newKillRig(t, n, contactstest.DefaultRateLimits(), 0)
	ctx := context.Background()
	var workers []*worker
	start := time.Now()
	for range procs {
		// A worker per location in all, shared by the processes: a job
		// spends most of its time waiting for its location's rate limit.
		workers = append(workers, rig.start(killEnvSlice+"=1m", killEnvWorkers+"="+strconv.Itoa((n+procs-1)/procs), killEnvBatch+"=100", killEnvTimeout+"=30s", killEnvLease+"=30s"))
	}
	defer func() {
		for _, w := range workers {
			w.cmd.Process.Signal(syscall.SIGKILL)
			<-w.done
		}
	}()
	enq := enqueueAllBench(t, rig.locs, func(loc string, chs []contactsync.Change) error {
		return pgx.BeginFunc(ctx, rig.pool, func(tx pgx.Tx) error { return rig.gym.Enqueue(ctx, tx, loc, chs...) })
	})
	time.Sleep(time.Until(start.Add(benchWarm + benchWindow)))
	perSec, uses, tooMany := measure(rig.srv, rig.locs, start)
	t.Logf("PostgreSQL, %d processes, %d locations: %.0f requests/s, use %.2f–%.2f, %d × 429, enqueued in %s", procs, n, perSec, uses[0], uses[len(uses)-1], tooMany, enq)
	return row("PostgreSQL", procs, rig.locs, perSec, uses, tooMany, enq)
}

// TestLongFleetLatency measures, on an idle fleet, the time from the
// commit of one member's change to the fake's creating its contact.
func TestLongFleetLatency(t *testing.T) {
	skipUnlessLong(t)
	for _, store := range []string{"SQLite", "PostgreSQL"} {
		var e interface {
			lat(t *testing.T) []time.Duration
		}
		if store == "SQLite" {
			e = latEnv[*sql.Tx]{sqliteEnv(t, 1, fleet.Config{})}
		} else {
			e = latEnv[pgx.Tx]{postgresEnv(t, 1, fleet.Config{})}
		}
		d := e.lat(t)
		slices.Sort(d)
		t.Logf("%s: enqueue to contact created, %d changes one at a time: p50 %s, p99 %s, max %s", store, len(d),
			d[len(d)/2].Round(100*time.Microsecond), d[len(d)*99/100].Round(100*time.Microsecond), d[len(d)-1].Round(100*time.Microsecond))
	}
}

type latEnv[TTx any] struct{ e *env[TTx] }

func (l latEnv[TTx]) lat(t *testing.T) []time.Duration {
	e := l.e
	e.start(t)
	loc := e.locs[0]
	var out []time.Duration
	for i := range 100 {
		id := fmt.Sprintf("lat%03d", i)
		start := time.Now()
		e.enqueue(t, true, loc, contactsync.MemberUpserted{Member: member(id, "Latency")})
		for {
			if _, ok := e.contactsOf(loc)[id+"@example.com"]; ok {
				break
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s not created", id)
			}
			time.Sleep(200 * time.Microsecond)
		}
		out = append(out, time.Since(start))
		time.Sleep(150 * time.Millisecond) // idle again: the job has completed
	}
	return out
}
