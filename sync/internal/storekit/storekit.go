// Package storekit holds what the stores of package contactsync share:
// the checks of what a store can key, and the normal form in which every
// store keeps and returns values (times to the millisecond in UTC, empty
// slices nil), so that all stores behave alike where the interfaces leave
// room.
package storekit

import (
	"errors"
	"fmt"
	"slices"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// CheckLink reports a link no store can key.
func CheckLink(l contactsync.Link) error {
	if l.Kind == "" || l.LocalID == "" {
		return errors.New("contactsync: a link needs a Kind and a LocalID")
	}
	return nil
}

// CheckActivity reports an activity no store can key.
func CheckActivity(a contactsync.Activity) error {
	if a.Kind == "" || a.RemoteID == "" {
		return errors.New("contactsync: an activity needs a Kind and a RemoteID")
	}
	return nil
}

// NormalizeLink returns a copy of l as the stores keep it: its own Tags
// and State (nil when empty) and UpdatedAt to the millisecond in UTC.
func NormalizeLink(l contactsync.Link) contactsync.Link {
	l = CloneLink(l)
	l.UpdatedAt = StoredTime(l.UpdatedAt)
	return l
}

// CloneLink returns l with its own copies of Tags and State, nil when
// empty.
func CloneLink(l contactsync.Link) contactsync.Link {
	l.State = CloneBytes(l.State)
	if len(l.Tags) == 0 {
		l.Tags = nil
	} else {
		l.Tags = slices.Clone(l.Tags)
	}
	return l
}

// CloneBytes returns a copy of b, nil when b is empty.
func CloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

// StoredTime returns t as the stores keep it: to the millisecond, in UTC,
// without a monotonic clock reading. The zero time stays zero.
func StoredTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// NormalizeActivity returns a as the stores keep it: its times to the
// millisecond in UTC.
func NormalizeActivity(a contactsync.Activity) contactsync.Activity {
	a.At, a.End, a.UpdatedAt, a.CompletedAt = StoredTime(a.At), StoredTime(a.End), StoredTime(a.UpdatedAt), StoredTime(a.CompletedAt)
	return a
}

// NormalizeInbox returns e as the stores keep it: its own Body (nil when
// empty), times to the millisecond in UTC, and a zero Received set to now.
func NormalizeInbox(e contactsync.InboxEntry, now time.Time) contactsync.InboxEntry {
	if e.Received.IsZero() {
		e.Received = now
	}
	e.Received, e.Timestamp = StoredTime(e.Received), StoredTime(e.Timestamp)
	e.Body = CloneBytes(e.Body)
	return e
}

// QueryKinds returns the kinds q can select: nil for every kind, or the
// kinds to select, each once; ok is false when q can select nothing.
// Completed selects tasks only and Statuses appointments only, whatever
// q.Kinds says of other kinds.
func QueryKinds(q contactsync.ActivityQuery) (kinds []contactsync.Kind, ok bool) {
	if len(q.Kinds) > 0 {
		kinds = slices.Compact(slices.Sorted(slices.Values(q.Kinds))) // each once
	}
	only := func(k contactsync.Kind) bool {
		if kinds != nil && !slices.Contains(kinds, k) {
			return false
		}
		kinds = []contactsync.Kind{k}
		return true
	}
	if q.Completed != nil && !only(contactsync.KindTask) {
		return nil, false
	}
	if len(q.Statuses) > 0 && !only(contactsync.KindAppointment) {
		return nil, false
	}
	return kinds, true
}

// CheckLease reports a lease request no store can grant.
func CheckLease(name, owner string, ttl time.Duration) error {
	if name == "" || owner == "" {
		return errors.New("contactsync: a lease needs a name and an owner")
	}
	if ttl < time.Millisecond {
		return errors.New("contactsync: a lease needs a time to live of a millisecond or more")
	}
	return nil
}

// CheckDay reports a budget day no store can count.
func CheckDay(day string) error {
	if day == "" {
		return errors.New("contactsync: SpendBudget needs a day")
	}
	return nil
}

// BudgetAfter is a day's count after SpendBudget adds n to cur under
// limit: never past the limit (a lower limit grants nothing and takes
// nothing back), never below zero.
func BudgetAfter(cur, n, limit int) int {
	next := max(min(cur+n, max(limit, cur)), 0)
	if n > 0 && next < cur {
		next = cur
	}
	return next
}

// LeaseLost is the error of a write fenced by l (or a renewal of l) when
// the lease's token is now now: another runner holds it, or held it.
func LeaseLost(l contactsync.Lease, now int64) error {
	return fmt.Errorf("%w: %s lease token %d, now %d", contactsync.ErrLeaseLost, l.Name, l.Token, now)
}
