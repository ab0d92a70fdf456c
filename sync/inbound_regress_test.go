package contactsync_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// TestLateActivityNewsOfADeletedContactIsStale: a contact is deleted in
// the CRM, which deletes its tasks, notes and appointments without events
// of their own; news of one of its notes from before the deletion
// arrives late (a webhook retried after a 429). It must not bring the
// note back to the read model, nor reach GymFlow as a change of the
// member whose contact is gone.
func TestLateActivityNewsOfADeletedContactIsStale(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, apiWins())
	w.sync(member(0))
	w.deliver()
	w.sink.take()
	cid := w.contactID("member0@example.com")
	ctx := context.Background()
	w.clock.Advance(time.Minute)
	note, err := w.srv.CRM().CreateNote(contactstest.Note{ContactID: cid, Body: "Paid in cash"})
	if err != nil {
		t.Fatal(err)
	}
	w.deliver()
	w.sink.take()
	w.clock.Advance(time.Minute)
	if err := w.srv.CRM().DeleteContact(cid); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	if got := w.sink.take(); len(got) != 1 {
		t.Fatalf("the deletion delivered %#v", got)
	}
	if _, err := w.mem.Activity(ctx, contactsync.KindNote, note.ID); !errors.Is(err, contactsync.ErrNotFound) {
		t.Fatalf("the deleted contact's note is still in the read model (%v)", err)
	}
	// A NoteUpdate from 30 seconds before the deletion, delivered late.
	w.receive(w.noteEvent("NoteUpdate", "late-note", w.clock.Now().Add(-30*time.Second), note.ID, cid, "Paid by card"))
	w.process()
	if got := w.sink.take(); len(got) != 0 {
		t.Errorf("late news of a deleted contact's note delivered %#v", got)
	}
	if a, err := w.mem.Activity(ctx, contactsync.KindNote, note.ID); !errors.Is(err, contactsync.ErrNotFound) {
		t.Errorf("late news brought the deleted contact's note back to the read model: %+v (%v)", a, err)
	}
}

// TestDirtyMarkOfADeletedContactIsCleared: a task event schedules a
// re-read of its contact; the contact is deleted before it is due. The
// re-read finds the contact gone — after that, the contact must not be
// re-read again on every refresh.
func TestDirtyMarkOfADeletedContactIsCleared(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, apiWins(), contactsync.WithTaskFollowUp(10*time.Minute))
	w.sync(member(0))
	w.deliver()
	w.cycle()
	w.sink.take()
	cid := w.contactID("member0@example.com")
	w.clock.Advance(time.Minute)
	if _, err := w.srv.CRM().CreateTask(contactstest.Task{ContactID: cid, Title: "Call", DueDate: coverStart.Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	w.clock.Advance(time.Minute)
	if err := w.srv.CRM().DeleteContact(cid); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	w.sink.take()
	w.clock.Advance(10 * time.Minute) // the follow-up is due
	w.cycle()
	for i := range 3 {
		w.clock.Advance(time.Minute)
		w.srv.ResetRequests()
		rep := w.cycle()
		if _, calls := taskRereads(w.srv); calls != 0 {
			t.Errorf("refresh %d after the re-read found the contact gone: %d more re-read calls (%+v)", i+1, calls, rep)
		}
	}
}

// TestCRMRestoringASyncTagIsReportedAdded: a CRM user removes a tag the
// sync owns (the sink hears TagsRemoved [member]), then puts it back. The
// change is relative to what the inbound side knew before — a contact
// without the tag — so the sink must hear TagsAdded [member]; otherwise
// GymFlow keeps the member without the tag while the CRM has it.
func TestCRMRestoringASyncTagIsReportedAdded(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, apiWins())
	w.sync(member(0))
	w.deliver()
	w.sink.take()
	cid := w.contactID("member0@example.com")
	w.clock.Advance(time.Minute)
	if _, err := w.srv.CRM().RemoveTags(cid, "member"); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	got := w.sink.take()
	if len(got) != 1 || !slices.Equal(got[0].(contactsync.ContactChanged).TagsRemoved, []string{"member"}) {
		t.Fatalf("the removal delivered %#v", got)
	}
	w.clock.Advance(time.Minute)
	if _, err := w.srv.CRM().AddTags(cid, "member"); err != nil {
		t.Fatal(err)
	}
	rep := w.deliver()
	got = w.sink.take()
	if len(got) != 1 {
		t.Fatalf("restoring the tag delivered %#v (%+v), want TagsAdded [member]", got, rep)
	}
	if cc := got[0].(contactsync.ContactChanged); !slices.Equal(cc.TagsAdded, []string{"member"}) || len(cc.TagsRemoved) != 0 {
		t.Errorf("restoring the tag delivered added %q removed %q", cc.TagsAdded, cc.TagsRemoved)
	}
}

// TestAppointmentEventReReadNotPostponedByATaskFollowUp: appointment
// update and delete payloads may claim to be creates, so an appointment
// event makes its contact due for a re-read at once (RefreshDirty's
// contract). A task event on the same contact shortly before must not
// postpone that re-read to the task's follow-up: the deleted appointment
// would stay in the read model (and in UpcomingAppointments) meanwhile.
func TestAppointmentEventReReadNotPostponedByATaskFollowUp(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, apiWins()) // the default 30-minute follow-up
	w.sync(member(0))
	w.deliver()
	w.sink.take()
	cid := w.contactID("member0@example.com")
	ctx := context.Background()
	start := coverStart.Add(72 * time.Hour)
	w.clock.Advance(time.Minute)
	appt, err := w.srv.CRM().CreateAppointment(contactstest.Appointment{ContactID: cid, Title: "PT session", StartTime: start, EndTime: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.srv.CRM().CreateTask(contactstest.Task{ContactID: cid, Title: "Call", DueDate: start}); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	w.sink.take()
	w.clock.Advance(time.Minute)
	if err := w.srv.CRM().DeleteAppointment(appt.ID); err != nil { // the payload says AppointmentCreate
		t.Fatal(err)
	}
	w.deliver()
	if _, err := w.in.RefreshDirty(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if a, err := w.mem.Activity(ctx, contactsync.KindAppointment, appt.ID); !errors.Is(err, contactsync.ErrNotFound) {
		t.Errorf("the refresh after the appointment event did not re-read: the deleted appointment is still in the read model: %+v (%v)", a, err)
	}
	got := w.sink.take()
	if len(got) != 1 {
		t.Fatalf("the refresh delivered %#v, want the appointment's deletion", got)
	}
	if d, ok := got[0].(contactsync.ActivityDeleted); !ok || d.Activity.RemoteID != appt.ID {
		t.Errorf("the refresh delivered %#v, want the appointment's deletion", got[0])
	}
}

// TestLateWebhooksDoNotUndoTheSyncsOwnWrites: the webhooks of a first
// sync are stored but processed only after a second sync has changed the
// same member (a tag added, a field, its task and note rewritten) — as
// when Cycle runs a minute after the engine. Read against what the sync
// wrote last, the old snapshots would report the new tag removed, the
// field changed back, the task and note edited back: a change GymFlow
// would apply and sync out again, the loop the echo suppression exists to
// prevent. They must be recognised as possibly older than the write and
// settled by a fresh read, whichever policy, and whether or not the
// second sync's own webhooks arrive.
func TestLateWebhooksDoNotUndoTheSyncsOwnWrites(t *testing.T) {
	t.Parallel()
	for _, p := range []contactsync.Policy{contactsync.NewestWins, contactsync.GymFlowWins, contactsync.APIWins, contactsync.FillIfEmpty} {
		for _, dropLater := range []bool{false, true} {
			name := p.String()
			if dropLater {
				name += "/later-webhooks-lost"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				tw := newTwoWay(t, contactsync.Policies{Default: p})
				ms := members(2)
				due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
				ms[0].Tasks = []contactsync.Task{{ID: "t1", Title: "Call", Due: due}}
				ms[0].Notes = []contactsync.Note{{ID: "n1", Body: "hello"}}
				tw.sync(ms)
				flush(t, tw.srv) // stored in the inbox, not processed
				if dropLater {
					tw.srv.SetWebhookOptions(contactstest.WebhookOptions{DropRate: 1})
				}
				ms[0].Tags = append(ms[0].Tags, "gold")
				if p != contactsync.APIWins { // under APIWins GymFlow's field edits do not go out
					ms[0].Fields["last_name"] = "Later"
				}
				ms[0].Tasks[0].Title = "Call back"
				ms[0].Notes[0].Body = "hello again"
				if _, calls := tw.sync(ms); calls == 0 {
					t.Fatal("the second sync wrote nothing")
				}
				rep := tw.deliver()
				dirty, err := tw.in.RefreshDirty(ctx, 0)
				if err != nil {
					t.Fatal(err)
				}
				if got := tw.sink.take(); len(got) != 0 {
					t.Fatalf("late webhooks undid the sync's own writes: %#v", got)
				}
				if rep.Rechecked == 0 {
					t.Errorf("no news was rechecked: %+v", rep)
				}
				// Nothing bounced back into GymFlow, so nothing goes out.
				if _, calls := tw.sync(ms); calls != 0 {
					t.Errorf("a sync after the late webhooks made %d calls", calls)
				}
				// The read model holds what the sync wrote last.
				cid := tw.byEmail("member0@example.com")[0].ID
				acts, err := tw.mem.Activities(ctx, contactsync.ActivityQuery{ContactID: cid})
				if err != nil {
					t.Fatal(err)
				}
				var titles []string
				for _, a := range acts {
					titles = append(titles, a.Title+"|"+a.Body)
				}
				slices.Sort(titles)
				if want := []string{"Call back|", "|hello again"}; !slices.Equal(titles, want) {
					t.Errorf("read model %q, want %q (inbox %+v, re-read %+v)", titles, want, rep, dirty)
				}
			})
		}
	}
}

// TestTimelyEchoesCostNoRead: webhooks processed before the sync writes
// the record again are plain echoes — no fresh read, no call.
func TestTimelyEchoesCostNoRead(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	ms := members(3)
	ms[0].Tasks = []contactsync.Task{{ID: "t1", Title: "Call", Due: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}}
	ms[0].Notes = []contactsync.Note{{ID: "n1", Body: "hello"}}
	tw.sync(ms)
	rep := tw.deliver()
	ms[1].Tags = append(ms[1].Tags, "gold")
	ms[0].Notes[0].Body = "hello again"
	tw.sync(ms)
	rep2 := tw.deliver()
	if rep.Rechecked+rep2.Rechecked != 0 || rep.APICalls+rep2.APICalls != 0 {
		t.Errorf("timely echoes were rechecked: %+v %+v", rep, rep2)
	}
	if got := tw.sink.take(); len(got) != 0 {
		t.Errorf("echoes delivered %#v", got)
	}
}

// TestClockSkewWindowConfirmsWithAFreshRead: with a wide WithClockSkew, a
// CRM edit made just after the sync wrote the contact cannot be told from
// a late snapshot by time: it is read afresh (one call) and still
// delivered, once; a contact deleted meanwhile is reported deleted.
func TestClockSkewWindowConfirmsWithAFreshRead(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, apiWins(), contactsync.WithClockSkew(time.Hour))
	tw.sync(members(2))
	tw.deliver()
	tw.sink.take()
	c := tw.byEmail("member1@example.com")[0]
	if _, err := tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.LastName = "Edited" }); err != nil {
		t.Fatal(err)
	}
	rep := tw.deliver()
	got := tw.sink.take()
	if len(got) != 1 || rep.Rechecked != 1 || rep.APICalls != 1 {
		t.Fatalf("delivered %#v, report %+v", got, rep)
	}
	if ch, ok := got[0].(contactsync.ContactChanged); !ok || ch.Fields["lastName"] != "Edited" || len(ch.Fields) != 1 {
		t.Fatalf("change = %#v", got[0])
	}

	// News of the other member, whose contact is deleted before the news
	// is processed: the fresh read finds it gone.
	c0 := tw.byEmail("member0@example.com")[0]
	tw.srv.SetWebhookOptions(contactstest.WebhookOptions{Hold: true})
	if _, err := tw.srv.CRM().UpdateContact(c0.ID, func(x *contactstest.Contact) { x.LastName = "Gone soon" }); err != nil {
		t.Fatal(err)
	}
	flush(t, tw.srv)
	tw.srv.SetWebhookOptions(contactstest.WebhookOptions{DropRate: 1})
	if err := tw.srv.CRM().DeleteContact(c0.ID); err != nil {
		t.Fatal(err)
	}
	rep = tw.deliver()
	got = tw.sink.take()
	if len(got) != 1 || rep.Rechecked != 1 {
		t.Fatalf("delivered %#v, report %+v", got, rep)
	}
	if d, ok := got[0].(contactsync.ContactDeleted); !ok || d.MemberID != "m0000" {
		t.Fatalf("change = %#v", got[0])
	}
}

// TestReconciliationDeliversALostUpdate: with webhooks lost and no
// incremental scan in between (a receiver that was down, polling not
// scheduled), the scheduled reconciliation alone delivers the CRM's edit
// and the deletion, each once.
func TestReconciliationDeliversALostUpdate(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, apiWins())
	tw.sync(members(3))
	tw.deliver()
	tw.sink.take()
	tw.srv.SetWebhookOptions(contactstest.WebhookOptions{DropRate: 1})
	edited := tw.byEmail("member2@example.com")[0]
	if _, err := tw.srv.CRM().UpdateContact(edited.ID, func(x *contactstest.Contact) { x.LastName = "Lost" }); err != nil {
		t.Fatal(err)
	}
	gone := tw.byEmail("member1@example.com")[0]
	if err := tw.srv.CRM().DeleteContact(gone.ID); err != nil {
		t.Fatal(err)
	}
	tw.deliver()
	if got := tw.sink.take(); len(got) != 0 {
		t.Fatalf("dropped webhooks were delivered: %#v", got)
	}
	if _, err := tw.in.Reconcile(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	var changed, deleted []string
	for _, ch := range tw.sink.take() {
		switch c := ch.(type) {
		case contactsync.ContactChanged:
			changed = append(changed, c.MemberID+":"+c.Fields["lastName"])
		case contactsync.ContactDeleted:
			deleted = append(deleted, c.MemberID)
		default:
			t.Errorf("unexpected %#v", ch)
		}
	}
	if !slices.Equal(changed, []string{"m0002:Lost"}) || !slices.Equal(deleted, []string{"m0001"}) {
		t.Errorf("changed %v, deleted %v", changed, deleted)
	}
	if _, err := tw.in.Reconcile(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if got := tw.sink.take(); len(got) != 0 {
		t.Errorf("a second reconciliation delivered %#v", got)
	}
}

// TestLaggingWebhooksWithTagsOnBothSidesSettle: GymFlow adds and removes
// its tags and edits last names while the CRM adds its own tags and edits
// first names, on the same members; the webhooks are processed only every
// 100 edits, long after later writes. The CRM never removes a tag, so any
// tag reported removed is a late snapshot undoing the sync's own write,
// and any of GymFlow's tags reported added likewise. In the end both
// sides agree and a full sync costs nothing.
func TestLaggingWebhooksWithTagsOnBothSidesSettle(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	ctx := context.Background()
	ms := members(20)
	gym := map[string]contactsync.Member{}
	for _, m := range ms {
		gym[m.ID] = m
	}
	tw.sync(ms)
	var pending []contactsync.Change
	settle := func() {
		for range 10 {
			rep := tw.deliver()
			if _, err := tw.in.PollContacts(ctx); err != nil {
				t.Fatal(err)
			}
			_ = rep
			for _, ch := range tw.sink.take() {
				cc, ok := ch.(contactsync.ContactChanged)
				if !ok || cc.MemberID == "" {
					continue
				}
				for _, tag := range cc.TagsRemoved {
					t.Errorf("%s: tag %q reported removed (contact has %v)", cc.MemberID, tag, cc.Contact.Tags)
				}
				for _, tag := range cc.TagsAdded {
					if !strings.HasPrefix(tag, "crm-") {
						t.Errorf("%s: GymFlow's tag %q reported added", cc.MemberID, tag)
					}
				}
				if v, ok := cc.Fields["firstName"]; ok {
					m := gym[cc.MemberID]
					m.Fields["first_name"] = v
					gym[cc.MemberID] = m
					pending = append(pending, contactsync.MemberUpserted{Member: m})
				}
			}
			if len(pending) == 0 {
				return
			}
			if _, err := tw.eng.Apply(ctx, changes(pending...)); err != nil {
				t.Fatal(err)
			}
			pending = nil
		}
		t.Fatal("did not settle in 10 rounds")
	}
	for i := range 400 {
		m := gym[fmt.Sprintf("m%04d", (i/4)%20)]
		switch i % 4 {
		case 0: // GymFlow adds a tag
			m.Tags = append(slices.Clone(m.Tags), fmt.Sprint("gym-", i))
		case 1: // GymFlow edits and drops its oldest added tag
			m.Fields["last_name"] = fmt.Sprint("gym", i)
			if j := slices.IndexFunc(m.Tags, func(s string) bool { return strings.HasPrefix(s, "gym-") }); j >= 0 {
				m.Tags = slices.Delete(slices.Clone(m.Tags), j, j+1)
			}
		case 2: // the CRM adds its own tag
			c := tw.byEmail(m.Fields["email"].(string))[0]
			if _, err := tw.srv.CRM().AddTags(c.ID, fmt.Sprint("crm-", i)); err != nil {
				t.Fatal(err)
			}
			continue
		case 3: // the CRM edits the first name
			c := tw.byEmail(m.Fields["email"].(string))[0]
			time.Sleep(time.Millisecond)
			if _, err := tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.FirstName = fmt.Sprint("crm", i) }); err != nil {
				t.Fatal(err)
			}
			continue
		}
		gym[m.ID] = m
		if _, err := tw.eng.Apply(ctx, changes(contactsync.MemberUpserted{Member: m})); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			settle()
		}
	}
	settle()
	var all []contactsync.Member
	for _, m := range gym {
		c := tw.byEmail(m.Fields["email"].(string))[0]
		if c.FirstName != m.Fields["first_name"] || c.LastName != m.Fields["last_name"] {
			t.Errorf("%s: CRM %s %s, GymFlow %v %v", m.ID, c.FirstName, c.LastName, m.Fields["first_name"], m.Fields["last_name"])
		}
		for _, tag := range m.Tags {
			if !slices.Contains(c.Tags, tag) {
				t.Errorf("%s: GymFlow's tag %q missing from the contact %v", m.ID, tag, c.Tags)
			}
		}
		for _, tag := range c.Tags {
			if !slices.Contains(m.Tags, tag) && !strings.HasPrefix(tag, "crm-") {
				t.Errorf("%s: tag %q GymFlow dropped is still on the contact", m.ID, tag)
			}
		}
		all = append(all, m)
	}
	before := tw.srv.RequestCount()
	tw.sync(all)
	tw.deliver()
	if n := tw.srv.RequestCount() - before; n != 0 {
		t.Errorf("after settling, a full sync still made %d calls", n)
	}
}

// TestDeadLetterParksARefusedChange: the Sink refuses one member's change
// (a record GymFlow cannot take) while accepting the rest. Without a dead
// letter it would stop every pass for good; with WithDeadLetter(3, park)
// the third refusal hands the change to park, the inbox moves on, the
// other member's change is delivered once, and later passes and scans
// neither offer the parked change again nor fail.
func TestDeadLetterParksARefusedChange(t *testing.T) {
	t.Parallel()
	var parked []contactsync.InboundChange
	var parkedErr error
	tw := newTwoWay(t, apiWins(), contactsync.WithDeadLetter(3, func(_ context.Context, ch contactsync.InboundChange, err error) error {
		parked, parkedErr = append(parked, ch), err
		return nil
	}))
	ctx := context.Background()
	tw.sync(members(2))
	tw.deliver()
	if _, err := tw.in.PollContacts(ctx); err != nil {
		t.Fatal(err)
	}
	tw.sink.take()
	poison := tw.byEmail("member0@example.com")[0]
	fine := tw.byEmail("member1@example.com")[0]
	refusal := errors.New("gymflow: member record locked")
	tw.sink.refuse = func(ch contactsync.InboundChange) error {
		if c, ok := ch.(contactsync.ContactChanged); ok && c.Contact.ID == poison.ID {
			return refusal
		}
		return nil
	}
	for _, c := range []contactstest.Contact{poison, fine} {
		if _, err := tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.LastName = "Edited" }); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, tw.srv)
	changed := 0
	for pass := 1; pass <= 3; pass++ {
		rep, err := tw.in.ProcessInbox(ctx)
		changed += rep.ContactsChanged
		if pass < 3 && !errors.Is(err, refusal) || pass == 3 && (err != nil || rep.Parked != 1) {
			t.Fatalf("pass %d: %v %+v", pass, err, rep)
		}
	}
	if changed != 1 {
		t.Errorf("%d changes counted delivered, want 1 (the parked one is not)", changed)
	}
	if len(parked) != 1 || !errors.Is(parkedErr, refusal) {
		t.Fatalf("parked %#v (%v)", parked, parkedErr)
	}
	if c, ok := parked[0].(contactsync.ContactChanged); !ok || c.MemberID != "m0000" || c.Fields["lastName"] != "Edited" {
		t.Errorf("parked %#v", parked[0])
	}
	got := tw.sink.take()
	if len(got) != 1 || got[0].(contactsync.ContactChanged).MemberID != "m0001" {
		t.Errorf("delivered %#v", got)
	}
	if rep, err := tw.in.Cycle(ctx, 0); err != nil || rep.Parked != 0 || rep.ContactsChanged != 0 {
		t.Errorf("a later cycle: %v %+v", err, rep)
	}
}

// TestDeadLetterInAScan: a change found by the incremental scan (its
// webhook lost) that the Sink refuses stops the scan, cursor and all,
// until WithDeadLetter parks it.
func TestDeadLetterInAScan(t *testing.T) {
	t.Parallel()
	parked := 0
	tw := newTwoWay(t, apiWins(), contactsync.WithDeadLetter(2, func(context.Context, contactsync.InboundChange, error) error {
		parked++
		return nil
	}))
	ctx := context.Background()
	tw.sync(members(1))
	tw.deliver()
	if _, err := tw.in.PollContacts(ctx); err != nil {
		t.Fatal(err)
	}
	tw.sink.take()
	tw.srv.SetWebhookOptions(contactstest.WebhookOptions{DropRate: 1})
	c := tw.byEmail("member0@example.com")[0]
	time.Sleep(5 * time.Millisecond) // a later dateUpdated than the cursor
	if _, err := tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.LastName = "Edited" }); err != nil {
		t.Fatal(err)
	}
	refusal := errors.New("refused")
	tw.sink.refuse = func(contactsync.InboundChange) error { return refusal }
	if _, err := tw.in.PollContacts(ctx); !errors.Is(err, refusal) {
		t.Fatalf("first scan: %v", err)
	}
	if rep, err := tw.in.PollContacts(ctx); err != nil || rep.Parked != 1 || parked != 1 {
		t.Fatalf("second scan: %v %+v, parked %d", err, rep, parked)
	}
	if rep, err := tw.in.PollContacts(ctx); err != nil || rep.Parked != 0 || parked != 1 {
		t.Fatalf("third scan: %v %+v, parked %d", err, rep, parked)
	}
}

// TestRefusedActivityChangeIsOfferedAgain: the Sink refuses a note made
// in the CRM. The read model must not record it before the Sink took it:
// the next pass offers it again (and WithDeadLetter can park it), rather
// than finding it unchanged and dropping it.
func TestRefusedActivityChangeIsOfferedAgain(t *testing.T) {
	t.Parallel()
	for _, deleted := range []bool{false, true} {
		tw := newTwoWay(t, apiWins())
		ctx := context.Background()
		tw.sync(members(1))
		tw.deliver()
		tw.sink.take()
		cid := tw.byEmail("member0@example.com")[0].ID
		note, err := tw.srv.CRM().CreateNote(contactstest.Note{ContactID: cid, Body: "Paid in cash"})
		if err != nil {
			t.Fatal(err)
		}
		if deleted {
			tw.deliver()
			tw.sink.take()
			if err := tw.srv.CRM().DeleteNote(note.ID); err != nil {
				t.Fatal(err)
			}
		}
		refusal := errors.New("refused")
		tw.sink.refuse = func(contactsync.InboundChange) error { return refusal }
		flush(t, tw.srv)
		if _, err := tw.in.ProcessInbox(ctx); !errors.Is(err, refusal) {
			t.Fatalf("deleted %v: first pass: %v", deleted, err)
		}
		tw.sink.refuse = nil
		if _, err := tw.in.ProcessInbox(ctx); err != nil {
			t.Fatal(err)
		}
		got := tw.sink.take()
		want := "contactsync.ActivityChanged"
		if deleted {
			want = "contactsync.ActivityDeleted"
		}
		if len(got) != 1 || fmt.Sprintf("%T", got[0]) != want {
			t.Errorf("deleted %v: the refused change, offered again, delivered %#v", deleted, got)
		}
	}
}
