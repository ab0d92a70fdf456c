package webhook

import (
	"context"
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

// MemoryDedup is an in-memory DedupStore with bounded memory: at most
// maxEntries IDs, the ones closest to expiry dropped first when full.
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

// Begin implements DedupStore.
func (m *MemoryDedup) Begin(_ context.Context, id string, now time.Time) (Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	claim := Fresh
	if e, ok := m.entries[id]; ok && now.Before(e.expires) {
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
	m.makeRoom(now)
	m.entries[id] = dedupEntry{state: stateProcessing, expires: now.Add(m.claimTTL)}
	return claim, nil
}

// End implements DedupStore.
func (m *MemoryDedup) End(_ context.Context, id string, outcome Outcome, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, held := m.entries[id]; !held && outcome != Abandoned {
		m.makeRoom(now) // the claim was evicted meanwhile
	}
	switch outcome {
	case Processed:
		m.entries[id] = dedupEntry{state: stateProcessed, expires: now.Add(m.ttl)}
	case Failed:
		m.entries[id] = dedupEntry{state: stateFailed, expires: now.Add(m.ttl)}
	default:
		delete(m.entries, id)
	}
	return nil
}

// Len returns how many IDs the store holds.
func (m *MemoryDedup) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// makeRoom drops expired entries when the store is full, then, if still
// full, the tenth of the entries closest to expiry (so the cost of a full
// store is paid once per tenth, not per insert).
func (m *MemoryDedup) makeRoom(now time.Time) {
	if len(m.entries) < m.maxEntries {
		return
	}
	for id, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, id)
		}
	}
	if len(m.entries) < m.maxEntries {
		return
	}
	type aged struct {
		id      string
		expires time.Time
	}
	all := make([]aged, 0, len(m.entries))
	for id, e := range m.entries {
		all = append(all, aged{id, e.expires})
	}
	slices.SortFunc(all, func(a, b aged) int { return a.expires.Compare(b.expires) })
	for _, a := range all[:max(len(all)/10, 1)] {
		delete(m.entries, a.id)
	}
}
