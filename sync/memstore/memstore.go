package contactsync

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a StateStore in memory, for tests, examples and one-off
// runs: everything it holds is lost with the process, so it cannot resume
// a crashed run. Use a SQLiteStore for anything that must survive a
// restart.
//
// A MemoryStore is safe for concurrent use. It keeps its own copies of
// what it is given and hands out copies, so callers may modify the Tags,
// State, Data and Report slices they pass in or get back. It behaves like
// a SQLiteStore in the details the StateStore contract leaves open: times
// are kept to the millisecond in UTC, and empty Tags, State, Data and
// Report slices come back nil.
//
// Links is quick for repeated paging (the sorted order of a kind's local
// IDs is cached until a link of that kind is created or deleted), but the
// store is meant for thousands of links, not millions.
//
// A MemoryStore is also an ActivityStore and an InboundStore, so one value
// serves as all three stores of the inbound side in tests. Activities
// looks a contact's or a member's activities up by index and otherwise
// scans those of the kinds asked for: a view of a location with 100,000
// activities takes a few milliseconds (a SQLiteStore's a fraction of one).
type MemoryStore struct {
	mu      sync.RWMutex
	links   map[linkKey]Link
	remote  map[linkKey]map[string]struct{} // (kind, remote ID) → local IDs
	members map[linkKey]map[string]struct{} // (kind, member ID) → local IDs
	sorted  map[Kind][]string               // sorted local IDs of a kind, nil when stale
	intents map[string]Intent
	done    map[string]struct{}
	runs    []RunRecord // in the order appended

	// The read model and the inbound state, under a lock of their own.
	amu        sync.RWMutex
	activities map[Kind]map[string]*Activity   // kind → remote ID → activity, never modified once stored
	actContact map[string]map[linkKey]struct{} // contact ID → activity keys
	actMember  map[string]map[linkKey]struct{} // member ID → activity keys
	inbox      map[string]memInboxEntry        // by ID
	cursors    map[string]string               // by name
	seen       map[linkKey]Seen                // (kind, remote ID) → seen
	dirty      map[string]time.Time            // contact ID → newest mark
}

// linkKey is a (kind, ID) pair.
type linkKey struct {
	kind Kind
	id   string
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		links:   make(map[linkKey]Link),
		remote:  make(map[linkKey]map[string]struct{}),
		members: make(map[linkKey]map[string]struct{}),
		sorted:  make(map[Kind][]string),
		intents: make(map[string]Intent),
		done:    make(map[string]struct{}),

		activities: make(map[Kind]map[string]*Activity),
		actContact: make(map[string]map[linkKey]struct{}),
		actMember:  make(map[string]map[linkKey]struct{}),
		inbox:      make(map[string]memInboxEntry),
		cursors:    make(map[string]string),
		seen:       make(map[linkKey]Seen),
		dirty:      make(map[string]time.Time),
	}
}

// Link implements StateStore.
func (s *MemoryStore) Link(ctx context.Context, kind Kind, localID string) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.links[linkKey{kind, localID}]
	if !ok {
		return Link{}, ErrNotFound
	}
	return cloneLink(l), nil
}

// LinkByRemote implements StateStore. If several links of the kind have
// the remote ID, it returns the one with the least LocalID.
func (s *MemoryStore) LinkByRemote(ctx context.Context, kind Kind, remoteID string) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.remote[linkKey{kind, remoteID}]
	if len(ids) == 0 {
		return Link{}, ErrNotFound
	}
	first := ""
	for id := range ids {
		if first == "" || id < first {
			first = id
		}
	}
	return cloneLink(s.links[linkKey{kind, first}]), nil
}

// PutLink implements StateStore.
func (s *MemoryStore) PutLink(ctx context.Context, l Link) error {
	if err := checkLink(l); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l = normalizeLink(l)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLink(l)
	return nil
}

// putLink stores l, a normalized copy, replacing the link with its kind
// and local ID; s.mu is held.
func (s *MemoryStore) putLink(l Link) {
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
func (s *MemoryStore) unindex(l Link) {
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

// DeleteLink implements StateStore.
func (s *MemoryStore) DeleteLink(ctx context.Context, kind Kind, localID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := linkKey{kind, localID}
	if old, ok := s.links[k]; ok {
		s.unindex(old)
		delete(s.links, k)
		s.sorted[kind] = nil
	}
	return nil
}

// Links implements StateStore. A limit of zero or less means no limit.
func (s *MemoryStore) Links(ctx context.Context, kind Kind, after string, limit int) ([]Link, error) {
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
	var out []Link
	for _, id := range ids[start:] {
		if limit > 0 && len(out) == limit {
			break
		}
		// ids may be stale: a link deleted since it was sorted is skipped,
		// and one created since is missed, as by a read a moment earlier.
		if l, ok := s.links[linkKey{kind, id}]; ok {
			out = append(out, cloneLink(l))
		}
	}
	return out, nil
}

// sortedIDs returns the sorted local IDs of kind's links, sorting them if
// the cached order is stale. The slice is never modified once cached.
func (s *MemoryStore) sortedIDs(kind Kind) []string {
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

// MemberLinks implements StateStore.
func (s *MemoryStore) MemberLinks(ctx context.Context, kind Kind, memberID string) ([]Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.members[linkKey{kind, memberID}]
	if len(ids) == 0 {
		return nil, nil
	}
	out := make([]Link, 0, len(ids))
	for id := range ids {
		out = append(out, cloneLink(s.links[linkKey{kind, id}]))
	}
	slices.SortFunc(out, func(a, b Link) int { return cmp.Compare(a.LocalID, b.LocalID) })
	return out, nil
}

// PutIntent implements StateStore.
func (s *MemoryStore) PutIntent(ctx context.Context, in Intent) error {
	if in.Key == "" {
		return errors.New("contactsync: an intent needs a key")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	in.Data = cloneBytes(in.Data)
	in.CreatedAt = storedTime(in.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intents[in.Key] = in
	return nil
}

// Intent implements StateStore.
func (s *MemoryStore) Intent(ctx context.Context, key string) (Intent, error) {
	if err := ctx.Err(); err != nil {
		return Intent{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	in, ok := s.intents[key]
	if !ok {
		return Intent{}, ErrNotFound
	}
	in.Data = cloneBytes(in.Data)
	return in, nil
}

// Intents implements StateStore, ordering intents by CreatedAt and then
// by Key.
func (s *MemoryStore) Intents(ctx context.Context) ([]Intent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := make([]Intent, 0, len(s.intents))
	for _, in := range s.intents {
		in.Data = cloneBytes(in.Data)
		out = append(out, in)
	}
	s.mu.RUnlock()
	if len(out) == 0 {
		return nil, nil
	}
	slices.SortFunc(out, func(a, b Intent) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}

// Commit implements StateStore.
func (s *MemoryStore) Commit(ctx context.Context, l Link, key string) error {
	if err := checkLink(l); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l = normalizeLink(l)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putLink(l)
	if key != "" {
		delete(s.intents, key)
	}
	return nil
}

// DeleteIntent implements StateStore.
func (s *MemoryStore) DeleteIntent(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.intents, key)
	return nil
}

// MarkDone implements StateStore.
func (s *MemoryStore) MarkDone(ctx context.Context, key string) (first bool, err error) {
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

// Done implements StateStore.
func (s *MemoryStore) Done(ctx context.Context, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.done[key]
	return ok, nil
}

// AppendRun implements StateStore. A run with the ID of a run in the log
// replaces it (and takes its place in the order by Started).
func (s *MemoryStore) AppendRun(ctx context.Context, r RunRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.Started, r.Finished = storedTime(r.Started), storedTime(r.Finished)
	r.Report = cloneBytes(r.Report)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = slices.DeleteFunc(s.runs, func(old RunRecord) bool { return old.ID == r.ID })
	s.runs = append(s.runs, r)
	return nil
}

// Runs implements StateStore, ordering runs by Started, newest first, and
// runs started at the same millisecond by when they were appended, last
// first. A limit of zero or less means no limit.
func (s *MemoryStore) Runs(ctx context.Context, limit int) ([]RunRecord, error) {
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
	slices.SortStableFunc(out, func(a, b RunRecord) int { return b.Started.Compare(a.Started) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Report = cloneBytes(out[i].Report)
	}
	return out, nil
}

// checkLink reports a link no store can key.
func checkLink(l Link) error {
	if l.Kind == "" || l.LocalID == "" {
		return errors.New("contactsync: a link needs a Kind and a LocalID")
	}
	return nil
}

// normalizeLink returns a copy of l as the stores keep it: its own Tags
// and State (nil when empty) and UpdatedAt to the millisecond in UTC.
func normalizeLink(l Link) Link {
	l = cloneLink(l)
	l.UpdatedAt = storedTime(l.UpdatedAt)
	return l
}

// cloneLink returns l with its own copies of Tags and State, nil when
// empty.
func cloneLink(l Link) Link {
	l.State = cloneBytes(l.State)
	if len(l.Tags) == 0 {
		l.Tags = nil
	} else {
		l.Tags = slices.Clone(l.Tags)
	}
	return l
}

// cloneBytes returns a copy of b, nil when b is empty.
func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

// storedTime returns t as the stores keep it: to the millisecond, in UTC,
// without a monotonic clock reading. The zero time stays zero.
func storedTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// memInboxEntry is an inbox entry of a MemoryStore and whether it was
// processed.
type memInboxEntry struct {
	InboxEntry
	done bool
}

// PutActivity implements ActivityStore.
func (s *MemoryStore) PutActivity(ctx context.Context, a Activity) error {
	if err := checkActivity(a); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	a = normalizeActivity(a)
	k := linkKey{a.Kind, a.RemoteID}
	s.amu.Lock()
	defer s.amu.Unlock()
	if old := s.activity(k); old != nil {
		removeIndex(s.actContact, old.ContactID, k)
		removeIndex(s.actMember, old.MemberID, k)
	}
	byID := s.activities[a.Kind]
	if byID == nil {
		byID = make(map[string]*Activity)
		s.activities[a.Kind] = byID
	}
	byID[a.RemoteID] = &a
	addIndex(s.actContact, a.ContactID, k)
	addIndex(s.actMember, a.MemberID, k)
	return nil
}

// DeleteActivity implements ActivityStore.
func (s *MemoryStore) DeleteActivity(ctx context.Context, kind Kind, remoteID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	s.deleteActivity(linkKey{kind, remoteID})
	return nil
}

// activity returns the activity of k, or nil; s.amu is held.
func (s *MemoryStore) activity(k linkKey) *Activity { return s.activities[k.kind][k.id] }

// deleteActivity removes the activity of k, if any; s.amu is held.
func (s *MemoryStore) deleteActivity(k linkKey) {
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

// DeleteContactActivities implements ActivityStore.
func (s *MemoryStore) DeleteContactActivities(ctx context.Context, contactID string) error {
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

// Activity implements ActivityStore.
func (s *MemoryStore) Activity(ctx context.Context, kind Kind, remoteID string) (Activity, error) {
	if err := ctx.Err(); err != nil {
		return Activity{}, err
	}
	s.amu.RLock()
	defer s.amu.RUnlock()
	a := s.activity(linkKey{kind, remoteID})
	if a == nil {
		return Activity{}, ErrNotFound
	}
	return *a, nil
}

// Activities implements ActivityStore. It orders activities by At, then
// RemoteID, then Kind, or with q.Descending in exactly the reverse order.
// With q.Completed set it returns tasks only, and with q.Statuses set
// appointments only (so with both, nothing). A negative q.Limit means no
// cap, as zero does.
func (s *MemoryStore) Activities(ctx context.Context, q ActivityQuery) ([]Activity, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	kinds, ok := queryKinds(q)
	if !ok {
		return nil, nil
	}
	order := compareActivities
	if q.Descending {
		order = func(a, b *Activity) int { return compareActivities(b, a) }
	}
	// With a limit, keep only the first q.Limit in order while scanning:
	// one comparison for most activities instead of sorting them all.
	var sel []*Activity
	keep := func(a *Activity) {
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
	out := make([]Activity, len(sel))
	for i, a := range sel {
		out[i] = *a
	}
	return out, nil
}

// PutInbox implements InboundStore. A zero Received is set to the current
// time.
func (s *MemoryStore) PutInbox(ctx context.Context, e InboxEntry) (first bool, err error) {
	if e.ID == "" {
		return false, errors.New("contactsync: an inbox entry needs an ID")
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	e = normalizeInbox(e, time.Now())
	s.amu.Lock()
	defer s.amu.Unlock()
	if _, ok := s.inbox[e.ID]; ok {
		return false, nil
	}
	s.inbox[e.ID] = memInboxEntry{InboxEntry: e}
	return true, nil
}

// PendingInbox implements InboundStore, ordering entries by Timestamp,
// then Received, then ID. A limit of zero or less means no limit.
func (s *MemoryStore) PendingInbox(ctx context.Context, limit int) ([]InboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []InboxEntry
	s.amu.RLock()
	for _, e := range s.inbox {
		if !e.done {
			out = append(out, e.InboxEntry)
		}
	}
	s.amu.RUnlock()
	slices.SortFunc(out, func(a, b InboxEntry) int {
		return cmp.Or(a.Timestamp.Compare(b.Timestamp), a.Received.Compare(b.Received), cmp.Compare(a.ID, b.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Body = cloneBytes(out[i].Body)
	}
	return out, nil
}

// DoneInbox implements InboundStore. It forgets the entry's body; an ID
// that is not in the inbox is no error (and is not recorded).
func (s *MemoryStore) DoneInbox(ctx context.Context, id string) error {
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

// PurgeInbox implements InboundStore. Unprocessed entries are kept however
// old they are.
func (s *MemoryStore) PurgeInbox(ctx context.Context, before time.Time) error {
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

// Cursor implements InboundStore.
func (s *MemoryStore) Cursor(ctx context.Context, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.amu.RLock()
	defer s.amu.RUnlock()
	return s.cursors[name], nil
}

// SetCursor implements InboundStore. Setting a cursor to "" unsets it.
func (s *MemoryStore) SetCursor(ctx context.Context, name, value string) error {
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

// Seen implements InboundStore.
func (s *MemoryStore) Seen(ctx context.Context, kind Kind, remoteID string) (Seen, error) {
	if err := ctx.Err(); err != nil {
		return Seen{}, err
	}
	s.amu.RLock()
	defer s.amu.RUnlock()
	seen, ok := s.seen[linkKey{kind, remoteID}]
	if !ok {
		return Seen{}, ErrNotFound
	}
	seen.State = cloneBytes(seen.State)
	return seen, nil
}

// PutSeen implements InboundStore, replacing what was stored for the
// record.
func (s *MemoryStore) PutSeen(ctx context.Context, seen Seen) error {
	if seen.Kind == "" || seen.RemoteID == "" {
		return errors.New("contactsync: a Seen needs a Kind and a RemoteID")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	seen.State = cloneBytes(seen.State)
	seen.At = storedTime(seen.At)
	s.amu.Lock()
	defer s.amu.Unlock()
	s.seen[linkKey{seen.Kind, seen.RemoteID}] = seen
	return nil
}

// MarkDirty implements InboundStore. A contact marked again keeps the
// earliest of its marks: the soonest re-read wins.
func (s *MemoryStore) MarkDirty(ctx context.Context, contactID string, t time.Time) error {
	if contactID == "" {
		return errors.New("contactsync: MarkDirty needs a contact ID")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t = storedTime(t)
	s.amu.Lock()
	defer s.amu.Unlock()
	if old, ok := s.dirty[contactID]; !ok || t.Before(old) {
		s.dirty[contactID] = t
	}
	return nil
}

// Dirty implements InboundStore, ordering contacts by their mark, then by
// ID. A limit of zero or less means no limit.
func (s *MemoryStore) Dirty(ctx context.Context, before time.Time, limit int) ([]string, error) {
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

// ClearDirty implements InboundStore.
func (s *MemoryStore) ClearDirty(ctx context.Context, contactID string, t time.Time) error {
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

// checkActivity reports an activity no store can key.
func checkActivity(a Activity) error {
	if a.Kind == "" || a.RemoteID == "" {
		return errors.New("contactsync: an activity needs a Kind and a RemoteID")
	}
	return nil
}

// normalizeActivity returns a as the stores keep it: its times to the
// millisecond in UTC.
func normalizeActivity(a Activity) Activity {
	a.At, a.End, a.UpdatedAt = storedTime(a.At), storedTime(a.End), storedTime(a.UpdatedAt)
	return a
}

// normalizeInbox returns e as the stores keep it: its own Body (nil when
// empty), times to the millisecond in UTC, and a zero Received set to now.
func normalizeInbox(e InboxEntry, now time.Time) InboxEntry {
	if e.Received.IsZero() {
		e.Received = now
	}
	e.Received, e.Timestamp = storedTime(e.Received), storedTime(e.Timestamp)
	e.Body = cloneBytes(e.Body)
	return e
}

// queryKinds returns the kinds q can select: nil for every kind, or the
// kinds to select, each once; ok is false when q can select nothing. Completed
// selects tasks only and Statuses appointments only, whatever q.Kinds
// says of other kinds.
func queryKinds(q ActivityQuery) (kinds []Kind, ok bool) {
	if len(q.Kinds) > 0 {
		kinds = slices.Compact(slices.Sorted(slices.Values(q.Kinds))) // each once
	}
	only := func(k Kind) bool {
		if kinds != nil && !slices.Contains(kinds, k) {
			return false
		}
		kinds = []Kind{k}
		return true
	}
	if q.Completed != nil && !only(KindTask) {
		return nil, false
	}
	if len(q.Statuses) > 0 && !only(KindAppointment) {
		return nil, false
	}
	return kinds, true
}

// matchActivity reports whether a, as stored, is one q selects of kinds
// (nil: every kind).
func matchActivity(a *Activity, q ActivityQuery, kinds []Kind) bool {
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
// then RemoteID, then Kind.
func compareActivities(a, b *Activity) int {
	return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.RemoteID, b.RemoteID), cmp.Compare(a.Kind, b.Kind))
}

// A MemoryStore serves as all three stores.
var (
	_ StateStore    = (*MemoryStore)(nil)
	_ ActivityStore = (*MemoryStore)(nil)
	_ InboundStore  = (*MemoryStore)(nil)
)
