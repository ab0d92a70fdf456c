package contactsync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Lease names: an Engine run holds LeaseEngine, an Inbound run
// LeaseInbound, of its store's location.
const (
	LeaseEngine  = "engine"
	LeaseInbound = "inbound"
)

// Lease is a runner's hold on one role (LeaseEngine or LeaseInbound) of
// the location a store holds. Only one runner holds a lease at a time,
// whatever the number of processes and machines; a holder that stops
// renewing it (a crash, a partition) loses it when it expires.
type Lease struct {
	// Name is the role, LeaseEngine or LeaseInbound.
	Name string
	// Owner identifies the holder (a process and run).
	Owner string
	// Token is the fencing token: it grows every time the lease passes to
	// another owner, so a write fenced with an older token is refused.
	Token int64
	// Expires is when the lease lapses unless it is renewed, by the
	// store's clock.
	Expires time.Time
}

// Errors of a LeaseStore.
var (
	// ErrLeaseHeld: another runner holds the lease. The error a store
	// returns wraps a *LeaseHeldError naming the holder.
	ErrLeaseHeld = errors.New("contactsync: another runner holds the location's lease")
	// ErrLeaseLost: the lease passed to another runner (it expired while
	// this one held it); a fenced write was refused, so the run stops.
	ErrLeaseLost = errors.New("contactsync: the location's lease was lost to another runner")
)

// LeaseHeldError says who holds a lease another runner asked for. It
// matches ErrLeaseHeld.
type LeaseHeldError struct {
	Name    string
	Owner   string
	Expires time.Time
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("contactsync: the %s lease of the location is held by %s until %s", e.Name, e.Owner, e.Expires.UTC().Format(time.RFC3339))
}

// Is matches ErrLeaseHeld.
func (e *LeaseHeldError) Is(target error) bool { return target == ErrLeaseHeld }

// LeaseStore is a store that keeps one runner per role and location. The
// stores of this module (memstore, sqlstore) implement it; an Engine or
// Inbound whose store does takes the lease for each run. Package statetest
// checks implementations (RunLease).
type LeaseStore interface {
	// AcquireLease takes the lease name for owner for ttl, if it is free,
	// expired or owner's already (then renewing it, with the same token).
	// A lease passing to a new owner gets a greater token than any before
	// it. If another owner holds it, the error matches ErrLeaseHeld.
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (Lease, error)
	// RenewLease extends l to ttl from now if it is still held with l's
	// token; otherwise the error matches ErrLeaseLost.
	RenewLease(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// ReleaseLease frees l if it is still held with l's token (no error
	// otherwise).
	ReleaseLease(ctx context.Context, l Lease) error
	// Fenced returns a view of the store whose writes of intents and links
	// — PutIntent, Commit, DeleteIntent, PutLink and DeleteLink — take
	// effect only while l's token is the lease's current one, and
	// otherwise fail with an error matching ErrLeaseLost. The check and the write are atomic: once another
	// runner has acquired the lease, no fenced write of l's holder lands.
	// Every write but Commit reports a refusal at once; a Commit may be
	// written behind (its view reads it at once, others once committed)
	// and report a refusal on the view's next call instead, which then
	// fails, as every later one does.
	Fenced(l Lease) StateStore
}

// BudgetStore is a store that counts a location's API calls per day for
// every process using it, so that WithDailyBudget holds across processes
// and restarts. The stores of this module implement it; statetest checks
// implementations (RunBudget).
type BudgetStore interface {
	// SpendBudget adds up to n calls to the count of day (a UTC date,
	// "2006-01-02") without passing limit, and returns how many it added
	// and the count after. n may be negative to give unused calls back
	// (the count never goes below zero). The check and the addition are
	// atomic across processes.
	SpendBudget(ctx context.Context, day string, n, limit int) (granted, used int, err error)
}
