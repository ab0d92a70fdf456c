package contactsync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

// crashMode is where a simulated crash hits a write.
type crashMode string

const (
	// crashAfter: the write reaches the server and is processed; the
	// client never learns it and the run is cancelled (the process died
	// while the answer was on its way).
	crashAfter crashMode = "processed"
	// crashBefore: the write never reaches the server (the process died
	// just before sending it).
	crashBefore crashMode = "lost"
)

var errCrash = errors.New("simulated crash")

// A crash case: where the crash hits, how many workers the crashing run
// has, and the store.
type crashCase struct {
	mode    crashMode
	workers int
	sqlite  bool
}

// crashTransport counts the write requests (POST, PUT, DELETE) going
// through it and "crashes" at the at-th one (1-based; 0 never): it cancels
// the run's context and fails the request, after (crashAfter) or instead
// of (crashBefore) forwarding it.
type crashTransport struct {
	base   http.RoundTripper
	mode   crashMode
	at     int64
	cancel context.CancelFunc

	writes  atomic.Int64
	crashed atomic.Bool
	mu      sync.Mutex
	log     []string // the writes seen, "METHOD path"
}

func isWrite(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodDelete
}

func (t *crashTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isWrite(req.Method) {
		return t.base.RoundTrip(req)
	}
	n := t.writes.Add(1)
	t.mu.Lock()
	t.log = append(t.log, req.Method+" "+req.URL.Path)
	t.mu.Unlock()
	if n != t.at {
		return t.base.RoundTrip(req)
	}
	t.crashed.Store(true)
	if t.mode == crashBefore {
		if req.Body != nil {
			req.Body.Close()
		}
		t.cancel()
		return nil, errCrash
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	t.cancel()
	return nil, errCrash
}

// crashPhase is one run of the crash scenario: a batch sync or a batch of
// incremental changes.
type crashPhase struct {
	name    string
	members []contactsync.Member // a SyncMembers run, or
	changes []contactsync.Change // an Apply run
}

func (p crashPhase) run(ctx context.Context, eng *contactsync.Engine) (*contactsync.Report, error) {
	if p.members != nil {
		return eng.SyncMembers(ctx, seq(p.members))
	}
	return eng.Apply(ctx, func(yield func(contactsync.Change, error) bool) {
		for _, c := range p.changes {
			if !yield(c, nil) {
				return
			}
		}
	})
}

var crashClock = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

// crashScenario returns three phases that make the kinds of write an engine
// with the default delete policy makes (all but lifting an archive):
// contact creates (one refused as a duplicate of a CRM contact, then
// linked: an update and a tag add), task and note creates (one task
// without a due date) and updates, field and tag changes in a batch and as
// events, a lead signup with its welcome task (delivered twice), an
// archive, task and note events, and a second batch that changes fields
// and tags again.
func crashScenario() []crashPhase {
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ms := members(6)
	ms[0].Tasks = []contactsync.Task{{ID: "t0a", Title: "Book intro", Due: due}}
	ms[0].Notes = []contactsync.Note{{ID: "n0a", Body: "Wants mornings"}}
	ms[1].Tags = []string{"member", "gold"}
	ms[1].Tasks = []contactsync.Task{{ID: "t1a", Title: "Call back"}} // due defaults to a day later
	ms[1].Notes = []contactsync.Note{{ID: "n1a", Body: "Knee injury"}, {ID: "n1b", Body: "Prefers SMS"}}
	ms[2].Tasks = []contactsync.Task{{ID: "t2a", Title: "Renewal", Due: due}} // member2 is a CRM duplicate
	ms[5].Notes = []contactsync.Note{{ID: "n5a", Body: "Referred by m0000"}}

	clone := func(m contactsync.Member) contactsync.Member {
		c := m
		c.Fields = map[string]any{}
		for k, v := range m.Fields {
			c.Fields[k] = v
		}
		c.Tags = slices.Clone(m.Tags)
		c.Tasks = slices.Clone(m.Tasks)
		c.Notes = slices.Clone(m.Notes)
		return c
	}
	phase1 := make([]contactsync.Member, len(ms))
	for i, m := range ms {
		phase1[i] = clone(m)
	}

	m0 := clone(ms[0])
	m0.Fields["last_name"] = "Renamed"
	m0.Tags = append(m0.Tags, "vip")
	m0.Tasks[0].Done = true
	m0.Notes[0].Body = "Wants evenings"
	m2 := clone(ms[2])
	m2.Fields["plan"] = "premium"
	lead := member(40)
	lead.ID = "lead-40"
	lead.Tags = []string{"lead"}
	phase2 := []contactsync.Change{
		contactsync.MemberUpserted{Member: m0},
		contactsync.TagsChanged{Member: "m0003", Added: []string{"vip"}, Removed: []string{"member"}},
		contactsync.MemberDeleted{Member: "m0004"},
		contactsync.LeadSignedUp{Lead: lead},
		contactsync.TaskUpserted{Member: "m0005", Task: contactsync.Task{ID: "t5a", Title: "Follow up", Due: due}},
		contactsync.NoteUpserted{Member: "m0001", Note: contactsync.Note{ID: "n1a", Body: "Knee fine now"}},
		contactsync.MemberUpserted{Member: m2},
		contactsync.LeadSignedUp{Lead: lead}, // delivered again
	}

	// A second batch: the members as GymFlow now has them (m0004 is gone),
	// with more changes.
	m1 := clone(ms[1])
	m1.Tags = []string{"member"} // gold removed
	m1.Notes[0].Body = "Knee fine now"
	m3 := clone(ms[3])
	m3.Tags = []string{"vip"}
	m3.Fields["first_name"] = "Third"
	m5 := clone(ms[5])
	m5.Fields["phone"] = "+1 202 555 0105"
	m5.Tasks = []contactsync.Task{{ID: "t5a", Title: "Follow up", Due: due, Done: true}}
	phase3 := []contactsync.Member{clone(m0), m1, clone(m2), m3, m5}

	return []crashPhase{{name: "batch", members: phase1}, {name: "events", changes: phase2}, {name: "batch again", members: phase3}}
}

// crashWorld is one fake and one store for the crash scenario.
type crashWorld struct {
	t     *testing.T
	srv   *contactstest.Server
	store contactsync.StateStore
	path  string // SQLite file; "" for a memory store
	// front serves the fake to the engines: the crashed process's
	// connections end with it (see restart).
	front *httptest.Server
}

func newCrashWorld(t *testing.T, sqlite bool) *crashWorld {
	t.Helper()
	srv := contactstest.NewServer(contactstest.WithoutRateLimits(), contactstest.WithSeed(7))
	t.Cleanup(srv.Close)
	if _, err := srv.AddCustomField(srv.LocationID(), "membership_plan"); err != nil {
		t.Fatal(err)
	}
	// A contact made in the CRM before the sync, with member2's address.
	srv.SeedContact(contactstest.Contact{Email: "member2@example.com", FirstName: "Old", Tags: []string{"crm-automation"}})
	w := &crashWorld{t: t, srv: srv, front: httptest.NewServer(srv)}
	t.Cleanup(func() { w.front.Close() })
	if sqlite {
		w.path = filepath.Join(t.TempDir(), "sync.db")
		w.store = w.openSQLite()
	} else {
		w.store = memstore.New()
	}
	return w
}

func (w *crashWorld) openSQLite() sqliteStore {
	db, err := sqlstore.OpenSQLite(w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { db.Close() })
	s, err := db.Location(w.srv.LocationID())
	if err != nil {
		w.t.Fatal(err)
	}
	return sqliteStore{Store: s, db: db}
}

// restart simulates a new process. The crashed process's connections are
// closed once the server has finished every request it had received
// (httptest.Server.Close waits for them), and the fake is served afresh;
// a SQLite store is closed and opened again from its file (a memory store
// is kept: it stands for a store that survives).
//
// Waiting for the server matters, and is a limit of the engine, not of
// the test: it resolves a pending create by looking the record up, which
// cannot see a create the server is still processing for the dead process
// (the API has no idempotency keys). With four workers the cancellation
// cuts requests that the fake goes on to process, and a re-run started at
// once sometimes raced them and created a welcome task twice.
func (w *crashWorld) restart() {
	w.front.Close()
	w.front = httptest.NewServer(w.srv)
	if w.path == "" {
		return
	}
	if err := w.store.(sqliteStore).Close(); err != nil {
		w.t.Fatal(err)
	}
	w.store = w.openSQLite()
}

func (w *crashWorld) engine(hc *http.Client) *contactsync.Engine { return w.engineN(hc, 1) }

// engineN returns an engine with n workers over the world's fake and store.
func (w *crashWorld) engineN(hc *http.Client, n int) *contactsync.Engine {
	w.t.Helper()
	if hc == nil {
		hc = w.front.Client()
	}
	opts := []contacts.Option{contacts.WithBaseURL(w.front.URL), contacts.WithHTTPClient(hc),
		contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetryAfter: time.Second})}
	eng, err := contactsync.NewEngine(w.srv.Client(opts...), w.store, engineMapping(w.t),
		contactsync.WithConcurrency(n), contactsync.WithClock(func() time.Time { return crashClock }),
		// restart waits for the dead run's requests to reach the server:
		// nothing is in flight, nothing to wait for.
		contactsync.WithResolveGrace(0))
	if err != nil {
		w.t.Fatal(err)
	}
	return eng
}

// runClean runs phases with a normal client; each must finish without
// error or failure.
func (w *crashWorld) runClean(phases []crashPhase) {
	w.t.Helper()
	for _, p := range phases {
		rep, err := p.run(context.Background(), w.engine(nil))
		if err != nil || rep.Failed != 0 {
			w.t.Fatalf("phase %q: %v\n%s", p.name, err, rep)
		}
	}
}

// snapshot renders what the fake holds and what the store links, without
// IDs or times, so that two worlds can be compared.
func (w *crashWorld) snapshot() string {
	w.t.Helper()
	ctx := context.Background()
	var lines []string
	emailOf := map[string]string{}
	for _, c := range w.srv.Contacts("") {
		emailOf[c.ID] = c.Email
		tags := slices.Clone(c.Tags)
		slices.Sort(tags)
		var cfs []string
		for _, f := range c.CustomFields {
			cfs = append(cfs, fmt.Sprint(f.Value))
		}
		slices.Sort(cfs)
		lines = append(lines, fmt.Sprintf("contact %s: %q %q %s tags=%v custom=%v source=%s dnd=%t",
			c.Email, c.FirstName, c.LastName, c.Phone, tags, cfs, c.Source, c.DND))
		for _, t := range w.srv.Tasks(c.ID) {
			lines = append(lines, fmt.Sprintf("task of %s: %q %q due=%s done=%t", c.Email, t.Title, t.Body, t.DueDate.UTC().Format(time.RFC3339), t.Completed))
		}
		for _, n := range w.srv.Notes(c.ID) {
			lines = append(lines, fmt.Sprintf("note of %s: %q", c.Email, n.Body))
		}
	}
	for _, kind := range []contactsync.Kind{contactsync.KindMember, contactsync.KindTask, contactsync.KindNote} {
		links, err := w.store.Links(ctx, kind, "", 0)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, l := range links {
			tags := slices.Clone(l.Tags)
			slices.Sort(tags)
			lines = append(lines, fmt.Sprintf("link %s %s → %s (member %s, contact %s) hash=%.12s tags=%v archived=%t",
				kind, l.LocalID, emailOf[l.RemoteID]+map[bool]string{true: "", false: "?"}[kind == contactsync.KindMember],
				l.MemberID, emailOf[l.ContactID], l.Hash, tags, l.Archived))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// check asserts the invariants of a finished scenario: every member once
// in the fake, every GymFlow task, note and welcome task once on its
// contact, the deleted member archived, no intent left, and links that
// match the fake one to one.
func (w *crashWorld) check() {
	w.t.Helper()
	ctx := context.Background()
	for _, email := range []string{"member0@example.com", "member1@example.com", "member2@example.com", "member3@example.com",
		"member4@example.com", "member5@example.com", "member40@example.com"} {
		n := 0
		for _, c := range w.srv.Contacts("") {
			if strings.EqualFold(c.Email, email) {
				n++
			}
		}
		if n != 1 {
			w.t.Errorf("%d contacts with %s, want 1", n, email)
		}
	}
	if n := len(w.srv.Contacts("")); n != 7 {
		w.t.Errorf("%d contacts in the fake, want 7", n)
	}
	if in, err := w.store.Intents(ctx); err != nil || len(in) != 0 {
		w.t.Errorf("intents left: %+v (%v)", in, err)
	}
	links := map[contactsync.Kind][]contactsync.Link{}
	for _, kind := range []contactsync.Kind{contactsync.KindMember, contactsync.KindTask, contactsync.KindNote} {
		l, err := w.store.Links(ctx, kind, "", 0)
		if err != nil {
			w.t.Fatal(err)
		}
		links[kind] = l
	}
	contactOf := map[string]string{} // member → contact
	for _, l := range links[contactsync.KindMember] {
		contactOf[l.LocalID] = l.RemoteID
		c, ok := w.srv.Contact(l.RemoteID)
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(strings.TrimPrefix(l.LocalID, "lead-"), "m"), "%d", &n); err != nil {
			w.t.Fatalf("member ID %q", l.LocalID)
		}
		want := fmt.Sprintf("member%d@example.com", n)
		if !ok || c.Email != want {
			w.t.Errorf("member %s links %s: %+v (exists %t), want %s", l.LocalID, l.RemoteID, c.Email, ok, want)
		}
		archived := slices.Contains(c.Tags, contactsync.DefaultArchiveTag)
		if l.Archived != (l.LocalID == "m0004") || archived != l.Archived {
			w.t.Errorf("member %s: link archived %t, contact tags %v", l.LocalID, l.Archived, c.Tags)
		}
	}
	if len(contactOf) != 7 {
		w.t.Errorf("%d member links, want 7", len(contactOf))
	}
	wantTasks := map[string]string{"t0a": "m0000", "t1a": "m0001", "t2a": "m0002", "t5a": "m0005", "welcome/lead-40": "lead-40"}
	wantNotes := map[string]string{"n0a": "m0000", "n1a": "m0001", "n1b": "m0001", "n5a": "m0005"}
	for kind, want := range map[contactsync.Kind]map[string]string{contactsync.KindTask: wantTasks, contactsync.KindNote: wantNotes} {
		got := map[string]string{}
		for _, l := range links[kind] {
			got[l.LocalID] = l.MemberID
			if l.ContactID != contactOf[l.MemberID] {
				w.t.Errorf("%s %s: contact %s, its member's is %s", kind, l.LocalID, l.ContactID, contactOf[l.MemberID])
			}
			var found bool
			if kind == contactsync.KindTask {
				found = slices.ContainsFunc(w.srv.Tasks(l.ContactID), func(t contactstest.Task) bool { return t.ID == l.RemoteID })
			} else {
				found = slices.ContainsFunc(w.srv.Notes(l.ContactID), func(n contactstest.Note) bool { return n.ID == l.RemoteID })
			}
			if !found {
				w.t.Errorf("%s %s links %s, which is not on contact %s", kind, l.LocalID, l.RemoteID, l.ContactID)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			w.t.Errorf("%s links %v, want %v", kind, got, want)
		}
	}
	// Exactly once: the fake holds no task or note the store does not link.
	var tasks, notes int
	for _, c := range w.srv.Contacts("") {
		tasks += len(w.srv.Tasks(c.ID))
		notes += len(w.srv.Notes(c.ID))
	}
	if tasks != len(wantTasks) || notes != len(wantNotes) {
		w.t.Errorf("the fake holds %d tasks and %d notes, want %d and %d", tasks, notes, len(wantTasks), len(wantNotes))
	}
}

// TestCrashAtEveryWrite kills the run at every write point in turn —
// once after the server processed the write, once before it was sent —
// and checks that re-running yields no duplicate contact, task, note or
// welcome task, no missing member, and the state of a run that never
// crashed.
//
// The crashing run has one worker, so that the k-th write is the same
// write as in the clean run and every write point is hit. A third series
// crashes a run of four workers at its k-th write: which write that is
// varies, and the cancellation also cuts the other workers' requests in
// flight, some of which the server has processed — several interrupted
// writes at once.
func TestCrashAtEveryWrite(t *testing.T) {
	t.Parallel()
	phases := crashScenario()

	// A clean run: how many writes, and the end state to reach.
	clean := newCrashWorld(t, false)
	counter := &crashTransport{base: clean.front.Client().Transport}
	for _, p := range phases {
		rep, err := p.run(context.Background(), clean.engine(&http.Client{Transport: counter}))
		if err != nil || rep.Failed != 0 {
			t.Fatalf("clean run, phase %q: %v\n%s", p.name, err, rep)
		}
	}
	clean.check()
	want := clean.snapshot()
	writes := int(counter.writes.Load())
	serverWrites := 0
	for _, r := range clean.srv.Requests() {
		if isWrite(r.Method) {
			serverWrites++
		}
	}
	if writes != serverWrites || writes < 25 {
		t.Fatalf("clean run: %d writes through the client, %d at the server\n%s", writes, serverWrites, strings.Join(counter.log, "\n"))
	}
	t.Logf("a clean run makes %d writes:\n%s", writes, strings.Join(counter.log, "\n"))

	// The processed-write mode runs on a SQLite file, closed and opened
	// again after the crash like a new process would; the others on a
	// memory store.
	cases := []crashCase{{crashAfter, 1, true}, {crashBefore, 1, false}, {crashAfter, 4, false}}
	for _, cc := range cases {
		for k := 1; k <= writes; k++ {
			t.Run(fmt.Sprintf("%s/workers=%d/%02d", cc.mode, cc.workers, k), func(t *testing.T) {
				t.Parallel()
				w := newCrashWorld(t, cc.sqlite)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				ct := &crashTransport{base: w.front.Client().Transport, mode: cc.mode, at: int64(k), cancel: cancel}
				eng := w.engineN(&http.Client{Transport: ct}, cc.workers)
				crashed := -1
				for i, p := range phases {
					rep, err := p.run(ctx, eng)
					if err != nil {
						if !errors.Is(err, context.Canceled) {
							t.Fatalf("phase %q stopped with %v, want a cancellation", p.name, err)
						}
						crashed = i
						break
					}
					if rep.Failed != 0 {
						t.Fatalf("phase %q before the crash: %s", p.name, rep)
					}
				}
				if crashed < 0 || !ct.crashed.Load() {
					t.Fatalf("no crash at write %d (%d writes)", k, ct.writes.Load())
				}
				w.restart()

				// Re-run the phase that crashed with a normal client until
				// it reports no failure (a second run is allowed), then
				// the phases after it.
				p := phases[crashed]
				for attempt := 1; ; attempt++ {
					rep, err := p.run(context.Background(), w.engine(nil))
					if err == nil && rep.Failed == 0 {
						break
					}
					if attempt == 2 {
						t.Fatalf("phase %q still failing after %d re-runs: %v\n%s", p.name, attempt, err, rep)
					}
				}
				w.runClean(phases[crashed+1:])

				w.check()
				if got := w.snapshot(); got != want {
					t.Errorf("end state differs from a run that never crashed:\n--- got\n%s\n--- want\n%s", got, want)
				}
				// Converged: the last batch again costs nothing.
				before := w.srv.RequestCount()
				w.runClean(phases[len(phases)-1:])
				if n := w.srv.RequestCount() - before; n != 0 {
					t.Errorf("re-running the last batch after recovery made %d requests", n)
				}
			})
		}
	}
}

// TestPendingCreateIsResolvedBeforeCreatingAgain: a create whose outcome
// is unknown (the server processed it, the client never learned) leaves an
// intent. If looking the record up fails too, the record must not be
// created again blindly — not by the member's upsert later in the run that
// could not resolve the intent, nor by a second change of the same record
// in the same run — or a task is duplicated (tasks have no duplicate
// check), and so is a contact in a location that allows duplicates.
func TestPendingCreateIsResolvedBeforeCreatingAgain(t *testing.T) {
	t.Parallel()
	retries := contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	lookupFails := make([]contactstest.Scripted, 4) // the first try and 3 retries
	for i := range lookupFails {
		lookupFails[i] = contactstest.Scripted{Status: http.StatusInternalServerError}
	}
	// lossy returns an engine whose at-th write is processed by the server
	// while the client sees a failure; cancel, if set, ends the run then.
	lossy := func(w *world, at int64, cancel context.CancelFunc) *contactsync.Engine {
		if cancel == nil {
			cancel = func() {}
		}
		ct := &crashTransport{base: w.srv.HTTPClient().Transport, mode: crashAfter, at: at, cancel: cancel}
		return w.engine(w.srv.Client(retries, contacts.WithHTTPClient(&http.Client{Transport: ct})))
	}
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	m := member(1)
	m.Tasks = []contactsync.Task{{ID: "t1", Title: "Book intro", Due: due}}
	email := "member1@example.com"

	t.Run("task, after a crash", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if _, err := lossy(w, 2, cancel).SyncMembers(ctx, seq([]contactsync.Member{m})); !errors.Is(err, context.Canceled) {
			t.Fatalf("crashed run: %v", err)
		}
		cid := w.byEmail(email)[0].ID
		w.srv.Script("GET", "/contacts/"+cid+"/tasks", lookupFails...)
		eng := w.engine(w.srv.Client(retries))
		rep, err := eng.SyncMembers(context.Background(), seq([]contactsync.Member{m}))
		t.Logf("re-run: %v\n%s", err, rep)
		rep, err = eng.SyncMembers(context.Background(), seq([]contactsync.Member{m}))
		if err != nil || rep.Failed != 0 {
			t.Fatalf("second re-run: %v\n%s", err, rep)
		}
		if tasks := w.srv.Tasks(cid); len(tasks) != 1 {
			t.Errorf("%d tasks, want 1: %+v", len(tasks), tasks)
		}
	})

	t.Run("contact, after a crash, duplicates allowed", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		if err := w.srv.SetLocationSettings(w.srv.LocationID(), contactstest.LocationSettings{AllowDuplicateContact: true}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if _, err := lossy(w, 1, cancel).SyncMembers(ctx, seq([]contactsync.Member{m})); !errors.Is(err, context.Canceled) {
			t.Fatalf("crashed run: %v", err)
		}
		w.srv.Script("GET", "/contacts/search/duplicate", lookupFails...)
		eng := w.engine(w.srv.Client(retries))
		rep, err := eng.SyncMembers(context.Background(), seq([]contactsync.Member{m}))
		t.Logf("re-run: %v\n%s", err, rep)
		rep, err = eng.SyncMembers(context.Background(), seq([]contactsync.Member{m}))
		if err != nil || rep.Failed != 0 {
			t.Fatalf("second re-run: %v\n%s", err, rep)
		}
		if cs := w.byEmail(email); len(cs) != 1 {
			t.Errorf("%d contacts with %s, want 1", len(cs), email)
		}
	})

	t.Run("task, twice in one run", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		w.sync([]contactsync.Member{member(1)})
		cid := w.byEmail(email)[0].ID
		w.srv.Script("GET", "/contacts/"+cid+"/tasks", lookupFails...)
		up := contactsync.TaskUpserted{Member: m.ID, Task: m.Tasks[0]}
		// The first write is lost on its way back, and so is the lookup;
		// the same task arrives again.
		rep, err := lossy(w, 1, nil).Apply(context.Background(), changes(up, up))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("run: %s", rep)
		if _, err := w.engine(w.srv.Client(retries)).Apply(context.Background(), changes(up)); err != nil {
			t.Fatal(err)
		}
		if tasks := w.srv.Tasks(cid); len(tasks) != 1 {
			t.Errorf("%d tasks, want 1: %+v", len(tasks), tasks)
		}
	})
}
