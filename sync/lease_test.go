package contactsync_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
)

// blockingSeq yields ms[0], then waits for release before yielding the
// rest, closing started when it first waits.
func blockingSeq(ms []contactsync.Member, started, release chan struct{}) func(func(contactsync.Member, error) bool) {
	return func(yield func(contactsync.Member, error) bool) {
		for i, m := range ms {
			if i == 1 {
				close(started)
				<-release
			}
			if !yield(m, nil) {
				return
			}
		}
	}
}

// TestEngineOneRunnerPerLocation: while one engine runs for a location,
// another engine on the same store fails at once with ErrLeaseHeld and
// makes no API call; with WithLeaseWait it waits for the first to finish.
func TestEngineOneRunnerPerLocation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := w.eng.SyncMembers(context.Background(), blockingSeq(members(3), started, release))
		done <- err
	}()
	<-started
	second := w.engine(w.client)
	before := w.srv.RequestCount()
	rep, err := second.SyncMembers(context.Background(), seq(members(5)))
	var held *contactsync.LeaseHeldError
	if !errors.Is(err, contactsync.ErrLeaseHeld) || !errors.As(err, &held) || held.Name != contactsync.LeaseEngine {
		t.Fatalf("second engine while the first runs: %v, want ErrLeaseHeld for the engine lease", err)
	}
	if n := w.srv.RequestCount() - before; n != 0 {
		t.Errorf("the refused engine made %d API calls", n)
	}
	if rep == nil || rep.Stopped == "" {
		t.Errorf("the refused run's report does not say why it stopped: %+v", rep)
	}

	// A waiting engine runs once the first is done.
	waiting := w.engine(w.client, contactsync.WithLeaseWait(time.Minute))
	waited := make(chan error, 1)
	go func() {
		_, err := waiting.SyncMembers(context.Background(), seq(members(5)))
		waited <- err
	}()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("first engine: %v", err)
	}
	if err := <-waited; err != nil {
		t.Fatalf("waiting engine: %v", err)
	}
	if n := len(w.srv.Contacts("")); n != 5 {
		t.Errorf("%d contacts, want 5, each once", n)
	}
}

// leaseThief is a store whose renewals of the holder's lease fail (the
// store unreachable for it) or lie (report success without renewing, as a
// holder paused past its lease would believe), so that the lease lapses
// and a second runner can take it over.
type leaseThief struct {
	*memstore.Store
	failRenew, lieRenew atomic.Bool
}

func (s *leaseThief) RenewLease(ctx context.Context, l contactsync.Lease, ttl time.Duration) (contactsync.Lease, error) {
	switch {
	case s.failRenew.Load():
		return contactsync.Lease{}, errors.New("store unreachable")
	case s.lieRenew.Load():
		l.Expires = time.Now().Add(ttl)
		return l, nil
	}
	return s.Store.RenewLease(ctx, l, ttl)
}

func (s *leaseThief) Fenced(l contactsync.Lease) contactsync.StateStore { return s.Store.Fenced(l) }

// TestEngineStopsWhenItsLeaseIsTakenOver: an engine whose lease lapses
// and passes to another runner stops with ErrLeaseLost, making no API
// call after the takeover: when its renewals fail, the renewal loop stops
// it; when it believes it renewed (a process paused past its lease), the
// fence refuses its next intent write.
func TestEngineStopsWhenItsLeaseIsTakenOver(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"renewals fail", "renewals lie"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := contactstest.NewServer(contactstest.WithoutRateLimits())
			t.Cleanup(srv.Close)
			if _, err := srv.AddCustomField(srv.LocationID(), "membership_plan"); err != nil {
				t.Fatal(err)
			}
			store := &leaseThief{Store: memstore.New()}
			eng, err := contactsync.NewEngine(srv.Client(), store, engineMapping(t), contactsync.WithConcurrency(1),
				contactsync.WithLeaseTTL(60*time.Millisecond), contactsync.WithRetryRounds(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			started, release := make(chan struct{}), make(chan struct{})
			var (
				rep    *contactsync.Report
				runErr error
			)
			done := make(chan struct{})
			go func() {
				defer close(done)
				rep, runErr = eng.SyncMembers(context.Background(), blockingSeq(members(20), started, release))
			}()
			<-started
			if mode == "renewals fail" {
				store.failRenew.Store(true)
			} else {
				store.lieRenew.Store(true)
			}
			// Another runner takes the lease once it has lapsed.
			for {
				_, err := store.AcquireLease(context.Background(), contactsync.LeaseEngine, "thief", time.Minute)
				if err == nil {
					break
				}
				if !errors.Is(err, contactsync.ErrLeaseHeld) {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			calls := srv.RequestCount()
			close(release)
			<-done
			if !errors.Is(runErr, contactsync.ErrLeaseLost) {
				t.Fatalf("run after its lease was taken over: %v, want ErrLeaseLost\n%s", runErr, rep)
			}
			if n := srv.RequestCount() - calls; n != 0 {
				t.Errorf("the engine made %d API calls after losing its lease", n)
			}
			if n := len(srv.Contacts("")); n != 1 {
				t.Errorf("%d contacts, want only the one made before the takeover", n)
			}
			// The thief's lease is untouched by the stopped run's release.
			if _, err := store.AcquireLease(context.Background(), contactsync.LeaseEngine, "third", time.Minute); !errors.Is(err, contactsync.ErrLeaseHeld) {
				t.Errorf("the thief's lease after the stopped run: %v, want it still held", err)
			}
		})
	}
}

// TestDailyBudgetIsSharedThroughTheStore: engines sharing a store (as
// processes sharing a database do) share one daily budget; what a run
// drew and did not use is given back.
func TestDailyBudgetIsSharedThroughTheStore(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithDailyBudget(30, 0), contactsync.WithConcurrency(1))
	budget := w.store.(contactsync.BudgetStore)
	day := time.Now().UTC().Format(time.DateOnly)
	used := func() int {
		t.Helper()
		_, u, err := budget.SpendBudget(context.Background(), day, 0, 30)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	rep, calls := w.sync(members(10))
	if calls != 10 || rep.Created != 10 {
		t.Fatalf("first engine: %d calls\n%s", calls, rep)
	}
	if got := used(); got != 10 {
		t.Errorf("the store counts %d calls after a run of 10, want 10 (the rest of the chunk given back)", got)
	}

	// A second engine — another process — sees the first's calls.
	second := w.engine(w.client)
	rep, err := second.SyncMembers(context.Background(), seq(members(40)[10:]))
	if !errors.Is(err, contactsync.ErrBudgetExhausted) {
		t.Fatalf("second engine past the shared budget: %v\n%s", err, rep)
	}
	if n := len(w.srv.Contacts("")); n != 30 {
		t.Errorf("%d contacts created in all, want exactly the budget of 30", n)
	}
	if got := used(); got != 30 {
		t.Errorf("the store counts %d calls, want 30", got)
	}
}

// TestSharedBudgetOnSQLite: the same across two processes' worth of DB
// handles on one SQLite file.
func TestSharedBudgetOnSQLite(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer(contactstest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	if _, err := srv.AddCustomField(srv.LocationID(), "membership_plan"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sync.db")
	var total int
	for i := range 2 {
		store := openSQLite(t, path, srv.LocationID()) // a handle of its own, as another process has
		eng, err := contactsync.NewEngine(srv.Client(), store, engineMapping(t),
			contactsync.WithDailyBudget(15, 0), contactsync.WithResolveGrace(0), contactsync.WithConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		batch := members(40)[:10] // within the budget
		if i == 1 {
			batch = members(40)[10:30] // past it
		}
		rep, err := eng.SyncMembers(context.Background(), seq(batch))
		if i == 0 && err != nil || i == 1 && !errors.Is(err, contactsync.ErrBudgetExhausted) {
			t.Fatalf("engine %d: %v\n%s", i, err, rep)
		}
		total += int(rep.APICalls)
	}
	if total > 15 {
		t.Errorf("%d calls made by two processes with a shared budget of 15", total)
	}
	if n := len(srv.Contacts("")); n != 15 {
		t.Errorf("%d contacts, want 15", n)
	}
}

// TestInboundOneRunnerPerLocation: two Inbounds on one store: a pass of
// the second fails with ErrLeaseHeld while the first's runs.
func TestInboundOneRunnerPerLocation(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer(contactstest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	store := memstore.New()
	sink := &blockingSink{entered: make(chan struct{}), release: make(chan struct{})}
	first, err := contactsync.NewInbound(srv.Client(), store, store, store, engineMapping(t), sink, contactsync.WithUnlinkedContacts())
	if err != nil {
		t.Fatal(err)
	}
	second, err := contactsync.NewInbound(srv.Client(), store, store, store, engineMapping(t), &recordingSink{})
	if err != nil {
		t.Fatal(err)
	}
	srv.SeedContact(contactstest.Contact{FirstName: "Ana", Email: "ana@example.com"})
	done := make(chan error, 1)
	go func() {
		_, err := first.PollContacts(context.Background())
		done <- err
	}()
	<-sink.entered
	if _, err := second.PollContacts(context.Background()); !errors.Is(err, contactsync.ErrLeaseHeld) {
		t.Errorf("second Inbound while the first polls: %v, want ErrLeaseHeld", err)
	}
	close(sink.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := second.PollContacts(context.Background()); err != nil {
		t.Errorf("second Inbound once the first is done: %v", err)
	}
}

// blockingSink blocks in its first Receive until released.
type blockingSink struct {
	entered, release chan struct{}
	once             atomic.Bool
}

func (s *blockingSink) Receive(ctx context.Context, ch contactsync.InboundChange) error {
	if s.once.CompareAndSwap(false, true) {
		close(s.entered)
		<-s.release
	}
	return nil
}

// TestStoreOfAnotherLocationIsRefused: a store that holds another
// location than the client's is refused.
func TestStoreOfAnotherLocationIsRefused(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	t.Cleanup(srv.Close)
	store := openSQLite(t, filepath.Join(t.TempDir(), "sync.db"), "another-location")
	if _, err := contactsync.NewEngine(srv.Client(), store, engineMapping(t)); err == nil {
		t.Error("NewEngine accepted a store of another location")
	}
	if _, err := contactsync.NewInbound(srv.Client(), store, store, store, engineMapping(t), &recordingSink{}); err == nil {
		t.Error("NewInbound accepted a store of another location")
	}
}

// TestBudgetExhaustionLetsCallsInFlightFinish: when the daily budget runs
// out with 16 workers at work, the calls already in flight finish and are
// recorded — none is cut off, leaving an intent to resolve — and no new
// one starts.
func TestBudgetExhaustionLetsCallsInFlightFinish(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithDailyBudget(15, 0))
	rep, err := w.eng.SyncMembers(context.Background(), seq(members(60)))
	if !errors.Is(err, contactsync.ErrBudgetExhausted) {
		t.Fatalf("err = %v, want ErrBudgetExhausted\n%s", err, rep)
	}
	if n := len(w.srv.Contacts("")); n != 15 {
		t.Errorf("%d contacts for a budget of 15 calls", n)
	}
	if rep.Created != 15 || rep.APICalls != 15 {
		t.Errorf("report: %d created with %d calls, want 15 and 15\n%s", rep.Created, rep.APICalls, rep)
	}
	intents, err := w.store.Intents(context.Background())
	if err != nil || len(intents) != 0 {
		t.Errorf("%d intents left (%v): a call in flight was cut off", len(intents), err)
	}
}
