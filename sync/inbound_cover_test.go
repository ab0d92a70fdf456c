package contactsync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/sync/sqlstore"
	"github.com/gymflow/contacts-go/webhook"
)

// coverStart is where the manual clocks of these tests start.
var coverStart = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

// clockedWorld is a fake API, an outbound engine, an inbound side and a
// webhook receiver feeding its inbox, all on one manual clock: webhook
// timestamps, dateUpdated values, the engine's write times and the
// inbound side's "now" only move when the test advances the clock.
type clockedWorld struct {
	t        *testing.T
	clock    *contactstest.ManualClock
	srv      *contactstest.Server
	client   *contacts.Client
	mem      *memstore.Store
	eng      *contactsync.Engine
	policies contactsync.Policies
	sink     *recordingSink
	in       *contactsync.Inbound
}

func newClockedWorld(t *testing.T, p contactsync.Policies, inOpts ...contactsync.InboundOption) *clockedWorld {
	t.Helper()
	clock := contactstest.NewManualClock(coverStart)
	srv := contactstest.NewServer(contactstest.WithClock(clock), contactstest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	if _, err := srv.AddCustomField(srv.LocationID(), "membership_plan"); err != nil {
		t.Fatal(err)
	}
	w := &clockedWorld{t: t, clock: clock, srv: srv, client: srv.Client(), mem: memstore.New(), policies: p, sink: &recordingSink{}}
	eng, err := contactsync.NewEngine(w.client, w.mem, engineMapping(t), contactsync.WithPolicies(p), contactsync.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	w.eng = eng
	w.in = w.newInbound(w.sink, inOpts...)
	edKey, _ := srv.WebhookPublicKeys()
	v, err := webhook.NewVerifier(webhook.WithEd25519PublicKey(edKey))
	if err != nil {
		t.Fatal(err)
	}
	h, err := webhook.NewHandler(v, w.in.Receive, webhook.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(h)
	t.Cleanup(hook.Close)
	if err := srv.AddWebhook(hook.URL); err != nil {
		t.Fatal(err)
	}
	return w
}

// newInbound returns another Inbound over the world's stores and clock.
func (w *clockedWorld) newInbound(sink contactsync.Sink, opts ...contactsync.InboundOption) *contactsync.Inbound {
	w.t.Helper()
	in, err := contactsync.NewInbound(w.client, w.mem, w.mem, w.mem, engineMapping(w.t), sink,
		append([]contactsync.InboundOption{contactsync.WithInboundPolicies(w.policies), contactsync.WithInboundClock(w.clock.Now)}, opts...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	return in
}

// sync runs the outbound engine over ms.
func (w *clockedWorld) sync(ms ...contactsync.Member) {
	w.t.Helper()
	if rep, err := w.eng.SyncMembers(context.Background(), seq(ms)); err != nil {
		w.t.Fatalf("sync: %v\n%s", err, rep)
	}
}

// deliver flushes the fake's webhooks into the inbox and processes it.
func (w *clockedWorld) deliver() contactsync.InboundReport {
	w.t.Helper()
	flush(w.t, w.srv)
	return w.process()
}

// process processes the inbox.
func (w *clockedWorld) process() contactsync.InboundReport {
	w.t.Helper()
	rep, err := w.in.ProcessInbox(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

// cycle runs one polling round.
func (w *clockedWorld) cycle() contactsync.InboundReport {
	w.t.Helper()
	rep, err := w.in.Cycle(context.Background(), 10)
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

// contactID returns the ID of the fake's only contact with an e-mail.
func (w *clockedWorld) contactID(email string) string {
	w.t.Helper()
	var ids []string
	for _, c := range w.srv.Contacts("") {
		if strings.EqualFold(c.Email, email) {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) != 1 {
		w.t.Fatalf("contacts with %s: %v", email, ids)
	}
	return ids[0]
}

// receive stores a webhook body in the inbox, as the webhook receiver
// does after verifying it.
func (w *clockedWorld) receive(raw string) {
	w.t.Helper()
	ev, err := webhook.Parse([]byte(raw))
	if err != nil {
		w.t.Fatalf("parsing %s: %v", raw, err)
	}
	if err := w.in.Receive(context.Background(), ev); err != nil {
		w.t.Fatal(err)
	}
}

// millis formats a time as the API stamps its webhooks.
func millis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// contactEvent is a contact event of member i's contact (as synced by
// the engine from member(i)) carrying lastName.
func (w *clockedWorld) contactEvent(typ, webhookID string, at time.Time, i int, contactID, lastName string) string {
	return fmt.Sprintf(`{"type":%q,"locationId":%q,"webhookId":%q,"timestamp":%q,"id":%q,"firstName":"Member%d","lastName":%q,"email":"member%d@example.com","source":"gymflow","tags":["member"]}`,
		typ, w.srv.LocationID(), webhookID, millis(at), contactID, i, lastName, i)
}

// taskEvent is a task event as the API sends it (no "completed" field).
func (w *clockedWorld) taskEvent(typ, webhookID string, at time.Time, taskID, contactID, title string, due time.Time) string {
	return fmt.Sprintf(`{"type":%q,"locationId":%q,"webhookId":%q,"timestamp":%q,"id":%q,"contactId":%q,"title":%q,"dueDate":%q}`,
		typ, w.srv.LocationID(), webhookID, millis(at), taskID, contactID, title, millis(due))
}

// noteEvent is a note event as the API sends it.
func (w *clockedWorld) noteEvent(typ, webhookID string, at time.Time, noteID, contactID, body string) string {
	return fmt.Sprintf(`{"type":%q,"locationId":%q,"webhookId":%q,"timestamp":%q,"id":%q,"contactId":%q,"body":%q,"dateAdded":%q}`,
		typ, w.srv.LocationID(), webhookID, millis(at), noteID, contactID, body, millis(coverStart))
}

// appointmentEvent is an appointment event; updates are labelled
// "AppointmentCreate", as the API documents.
func (w *clockedWorld) appointmentEvent(webhookID string, at time.Time, apptID, contactID, status string, start time.Time) string {
	return fmt.Sprintf(`{"type":"AppointmentCreate","locationId":%q,"webhookId":%q,"timestamp":%q,"appointment":{"id":%q,"contactId":%q,"title":"PT session","appointmentStatus":%q,"startTime":%q,"endTime":%q}}`,
		w.srv.LocationID(), webhookID, millis(at), apptID, contactID, status, start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
}

// lastNames returns the lastName field of each ContactChanged, failing on
// any other change.
func lastNames(t *testing.T, chs []contactsync.InboundChange) []string {
	t.Helper()
	out := []string{}
	for _, ch := range chs {
		cc, ok := ch.(contactsync.ContactChanged)
		if !ok {
			t.Fatalf("unexpected change %#v", ch)
		}
		out = append(out, cc.Fields["lastName"])
	}
	return out
}

// --- 1. reordering ------------------------------------------------------------

// TestInboundNewestFirstContactUpdates feeds one contact's updates newest
// first. In one pass the inbox hands them over oldest first, so each is
// delivered once, in the order they happened; once newer news has been
// applied, older news — alone or mixed with newer news in one pass — is
// counted Stale and never reaches the sink.
func TestInboundNewestFirstContactUpdates(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, apiWins())
	w.sync(members(2)...)
	w.deliver()
	w.sink.take()
	t0 := w.clock.Now()
	sec := func(f float64) time.Time { return t0.Add(time.Duration(f * float64(time.Second))) }

	// One pass over updates received newest first.
	c0 := w.contactID("member0@example.com")
	for i := 3; i >= 1; i-- {
		w.receive(w.contactEvent("ContactUpdate", fmt.Sprint("a", i), sec(float64(i)), 0, c0, fmt.Sprint("v", i)))
	}
	rep := w.process()
	if got := lastNames(t, w.sink.take()); !slices.Equal(got, []string{"v1", "v2", "v3"}) {
		t.Errorf("one pass over newest-first updates delivered %v, want v1,v2,v3 (effect order, once each)", got)
	}
	if rep.ContactsChanged != 3 || rep.Stale != 0 || rep.Events != 3 {
		t.Errorf("one pass: report %+v", rep)
	}

	// Several passes: the newest first, then each older one on its own.
	c1 := w.contactID("member1@example.com")
	w.receive(w.contactEvent("ContactUpdate", "b3", sec(3), 1, c1, "v3"))
	w.process()
	got := w.sink.take()
	if names := lastNames(t, got); !slices.Equal(names, []string{"v3"}) {
		t.Fatalf("the newest update delivered %v", names)
	}
	if cc := got[0].(contactsync.ContactChanged); cc.MemberID != "m0001" || cc.Contact.ID != c1 || !cc.At.Equal(sec(3)) {
		t.Errorf("the newest update = %+v", cc)
	}
	for _, i := range []int{2, 1} {
		w.receive(w.contactEvent("ContactUpdate", fmt.Sprint("b", i), sec(float64(i)), 1, c1, fmt.Sprint("v", i)))
		rep := w.process()
		if got := w.sink.take(); len(got) != 0 {
			t.Errorf("the older update v%d, in a later pass, delivered %#v", i, got)
		}
		if rep.Stale != 1 || rep.ContactsChanged != 0 {
			t.Errorf("the older update v%d: report %+v, want 1 stale", i, rep)
		}
	}

	// One pass mixing a newer update with older ones, newest first: only
	// the newest is delivered.
	for _, e := range []struct {
		id   string
		at   float64
		last string
	}{{"c4", 4, "v4"}, {"c2", 2.5, "old2"}, {"c1", 1.5, "old1"}} {
		w.receive(w.contactEvent("ContactUpdate", e.id, sec(e.at), 1, c1, e.last))
	}
	rep = w.process()
	if got := lastNames(t, w.sink.take()); !slices.Equal(got, []string{"v4"}) {
		t.Errorf("a mixed pass delivered %v, want only v4", got)
	}
	if rep.Stale != 2 || rep.ContactsChanged != 1 {
		t.Errorf("a mixed pass: report %+v, want 2 stale and 1 change", rep)
	}

	// The same news again under another webhook ID is a repeat.
	w.receive(w.contactEvent("ContactUpdate", "c4-again", sec(4), 1, c1, "v4"))
	rep = w.process()
	if got := w.sink.take(); len(got) != 0 || rep.Stale != 0 || rep.Unchanged+rep.Echoes != 1 {
		t.Errorf("a repeat of the newest update delivered %#v (%+v)", got, rep)
	}
}

// TestInboundOlderActivityNewsIsStale: news of a task, note or appointment
// older than what the read model holds is ignored: not delivered, not
// applied to the read model.
func TestInboundOlderActivityNewsIsStale(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, apiWins())
	w.sync(member(0))
	w.deliver()
	w.sink.take()
	cid := w.contactID("member0@example.com")
	ctx := context.Background()
	t0 := w.clock.Now()
	due := coverStart.Add(48 * time.Hour)
	start := coverStart.Add(72 * time.Hour)

	for _, step := range []struct {
		name      string
		newer     string
		older     []string
		kind      contactsync.Kind
		id        string
		check     func(a contactsync.Activity) bool
		wantState string
	}{
		{
			name:  "task",
			newer: w.taskEvent("TaskCreate", "t-new", t0.Add(2*time.Second), "task1", cid, "Call back", due),
			older: []string{
				w.taskEvent("TaskComplete", "t-old-complete", t0.Add(time.Second), "task1", cid, "Call", due),
				w.taskEvent("TaskCreate", "t-old-create", t0.Add(time.Second), "task1", cid, "Call", due),
			},
			kind: contactsync.KindTask, id: "task1",
			check:     func(a contactsync.Activity) bool { return a.Title == "Call back" && !a.Completed },
			wantState: "an open task titled Call back",
		},
		{
			name:  "note",
			newer: w.noteEvent("NoteUpdate", "n-new", t0.Add(2*time.Second), "note1", cid, "new text"),
			older: []string{
				w.noteEvent("NoteUpdate", "n-old-update", t0.Add(time.Second), "note1", cid, "old text"),
				w.noteEvent("NoteCreate", "n-old-create", t0.Add(time.Second), "note1", cid, "first text"),
			},
			kind: contactsync.KindNote, id: "note1",
			check:     func(a contactsync.Activity) bool { return a.Body == "new text" },
			wantState: "the new text",
		},
		{
			name:  "appointment",
			newer: w.appointmentEvent("a-new", t0.Add(2*time.Second), "appt1", cid, "confirmed", start),
			older: []string{w.appointmentEvent("a-old", t0.Add(time.Second), "appt1", cid, "cancelled", start)},
			kind:  contactsync.KindAppointment, id: "appt1",
			check:     func(a contactsync.Activity) bool { return a.Status == "confirmed" },
			wantState: "a confirmed appointment",
		},
	} {
		w.receive(step.newer)
		w.process()
		if got := w.sink.take(); len(got) != 1 {
			t.Fatalf("%s: the newer news delivered %#v", step.name, got)
		}
		for _, raw := range step.older {
			w.receive(raw)
			rep := w.process()
			if got := w.sink.take(); len(got) != 0 {
				t.Errorf("%s: older news delivered %#v", step.name, got)
			}
			if rep.Stale != 1 {
				t.Errorf("%s: older news: report %+v, want 1 stale", step.name, rep)
			}
		}
		a, err := w.mem.Activity(ctx, step.kind, step.id)
		if err != nil || !step.check(a) || !a.UpdatedAt.Equal(t0.Add(2*time.Second)) {
			t.Errorf("%s: read model holds %+v (%v), want %s as of the newer news", step.name, a, err, step.wantState)
		}
	}
}

// TestInboundUpdateOlderThanAContactDeleteIsStale: once a contact's
// deletion is applied, a contact event from before it (a late delivery)
// or from the same millisecond does not bring the contact back.
func TestInboundUpdateOlderThanAContactDeleteIsStale(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, apiWins())
	w.sync(members(2)...)
	w.deliver()
	w.sink.take()
	cid := w.contactID("member0@example.com")
	w.clock.Advance(2 * time.Second)
	deletedAt := w.clock.Now()
	if err := w.srv.CRM().DeleteContact(cid); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	got := w.sink.take()
	if len(got) != 1 {
		t.Fatalf("the deletion delivered %#v", got)
	}
	if d, ok := got[0].(contactsync.ContactDeleted); !ok || d.MemberID != "m0000" || d.ContactID != cid || !d.At.Equal(deletedAt) {
		t.Fatalf("the deletion = %#v", got[0])
	}
	for i, e := range []struct {
		typ string
		at  time.Time
	}{
		{"ContactUpdate", deletedAt.Add(-time.Second)},
		{"ContactTagUpdate", deletedAt.Add(-time.Second)},
		{"ContactCreate", deletedAt.Add(-2 * time.Second)},
		{"ContactUpdate", deletedAt}, // the same millisecond
	} {
		w.receive(w.contactEvent(e.typ, fmt.Sprint("late", i), e.at, 0, cid, fmt.Sprint("late", i)))
		rep := w.process()
		if got := w.sink.take(); len(got) != 0 {
			t.Errorf("%s at deletion%+v resurrected the contact: %#v", e.typ, e.at.Sub(deletedAt), got)
		}
		if rep.Stale != 1 {
			t.Errorf("%s at deletion%+v: report %+v, want 1 stale", e.typ, e.at.Sub(deletedAt), rep)
		}
	}
	// A reconciliation (the contact is gone, the member still linked)
	// reports nothing again.
	if _, err := w.in.Reconcile(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if got := w.sink.take(); len(got) != 0 {
		t.Errorf("a reconciliation after the deletion delivered %#v", got)
	}
}

// --- 2. activity changes reaching the sink --------------------------------------

// takeOne returns the one change the sink got, failing otherwise.
func takeOne(t *testing.T, sink *recordingSink, what string) contactsync.InboundChange {
	t.Helper()
	got := sink.take()
	if len(got) != 1 {
		t.Fatalf("%s delivered %d changes: %#v", what, len(got), got)
	}
	return got[0]
}

func wantActivity(t *testing.T, what string, got contactsync.Activity, want contactsync.Activity) {
	t.Helper()
	eq := got.Kind == want.Kind && got.RemoteID == want.RemoteID && got.ContactID == want.ContactID && got.MemberID == want.MemberID &&
		got.Title == want.Title && got.Body == want.Body && got.At.Equal(want.At) && got.End.Equal(want.End) &&
		got.Completed == want.Completed && got.Status == want.Status && got.UpdatedAt.Equal(want.UpdatedAt)
	if !eq {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// TestCRMActivityChangesReachTheSink: tasks, notes and appointments
// created, changed and deleted in the CRM reach the sink through their
// webhooks with the right fields, and the read model follows.
func TestCRMActivityChangesReachTheSink(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, apiWins())
	w.sync(member(0))
	w.deliver()
	w.sink.take()
	cid := w.contactID("member0@example.com")
	crm := w.srv.CRM()
	ctx := context.Background()
	changed := func(what string) contactsync.Activity {
		t.Helper()
		ch, ok := takeOne(t, w.sink, what).(contactsync.ActivityChanged)
		if !ok {
			t.Fatalf("%s: not an ActivityChanged", what)
		}
		return ch.Activity
	}
	deleted := func(what string) contactsync.Activity {
		t.Helper()
		ch, ok := takeOne(t, w.sink, what).(contactsync.ActivityDeleted)
		if !ok {
			t.Fatalf("%s: not an ActivityDeleted", what)
		}
		return ch.Activity
	}
	gone := func(what string, kind contactsync.Kind, id string) {
		t.Helper()
		if a, err := w.mem.Activity(ctx, kind, id); !errors.Is(err, contactsync.ErrNotFound) {
			t.Errorf("%s: the read model still holds %+v (%v)", what, a, err)
		}
	}

	// Appointments (their update and delete payloads say
	// "AppointmentCreate").
	start := coverStart.Add(72 * time.Hour)
	w.clock.Advance(time.Minute)
	appt, err := crm.CreateAppointment(contactstest.Appointment{ContactID: cid, Title: "PT session", Notes: "Bring a towel", StartTime: start, EndTime: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	w.deliver()
	wantA := contactsync.Activity{Kind: contactsync.KindAppointment, RemoteID: appt.ID, ContactID: cid, MemberID: "m0000",
		Title: "PT session", Body: "Bring a towel", At: start, End: start.Add(time.Hour), Status: "confirmed", UpdatedAt: w.clock.Now()}
	wantActivity(t, "appointment created", changed("appointment created"), wantA)

	w.clock.Advance(time.Minute)
	if _, err := crm.UpdateAppointment(appt.ID, func(a *contactstest.Appointment) {
		a.Title, a.AppointmentStatus = "PT session (moved)", "cancelled"
		a.StartTime, a.EndTime = start.Add(time.Hour), start.Add(2*time.Hour)
	}); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	wantA.Title, wantA.Status, wantA.At, wantA.End, wantA.UpdatedAt = "PT session (moved)", "cancelled", start.Add(time.Hour), start.Add(2*time.Hour), w.clock.Now()
	wantActivity(t, "appointment updated", changed("appointment updated"), wantA)

	// A deletion labelled as a create carries nothing new; the re-read
	// it schedules finds the appointment gone.
	w.clock.Advance(time.Minute)
	if err := crm.DeleteAppointment(appt.ID); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	if got := w.sink.take(); len(got) != 0 {
		t.Fatalf("an appointment deletion labelled as a create delivered %#v", got)
	}
	if _, err := w.in.RefreshDirty(ctx, 10); err != nil {
		t.Fatal(err)
	}
	wantA.UpdatedAt = w.clock.Now()
	wantActivity(t, "appointment deleted", deleted("appointment deleted"), wantA)
	gone("appointment deleted", contactsync.KindAppointment, appt.ID)

	// Tasks.
	due := coverStart.Add(48 * time.Hour)
	w.clock.Advance(time.Minute)
	task, err := crm.CreateTask(contactstest.Task{ContactID: cid, Title: "Call", Body: "About the renewal", DueDate: due})
	if err != nil {
		t.Fatal(err)
	}
	w.deliver()
	want := contactsync.Activity{Kind: contactsync.KindTask, RemoteID: task.ID, ContactID: cid, MemberID: "m0000",
		Title: "Call", Body: "About the renewal", At: due, UpdatedAt: w.clock.Now()}
	wantActivity(t, "task created", changed("task created"), want)

	w.clock.Advance(time.Minute)
	if _, err := crm.CompleteTask(task.ID, true); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	want.Completed, want.UpdatedAt = true, w.clock.Now()
	wantActivity(t, "task completed", changed("task completed"), want)
	if a, err := w.mem.Activity(ctx, contactsync.KindTask, task.ID); err != nil || !a.Completed || a.Title != "Call" {
		t.Errorf("read model after TaskComplete: %+v (%v)", a, err)
	}

	w.clock.Advance(time.Minute)
	if err := crm.DeleteTask(task.ID); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	want.UpdatedAt = w.clock.Now()
	wantActivity(t, "task deleted", deleted("task deleted"), want)
	gone("task deleted", contactsync.KindTask, task.ID)

	// Notes.
	w.clock.Advance(time.Minute)
	note, err := crm.CreateNote(contactstest.Note{ContactID: cid, Body: "Paid in cash"})
	if err != nil {
		t.Fatal(err)
	}
	w.deliver()
	wantN := contactsync.Activity{Kind: contactsync.KindNote, RemoteID: note.ID, ContactID: cid, MemberID: "m0000",
		Body: "Paid in cash", At: w.clock.Now(), UpdatedAt: w.clock.Now()}
	wantActivity(t, "note created", changed("note created"), wantN)

	w.clock.Advance(time.Minute)
	if _, err := crm.UpdateNote(note.ID, func(n *contactstest.Note) { n.Body = "Paid by card" }); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	wantN.Body, wantN.UpdatedAt = "Paid by card", w.clock.Now()
	wantActivity(t, "note updated", changed("note updated"), wantN)

	w.clock.Advance(time.Minute)
	if err := crm.DeleteNote(note.ID); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	wantN.UpdatedAt = w.clock.Now()
	wantActivity(t, "note deleted", deleted("note deleted"), wantN)
	gone("note deleted", contactsync.KindNote, note.ID)
}

// TestCRMTagChangesAreExact: TagsAdded and TagsRemoved of a contact change
// list exactly the tags added or removed in the CRM since the last
// change, the sync's own tags included, and Tags the contact's full list.
func TestCRMTagChangesAreExact(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, apiWins())
	w.sync(member(0))
	w.deliver()
	w.sink.take()
	cid := w.contactID("member0@example.com")
	crm := w.srv.CRM()
	for _, step := range []struct {
		name           string
		edit           func() error
		added, removed []string
		tags           []string
	}{
		{"add two", func() error { _, err := crm.AddTags(cid, "vip", "early-bird"); return err },
			[]string{"early-bird", "vip"}, nil, []string{"early-bird", "member", "vip"}},
		// GymFlow adds vip too: the tag becomes the sync's, and is still
		// on the contact, so it is not reported removed.
		{"add one after the sync adopted another", func() error { _, err := crm.AddTags(cid, "pool"); return err },
			[]string{"pool"}, nil, []string{"early-bird", "member", "pool", "vip"}},
		{"remove one", func() error { _, err := crm.RemoveTags(cid, "vip"); return err },
			nil, []string{"vip"}, []string{"early-bird", "member", "pool"}},
		{"remove the sync's own", func() error { _, err := crm.RemoveTags(cid, "member"); return err },
			nil, []string{"member"}, []string{"early-bird", "pool"}},
		{"add and remove at once", func() error {
			_, err := crm.UpdateContact(cid, func(c *contactstest.Contact) { c.Tags = []string{"sauna", "pool"} })
			return err
		}, []string{"sauna"}, []string{"early-bird"}, []string{"pool", "sauna"}},
	} {
		if step.name == "add one after the sync adopted another" {
			if rep, err := w.eng.Apply(context.Background(), changes(contactsync.TagsChanged{Member: "m0000", Added: []string{"vip"}})); err != nil {
				t.Fatalf("apply: %v\n%s", err, rep)
			}
			w.deliver()
			if got := w.sink.take(); len(got) != 0 {
				t.Fatalf("GymFlow adding a tag the contact has delivered %#v", got)
			}
		}
		w.clock.Advance(time.Minute)
		if err := step.edit(); err != nil {
			t.Fatal(err)
		}
		w.deliver()
		got := w.sink.take()
		if len(got) != 1 {
			t.Errorf("%s: delivered %#v", step.name, got)
			continue
		}
		cc, ok := got[0].(contactsync.ContactChanged)
		if !ok {
			t.Errorf("%s: delivered %#v", step.name, got[0])
			continue
		}
		tags := slices.Sorted(slices.Values(cc.Tags))
		if !slices.Equal(cc.TagsAdded, step.added) || !slices.Equal(cc.TagsRemoved, step.removed) || !slices.Equal(tags, step.tags) ||
			len(cc.Fields) != 0 || cc.MemberID != "m0000" {
			t.Errorf("%s: added %q removed %q tags %q fields %v member %q; want added %q removed %q tags %q, no fields",
				step.name, cc.TagsAdded, cc.TagsRemoved, tags, cc.Fields, cc.MemberID, step.added, step.removed, step.tags)
		}
	}
}

// --- 3. unlinked contacts -------------------------------------------------------

// TestUnlinkedContactsOnlyWithTheOption: a contact no member is linked to
// — its changes, its activities and its deletion — reaches the sink only
// with WithUnlinkedContacts, and then with MemberID "".
func TestUnlinkedContactsOnlyWithTheOption(t *testing.T) {
	t.Parallel()
	for _, unlinked := range []bool{false, true} {
		t.Run(fmt.Sprint("unlinked=", unlinked), func(t *testing.T) {
			t.Parallel()
			var opts []contactsync.InboundOption
			if unlinked {
				opts = append(opts, contactsync.WithUnlinkedContacts())
			}
			w := newClockedWorld(t, apiWins(), opts...)
			w.sync(member(0))
			w.deliver()
			w.sink.take()
			crm := w.srv.CRM()
			w.clock.Advance(time.Minute)
			walkIn, err := crm.CreateContact(contactstest.Contact{FirstName: "Walk", LastName: "In", Email: "walkin@example.com", Tags: []string{"lead"}})
			if err != nil {
				t.Fatal(err)
			}
			note, err := crm.CreateNote(contactstest.Note{ContactID: walkIn.ID, Body: "Asked about prices"})
			if err != nil {
				t.Fatal(err)
			}
			// A linked member's change is delivered either way.
			if _, err := crm.UpdateContact(w.contactID("member0@example.com"), func(c *contactstest.Contact) { c.LastName = "Linked" }); err != nil {
				t.Fatal(err)
			}
			w.deliver()
			w.clock.Advance(time.Minute)
			if err := crm.DeleteContact(walkIn.ID); err != nil {
				t.Fatal(err)
			}
			w.deliver()
			var contactChanges, notes, deletions int
			for _, ch := range w.sink.take() {
				switch ch := ch.(type) {
				case contactsync.ContactChanged:
					if ch.MemberID == "m0000" {
						if ch.Fields["lastName"] != "Linked" {
							t.Errorf("linked member's change = %+v", ch)
						}
						continue
					}
					contactChanges++
					if ch.MemberID != "" || ch.Contact.ID != walkIn.ID || ch.Fields["firstName"] != "Walk" || ch.Fields["lastName"] != "In" ||
						ch.Fields["email"] != "walkin@example.com" || !slices.Equal(ch.TagsAdded, []string{"lead"}) {
						t.Errorf("unlinked contact's change = %+v", ch)
					}
				case contactsync.ActivityChanged:
					notes++
					if a := ch.Activity; a.MemberID != "" || a.RemoteID != note.ID || a.ContactID != walkIn.ID || a.Body != "Asked about prices" {
						t.Errorf("unlinked contact's note = %+v", a)
					}
				case contactsync.ContactDeleted:
					deletions++
					if ch.MemberID != "" || ch.ContactID != walkIn.ID {
						t.Errorf("unlinked contact's deletion = %+v", ch)
					}
				default:
					t.Errorf("unexpected change %#v", ch)
				}
			}
			want := 0
			if unlinked {
				want = 1
			}
			if contactChanges != want || notes != want || deletions != want {
				t.Errorf("delivered %d contact changes, %d notes, %d deletions of the unlinked contact; want %d each", contactChanges, notes, deletions, want)
			}
		})
	}
}

// --- 4. cursor persistence and overlap ------------------------------------------

// requestRecorder forwards requests; it keeps the bodies of searches and
// the paths of GETs.
type requestRecorder struct {
	base http.RoundTripper
	// now stamps the records (nil: not stamped).
	now func() time.Time

	mu       sync.Mutex
	searches []searchRecord
	gets     []getRecord
}

type searchRecord struct {
	at   time.Time
	body []byte
}

type getRecord struct {
	at   time.Time
	path string
}

func (r *requestRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var at time.Time
	if r.now != nil {
		at = r.now()
	}
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/contacts/search") && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		r.mu.Lock()
		r.searches = append(r.searches, searchRecord{at, b})
		r.mu.Unlock()
	} else if req.Method == http.MethodGet {
		r.mu.Lock()
		r.gets = append(r.gets, getRecord{at, req.URL.Path})
		r.mu.Unlock()
	}
	if req.Body == nil { // a handler served in memory reads the body
		req = req.Clone(req.Context())
		req.Body = http.NoBody
	}
	return r.base.RoundTrip(req)
}

func (r *requestRecorder) take() ([]searchRecord, []getRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, g := r.searches, r.gets
	r.searches, r.gets = nil, nil
	return s, g
}

// updatedFrom returns the lower bound of a search body's dateUpdated
// filter; ok is false when it has no filter at all.
func updatedFrom(t *testing.T, body []byte) (from string, ok bool) {
	t.Helper()
	var b struct {
		Filters []struct {
			Field    string          `json:"field"`
			Operator string          `json:"operator"`
			Value    json.RawMessage `json:"value"`
		} `json:"filters"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("search body %s: %v", body, err)
	}
	if len(b.Filters) == 0 {
		return "", false
	}
	var r struct {
		GTE string `json:"gte"`
	}
	if len(b.Filters) != 1 || b.Filters[0].Field != "dateUpdated" || b.Filters[0].Operator != "range" || json.Unmarshal(b.Filters[0].Value, &r) != nil || r.GTE == "" {
		t.Fatalf("search body %s: want one dateUpdated range filter", body)
	}
	return r.GTE, true
}

// TestPollResumesFromTheSavedCursorLessTheOverlap: the incremental scan
// persists its cursor; an Inbound started afresh on the same store (a
// restart) searches from it less the overlap (2 minutes by default,
// WithPollOverlap otherwise), and the cursor follows the newest change.
func TestPollResumesFromTheSavedCursorLessTheOverlap(t *testing.T) {
	t.Parallel()
	type stores interface {
		contactsync.StateStore
		contactsync.InboundStore
		contactsync.ActivityStore
	}
	for _, backend := range []string{"memory", "sqlite"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			clock := contactstest.NewManualClock(coverStart)
			srv := contactstest.NewServer(contactstest.WithClock(clock), contactstest.WithoutRateLimits())
			defer srv.Close()
			rec := &requestRecorder{base: srv.HTTPClient().Transport}
			client := srv.Client(contacts.WithHTTPClient(&http.Client{Transport: rec}))
			var ids []string
			for i, d := range []time.Duration{-3 * time.Hour, -time.Hour + 123*time.Millisecond, -2 * time.Hour} {
				at := coverStart.Add(d)
				c := srv.SeedContact(contactstest.Contact{FirstName: fmt.Sprint("C", i), Email: fmt.Sprintf("c%d@example.com", i), DateAdded: at, DateUpdated: at})
				ids = append(ids, c.ID)
			}
			path := filepath.Join(t.TempDir(), "sync.db")
			mem := memstore.New()
			open := func() stores {
				if backend == "memory" {
					return mem
				}
				db, err := sqlstore.OpenSQLite(path)
				if err != nil {
					t.Fatal(err)
				}
				s, _ := db.Location(srv.LocationID())
				return sqliteStore{Store: s, db: db}
			}
			// start runs one process: an Inbound on a freshly opened store,
			// one scan; it returns the scan's lower bound.
			start := func(opts ...contactsync.InboundOption) (from string, filtered bool) {
				t.Helper()
				s := open()
				if c, ok := s.(sqliteStore); ok {
					defer func() {
						if err := c.Close(); err != nil {
							t.Error(err)
						}
					}()
				}
				in, err := contactsync.NewInbound(client, s, s, s, engineMapping(t), &recordingSink{},
					append([]contactsync.InboundOption{contactsync.WithInboundClock(clock.Now)}, opts...)...)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := in.PollContacts(context.Background()); err != nil {
					t.Fatal(err)
				}
				searches, _ := rec.take()
				if len(searches) != 1 {
					t.Fatalf("a scan made %d searches", len(searches))
				}
				return updatedFrom(t, searches[0].body)
			}
			if from, filtered := start(); filtered {
				t.Errorf("the first scan searched from %s, want every contact", from)
			}
			// Restarts: the newest dateUpdated seen, less the overlap.
			if from, _ := start(); from != "2026-06-01T06:58:00.123Z" {
				t.Errorf("after a restart the scan searched from %q, want 06:58:00.123 (cursor 07:00:00.123 less 2 minutes)", from)
			}
			if from, _ := start(contactsync.WithPollOverlap(15 * time.Minute)); from != "2026-06-01T06:45:00.123Z" {
				t.Errorf("with a 15-minute overlap the scan searched from %q, want 06:45:00.123", from)
			}
			// A change moves the cursor to its dateUpdated.
			clock.Advance(30 * time.Second)
			if _, err := srv.CRM().UpdateContact(ids[0], func(c *contactstest.Contact) { c.LastName = "Edited" }); err != nil {
				t.Fatal(err)
			}
			start()
			if from, _ := start(contactsync.WithPollOverlap(time.Minute)); from != "2026-06-01T07:59:30.000Z" {
				t.Errorf("after a change at 08:00:30 a restarted scan searched from %q, want 07:59:30 (a 1-minute overlap)", from)
			}
		})
	}
}

// --- 5. targeted re-reads after task events -----------------------------------

// taskRereads returns the contact IDs whose tasks were listed since the
// last ResetRequests, and how many activity list calls were made.
func taskRereads(srv *contactstest.Server) (contactIDs []string, calls int) {
	for _, r := range srv.Requests() {
		if r.Method != http.MethodGet {
			continue
		}
		parts := strings.Split(strings.Trim(r.Path, "/"), "/")
		if len(parts) != 3 || parts[0] != "contacts" {
			continue
		}
		switch parts[2] {
		case "tasks":
			contactIDs = append(contactIDs, parts[1])
			calls++
		case "notes", "appointments":
			calls++
		}
	}
	return contactIDs, calls
}

// TestTaskFollowUpReReadsAfterTheDelay: task edits fire no webhook. After
// a task event, the contact's activity is re-read by the first Cycle at
// least WithTaskFollowUp after it — not before — which delivers the edit
// made meanwhile; with a follow-up of 0 the next Cycle re-reads.
func TestTaskFollowUpReReadsAfterTheDelay(t *testing.T) {
	t.Parallel()
	due := coverStart.Add(48 * time.Hour)
	setup := func(t *testing.T, followUp time.Duration) (*clockedWorld, string, string) {
		w := newClockedWorld(t, apiWins(), contactsync.WithTaskFollowUp(followUp))
		w.sync(member(0))
		w.deliver()
		w.cycle() // the first scan
		w.sink.take()
		cid := w.contactID("member0@example.com")
		w.clock.Advance(time.Minute)
		task, err := w.srv.CRM().CreateTask(contactstest.Task{ContactID: cid, Title: "Call", DueDate: due})
		if err != nil {
			t.Fatal(err)
		}
		flush(t, w.srv) // the TaskCreate is in the inbox
		// Edited in the CRM: no webhook.
		if _, err := w.srv.CRM().UpdateTask(task.ID, func(x *contactstest.Task) {
			x.Title, x.Body, x.DueDate = "Call back", "Moved to Friday", due.Add(24*time.Hour)
		}); err != nil {
			t.Fatal(err)
		}
		w.srv.ResetRequests()
		return w, cid, task.ID
	}
	titles := func(chs []contactsync.InboundChange) []string {
		out := []string{}
		for _, ch := range chs {
			if a, ok := ch.(contactsync.ActivityChanged); ok {
				out = append(out, a.Activity.Title)
			} else {
				out = append(out, fmt.Sprintf("%T", ch))
			}
		}
		return out
	}

	t.Run("after the delay", func(t *testing.T) {
		t.Parallel()
		w, cid, taskID := setup(t, 10*time.Minute)
		// The Cycle that processes the TaskCreate does not re-read yet.
		w.cycle()
		if got := titles(w.sink.take()); !slices.Equal(got, []string{"Call"}) {
			t.Errorf("the TaskCreate delivered %v", got)
		}
		for _, step := range []struct {
			advance time.Duration
			reread  bool
			want    []string
		}{
			{9 * time.Minute, false, []string{}},       // 9 minutes after the event
			{time.Minute, true, []string{"Call back"}}, // 10 minutes: due
			{time.Minute, false, []string{}},           // done: no second re-read
			{30 * time.Minute, false, []string{}},      // nor later
		} {
			w.clock.Advance(step.advance)
			w.srv.ResetRequests()
			w.cycle()
			contactsRead, calls := taskRereads(w.srv)
			after := w.clock.Now().Sub(coverStart.Add(time.Minute))
			if step.reread && (!slices.Equal(contactsRead, []string{cid}) || calls != 3) {
				t.Errorf("%v after the task event: re-read %v in %d calls, want %s's tasks, notes and appointments", after, contactsRead, calls, cid)
			}
			if !step.reread && calls != 0 {
				t.Errorf("%v after the task event: %d re-read calls, want none", after, calls)
			}
			if got := titles(w.sink.take()); !slices.Equal(got, step.want) {
				t.Errorf("%v after the task event: delivered %v, want %v", after, got, step.want)
			}
		}
		a, err := w.mem.Activity(context.Background(), contactsync.KindTask, taskID)
		if err != nil || a.Title != "Call back" || a.Body != "Moved to Friday" || !a.At.Equal(due.Add(24*time.Hour)) || a.MemberID != "m0000" {
			t.Errorf("read model after the re-read: %+v (%v), want the CRM's edit", a, err)
		}
	})

	t.Run("no delay", func(t *testing.T) {
		t.Parallel()
		w, cid, taskID := setup(t, 0)
		w.cycle()
		contactsRead, calls := taskRereads(w.srv)
		if !slices.Equal(contactsRead, []string{cid}) || calls != 3 {
			t.Errorf("the next Cycle re-read %v in %d calls, want %s's tasks, notes and appointments", contactsRead, calls, cid)
		}
		if got := titles(w.sink.take()); !slices.Equal(got, []string{"Call", "Call back"}) {
			t.Errorf("the next Cycle delivered %v, want the create, then the edit", got)
		}
		if a, err := w.mem.Activity(context.Background(), contactsync.KindTask, taskID); err != nil || a.Title != "Call back" {
			t.Errorf("read model: %+v (%v)", a, err)
		}
	})
}

// --- 6. re-reads drop what the CRM deleted --------------------------------------

// TestReReadDropsActivitiesDeletedInTheCRM: a task, note and appointment
// deleted in the CRM whose webhooks were lost leave the read model at the
// next re-read, and the sink hears of each deletion; what is still there
// (a completed task) stays as it was.
func TestReReadDropsActivitiesDeletedInTheCRM(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, apiWins())
	w.sync(member(0))
	w.deliver()
	w.sink.take()
	cid := w.contactID("member0@example.com")
	crm := w.srv.CRM()
	ctx := context.Background()
	due := coverStart.Add(48 * time.Hour)
	w.clock.Advance(time.Minute)
	gone, err := crm.CreateTask(contactstest.Task{ContactID: cid, Title: "Call", Body: "About the renewal", DueDate: due})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := crm.CreateTask(contactstest.Task{ContactID: cid, Title: "Send invoice", DueDate: due})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crm.CompleteTask(kept.ID, true); err != nil {
		t.Fatal(err)
	}
	note, err := crm.CreateNote(contactstest.Note{ContactID: cid, Body: "Paid in cash"})
	if err != nil {
		t.Fatal(err)
	}
	start := coverStart.Add(72 * time.Hour)
	appt, err := crm.CreateAppointment(contactstest.Appointment{ContactID: cid, Title: "PT session", StartTime: start, EndTime: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	w.deliver()
	if got := w.sink.take(); len(got) != 5 {
		t.Fatalf("the creates and the completion delivered %#v", got)
	}
	w.srv.SetWebhookOptions(contactstest.WebhookOptions{DropRate: 1})
	w.clock.Advance(time.Minute)
	if err := crm.DeleteTask(gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := crm.DeleteNote(note.ID); err != nil {
		t.Fatal(err)
	}
	if err := crm.DeleteAppointment(appt.ID); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	if got := w.sink.take(); len(got) != 0 {
		t.Fatalf("lost webhooks delivered %#v", got)
	}

	w.clock.Advance(time.Minute)
	rep, err := w.in.RefreshActivity(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	deleted := map[string]contactsync.Activity{}
	for _, ch := range w.sink.take() {
		d, ok := ch.(contactsync.ActivityDeleted)
		if !ok {
			t.Errorf("the re-read delivered %#v", ch)
			continue
		}
		deleted[d.Activity.RemoteID] = d.Activity
	}
	if len(deleted) != 3 || rep.ActivitiesDeleted != 3 {
		t.Errorf("the re-read delivered deletions of %v (%+v), want 3", deleted, rep)
	}
	for id, kind := range map[string]contactsync.Kind{gone.ID: contactsync.KindTask, note.ID: contactsync.KindNote, appt.ID: contactsync.KindAppointment} {
		if d, ok := deleted[id]; !ok || d.Kind != kind || d.MemberID != "m0000" || d.ContactID != cid || !d.UpdatedAt.Equal(w.clock.Now()) {
			t.Errorf("deletion of the %s %s = %+v (delivered %t)", kind, id, d, ok)
		}
	}
	if d := deleted[gone.ID]; d.Title != "Call" || d.Body != "About the renewal" || !d.At.Equal(due) {
		t.Errorf("the deleted task was delivered as %+v, want its last known fields", d)
	}
	left, err := w.mem.Activities(ctx, contactsync.ActivityQuery{ContactID: cid})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(left); !slices.Equal(got, []string{kept.ID}) || !left[0].Completed {
		t.Errorf("the read model lists %v (%+v), want only the completed task still in the CRM (%s)", got, left, kept.ID)
	}
	tl, err := contactsync.NewViews(w.mem, w.mem).Timeline(ctx, "m0000")
	if err != nil || !slices.Equal(ids(tl), []string{kept.ID}) {
		t.Errorf("the timeline lists %v (%v)", ids(tl), err)
	}
	// A second re-read has nothing to report.
	w.clock.Advance(time.Minute)
	if _, err := w.in.RefreshActivity(ctx, cid); err != nil {
		t.Fatal(err)
	}
	if got := w.sink.take(); len(got) != 0 {
		t.Errorf("a second re-read delivered %#v", got)
	}
}

// --- 7. inbound conflict policies -----------------------------------------------

// TestInboundNewestWins: under NewestWins a CRM edit newer than the sync's
// last write of the member flows to GymFlow; one older than it does not.
func TestInboundNewestWins(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, newestWins())
	ms := members(2)
	w.sync(ms...)
	w.deliver()
	w.sink.take()
	crm := w.srv.CRM()

	// Newer than the sync's write.
	w.clock.Advance(time.Minute)
	if _, err := crm.UpdateContact(w.contactID("member0@example.com"), func(c *contactstest.Contact) { c.LastName = "CRMNewer" }); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	got := w.sink.take()
	if len(got) != 1 {
		t.Fatalf("a CRM edit newer than the sync's write delivered %#v", got)
	}
	if cc, ok := got[0].(contactsync.ContactChanged); !ok || cc.MemberID != "m0000" || len(cc.Fields) != 1 || cc.Fields["lastName"] != "CRMNewer" {
		t.Errorf("a CRM edit newer than the sync's write delivered %#v", got[0])
	}

	// Older than the sync's write: the CRM edit's webhook is held while
	// GymFlow changes the member and the sync writes it.
	w.srv.SetWebhookOptions(contactstest.WebhookOptions{Hold: true})
	w.clock.Advance(time.Minute)
	if _, err := crm.UpdateContact(w.contactID("member1@example.com"), func(c *contactstest.Contact) { c.LastName = "CRMOlder" }); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Minute)
	ms[1].Fields["first_name"] = "GymFlowNewer"
	ms[1].UpdatedAt = w.clock.Now()
	w.sync(ms[1])
	w.srv.SetWebhookOptions(contactstest.WebhookOptions{})
	rep := w.deliver()
	if got := w.sink.take(); len(got) != 0 {
		t.Errorf("a CRM edit older than the sync's last write delivered %#v", got)
	}
	if rep.Stale != 0 || rep.Events != 2 {
		t.Errorf("report %+v: want the CRM edit and the sync's echo, neither stale", rep)
	}
}

// TestInboundFillIfEmpty: under FillIfEmpty a CRM value flows to GymFlow
// only when GymFlow had none (the sync wrote none). A CRM edit of a value
// GymFlow has does not flow, and a value the CRM cleared is refilled by
// the next outbound sync.
func TestInboundFillIfEmpty(t *testing.T) {
	t.Parallel()
	w := newClockedWorld(t, contactsync.Policies{Default: contactsync.FillIfEmpty})
	ms := members(3)
	delete(ms[0].Fields, "last_name")
	w.sync(ms...)
	w.deliver()
	w.sink.take()
	crm := w.srv.CRM()
	c2 := w.contactID("member2@example.com")
	w.clock.Advance(time.Minute)
	for email, last := range map[string]string{"member0@example.com": "FromCRM", "member1@example.com": "Overwritten", "member2@example.com": ""} {
		if _, err := crm.UpdateContact(w.contactID(email), func(c *contactstest.Contact) { c.LastName = last }); err != nil {
			t.Fatal(err)
		}
	}
	w.deliver()
	got := w.sink.take()
	if len(got) != 1 {
		t.Fatalf("delivered %#v, want only the fill of member 0's empty last name", got)
	}
	if cc, ok := got[0].(contactsync.ContactChanged); !ok || cc.MemberID != "m0000" || len(cc.Fields) != 1 || cc.Fields["lastName"] != "FromCRM" {
		t.Errorf("delivered %#v, want member 0's last name FromCRM", got[0])
	}
	// GymFlow's value stands: the next outbound sync refills the one the
	// CRM cleared.
	w.clock.Advance(time.Minute)
	w.sync(ms[2])
	if c, _ := w.srv.Contact(c2); c.LastName != "Test" {
		t.Errorf("after the next sync the cleared last name is %q, want GymFlow's Test", c.LastName)
	}
	w.deliver()
	if got := w.sink.take(); len(got) != 0 {
		t.Errorf("the refill came back as %#v", got)
	}
}

// --- 8. Schedule ----------------------------------------------------------------

// scheduleRun runs Schedule over one location of two linked members and
// one unlinked contact for run, in a synctest bubble, and returns the
// searches and GETs it made with their times from the start.
func scheduleRun(t *testing.T, plan contactsync.Plan, run time.Duration) (linked []string, unlinked string, searches []searchRecord, gets []getRecord, start time.Time) {
	srv := contactstest.NewServer(contactstest.WithoutRateLimits())
	defer srv.Close()
	synctest.Test(t, func(t *testing.T) {
		start = time.Now()
		mem := memstore.New()
		for i := range 2 {
			c := srv.SeedContact(contactstest.Contact{FirstName: fmt.Sprint("M", i), Email: fmt.Sprintf("m%d@example.com", i), Tags: []string{"member"}})
			linked = append(linked, c.ID)
			if err := mem.PutLink(t.Context(), contactsync.Link{Kind: contactsync.KindMember, LocalID: fmt.Sprintf("m%d", i), RemoteID: c.ID, Tags: []string{"member"}}); err != nil {
				t.Fatal(err)
			}
		}
		unlinked = srv.SeedContact(contactstest.Contact{FirstName: "Walk", Email: "walkin@example.com"}).ID
		rec := &requestRecorder{base: inMemory{srv}, now: time.Now}
		client := srv.Client(contacts.WithHTTPClient(&http.Client{Transport: rec}))
		in, err := contactsync.NewInbound(client, mem, mem, mem, engineMapping(t), &recordingSink{})
		if err != nil {
			t.Fatal(err)
		}
		plan.OnError = func(_ *contactsync.Inbound, err error) { t.Error(err) }
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			contactsync.Schedule(ctx, plan, in)
			close(done)
		}()
		time.Sleep(run)
		cancel()
		<-done
		searches, gets = rec.take()
	})
	return linked, unlinked, searches, gets, start
}

// TestScheduleRunsReconciliationsWhenDue: Schedule reconciles (a full
// search, without a dateUpdated filter) every ReconcileEvery and re-reads
// the linked members' tasks, notes and appointments every
// ActivitiesEvery, each first after a full period, and never when 0.
func TestScheduleRunsReconciliationsWhenDue(t *testing.T) {
	t.Parallel()
	const m = time.Minute
	for _, tc := range []struct {
		name string
		plan contactsync.Plan
		// full are the times of unfiltered searches: the first scan at 0,
		// then each reconciliation; activities the times of re-reads.
		full, activities []time.Duration
	}{
		{"neither", contactsync.Plan{Interval: m}, []time.Duration{0}, nil},
		{"contacts every 4m", contactsync.Plan{Interval: m, ReconcileEvery: 4 * m}, []time.Duration{0, 4 * m, 8 * m}, nil},
		{"activities every 4m", contactsync.Plan{Interval: m, ActivitiesEvery: 4 * m}, []time.Duration{0, 4 * m, 8 * m}, []time.Duration{4 * m, 8 * m}},
		{"contacts every 3m, activities every 7m", contactsync.Plan{Interval: m, ReconcileEvery: 3 * m, ActivitiesEvery: 7 * m},
			[]time.Duration{0, 3 * m, 6 * m, 7 * m, 10 * m}, []time.Duration{7 * m}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			linked, unlinked, searches, gets, start := scheduleRun(t, tc.plan, 10*m+30*time.Second)
			var full []time.Duration
			incremental := 0
			for _, s := range searches {
				if _, filtered := updatedFrom(t, s.body); filtered {
					incremental++
				} else {
					full = append(full, s.at.Sub(start))
				}
			}
			if !slices.Equal(full, tc.full) {
				t.Errorf("full searches at %v, want %v", full, tc.full)
			}
			if incremental != 10 { // a Cycle every minute after the first
				t.Errorf("%d incremental scans, want 10", incremental)
			}
			byTime := map[time.Duration][]string{}
			for _, g := range gets {
				if strings.Contains(g.path, unlinked) {
					t.Errorf("the unlinked contact was read: GET %s", g.path)
				}
				byTime[g.at.Sub(start)] = append(byTime[g.at.Sub(start)], g.path)
			}
			var want []string
			for _, id := range linked {
				for _, kind := range []string{"tasks", "notes", "appointments"} {
					want = append(want, "/contacts/"+id+"/"+kind)
				}
			}
			slices.Sort(want)
			for _, at := range tc.activities {
				got := slices.Sorted(slices.Values(byTime[at]))
				if !slices.Equal(got, want) {
					t.Errorf("activity re-reads at %v: %v, want %v", at, got, want)
				}
				delete(byTime, at)
			}
			for at, paths := range byTime {
				t.Errorf("unexpected reads at %v: %v", at, paths)
			}
		})
	}
}
