package contactstest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
)

// expectTypes flushes and checks the event types received since the last
// call, returning those deliveries.
func expectTypes(t *testing.T, srv *contactstest.Server, rcv *hookReceiver, seen *int, want ...string) []received {
	t.Helper()
	flush(t, srv)
	all := rcv.all()
	got := all[*seen:]
	*seen = len(all)
	var types []string
	for _, r := range got {
		verify(t, srv, r)
		types = append(types, r.payload(t)["type"].(string))
	}
	if !slices.Equal(types, want) {
		t.Fatalf("event types %v, want %v", types, want)
	}
	return got
}

func TestCRMContactChanges(t *testing.T) {
	clock := contactstest.NewManualClock(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))
	srv, rcv := newHookServer(t, nil, contactstest.WithClock(clock))
	crm := srv.CRM()
	seen := 0

	ct, err := crm.CreateContact(contactstest.Contact{FirstName: "Ana", Email: "ana@example.com", Phone: "(555) 555-0123", Tags: []string{"member"}})
	if err != nil {
		t.Fatal(err)
	}
	got := expectTypes(t, srv, rcv, &seen, "ContactCreate")
	if p := got[0].payload(t); p["id"] != ct.ID || p["phone"] != "+15555550123" || p["dateAdded"] != "2024-05-01T10:00:00.000Z" {
		t.Errorf("ContactCreate %s", got[0].Body)
	}
	if _, err := crm.CreateContact(contactstest.Contact{ID: ct.ID}); err == nil {
		t.Error("CreateContact reused an ID")
	}

	clock.Advance(time.Minute)
	upd, err := crm.UpdateContact(ct.ID, func(c *contactstest.Contact) {
		c.LastName = "Lima"
		c.Email = "ana.lima@example.com"
		c.ID = "hijacked" // ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.ID != ct.ID || upd.LastName != "Lima" || !upd.DateUpdated.Equal(clock.Now()) || !upd.DateAdded.Equal(ct.DateAdded) {
		t.Errorf("updated contact %+v", upd)
	}
	got = expectTypes(t, srv, rcv, &seen, "ContactUpdate")
	if p := got[0].payload(t); p["lastName"] != "Lima" || p["dateAdded"] != "2024-05-01T10:00:00.000Z" || p["timestamp"] != "2024-05-01T10:01:00.000Z" {
		t.Errorf("ContactUpdate %s", got[0].Body)
	}

	// An edit that changes nothing stores and emits nothing.
	clock.Advance(time.Minute)
	if same, err := crm.UpdateContact(ct.ID, func(c *contactstest.Contact) { c.FirstName = "Ana" }); err != nil || !same.DateUpdated.Equal(upd.DateUpdated) {
		t.Errorf("no-op edit: %+v, %v", same, err)
	}
	expectTypes(t, srv, rcv, &seen)

	if _, err := crm.UpdateContact(ct.ID, func(c *contactstest.Contact) { c.Tags = append(c.Tags, "gold") }); err != nil {
		t.Fatal(err)
	}
	expectTypes(t, srv, rcv, &seen, "ContactUpdate", "ContactTagUpdate")

	dnd, err := crm.SetDND(ct.ID, true, map[string]contactstest.DNDSetting{"SMS": {Status: "active", Message: "asked", Code: "101"}})
	if err != nil || !dnd.DND || dnd.DNDSettings["SMS"].Status != "active" {
		t.Fatalf("SetDND: %+v, %v", dnd, err)
	}
	got = expectTypes(t, srv, rcv, &seen, "ContactUpdate", "ContactDndUpdate")
	if keys := keysOf(got[1].payload(t)); !slices.Equal(keys, set("type", "locationId", "id", "firstName", "lastName", "name", "email", "phone",
		"dnd", "dndSettings", "tags", "customFields", "dateAdded", "attachments", "timestamp", "webhookId")) {
		t.Errorf("ContactDndUpdate keys %v", keys)
	}
	if _, err := crm.SetDND(ct.ID, true, map[string]contactstest.DNDSetting{"Fax": {Status: "active"}}); err == nil {
		t.Error("SetDND accepted an unknown channel")
	}
	if _, err := crm.SetDND(ct.ID, true, map[string]contactstest.DNDSetting{"SMS": {Status: "on"}}); err == nil {
		t.Error("SetDND accepted an unknown status")
	}

	tagged, err := crm.AddTags(ct.ID, "vip", "member")
	if err != nil || !slices.Equal(tagged.Tags, []string{"member", "gold", "vip"}) {
		t.Fatalf("AddTags: %v, %v", tagged.Tags, err)
	}
	expectTypes(t, srv, rcv, &seen, "ContactTagUpdate")
	if _, err := crm.AddTags(ct.ID, "vip"); err != nil {
		t.Fatal(err)
	}
	expectTypes(t, srv, rcv, &seen) // nothing new
	if untagged, err := crm.RemoveTags(ct.ID, "gold"); err != nil || slices.Contains(untagged.Tags, "gold") {
		t.Fatalf("RemoveTags: %v, %v", untagged.Tags, err)
	}
	expectTypes(t, srv, rcv, &seen, "ContactTagUpdate")

	// Nothing went through the API.
	if n := srv.RequestCount(); n != 0 {
		t.Errorf("%d requests logged for CRM changes", n)
	}

	// The API sees the CRM's changes, indexes included.
	c := srv.Client()
	ctx := context.Background()
	read, err := c.Contacts.Get(ctx, ct.ID)
	if err != nil || read.LastName != "Lima" || !slices.Contains(read.Tags, "vip") {
		t.Fatalf("Get after CRM edits: %+v, %v", read, err)
	}
	if dup, err := c.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Email: "ana.lima@example.com"}); err != nil || dup.Contact == nil || dup.Contact.ID != ct.ID {
		t.Errorf("duplicate by the CRM-edited email: %+v, %v", dup, err)
	}
	if dup, err := c.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Email: "ana@example.com"}); err != nil || dup.Contact != nil {
		t.Errorf("the old email still matches: %+v, %v", dup, err)
	}

	if _, err := crm.CreateTask(contactstest.Task{ContactID: ct.ID, Title: "Call"}); err != nil {
		t.Fatal(err)
	}
	expectTypes(t, srv, rcv, &seen, "TaskCreate")
	if err := crm.DeleteContact(ct.ID); err != nil {
		t.Fatal(err)
	}
	got = expectTypes(t, srv, rcv, &seen, "ContactDelete") // no TaskDelete for its tasks
	if p := got[0].payload(t); p["id"] != ct.ID || p["lastName"] != "Lima" {
		t.Errorf("ContactDelete %s", got[0].Body)
	}
	if _, ok := srv.Contact(ct.ID); ok || len(srv.Tasks(ct.ID)) != 0 {
		t.Error("the contact or its tasks survived DeleteContact")
	}

	for name, err := range map[string]error{
		"UpdateContact": func() error { _, err := crm.UpdateContact(ct.ID, func(*contactstest.Contact) {}); return err }(),
		"DeleteContact": crm.DeleteContact(ct.ID),
		"AddTags":       func() error { _, err := crm.AddTags(ct.ID, "x"); return err }(),
		"SetDND":        func() error { _, err := crm.SetDND(ct.ID, false, nil); return err }(),
		"CreateContact": func() error { _, err := crm.CreateContact(contactstest.Contact{LocationID: "nowhere"}); return err }(),
	} {
		if err == nil {
			t.Errorf("%s on a missing contact or location succeeded", name)
		}
	}
	expectTypes(t, srv, rcv, &seen)
}

func TestCRMTasksAndNotes(t *testing.T) {
	srv, rcv := newHookServer(t, nil)
	crm := srv.CRM()
	seen := 0
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	due := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

	task, err := crm.CreateTask(contactstest.Task{ContactID: ct.ID, Title: "Call", Body: "renewal", AssignedTo: "u1", DueDate: due})
	if err != nil || task.ID == "" || task.DateAdded.IsZero() {
		t.Fatalf("CreateTask: %+v, %v", task, err)
	}
	got := expectTypes(t, srv, rcv, &seen, "TaskCreate")
	if p := got[0].payload(t); !slices.Equal(keysOf(p), taskKeys) || p["dueDate"] != "2024-06-01T12:00:00.000Z" || p["id"] != task.ID {
		t.Errorf("TaskCreate %s", got[0].Body)
	}

	// The API has no TaskUpdate: editing a task emits nothing.
	edited, err := crm.UpdateTask(task.ID, func(tk *contactstest.Task) { tk.Title = "Call back"; tk.ContactID = "other" })
	if err != nil || edited.Title != "Call back" || edited.ContactID != ct.ID {
		t.Fatalf("UpdateTask: %+v, %v", edited, err)
	}
	expectTypes(t, srv, rcv, &seen)
	if _, err := crm.CompleteTask(task.ID, true); err != nil {
		t.Fatal(err)
	}
	got = expectTypes(t, srv, rcv, &seen, "TaskComplete")
	if p := got[0].payload(t); p["title"] != "Call back" {
		t.Errorf("TaskComplete %s", got[0].Body)
	}
	if _, err := crm.CompleteTask(task.ID, true); err != nil { // already completed
		t.Fatal(err)
	}
	expectTypes(t, srv, rcv, &seen)
	read, err := srv.Client().Tasks.Get(context.Background(), ct.ID, task.ID)
	if err != nil || read.Title != "Call back" || !read.Completed {
		t.Errorf("API read of the CRM task: %+v, %v", read, err)
	}
	if err := crm.DeleteTask(task.ID); err != nil {
		t.Fatal(err)
	}
	expectTypes(t, srv, rcv, &seen, "TaskDelete")

	note, err := crm.CreateNote(contactstest.Note{ContactID: ct.ID, Body: "hello", Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crm.UpdateNote(note.ID, func(n *contactstest.Note) { n.Body = "hello again" }); err != nil {
		t.Fatal(err)
	}
	if err := crm.DeleteNote(note.ID); err != nil {
		t.Fatal(err)
	}
	got = expectTypes(t, srv, rcv, &seen, "NoteCreate", "NoteUpdate", "NoteDelete")
	for _, r := range got {
		if p := r.payload(t); !slices.Equal(keysOf(p), noteKeys) || p["id"] != note.ID || p["contactId"] != ct.ID {
			t.Errorf("note event %s", r.Body)
		}
	}
	if got[1].payload(t)["body"] != "hello again" {
		t.Errorf("NoteUpdate %s", got[1].Body)
	}

	for name, err := range map[string]error{
		"CreateTask":   func() error { _, err := crm.CreateTask(contactstest.Task{ContactID: "nobody"}); return err }(),
		"UpdateTask":   func() error { _, err := crm.UpdateTask(task.ID, func(*contactstest.Task) {}); return err }(),
		"CompleteTask": func() error { _, err := crm.CompleteTask("nope", true); return err }(),
		"DeleteTask":   crm.DeleteTask(task.ID),
		"CreateNote":   func() error { _, err := crm.CreateNote(contactstest.Note{ContactID: "nobody"}); return err }(),
		"UpdateNote":   func() error { _, err := crm.UpdateNote(note.ID, func(*contactstest.Note) {}); return err }(),
		"DeleteNote":   crm.DeleteNote(note.ID),
	} {
		if err == nil {
			t.Errorf("%s on a missing record succeeded", name)
		}
	}
	expectTypes(t, srv, rcv, &seen)
	if n := srv.RequestCount(); n != 1 { // the one Tasks.Get above
		t.Errorf("%d requests logged", n)
	}
}

func TestCRMAppointments(t *testing.T) {
	clock := contactstest.NewManualClock(time.Date(2023, 9, 20, 8, 0, 0, 0, time.UTC))
	srv, rcv := newHookServer(t, nil, contactstest.WithClock(clock))
	crm := srv.CRM()
	seen := 0
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	ist := time.FixedZone("IST", 5*3600+1800)

	appt, err := crm.CreateAppointment(contactstest.Appointment{
		ContactID: ct.ID, CalendarID: "cal1", Title: "Intro session", AssignedUserID: "u1", Notes: "bring shoes",
		Address: "https://example.com/meeting", GroupID: "g1", Users: []string{"u1", "u2"}, Source: "booking_widget",
		StartTime: time.Date(2023, 9, 25, 16, 0, 0, 0, ist), EndTime: time.Date(2023, 9, 25, 16, 30, 0, 0, ist),
	})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	upd, err := crm.UpdateAppointment(appt.ID, func(a *contactstest.Appointment) { a.AppointmentStatus = "cancelled"; a.ContactID = "x" })
	if err != nil || upd.ContactID != ct.ID || !upd.DateUpdated.Equal(clock.Now()) {
		t.Fatalf("UpdateAppointment: %+v, %v", upd, err)
	}
	if err := crm.DeleteAppointment(appt.ID); err != nil {
		t.Fatal(err)
	}
	// The documented quirk: update and delete payloads say AppointmentCreate.
	got := expectTypes(t, srv, rcv, &seen, "AppointmentCreate", "AppointmentCreate", "AppointmentCreate")
	var events []string
	for _, d := range srv.WebhookDeliveries() {
		events = append(events, d.Event)
	}
	if want := []string{"AppointmentCreate", "AppointmentUpdate", "AppointmentDelete"}; !slices.Equal(events, want) {
		t.Errorf("recorded events %v, want %v", events, want)
	}
	for _, r := range got {
		p := r.payload(t)
		if !slices.Equal(keysOf(p), apptTopKeys) || p["locationId"] != srv.LocationID() {
			t.Errorf("appointment event %s", r.Body)
			continue
		}
		if a := p["appointment"].(map[string]any); !slices.Equal(keysOf(a), apptKeys) || a["id"] != appt.ID || a["contactId"] != ct.ID ||
			a["startTime"] != "2023-09-25T16:00:00+05:30" || a["endTime"] != "2023-09-25T16:30:00+05:30" {
			t.Errorf("appointment object %v", a)
		}
	}
	if a := got[1].payload(t)["appointment"].(map[string]any); a["appointmentStatus"] != "cancelled" ||
		a["dateAdded"] != "2023-09-20T08:00:00Z" || a["dateUpdated"] != "2023-09-20T09:00:00Z" {
		t.Errorf("AppointmentUpdate object %v", a)
	}
	if list, err := srv.Client().Appointments.List(context.Background(), ct.ID); err != nil || len(list) != 0 {
		t.Errorf("appointments after delete: %v, %v", list, err)
	}

	srv.SetWebhookOptions(contactstest.WebhookOptions{ExactAppointmentTypes: true})
	appt, _ = crm.CreateAppointment(contactstest.Appointment{ContactID: ct.ID, Title: "Again", StartTime: clock.Now(), EndTime: clock.Now().Add(time.Hour)})
	crm.UpdateAppointment(appt.ID, func(a *contactstest.Appointment) { a.Title = "Moved" })
	crm.DeleteAppointment(appt.ID)
	expectTypes(t, srv, rcv, &seen, "AppointmentCreate", "AppointmentUpdate", "AppointmentDelete")

	if _, err := crm.CreateAppointment(contactstest.Appointment{ContactID: "nobody"}); err == nil {
		t.Error("CreateAppointment for a missing contact succeeded")
	}
	if _, err := crm.UpdateAppointment(appt.ID, func(*contactstest.Appointment) {}); err == nil {
		t.Error("UpdateAppointment of a deleted appointment succeeded")
	}
	if crm.DeleteAppointment(appt.ID) == nil {
		t.Error("DeleteAppointment of a deleted appointment succeeded")
	}
}
