package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/internal/storekit"
)

// PutActivity implements contactsync.ActivityStore.
func (s *Store) PutActivity(ctx context.Context, a contactsync.Activity) error {
	if err := storekit.CheckActivity(a); err != nil {
		return err
	}
	err := s.exec(ctx, nil, s.db.q.putActivity, a.Kind, a.RemoteID, a.ContactID, a.MemberID, blob([]byte(a.Title)), blob([]byte(a.Body)),
		a.At.UnixMilli(), unixMilli(a.End), a.Completed, a.Status, unixMilli(a.UpdatedAt), unixMilli(a.CompletedAt))
	return writeErr(err, "storing the activity of %s %s", a.Kind, a.RemoteID)
}

// DeleteActivity implements contactsync.ActivityStore.
func (s *Store) DeleteActivity(ctx context.Context, kind contactsync.Kind, remoteID string) error {
	return writeErr(s.exec(ctx, nil, s.db.q.delActivity, kind, remoteID), "deleting the activity of %s %s", kind, remoteID)
}

// DeleteContactActivities implements contactsync.ActivityStore.
func (s *Store) DeleteContactActivities(ctx context.Context, contactID string) error {
	return writeErr(s.exec(ctx, nil, s.db.q.delContact, contactID), "deleting the activities of contact %s", contactID)
}

// Activity implements contactsync.ActivityStore.
func (s *Store) Activity(ctx context.Context, kind contactsync.Kind, remoteID string) (contactsync.Activity, error) {
	var a contactsync.Activity
	err := s.queryRow(ctx, s.db.q.activity, func(r *sql.Row) error { return scanActivity(r, &a) }, kind, remoteID)
	if err != nil {
		return contactsync.Activity{}, lookupErr(err, "reading the activity of %s %s", kind, remoteID)
	}
	return a, nil
}

// Activities implements contactsync.ActivityStore. It orders activities
// by At, then RemoteID, then Kind, or with q.Descending in exactly the
// reverse order. With q.Completed set it returns tasks only, and with
// q.Statuses set appointments only (so with both, nothing). A negative
// q.Limit means no cap, as zero does.
//
// The queries of Views, and any query by contact or by member, read an
// index in order and stop at the limit; only a query across the location
// for several kinds at once sorts what it selects.
func (s *Store) Activities(ctx context.Context, q contactsync.ActivityQuery) ([]contactsync.Activity, error) {
	query, args, ok := s.activitiesQuery(q)
	if !ok {
		return nil, nil
	}
	var out []contactsync.Activity
	err := s.read(ctx, func() error {
		out = nil
		rows, err := s.db.db.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a contactsync.Activity
			if err := scanActivity(rows, &a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing activities: %w", err)
	}
	return out, nil
}

// activitiesQuery returns the statement that selects what q selects, and
// its arguments; ok is false if q selects nothing.
func (s *Store) activitiesQuery(q contactsync.ActivityQuery) (query string, args []any, ok bool) {
	kinds, ok := storekit.QueryKinds(q)
	if !ok {
		return "", nil, false
	}
	where := []string{"location_id = ?"}
	args = []any{s.loc}
	in := func(column string, values []string) {
		where = append(where, column+" IN (?"+strings.Repeat(", ?", len(values)-1)+")")
		for _, v := range values {
			args = append(args, v)
		}
	}
	switch {
	case q.Completed != nil:
		// Literal terms, so that open tasks are read from their partial
		// index (kinds is [KindTask]).
		done := "FALSE"
		if *q.Completed {
			done = "TRUE"
		}
		where = append(where, "kind = '"+string(contactsync.KindTask)+"' AND completed = "+done)
	case len(kinds) == 1:
		where, args = append(where, "kind = ?"), append(args, kinds[0])
	case len(kinds) > 1:
		ks := make([]string, len(kinds))
		for i, k := range kinds {
			ks[i] = string(k)
		}
		in("kind", ks)
	}
	if q.ContactID != "" {
		where, args = append(where, "contact_id = ?"), append(args, q.ContactID)
	}
	if q.MemberID != "" {
		where, args = append(where, "member_id = ?"), append(args, q.MemberID)
	}
	if !q.From.IsZero() { // at is whole milliseconds: at >= From iff at >= ⌈From⌉
		where, args = append(where, "at >= ?"), append(args, ceilMilli(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "at < ?"), append(args, ceilMilli(q.To))
	}
	if len(q.Statuses) > 0 {
		in("status", q.Statuses)
	}
	p := s.db.prefix
	var b strings.Builder
	b.WriteString(`SELECT ` + activityColumns + ` FROM ` + p + `activities`)
	if s.db.dialect == SQLite {
		// Name the index: without statistics, SQLite may read all of a
		// kind's activities for one contact's. (PostgreSQL plans by its
		// statistics.)
		switch {
		case q.ContactID != "":
			b.WriteString(" INDEXED BY " + p + "activities_contact")
		case q.MemberID != "":
			b.WriteString(" INDEXED BY " + p + "activities_member")
		case q.Completed != nil && !*q.Completed:
			b.WriteString(" INDEXED BY " + p + "activities_open")
		case len(kinds) == 1:
			b.WriteString(" INDEXED BY " + p + "activities_kind")
		}
	}
	b.WriteString(" WHERE " + strings.Join(where, " AND "))
	if q.Descending {
		b.WriteString(" ORDER BY at DESC, remote_id DESC, kind DESC")
	} else {
		b.WriteString(" ORDER BY at, remote_id, kind")
	}
	if q.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, q.Limit)
	}
	return s.db.dialect.Rebind(b.String()), args, true
}

// scanActivity reads a row of activityColumns into a.
func scanActivity(row rowScanner, a *contactsync.Activity) error {
	var (
		at                 int64
		end, updated, done sql.NullInt64
		completed          bool
		title, body        []byte
	)
	err := row.Scan(&a.Kind, &a.RemoteID, &a.ContactID, &a.MemberID, &title, &body, &at, &end, &completed, &a.Status, &updated, &done)
	if err != nil {
		return err
	}
	a.Title, a.Body = string(title), string(body)
	a.At, a.End, a.Completed, a.UpdatedAt, a.CompletedAt = fromSortMilli(at), fromMilli(end), completed, fromMilli(updated), fromMilli(done)
	return nil
}

// PutInbox implements contactsync.InboundStore with an INSERT that does
// nothing when the ID is stored already, which is atomic across
// processes. A zero Received is set to the current time.
func (s *Store) PutInbox(ctx context.Context, e contactsync.InboxEntry) (first bool, err error) {
	if e.ID == "" {
		return false, errors.New("contactsync: an inbox entry needs an ID")
	}
	e = storekit.NormalizeInbox(e, time.Now())
	first, err = s.insert(ctx, s.db.q.putInbox, e.ID, e.Received.UnixMilli(), e.Timestamp.UnixMilli(), blob(e.Body))
	if err != nil {
		return false, writeErr(err, "storing webhook %s in the inbox", e.ID)
	}
	return first, nil
}

// PendingInbox implements contactsync.InboundStore, ordering entries by
// Timestamp, then Received, then ID. A limit of zero or less means no
// limit.
func (s *Store) PendingInbox(ctx context.Context, limit int) ([]contactsync.InboxEntry, error) {
	var out []contactsync.InboxEntry
	err := s.query(ctx, s.db.q.pendingInbox, func() { out = nil }, func(rows *sql.Rows) error {
		var (
			e            contactsync.InboxEntry
			received, ts int64
		)
		if err := rows.Scan(&e.ID, &received, &ts, &e.Body); err != nil {
			return err
		}
		e.Received, e.Timestamp, e.Body = fromSortMilli(received), fromSortMilli(ts), storekit.CloneBytes(e.Body)
		out = append(out, e)
		return nil
	}, s.db.limit(limit))
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing the inbox: %w", err)
	}
	return out, nil
}

// DoneInbox implements contactsync.InboundStore. It forgets the entry's
// body; an ID that is not in the inbox is no error (and is not recorded).
func (s *Store) DoneInbox(ctx context.Context, id string) error {
	return writeErr(s.exec(ctx, nil, s.db.q.doneInbox, id), "marking webhook %s processed", id)
}

// PurgeInbox implements contactsync.InboundStore. Unprocessed entries are
// kept however old they are.
func (s *Store) PurgeInbox(ctx context.Context, before time.Time) error {
	return writeErr(s.exec(ctx, nil, s.db.q.purgeInbox, ceilMilli(before)), "purging the inbox before %v", before)
}

// Cursor implements contactsync.InboundStore.
func (s *Store) Cursor(ctx context.Context, name string) (string, error) {
	var value []byte
	err := s.queryRow(ctx, s.db.q.cursor, func(r *sql.Row) error { return r.Scan(&value) }, name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("contactsync: reading cursor %s: %w", name, err)
	}
	return string(value), nil
}

// SetCursor implements contactsync.InboundStore. Setting a cursor to ""
// unsets it.
func (s *Store) SetCursor(ctx context.Context, name, value string) error {
	if name == "" {
		return errors.New("contactsync: a cursor needs a name")
	}
	var err error
	if value == "" {
		err = s.exec(ctx, nil, s.db.q.delCursor, name)
	} else {
		err = s.exec(ctx, nil, s.db.q.setCursor, name, []byte(value))
	}
	return writeErr(err, "storing cursor %s", name)
}

// Seen implements contactsync.InboundStore.
func (s *Store) Seen(ctx context.Context, kind contactsync.Kind, remoteID string) (contactsync.Seen, error) {
	var seen contactsync.Seen
	err := s.queryRow(ctx, s.db.q.seen, func(r *sql.Row) error {
		var at sql.NullInt64
		err := r.Scan(&seen.Kind, &seen.RemoteID, &at, &seen.Hash, &seen.Deleted, &seen.State)
		seen.At, seen.State = fromMilli(at), storekit.CloneBytes(seen.State)
		return err
	}, kind, remoteID)
	if err != nil {
		return contactsync.Seen{}, lookupErr(err, "reading what was seen of %s %s", kind, remoteID)
	}
	return seen, nil
}

// PutSeen implements contactsync.InboundStore, replacing what was stored
// for the record.
func (s *Store) PutSeen(ctx context.Context, seen contactsync.Seen) error {
	if seen.Kind == "" || seen.RemoteID == "" {
		return errors.New("contactsync: a Seen needs a Kind and a RemoteID")
	}
	err := s.exec(ctx, nil, s.db.q.putSeen, seen.Kind, seen.RemoteID, unixMilli(seen.At), seen.Hash, seen.Deleted, blob(seen.State))
	return writeErr(err, "storing what was seen of %s %s", seen.Kind, seen.RemoteID)
}

// MarkDirty implements contactsync.InboundStore. A contact marked again
// keeps the earliest of its marks: the soonest re-read wins.
func (s *Store) MarkDirty(ctx context.Context, contactID string, t time.Time) error {
	if contactID == "" {
		return errors.New("contactsync: MarkDirty needs a contact ID")
	}
	err := s.exec(ctx, nil, s.db.q.markDirty, contactID, storekit.StoredTime(t).UnixMilli())
	return writeErr(err, "marking contact %s dirty", contactID)
}

// Dirty implements contactsync.InboundStore, ordering contacts by their
// mark, then by ID. A limit of zero or less means no limit.
func (s *Store) Dirty(ctx context.Context, before time.Time, limit int) ([]string, error) {
	var out []string
	// marked_at is whole milliseconds: marked_at <= before iff
	// marked_at <= ⌊before⌋.
	err := s.query(ctx, s.db.q.dirty, func() { out = nil }, func(rows *sql.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	}, before.UnixMilli(), s.db.limit(limit))
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing dirty contacts: %w", err)
	}
	return out, nil
}

// ClearDirty implements contactsync.InboundStore.
func (s *Store) ClearDirty(ctx context.Context, contactID string, t time.Time) error {
	return writeErr(s.exec(ctx, nil, s.db.q.clearDirty, contactID, t.UnixMilli()), "clearing the dirty mark of contact %s", contactID)
}

// zeroMilli is the zero time in Unix milliseconds. The columns that order
// or bound their rows (an activity's at, the inbox's times, the dirty
// marks) are NOT NULL and keep the zero time as zeroMilli, which sorts
// before every other time as the zero time does.
var zeroMilli = time.Time{}.UnixMilli()

// fromSortMilli is the time of a NOT NULL column of Unix milliseconds.
func fromSortMilli(ms int64) time.Time {
	if ms == zeroMilli {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// ceilMilli is t in Unix milliseconds, rounded up: for a time x of whole
// milliseconds, x >= t iff x >= ceilMilli(t), and x < t iff
// x < ceilMilli(t).
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli() // rounded down, also before 1970
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}
