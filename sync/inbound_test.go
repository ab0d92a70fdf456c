package contactsync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/webhook"
)

// recordingSink records what the inbound side delivers.
type recordingSink struct {
	mu      sync.Mutex
	changes []contactsync.InboundChange
	fail    error
	refuse  func(contactsync.InboundChange) error // refuses some changes, if set
}

func (s *recordingSink) Receive(_ context.Context, ch contactsync.InboundChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if s.refuse != nil {
		if err := s.refuse(ch); err != nil {
			return err
		}
	}
	s.changes = append(s.changes, ch)
	return nil
}

func (s *recordingSink) take() []contactsync.InboundChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.changes
	s.changes = nil
	return out
}

// twoWay is a fake API with the outbound engine, the inbound side and a
// webhook receiver feeding its inbox.
type twoWay struct {
	*world
	mem  *memstore.Store
	sink *recordingSink
	in   *contactsync.Inbound
	hook *httptest.Server
}

func newTwoWay(t *testing.T, policies contactsync.Policies, inOpts ...contactsync.InboundOption) *twoWay {
	t.Helper()
	w := newWorld(t, contactsync.WithPolicies(policies))
	mem := w.store.(*memstore.Store)
	tw := &twoWay{world: w, mem: mem, sink: &recordingSink{}}
	in, err := contactsync.NewInbound(w.client, mem, mem, mem, engineMapping(t), tw.sink,
		append([]contactsync.InboundOption{contactsync.WithInboundPolicies(policies)}, inOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	tw.in = in
	edKey, _ := w.srv.WebhookPublicKeys()
	v, err := webhook.NewVerifier(webhook.WithEd25519PublicKey(edKey))
	if err != nil {
		t.Fatal(err)
	}
	h, err := webhook.NewHandler(v, in.Receive)
	if err != nil {
		t.Fatal(err)
	}
	tw.hook = httptest.NewServer(h)
	t.Cleanup(tw.hook.Close)
	if err := w.srv.AddWebhook(tw.hook.URL); err != nil {
		t.Fatal(err)
	}
	return tw
}

// deliver flushes the fake's webhooks and processes the inbox.
func (tw *twoWay) deliver() contactsync.InboundReport {
	tw.t.Helper()
	flush(tw.t, tw.srv)
	rep, err := tw.in.ProcessInbox(context.Background())
	if err != nil {
		tw.t.Fatal(err)
	}
	return rep
}

func flush(t *testing.T, srv *contactstest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

func newestWins() contactsync.Policies { return contactsync.Policies{Default: contactsync.NewestWins} }

// apiWins lets every CRM edit flow to GymFlow whatever the timing: tests
// that edit in the CRM right after an outbound write use it, because
// NewestWins compares millisecond timestamps that may tie.
func apiWins() contactsync.Policies { return contactsync.Policies{Default: contactsync.APIWins} }

func TestCRMChangeReachesTheSinkByWebhook(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, apiWins())
	tw.sync(members(2))
	tw.deliver()
	tw.sink.take() // the creates' own webhooks are echoes
	c := tw.byEmail("member1@example.com")[0]
	if _, err := tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.LastName = "Edited" }); err != nil {
		t.Fatal(err)
	}
	tw.deliver()
	got := tw.sink.take()
	if len(got) != 1 {
		t.Fatalf("delivered %#v", got)
	}
	ch, ok := got[0].(contactsync.ContactChanged)
	if !ok || ch.MemberID != "m0001" || ch.Fields["lastName"] != "Edited" || len(ch.Fields) != 1 {
		t.Fatalf("change = %#v", got[0])
	}
}

func TestEchoesOfOutboundWritesAreSuppressed(t *testing.T) {
	t.Parallel()
	for _, p := range []contactsync.Policy{contactsync.NewestWins, contactsync.APIWins, contactsync.GymFlowWins, contactsync.FillIfEmpty} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			tw := newTwoWay(t, contactsync.Policies{Default: p})
			ms := members(3)
			due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			ms[0].Tasks = []contactsync.Task{{ID: "t1", Title: "Call", Due: due}}
			ms[0].Notes = []contactsync.Note{{ID: "n1", Body: "hello"}}
			tw.sync(ms)
			rep := tw.deliver()
			ms[1].Fields["last_name"] = "GymFlowEdit"
			ms[2].Tags = append(ms[2].Tags, "gold")
			ms[0].Tasks[0].Done = true
			ms[0].Notes[0].Body = "hello again"
			tw.sync(ms)
			rep2 := tw.deliver()
			if got := tw.sink.take(); len(got) != 0 {
				t.Fatalf("GymFlow's own writes came back as changes: %#v", got)
			}
			if rep.Echoes == 0 || rep2.Echoes+rep2.Unchanged < 3 {
				t.Errorf("echo counters %+v %+v", rep, rep2)
			}
			// And they cost the outbound side nothing afterwards.
			if _, calls := tw.sync(ms); calls != 0 {
				t.Errorf("a sync after the echoes made %d calls", calls)
			}
		})
	}
}

func TestLostWebhooksAreCaughtByPollingAndReconciliation(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	tw.sync(members(3))
	tw.deliver()
	tw.sink.take()
	if _, err := tw.in.PollContacts(context.Background()); err != nil { // the first scan sets the cursor
		t.Fatal(err)
	}
	tw.sink.take()
	tw.srv.SetWebhookOptions(contactstest.WebhookOptions{DropRate: 1})
	c := tw.byEmail("member2@example.com")[0]
	time.Sleep(5 * time.Millisecond) // a later dateUpdated than the cursor
	tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.FirstName = "Renamed" })
	gone := tw.byEmail("member0@example.com")[0]
	tw.srv.CRM().DeleteContact(gone.ID)
	tw.deliver()
	if got := tw.sink.take(); len(got) != 0 {
		t.Fatalf("dropped webhooks were delivered: %#v", got)
	}
	rep, err := tw.in.PollContacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := tw.sink.take()
	if len(got) != 1 || got[0].(contactsync.ContactChanged).Fields["firstName"] != "Renamed" || rep.APICalls != 1 {
		t.Fatalf("poll delivered %#v (%+v)", got, rep)
	}
	// The deletion leaves no trace in a search: reconciliation finds it.
	if _, err := tw.in.Reconcile(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	got = tw.sink.take()
	if len(got) != 1 {
		t.Fatalf("reconcile delivered %#v", got)
	}
	if d, ok := got[0].(contactsync.ContactDeleted); !ok || d.MemberID != "m0000" || d.ContactID != gone.ID {
		t.Errorf("deletion = %#v", got[0])
	}
	// Nothing new: a second reconciliation delivers nothing.
	tw.in.Reconcile(context.Background(), false)
	if got := tw.sink.take(); len(got) != 0 {
		t.Errorf("second reconcile delivered %#v", got)
	}
}

func TestDuplicatesAndReorderingDeliverOnceInEffectOrder(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	tw.sync(members(1))
	tw.deliver()
	tw.sink.take()
	tw.srv.SetWebhookOptions(contactstest.WebhookOptions{DuplicateRate: 1, Reorder: true})
	c := tw.byEmail("member0@example.com")[0]
	for i := 1; i <= 4; i++ {
		time.Sleep(2 * time.Millisecond) // distinct timestamps
		tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.LastName = fmt.Sprint("v", i) })
	}
	tw.deliver()
	var seen []string
	for _, ch := range tw.sink.take() {
		seen = append(seen, ch.(contactsync.ContactChanged).Fields["lastName"])
	}
	if strings.Join(seen, ",") != "v1,v2,v3,v4" {
		t.Errorf("sink saw %v, want each change once in effect order", seen)
	}
	// Late, older news is ignored.
	if _, err := tw.in.PollContacts(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := tw.sink.take(); len(got) != 0 {
		t.Errorf("poll after the webhooks delivered %#v", got)
	}
}

func TestWebhookStoredBeforeProcessingSurvivesACrash(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, apiWins())
	tw.sync(members(1))
	tw.deliver()
	tw.sink.take()
	c := tw.byEmail("member0@example.com")[0]
	tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.LastName = "AfterCrash" })
	flush(t, tw.srv) // acknowledged: stored in the inbox, not processed
	// The process dies here. A new Inbound over the same stores picks up.
	sink := &recordingSink{}
	in, err := contactsync.NewInbound(tw.client, tw.mem, tw.mem, tw.mem, engineMapping(t), sink, contactsync.WithInboundPolicies(apiWins()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.ProcessInbox(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := sink.take()
	if len(got) != 1 || got[0].(contactsync.ContactChanged).Fields["lastName"] != "AfterCrash" {
		t.Fatalf("after the crash: %#v", got)
	}
	// A redelivery of the same webhook does nothing.
	for _, d := range tw.srv.WebhookDeliveries() {
		if d.Delivered {
			ev, _ := webhook.Parse(d.Body)
			in.Receive(context.Background(), ev)
		}
	}
	in.ProcessInbox(context.Background())
	if got := sink.take(); len(got) != 0 {
		t.Errorf("redeliveries delivered %#v", got)
	}
}

func TestSinkFailureKeepsTheEvent(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, apiWins())
	tw.sync(members(1))
	tw.deliver()
	tw.sink.take()
	c := tw.byEmail("member0@example.com")[0]
	tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.LastName = "Retry" })
	tw.sink.fail = fmt.Errorf("gymflow is down")
	flush(t, tw.srv)
	if _, err := tw.in.ProcessInbox(context.Background()); err == nil {
		t.Fatal("a failing sink was not reported")
	}
	tw.sink.fail = nil
	tw.deliver()
	if got := tw.sink.take(); len(got) != 1 {
		t.Fatalf("after the sink recovered: %#v", got)
	}
}

func TestActivityReadModelMatchesTheAPI(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	ms := members(5)
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := range ms {
		ms[i].Tasks = []contactsync.Task{{ID: fmt.Sprint("t", i), Title: fmt.Sprint("Task ", i), Due: due.Add(time.Duration(i) * time.Hour)}}
		ms[i].Notes = []contactsync.Note{{ID: fmt.Sprint("n", i), Body: fmt.Sprint("Note ", i)}}
	}
	tw.sync(ms)
	crm := tw.srv.CRM()
	for i, m := range ms {
		c := tw.byEmail(m.Fields["email"].(string))[0]
		start := due.Add(time.Duration(24+i) * time.Hour)
		crm.CreateAppointment(contactstest.Appointment{ContactID: c.ID, Title: fmt.Sprint("Class ", i), StartTime: start, EndTime: start.Add(time.Hour)})
		if i == 2 { // edited in the CRM: no webhook for task edits
			crm.UpdateTask(tw.srv.Tasks(c.ID)[0].ID, func(t *contactstest.Task) { t.Title = "Edited in CRM" })
		}
	}
	tw.deliver()
	if _, err := tw.in.Reconcile(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	views := contactsync.NewViews(tw.mem, tw.mem)
	before := tw.srv.RequestCount()
	for _, m := range ms {
		c := tw.byEmail(m.Fields["email"].(string))[0]
		tl, err := views.Timeline(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, x := range tw.srv.Tasks(c.ID) {
			want = append(want, "task:"+x.Title)
		}
		for _, x := range tw.srv.Notes(c.ID) {
			want = append(want, "note:"+x.Body)
		}
		for _, x := range tw.srv.Appointments(c.ID) {
			want = append(want, "appointment:"+x.Title)
		}
		var got []string
		for _, a := range tl {
			switch a.Kind {
			case contactsync.KindNote:
				got = append(got, "note:"+a.Body)
			default:
				got = append(got, string(a.Kind)+":"+a.Title)
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: read model %v, API %v", m.ID, got, want)
		}
	}
	if n := tw.srv.RequestCount() - before; n != 0 {
		t.Errorf("reading timelines made %d API calls", n)
	}
}

// TestTaskCompletionTimeReachesTheReadModel: a task seen open, then
// completed in the CRM, gets its completion time from the TaskComplete
// webhook; the insights count it as done on time or late by it.
func TestTaskCompletionTimeReachesTheReadModel(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	ms := members(2)
	due := tw.srv.Now().Add(-time.Hour) // due an hour ago: completing it now is late
	for i := range ms {
		ms[i].Tasks = []contactsync.Task{{ID: fmt.Sprint("t", i), Title: fmt.Sprint("Call ", i), Due: due}}
	}
	tw.sync(ms)
	tw.deliver()
	c := tw.byEmail(ms[0].Fields["email"].(string))[0]
	task := tw.srv.Tasks(c.ID)[0]
	if a, err := tw.mem.Activity(context.Background(), contactsync.KindTask, task.ID); err != nil || a.Completed || !a.CompletedAt.IsZero() {
		t.Fatalf("before: %+v, %v", a, err)
	}
	if _, err := tw.srv.CRM().CompleteTask(task.ID, true); err != nil {
		t.Fatal(err)
	}
	tw.deliver()
	a, err := tw.mem.Activity(context.Background(), contactsync.KindTask, task.ID)
	if err != nil || !a.Completed || a.CompletedAt.IsZero() || !a.CompletedAt.After(due) {
		t.Fatalf("after the TaskComplete webhook: %+v, %v; want done, with a completion time after its due time", a, err)
	}
	views := contactsync.NewViews(tw.mem, tw.mem)
	views.Now = tw.srv.Now
	f, err := views.FollowUps(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	last := f.Weeks[len(f.Weeks)-1]
	if !contactsync.WeekStart(due).Equal(last.Week) {
		last = f.Weeks[len(f.Weeks)-2] // due in the last minutes of last week
	}
	if last.Late != 1 || last.Overdue != 1 || f.Timed != 1 || f.MedianLateness <= 0 {
		t.Errorf("follow-ups %+v, the week %+v: want one done late, one overdue", f, last)
	}
}

// TestBothSidesSettleWithoutALoop: 1,000 edits, half in GymFlow and half
// in the CRM, flow both ways until nothing is left to send; then the
// fake's request count stops growing.
func TestBothSidesSettleWithoutALoop(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	ms := members(50)
	gym := map[string]contactsync.Member{}
	for _, m := range ms {
		gym[m.ID] = m
	}
	tw.sync(ms)
	// The sink applies CRM changes to GymFlow, whose change feeds the outbound engine.
	var pending []contactsync.Change
	apply := func() {
		for _, ch := range tw.sink.take() {
			cc, ok := ch.(contactsync.ContactChanged)
			if !ok || cc.MemberID == "" {
				continue
			}
			m := gym[cc.MemberID]
			if v, ok := cc.Fields["lastName"]; ok {
				m.Fields["last_name"] = v
			}
			if v, ok := cc.Fields["firstName"]; ok {
				m.Fields["first_name"] = v
			}
			gym[cc.MemberID] = m
			pending = append(pending, contactsync.MemberUpserted{Member: m})
		}
	}
	settle := func() {
		for range 10 {
			tw.deliver()
			apply()
			if len(pending) == 0 {
				return
			}
			if _, err := tw.eng.Apply(context.Background(), changes(pending...)); err != nil {
				t.Fatal(err)
			}
			pending = nil
		}
		t.Fatal("did not settle in 10 rounds")
	}
	for i := range 1000 {
		// Consecutive edits hit the same member from both sides (GymFlow
		// its last name, the CRM its first name).
		m := gym[fmt.Sprintf("m%04d", (i/2)%50)]
		if i%2 == 0 { // a GymFlow edit
			m.Fields["last_name"] = fmt.Sprint("gym", i)
			gym[m.ID] = m
			if _, err := tw.eng.Apply(context.Background(), changes(contactsync.MemberUpserted{Member: m})); err != nil {
				t.Fatal(err)
			}
		} else { // a CRM edit
			c := tw.byEmail(m.Fields["email"].(string))[0]
			time.Sleep(time.Millisecond)
			tw.srv.CRM().UpdateContact(c.ID, func(x *contactstest.Contact) { x.FirstName = fmt.Sprint("crm", i) })
		}
		if i%100 == 99 {
			settle()
		}
	}
	settle()
	// Both sides agree, and nothing more is sent.
	for _, m := range gym {
		c := tw.byEmail(m.Fields["email"].(string))[0]
		if c.FirstName != m.Fields["first_name"] || c.LastName != m.Fields["last_name"] {
			t.Fatalf("%s: CRM %s %s, GymFlow %v %v", m.ID, c.FirstName, c.LastName, m.Fields["first_name"], m.Fields["last_name"])
		}
	}
	before := tw.srv.RequestCount()
	var all []contactsync.Member
	for _, m := range gym {
		all = append(all, m)
	}
	tw.sync(all)
	tw.deliver()
	if n := tw.srv.RequestCount() - before; n != 0 {
		t.Errorf("after settling, a full sync still made %d calls", n)
	}
	if got := tw.sink.take(); len(got) != 0 {
		t.Errorf("after settling, the sink still got %d changes", len(got))
	}
}

func TestProcessedInboxEntriesArePurged(t *testing.T) {
	t.Parallel()
	clock := contactstest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	mem := memstore.New()
	srv := contactstest.NewServer(contactstest.WithoutRateLimits())
	defer srv.Close()
	in, err := contactsync.NewInbound(srv.Client(), mem, mem, mem, engineMapping(t), &recordingSink{},
		contactsync.WithInboundClock(clock.Now), contactsync.WithInboxRetention(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	body := []byte(`{"type":"OpportunityCreate","webhookId":"w1","timestamp":"2026-01-01T00:00:00Z"}`)
	ev, _ := webhook.Parse(body)
	in.Receive(ctx, ev)
	in.ProcessInbox(ctx)
	if first, _ := mem.PutInbox(ctx, contactsync.InboxEntry{ID: "w1", Body: body}); first {
		t.Fatal("a processed ID was stored again within the retention")
	}
	clock.Advance(72 * time.Hour)
	in.ProcessInbox(ctx)
	if first, _ := mem.PutInbox(ctx, contactsync.InboxEntry{ID: "w1", Body: body}); !first {
		t.Error("a processed ID older than the retention was not purged")
	}
}

// TestEchoBeforeTheEngineCommits: a webhook processed after the engine's
// create reached the API but before it committed its link (or after a
// crash in between) is still recognised as the sync's own.
func TestEchoBeforeTheEngineCommits(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, apiWins(), contactsync.WithUnlinkedContacts())
	ms := members(1)
	tw.sync(ms)
	tw.deliver()
	tw.sink.take()
	contactID := tw.byEmail("member0@example.com")[0].ID
	// A crash right after the task and the contact creates reached the API:
	// the intents are recorded, the links are not.
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	crash := &crashAfterWrite{base: tw.srv.HTTPClient().Transport, write: 1}
	ctx, cancel := context.WithCancel(context.Background())
	crash.cancel = cancel
	crashing := tw.srv.Client(contacts.WithHTTPClient(&http.Client{Transport: crash}), contacts.WithRetryPolicy(contacts.RetryPolicy{}))
	eng := tw.engine(crashing)
	ms[0].Tasks = []contactsync.Task{{ID: "t1", Title: "Call", Due: due}}
	newcomer := member(7)
	eng.Apply(ctx, changes(contactsync.TaskUpserted{Member: ms[0].ID, Task: ms[0].Tasks[0]}))
	crash2 := &crashAfterWrite{base: tw.srv.HTTPClient().Transport, write: 1}
	ctx2, cancel2 := context.WithCancel(context.Background())
	crash2.cancel = cancel2
	eng2 := tw.engine(tw.srv.Client(contacts.WithHTTPClient(&http.Client{Transport: crash2}), contacts.WithRetryPolicy(contacts.RetryPolicy{})))
	eng2.Apply(ctx2, changes(contactsync.MemberUpserted{Member: newcomer}))
	if len(tw.srv.Tasks(contactID)) != 1 || len(tw.byEmail("member7@example.com")) != 1 {
		t.Fatal("the crashed writes did not reach the API")
	}
	tw.deliver()
	if got := tw.sink.take(); len(got) != 0 {
		t.Fatalf("the sync's own in-flight creates came back as changes: %#v", got)
	}
}

// crashAfterWrite forwards requests; after the write-th write it cancels
// the run and fails every later request, as a dying process would.
type crashAfterWrite struct {
	base   http.RoundTripper
	write  int
	seen   int
	cancel context.CancelFunc
	mu     sync.Mutex
}

func (c *crashAfterWrite) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if r.Method != http.MethodGet && !strings.HasSuffix(r.URL.Path, "/search") {
		c.seen++
	}
	n := c.seen
	c.mu.Unlock()
	if n > c.write {
		return nil, fmt.Errorf("process died")
	}
	resp, err := c.base.RoundTrip(r)
	if n == c.write && r.Method != http.MethodGet {
		c.cancel()
		if resp != nil {
			resp.Body.Close()
		}
		return nil, fmt.Errorf("process died")
	}
	return resp, err
}

// TestSyncRunsShowTheRunLog: sync health reads the engine's run log, with
// each run's changes, API calls and the day's budget as last reported.
func TestSyncRunsShowTheRunLog(t *testing.T) {
	t.Parallel()
	tw := newTwoWay(t, newestWins())
	tw.sync(members(3))
	tw.sync(members(4)) // one more member: one change that costs calls
	runs, err := contactsync.NewViews(tw.mem, tw.mem).SyncRuns(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	newest, first := runs[0], runs[1]
	if first.Changes != 3 || newest.Changes != 4 || first.APICalls <= 0 || newest.Started.Before(first.Started) {
		t.Errorf("runs %+v", runs)
	}
	// This fake counts no budget; it reports the full one.
	for _, r := range runs {
		if r.DailyLimit != 200000 || r.DailyRemaining != 200000 || r.DailyUsed != 0 || r.Err != "" {
			t.Errorf("budget of the run: %+v", r)
		}
	}
}
