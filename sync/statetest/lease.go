package statetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// LeaseStateStore is a store with leases whose fenced view can be checked
// against the store itself.
type LeaseStateStore interface {
	contactsync.LeaseStore
	contactsync.StateStore
}

// RunLease runs the conformance suite of contactsync.LeaseStore against
// the stores newStore returns, one per subtest: a lease is held by one
// owner at a time, passes on when it expires or is released with a
// greater token, is renewed only by its holder, and a fenced view's
// writes of intents and links land only while its token is current (a
// Commit written behind may report the refusal on the view's next call). Two subtests wait
// for a lease of 30 ms to expire.
func RunLease(t *testing.T, newStore func(t *testing.T) LeaseStateStore) {
	t.Helper()
	runSuite(t, newStore, []subtest[LeaseStateStore]{
		{"AcquireFree", testLeaseAcquireFree},
		{"HeldByAnother", testLeaseHeld},
		{"SameOwnerRenews", testLeaseSameOwner},
		{"ExpiredPasses", testLeaseExpired},
		{"ReleasePasses", testLeaseRelease},
		{"NamesIndependent", testLeaseNames},
		{"RenewByHolderOnly", testLeaseRenew},
		{"Fenced", testLeaseFenced},
		{"ConcurrentAcquire", testLeaseConcurrent},
	})
}

const leaseTTL = time.Minute

func mustAcquire(t *testing.T, s contactsync.LeaseStore, name, owner string, ttl time.Duration) contactsync.Lease {
	t.Helper()
	l, err := s.AcquireLease(t.Context(), name, owner, ttl)
	if err != nil {
		t.Fatalf("AcquireLease(%s, %s): %v", name, owner, err)
	}
	if l.Name != name || l.Owner != owner {
		t.Fatalf("AcquireLease(%s, %s) = %+v", name, owner, l)
	}
	return l
}

func wantHeld(t *testing.T, s contactsync.LeaseStore, name, owner, holder string) {
	t.Helper()
	_, err := s.AcquireLease(t.Context(), name, owner, leaseTTL)
	var held *contactsync.LeaseHeldError
	if !errors.Is(err, contactsync.ErrLeaseHeld) || !errors.As(err, &held) || held.Owner != holder {
		t.Fatalf("AcquireLease(%s, %s) while %s holds it: %v, want a LeaseHeldError naming %s", name, owner, holder, err, holder)
	}
}

func testLeaseAcquireFree(t *testing.T, s LeaseStateStore) {
	before := time.Now()
	l := mustAcquire(t, s, contactsync.LeaseEngine, "a", leaseTTL)
	if l.Token <= 0 {
		t.Errorf("token %d, want > 0", l.Token)
	}
	// The store's clock may be another machine's: allow it a few seconds.
	if l.Expires.Before(before.Add(leaseTTL-5*time.Second)) || l.Expires.After(time.Now().Add(leaseTTL+5*time.Second)) {
		t.Errorf("expires %v, want about a minute from %v", l.Expires, before)
	}
}

func testLeaseHeld(t *testing.T, s LeaseStateStore) {
	mustAcquire(t, s, contactsync.LeaseEngine, "a", leaseTTL)
	wantHeld(t, s, contactsync.LeaseEngine, "b", "a")
}

func testLeaseSameOwner(t *testing.T, s LeaseStateStore) {
	first := mustAcquire(t, s, contactsync.LeaseEngine, "a", time.Second)
	again := mustAcquire(t, s, contactsync.LeaseEngine, "a", leaseTTL)
	if again.Token != first.Token {
		t.Errorf("re-acquired by its owner: token %d, want %d (the same holder)", again.Token, first.Token)
	}
	if !again.Expires.After(first.Expires) {
		t.Errorf("re-acquired for longer: expires %v, was %v", again.Expires, first.Expires)
	}
}

func testLeaseExpired(t *testing.T, s LeaseStateStore) {
	first := mustAcquire(t, s, contactsync.LeaseEngine, "a", 30*time.Millisecond)
	time.Sleep(120 * time.Millisecond)
	next := mustAcquire(t, s, contactsync.LeaseEngine, "b", leaseTTL)
	if next.Token <= first.Token {
		t.Errorf("token after expiry %d, want > %d", next.Token, first.Token)
	}
	wantHeld(t, s, contactsync.LeaseEngine, "a", "b")
}

func testLeaseRelease(t *testing.T, s LeaseStateStore) {
	first := mustAcquire(t, s, contactsync.LeaseEngine, "a", leaseTTL)
	if err := s.ReleaseLease(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	next := mustAcquire(t, s, contactsync.LeaseEngine, "b", leaseTTL)
	if next.Token <= first.Token {
		t.Errorf("token after release %d, want > %d", next.Token, first.Token)
	}
	// A stale release does not free the new holder's lease.
	if err := s.ReleaseLease(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	wantHeld(t, s, contactsync.LeaseEngine, "c", "b")
	if err := s.ReleaseLease(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	last := mustAcquire(t, s, contactsync.LeaseEngine, "a", leaseTTL)
	if last.Token <= next.Token {
		t.Errorf("token %d after %d: tokens must grow with every new owner", last.Token, next.Token)
	}
}

func testLeaseNames(t *testing.T, s LeaseStateStore) {
	mustAcquire(t, s, contactsync.LeaseEngine, "a", leaseTTL)
	mustAcquire(t, s, contactsync.LeaseInbound, "b", leaseTTL)
	wantHeld(t, s, contactsync.LeaseInbound, "a", "b")
	wantHeld(t, s, contactsync.LeaseEngine, "b", "a")
}

func testLeaseRenew(t *testing.T, s LeaseStateStore) {
	l := mustAcquire(t, s, contactsync.LeaseEngine, "a", time.Second)
	renewed, err := s.RenewLease(t.Context(), l, leaseTTL)
	if err != nil {
		t.Fatalf("RenewLease by the holder: %v", err)
	}
	if renewed.Token != l.Token || !renewed.Expires.After(l.Expires) {
		t.Errorf("renewed %+v from %+v", renewed, l)
	}
	if err := s.ReleaseLease(t.Context(), renewed); err != nil {
		t.Fatal(err)
	}
	other := mustAcquire(t, s, contactsync.LeaseEngine, "b", leaseTTL)
	if _, err := s.RenewLease(t.Context(), l, leaseTTL); !errors.Is(err, contactsync.ErrLeaseLost) {
		t.Errorf("RenewLease of a lease taken over: %v, want ErrLeaseLost", err)
	}
	wantHeld(t, s, contactsync.LeaseEngine, "c", other.Owner)
}

func testLeaseFenced(t *testing.T, s LeaseStateStore) {
	ctx := t.Context()
	old := mustAcquire(t, s, contactsync.LeaseEngine, "a", leaseTTL)
	f := s.Fenced(old)
	link := contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1", RemoteID: "c1", Hash: "h1"}
	if err := f.PutIntent(ctx, contactsync.Intent{Key: "k1", Kind: contactsync.KindMember, LocalID: "m1", Op: "create"}); err != nil {
		t.Fatalf("fenced PutIntent while current: %v", err)
	}
	if err := f.PutIntent(ctx, contactsync.Intent{Key: "k2", Kind: contactsync.KindMember, LocalID: "m2", Op: "create"}); err != nil {
		t.Fatalf("fenced PutIntent while current: %v", err)
	}
	if err := f.Commit(ctx, link, "k1"); err != nil {
		t.Fatalf("fenced Commit while current: %v", err)
	}

	// The lease passes to another owner.
	if err := s.ReleaseLease(ctx, old); err != nil {
		t.Fatal(err)
	}
	mustAcquire(t, s, contactsync.LeaseEngine, "b", leaseTTL)

	lost := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, contactsync.ErrLeaseLost) {
			t.Errorf("fenced %s after the lease passed on: %v, want ErrLeaseLost", what, err)
		}
	}
	lost("PutIntent", f.PutIntent(ctx, contactsync.Intent{Key: "k3", Kind: contactsync.KindMember, LocalID: "m3", Op: "create"}))
	lost("DeleteIntent", f.DeleteIntent(ctx, "k2"))
	lost("PutLink", f.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m5", RemoteID: "c5"}))
	lost("DeleteLink", f.DeleteLink(ctx, contactsync.KindMember, "m1"))
	// A Commit may be written behind: refused now, or by the fence when
	// it is written, and then every later call of the view reports it.
	if err := f.Commit(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m2", RemoteID: "c2"}, "k2"); err == nil {
		_, err := f.Intents(ctx)
		lost("Commit (written behind), then Intents", err)
	} else {
		lost("Commit", err)
	}

	// None of them landed.
	if _, err := s.Intent(ctx, "k3"); !errors.Is(err, contactsync.ErrNotFound) {
		t.Errorf("a refused PutIntent recorded its intent: %v", err)
	}
	if _, err := s.Intent(ctx, "k2"); err != nil {
		t.Errorf("a refused Commit or DeleteIntent removed its intent: %v", err)
	}
	if _, err := s.Link(ctx, contactsync.KindMember, "m2"); !errors.Is(err, contactsync.ErrNotFound) {
		t.Errorf("a refused Commit stored its link: %v", err)
	}
	if _, err := s.Link(ctx, contactsync.KindMember, "m5"); !errors.Is(err, contactsync.ErrNotFound) {
		t.Errorf("a refused PutLink stored its link: %v", err)
	}
	// What landed before stays.
	if got := mustLink(t, s, contactsync.KindMember, "m1"); got.RemoteID != "c1" {
		t.Errorf("the link committed while current: %+v", got)
	}
	// Unfenced writes and reads go on.
	if err := s.PutIntent(ctx, contactsync.Intent{Key: "k4", Kind: contactsync.KindMember, LocalID: "m4", Op: "create"}); err != nil {
		t.Errorf("unfenced PutIntent: %v", err)
	}
}

func testLeaseConcurrent(t *testing.T, s LeaseStateStore) {
	const n = 8
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		won    []string
		others []error
	)
	for i := range n {
		wg.Go(func() {
			owner := fmt.Sprintf("owner-%d", i)
			_, err := s.AcquireLease(t.Context(), contactsync.LeaseEngine, owner, leaseTTL)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, owner)
			case !errors.Is(err, contactsync.ErrLeaseHeld):
				others = append(others, err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 || len(others) > 0 {
		t.Errorf("%d owners acquired the lease at once (%v), other errors %v; want exactly one", len(won), won, others)
	}
}

// RunBudget runs the conformance suite of contactsync.BudgetStore against
// the stores newStore returns, one per subtest: spending never passes the
// limit, gives back never below zero, days are separate, and concurrent
// spending adds up exactly.
func RunBudget(t *testing.T, newStore func(t *testing.T) contactsync.BudgetStore) {
	t.Helper()
	runSuite(t, newStore, []subtest[contactsync.BudgetStore]{
		{"Spend", testBudgetSpend},
		{"GiveBack", testBudgetGiveBack},
		{"DaysSeparate", testBudgetDays},
		{"Concurrent", testBudgetConcurrent},
	})
}

func spend(t *testing.T, s contactsync.BudgetStore, day string, n, limit, wantGranted, wantUsed int) {
	t.Helper()
	g, u, err := s.SpendBudget(t.Context(), day, n, limit)
	if err != nil || g != wantGranted || u != wantUsed {
		t.Fatalf("SpendBudget(%s, %d, %d) = %d, %d, %v; want %d, %d", day, n, limit, g, u, err, wantGranted, wantUsed)
	}
}

func testBudgetSpend(t *testing.T, s contactsync.BudgetStore) {
	const day = "2026-12-07"
	spend(t, s, day, 40, 100, 40, 40)
	spend(t, s, day, 50, 100, 50, 90)
	spend(t, s, day, 50, 100, 10, 100) // only what is left
	spend(t, s, day, 1, 100, 0, 100)
	spend(t, s, day, 0, 100, 0, 100)
	spend(t, s, day, 5, 50, 0, 100) // a lower limit grants nothing and takes nothing back
}

func testBudgetGiveBack(t *testing.T, s contactsync.BudgetStore) {
	const day = "2026-12-07"
	spend(t, s, day, 30, 100, 30, 30)
	spend(t, s, day, -10, 100, -10, 20)
	spend(t, s, day, -50, 100, -20, 0) // never below zero
	spend(t, s, day, 100, 100, 100, 100)
}

func testBudgetDays(t *testing.T, s contactsync.BudgetStore) {
	spend(t, s, "2026-12-07", 100, 100, 100, 100)
	spend(t, s, "2026-12-08", 7, 100, 7, 7)
	spend(t, s, "2026-12-07", 1, 100, 0, 100)
}

func testBudgetConcurrent(t *testing.T, s contactsync.BudgetStore) {
	const (
		day     = "2026-12-07"
		workers = 8
		each    = 25
		limit   = 150
	)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		granted int
		errs    []error
	)
	for range workers {
		wg.Go(func() {
			for range each {
				g, _, err := s.SpendBudget(t.Context(), day, 1, limit)
				mu.Lock()
				granted += g
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("SpendBudget: %v", errs[0])
	}
	if granted != limit {
		t.Errorf("%d calls granted to %d workers asking %d in all, want exactly the limit %d", granted, workers, workers*each, limit)
	}
	spend(t, s, day, 1, limit, 0, limit)
}
