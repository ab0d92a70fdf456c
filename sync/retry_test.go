package contactsync_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// failing scripts n answers of 500 for method and path.
func failing(w *world, method, path string, n int) {
	answers := make([]contactstest.Scripted, n)
	for i := range answers {
		answers[i] = contactstest.Scripted{Status: http.StatusInternalServerError}
	}
	w.srv.Script(method, path, answers...)
}

func countRequests(w *world, method, path string) int {
	n := 0
	for _, r := range w.srv.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// TestRetryRoundFinishesACreate: a contact create that fails every one of
// its attempts in the first pass (the look-ups between them find nothing)
// is resolved in the run's retry round: the member is created once,
// counted once, and the run reports no failure.
func TestRetryRoundFinishesACreate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithRetryRounds(2, 0))
	failing(w, http.MethodPost, "/contacts/", 3) // the default three attempts
	rep, _ := w.sync(members(1))
	if rep.Failed != 0 || rep.Created != 1 || rep.Members != 1 || rep.Changes != 1 || rep.Unchanged != 0 {
		t.Fatalf("report:\n%s", rep)
	}
	if got := countRequests(w, http.MethodPost, "/contacts/"); got != 4 {
		t.Errorf("%d creates sent, want 3 failed and 1 in the retry round", got)
	}
	if cs := w.byEmail("member0@example.com"); len(cs) != 1 {
		t.Errorf("%d contacts", len(cs))
	}
	if _, calls := w.sync(members(1)); calls != 0 {
		t.Errorf("the next run made %d calls", calls)
	}
}

// TestRetryRoundKeepsAMembersChangesInOrder: a tag add fails for a
// passing reason; the member's next change, removing that tag again, must
// wait for it — applied first, it would be undone by the retried add.
func TestRetryRoundKeepsAMembersChangesInOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithRetryRounds(2, 0))
	w.sync(members(2))
	cid := w.byEmail("member0@example.com")[0].ID
	failing(w, http.MethodPost, "/contacts/"+cid+"/tags", 3)
	rep, _ := w.apply(
		contactsync.TagsChanged{Member: "m0000", Added: []string{"vip"}},
		contactsync.TagsChanged{Member: "m0001", Added: []string{"gold"}},
		contactsync.TagsChanged{Member: "m0000", Removed: []string{"vip"}},
	)
	if rep.Failed != 0 || rep.Changes != 3 {
		t.Fatalf("report:\n%s", rep)
	}
	if c, _ := w.srv.Contact(cid); slices.Contains(c.Tags, "vip") {
		t.Errorf("the tag removed last is on the contact: %v", c.Tags)
	}
	if c := w.byEmail("member1@example.com")[0]; !slices.Contains(c.Tags, "gold") {
		t.Errorf("the other member's change was not applied: %v", c.Tags)
	}
}

// TestRetryRoundsEndInAReportedFailure: a change that fails in every round
// is reported once, after the last round; without rounds, at once.
func TestRetryRoundsEndInAReportedFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rounds, posts int
	}{{2, 9}, {0, 3}} {
		w := newWorld(t, contactsync.WithRetryRounds(tc.rounds, 0))
		w.sync(members(1))
		cid := w.byEmail("member0@example.com")[0].ID
		failing(w, http.MethodPost, "/contacts/"+cid+"/tags", 100)
		rep, _ := w.apply(contactsync.TagsChanged{Member: "m0000", Added: []string{"vip"}})
		if rep.Failed != 1 || len(rep.Failures) != 1 || rep.Changes != 1 || !strings.Contains(rep.Failures[0].Reason, "500") {
			t.Errorf("rounds %d: report:\n%s", tc.rounds, rep)
		}
		if got := countRequests(w, http.MethodPost, "/contacts/"+cid+"/tags"); got != tc.posts {
			t.Errorf("rounds %d: %d tag adds sent, want %d", tc.rounds, got, tc.posts)
		}
	}
}
