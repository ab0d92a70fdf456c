package sqlstore

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// openPlanDB opens a SQLite DB for reading query plans.
func openPlanDB(t *testing.T) (*DB, *Store) {
	t.Helper()
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, _ := db.Location("loc1")
	return db, s
}

// queryPlan returns SQLite's plan of query, its steps joined by "; ".
func queryPlan(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

// TestSQLiteQueryPlans checks that every statement of the store is a
// search of an index within its location, never a scan of a table or a
// sort, so that it stays fast with hundreds of thousands of links and
// activities and thousands of locations.
func TestSQLiteQueryPlans(t *testing.T) {
	db, _ := openPlanDB(t)
	q := db.q
	for _, tc := range []struct {
		query string
		args  []any
		index string
	}{
		{q.link, []any{"l", "member", "m1"}, "sqlite_autoindex_contactsync_links_1"},
		{q.byRemote, []any{"l", "member", "c1"}, "contactsync_links_remote"},
		{q.delLink, []any{"l", "member", "m1"}, "sqlite_autoindex_contactsync_links_1"},
		{q.links, []any{"l", "member", "m1", 10}, "sqlite_autoindex_contactsync_links_1"},
		{q.member, []any{"l", "task", "m1"}, "contactsync_links_member"},
		{q.intent, []any{"l", "k"}, "sqlite_autoindex_contactsync_intents_1"},
		{q.intents, []any{"l"}, "contactsync_intents_created"},
		{q.delIntent, []any{"l", "k"}, "sqlite_autoindex_contactsync_intents_1"},
		{q.done, []any{"l", "k"}, "sqlite_autoindex_contactsync_done_1"},
		{q.runs, []any{"l", 10}, "contactsync_runs_started"},
		{q.delRun, []any{"l", "r"}, "contactsync_runs_id"},
		{q.activity, []any{"l", "task", "r1"}, "sqlite_autoindex_contactsync_activities_1"},
		{q.delActivity, []any{"l", "task", "r1"}, "sqlite_autoindex_contactsync_activities_1"},
		{q.delContact, []any{"l", "c1"}, "contactsync_activities_contact"},
		{q.pendingInbox, []any{"l", 100}, "contactsync_inbox_pending"},
		{q.purgeInbox, []any{"l", 1}, "contactsync_inbox_done"},
		{q.doneInbox, []any{"l", "w1"}, "sqlite_autoindex_contactsync_inbox_1"},
		{q.cursor, []any{"l", "x"}, "sqlite_autoindex_contactsync_cursors_1"},
		{q.seen, []any{"l", "member", "c1"}, "sqlite_autoindex_contactsync_seen_1"},
		{q.dirty, []any{"l", 1, 100}, "contactsync_dirty_marked"},
		{q.clearDirty, []any{"l", "c1", 1}, "sqlite_autoindex_contactsync_dirty_1"},
		{q.fence, []any{"l", "engine"}, "sqlite_autoindex_contactsync_leases_1"},
		{q.budgetGet, []any{"l", "2026-12-07"}, "sqlite_autoindex_contactsync_budget_1"},
	} {
		p := queryPlan(t, db, tc.query, tc.args...)
		if !strings.Contains(p, "INDEX "+tc.index) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s\nplan: %s\nwant a search of %s without sorting", tc.query, p, tc.index)
		}
	}
}

// TestSQLiteActivityQueryPlans checks that the queries of Views and the
// queries by contact and by member read an index in order, without
// sorting, so that they stay fast with 100,000 activities.
func TestSQLiteActivityQueryPlans(t *testing.T) {
	db, s := openPlanDB(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	notZero := time.Time{}.Add(time.Millisecond)
	open, done := false, true
	type q = contactsync.ActivityQuery
	task, note, appt := contactsync.KindTask, contactsync.KindNote, contactsync.KindAppointment
	for _, tc := range []struct {
		name  string
		q     q
		index string
	}{
		{"timeline", q{ContactID: "c1"}, "contactsync_activities_contact"},
		{"contact tasks", q{ContactID: "c1", Kinds: []contactsync.Kind{task}, Descending: true}, "contactsync_activities_contact"},
		{"member", q{MemberID: "m1", Kinds: []contactsync.Kind{task, note}}, "contactsync_activities_member"},
		{"open tasks", q{Kinds: []contactsync.Kind{task}, Completed: &open, Limit: 20}, "contactsync_activities_open"},
		{"overdue tasks", q{Kinds: []contactsync.Kind{task}, Completed: &open, From: notZero, To: now, Limit: 20}, "contactsync_activities_open"},
		{"completed tasks", q{Completed: &done, From: now, Limit: 20}, "contactsync_activities_kind"},
		{"upcoming", q{Kinds: []contactsync.Kind{appt}, From: now, To: now.Add(time.Hour), Limit: 20}, "contactsync_activities_kind"},
		{"upcoming booked", q{Statuses: []string{"booked", "confirmed"}, From: now, Limit: 20}, "contactsync_activities_kind"},
		{"recent notes", q{Kinds: []contactsync.Kind{note}, From: now, Descending: true, Limit: 20}, "contactsync_activities_kind"},
	} {
		query, args, ok := s.activitiesQuery(tc.q)
		if !ok {
			t.Fatalf("%s: the query selects nothing", tc.name)
		}
		p := queryPlan(t, db, query, args...)
		if !strings.Contains(p, "INDEX "+tc.index) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s: %s\nplan: %s\nwant a read of %s without sorting", tc.name, query, p, tc.index)
		}
	}
}

func TestCeilMilli(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want int64
	}{
		{time.UnixMilli(5), 5},
		{time.UnixMilli(5).Add(time.Nanosecond), 6},
		{time.UnixMilli(5).Add(-time.Nanosecond), 5},
		{time.UnixMilli(-5), -5},
		{time.UnixMilli(-5).Add(time.Nanosecond), -4},
		{time.Time{}, zeroMilli},
	} {
		if got := ceilMilli(tc.t); got != tc.want {
			t.Errorf("ceilMilli(%v) = %d, want %d", tc.t, got, tc.want)
		}
	}
	if got := fromSortMilli(zeroMilli); !got.IsZero() || got != (time.Time{}) {
		t.Errorf("fromSortMilli(zeroMilli) = %v, want the zero time", got)
	}
}
