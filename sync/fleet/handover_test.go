package fleet_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/internal/pgtest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/fleet"
)

// Two fleets on one database stand for two worker processes of one app,
// each with its own clients of the location. A job takes one batch, then
// hands the location on, so within one rate-limit window the location goes
// back and forth between them. Two ways to a 429, both seen here before
// their fixes: a client that took the location back paced itself by the
// count it read before the other spent part of the window (so the job
// resets the count on take-over); and a job that took over a window the
// last one had spent found out by a 429 (so a job that saw its window spent
// keeps the location until the window ends).
func TestPostgresHandoverDrawsNo429(t *testing.T) {
	const nLocs, members = 1, 160
	url := pgtest.URL(t)
	// The live API's window, shortened so that the test lasts seconds: 16
	// requests per second, per app and location — two batches, so that
	// windows are spent just as a job hands the location on.
	srv := contactstest.NewServer(contactstest.WithRequestLogLimit(1<<16),
		contactstest.WithRateLimits(contactstest.RateLimits{Burst: 16, Interval: time.Second, Daily: 1 << 20}))
	t.Cleanup(srv.Close)
	var locs []string
	for i := range nLocs {
		locs = append(locs, srv.AddLocation(fmt.Sprintf("hand%02d", i), "", contactstest.LocationSettings{}))
	}
	state := pgState(t, url)
	m := mapping(t)

	newFleet := func(name string) *fleet.Fleet[pgx.Tx] {
		pool := newPool(t, url)
		// This "process's" own tokens and clients. The clients' token
		// buckets do not pace them: the window's count alone keeps them
		// within it.
		tokens := map[string]string{}
		for _, loc := range locs {
			tokens[loc] = srv.IssueToken(contactstest.TokenSpec{LocationID: loc, AppID: "gymflow"})
		}
		cfg := fleet.Config{Workers: 2, Batch: 8, Slice: time.Millisecond}
		cfg.Engine = fleet.Cached(func(ctx context.Context, loc string) (*contactsync.Engine, error) {
			tok, ok := tokens[loc]
			if !ok {
				return nil, fmt.Errorf("no location %q", loc)
			}
			c, err := contacts.NewClient(contacts.WithBaseURL(srv.URL), contacts.WithToken(tok),
				contacts.WithLocationID(loc), contacts.WithRateLimiter(rate.NewLimiter(1000, 1000)), contacts.WithHTTPClient(&http.Client{Transport: wayBack{50 * time.Millisecond}}))
			if err != nil {
				return nil, err
			}
			s, err := state.Location(loc)
			if err != nil {
				return nil, err
			}
			return contactsync.NewEngine(c, s, m, contactsync.WithConcurrency(8))
		})
		f, err := fleet.NewPostgres(pool, cfg)
		if err == nil {
			err = f.Migrate(context.Background())
		}
		if err != nil {
			t.Fatalf("fleet %s: %v", name, err)
		}
		return f
	}
	a, b := newFleet("a"), newFleet("b")
	for _, f := range []*fleet.Fleet[pgx.Tx]{a, b} {
		if err := f.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			f.Stop(ctx)
		})
	}

	pool := newPool(t, url)
	for _, loc := range locs {
		var chs []contactsync.Change
		for i := range members {
			chs = append(chs, contactsync.MemberUpserted{Member: member(fmt.Sprintf("%s-m%03d", loc, i), fmt.Sprintf("Member %d", i))})
		}
		if err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error { return a.Enqueue(context.Background(), tx, loc, chs...) }); err != nil {
			t.Fatal(err)
		}
	}
	waitDrained(t, a, 2*time.Minute)

	ran := map[string]int{} // requests per location
	tooMany := 0
	for _, r := range srv.Requests() {
		ran[r.Location]++
		if r.Status == http.StatusTooManyRequests {
			tooMany++
		}
	}
	for _, loc := range locs {
		if n := len(srv.Contacts(loc)); n != members {
			t.Errorf("%s: %d contacts, want %d", loc, n, members)
		}
	}
	if tooMany != 0 {
		t.Errorf("%d × 429 over %v requests per location", tooMany, ran)
	}
}

// wayBack is the network between the workers and the API: a response
// takes a while to come back, so requests sent together overlap, as they
// do against the live API.
type wayBack struct{ d time.Duration }

func (w wayBack) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	time.Sleep(w.d)
	return resp, err
}

// Workers of a new deployment start together: each migrates at start, on a
// fresh database, and every one of them must succeed.
func TestPostgresMigrateFromManyProcessesAtOnce(t *testing.T) {
	url := pgtest.URL(t)
	const n = 4
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		pool := newPool(t, url)
		f, err := fleet.NewPostgres(pool, fleet.Config{InsertOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			<-start
			errs <- f.Migrate(context.Background())
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// newPool is a pool of connections to url, closed when t ends.
func newPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
