package contactsync_test

import (
	"testing"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// TestContactDeletedInTheCRMRoundTrip: a contact deleted in the CRM reaches
// GymFlow as ContactDeleted (once); GymFlow soft-deletes the member and
// tells the engine, which closes the link; the member's later appearances
// in a batch create nothing, and nothing loops back.
func TestContactDeletedInTheCRMRoundTrip(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, apiWins())
	ms := members(3)
	tw.sync(ms)
	tw.deliver()
	tw.sink.take() // the creates' own webhooks are echoes
	gone := tw.byEmail("member1@example.com")[0]
	if err := tw.srv.CRM().DeleteContact(gone.ID); err != nil {
		t.Fatal(err)
	}
	tw.deliver()
	got := tw.sink.take()
	if len(got) != 1 {
		t.Fatalf("delivered %#v", got)
	}
	del, ok := got[0].(contactsync.ContactDeleted)
	if !ok || del.MemberID != "m0001" || del.ContactID != gone.ID {
		t.Fatalf("change = %#v", got[0])
	}

	// GymFlow's answer: the member is soft-deleted and the engine told.
	rep, calls := tw.apply(contactsync.MemberDeleted{Member: del.MemberID})
	if rep.Failed != 0 || rep.Archived != 1 || calls != 1 {
		t.Fatalf("%d calls\n%s", calls, rep)
	}
	link, err := tw.store.Link(t.Context(), contactsync.KindMember, "m0001")
	if err != nil || !link.Archived {
		t.Fatalf("link = %+v, %v; want it archived", link, err)
	}
	// A reconciliation confirms the deletion without delivering it again.
	if _, err := tw.in.Reconcile(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	tw.deliver()
	if again := tw.sink.take(); len(again) != 0 {
		t.Errorf("delivered again: %#v", again)
	}
	// The active members' batch no longer holds m0001: nothing is created.
	if rep, calls := tw.sync([]contactsync.Member{ms[0], ms[2]}); calls != 0 || rep.Created != 0 {
		t.Errorf("%d calls after the round trip\n%s", calls, rep)
	}
	if n := len(tw.byEmail("member1@example.com")); n != 0 {
		t.Errorf("%d contacts for the deleted member", n)
	}
}
