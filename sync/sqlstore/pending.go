package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/internal/storekit"
)

// The engine's Commit under its lease (a Commit of a Fenced view) is
// written behind: it returns once its write is queued, and the engine goes
// on to its next API call while the writers commit it with
// the next writes (an intent is still committed before its call: PutIntent
// waits). This halves the commits a synced member waits for, and loses
// nothing the crash guarantee needs: a Commit that never lands leaves its
// intent in the store, and the next run resolves it, as it resolves a
// crash between the API call and the Commit. The lease makes the engine
// the location's only writer of links; another process (an Inbound) sees
// the link and the intent's removal a moment later, together, as before
// it saw them only after the commit.
//
// The run sees its Commit at once: Link and Intent of the fenced view read
// its pending writes first, and its reads that span many rows (links by
// remote ID, by member, in pages; the intents; the run log) wait until its
// pending writes are committed. A location's writes commit in the order
// they were made, whatever the view. If a pending write fails (the lease
// was lost, say), every later call of the fenced view returns its error,
// so the run stops — it must, for it believes the link stored — and the
// next run resolves the intent the failure left. Other views of the
// location (another run, an Inbound) see the link and the intent's
// removal together once they are committed, as another process does.

// pendingState is what a fenced view (one engine run) holds of its writes
// behind.
type pendingState struct {
	mu      sync.Mutex
	links   map[linkKey]pendingLink
	deleted map[string]uint64 // intent key → seq of the Commit that deletes it
	n       int               // writes queued, not yet committed
	drained chan struct{}     // closed when n is 0
	err     error             // a write that failed: sticky
	seq     uint64
}

type linkKey struct {
	kind    contactsync.Kind
	localID string
}

type pendingLink struct {
	link contactsync.Link
	seq  uint64
}

func newPending() *pendingState {
	closed := make(chan struct{})
	close(closed)
	return &pendingState{links: map[linkKey]pendingLink{}, deleted: map[string]uint64{}, drained: closed}
}

// failed returns the error of a write behind that failed, if any.
func (p *pendingState) failed() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// add records a Commit of l (removing intent key) as pending.
func (p *pendingState) add(l contactsync.Link, key string) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return 0, p.err
	}
	p.seq++
	p.links[linkKey{l.Kind, l.LocalID}] = pendingLink{link: storekit.NormalizeLink(l), seq: p.seq}
	if key != "" {
		p.deleted[key] = p.seq
	}
	if p.n == 0 {
		p.drained = make(chan struct{})
	}
	p.n++
	return p.seq, nil
}

// done records the outcome of the pending Commit seq.
func (p *pendingState) done(l contactsync.Link, key string, seq uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("contactsync: a link committed behind was not stored, so the store stops here (its intent stays and the next run resolves it): %w", err)
	}
	k := linkKey{l.Kind, l.LocalID}
	if pl, ok := p.links[k]; ok && pl.seq == seq {
		delete(p.links, k)
	}
	if key != "" && p.deleted[key] == seq {
		delete(p.deleted, key)
	}
	if p.n--; p.n == 0 {
		close(p.drained)
	}
}

// link returns the pending link of (kind, localID), if any.
func (p *pendingState) link(kind contactsync.Kind, localID string) (contactsync.Link, bool, error) {
	if p == nil {
		return contactsync.Link{}, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return contactsync.Link{}, false, p.err
	}
	pl, ok := p.links[linkKey{kind, localID}]
	if !ok {
		return contactsync.Link{}, false, nil
	}
	return storekit.CloneLink(pl.link), true, nil
}

// intentDeleted reports whether a pending Commit deletes intent key.
func (p *pendingState) intentDeleted(key string) (bool, error) {
	if p == nil {
		return false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.deleted[key]
	return ok, p.err
}

// wait returns once the location's writes behind are committed, or ctx
// ends.
func (p *pendingState) wait(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	drained, err := p.drained, p.err
	p.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-drained:
		return p.failed()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// linkCache holds the links a fenced view prefetched (PrefetchLinks), for
// one Link read each: a link absent from the store is cached as absent. An
// entry is used at most once, so it is never older than the worker's
// window of changes; and a key the view ever wrote is never cached again
// (touched), so a prefetch that raced a write behind — reading the store
// before the write landed — cannot answer for it.
type linkCache struct {
	mu      sync.Mutex
	entries map[linkKey]cachedLink
	touched map[linkKey]struct{}
}

type cachedLink struct {
	link  contactsync.Link
	found bool
	at    time.Time // when the prefetch read it
}

// maxCacheAge bounds how old a prefetched link may be when Link takes it:
// an entry no Link took (its change was held back, failed, or read
// nothing) must not answer much later, after another writer (the
// location's Inbound) changed the link.
const maxCacheAge = 5 * time.Second

// take returns and forgets the cached link of k, if any.
func (c *linkCache) take(k linkKey) (cachedLink, bool) {
	if c == nil {
		return cachedLink{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if ok {
		delete(c.entries, k)
	}
	return e, ok && time.Since(e.at) < maxCacheAge
}

// touch forgets k for good: the view writes it.
func (c *linkCache) touch(k linkKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.entries, k)
	if c.touched == nil {
		c.touched = map[linkKey]struct{}{}
	}
	c.touched[k] = struct{}{}
	c.mu.Unlock()
}

// put caches what a prefetch read: found links, and the IDs asked for it
// did not find as absent.
func (c *linkCache) put(kind contactsync.Kind, ids []string, found []contactsync.Link, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) > maxCached {
		c.entries = map[linkKey]cachedLink{} // entries nobody took: start over
	}
	for _, id := range ids {
		if _, ok := c.touched[linkKey{kind, id}]; !ok {
			c.entries[linkKey{kind, id}] = cachedLink{at: at}
		}
	}
	for _, l := range found {
		if _, ok := c.touched[linkKey{l.Kind, l.LocalID}]; !ok {
			c.entries[linkKey{l.Kind, l.LocalID}] = cachedLink{link: l, found: true, at: at}
		}
	}
}

// maxCached bounds a view's cache.
const maxCached = 10_000
