package contactsync

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSQLiteQueryPlans checks that every lookup of the store is a search
// of an index, never a scan of a table or a sort, so that it stays fast
// with hundreds of thousands of links.
func TestSQLiteQueryPlans(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		query string
		args  []any
		index string
	}{
		{qLink, []any{"member", "m1"}, "contactsync_links_local"},
		{qByRemote, []any{"member", "c1"}, "contactsync_links_remote"},
		{qDelLink, []any{"member", "m1"}, "contactsync_links_local"},
		{qLinks, []any{"member", "m1", 10}, "contactsync_links_local"},
		{qAllLinks, []any{"member", "m1"}, "contactsync_links_local"},
		{qMember, []any{"task", "m1"}, "contactsync_links_member"},
		{qIntent, []any{"k"}, "sqlite_autoindex_contactsync_intents_1"},
		{qIntents, nil, "contactsync_intents_created"},
		{qDelIntent, []any{"k"}, "sqlite_autoindex_contactsync_intents_1"},
		{qDone, []any{"k"}, "sqlite_autoindex_contactsync_done_1"},
		{qRuns, []any{10}, "contactsync_runs_started"},
	} {
		rows, err := s.db.Query("EXPLAIN QUERY PLAN "+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, "INDEX "+tc.index) || strings.Contains(p, "TEMP B-TREE") ||
			(strings.HasPrefix(p, "SCAN") && !strings.Contains(tc.query, "ORDER BY")) {
			t.Errorf("%s\nplan: %s\nwant a search of %s without sorting", tc.query, p, tc.index)
		}
	}
}

// queryPlan returns SQLite's plan of query, its steps joined by "; ".
func queryPlan(t *testing.T, s *SQLiteStore, query string, args ...any) string {
	t.Helper()
	rows, err := s.db.Query("EXPLAIN QUERY PLAN "+query, args...)
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

// TestSQLiteActivityQueryPlans checks that the queries of Views, the
// queries by contact and by member, and every statement of the inbound
// state read an index in order, without sorting, so that they stay fast
// with 100,000 activities (see BenchmarkViews in store_test.go).
func TestSQLiteActivityQueryPlans(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	open := false
	done := true
	for _, tc := range []struct {
		name  string
		q     ActivityQuery
		index string
	}{
		{"timeline", ActivityQuery{ContactID: "c1"}, "contactsync_activities_contact"},
		{"contact tasks", ActivityQuery{ContactID: "c1", Kinds: []Kind{KindTask}, Descending: true}, "contactsync_activities_contact"},
		{"member", ActivityQuery{MemberID: "m1", Kinds: []Kind{KindTask, KindNote}}, "contactsync_activities_member"},
		{"open tasks", ActivityQuery{Kinds: []Kind{KindTask}, Completed: &open, Limit: 20}, "contactsync_activities_open"},
		{"overdue tasks", ActivityQuery{Kinds: []Kind{KindTask}, Completed: &open, From: notZero, To: now, Limit: 20}, "contactsync_activities_open"},
		{"completed tasks", ActivityQuery{Completed: &done, From: now, Limit: 20}, "contactsync_activities_kind"},
		{"upcoming", ActivityQuery{Kinds: []Kind{KindAppointment}, From: now, To: now.Add(time.Hour), Limit: 20}, "contactsync_activities_kind"},
		{"upcoming booked", ActivityQuery{Statuses: []string{"booked", "confirmed"}, From: now, Limit: 20}, "contactsync_activities_kind"},
		{"recent notes", ActivityQuery{Kinds: []Kind{KindNote}, From: now, Descending: true, Limit: 20}, "contactsync_activities_kind"},
	} {
		query, args, ok := activitiesQuery(tc.q)
		if !ok {
			t.Fatalf("%s: the query selects nothing", tc.name)
		}
		p := queryPlan(t, s, query, args...)
		if !strings.Contains(p, "INDEX "+tc.index) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s: %s\nplan: %s\nwant a read of %s without sorting", tc.name, query, p, tc.index)
		}
	}
	for _, tc := range []struct {
		query string
		args  []any
		index string
	}{
		{qActivity, []any{"task", "r1"}, "contactsync_activities_remote"},
		{qDelActivity, []any{"task", "r1"}, "contactsync_activities_remote"},
		{qDelContactActs, []any{"c1"}, "contactsync_activities_contact"},
		{qPendingInbox, []any{100}, "contactsync_inbox_pending"},
		{qPurgeInbox, []any{1}, "contactsync_inbox_done"},
		{qDoneInbox, []any{"w1"}, "sqlite_autoindex_contactsync_inbox_1"},
		{qCursor, []any{"x"}, "sqlite_autoindex_contactsync_cursors_1"},
		{qSeen, []any{"member", "c1"}, "sqlite_autoindex_contactsync_seen_1"},
		{qDirty, []any{1, 100}, "contactsync_dirty_marked"},
		{qClearDirty, []any{"c1", 1}, "sqlite_autoindex_contactsync_dirty_1"},
	} {
		p := queryPlan(t, s, tc.query, tc.args...)
		if !strings.Contains(p, "INDEX "+tc.index) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s\nplan: %s\nwant a read of %s without sorting", tc.query, p, tc.index)
		}
	}
}

// TestCeilMilli checks the rounding the bounds of queries rely on.
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
