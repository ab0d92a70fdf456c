package contactsync_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
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

// cancelOnRetry is a slog handler that cancels a run as its first retry
// round is announced, before the pause.
type cancelOnRetry struct {
	slog.Handler
	cancel context.CancelFunc
}

func (h cancelOnRetry) Enabled(context.Context, slog.Level) bool { return true }

func (h cancelOnRetry) Handle(_ context.Context, rec slog.Record) error {
	if strings.Contains(rec.Message, "retrying failed changes") {
		h.cancel()
	}
	return nil
}

// TestCancelledRetryPauseReportsWhatWaited: a run cancelled in the pause
// before a retry round reports the changes set aside — the failed one as
// a failure, the one waiting behind it as processed — and counts the
// member whose create failed.
func TestCancelledRetryPauseReportsWhatWaited(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, w *world, cs ...contactsync.Change) *contactsync.Report {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		eng := w.engine(w.client, contactsync.WithRetryRounds(2, time.Hour),
			contactsync.WithLogger(slog.New(cancelOnRetry{slog.DiscardHandler, cancel})))
		rep, err := eng.Apply(ctx, changes(cs...))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		return rep
	}
	t.Run("tag change and a member update behind it", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		w.sync(members(1))
		cid := w.byEmail("member0@example.com")[0].ID
		failing(w, http.MethodPost, "/contacts/"+cid+"/tags", 100)
		m := member(0)
		m.Fields["last_name"] = "Later"
		rep := run(t, w, contactsync.TagsChanged{Member: "m0000", Added: []string{"vip"}}, contactsync.MemberUpserted{Member: m})
		if rep.Failed != 1 || rep.Changes != 2 || rep.Members != 0 {
			t.Errorf("report:\n%s", rep)
		}
	})
	t.Run("member create", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		failing(w, http.MethodPost, "/contacts/", 3)
		rep := run(t, w, contactsync.MemberUpserted{Member: member(0)})
		if rep.Failed != 1 || rep.Changes != 1 || rep.Members != 1 {
			t.Errorf("report:\n%s", rep)
		}
	})
}

// TestRetriedChangesAreCountedOnce: a lead whose create fails in the first
// pass is one member, one contact and one welcome task, and not a pending
// write of an earlier run; a member update that waited behind a failed tag
// change has its outcome counted.
func TestRetriedChangesAreCountedOnce(t *testing.T) {
	t.Parallel()
	t.Run("lead", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, contactsync.WithRetryRounds(2, 0))
		failing(w, http.MethodPost, "/contacts/", 3)
		rep, _ := w.apply(contactsync.LeadSignedUp{Lead: member(0)})
		if rep.Members != 1 || rep.Created != 1 || rep.WelcomeTasks != 1 || rep.Resolved != 0 || rep.Failed != 0 || rep.Changes != 1 {
			t.Errorf("report:\n%s", rep)
		}
	})
	t.Run("waiting member update", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, contactsync.WithRetryRounds(2, 0))
		w.sync(members(1))
		cid := w.byEmail("member0@example.com")[0].ID
		failing(w, http.MethodPost, "/contacts/"+cid+"/tags", 3)
		m := member(0)
		m.Tags = []string{"member", "vip"}
		rep, _ := w.apply(contactsync.TagsChanged{Member: "m0000", Added: []string{"vip"}}, contactsync.MemberUpserted{Member: m})
		outcomes := rep.Created + rep.Linked + rep.Updated + rep.Unchanged
		if rep.Members != 1 || outcomes != 1 || rep.Failed != 0 || rep.Changes != 2 {
			t.Errorf("members %d, outcomes %d:\n%s", rep.Members, outcomes, rep)
		}
	})
}

// TestAFatalErrorInARetryRoundReportsWhatWaited: an authorization error
// in a retry round stops the run; the member's change that waited behind
// the retried one is counted, not silently dropped.
func TestAFatalErrorInARetryRoundReportsWhatWaited(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithRetryRounds(2, 0))
	w.sync(members(1))
	cid := w.byEmail("member0@example.com")[0].ID
	failing(w, http.MethodPost, "/contacts/"+cid+"/tags", 3)
	w.srv.Script(http.MethodPost, "/contacts/"+cid+"/tags", contactstest.Scripted{Status: http.StatusUnauthorized})
	m := member(0)
	m.Fields["last_name"] = "Changed"
	rep, err := w.eng.Apply(context.Background(), changes(contactsync.TagsChanged{Member: "m0000", Added: []string{"vip"}}, contactsync.MemberUpserted{Member: m}))
	if !errors.Is(err, contacts.ErrUnauthorized) || rep.Changes != 2 {
		t.Errorf("err %v\n%s", err, rep)
	}
}

// TestAnsweredCreateIsResolvedWithoutGrace: a create the API answered with
// a 5xx (every attempt, every round) is marked answered in its intent:
// nothing of it can still be in flight, so the next run resolves it at
// once however long the grace period. A create lost with its connection
// is not marked, and waits it out (TestResolveGraceIsOnByDefault).
func TestAnsweredCreateIsResolvedWithoutGrace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		answer   contactstest.Scripted
		answered bool
	}{
		{"500", contactstest.Scripted{Status: http.StatusInternalServerError}, true},
		{"reset", contactstest.Scripted{Reset: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, contactsync.WithRetryRounds(0, 0), contactsync.WithResolveGrace(time.Hour))
			w.srv.Script(http.MethodPost, "/contacts/", tc.answer, tc.answer, tc.answer)
			if rep, _ := w.sync(members(1)); rep.Failed != 1 {
				t.Fatalf("first run:\n%s", rep)
			}
			ins, err := w.store.Intents(context.Background())
			if err != nil || len(ins) != 1 {
				t.Fatalf("intents %+v (%v)", ins, err)
			}
			if got := strings.Contains(string(ins[0].Data), `"answered":true`); got != tc.answered {
				t.Fatalf("intent %s, want answered %v", ins[0].Data, tc.answered)
			}
			if !tc.answered {
				return
			}
			// Waiting out an hour would end the test by its deadline.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := w.eng.SyncMembers(ctx, seq(members(1)))
			if err != nil || rep.Resolved != 1 || rep.Failed != 0 || len(w.byEmail("member0@example.com")) != 1 {
				t.Fatalf("second run: %v\n%s", err, rep)
			}
		})
	}
}

// TestRefusedCreateLeavesNoIntent: a contact create refused with a 422
// that did not create anything (the look-up finds nothing) is a failure of
// the record with nothing pending — not an intent the next run would send
// again.
func TestRefusedCreateLeavesNoIntent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithRetryRounds(0, 0))
	w.srv.Script(http.MethodPost, "/contacts/", contactstest.Scripted{Status: http.StatusUnprocessableEntity})
	if rep, _ := w.sync(members(1)); rep.Failed != 1 {
		t.Fatalf("report:\n%s", rep)
	}
	if ins, err := w.store.Intents(context.Background()); err != nil || len(ins) != 0 {
		t.Errorf("intents left: %+v (%v)", ins, err)
	}
}
