package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
)

// TestReviewFencedViewLinkWritesAreNotFenced: once another runner holds
// the lease, the stale runner's PutIntent, Commit and DeleteIntent are
// refused, but its PutLink and DeleteLink land. The engine writes links
// with them before any fenced write in several paths: recreate (a contact
// deleted in the CRM: DeleteLink, then the fenced DeleteIntent), the
// "policies keep the CRM's values" PutLink of updateContact, and
// refreshRelated. A stale run that finds the old contact gone deletes the
// link the new run just committed to the re-created contact; the next run
// creates the contact a third time.
func TestReviewFencedViewLinkWritesAreNotFenced(t *testing.T) {
	t.Parallel()
	type leaser interface {
		contactsync.StateStore
		contactsync.LeaseStore
	}
	for name, s := range map[string]leaser{"SQLite": must(openSQLite(t).Location("loc1")), "memstore": memstore.New()} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			stale, err := s.AcquireLease(ctx, contactsync.LeaseEngine, "run-1", time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			view := s.Fenced(stale)
			time.Sleep(20 * time.Millisecond) // run-1 stalls; its lease lapses
			if _, err := s.AcquireLease(ctx, contactsync.LeaseEngine, "run-2", time.Minute); err != nil {
				t.Fatal(err)
			}
			// run-2 re-created the contact and committed its link.
			if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1", RemoteID: "c2"}); err != nil {
				t.Fatal(err)
			}
			if err := view.PutIntent(ctx, contactsync.Intent{Key: "k", Kind: contactsync.KindMember, LocalID: "m1", Op: "create"}); !errors.Is(err, contactsync.ErrLeaseLost) {
				t.Fatalf("stale PutIntent = %v, want ErrLeaseLost", err)
			}
			err = view.DeleteLink(ctx, contactsync.KindMember, "m1")
			if _, lerr := s.Link(ctx, contactsync.KindMember, "m1"); errors.Is(lerr, contactsync.ErrNotFound) {
				t.Errorf("the stale run's DeleteLink (err %v) removed the link the lease's holder committed", err)
			}
			err = view.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m9", RemoteID: "c9"})
			if _, lerr := s.Link(ctx, contactsync.KindMember, "m9"); lerr == nil {
				t.Errorf("the stale run's PutLink (err %v) landed", err)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
