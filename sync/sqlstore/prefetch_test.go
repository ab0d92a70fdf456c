package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

// TestPrefetchNeverAnswersStale: a fenced view's prefetched links answer
// one Link each, and never for a record the view wrote — even when the
// prefetch read the store before the view's write behind landed.
func TestPrefetchNeverAnswersStale(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"SQLite", "Postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			var db *sqlstore.DB
			if dialect == "SQLite" {
				db = openSQLite(t)
			} else {
				db = openPostgres(t)
			}
			s, _ := db.Location("loc1")
			ctx := t.Context()
			lease, err := s.AcquireLease(ctx, contactsync.LeaseEngine, "run", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			view := s.Fenced(lease)
			pf, ok := view.(contactsync.LinkPrefetcher)
			if !ok {
				t.Fatal("a fenced view is no LinkPrefetcher")
			}
			if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1", RemoteID: "c1", Hash: "h1"}); err != nil {
				t.Fatal(err)
			}
			if err := pf.PrefetchLinks(ctx, contactsync.KindMember, []string{"m1", "m2", "m3"}); err != nil {
				t.Fatal(err)
			}
			// Answers from the prefetch: found and absent.
			if l, err := view.Link(ctx, contactsync.KindMember, "m1"); err != nil || l.RemoteID != "c1" {
				t.Fatalf("m1 = %+v, %v", l, err)
			}
			if _, err := view.Link(ctx, contactsync.KindMember, "m2"); !errors.Is(err, contactsync.ErrNotFound) {
				t.Fatalf("m2 = %v, want ErrNotFound", err)
			}
			// The view writes m3 (behind), so its cached absence is dropped.
			if err := view.Commit(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m3", RemoteID: "c3"}, ""); err != nil {
				t.Fatal(err)
			}
			// A prefetch racing the write behind, then the write lands.
			if err := pf.PrefetchLinks(ctx, contactsync.KindMember, []string{"m3", "m4"}); err != nil {
				t.Fatal(err)
			}
			if _, err := view.Intents(ctx); err != nil { // settles the writes behind
				t.Fatal(err)
			}
			for range 2 {
				if l, err := view.Link(ctx, contactsync.KindMember, "m3"); err != nil || l.RemoteID != "c3" {
					t.Fatalf("m3 after its write = %+v, %v", l, err)
				}
			}
			// Another writer changes m1 after the prefetch was used: the
			// view reads the store again.
			if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1", RemoteID: "c1b"}); err != nil {
				t.Fatal(err)
			}
			if l, err := view.Link(ctx, contactsync.KindMember, "m1"); err != nil || l.RemoteID != "c1b" {
				t.Fatalf("m1 after another write = %+v, %v", l, err)
			}
			// m2 was used once: it is read from the store now.
			if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m2", RemoteID: "c2"}); err != nil {
				t.Fatal(err)
			}
			if l, err := view.Link(ctx, contactsync.KindMember, "m2"); err != nil || l.RemoteID != "c2" {
				t.Fatalf("m2 after a write elsewhere = %+v, %v", l, err)
			}
		})
	}
}
