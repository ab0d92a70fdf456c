package contactsync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Views are the unified activity views of a location: a member's timeline
// of tasks, notes and appointments, and the location's open and overdue
// tasks, upcoming appointments and recent notes. They only read the
// stores — the activity read model the inbound side keeps and the member
// links of the outbound Engine — and never call the API, so a dashboard
// can serve them as often as it is asked.
//
// Each activity the views return carries the MemberID of its member. The
// location-wide views leave out the activities of contacts no member is
// linked to (an empty MemberID in the read model).
//
// Views are safe for concurrent use if their stores are.
type Views struct {
	// State holds the member links that Timeline resolves a member's
	// contact by. Only Timeline needs it.
	State StateStore
	// Activity is the read model the views read.
	Activity ActivityStore
	// Now is the clock the views measure "overdue", "upcoming" and
	// "recent" by (nil: time.Now).
	Now func() time.Time
}

// NewViews returns the views of the read model activity, resolving members
// through the links in state, on the real clock.
func NewViews(state StateStore, activity ActivityStore) *Views {
	return &Views{State: state, Activity: activity}
}

func (v *Views) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Timeline returns every task, note and appointment of a member's contact
// — completed tasks and cancelled appointments included — in time order:
// by At (a task's due date, a note's creation, an appointment's start),
// ties by Kind and then RemoteID. The member's contact is the RemoteID of
// its member link; a member without one gets an error matching
// ErrNotFound.
func (v *Views) Timeline(ctx context.Context, memberID string) ([]Activity, error) {
	l, err := v.State.Link(ctx, KindMember, memberID)
	if err == nil && l.RemoteID == "" {
		err = ErrNotFound
	}
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("contactsync: member %s is not linked to a contact: %w", memberID, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	acts, err := v.Activity.Activities(ctx, ActivityQuery{ContactID: l.RemoteID})
	if err != nil {
		return nil, err
	}
	for i := range acts {
		acts[i].MemberID = memberID
	}
	slices.SortFunc(acts, func(a, b Activity) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.RemoteID, b.RemoteID))
	})
	return acts, nil
}

// OpenTasks returns up to limit tasks not completed (all of them if limit
// is zero or less), by due date, the earliest first (tasks without a due
// date before all others), ties by RemoteID.
func (v *Views) OpenTasks(ctx context.Context, limit int) ([]Activity, error) {
	open := false
	return v.collect(ctx, ActivityQuery{Kinds: []Kind{KindTask}, Completed: &open}, limit, nil)
}

// OverdueTasks returns up to limit open tasks due before now (all of them
// if limit is zero or less), the most overdue first. A task due exactly
// now is not overdue yet; one without a due date never is.
func (v *Views) OverdueTasks(ctx context.Context, limit int) ([]Activity, error) {
	open := false
	q := ActivityQuery{Kinds: []Kind{KindTask}, Completed: &open, From: notZero, To: v.now()}
	return v.collect(ctx, q, limit, nil)
}

// UpcomingAppointments returns up to limit appointments (all of them if
// limit is zero or less) starting in [now, now+within), the soonest first,
// leaving out cancelled ones (see Activity.Cancelled). A within of zero or
// less means every appointment from now on.
func (v *Views) UpcomingAppointments(ctx context.Context, within time.Duration, limit int) ([]Activity, error) {
	now := v.now()
	q := ActivityQuery{Kinds: []Kind{KindAppointment}, From: now}
	if within > 0 {
		q.To = now.Add(within)
	}
	return v.collect(ctx, q, limit, func(a Activity) bool { return !a.Cancelled() })
}

// RecentNotes returns up to limit notes (all of them if limit is zero or
// less) created in the last since (at or after now-since), the newest
// first. A since of zero or less means every note.
func (v *Views) RecentNotes(ctx context.Context, since time.Duration, limit int) ([]Activity, error) {
	q := ActivityQuery{Kinds: []Kind{KindNote}, Descending: true}
	if since > 0 {
		q.From = v.now().Add(-since)
	}
	return v.collect(ctx, q, limit, nil)
}

// notZero is the earliest time after the zero time the stores keep: as a
// From, it leaves out only activities without a time.
var notZero = time.Time{}.Add(time.Millisecond)

// collect returns up to limit (zero or less: all) of the activities q
// selects that belong to a member and that keep (nil: all) accepts, in the
// store's order. When activities are left out it reads on, asking the
// store for twice as many each time, until it has limit or the store has
// no more.
func (v *Views) collect(ctx context.Context, q ActivityQuery, limit int, keep func(Activity) bool) ([]Activity, error) {
	batch := max(limit, 0)
	for {
		q.Limit = batch
		got, err := v.Activity.Activities(ctx, q)
		if err != nil {
			return nil, err
		}
		read := len(got) // DeleteFunc shortens its result, not got
		out := slices.DeleteFunc(got, func(a Activity) bool { return a.MemberID == "" || keep != nil && !keep(a) })
		switch {
		case limit > 0 && len(out) >= limit:
			return out[:limit], nil
		case limit <= 0 || batch == 0 || read < batch: // all there is
			return out, nil
		}
		batch = nextBatch(batch)
	}
}

// nextBatch doubles a batch size; zero, no cap, once doubling overflows.
func nextBatch(n int) int {
	if n > math.MaxInt/2 {
		return 0
	}
	return 2 * n
}

// Cancelled reports whether a is a cancelled appointment: its Status is
// "cancelled" or "canceled", in any case.
func (a Activity) Cancelled() bool {
	return a.Kind == KindAppointment && (strings.EqualFold(a.Status, "cancelled") || strings.EqualFold(a.Status, "canceled"))
}

// Overdue reports whether a is an open task due before now.
func (a Activity) Overdue(now time.Time) bool {
	return a.Kind == KindTask && !a.Completed && !a.At.IsZero() && a.At.Before(now)
}
