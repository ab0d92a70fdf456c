package contactsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Defaults of the lease a run holds.
const (
	// DefaultLeaseTTL is how long a run's lease lasts unless renewed; a
	// run renews it every third of it, so a runner that dies blocks its
	// location for at most this long.
	DefaultLeaseTTL = 30 * time.Second
)

// processID names this process in lease owners: host, PID and a random
// part (PIDs are reused).
var processID = func() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}()

// newOwner returns a lease owner unique to this process and call.
func newOwner(role string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return processID + "/" + role + "/" + hex.EncodeToString(b)
}

// leaseHold holds one lease of a LeaseStore for the calls of one runner,
// counting them: the first call acquires it (waiting up to wait for it),
// a goroutine renews it every third of its ttl, and the last call
// releases it. If the lease is lost — a renewal finds another owner, or
// renewals fail until it has expired — the contexts of the calls holding
// it are cancelled with an error matching ErrLeaseLost.
type leaseHold struct {
	store  LeaseStore // nil: the store has no leases, and nothing is held
	name   string
	owner  string
	ttl    time.Duration
	wait   time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	refs    int
	lease   Lease
	done    chan struct{} // closed to stop the renewals
	stopped chan struct{} // closed when the renewals have stopped
	cancels map[int]context.CancelCauseFunc
	next    int
	lost    error
	// releasing is closed when the last hold's release of the lease has
	// ended (nil when none is under way).
	releasing chan struct{}
}

// hold acquires the lease for a call (or joins the calls holding it) and
// returns the call's context, cancelled if the lease is lost, and the
// function that ends the call's hold.
func (h *leaseHold) hold(ctx context.Context) (context.Context, Lease, func(), error) {
	if h.store == nil {
		return ctx, Lease{}, func() {}, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.refs == 0 && h.releasing != nil {
		// The last hold is still releasing the lease: acquiring it now
		// (the same owner: the same lease and token) would be undone by
		// that release.
		r := h.releasing
		h.mu.Unlock()
		select {
		case <-r:
		case <-ctx.Done():
			h.mu.Lock()
			return ctx, Lease{}, nil, context.Cause(ctx)
		}
		h.mu.Lock()
	}
	if h.refs == 0 {
		l, err := h.acquire(ctx)
		if err != nil {
			return ctx, Lease{}, nil, err
		}
		h.lease, h.lost = l, nil
		h.done, h.stopped = make(chan struct{}), make(chan struct{})
		h.cancels = map[int]context.CancelCauseFunc{}
		go h.renew(l, h.done, h.stopped)
	}
	if h.lost != nil {
		return ctx, Lease{}, nil, h.lost
	}
	h.refs++
	cctx, cancel := context.WithCancelCause(ctx)
	id := h.next
	h.next++
	h.cancels[id] = cancel
	lease := h.lease
	var once sync.Once
	return cctx, lease, func() { once.Do(func() { h.unhold(id) }) }, nil
}

// acquire takes the lease, waiting for it up to h.wait.
func (h *leaseHold) acquire(ctx context.Context) (Lease, error) {
	deadline := time.Now().Add(h.wait)
	for {
		l, err := h.store.AcquireLease(ctx, h.name, h.owner, h.ttl)
		if err == nil || !errors.Is(err, ErrLeaseHeld) || !time.Now().Before(deadline) {
			return l, err
		}
		pause := min(h.ttl/4, time.Second, time.Until(deadline))
		select {
		case <-ctx.Done():
			return Lease{}, context.Cause(ctx)
		case <-time.After(pause):
		}
	}
}

func (h *leaseHold) unhold(id int) {
	h.mu.Lock()
	cancel := h.cancels[id]
	delete(h.cancels, id)
	h.refs--
	last := h.refs == 0
	var (
		done, stopped chan struct{}
		lease         Lease
		lost          error
	)
	var releasing chan struct{}
	if last {
		done, stopped, lease, lost = h.done, h.stopped, h.lease, h.lost
		releasing = make(chan struct{})
		h.releasing = releasing
	}
	h.mu.Unlock()
	cancel(nil)
	if !last {
		return
	}
	defer func() {
		h.mu.Lock()
		h.releasing = nil
		h.mu.Unlock()
		close(releasing)
	}()
	close(done)
	<-stopped
	if lost != nil {
		return
	}
	ctx, cancelRelease := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelRelease()
	if err := h.store.ReleaseLease(ctx, lease); err != nil {
		h.logger.Warn("contactsync: could not release the lease; it lapses when it expires", "lease", h.name, "error", err)
	}
}

// renew renews l every third of its ttl until done is closed, and ends
// the calls' contexts if the lease is lost.
func (h *leaseHold) renew(l Lease, done <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	every := max(h.ttl/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		renewed, err := h.store.RenewLease(ctx, l, h.ttl)
		cancel()
		switch {
		case err == nil:
			l = renewed
			h.mu.Lock()
			h.lease = l
			h.mu.Unlock()
		case errors.Is(err, ErrLeaseLost) || !time.Now().Before(l.Expires):
			// Lost to another owner, or the store unreachable for so long
			// that the lease has lapsed: another runner may hold it now.
			if !errors.Is(err, ErrLeaseLost) {
				err = fmt.Errorf("%w: the lease expired while the store was unreachable: %w", ErrLeaseLost, err)
			}
			h.logger.Error("contactsync: lease lost, stopping", "lease", h.name, "owner", h.owner, "error", err)
			h.mu.Lock()
			h.lost = err
			for _, c := range h.cancels {
				c(err)
			}
			h.mu.Unlock()
			return
		default:
			h.logger.Warn("contactsync: renewing the lease failed; retrying", "lease", h.name, "error", err)
		}
	}
}
