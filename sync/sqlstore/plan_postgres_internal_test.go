package sqlstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/internal/pgtest"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// TestPostgresQueryPlans checks that every statement of the store that
// selects or removes rows can read an index of its location (sequential
// and bitmap scans disabled, so that the planner shows whether one exists
// and gives the order), without
// a sort where an index gives the order.
//
// It does so twice: on tables with statistics, and on tables never
// analyzed (a new database before autovacuum's first pass), where the
// planner believes every condition matches one row; there, no statement
// may filter rows its index read (it would read the whole location).
func TestPostgresQueryPlans(t *testing.T) {
	t.Run("analyzed", func(t *testing.T) { checkPostgresPlans(t, true) })
	t.Run("never analyzed", func(t *testing.T) { checkPostgresPlans(t, false) })
}

func checkPostgresPlans(t *testing.T, analyze bool) {
	raw := pgtest.DB(t)
	db, err := New(raw, Postgres)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A location of some size, and others beside it, with statistics: on
	// empty tables the planner picks indexes at random.
	for _, stmt := range []string{
		`INSERT INTO contactsync_links SELECT 'loc' || (i % 20), CASE WHEN i % 3 = 0 THEN 'task' ELSE 'member' END, 'm' || i, 'c' || i,
			'm' || (i / 3), 'c' || (i / 3), 'h', NULL, NULL, false, i FROM generate_series(1, 20000) i`,
		`INSERT INTO contactsync_intents SELECT 'loc' || (i % 20), 'k' || i, 'member', 'm' || i, 'create', NULL, i FROM generate_series(1, 2000) i`,
		`INSERT INTO contactsync_activities SELECT 'loc' || (i % 20), CASE i % 3 WHEN 0 THEN 'task' WHEN 1 THEN 'note' ELSE 'appointment' END,
			'r' || i, 'c' || (i % 500), 'm' || (i % 500), '', '', i * 1000, NULL, i % 2 = 0, '', i FROM generate_series(1, 20000) i`,
		`INSERT INTO contactsync_inbox SELECT 'loc' || (i % 20), 'w' || i, i, i, NULL, i % 4 <> 0 FROM generate_series(1, 20000) i`,
		`INSERT INTO contactsync_dirty SELECT 'loc' || (i % 20), 'c' || i, i FROM generate_series(1, 20000) i`,
		`INSERT INTO contactsync_done SELECT 'loc' || (i % 20), 'd' || i, i FROM generate_series(1, 20000) i`,
		`ANALYZE`,
	} {
		if stmt == `ANALYZE` && !analyze {
			continue
		}
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET enable_seqscan = off; SET enable_bitmapscan = off`); err != nil {
		t.Fatal(err)
	}
	q := db.q
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, _ := db.Location("loc3")
	open := false
	actQuery := func(aq contactsync.ActivityQuery) (string, []any) {
		query, args, _ := s.activitiesQuery(aq)
		return query, args
	}
	timeline, timelineArgs := actQuery(contactsync.ActivityQuery{ContactID: "c1"})
	overdue, overdueArgs := actQuery(contactsync.ActivityQuery{Kinds: []contactsync.Kind{contactsync.KindTask}, Completed: &open, To: now, Limit: 20})
	upcoming, upcomingArgs := actQuery(contactsync.ActivityQuery{Kinds: []contactsync.Kind{contactsync.KindAppointment}, From: now, Limit: 20})
	for _, tc := range []struct {
		name   string
		query  string
		args   []any
		sorted bool // the query orders rows: no Sort node wanted
		index  string
	}{
		{"link", q.link, []any{"loc3", "member", "m1"}, false, "contactsync_links_pkey"},
		{"byRemote", q.byRemote, []any{"loc3", "member", "c1"}, true, "contactsync_links_remote"},
		{"links", q.links, []any{"loc3", "member", "m1", 10}, true, "contactsync_links_pkey"},
		{"member", q.member, []any{"loc3", "task", "m1"}, true, "contactsync_links_member"},
		{"prefetch", q.prefetch, []any{"loc3", "member", []string{"m1", "m2"}}, false, "contactsync_links_pkey"},
		{"intent", q.intent, []any{"loc3", "k"}, false, "contactsync_intents_pkey"},
		{"intents", q.intents, []any{"loc3"}, true, "contactsync_intents_created"},
		{"delIntent", q.delIntent, []any{"loc3", "k"}, false, "contactsync_intents_pkey"},
		{"done", q.done, []any{"loc3", "k"}, false, "contactsync_done_pkey"},
		{"runs", q.runs, []any{"loc3", 10}, false, "contactsync_runs_started"},
		{"activity", q.activity, []any{"loc3", "task", "r1"}, false, "contactsync_activities_pkey"},
		{"delContact", q.delContact, []any{"loc3", "c1"}, false, "contactsync_activities_contact"},
		{"pendingInbox", q.pendingInbox, []any{"loc3", 100}, true, "contactsync_inbox_pending"},
		{"purgeInbox", q.purgeInbox, []any{"loc3", int64(1)}, false, "contactsync_inbox_done"},
		{"dirty", q.dirty, []any{"loc3", int64(1), 100}, true, "contactsync_dirty_marked"},
		{"fence", q.fence, []any{"loc3", "engine"}, false, "contactsync_leases_pkey"},
		{"timeline", timeline, timelineArgs, true, "contactsync_activities_contact"},
		{"overdue tasks", overdue, overdueArgs, true, "contactsync_activities_open"},
		{"upcoming appointments", upcoming, upcomingArgs, true, "contactsync_activities_kind"},
	} {
		rows, err := conn.QueryContext(ctx, "EXPLAIN "+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, strings.TrimSpace(line))
		}
		rows.Close()
		p := strings.Join(plan, "\n")
		index := tc.index
		if !analyze && tc.name == "activity" {
			// Without statistics the planner costs this index's range
			// of (location, kind) and the primary key's one row alike,
			// and may take either; with them, the key (above).
			index = "contactsync_activities_"
		}
		if strings.Contains(p, "Seq Scan") || !strings.Contains(p, "using "+index) {
			t.Errorf("%s does not read %s:\n%s", tc.name, tc.index, p)
		}
		// (A DELETE keeps its partial index's predicate as a filter, to
		// recheck a row updated concurrently: it removes nothing.)
		if !analyze && strings.Contains(strings.ReplaceAll(p, "Filter: done", ""), "Filter:") {
			t.Errorf("%s filters what its index read:\n%s", tc.name, p)
		}
		if tc.sorted && strings.Contains(p, "Sort") && !strings.Contains(p, "Incremental Sort") {
			t.Errorf("%s sorts what it reads:\n%s", tc.name, p)
		}
	}
}
