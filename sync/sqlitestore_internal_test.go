package contactsync

import (
	"path/filepath"
	"strings"
	"testing"
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
