package contactsync

import (
	"context"
	"errors"
	"time"
)

// Kind is the kind of GymFlow record a Link or Intent is about.
type Kind string

// Kinds.
const (
	KindMember Kind = "member"
	KindTask   Kind = "task"
	KindNote   Kind = "note"
)

// Link ties a GymFlow record to its Contacts API record and remembers what
// the sync last wrote there.
type Link struct {
	Kind Kind
	// LocalID is the GymFlow ID (member, task or note).
	LocalID string
	// RemoteID is the contact, task or note ID in the Contacts API.
	RemoteID string
	// MemberID and ContactID name the owning member and contact of a
	// task or note ("" for members).
	MemberID  string
	ContactID string
	// Hash is a hash of the values last written; equal hashes mean no
	// call is needed.
	Hash string
	// State is the engine's snapshot of what it last wrote (JSON).
	State []byte
	// Tags are the tags this sync wrote to the contact and still owns.
	Tags []string
	// Archived marks a member contact archived after a GymFlow delete.
	Archived  bool
	UpdatedAt time.Time
}

// Intent is recorded before a write and removed after it, so that after a
// crash the engine knows which writes may have happened and resolves them
// (looks the record up) instead of repeating them.
type Intent struct {
	// Key identifies the write, e.g. "create/member/<id>".
	Key     string
	Kind    Kind
	LocalID string
	// Op is "create", "update", "tags", "archive" or "delete".
	Op string
	// Data is what the engine needs to resolve the write (JSON).
	Data      []byte
	CreatedAt time.Time
}

// RunRecord is one entry of the run log.
type RunRecord struct {
	ID       string
	Started  time.Time
	Finished time.Time
	// Report is the run's Report as JSON.
	Report []byte
	// Err is the run's error, if it stopped early.
	Err string
}

// ErrNotFound is returned by StateStore lookups that find nothing.
var ErrNotFound = errors.New("contactsync: not found in the state store")

// StateStore is the sync's durable memory. Implementations must be safe
// for concurrent use; the engine's writes to one key are never concurrent.
// A store keeps its own copies of the slices it is given and returns
// copies. It may keep times only to the millisecond and return nil for an
// empty Tags, State, Data or Report. Package statetest checks all of this.
type StateStore interface {
	// Link returns the link of a GymFlow record, or ErrNotFound.
	Link(ctx context.Context, kind Kind, localID string) (Link, error)
	// LinkByRemote returns the link of a Contacts API record, or
	// ErrNotFound.
	LinkByRemote(ctx context.Context, kind Kind, remoteID string) (Link, error)
	// PutLink creates or replaces a link (by Kind and LocalID).
	PutLink(ctx context.Context, l Link) error
	// DeleteLink removes a link (no error if absent).
	DeleteLink(ctx context.Context, kind Kind, localID string) error
	// Links returns up to limit links of a kind with LocalID greater than
	// after, ordered by LocalID, for paging through all of them. A limit
	// of zero or less means no limit.
	Links(ctx context.Context, kind Kind, after string, limit int) ([]Link, error)
	// MemberLinks returns the links of a kind (task or note) owned by a
	// member, ordered by LocalID.
	MemberLinks(ctx context.Context, kind Kind, memberID string) ([]Link, error)
	// PutIntent records an intent (replacing one with the same key).
	PutIntent(ctx context.Context, in Intent) error
	// Intent returns an intent by key, or ErrNotFound.
	Intent(ctx context.Context, key string) (Intent, error)
	// Intents returns every recorded intent, oldest first (by CreatedAt,
	// then Key).
	Intents(ctx context.Context) ([]Intent, error)
	// Commit stores l and removes the intent key in one atomic step
	// (key may be "" to only store l).
	Commit(ctx context.Context, l Link, key string) error
	// DeleteIntent removes an intent (no error if absent).
	DeleteIntent(ctx context.Context, key string) error
	// MarkDone records an idempotency key; first is false if it was
	// recorded before.
	MarkDone(ctx context.Context, key string) (first bool, err error)
	// Done reports whether an idempotency key was recorded.
	Done(ctx context.Context, key string) (bool, error)
	// AppendRun adds a run to the run log, replacing a run with the same
	// ID; Runs returns up to limit runs (all if limit <= 0), the newest
	// Started first.
	AppendRun(ctx context.Context, r RunRecord) error
	Runs(ctx context.Context, limit int) ([]RunRecord, error)
}

// LinkPrefetcher is a StateStore that can read many links in one query. An
// engine worker about to process several queued changes hands it their
// records' IDs first, so that the Link reads that follow need no query
// each; a store may keep what it read only briefly, and must still answer
// Link correctly for IDs it was not asked to prefetch, or when its
// prefetched copy is outdated by a write through the same store. The fenced
// views of package sqlstore implement it.
type LinkPrefetcher interface {
	PrefetchLinks(ctx context.Context, kind Kind, localIDs []string) error
}
