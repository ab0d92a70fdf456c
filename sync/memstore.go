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
type MemoryStore struct {
	mu      sync.RWMutex
	links   map[linkKey]Link
	remote  map[linkKey]map[string]struct{} // (kind, remote ID) → local IDs
	members map[linkKey]map[string]struct{} // (kind, member ID) → local IDs
	sorted  map[Kind][]string               // sorted local IDs of a kind, nil when stale
	intents map[string]Intent
	done    map[string]struct{}
	runs    []RunRecord // in the order appended
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

func addIndex(ix map[linkKey]map[string]struct{}, k linkKey, localID string) {
	ids := ix[k]
	if ids == nil {
		ids = make(map[string]struct{})
		ix[k] = ids
	}
	ids[localID] = struct{}{}
}

func removeIndex(ix map[linkKey]map[string]struct{}, k linkKey, localID string) {
	ids := ix[k]
	delete(ids, localID)
	if len(ids) == 0 {
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
