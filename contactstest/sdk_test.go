package contactstest_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
)

// TestSDKRoundTrip drives every SDK method through the fake over real HTTP
// and checks both what the SDK decodes and what the fake stored.
func TestSDKRoundTrip(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()
	fieldID, err := srv.AddCustomField(srv.LocationID(), "membership_level")
	if err != nil {
		t.Fatal(err)
	}

	// create-contact
	ana, err := c.Contacts.Create(ctx, contacts.ContactCreate{
		FirstName: "Ana", LastName: "Silva", Email: "ana@example.com", Phone: "555-555-0123",
		Tags: []string{"member"}, DateOfBirth: "1990/09/25", Source: "gymflow",
		CustomFields: []contacts.CustomFieldInput{contacts.FieldByKey("membership_level", "Gold")},
		DNDSettings:  &contacts.DNDSettings{SMS: &contacts.DNDSetting{Status: contacts.DNDActive}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ana.ID == "" || ana.Phone != "+15555550123" || ana.FirstNameLowerCase != "ana" || ana.DateOfBirth != "1990-09-25T00:00:00.000Z" {
		t.Errorf("created contact = %+v", ana)
	}
	if v, ok := ana.CustomField(fieldID); !ok || v.String() != "Gold" {
		t.Errorf("custom field = %v, %v", v, ok)
	}
	if ana.DNDSettings == nil || ana.DNDSettings.SMS == nil || ana.DNDSettings.SMS.Status != contacts.DNDActive {
		t.Errorf("dnd settings = %+v", ana.DNDSettings)
	}
	if len(ana.RawJSON()) == 0 {
		t.Error("RawJSON empty")
	}

	// get-contact
	got, err := c.Contacts.Get(ctx, ana.ID)
	if err != nil || got.Email != "ana@example.com" || !slices.Equal(got.Tags, []string{"member"}) {
		t.Fatalf("get = %+v, %v", got, err)
	}

	// update-contact: set, clear, leave alone; tags untouched when nil
	upd, err := c.Contacts.Update(ctx, ana.ID, contacts.ContactUpdate{
		City: contacts.Value("Lisbon"), Source: contacts.Null[string](),
	})
	if err != nil || upd.City != "Lisbon" || upd.Source != "" || upd.FirstName != "Ana" || !slices.Equal(upd.Tags, []string{"member"}) {
		t.Fatalf("update = %+v, %v", upd, err)
	}
	if !upd.DateUpdated.After(ana.DateUpdated.Time) && !upd.DateUpdated.Equal(ana.DateUpdated.Time) {
		t.Error("dateUpdated went backwards")
	}

	// upsert-contact: matches Ana by email, then creates Bea
	up, err := c.Contacts.Upsert(ctx, contacts.ContactUpsert{Email: "ANA@example.com", LastName: "Costa"})
	if err != nil || up.Created || up.Contact.ID != ana.ID || up.Contact.LastName != "Costa" {
		t.Fatalf("upsert existing = %+v, %v", up, err)
	}
	up, err = c.Contacts.Upsert(ctx, contacts.ContactUpsert{Email: "bea@example.com", FirstName: "Bea"})
	if err != nil || !up.Created || up.Contact.ID == ana.ID {
		t.Fatalf("upsert new = %+v, %v", up, err)
	}
	bea := up.Contact

	// get-duplicate-contact
	dup, err := c.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Phone: "+1 (555) 555-0123"})
	if err != nil || dup.Contact == nil || dup.Contact.ID != ana.ID || dup.TraceID == "" {
		t.Fatalf("duplicate = %+v, %v", dup, err)
	}
	none, err := c.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Email: "nobody@example.com"})
	if err != nil || none.Contact != nil {
		t.Fatalf("no duplicate = %+v, %v", none, err)
	}

	// add-tags / remove-tags
	tags, err := c.Tags.Add(ctx, ana.ID, []string{"gold", "member"})
	if err != nil || !slices.Equal(tags, []string{"member", "gold"}) {
		t.Fatalf("add tags = %v, %v", tags, err)
	}
	tags, err = c.Tags.Remove(ctx, ana.ID, []string{"member"})
	if err != nil || !slices.Equal(tags, []string{"gold"}) {
		t.Fatalf("remove tags = %v, %v", tags, err)
	}

	// create-association (bulk tags)
	bulk, err := c.Tags.BulkAdd(ctx, contacts.BulkTags{ContactIDs: []string{ana.ID, bea.ID, "missingContact0000000"}, Tags: []string{"promo"}})
	if err != nil || bulk.Succeeded || bulk.ErrorCount != 1 || len(bulk.Responses) != 3 || !slices.Equal(bulk.Responses[1].TagsAdded, []string{"promo"}) {
		t.Fatalf("bulk add = %+v, %v", bulk, err)
	}
	bulk, err = c.Tags.BulkRemove(ctx, contacts.BulkTags{ContactIDs: []string{bea.ID}, RemoveAllTags: true})
	if err != nil || !bulk.Succeeded || !slices.Equal(bulk.Responses[0].TagsRemoved, []string{"promo"}) {
		t.Fatalf("bulk remove all = %+v, %v", bulk, err)
	}
	if b, _ := srv.Contact(bea.ID); len(b.Tags) != 0 {
		t.Errorf("bea still has tags %v", b.Tags)
	}

	// tasks
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	task, err := c.Tasks.Create(ctx, ana.ID, contacts.TaskCreate{Title: "Welcome call", Body: "Book PT", DueDate: due})
	if err != nil || task.Title != "Welcome call" || !task.DueDate.Equal(due) || task.Completed || task.ContactID != ana.ID {
		t.Fatalf("create task = %+v, %v", task, err)
	}
	task, err = c.Tasks.Update(ctx, ana.ID, task.ID, contacts.TaskUpdate{Title: contacts.Ptr("Welcome call (2nd try)")})
	if err != nil || task.Title != "Welcome call (2nd try)" || task.Body != "Book PT" {
		t.Fatalf("update task = %+v, %v", task, err)
	}
	task, err = c.Tasks.Complete(ctx, ana.ID, task.ID, true)
	if err != nil || !task.Completed {
		t.Fatalf("complete task = %+v, %v", task, err)
	}
	if got, err := c.Tasks.Get(ctx, ana.ID, task.ID); err != nil || !got.Completed {
		t.Fatalf("get task = %+v, %v", got, err)
	}
	if list, err := c.Tasks.List(ctx, ana.ID); err != nil || len(list) != 1 || list[0].ID != task.ID {
		t.Fatalf("list tasks = %+v, %v", list, err)
	}
	if err := c.Tasks.Delete(ctx, ana.ID, task.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tasks.Get(ctx, ana.ID, task.ID); !errors.Is(err, contacts.ErrNotFound) {
		t.Fatalf("deleted task: %v", err)
	}

	// notes
	note, err := c.Notes.Create(ctx, ana.ID, contacts.NoteCreate{Body: "Prefers mornings", Title: "Schedule", Pinned: contacts.Ptr(true)})
	if err != nil || note.Body != "Prefers mornings" || !note.Pinned || note.DateAdded.IsZero() {
		t.Fatalf("create note = %+v, %v", note, err)
	}
	note, err = c.Notes.Update(ctx, ana.ID, note.ID, contacts.NoteUpdate{Body: contacts.Ptr("Prefers evenings")})
	if err != nil || note.Body != "Prefers evenings" || note.Title != "Schedule" {
		t.Fatalf("update note = %+v, %v", note, err)
	}
	if got, err := c.Notes.Get(ctx, ana.ID, note.ID); err != nil || got.Body != "Prefers evenings" {
		t.Fatalf("get note = %+v, %v", got, err)
	}
	if list, err := c.Notes.List(ctx, ana.ID); err != nil || len(list) != 1 {
		t.Fatalf("list notes = %+v, %v", list, err)
	}
	if err := c.Notes.Delete(ctx, ana.ID, note.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.Notes.List(ctx, ana.ID); len(list) != 0 {
		t.Fatalf("notes after delete = %v", list)
	}

	// appointments (seeded: the contacts API only reads them)
	start := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	if _, err := srv.SeedAppointment(contactstest.Appointment{ContactID: ana.ID, Title: "Intro session", CalendarID: "cal1", StartTime: start, EndTime: start.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	appts, err := c.Appointments.List(ctx, ana.ID)
	if err != nil || len(appts) != 1 || appts[0].Title != "Intro session" {
		t.Fatalf("appointments = %+v, %v", appts, err)
	}
	if s, ok := appts[0].Start(time.UTC); !ok || !s.Equal(start) {
		t.Errorf("appointment start = %v", s)
	}

	// followers
	fr, err := c.Followers.Add(ctx, ana.ID, []string{"user1", "user2"})
	if err != nil || !slices.Equal(fr.Followers, []string{"user1", "user2"}) || !slices.Equal(fr.Added, []string{"user1", "user2"}) {
		t.Fatalf("add followers = %+v, %v", fr, err)
	}
	fr, err = c.Followers.Remove(ctx, ana.ID, []string{"user1"})
	if err != nil || !slices.Equal(fr.Followers, []string{"user2"}) || !slices.Equal(fr.Removed, []string{"user1"}) {
		t.Fatalf("remove followers = %+v, %v", fr, err)
	}

	// campaigns and workflows
	if err := c.Campaigns.Add(ctx, ana.ID, "camp1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Campaigns.Add(ctx, ana.ID, "camp2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Campaigns.Remove(ctx, ana.ID, "camp1"); err != nil {
		t.Fatal(err)
	}
	if s, _ := srv.Contact(ana.ID); !slices.Equal(s.Campaigns, []string{"camp2"}) {
		t.Errorf("campaigns = %v", s.Campaigns)
	}
	if err := c.Campaigns.RemoveAll(ctx, ana.ID); err != nil {
		t.Fatal(err)
	}
	if s, _ := srv.Contact(ana.ID); len(s.Campaigns) != 0 {
		t.Errorf("campaigns after RemoveAll = %v", s.Campaigns)
	}
	if err := c.Workflows.Add(ctx, ana.ID, "wf1", contacts.WorkflowEnrollment{EventStartTime: start}); err != nil {
		t.Fatal(err)
	}
	if err := c.Workflows.Add(ctx, ana.ID, "wf2", contacts.WorkflowEnrollment{}); err != nil {
		t.Fatal(err)
	}
	if s, _ := srv.Contact(ana.ID); !slices.Equal(s.Workflows, []string{"wf1", "wf2"}) {
		t.Errorf("workflows = %v", s.Workflows)
	}
	if err := c.Workflows.Remove(ctx, ana.ID, "wf1", contacts.WorkflowEnrollment{}); err != nil {
		t.Fatal(err)
	}
	if s, _ := srv.Contact(ana.ID); !slices.Equal(s.Workflows, []string{"wf2"}) {
		t.Errorf("workflows after Remove = %v", s.Workflows)
	}
	if err := c.Workflows.Remove(ctx, ana.ID, "wf2", contacts.WorkflowEnrollment{}); err != nil {
		t.Fatal(err)
	}
	if s, _ := srv.Contact(ana.ID); len(s.Workflows) != 0 {
		t.Errorf("workflows after removing both = %v", s.Workflows)
	}

	// add-remove-contact-from-business and get-contacts-by-businessId
	biz := "64b1f0c2e4a9d3b7c8e1f2a3"
	res, err := c.Contacts.SetBusiness(ctx, contacts.BusinessUpdate{ContactIDs: []string{ana.ID, bea.ID}, BusinessID: &biz})
	if err != nil || !res.Success || len(res.IDs) != 2 {
		t.Fatalf("set business = %+v, %v", res, err)
	}
	page, err := c.Contacts.ListByBusiness(ctx, biz, contacts.BusinessListParams{Limit: 10})
	if err != nil || len(page.Contacts) != 2 {
		t.Fatalf("list by business = %+v, %v", page, err)
	}
	if _, err := c.Contacts.SetBusiness(ctx, contacts.BusinessUpdate{ContactIDs: []string{bea.ID}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for ct, err := range c.Contacts.ListByBusinessAll(ctx, biz, contacts.BusinessListParams{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		if ct.ID != ana.ID {
			t.Errorf("unexpected business member %s", ct.ID)
		}
		n++
	}
	if n != 1 {
		t.Errorf("business members after unlinking = %d", n)
	}

	// search-contacts-advanced and get-contacts
	sr, err := c.Contacts.Search(ctx, contacts.SearchParams{PageLimit: 10, Filters: []contacts.Filter{contacts.Where("tags", contacts.OpEq, "gold")}})
	if err != nil || sr.Total != 1 || len(sr.Contacts) != 1 || sr.Contacts[0].ID != ana.ID || len(sr.Contacts[0].SearchAfter) == 0 {
		t.Fatalf("search = %+v, %v", sr, err)
	}
	var all []string
	for ct, err := range c.Contacts.SearchAll(ctx, contacts.SearchParams{PageLimit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ct.ID)
	}
	if len(all) != 2 {
		t.Errorf("SearchAll = %v", all)
	}
	//lint:ignore SA1019 the deprecated list is still one of the spec's operations
	list, err := c.Contacts.List(ctx, contacts.ListParams{Limit: 10})
	if err != nil || len(list.Contacts) != 2 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	all = all[:0]
	//lint:ignore SA1019 the deprecated list is still one of the spec's operations
	for ct, err := range c.Contacts.ListAll(ctx, contacts.ListParams{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ct.ID)
	}
	if len(all) != 2 || all[0] != ana.ID {
		t.Errorf("ListAll = %v", all)
	}

	// delete-contact takes its tasks, notes and appointments with it
	if _, err := c.Tasks.Create(ctx, ana.ID, contacts.TaskCreate{Title: "x", DueDate: due}); err != nil {
		t.Fatal(err)
	}
	lastNote, err := c.Notes.Create(ctx, ana.ID, contacts.NoteCreate{Body: "Moved away"})
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Tasks(ana.ID)) != 1 || len(srv.Notes(ana.ID)) != 1 || len(srv.Appointments(ana.ID)) != 1 {
		t.Fatalf("before delete: %d tasks, %d notes, %d appointments; want 1 each",
			len(srv.Tasks(ana.ID)), len(srv.Notes(ana.ID)), len(srv.Appointments(ana.ID)))
	}
	if err := c.Contacts.Delete(ctx, ana.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Contacts.Get(ctx, ana.ID); !errors.Is(err, contacts.ErrNotFound) {
		t.Errorf("get deleted: %v", err)
	}
	if len(srv.Tasks(ana.ID)) != 0 || len(srv.Notes(ana.ID)) != 0 || len(srv.Appointments(ana.ID)) != 0 {
		t.Errorf("survived their contact: %d tasks, %d notes, %d appointments",
			len(srv.Tasks(ana.ID)), len(srv.Notes(ana.ID)), len(srv.Appointments(ana.ID)))
	}
	if _, err := c.Notes.Get(ctx, ana.ID, lastNote.ID); !errors.Is(err, contacts.ErrNotFound) {
		t.Errorf("get a deleted contact's note: %v, want ErrNotFound", err)
	}
	sr, err = c.Contacts.Search(ctx, contacts.SearchParams{PageLimit: 10})
	if err != nil || sr.Total != 1 || sr.Contacts[0].ID != bea.ID {
		t.Errorf("search after delete = %+v, %v", sr, err)
	}

	// The note itself is gone, not just unreachable through its contact: a
	// contact seeded again under the deleted ID does not get it back, and
	// the note answers like any unknown note (400, "Note with id … not
	// found", BadRequestDTO).
	srv.SeedContact(contactstest.Contact{ID: ana.ID, FirstName: "Ana"})
	if list, err := c.Notes.List(ctx, ana.ID); err != nil || len(list) != 0 {
		t.Errorf("notes of the re-seeded contact = %+v, %v", list, err)
	}
	a := raw{t, srv}.do("GET", "/contacts/"+ana.ID+"/notes/"+lastNote.ID, srv.Token(), nil)
	if want := "Note with id " + lastNote.ID + " not found"; a.status != 400 || !slices.Equal(messages(a), []string{want}) {
		t.Errorf("GET the deleted note: %d %v, want 400 %q", a.status, a.body, want)
	}
	shapeCheck(t, "GET the deleted note", a.body, jsError400)
}

// TestDateUpdatedFollowsAPIChanges checks that each API change of a
// contact stamps dateUpdated with the server's clock, in the store and on
// the wire, and never moves dateAdded; and that the calls which change
// nothing in the read model leave dateUpdated alone.
func TestDateUpdatedFollowsAPIChanges(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	clock := contactstest.NewManualClock(t0)
	srv := contactstest.NewServer(contactstest.WithClock(clock))
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()
	ana := srv.SeedContact(contactstest.Contact{FirstName: "Ana", Email: "ana@example.com", Tags: []string{"member"}})
	biz := "64b1f0c2e4a9d3b7c8e1f2a3"

	// check compares dateAdded and dateUpdated, stored and read through
	// the SDK, with the times wanted.
	check := func(step string, wantUpdated time.Time) {
		t.Helper()
		stored, ok := srv.Contact(ana.ID)
		if !ok {
			t.Fatalf("%s: contact gone", step)
		}
		if !stored.DateUpdated.Equal(wantUpdated) || !stored.DateAdded.Equal(t0) {
			t.Errorf("%s: stored dateUpdated %v, dateAdded %v; want %v, %v", step, stored.DateUpdated, stored.DateAdded, wantUpdated, t0)
		}
		got, err := c.Contacts.Get(ctx, ana.ID)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if !got.DateUpdated.Equal(wantUpdated) || !got.DateAdded.Equal(t0) {
			t.Errorf("%s: GET dateUpdated %v, dateAdded %v; want %v, %v", step, got.DateUpdated, got.DateAdded, wantUpdated, t0)
		}
	}
	check("seeded", t0)

	changes := []struct {
		name string
		do   func() error
	}{
		{"update", func() error {
			_, err := c.Contacts.Update(ctx, ana.ID, contacts.ContactUpdate{City: contacts.Value("Porto")})
			return err
		}},
		{"tags add", func() error { _, err := c.Tags.Add(ctx, ana.ID, []string{"gold"}); return err }},
		{"tags remove", func() error { _, err := c.Tags.Remove(ctx, ana.ID, []string{"gold"}); return err }},
		{"upsert (existing)", func() error {
			up, err := c.Contacts.Upsert(ctx, contacts.ContactUpsert{Email: "ana@example.com", LastName: "Silva"})
			if err == nil && (up.Created || up.Contact.ID != ana.ID) {
				err = fmt.Errorf("upsert did not update Ana: %+v", up)
			}
			return err
		}},
		{"bulk tags add", func() error {
			_, err := c.Tags.BulkAdd(ctx, contacts.BulkTags{ContactIDs: []string{ana.ID}, Tags: []string{"promo"}})
			return err
		}},
		{"bulk tags remove", func() error {
			_, err := c.Tags.BulkRemove(ctx, contacts.BulkTags{ContactIDs: []string{ana.ID}, Tags: []string{"promo"}})
			return err
		}},
		{"bulk business set", func() error {
			_, err := c.Contacts.SetBusiness(ctx, contacts.BusinessUpdate{ContactIDs: []string{ana.ID}, BusinessID: &biz})
			return err
		}},
		{"bulk business unset", func() error {
			_, err := c.Contacts.SetBusiness(ctx, contacts.BusinessUpdate{ContactIDs: []string{ana.ID}})
			return err
		}},
		{"followers add", func() error { _, err := c.Followers.Add(ctx, ana.ID, []string{"user1"}); return err }},
		{"followers remove", func() error { _, err := c.Followers.Remove(ctx, ana.ID, []string{"user1"}); return err }},
	}
	last := t0
	for _, step := range changes {
		clock.Advance(time.Minute)
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		last = clock.Now()
		check(step.name, last)
	}

	// Neither a change that changes nothing nor an enrolment (not part of
	// the read model, see doc.go) moves dateUpdated.
	unchanged := []struct {
		name string
		do   func() error
	}{
		{"tags add (already there)", func() error { _, err := c.Tags.Add(ctx, ana.ID, []string{"member"}); return err }},
		{"followers remove (not there)", func() error { _, err := c.Followers.Remove(ctx, ana.ID, []string{"nobody"}); return err }},
		{"campaign add", func() error { return c.Campaigns.Add(ctx, ana.ID, "camp1") }},
		{"campaign remove all", func() error { return c.Campaigns.RemoveAll(ctx, ana.ID) }},
		{"workflow add", func() error { return c.Workflows.Add(ctx, ana.ID, "wf1", contacts.WorkflowEnrollment{}) }},
		{"workflow remove", func() error { return c.Workflows.Remove(ctx, ana.ID, "wf1", contacts.WorkflowEnrollment{}) }},
	}
	for _, step := range unchanged {
		clock.Advance(time.Minute)
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		check(step.name, last)
	}
}

// TestIDsAreTwentyAlphanumerics checks the shape of the IDs the fake
// generates, like the live API's: 20 characters from [A-Za-z0-9].
func TestIDsAreTwentyAlphanumerics(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()
	idRE := regexp.MustCompile(`^[A-Za-z0-9]{20}$`)

	created, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "ana@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	upserted, err := c.Contacts.Upsert(ctx, contacts.ContactUpsert{Email: "bea@example.com"})
	if err != nil || !upserted.Created {
		t.Fatalf("upsert = %+v, %v", upserted, err)
	}
	task, err := c.Tasks.Create(ctx, created.ID, contacts.TaskCreate{Title: "Call", DueDate: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	note, err := c.Notes.Create(ctx, created.ID, contacts.NoteCreate{Body: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{
		"created contact": created.ID, "upserted contact": upserted.Contact.ID, "task": task.ID, "note": note.ID,
		"location": srv.LocationID(), "seeded contact": srv.SeedContact(contactstest.Contact{}).ID,
	}
	seen := map[string]string{}
	for what, id := range ids {
		if !idRE.MatchString(id) {
			t.Errorf("%s ID %q is not 20 alphanumeric characters", what, id)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("%s and %s share the ID %q", what, other, id)
		}
		seen[id] = what
	}
	if got := srv.Tasks(created.ID); len(got) != 1 || got[0].ID != task.ID {
		t.Errorf("stored tasks = %+v, want the one created (%s)", got, task.ID)
	}
	if got := srv.Notes(created.ID); len(got) != 1 || got[0].ID != note.ID {
		t.Errorf("stored notes = %+v, want the one created (%s)", got, note.ID)
	}
}
