package sqlstore_test

import (
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// TestReviewPrefetchedLinkNeverReadLingers: an entry is used at most once,
// but one that no Link takes (the change that asked for it was held for a
// retry round, failed its mapping, was a redelivered LeadSignedUp…) stays
// in the view's cache for the rest of the run, until the cache passes
// 10,000 entries. A Link of that key later in the run — no matter how
// much later — answers from it, and misses what another writer (the
// location's Inbound recording a CRM edit: PutLink with Hash "") stored
// meanwhile. pending.go says an entry "is never older than the worker's
// window of changes"; it can be as old as the run.
func TestReviewPrefetchedLinkNeverReadLingers(t *testing.T) {
	t.Parallel()
	db := openSQLite(t)
	s, _ := db.Location("loc1")
	ctx := t.Context()
	lease, err := s.AcquireLease(ctx, contactsync.LeaseEngine, "run", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	view := s.Fenced(lease)
	for _, id := range []string{"m1", "m2"} {
		if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: "c" + id, Hash: "h1"}); err != nil {
			t.Fatal(err)
		}
	}
	// A worker's window of [m1, m2]: m2's change never reads its link.
	if err := view.(contactsync.LinkPrefetcher).PrefetchLinks(ctx, contactsync.KindMember, []string{"m1", "m2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := view.Link(ctx, contactsync.KindMember, "m1"); err != nil {
		t.Fatal(err)
	}
	// Later, the Inbound records a CRM edit of m2's contact: the engine
	// must rewrite it (Hash cleared).
	time.Sleep(6 * time.Second) // windows, retry rounds, hours of a long run…
	if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m2", RemoteID: "cm2", Hash: ""}); err != nil {
		t.Fatal(err)
	}
	// m2's next change, in a window of its own (no prefetch).
	l, err := view.Link(ctx, contactsync.KindMember, "m2")
	if err != nil {
		t.Fatal(err)
	}
	if l.Hash != "" {
		t.Errorf("the view's Link(m2) = hash %q from a prefetch made before the store's link changed; the store holds hash \"\"", l.Hash)
	}
}
