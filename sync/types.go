package contactsync

import (
	"time"
)

// Member is a GymFlow member as the sync sees it: a stable ID and
// free-form fields that a Mapping turns into contact fields. The sync does
// not assume a schema: Fields holds whatever the GymFlow export has.
type Member struct {
	// ID is GymFlow's stable member ID.
	ID string
	// Fields are the member's attributes by GymFlow field name, e.g.
	// "first_name", "email", "plan", "joined_at". Values are strings,
	// numbers, booleans, time.Time or []string.
	Fields map[string]any
	// Tags are GymFlow's tags for the member, synced as contact tags.
	Tags []string
	// Tasks and Notes are the member's follow-ups, keyed by their own
	// GymFlow IDs. A nil slice leaves the member's tasks or notes alone.
	Tasks []Task
	Notes []Note
	// UpdatedAt is when GymFlow last changed the member (for NewestWins).
	UpdatedAt time.Time
}

// Task is a GymFlow follow-up task of a member.
type Task struct {
	ID         string
	Title      string
	Body       string
	Due        time.Time
	Done       bool
	AssignedTo string
	UpdatedAt  time.Time
}

// Note is a GymFlow note on a member.
type Note struct {
	ID        string
	Body      string
	UpdatedAt time.Time
}

// Change is one incremental GymFlow event for Engine.Apply: one of
// MemberUpserted, TagsChanged, TaskUpserted, NoteUpserted, MemberDeleted,
// LeadSignedUp.
type Change interface {
	// MemberID is the member the change is about.
	MemberID() string
}

// MemberUpserted: a member was created or updated (the full record).
type MemberUpserted struct{ Member Member }

// TagsChanged: tags were added to or removed from a member.
type TagsChanged struct {
	Member  string
	Added   []string
	Removed []string
}

// TaskUpserted: a member's task was created or updated.
type TaskUpserted struct {
	Member string
	Task   Task
}

// NoteUpserted: a member's note was created or updated.
type NoteUpserted struct {
	Member string
	Note   Note
}

// MemberDeleted: a member was deleted in GymFlow.
type MemberDeleted struct{ Member string }

// LeadSignedUp: a lead signed up. The lead becomes a contact with a
// welcome task, exactly once per lead ID however often the event is
// delivered.
type LeadSignedUp struct{ Lead Member }

// MemberID implements Change.
func (c MemberUpserted) MemberID() string { return c.Member.ID }

// MemberID implements Change.
func (c TagsChanged) MemberID() string { return c.Member }

// MemberID implements Change.
func (c TaskUpserted) MemberID() string { return c.Member }

// MemberID implements Change.
func (c NoteUpserted) MemberID() string { return c.Member }

// MemberID implements Change.
func (c MemberDeleted) MemberID() string { return c.Member }

// MemberID implements Change.
func (c LeadSignedUp) MemberID() string { return c.Lead.ID }
