package contactsync_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/webhook"
)

// TestSharedEmailDoesNotLinkAnotherMembersContact: two members with one
// e-mail address (a parent and a child) in a location that refuses
// duplicates. The second member's create is refused as a duplicate of the
// first member's contact; linking it would make two members write one
// contact (the child's name over the parent's) and the inbound side report
// one member's values as CRM edits of the other.
func TestSharedEmailDoesNotLinkAnotherMembersContact(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	parent := member(1)
	w.sync([]contactsync.Member{parent})
	child := member(2)
	child.ID = "m0099"
	child.Fields["email"] = parent.Fields["email"]
	child.Fields["first_name"] = "Child"
	rep, err := w.eng.SyncMembers(context.Background(), seq([]contactsync.Member{child}))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || rep.Linked != 0 {
		t.Errorf("the child's sync: %s", rep)
	}
	if c := w.byEmail("member1@example.com"); len(c) != 1 || c[0].FirstName != "Member1" {
		t.Errorf("the parent's contact = %+v", c)
	}
	if _, err := w.store.Link(context.Background(), contactsync.KindMember, "m0099"); !errors.Is(err, contactsync.ErrNotFound) {
		t.Errorf("the child was linked to the parent's contact (%v)", err)
	}
	if in, _ := w.store.Intents(context.Background()); len(in) != 0 {
		t.Errorf("intents left: %+v", in)
	}
}

// TestArchiveTagIsNotACRMTag: the tag the engine adds to archive a deleted
// member is the sync's own write, not a CRM edit: it must not come back to
// GymFlow as a tag added in the CRM (nor its removal, when the member
// returns, as a tag removed in the CRM).
func TestArchiveTagIsNotACRMTag(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, contactsync.Policies{})
	tw.sync(members(2))
	tw.deliver()
	tw.sink.take()
	tw.apply(contactsync.MemberDeleted{Member: "m0001"})
	tw.deliver()
	if got := tw.sink.take(); len(got) != 0 {
		t.Errorf("archiving came back as %#v", got)
	}
	if _, calls := tw.sync(members(2)); calls != 1 {
		t.Errorf("the member's return made %d calls, want 1", calls)
	}
	tw.deliver()
	if got := tw.sink.take(); len(got) != 0 {
		t.Errorf("lifting the archive came back as %#v", got)
	}
	if c := tw.byEmail("member1@example.com")[0]; !slices.Equal(c.Tags, []string{"member"}) {
		t.Errorf("tags after the return = %v", c.Tags)
	}
	if _, calls := tw.sync(members(2)); calls != 0 {
		t.Errorf("a sync after the return made %d calls", calls)
	}
}

// TestAddedTagsStayOwnedWhenTheCommitFails: a tag change adds a tag, then
// its remove call fails, so the link is not committed. The added tag is on
// the contact although the link does not own it; when GymFlow later drops
// the tag, the sync must still remove it (or it stays forever, and the
// inbound side reports it to GymFlow as a tag added in the CRM).
func TestAddedTagsStayOwnedWhenTheCommitFails(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithRetryRounds(0, 0)) // the failure must end the run
	m := member(1)
	m.Tags = []string{"member", "trial"}
	w.sync([]contactsync.Member{m})
	cid := w.byEmail("member1@example.com")[0].ID
	fail := make([]contactstest.Scripted, 4) // the first try and 3 retries
	for i := range fail {
		fail[i] = contactstest.Scripted{Status: http.StatusInternalServerError}
	}
	w.srv.Script(http.MethodDelete, "/contacts/"+cid+"/tags", fail...)
	m.Tags = []string{"member", "vip"} // vip added (succeeds), trial removed (fails)
	if rep, _ := w.sync([]contactsync.Member{m}); rep.Failed != 1 {
		t.Fatalf("the failing run: %s", rep)
	}
	m.Tags = []string{"member"} // GymFlow drops vip again
	if rep, _ := w.sync([]contactsync.Member{m}); rep.Failed != 0 {
		t.Fatalf("the next run: %s", rep)
	}
	if c, _ := w.srv.Contact(cid); !slices.Equal(c.Tags, []string{"member"}) {
		t.Errorf("contact tags = %v, want [member]", c.Tags)
	}
}

// TestTagsStillOnTheContactAreNotReportedRemoved: the inbound side saw a
// contact before the engine linked it (here: a CRM contact the engine then
// links as a duplicate; equally a webhook processed before the engine
// commits a link or a tag add). Its tags were CRM tags then and are the
// sync's now, but they are still on the contact: GymFlow must not be told
// they were removed (it would drop them, and the engine would remove them
// from the contact).
func TestTagsStillOnTheContactAreNotReportedRemoved(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, contactsync.Policies{})
	tw.srv.SeedContact(contactstest.Contact{Email: "member1@example.com", FirstName: "Old", Tags: []string{"member"}})
	if _, err := tw.in.Reconcile(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	tw.sink.take()
	tw.sync(members(2)) // member1 is linked to the CRM contact
	tw.deliver()
	for _, ch := range tw.sink.take() {
		if cc, ok := ch.(contactsync.ContactChanged); ok {
			for _, tag := range cc.TagsRemoved {
				if slices.Contains(cc.Contact.Tags, tag) {
					t.Errorf("tag %q reported removed, but the contact has %v", tag, cc.Contact.Tags)
				}
			}
		}
	}
}

// TestCRMRevertToAValueSeenBeforeIsDelivered: the engine writes a new
// last name whose webhook is lost (or falls between two polls); a CRM user
// then puts the old name back. The contact now looks as the inbound side
// last saw it, but it differs from what the sync last wrote: a CRM edit.
func TestCRMRevertToAValueSeenBeforeIsDelivered(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	ms := members(1)
	tw.sync(ms)
	tw.deliver()
	tw.sink.take()
	tw.srv.SetWebhookOptions(contactstest.WebhookOptions{DropRate: 1})
	ms[0].Fields["last_name"] = "FromGymFlow"
	ms[0].UpdatedAt = time.Now()
	if _, calls := tw.sync(ms); calls != 1 {
		t.Fatalf("the update made %d calls", calls)
	}
	tw.deliver()
	tw.srv.SetWebhookOptions(contactstest.WebhookOptions{})
	time.Sleep(5 * time.Millisecond)
	c := tw.byEmail("member0@example.com")[0]
	tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.LastName = "Test" })
	tw.deliver()
	got := tw.sink.take()
	if len(got) != 1 || got[0].(contactsync.ContactChanged).Fields["lastName"] != "Test" {
		t.Fatalf("the CRM's revert delivered %#v", got)
	}
}

// TestLateNewsOfADeletedNoteIsStale: a note is deleted in the CRM; an
// update of it from before the deletion arrives late (webhooks are
// retried after a 429). It must not bring the note back to the read model
// and to GymFlow.
func TestLateNewsOfADeletedNoteIsStale(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	ms := members(1)
	ms[0].Notes = []contactsync.Note{{ID: "n1", Body: "hello"}}
	tw.sync(ms)
	tw.deliver()
	tw.sink.take()
	cid := tw.byEmail("member0@example.com")[0].ID
	nid := tw.srv.Notes(cid)[0].ID
	ctx := context.Background()
	event := func(typ, id string, at time.Time, body string) {
		t.Helper()
		raw := fmt.Sprintf(`{"type":%q,"locationId":%q,"webhookId":%q,"timestamp":%q,"id":%q,"contactId":%q,"body":%q}`,
			typ, tw.srv.LocationID(), id, at.UTC().Format(time.RFC3339Nano), nid, cid, body)
		ev, err := webhook.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.in.Receive(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.in.ProcessInbox(ctx); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	event("NoteDelete", "w-delete", now, "hello")
	if got := tw.sink.take(); len(got) != 1 {
		t.Fatalf("the deletion delivered %#v", got)
	}
	event("NoteUpdate", "w-update", now.Add(-time.Second), "edited before the deletion")
	if got := tw.sink.take(); len(got) != 0 {
		t.Errorf("late news of the deleted note delivered %#v", got)
	}
	if _, err := tw.mem.Activity(ctx, contactsync.KindNote, nid); !errors.Is(err, contactsync.ErrNotFound) {
		t.Errorf("the deleted note is back in the read model (%v)", err)
	}
}

// TestReconcileConfirmsDeletions: search is eventually consistent, and the
// engine may link a contact while a reconciliation scans: a linked contact
// missing from the scan is not necessarily deleted. Reporting it deleted
// makes GymFlow soft-delete a live member.
func TestReconcileConfirmsDeletions(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	tw.sync(members(2))
	tw.deliver()
	tw.sink.take()
	gone := tw.byEmail("member0@example.com")[0]
	tw.srv.SetWebhookOptions(contactstest.WebhookOptions{DropRate: 1})
	tw.srv.CRM().DeleteContact(gone.ID)
	// The search index has not caught up with either contact yet.
	tw.srv.Script(http.MethodPost, "/contacts/search", contactstest.Scripted{Status: http.StatusOK, Body: `{"contacts":[],"total":0,"traceId":"t"}`})
	if _, err := tw.in.Reconcile(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	got := tw.sink.take()
	if len(got) != 1 {
		t.Fatalf("reconcile delivered %#v", got)
	}
	if d, ok := got[0].(contactsync.ContactDeleted); !ok || d.ContactID != gone.ID {
		t.Errorf("delivered %#v, want only the deletion of %s", got[0], gone.ID)
	}
	// Known deletions cost nothing the next time.
	before := tw.srv.RequestCount()
	tw.in.Reconcile(context.Background(), false)
	if n := tw.srv.RequestCount() - before; n != 1 {
		t.Errorf("a second reconcile made %d calls, want 1 (the scan)", n)
	}
	if got := tw.sink.take(); len(got) != 0 {
		t.Errorf("second reconcile delivered %#v", got)
	}
}

// TestNewsWithAnEqualTimestampIsNotStale: two CRM edits in the same
// millisecond (a workflow, an API client) carry equal timestamps, and a
// scan's dateUpdated can equal a webhook's timestamp. Equal time with other
// content is news; equal time with the same content is a repeat.
func TestNewsWithAnEqualTimestampIsNotStale(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	tw.sync(members(1))
	tw.deliver()
	tw.sink.take()
	cid := tw.byEmail("member0@example.com")[0].ID
	ctx := context.Background()
	at := time.Now().Add(time.Second).UTC().Format("2006-01-02T15:04:05.000Z07:00") // the API sends milliseconds
	for i, last := range []string{"A", "B", "B"} {
		raw := fmt.Sprintf(`{"type":"ContactUpdate","locationId":%q,"webhookId":"w%d","timestamp":%q,"id":%q,"firstName":"Member0","lastName":%q,"email":"member0@example.com","source":"gymflow","tags":["member"]}`,
			tw.srv.LocationID(), i, at, cid, last)
		ev, err := webhook.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.in.Receive(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.in.ProcessInbox(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	for _, ch := range tw.sink.take() {
		seen = append(seen, ch.(contactsync.ContactChanged).Fields["lastName"])
	}
	if strings.Join(seen, ",") != "A,B" {
		t.Errorf("the sink saw %v, want A,B", seen)
	}
}

// TestGymFlowWinsRewritesACRMEdit: under GymFlowWins a CRM edit does not
// flow to GymFlow; GymFlow's value stands and the next outbound sync of
// the member rewrites it (WithInboundPolicies).
func TestGymFlowWinsRewritesACRMEdit(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, contactsync.Policies{Default: contactsync.GymFlowWins})
	ms := members(1)
	tw.sync(ms)
	tw.deliver()
	tw.sink.take()
	c := tw.byEmail("member0@example.com")[0]
	tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.LastName = "EditedInCRM" })
	tw.deliver()
	if got := tw.sink.take(); len(got) != 0 {
		t.Fatalf("under GymFlowWins the CRM edit was delivered: %#v", got)
	}
	if _, calls := tw.sync(ms); calls != 1 {
		t.Errorf("the next sync made %d calls, want 1 (the rewrite)", calls)
	}
	if got := tw.byEmail("member0@example.com")[0]; got.LastName != "Test" {
		t.Errorf("last name = %q, want GymFlow's %q", got.LastName, "Test")
	}
	tw.deliver()
	if got := tw.sink.take(); len(got) != 0 {
		t.Errorf("the rewrite came back as %#v", got)
	}
	if _, calls := tw.sync(ms); calls != 0 {
		t.Errorf("a sync after the rewrite made %d calls", calls)
	}
}

// TestInboundKeepsAnEngineCommitMadeMeanwhile: the inbound side reads a
// member's link, delivers a CRM edit to the sink, then records the CRM's
// values in the link. The engine (another goroutine or process) may have
// committed that link in between — here, while the sink runs — and its
// commit (tags owned, archive flag, snapshot) must survive.
func TestInboundKeepsAnEngineCommitMadeMeanwhile(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	tw.sync(members(1))
	tw.deliver()
	tw.sink.take()
	c := tw.byEmail("member0@example.com")[0]
	time.Sleep(5 * time.Millisecond)
	tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.LastName = "EditedInCRM" })
	flush(t, tw.srv)
	engineRan := false
	sink := contactsync.SinkFunc(func(ctx context.Context, ch contactsync.InboundChange) error {
		if !engineRan {
			engineRan = true
			tw.apply(contactsync.TagsChanged{Member: "m0000", Added: []string{"vip"}})
		}
		return nil
	})
	in, err := contactsync.NewInbound(tw.client, tw.mem, tw.mem, tw.mem, engineMapping(t), sink, contactsync.WithInboundPolicies(newestWins()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.ProcessInbox(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !engineRan {
		t.Fatal("the CRM edit was not delivered")
	}
	link, err := tw.mem.Link(context.Background(), contactsync.KindMember, "m0000")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(link.Tags, "vip") {
		t.Errorf("the engine's commit was overwritten: link tags %v", link.Tags)
	}
	last, err := contactsync.UnmarshalMapped(link.State)
	if err != nil || last.Fields["lastName"] != "EditedInCRM" {
		t.Errorf("the CRM's value is not recorded: %+v (%v)", last, err)
	}
}
