package contactsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
)

// world is a fake API, a state store and an engine over them.
type world struct {
	t      *testing.T
	srv    *contactstest.Server
	store  contactsync.StateStore
	client *contacts.Client
	eng    *contactsync.Engine
	opts   []contactsync.Option
}

func engineMapping(t testing.TB) *contactsync.Mapping {
	t.Helper()
	m, err := contactsync.NewMapping(
		contactsync.Map("first_name", "firstName", contactsync.Transform(contactsync.Trim), contactsync.Required()),
		contactsync.Map("last_name", "lastName", contactsync.Transform(contactsync.Trim)),
		contactsync.Map("email", "email", contactsync.Transform(contactsync.Email)),
		contactsync.Map("phone", "phone", contactsync.Transform(contactsync.E164("US"))),
		contactsync.MapCustom("plan", contactsync.ByKey("membership_plan")),
		contactsync.Const("source", "gymflow"),
	)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newWorld(t *testing.T, opts ...contactsync.Option) *world {
	t.Helper()
	srv := contactstest.NewServer(contactstest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	if _, err := srv.AddCustomField(srv.LocationID(), "membership_plan"); err != nil {
		t.Fatal(err)
	}
	// The tests' crashes (a transport failing a request, a cancelled run)
	// leave nothing in flight: no grace to wait out before resolving.
	// Options given override it.
	opts = append([]contactsync.Option{contactsync.WithResolveGrace(0)}, opts...)
	w := &world{t: t, srv: srv, store: memstore.New(), opts: opts}
	w.client = srv.Client(contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetryAfter: time.Second}))
	w.eng = w.engine(w.client)
	return w
}

func (w *world) engine(c *contacts.Client, extra ...contactsync.Option) *contactsync.Engine {
	w.t.Helper()
	eng, err := contactsync.NewEngine(c, w.store, engineMapping(w.t), append(append([]contactsync.Option(nil), w.opts...), extra...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	return eng
}

func member(i int) contactsync.Member {
	return contactsync.Member{
		ID: fmt.Sprintf("m%04d", i),
		Fields: map[string]any{
			"first_name": fmt.Sprintf("Member%d", i), "last_name": "Test",
			"email": fmt.Sprintf("member%d@example.com", i), "plan": "basic",
		},
		Tags: []string{"member"},
	}
}

func members(n int) []contactsync.Member {
	out := make([]contactsync.Member, n)
	for i := range out {
		out[i] = member(i)
	}
	return out
}

func seq(ms []contactsync.Member) iter.Seq2[contactsync.Member, error] {
	return func(yield func(contactsync.Member, error) bool) {
		for _, m := range ms {
			if !yield(m, nil) {
				return
			}
		}
	}
}

func changes(cs ...contactsync.Change) iter.Seq2[contactsync.Change, error] {
	return func(yield func(contactsync.Change, error) bool) {
		for _, c := range cs {
			if !yield(c, nil) {
				return
			}
		}
	}
}

// sync runs a batch and returns the report and the API calls it made.
func (w *world) sync(ms []contactsync.Member) (*contactsync.Report, int) {
	w.t.Helper()
	before := w.srv.RequestCount()
	rep, err := w.eng.SyncMembers(context.Background(), seq(ms))
	if err != nil {
		w.t.Fatalf("sync: %v\n%s", err, rep)
	}
	return rep, w.srv.RequestCount() - before
}

func (w *world) apply(cs ...contactsync.Change) (*contactsync.Report, int) {
	w.t.Helper()
	before := w.srv.RequestCount()
	rep, err := w.eng.Apply(context.Background(), changes(cs...))
	if err != nil {
		w.t.Fatalf("apply: %v\n%s", err, rep)
	}
	return rep, w.srv.RequestCount() - before
}

// byEmail returns the fake's contacts with an e-mail address.
func (w *world) byEmail(email string) []contactstest.Contact {
	var out []contactstest.Contact
	for _, c := range w.srv.Contacts("") {
		if strings.EqualFold(c.Email, email) {
			out = append(out, c)
		}
	}
	return out
}

func TestCallCounts(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ms := members(30)

	rep, calls := w.sync(ms)
	if calls != 30 || rep.Created != 30 || rep.Failed != 0 || rep.APICalls != 30 || rep.CallsPerMember != 1 {
		t.Fatalf("first sync of 30 new members: %d calls\n%s", calls, rep)
	}
	c := w.byEmail("member7@example.com")
	if len(c) != 1 || c[0].FirstName != "Member7" || !slices.Equal(c[0].Tags, []string{"member"}) || c[0].Source != "gymflow" || len(c[0].CustomFields) != 1 {
		t.Fatalf("contact = %+v", c)
	}

	if rep, calls := w.sync(ms); calls != 0 || rep.Unchanged != 30 || rep.CallsPerMember != 0 {
		t.Fatalf("re-run with no change: %d calls\n%s", calls, rep)
	}

	ms[3].Fields["last_name"] = "Changed"
	if rep, calls := w.sync(ms); calls != 1 || rep.Updated != 1 {
		t.Fatalf("one changed field: %d calls\n%s", calls, rep)
	}
	if got := w.byEmail("member3@example.com")[0]; got.LastName != "Changed" || got.FirstName != "Member3" {
		t.Errorf("after the update: %+v", got)
	}

	ms[4].Tags = append(ms[4].Tags, "gold")
	if rep, calls := w.sync(ms); calls != 1 || rep.TagsAdded != 1 {
		t.Fatalf("one tag added: %d calls\n%s", calls, rep)
	}
	ms[4].Tags = []string{"gold"}
	if rep, calls := w.sync(ms); calls != 1 || rep.TagsRemoved != 1 {
		t.Fatalf("one tag removed: %d calls\n%s", calls, rep)
	}
	if got := w.byEmail("member4@example.com")[0]; !slices.Equal(got.Tags, []string{"gold"}) {
		t.Errorf("tags = %v", got.Tags)
	}

	// Incremental: one field and one tag change of one member = 2 calls.
	m := member(5)
	m.Fields["plan"] = "premium"
	if rep, calls := w.apply(contactsync.MemberUpserted{Member: m}, contactsync.TagsChanged{Member: "m0006", Added: []string{"vip"}}); calls != 2 || rep.Failed != 0 {
		t.Fatalf("incremental field + tag: %d calls\n%s", calls, rep)
	}
}

func TestLeadSignupExactlyOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	lead := member(1)
	lead.ID = "lead-1"
	for i := range 3 { // delivered three times
		rep, calls := w.apply(contactsync.LeadSignedUp{Lead: lead})
		want := map[int]int{0: 2, 1: 0, 2: 0}[i]
		if calls != want {
			t.Fatalf("delivery %d: %d calls, want %d\n%s", i, calls, want, rep)
		}
	}
	c := w.byEmail("member1@example.com")
	if len(c) != 1 {
		t.Fatalf("contacts = %d", len(c))
	}
	tasks := w.srv.Tasks(c[0].ID)
	if len(tasks) != 1 || !strings.HasPrefix(tasks[0].Title, "Welcome Member1") || tasks[0].DueDate.IsZero() {
		t.Errorf("welcome tasks = %+v", tasks)
	}
}

func TestDuplicateIsLinkedAndCRMTagsSurvive(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	existing := w.srv.SeedContact(contactstest.Contact{Email: "member2@example.com", FirstName: "Old", Tags: []string{"crm-automation"}})
	ms := members(3)
	rep, calls := w.sync(ms)
	// 2 creates, and for the duplicate: the refused create, an update and a tag add.
	if rep.Created != 2 || rep.Linked != 1 || calls != 5 {
		t.Fatalf("%d calls\n%s", calls, rep)
	}
	c := w.byEmail("member2@example.com")
	if len(c) != 1 || c[0].ID != existing.ID || c[0].FirstName != "Member2" || !slices.Equal(c[0].Tags, []string{"crm-automation", "member"}) {
		t.Fatalf("linked contact = %+v", c)
	}
	// GymFlow drops its tag: only its own tag goes; the CRM's stays.
	ms[2].Tags = nil
	w.sync(ms)
	if got := w.byEmail("member2@example.com")[0]; !slices.Equal(got.Tags, []string{"crm-automation"}) {
		t.Errorf("tags after GymFlow removed its own = %v", got.Tags)
	}
}

func TestTasksAndNotesCreatedOnceUpdatedInPlace(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m := member(1)
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	m.Tasks = []contactsync.Task{{ID: "t1", Title: "Book intro", Due: due}}
	m.Notes = []contactsync.Note{{ID: "n1", Body: "Knee injury: no squats"}}
	rep, calls := w.sync([]contactsync.Member{m})
	if calls != 3 || rep.TasksCreated != 1 || rep.NotesCreated != 1 {
		t.Fatalf("%d calls\n%s", calls, rep)
	}
	if _, calls := w.sync([]contactsync.Member{m}); calls != 0 {
		t.Fatalf("unchanged re-run: %d calls", calls)
	}
	m.Tasks[0].Done = true
	m.Notes[0].Body = "Knee fine now"
	rep, calls = w.sync([]contactsync.Member{m})
	if calls != 2 || rep.TasksUpdated != 1 || rep.NotesUpdated != 1 {
		t.Fatalf("updates: %d calls\n%s", calls, rep)
	}
	c := w.byEmail("member1@example.com")[0]
	tasks, notes := w.srv.Tasks(c.ID), w.srv.Notes(c.ID)
	if len(tasks) != 1 || !tasks[0].Completed || !tasks[0].DueDate.Equal(due) || len(notes) != 1 || notes[0].Body != "Knee fine now" {
		t.Errorf("tasks %+v notes %+v", tasks, notes)
	}
	// Incremental task and note events.
	rep, calls = w.apply(contactsync.TaskUpserted{Member: m.ID, Task: contactsync.Task{ID: "t2", Title: "Renewal call", Due: due}},
		contactsync.NoteUpserted{Member: m.ID, Note: contactsync.Note{ID: "n1", Body: "Knee fine now"}})
	if calls != 1 || rep.TasksCreated != 1 {
		t.Fatalf("task event + unchanged note: %d calls\n%s", calls, rep)
	}
}

func TestDeletePolicies(t *testing.T) {
	t.Parallel()
	t.Run("archive with a tag by default", func(t *testing.T) {
		w := newWorld(t)
		w.sync(members(2))
		rep, calls := w.apply(contactsync.MemberDeleted{Member: "m0001"}, contactsync.MemberDeleted{Member: "never-synced"})
		if calls != 1 || rep.Archived != 1 {
			t.Fatalf("%d calls\n%s", calls, rep)
		}
		if got := w.byEmail("member1@example.com")[0]; !slices.Contains(got.Tags, contactsync.DefaultArchiveTag) {
			t.Errorf("tags = %v", got.Tags)
		}
		if _, calls := w.apply(contactsync.MemberDeleted{Member: "m0001"}); calls != 0 {
			t.Errorf("archiving twice cost %d calls", calls)
		}
		// The member comes back: the archive is lifted.
		w.sync(members(2))
		if got := w.byEmail("member1@example.com")[0]; slices.Contains(got.Tags, contactsync.DefaultArchiveTag) {
			t.Errorf("archive tag survived the member's return: %v", got.Tags)
		}
	})
	t.Run("delete on explicit policy", func(t *testing.T) {
		w := newWorld(t, contactsync.WithDeletePolicy(contactsync.DeleteContacts()))
		unrelated := w.srv.SeedContact(contactstest.Contact{Email: "someone@example.com"})
		m := member(1)
		m.Tasks = []contactsync.Task{{ID: "t1", Title: "x", Due: time.Now()}}
		w.sync([]contactsync.Member{m})
		rep, calls := w.apply(contactsync.MemberDeleted{Member: "m0001"})
		if calls != 1 || rep.Deleted != 1 || len(w.byEmail("member1@example.com")) != 0 {
			t.Fatalf("%d calls\n%s", calls, rep)
		}
		if _, ok := w.srv.Contact(unrelated.ID); !ok {
			t.Error("a contact the sync never linked was touched")
		}
		if _, err := w.store.Link(context.Background(), contactsync.KindTask, "t1"); !errors.Is(err, contactsync.ErrNotFound) {
			t.Error("the task link survived its contact")
		}
	})
	t.Run("archive with DND", func(t *testing.T) {
		w := newWorld(t, contactsync.WithDeletePolicy(contactsync.ArchiveWithDND()))
		w.sync(members(1))
		w.apply(contactsync.MemberDeleted{Member: "m0000"})
		if got := w.byEmail("member0@example.com")[0]; !got.DND {
			t.Error("DND not set")
		}
		w.sync(members(1))
		if got := w.byEmail("member0@example.com")[0]; got.DND {
			t.Error("DND survived the member's return")
		}
	})
	t.Run("archive with a custom field", func(t *testing.T) {
		w := newWorld(t, contactsync.WithDeletePolicy(contactsync.ArchiveWithField(contacts.FieldByKey("member_status", "archived"))))
		statusID, err := w.srv.AddCustomField(w.srv.LocationID(), "member_status")
		if err != nil {
			t.Fatal(err)
		}
		status := func() any {
			for _, f := range w.byEmail("member0@example.com")[0].CustomFields {
				if f.ID == statusID {
					return f.Value
				}
			}
			return nil
		}
		w.sync(members(1))
		rep, calls := w.apply(contactsync.MemberDeleted{Member: "m0000"})
		if calls != 1 || rep.Archived != 1 || status() != "archived" {
			t.Fatalf("%d calls, status %v\n%s", calls, status(), rep)
		}
		w.sync(members(1))
		if v := status(); v != nil && v != "" {
			t.Errorf("status after the member's return = %v, want cleared", v)
		}
		if got := w.byEmail("member0@example.com")[0]; len(got.CustomFields) != 1 {
			t.Errorf("custom fields = %+v, want only the plan", got.CustomFields)
		}
	})
}

func TestBadRecordsAreReportedOthersSync(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ms := members(5)
	delete(ms[1].Fields, "email") // no email and no phone
	ms[2].Fields["email"] = "not-an-email"
	delete(ms[3].Fields, "first_name") // required
	rep, calls := w.sync(ms)
	if rep.Failed != 3 || rep.Created != 2 || calls != 2 {
		t.Fatalf("%d calls\n%s", calls, rep)
	}
	reasons := map[string]string{}
	for _, f := range rep.Failures {
		if !f.BadRecord {
			t.Errorf("%s not marked as a bad record: %s", f.MemberID, f.Reason)
		}
		reasons[f.MemberID] = f.Reason
	}
	if !strings.Contains(reasons["m0001"], "email") || !strings.Contains(reasons["m0002"], "email") || !strings.Contains(reasons["m0003"], "first_name") {
		t.Errorf("reasons = %v", reasons)
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.sync(members(2))
	ms := members(3)
	ms[0].Fields["last_name"] = "Changed"
	dry := w.engine(w.client, contactsync.WithDryRun(true))
	before := w.srv.RequestCount()
	rep, err := dry.SyncMembers(context.Background(), seq(ms))
	if err != nil {
		t.Fatal(err)
	}
	if w.srv.RequestCount() != before {
		t.Error("a dry run sent requests")
	}
	if rep.Created != 1 || rep.Updated != 1 || rep.Unchanged != 1 || len(rep.Planned) != 2 || !rep.DryRun {
		t.Fatalf("%s %+v", rep, rep.Planned)
	}
	// Nothing was stored: the real run does both writes.
	if _, calls := w.sync(ms); calls != 2 {
		t.Errorf("real run after the dry run: %d calls", calls)
	}
}

func TestBudgetStopsTheRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithDailyBudget(10, 0), contactsync.WithConcurrency(1))
	rep, err := w.eng.SyncMembers(context.Background(), seq(members(30)))
	if !errors.Is(err, contactsync.ErrBudgetExhausted) || rep.Created != 10 || w.srv.RequestCount() != 10 {
		t.Fatalf("err=%v requests=%d\n%s", err, w.srv.RequestCount(), rep)
	}
	if !strings.Contains(rep.Stopped, "budget") {
		t.Errorf("stopped = %q", rep.Stopped)
	}
}

func TestRefreshRelatedReconcilesTasksAndNotes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithRefreshRelated(true))
	m := member(1)
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	m.Tasks = []contactsync.Task{{ID: "t1", Title: "Book intro", Due: due}, {ID: "t2", Title: "Renewal", Due: due}}
	m.Notes = []contactsync.Note{{ID: "n1", Body: "hello"}}
	w.sync([]contactsync.Member{m})
	c := w.byEmail("member1@example.com")[0]
	tasks := w.srv.Tasks(c.ID)
	crm := w.srv.CRM()
	if err := crm.DeleteTask(tasks[0].ID); err != nil {
		t.Fatal(err)
	}
	note := w.srv.Notes(c.ID)[0]
	if _, err := crm.UpdateNote(note.ID, func(n *contactstest.Note) { n.Body = "edited in the CRM" }); err != nil {
		t.Fatal(err)
	}
	rep, calls := w.sync([]contactsync.Member{m})
	// 2 reads, 1 task re-created, 1 note rewritten; the untouched task costs nothing.
	if calls != 4 || rep.TasksCreated != 1 || rep.NotesUpdated != 1 || rep.TasksUpdated != 0 {
		t.Fatalf("%d calls\n%s", calls, rep)
	}
	if got := w.srv.Notes(c.ID); len(got) != 1 || got[0].Body != "hello" {
		t.Errorf("notes = %+v", got)
	}
	if got := w.srv.Tasks(c.ID); len(got) != 2 {
		t.Errorf("tasks = %+v", got)
	}
}

type recordingMetrics struct {
	mu       sync.Mutex
	counters map[string]int64
	gauges   map[string]float64
}

func (m *recordingMetrics) Counter(name string, delta int64, labels map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counters[name+fmt.Sprint(labels)] += delta
}

func (m *recordingMetrics) Gauge(name string, v float64, labels map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gauges[name] = v
}

func TestMonitoring(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	var logMu sync.Mutex
	metrics := &recordingMetrics{counters: map[string]int64{}, gauges: map[string]float64{}}
	var progress []contactsync.Progress
	var pmu sync.Mutex
	w := newWorld(t,
		contactsync.WithLogger(slog.New(slog.NewJSONHandler(lockedWriter{&logs, &logMu}, nil))),
		contactsync.WithMetrics(metrics),
		contactsync.WithProgress(func(p contactsync.Progress) { pmu.Lock(); progress = append(progress, p); pmu.Unlock() }))
	ms := members(4)
	delete(ms[2].Fields, "first_name")
	w.sync(ms)
	if len(progress) != 4 || progress[len(progress)-1].Processed != 4 {
		t.Errorf("progress = %+v", progress)
	}
	if metrics.counters["contactsync_members_total"+fmt.Sprint(map[string]string{"result": "created"})] != 3 ||
		metrics.counters["contactsync_api_calls_total"+fmt.Sprint(map[string]string(nil))] != 3 ||
		metrics.gauges["contactsync_ratelimit_remaining"] <= 0 {
		t.Errorf("metrics = %v %v", metrics.counters, metrics.gauges)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	for _, want := range []string{`"msg":"contactsync: run started"`, `"msg":"contactsync: run finished"`, `"msg":"contactsync: record failed"`, `"member":"m0002"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	runs, err := w.store.Runs(context.Background(), 10)
	if err != nil || len(runs) != 1 || !strings.Contains(string(runs[0].Report), `"created":3`) {
		t.Errorf("run log = %+v, %v", runs, err)
	}
}

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// putCrashedCreate stores the create intent a crashed run left for member
// m-late (late@example.com), sent at created, and returns its body.
func putCrashedCreate(t *testing.T, w *world, created time.Time) contacts.ContactCreate {
	t.Helper()
	mapped, err := engineMapping(t).Apply(contactsync.Member{ID: "m-late", Fields: map[string]any{"first_name": "Late", "email": "late@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	body := mapped.CreateBody()
	snapshot, _ := mapped.Marshal()
	bodyJSON, _ := json.Marshal(body)
	data := fmt.Sprintf(`{"email":"late@example.com","body":%s,"hash":%q,"snapshot":%s}`, bodyJSON, mapped.Hash(), snapshot)
	if err := w.store.PutIntent(context.Background(), contactsync.Intent{Key: "create/member/m-late", Kind: contactsync.KindMember,
		LocalID: "m-late", Op: "create", Data: []byte(data), CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	return body
}

func TestResolveGraceWaitsForInFlightCreates(t *testing.T) {
	t.Parallel()
	// A create that reached the API after the crashed run gave up on it is
	// found, not repeated, when the engine waits out the grace period.
	w := newWorld(t)
	body := putCrashedCreate(t, w, time.Now())
	// The in-flight request lands shortly after the restart; the grace
	// period is far longer than that delay, so the test does not depend
	// on scheduling.
	go func() {
		time.Sleep(20 * time.Millisecond)
		w.client.Contacts.Create(context.Background(), body)
	}()
	eng := w.engine(w.client, contactsync.WithResolveGrace(2*time.Second))
	rep, err := eng.Apply(context.Background(), changes())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(w.byEmail("late@example.com")); n != 1 || rep.Linked != 1 {
		t.Fatalf("contacts = %d\n%s", n, rep)
	}
}

func TestTagChangeOfAContactDeletedInTheCRMRecreatesIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ms := members(1)
	w.sync(ms)
	old := w.byEmail("member0@example.com")[0]
	if err := w.srv.CRM().DeleteContact(old.ID); err != nil {
		t.Fatal(err)
	}
	ms[0].Tags = append(ms[0].Tags, "gold") // a tag-only change
	rep, _ := w.sync(ms)
	got := w.byEmail("member0@example.com")
	if rep.Failed != 0 || len(got) != 1 || got[0].ID == old.ID || !slices.Equal(got[0].Tags, []string{"gold", "member"}) {
		t.Fatalf("contacts %+v\n%s", got, rep)
	}
}

// TestResolveGraceIsOnByDefault: without WithResolveGrace the engine waits
// until a crashed run's create is contacts.DefaultTimeout old before
// looking it up (the clock is set 200 ms short of that, so the test waits
// 200 ms), and the create still in flight is found, not repeated.
func TestResolveGraceIsOnByDefault(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	created := time.Now().Add(-time.Hour)
	body := putCrashedCreate(t, w, created)
	landed := make(chan struct{})
	go func() {
		defer close(landed)
		time.Sleep(20 * time.Millisecond)
		w.client.Contacts.Create(context.Background(), body)
	}()
	clock := created.Add(contacts.DefaultTimeout - 200*time.Millisecond)
	eng, err := contactsync.NewEngine(w.client, w.store, engineMapping(t), contactsync.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := eng.Apply(context.Background(), changes())
	<-landed
	if err != nil {
		t.Fatal(err)
	}
	if n := len(w.byEmail("late@example.com")); n != 1 || rep.Linked != 1 {
		t.Fatalf("contacts = %d\n%s", n, rep)
	}
}

// TestMembersStreamWithBoundedLookahead: a batch is read from its iterator
// only as fast as the workers sync it — never more than the workers'
// queues (4 × 32), the windows they took from them to read the links of at
// once (4 × 33) and the members in hand ahead of the API — so the engine's
// memory does not grow with the batch.
func TestMembersStreamWithBoundedLookahead(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithConcurrency(4))
	const n, bound = 2000, 4*32 + 4*33 + 4 + 2
	yielded, maxAhead := 0, 0
	members := func(yield func(contactsync.Member, error) bool) {
		for m, err := range generated(n, false) {
			maxAhead = max(maxAhead, yielded-w.srv.RequestCount())
			yielded++
			if !yield(m, err) {
				return
			}
		}
	}
	rep, err := w.eng.SyncMembers(context.Background(), members)
	if err != nil || rep.Created != n {
		t.Fatalf("%v\n%s", err, rep)
	}
	if maxAhead > bound {
		t.Errorf("the engine read %d members ahead of the API, want at most %d", maxAhead, bound)
	}
	t.Logf("read at most %d members ahead of the API", maxAhead)
}

// TestReportListsAreBounded: a dry run of more writes than MaxPlanned, and
// a batch with more bad records than MaxFailures, keep the lists bounded
// and count the rest.
func TestReportListsAreBounded(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithDryRun(true))
	const extra = 5
	rep, err := w.eng.SyncMembers(context.Background(), generated(contactsync.MaxPlanned+extra, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Planned) != contactsync.MaxPlanned || rep.PlannedOmitted != extra || w.srv.RequestCount() != 0 {
		t.Errorf("planned %d, omitted %d, requests %d", len(rep.Planned), rep.PlannedOmitted, w.srv.RequestCount())
	}
	if !strings.Contains(rep.String(), fmt.Sprintf("planned    %d writes", contactsync.MaxPlanned+extra)) {
		t.Errorf("report text:\n%s", rep)
	}

	bad := func(yield func(contactsync.Member, error) bool) {
		for m := range generated(contactsync.MaxFailures+extra, false) {
			delete(m.Fields, "email") // and no phone: a bad record
			if !yield(m, nil) {
				return
			}
		}
	}
	rep, err = newWorld(t).eng.SyncMembers(context.Background(), bad)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != contactsync.MaxFailures+extra || len(rep.Failures) != contactsync.MaxFailures {
		t.Errorf("failed %d, failures listed %d", rep.Failed, len(rep.Failures))
	}
	if !strings.Contains(rep.String(), fmt.Sprintf("… and %d more", contactsync.MaxFailures+extra-10)) {
		t.Errorf("report text:\n%s", rep)
	}
}
