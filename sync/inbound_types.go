package contactsync

import (
	"context"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

// KindAppointment is the kind of an appointment in the activity read model.
const KindAppointment Kind = "appointment"

// Activity is a task, note or appointment of a contact as the read model
// keeps it — the unified activity a GymFlow dashboard shows without any
// API call.
type Activity struct {
	Kind Kind // KindTask, KindNote or KindAppointment
	// RemoteID is the record's ID in the Contacts API.
	RemoteID  string
	ContactID string
	// MemberID is the linked GymFlow member ("" for an unlinked contact).
	MemberID string
	// Title is the task's or appointment's title, or a note's title.
	Title string
	// Body is the task's body, the note's text or the appointment's notes.
	Body string
	// At orders the timeline: a task's due date, a note's creation, an
	// appointment's start.
	At time.Time
	// End is an appointment's end.
	End time.Time
	// Completed marks a done task. CompletedAt is when it was done, as
	// well as the read model knows: the time of the TaskComplete webhook,
	// or of the news that first showed it done after it was seen open
	// (a poll's re-read: at most a polling interval late). It is zero for
	// a task first seen already done, and for an open one.
	Completed   bool
	CompletedAt time.Time
	// Status is an appointment's status (booked, confirmed, cancelled, …).
	Status string
	// UpdatedAt is the newest change of the record the read model has
	// seen; older news about it is ignored.
	UpdatedAt time.Time
}

// ActivityQuery selects activities of the read model.
type ActivityQuery struct {
	// Kinds limits the kinds (empty: all).
	Kinds []Kind
	// ContactID or MemberID limits to one contact or member.
	ContactID string
	MemberID  string
	// From and To bound At (zero: unbounded); From inclusive, To exclusive.
	From, To time.Time
	// Completed, if set, selects done (true) or open (false) tasks; notes
	// and appointments are then left out.
	Completed *bool
	// Statuses limits appointments to these statuses (exact match; empty:
	// all); tasks and notes are then left out.
	Statuses []string
	// Descending orders by At newest first (default oldest first); ties
	// by RemoteID, then Kind. A zero At sorts first.
	Descending bool
	// Limit caps the result (0: no cap).
	Limit int
}

// ActivityStore is the read model of tasks, notes and appointments.
// Implementations must be safe for concurrent use.
type ActivityStore interface {
	// PutActivity creates or replaces an activity (by Kind and RemoteID).
	PutActivity(ctx context.Context, a Activity) error
	// DeleteActivity removes an activity (no error if absent).
	DeleteActivity(ctx context.Context, kind Kind, remoteID string) error
	// DeleteContactActivities removes every activity of a contact.
	DeleteContactActivities(ctx context.Context, contactID string) error
	// Activity returns one activity, or ErrNotFound.
	Activity(ctx context.Context, kind Kind, remoteID string) (Activity, error)
	// Activities returns the activities q selects, ordered by At.
	Activities(ctx context.Context, q ActivityQuery) ([]Activity, error)
}

// InboxEntry is a webhook delivery kept in the durable inbox between its
// acknowledgement and its processing.
type InboxEntry struct {
	// ID is the delivery's webhookId.
	ID string
	// Received is when it was stored; Timestamp the event's own time.
	Received  time.Time
	Timestamp time.Time
	// Body is the delivery's raw body.
	Body []byte
}

// Seen is what the inbound side last knew of a Contacts API record: for
// ignoring stale or repeated news and for telling real changes from echoes.
type Seen struct {
	Kind     Kind
	RemoteID string
	// At is the time of the newest news applied (a contact's dateUpdated,
	// an event's timestamp).
	At time.Time
	// Hash is a hash of the record's relevant content at At.
	Hash string
	// Deleted marks a record deleted in the CRM.
	Deleted bool
	// State is the last known record (JSON), e.g. the projected contact.
	State []byte
}

// InboundStore keeps the inbound side's durable state: the webhook inbox,
// poll cursors, what was last seen of each record, and which contacts need
// their tasks, notes and appointments re-read.
type InboundStore interface {
	// PutInbox stores an entry unless one with its ID is stored or was
	// processed already; first reports whether it was new.
	PutInbox(ctx context.Context, e InboxEntry) (first bool, err error)
	// PendingInbox returns up to limit unprocessed entries, ordered by
	// Timestamp then Received.
	PendingInbox(ctx context.Context, limit int) ([]InboxEntry, error)
	// DoneInbox marks an entry processed (it is kept, as processed, so a
	// redelivery is not stored again, until PurgeInbox).
	DoneInbox(ctx context.Context, id string) error
	// PurgeInbox forgets processed entries received before t.
	PurgeInbox(ctx context.Context, before time.Time) error

	// Cursor returns a named cursor ("" if unset); SetCursor stores it.
	Cursor(ctx context.Context, name string) (string, error)
	SetCursor(ctx context.Context, name, value string) error

	// Seen returns what was last seen of a record, or ErrNotFound;
	// PutSeen stores it.
	Seen(ctx context.Context, kind Kind, remoteID string) (Seen, error)
	PutSeen(ctx context.Context, s Seen) error

	// MarkDirty records that a contact's activity should be re-read at t
	// (a contact marked again keeps the earliest of its marks); Dirty
	// returns up to limit contacts marked at or before before, oldest
	// first; ClearDirty removes a mark if it is not newer than t. One
	// Inbound marks and clears under its lock, so no mark is made during
	// the re-read that clears.
	MarkDirty(ctx context.Context, contactID string, t time.Time) error
	Dirty(ctx context.Context, before time.Time, limit int) ([]string, error)
	ClearDirty(ctx context.Context, contactID string, t time.Time) error
}

// InboundChange is a change from the Contacts API for GymFlow: one of
// ContactChanged, ContactDeleted, ActivityChanged, ActivityDeleted.
type InboundChange interface{ inbound() }

// ContactChanged: a contact changed in the CRM in a way GymFlow should
// learn about.
type ContactChanged struct {
	// MemberID is the linked member ("" for an unlinked contact, delivered
	// only with WithUnlinkedContacts).
	MemberID string
	Contact  contacts.Contact
	// Fields are the mapped fields whose CRM values should flow to
	// GymFlow under the merge policies, by target name (custom fields by
	// "id:<id>"/"key:<key>"); an empty value clears.
	Fields map[string]string
	// Tags is the contact's full tag list; TagsAdded and TagsRemoved are
	// relative to what the inbound side knew before.
	Tags        []string
	TagsAdded   []string
	TagsRemoved []string
	// At is when the change happened (dateUpdated or the event's time).
	At time.Time
}

// ContactDeleted: a contact was deleted in the CRM. GymFlow should
// soft-delete the member, never drop it silently, and tell the outbound
// Engine with a MemberDeleted change: the link is then archived (one call,
// answered 404 for a contact that is gone), and a soft-deleted member sends
// no further changes. A member GymFlow keeps active, or restores later, is
// recreated in the CRM on its next change.
type ContactDeleted struct {
	MemberID  string
	ContactID string
	At        time.Time
}

// ActivityChanged: a task, note or appointment was created or changed.
type ActivityChanged struct{ Activity Activity }

// ActivityDeleted: a task, note or appointment was deleted.
type ActivityDeleted struct{ Activity Activity }

func (ContactChanged) inbound()  {}
func (ContactDeleted) inbound()  {}
func (ActivityChanged) inbound() {}
func (ActivityDeleted) inbound() {}

// Sink is where inbound changes go: the application writes them into
// GymFlow. Receive must be idempotent for a change it has already applied
// (the inbound side delivers each change once, but a crash between
// Receive and its bookkeeping repeats the last one).
type Sink interface {
	Receive(ctx context.Context, ch InboundChange) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, ch InboundChange) error

// Receive implements Sink.
func (f SinkFunc) Receive(ctx context.Context, ch InboundChange) error { return f(ctx, ch) }
