package webhook

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Claim is the outcome of DedupStore.Begin.
type Claim int

// Claims.
const (
	// Fresh: the delivery was never seen; it is now claimed.
	Fresh Claim = iota
	// Retry: an earlier delivery of it failed; it is now claimed again.
	Retry
	// Duplicate: it was processed already; do not process it again.
	Duplicate
	// InProgress: another delivery of it is being processed right now.
	InProgress
)

// Outcome settles a claim.
type Outcome int

// Outcomes.
const (
	// Processed: remember the ID as done for the store's TTL.
	Processed Outcome = iota
	// Failed: release the ID; a redelivery is processed (as a Retry).
	Failed
	// Abandoned: forget the claim as if the delivery never came (it was
	// rejected before processing, e.g. as stale).
	Abandoned
)

// DedupStore remembers webhook IDs so each event is processed once. A
// delivery is claimed before the application sees it and settled after:
// processed IDs are remembered for the store's TTL; failed ones are
// released so a redelivery is processed; a claim whose holder crashed
// lapses after the claim TTL and counts as failed.
type DedupStore interface {
	// Begin claims id at now.
	Begin(ctx context.Context, id string, now time.Time) (Claim, error)
	// End settles the claim Begin made.
	End(ctx context.Context, id string, outcome Outcome, now time.Time) error
}

// Dedup TTLs of the stores in this package.
const (
	// DefaultDedupTTL is how long a processed ID is remembered. It covers
	// the replay window with a wide margin and the API's retry schedule.
	DefaultDedupTTL = 24 * time.Hour
	// DefaultClaimTTL is how long a claim holds before it lapses.
	DefaultClaimTTL = 2 * time.Minute
	// DefaultMaxEntries bounds a MemoryDedup.
	DefaultMaxEntries = 100_000
)

type dedupState uint8

const (
	stateProcessing dedupState = iota
	stateProcessed
	stateFailed
)

type dedupEntry struct {
	state   dedupState
	expires time.Time
}

// ErrDedupFull is returned (by MemoryDedup) when the store is full of
// deliveries still being processed and so cannot claim another ID without
// forgetting one of them. Handler answers it with 429 and Retry-After, so
// the API delivers the event again later.
var ErrDedupFull = errors.New("webhook: dedup store full of deliveries in progress")

// MemoryDedup is an in-memory DedupStore with bounded memory: at most
// maxEntries IDs. When it is full, room is made by dropping, in order,
// expired IDs, then the oldest processed IDs, then the oldest failed ones.
// A claim still in progress is never dropped: forgetting it would let a
// redelivery that arrives meanwhile be processed a second time. So a store
// full of claims in progress refuses new claims with ErrDedupFull (Begin
// then returns InProgress with it) until one of them settles or lapses.
type MemoryDedup struct {
	mu         sync.Mutex
	entries    map[string]dedupEntry
	ttl        time.Duration
	claimTTL   time.Duration
	maxEntries int
}

// NewMemoryDedup returns a store remembering processed IDs for ttl (0:
// DefaultDedupTTL) and at most maxEntries IDs (0: DefaultMaxEntries).
func NewMemoryDedup(ttl time.Duration, maxEntries int) *MemoryDedup {
	if ttl <= 0 {
		ttl = DefaultDedupTTL
	}
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &MemoryDedup{entries: map[string]dedupEntry{}, ttl: ttl, claimTTL: DefaultClaimTTL, maxEntries: maxEntries}
}

// Begin implements DedupStore. It fails with ErrDedupFull (and
// InProgress) when the store is full of claims in progress.
func (m *MemoryDedup) Begin(_ context.Context, id string, now time.Time) (Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	claim := Fresh
	e, ok := m.entries[id]
	if ok && now.Before(e.expires) {
		switch e.state {
		case stateProcessed:
			return Duplicate, nil
		case stateProcessing:
			return InProgress, nil
		case stateFailed:
			claim = Retry
		}
	} else if ok && e.state == stateProcessing {
		claim = Retry // the holder's claim lapsed: treat as failed
	}
	if !ok && !m.makeRoom(now) {
		return InProgress, ErrDedupFull
	}
	m.entries[id] = dedupEntry{state: stateProcessing, expires: now.Add(m.claimTTL)}
	return claim, nil
}

// End implements DedupStore. Settling a claim that is no longer held (it
// lapsed and was dropped) fails with ErrDedupFull if the store is full of
// claims in progress.
func (m *MemoryDedup) End(_ context.Context, id string, outcome Outcome, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if outcome != Processed && outcome != Failed {
		delete(m.entries, id)
		return nil
	}
	if _, held := m.entries[id]; !held && !m.makeRoom(now) {
		return ErrDedupFull
	}
	state := stateProcessed
	if outcome == Failed {
		state = stateFailed
	}
	m.entries[id] = dedupEntry{state: state, expires: now.Add(m.ttl)}
	return nil
}

// Len returns how many IDs the store holds.
func (m *MemoryDedup) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// makeRoom makes room for one more ID and reports whether there is. When
// the store is full it drops every expired ID; if it is still full, it
// drops a tenth of the IDs (so the cost of a full store is paid once per
// tenth, not per insert), choosing the oldest processed IDs first, then
// the oldest failed ones, and never a claim in progress. It reports false
// when only claims in progress are left.
func (m *MemoryDedup) makeRoom(now time.Time) bool {
	if len(m.entries) < m.maxEntries {
		return true
	}
	for id, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, id)
		}
	}
	if len(m.entries) < m.maxEntries {
		return true
	}
	type settled struct {
		id      string
		failed  bool
		expires time.Time
	}
	var evictable []settled
	for id, e := range m.entries {
		if e.state != stateProcessing {
			evictable = append(evictable, settled{id, e.state == stateFailed, e.expires})
		}
	}
	if len(evictable) == 0 {
		return false
	}
	// Processed before failed; within each, the oldest (closest to expiry:
	// they share one TTL) first.
	slices.SortFunc(evictable, func(a, b settled) int {
		if a.failed != b.failed {
			if a.failed {
				return 1
			}
			return -1
		}
		return a.expires.Compare(b.expires)
	})
	for _, e := range evictable[:min(max(len(m.entries)/10, 1), len(evictable))] {
		delete(m.entries, e.id)
	}
	return true
}
