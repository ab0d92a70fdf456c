// Package memstore is the in-memory store of package contactsync
// (import path github.com/gymflow/contacts-go/sync): a StateStore, an
// ActivityStore, an InboundStore, a LeaseStore and a BudgetStore in one
// value, for tests, examples and one-off runs. Everything it holds is lost
// with the process, so it cannot resume a crashed run: use package
// sqlstore for anything that must survive a restart.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/internal/storekit"
)

// Store is the state, read model, inbound state, leases and daily budget
// of one location, in memory.
//
// A Store is safe for concurrent use. It keeps its own copies of what it
// is given and hands out copies, so callers may modify the Tags, State,
// Data and Report slices they pass in or get back. It behaves like the SQL
// stores in the details the interfaces leave open: times are kept to the
// millisecond in UTC, and empty Tags, State, Data and Report slices come
// back nil.
//
// Its leases and budget are those of this process only: two processes
// with a Store each do not see each other (they do not share data either).
//
// Links is quick for repeated paging (the sorted order of a kind's local
// IDs is cached until a link of that kind is created or deleted), but the
// store is meant for thousands of links, not millions. Activities looks a
// contact's or a member's activities up by index and otherwise scans
// those of the kinds asked for: a view of a location with 100,000
// activities takes a few milliseconds (a SQL store's a fraction of one).
type Store struct {
	mu      sync.RWMutex
	links   map[linkKey]contactsync.Link
	remote  map[linkKey]map[string]struct{} // (kind, remote ID) → local IDs
	members map[linkKey]map[string]struct{} // (kind, member ID) → local IDs
	sorted  map[contactsync.Kind][]string   // sorted local IDs of a kind, nil when stale
	intents map[string]contactsync.Intent
	done    map[string]struct{}
	runs    []contactsync.RunRecord // in the order appended

	// The read model and the inbound state, under a lock of their own.
	amu        sync.RWMutex
	activities map[contactsync.Kind]map[string]*contactsync.Activity // kind → remote ID → activity, never modified once stored
	actContact map[string]map[linkKey]struct{}                       // contact ID → activity keys
	actMember  map[string]map[linkKey]struct{}                       // member ID → activity keys
	inbox      map[string]memInboxEntry                              // by ID
	cursors    map[string]string                                     // by name
	seen       map[linkKey]contactsync.Seen                          // (kind, remote ID) → seen
	dirty      map[string]time.Time                                  // contact ID → newest mark

	// Leases and the daily budget, under a lock of their own.
	lmu    sync.Mutex
	leases map[string]contactsync.Lease // by name
	tokens map[string]int64             // the last token of each lease name
	budget map[string]int               // day → calls counted
	now    func() time.Time
}

// linkKey is a (kind, ID) pair.
type linkKey struct {
	kind contactsync.Kind
	id   string
}

// NewStore returns an empty Store.
func New() *Store {
	return &Store{
		links:   make(map[linkKey]contactsync.Link),
		remote:  make(map[linkKey]map[string]struct{}),
		members: make(map[linkKey]map[string]struct{}),
		sorted:  make(map[contactsync.Kind][]string),
		intents: make(map[string]contactsync.Intent),
		done:    make(map[string]struct{}),

		activities: make(map[contactsync.Kind]map[string]*contactsync.Activity),
		actContact: make(map[string]map[linkKey]struct{}),
		actMember:  make(map[string]map[linkKey]struct{}),
		inbox:      make(map[string]memInboxEntry),
		cursors:    make(map[string]string),
		seen:       make(map[linkKey]contactsync.Seen),
		dirty:      make(map[string]time.Time),

		leases: make(map[string]contactsync.Lease),
		tokens: make(map[string]int64),
		budget: make(map[string]int),
		now:    time.Now,
	}
}

// Link implements contactsync.StateStore.
func (s *Store) Link(ctx context.Context, kind contactsync.Kind, localID string) (contactsync.Link, error) {
	if err := ctx.Err(); err != nil {
		return contactsync.Link{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.links[linkKey{kind, localID}]
	if !ok {
		return contactsync.Link{}, contactsync.ErrNotFound
	}
	return storekit.CloneLink(l), nil
}

// LinkByRemote implements contactsync.StateStore. If several links of the kind have
// the remote ID, it returns the one with the least LocalID.
func (s *Store) LinkByRemote(ctx context.Context, kind contactsync.Kind, remoteID string) (contactsync.Link, error) {
	if err := ctx.Err(); err != nil {
		return contactsync.Link{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.remote[linkKey{kind, remoteID}]
	if len(ids) == 0 {
		return contactsync.Link{}, contactsync.ErrNotFound
	}
	first := ""
	for id := range ids {
		if first == "" || id < first {
			first = id
		}
	}
	return storekit.CloneLink(s.links[linkKey{kind, first}]), nil
}

// PutLink implements contactsync.StateStore.
func (s *Store) PutLink(ctx context.Context, l contactsync.Link) error {
	if err := storekit.CheckLink(l); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l = storekit.NormalizeLink(l)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLink(l)
	return nil
}

// putLink stores l, a normalized copy, replacing the link with its kind
// and local ID; s.mu is held.
func (s *Store) putLink(l contactsync.Link) {
	k := linkKey{l.Kind, l.LocalID}
	if old, ok := s.links[k]; ok {
		s.unindex(old)
	} else {
		s.sorted[l.Kind] = nil
	}
	s.links[k] = l
	addIndex(s.remote, linkKey{l.Kind, l.RemoteID}, l.LocalID)
	addIndex(s.members, linkKey{l.Kind, l.MemberID}, l.LocalID)
}

// unindex removes l from the remote and member indexes; s.mu is held.
func (s *Store) unindex(l contactsync.Link) {
	removeIndex(s.remote, linkKey{l.Kind, l.RemoteID}, l.LocalID)
	removeIndex(s.members, linkKey{l.Kind, l.MemberID}, l.LocalID)
}

// addIndex adds v to the set ix[k].
func addIndex[K, V comparable](ix map[K]map[V]struct{}, k K, v V) {
	set := ix[k]
	if set == nil {
		set = make(map[V]struct{})
		ix[k] = set
	}
	set[v] = struct{}{}
}

// removeIndex removes v from the set ix[k], and the set once empty.
func removeIndex[K, V comparable](ix map[K]map[V]struct{}, k K, v V) {
	set := ix[k]
	delete(set, v)
	if len(set) == 0 {
		delete(ix, k)
	}
}

// DeleteLink implements contactsync.StateStore.
func (s *Store) DeleteLink(ctx context.Context, kind contactsync.Kind, localID string) error {
	return s.deleteLink(ctx, kind, localID, nil)
}

// deleteLink removes a link, if fence is nil or still holds the lease.
func (s *Store) deleteLink(ctx context.Context, kind contactsync.Kind, localID string, fence *contactsync.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fence != nil {
		if err := s.current(*fence); err != nil {
			return err
		}
	}
	k := linkKey{kind, localID}
	if old, ok := s.links[k]; ok {
		s.unindex(old)
		delete(s.links, k)
		s.sorted[kind] = nil
	}
	return nil
}

// Links implements contactsync.StateStore. A limit of zero or less means no limit.
func (s *Store) Links(ctx context.Context, kind contactsync.Kind, after string, limit int) ([]contactsync.Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids := s.sortedIDs(kind)
	s.mu.RLock()
	defer s.mu.RUnlock()
	start, found := slices.BinarySearch(ids, after)
	if found {
		start++
	}
	var out []contactsync.Link
	for _, id := range ids[start:] {
		if limit > 0 && len(out) == limit {
			break
		}
		// ids may be stale: a link deleted since it was sorted is skipped,
		// and one created since is missed, as by a read a moment earlier.
		if l, ok := s.links[linkKey{kind, id}]; ok {
			out = append(out, storekit.CloneLink(l))
		}
	}
	return out, nil
}

// sortedIDs returns the sorted local IDs of kind's links, sorting them if
// the cached order is stale. The slice is never modified once cached.
func (s *Store) sortedIDs(kind contactsync.Kind) []string {
	s.mu.RLock()
	ids, ok := s.sorted[kind]
	s.mu.RUnlock()
	if ok && ids != nil {
		return ids
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ids := s.sorted[kind]; ids != nil {
		return ids
	}
	ids = []string{} // non-nil: cached, even when empty
	for k := range s.links {
		if k.kind == kind {
			ids = append(ids, k.id)
		}
	}
	slices.Sort(ids)
	s.sorted[kind] = ids
	return ids
}

// MemberLinks implements contactsync.StateStore.
func (s *Store) MemberLinks(ctx context.Context, kind contactsync.Kind, memberID string) ([]contactsync.Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.members[linkKey{kind, memberID}]
	if len(ids) == 0 {
		return nil, nil
	}
	out := make([]contactsync.Link, 0, len(ids))
	for id := range ids {
		out = append(out, storekit.CloneLink(s.links[linkKey{kind, id}]))
	}
	slices.SortFunc(out, func(a, b contactsync.Link) int { return cmp.Compare(a.LocalID, b.LocalID) })
	return out, nil
}

// PutIntent implements contactsync.StateStore.
func (s *Store) PutIntent(ctx context.Context, in contactsync.Intent) error {
	return s.putIntent(ctx, in, nil)
}

// putIntent records in, if fence is nil or still holds the lease.
func (s *Store) putIntent(ctx context.Context, in contactsync.Intent, fence *contactsync.Lease) error {
	if in.Key == "" {
		return errors.New("contactsync: an intent needs a key")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	in.Data = storekit.CloneBytes(in.Data)
	in.CreatedAt = storekit.StoredTime(in.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if fence != nil {
		if err := s.current(*fence); err != nil {
			return err
		}
	}
	s.intents[in.Key] = in
	return nil
}

// Intent implements contactsync.StateStore.
func (s *Store) Intent(ctx context.Context, key string) (contactsync.Intent, error) {
	if err := ctx.Err(); err != nil {
		return contactsync.Intent{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	in, ok := s.intents[key]
	if !ok {
		return contactsync.Intent{}, contactsync.ErrNotFound
	}
	in.Data = storekit.CloneBytes(in.Data)
	return in, nil
}

// Intents implements contactsync.StateStore, ordering intents by CreatedAt and then
// by Key.
func (s *Store) Intents(ctx context.Context) ([]contactsync.Intent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := make([]contactsync.Intent, 0, len(s.intents))
	for _, in := range s.intents {
		in.Data = storekit.CloneBytes(in.Data)
		out = append(out, in)
	}
	s.mu.RUnlock()
	if len(out) == 0 {
		return nil, nil
	}
	slices.SortFunc(out, func(a, b contactsync.Intent) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}

// Commit implements contactsync.StateStore.
func (s *Store) Commit(ctx context.Context, l contactsync.Link, key string) error {
	return s.commit(ctx, l, key, nil)
}

// commit stores l and removes intent key, if fence is nil or still holds
// the lease.
func (s *Store) commit(ctx context.Context, l contactsync.Link, key string, fence *contactsync.Lease) error {
	if err := storekit.CheckLink(l); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l = storekit.NormalizeLink(l)
	s.mu.Lock()
	defer s.mu.Unlock()
	if fence != nil {
		if err := s.current(*fence); err != nil {
			return err
		}
	}
	s.putLink(l)
	if key != "" {
		delete(s.intents, key)
	}
	return nil
}

// DeleteIntent implements contactsync.StateStore.
func (s *Store) DeleteIntent(ctx context.Context, key string) error {
	return s.deleteIntent(ctx, key, nil)
}

// deleteIntent removes intent key, if fence is nil or still holds the
// lease.
func (s *Store) deleteIntent(ctx context.Context, key string, fence *contactsync.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fence != nil {
		if err := s.current(*fence); err != nil {
			return err
		}
	}
	delete(s.intents, key)
	return nil
}

// MarkDone implements contactsync.StateStore.
func (s *Store) MarkDone(ctx context.Context, key string) (first bool, err error) {
	if key == "" {
		return false, errors.New("contactsync: an idempotency key must not be empty")
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.done[key]; ok {
		return false, nil
	}
	s.done[key] = struct{}{}
	return true, nil
}

// Done implements contactsync.StateStore.
func (s *Store) Done(ctx context.Context, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.done[key]
	return ok, nil
}

// AppendRun implements contactsync.StateStore. A run with the ID of a run in the log
// replaces it (and takes its place in the order by Started).
func (s *Store) AppendRun(ctx context.Context, r contactsync.RunRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.Started, r.Finished = storekit.StoredTime(r.Started), storekit.StoredTime(r.Finished)
	r.Report = storekit.CloneBytes(r.Report)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = slices.DeleteFunc(s.runs, func(old contactsync.RunRecord) bool { return old.ID == r.ID })
	s.runs = append(s.runs, r)
	return nil
}

// Runs implements contactsync.StateStore, ordering runs by Started, newest first, and
// runs started at the same millisecond by when they were appended, last
// first. A limit of zero or less means no limit.
func (s *Store) Runs(ctx context.Context, limit int) ([]contactsync.RunRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := slices.Clone(s.runs)
	s.mu.RUnlock()
	if len(out) == 0 {
		return nil, nil
	}
	slices.Reverse(out) // last appended first, for the stable sort's ties
	slices.SortStableFunc(out, func(a, b contactsync.RunRecord) int { return b.Started.Compare(a.Started) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Report = storekit.CloneBytes(out[i].Report)
	}
	return out, nil
}

// memInboxEntry is an inbox entry of a Store and whether it was
// processed.
type memInboxEntry struct {
	contactsync.InboxEntry
	done bool
}

// PutActivity implements contactsync.ActivityStore.
func (s *Store) PutActivity(ctx context.Context, a contactsync.Activity) error {
	if err := storekit.CheckActivity(a); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	a = storekit.NormalizeActivity(a)
	k := linkKey{a.Kind, a.RemoteID}
	s.amu.Lock()
	defer s.amu.Unlock()
	if old := s.activity(k); old != nil {
		removeIndex(s.actContact, old.ContactID, k)
		removeIndex(s.actMember, old.MemberID, k)
	}
	byID := s.activities[a.Kind]
	if byID == nil {
		byID = make(map[string]*contactsync.Activity)
		s.activities[a.Kind] = byID
	}
	byID[a.RemoteID] = &a
	addIndex(s.actContact, a.ContactID, k)
	addIndex(s.actMember, a.MemberID, k)
	return nil
}

// DeleteActivity implements contactsync.ActivityStore.
func (s *Store) DeleteActivity(ctx context.Context, kind contactsync.Kind, remoteID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	s.deleteActivity(linkKey{kind, remoteID})
	return nil
}

// activity returns the activity of k, or nil; s.amu is held.
func (s *Store) activity(k linkKey) *contactsync.Activity { return s.activities[k.kind][k.id] }

// deleteActivity removes the activity of k, if any; s.amu is held.
func (s *Store) deleteActivity(k linkKey) {
	old := s.activity(k)
	if old == nil {
		return
	}
	removeIndex(s.actContact, old.ContactID, k)
	removeIndex(s.actMember, old.MemberID, k)
	delete(s.activities[k.kind], k.id)
	if len(s.activities[k.kind]) == 0 {
		delete(s.activities, k.kind)
	}
}

// DeleteContactActivities implements contactsync.ActivityStore.
func (s *Store) DeleteContactActivities(ctx context.Context, contactID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	for k := range s.actContact[contactID] { // deleting while ranging is fine
		s.deleteActivity(k)
	}
	return nil
}

// Activity implements contactsync.ActivityStore.
func (s *Store) Activity(ctx context.Context, kind contactsync.Kind, remoteID string) (contactsync.Activity, error) {
	if err := ctx.Err(); err != nil {
		return contactsync.Activity{}, err
	}
	s.amu.RLock()
	defer s.amu.RUnlock()
	a := s.activity(linkKey{kind, remoteID})
	if a == nil {
		return contactsync.Activity{}, contactsync.ErrNotFound
	}
	return *a, nil
}

// Activities implements contactsync.ActivityStore. It orders activities by At, then
// RemoteID, then contactsync.Kind, or with q.Descending in exactly the reverse order.
// With q.Completed set it returns tasks only, and with q.Statuses set
// appointments only (so with both, nothing). A negative q.Limit means no
// cap, as zero does.
func (s *Store) Activities(ctx context.Context, q contactsync.ActivityQuery) ([]contactsync.Activity, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	kinds, ok := storekit.QueryKinds(q)
	if !ok {
		return nil, nil
	}
	order := compareActivities
	if q.Descending {
		order = func(a, b *contactsync.Activity) int { return compareActivities(b, a) }
	}
	// With a limit, keep only the first q.Limit in order while scanning:
	// one comparison for most activities instead of sorting them all.
	var sel []*contactsync.Activity
	keep := func(a *contactsync.Activity) {
		if !matchActivity(a, q, kinds) {
			return
		}
		if q.Limit <= 0 {
			sel = append(sel, a)
			return
		}
		if len(sel) == q.Limit && order(a, sel[len(sel)-1]) >= 0 {
			return
		}
		i, _ := slices.BinarySearchFunc(sel, a, order)
		if len(sel) == q.Limit {
			sel = sel[:len(sel)-1]
		}
		sel = slices.Insert(sel, i, a)
	}
	s.amu.RLock()
	switch {
	case q.ContactID != "":
		for k := range s.actContact[q.ContactID] {
			keep(s.activity(k))
		}
	case q.MemberID != "":
		for k := range s.actMember[q.MemberID] {
			keep(s.activity(k))
		}
	case kinds != nil:
		for _, kind := range kinds {
			for _, a := range s.activities[kind] {
				keep(a)
			}
		}
	default:
		for _, byID := range s.activities {
			for _, a := range byID {
				keep(a)
			}
		}
	}
	s.amu.RUnlock()
	if q.Limit <= 0 {
		slices.SortFunc(sel, order)
	}
	if len(sel) == 0 {
		return nil, nil
	}
	out := make([]contactsync.Activity, len(sel))
	for i, a := range sel {
		out[i] = *a
	}
	return out, nil
}

// PutInbox implements contactsync.InboundStore. A zero Received is set to the current
// time.
func (s *Store) PutInbox(ctx context.Context, e contactsync.InboxEntry) (first bool, err error) {
	if e.ID == "" {
		return false, errors.New("contactsync: an inbox entry needs an ID")
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	e = storekit.NormalizeInbox(e, time.Now())
	s.amu.Lock()
	defer s.amu.Unlock()
	if _, ok := s.inbox[e.ID]; ok {
		return false, nil
	}
	s.inbox[e.ID] = memInboxEntry{InboxEntry: e}
	return true, nil
}

// PendingInbox implements contactsync.InboundStore, ordering entries by Timestamp,
// then Received, then ID. A limit of zero or less means no limit.
func (s *Store) PendingInbox(ctx context.Context, limit int) ([]contactsync.InboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []contactsync.InboxEntry
	s.amu.RLock()
	for _, e := range s.inbox {
		if !e.done {
			out = append(out, e.InboxEntry)
		}
	}
	s.amu.RUnlock()
	slices.SortFunc(out, func(a, b contactsync.InboxEntry) int {
		return cmp.Or(a.Timestamp.Compare(b.Timestamp), a.Received.Compare(b.Received), cmp.Compare(a.ID, b.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Body = storekit.CloneBytes(out[i].Body)
	}
	return out, nil
}

// DoneInbox implements contactsync.InboundStore. It forgets the entry's body; an ID
// that is not in the inbox is no error (and is not recorded).
func (s *Store) DoneInbox(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	if e, ok := s.inbox[id]; ok {
		e.done, e.Body = true, nil
		s.inbox[id] = e
	}
	return nil
}

// PurgeInbox implements contactsync.InboundStore. Unprocessed entries are kept however
// old they are.
func (s *Store) PurgeInbox(ctx context.Context, before time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	for id, e := range s.inbox {
		if e.done && e.Received.Before(before) {
			delete(s.inbox, id)
		}
	}
	return nil
}

// Cursor implements contactsync.InboundStore.
func (s *Store) Cursor(ctx context.Context, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.amu.RLock()
	defer s.amu.RUnlock()
	return s.cursors[name], nil
}

// SetCursor implements contactsync.InboundStore. Setting a cursor to "" unsets it.
func (s *Store) SetCursor(ctx context.Context, name, value string) error {
	if name == "" {
		return errors.New("contactsync: a cursor needs a name")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	if value == "" {
		delete(s.cursors, name)
	} else {
		s.cursors[name] = value
	}
	return nil
}

// Seen implements contactsync.InboundStore.
func (s *Store) Seen(ctx context.Context, kind contactsync.Kind, remoteID string) (contactsync.Seen, error) {
	if err := ctx.Err(); err != nil {
		return contactsync.Seen{}, err
	}
	s.amu.RLock()
	defer s.amu.RUnlock()
	seen, ok := s.seen[linkKey{kind, remoteID}]
	if !ok {
		return contactsync.Seen{}, contactsync.ErrNotFound
	}
	seen.State = storekit.CloneBytes(seen.State)
	return seen, nil
}

// PutSeen implements contactsync.InboundStore, replacing what was stored for the
// record.
func (s *Store) PutSeen(ctx context.Context, seen contactsync.Seen) error {
	if seen.Kind == "" || seen.RemoteID == "" {
		return errors.New("contactsync: a contactsync.Seen needs a contactsync.Kind and a RemoteID")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	seen.State = storekit.CloneBytes(seen.State)
	seen.At = storekit.StoredTime(seen.At)
	s.amu.Lock()
	defer s.amu.Unlock()
	s.seen[linkKey{seen.Kind, seen.RemoteID}] = seen
	return nil
}

// MarkDirty implements contactsync.InboundStore. A contact marked again keeps the
// earliest of its marks: the soonest re-read wins.
func (s *Store) MarkDirty(ctx context.Context, contactID string, t time.Time) error {
	if contactID == "" {
		return errors.New("contactsync: MarkDirty needs a contact ID")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t = storekit.StoredTime(t)
	s.amu.Lock()
	defer s.amu.Unlock()
	if old, ok := s.dirty[contactID]; !ok || t.Before(old) {
		s.dirty[contactID] = t
	}
	return nil
}

// Dirty implements contactsync.InboundStore, ordering contacts by their mark, then by
// ID. A limit of zero or less means no limit.
func (s *Store) Dirty(ctx context.Context, before time.Time, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type mark struct {
		id string
		at time.Time
	}
	var marks []mark
	s.amu.RLock()
	for id, at := range s.dirty {
		if !at.After(before) {
			marks = append(marks, mark{id, at})
		}
	}
	s.amu.RUnlock()
	if len(marks) == 0 {
		return nil, nil
	}
	slices.SortFunc(marks, func(a, b mark) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.id, b.id)) })
	if limit > 0 && len(marks) > limit {
		marks = marks[:limit]
	}
	out := make([]string, len(marks))
	for i, m := range marks {
		out[i] = m.id
	}
	return out, nil
}

// ClearDirty implements contactsync.InboundStore.
func (s *Store) ClearDirty(ctx context.Context, contactID string, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	if at, ok := s.dirty[contactID]; ok && !at.After(t) {
		delete(s.dirty, contactID)
	}
	return nil
}

// matchActivity reports whether a, as stored, is one q selects of kinds
// (nil: every kind).
func matchActivity(a *contactsync.Activity, q contactsync.ActivityQuery, kinds []contactsync.Kind) bool {
	switch {
	case kinds != nil && !slices.Contains(kinds, a.Kind),
		q.ContactID != "" && a.ContactID != q.ContactID,
		q.MemberID != "" && a.MemberID != q.MemberID,
		!q.From.IsZero() && a.At.Before(q.From),
		!q.To.IsZero() && !a.At.Before(q.To),
		q.Completed != nil && a.Completed != *q.Completed,
		len(q.Statuses) > 0 && !slices.Contains(q.Statuses, a.Status):
		return false
	}
	return true
}

// compareActivities orders activities as the stores list them: by At,
// then RemoteID, then contactsync.Kind.
func compareActivities(a, b *contactsync.Activity) int {
	return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.RemoteID, b.RemoteID), cmp.Compare(a.Kind, b.Kind))
}

// A Store serves as every store of contactsync.
var (
	_ contactsync.LeaseStore    = (*Store)(nil)
	_ contactsync.BudgetStore   = (*Store)(nil)
	_ contactsync.StateStore    = (*Store)(nil)
	_ contactsync.ActivityStore = (*Store)(nil)
	_ contactsync.InboundStore  = (*Store)(nil)
)
