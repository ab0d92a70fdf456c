package contactsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// reviewLeases is a LeaseStore of one process (as memstore's), whose
// ReleaseLease can be held up to interleave it with another call.
type reviewLeases struct {
	mu     sync.Mutex
	cur    map[string]Lease
	tokens map[string]int64
	// gate, if set, is called (once) when ReleaseLease is entered, before
	// it frees the lease.
	gate func()
}

func (s *reviewLeases) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, held := s.cur[name]
	switch {
	case held && cur.Owner == owner:
	case held && time.Now().Before(cur.Expires):
		return Lease{}, &LeaseHeldError{Name: name, Owner: cur.Owner, Expires: cur.Expires}
	default:
		s.tokens[name]++
		cur = Lease{Name: name, Owner: owner, Token: s.tokens[name]}
	}
	cur.Expires = time.Now().Add(ttl)
	s.cur[name] = cur
	return cur, nil
}

func (s *reviewLeases) RenewLease(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, held := s.cur[l.Name]
	if !held || cur.Token != l.Token {
		return Lease{}, fmt.Errorf("%w: token %d", ErrLeaseLost, l.Token)
	}
	cur.Expires = time.Now().Add(ttl)
	s.cur[l.Name] = cur
	return cur, nil
}

func (s *reviewLeases) ReleaseLease(ctx context.Context, l Lease) error {
	s.mu.Lock()
	gate := s.gate
	s.gate = nil
	s.mu.Unlock()
	if gate != nil {
		gate()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, held := s.cur[l.Name]; held && cur.Token == l.Token {
		delete(s.cur, l.Name)
	}
	return nil
}

func (s *reviewLeases) Fenced(l Lease) StateStore { return nil }

// TestReviewLeaseHoldReleaseRacesANewHold: the last call of a leaseHold
// ends (refs 0) and, before its ReleaseLease runs, another call of the
// same runner holds the lease again (Cycle, which takes the lease outside
// Inbound.mu, starting while a ProcessInbox ends). The new hold acquires
// with the same owner, so the store renews the same lease with the same
// token; the old call's ReleaseLease then frees it. The new call runs
// believing it holds the lease while another runner can take it.
func TestReviewLeaseHoldReleaseRacesANewHold(t *testing.T) {
	store := &reviewLeases{cur: map[string]Lease{}, tokens: map[string]int64{}}
	h := &leaseHold{store: store, name: LeaseInbound, owner: "inbound-A", ttl: time.Minute,
		logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

	_, _, release1, err := h.hold(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	entered, goOn := make(chan struct{}), make(chan struct{})
	store.gate = func() { close(entered); <-goOn }
	ended := make(chan struct{})
	go func() { release1(); close(ended) }() // the first pass ends
	<-entered                                // its refs are 0; ReleaseLease is on its way

	type held struct {
		ctx     context.Context
		release func()
		err     error
	}
	second := make(chan held, 1)
	go func() { // the next pass starts
		ctx, _, release, err := h.hold(t.Context())
		second <- held{ctx, release, err}
	}()
	var (
		h2  held
		got bool
	)
	select {
	case h2, got = <-second:
		// A hold that waits for the release would not return yet.
		t.Log("the second hold returned while the first's ReleaseLease was under way")
	case <-time.After(100 * time.Millisecond):
	}
	close(goOn) // the first pass's release goes on
	<-ended
	if !got {
		h2 = <-second
	}
	if h2.err != nil {
		t.Fatal(h2.err)
	}
	defer h2.release()
	ctx2 := h2.ctx

	if _, err := store.AcquireLease(t.Context(), LeaseInbound, "inbound-B", time.Minute); !errors.Is(err, ErrLeaseHeld) {
		t.Errorf("another runner's AcquireLease while the second pass holds the lease: %v, want ErrLeaseHeld", err)
	}
	if ctx2.Err() != nil {
		t.Logf("the second pass was cancelled: %v", context.Cause(ctx2))
	}
}
