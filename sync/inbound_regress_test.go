package contactsync_test

import (
	"context"
	"errors"
	"slices"
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
