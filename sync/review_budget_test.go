package contactsync_test

import (
	"context"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// TestReviewBudgetDeficitIsPaidAtRunEnd: calls retried past the drawn
// allowance (a deficit: allow < 0) are paid from the shared count only by
// the next draw. A run that ends in deficit never pays it: giveBack returns
// early for allow <= 0, so the store's count of the day stays below the
// calls made, and other processes (or the next run) may spend past the
// daily budget.
func TestReviewBudgetDeficitIsPaidAtRunEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithDailyBudget(100, 0), contactsync.WithConcurrency(1), contactsync.WithRetryRounds(0, 0))
	// The 8th create — the last call of the first chunk of 8 — is answered
	// 429 twice, then goes through: three attempts for one drawn call.
	eng := w.engine(w.client, contactsync.WithProgress(func(p contactsync.Progress) {
		if p.Processed == 7 {
			w.srv.Script("POST", "/contacts/", contactstest.Scripted{Status: 429}, contactstest.Scripted{Status: 429})
		}
	}))
	rep, err := eng.SyncMembers(context.Background(), seq(members(8)))
	if err != nil || rep.Created != 8 {
		t.Fatalf("%v\n%s", err, rep)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	_, used, err := w.store.(contactsync.BudgetStore).SpendBudget(context.Background(), day, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if int64(used) != rep.APICalls {
		t.Errorf("the shared budget counts %d calls of the day; the run made %d (server requests: %d)",
			used, rep.APICalls, w.srv.RequestCount())
	}
}
