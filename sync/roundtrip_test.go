package contactsync_test

import (
	"net/http/httptest"
	"testing"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/webhook"
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

// TestRouteDispatchesByLocation: one app webhook URL receives the events
// of every location; Route hands each to its location's Inbound, and an
// Inbound given another location's event ignores it.
func TestRouteDispatchesByLocation(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer(contactstest.WithoutRateLimits())
	defer srv.Close()
	locB := srv.AddLocation("", "", contactstest.LocationSettings{})
	clients := []*contacts.Client{srv.Client(),
		srv.Client(contacts.WithToken(srv.IssueToken(contactstest.TokenSpec{LocationID: locB})), contacts.WithLocationID(locB))}
	var ins []*contactsync.Inbound
	var sinks []*recordingSink
	var mems []*memstore.Store
	for j, loc := range []string{srv.LocationID(), locB} {
		mem := memstore.New()
		c := srv.SeedContact(contactstest.Contact{LocationID: loc, FirstName: "Ana", Email: "ana@example.com"})
		if err := mem.PutLink(t.Context(), contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1", RemoteID: c.ID}); err != nil {
			t.Fatal(err)
		}
		sink := &recordingSink{}
		in, err := contactsync.NewInbound(clients[j], mem, mem, mem, engineMapping(t), sink, contactsync.WithInboundPolicies(apiWins()))
		if err != nil {
			t.Fatal(err)
		}
		ins, sinks, mems = append(ins, in), append(sinks, sink), append(mems, mem)
	}
	edKey, _ := srv.WebhookPublicKeys()
	v, err := webhook.NewVerifier(webhook.WithEd25519PublicKey(edKey))
	if err != nil {
		t.Fatal(err)
	}
	h, err := webhook.NewHandler(v, contactsync.Route(ins...))
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(h)
	defer hook.Close()
	if err := srv.AddWebhook(hook.URL); err != nil {
		t.Fatal(err)
	}
	b := srv.Contacts(locB)[0]
	if _, err := srv.CRM().UpdateContact(b.ID, func(c *contactstest.Contact) { c.LastName = "Edited" }); err != nil {
		t.Fatal(err)
	}
	flush(t, srv)
	for j, in := range ins {
		if _, err := in.ProcessInbox(t.Context()); err != nil {
			t.Fatal(err)
		}
		got := sinks[j].take()
		if want := map[int]int{0: 0, 1: 1}[j]; len(got) != want {
			t.Errorf("location %d: %d changes delivered, want %d: %#v", j, len(got), want, got)
		}
	}
	// Handing location B's event straight to location A's Inbound stores nothing.
	ev, err := webhook.Parse([]byte(`{"type":"ContactUpdate","locationId":"` + locB + `","id":"` + b.ID + `","webhookId":"w-1","timestamp":"2026-06-01T08:00:00.000Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := ins[0].Receive(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if pending, err := mems[0].PendingInbox(t.Context(), 10); err != nil || len(pending) != 0 {
		t.Errorf("location A stored %d entries of location B (%v)", len(pending), err)
	}
}
