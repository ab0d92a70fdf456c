package sqlstore_test

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// TestPostgresBatchesKeepEveryField: many workers recording intents and
// committing links at once — batches PostgreSQL writes as two statements
// over arrays — store every field of every intent and link as written.
func TestPostgresBatchesKeepEveryField(t *testing.T) {
	t.Parallel()
	db := openPostgres(t)
	s, _ := db.Location("loc1")
	ctx := t.Context()
	lease, err := s.AcquireLease(ctx, contactsync.LeaseEngine, "run", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	view := s.Fenced(lease)
	at := time.UnixMilli(1_765_000_000_123).UTC()
	link := func(i int) contactsync.Link {
		l := contactsync.Link{Kind: contactsync.KindMember, LocalID: fmt.Sprintf("m%03d", i), RemoteID: fmt.Sprint("c", i),
			MemberID: "", ContactID: "", Hash: fmt.Sprint("h", i)}
		if i%2 == 0 {
			l.State, l.Tags, l.Archived, l.UpdatedAt = []byte(fmt.Sprintf(`{"i":%d}`, i)), []string{"a", fmt.Sprint("t", i)}, true, at
		}
		return l
	}
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprint("create/member/m", i)
			in := contactsync.Intent{Key: key, Kind: contactsync.KindMember, LocalID: fmt.Sprintf("m%03d", i), Op: "create"}
			if i%3 == 0 {
				in.Data, in.CreatedAt = []byte{0, 1, 2, byte(i)}, at
			}
			if err := view.PutIntent(ctx, in); err != nil {
				errs <- err
				return
			}
			if i%4 == 0 {
				return // keep this intent
			}
			if err := view.Commit(ctx, link(i), key); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	intents, err := view.Intents(ctx) // settles the writes behind
	if err != nil {
		t.Fatal(err)
	}
	if len(intents) != n/4 {
		t.Errorf("%d intents left, want %d", len(intents), n/4)
	}
	for _, in := range intents {
		var i int
		fmt.Sscanf(in.Key, "create/member/m%d", &i)
		if i%4 != 0 || in.LocalID != fmt.Sprintf("m%03d", i) || in.Op != "create" {
			t.Errorf("intent %+v", in)
		}
		if wantData := i%3 == 0; wantData != (in.Data != nil) || wantData && (!bytes.Equal(in.Data, []byte{0, 1, 2, byte(i)}) || !in.CreatedAt.Equal(at)) {
			t.Errorf("intent %s: data %v, created %v", in.Key, in.Data, in.CreatedAt)
		}
	}
	links, err := s.Links(ctx, contactsync.KindMember, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != n-n/4 {
		t.Fatalf("%d links, want %d", len(links), n-n/4)
	}
	for _, got := range links {
		var i int
		fmt.Sscanf(got.LocalID, "m%d", &i)
		want := link(i)
		if got.RemoteID != want.RemoteID || got.Hash != want.Hash || !bytes.Equal(got.State, want.State) ||
			!slices.Equal(got.Tags, want.Tags) || got.Archived != want.Archived || !got.UpdatedAt.Equal(want.UpdatedAt) {
			t.Errorf("link %s = %+v, want %+v", got.LocalID, got, want)
		}
	}
	if st := db.Stats(); st.Commits >= st.Writes {
		t.Logf("no batching happened (%+v): the arrays were not exercised", st)
	}
}
