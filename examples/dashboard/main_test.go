package main

import (
	"bufio"
	"context"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// testNow is the demonstration's clock in the tests: Monday 2 March 2026,
// 10:00 UTC.
var testNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// sharedDemo is the demonstration at testNow, showing times in UTC, built
// once (its history plays hundreds of signed webhooks) for the tests that
// only read it.
var sharedDemo = sync.OnceValues(func() (*demo, error) {
	return newDemo(context.Background(), func() time.Time { return testNow }, time.UTC)
})

// newTestDemo returns the shared demonstration, served by an httptest
// server of the test's own. Tests that change the demonstration or call
// its API use newOwnDemo.
func newTestDemo(t *testing.T) (*demo, *httptest.Server) {
	t.Helper()
	d, err := sharedDemo()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(d.handler)
	t.Cleanup(ts.Close)
	return d, ts
}

// newOwnDemo returns a demonstration of the test's own, like newTestDemo's.
func newOwnDemo(t *testing.T) (*demo, *httptest.Server) {
	t.Helper()
	d, err := newDemo(t.Context(), func() time.Time { return testNow }, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	ts := httptest.NewServer(d.handler)
	t.Cleanup(ts.Close)
	return d, ts
}

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// page fetches a page that must exist.
func page(t *testing.T, url string) string {
	t.Helper()
	status, body := get(t, url)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d\n%s", url, status, body)
	}
	return body
}

// between returns the part of s from the first from to the next to after
// it (or to the end).
func between(t *testing.T, s, from, to string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		t.Fatalf("the page has no %q:\n%s", from, s)
	}
	part, _, _ := strings.Cut(rest, to)
	return part
}

// wantIn fails unless s has every one of want.
func wantIn(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// wantNotIn fails if s has any of unwanted.
func wantNotIn(t *testing.T, what, s string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(s, u) {
			t.Errorf("%s has %q:\n%s", what, u, s)
		}
	}
}

// wantOrder fails unless s has parts in this order, each after the end
// of the one before.
func wantOrder(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	rest := s
	for _, p := range parts {
		_, after, ok := strings.Cut(rest, p)
		if !ok {
			t.Errorf("%s does not have %q after %q:\n%s", what, p, s[:len(s)-len(rest)], s)
			return
		}
		rest = after
	}
}

func TestFrontPage(t *testing.T) {
	d, ts := newTestDemo(t)
	body := page(t, ts.URL+"/")

	// Every member, escaped.
	for _, m := range d.members {
		wantIn(t, "the front page", body, `<a href="/members/`+m.ID+`">`+template.HTMLEscapeString(m.Name)+`</a>`, m.Email)
	}
	wantIn(t, "the front page", body, "Zoë O&#39;Brien")
	wantNotIn(t, "the front page", body, "O'Brien", "<HIIT>")

	// Counts and next appointment per member.
	members := between(t, body, `id="members"`, "</table>")
	ana := between(t, members, `href="/members/m001"`, "</tr>")
	wantIn(t, "Ana Lima's row", ana, "<td>2</td>", `<span class="overdue">1 overdue</span>`, "Mon 2 Mar 11:00 · PT session")
	ben := between(t, members, `href="/members/m002"`, "</tr>")
	wantIn(t, "Ben Carter's row", ben, "<td>1</td>", "1 overdue", "Tue 3 Mar 12:00 · Spin class")
	// Yusuf's only appointment is cancelled.
	yusuf := between(t, members, `href="/members/m025"`, "</tr>")
	wantIn(t, "Yusuf Demir's row", yusuf, "<td>2</td>", "1 overdue", `<span class="muted">none</span>`)
	zoe := between(t, members, `href="/members/m026"`, "</tr>")
	wantIn(t, "Zoë O'Brien's row", zoe, "<td>0</td>", `<span class="muted">0</span>`)

	overdue := between(t, body, `id="overdue"`, `id="upcoming"`)
	wantIn(t, "the overdue panel", overdue, `<span class="overdue">overdue</span> <b>Renewal call: membership ends soon</b>`,
		"due Sun 1 Mar 10:00", "Ana Lima", "Follow up on missed classes", "due Mon 2 Mar 07:00", "Ben Carter",
		"Offer the annual upgrade", "Chase the failed card payment")
	wantNotIn(t, "the overdue panel", overdue, "Book a PT intro session", "Send the welcome pack")

	upcoming := between(t, body, `id="upcoming"`, `id="notes"`)
	wantIn(t, "the upcoming panel", upcoming, "<b>Mon 2 Mar 11:00</b>–12:00 PT session", "Ana Lima", "Tue 3 Mar 12:00", "Ben Carter")
	wantNotIn(t, "the upcoming panel", upcoming, "Yusuf Demir", "cancelled", "Sat 28 Feb") // cancelled, past
	wantOrder(t, "the upcoming panel", upcoming, "Mon 2 Mar 11:00", "Tue 3 Mar 12:00")

	notes := between(t, body, `id="notes"`, "</section>")
	wantIn(t, "the notes panel", notes, "Knee injury: no high-impact &lt;HIIT&gt; for four weeks.", "Carla Souza",
		"Prefers early morning classes.", "Interested in the family plan &amp; the pool.")
	wantNotIn(t, "the notes panel", notes, "Joined with a friend") // 20 days old
	wantOrder(t, "the notes panel", notes, "Mon 2 Mar 09:00 · <a href=\"/members/m001\">", "Sun 1 Mar 09:00")
}

func TestMemberPage(t *testing.T) {
	_, ts := newTestDemo(t)

	body := page(t, ts.URL+"/members/m001")
	wantIn(t, "Ana Lima's page", body, "<h1>Ana Lima</h1>", "ana.lima@example.com")
	follow := between(t, body, `id="follow-ups"`, `id="timeline"`)
	wantIn(t, "Ana Lima's follow-ups", follow,
		`<span class="overdue">overdue</span> <b>Renewal call: membership ends soon</b> <span class="muted">due Sun 1 Mar 10:00</span>`,
		`<b>Book a PT intro session</b> <span class="muted">due Tue 3 Mar 12:00</span>`,
		"<b>PT session</b> Mon 2 Mar 11:00–12:00")
	wantNotIn(t, "Ana Lima's follow-ups", follow, "Send the welcome pack", `overdue</span> <b>Book`)
	timeline := between(t, body, `id="timeline"`, "</ol>")
	wantOrder(t, "Ana Lima's timeline", timeline,
		"Tue 10 Feb 10:00", "Joined with a friend; both on the annual plan.",
		"Mon 16 Feb 10:00", "Send the welcome pack", "done",
		"Sun 1 Mar 10:00", "Renewal call: membership ends soon", "overdue",
		"Mon 2 Mar 09:00", "Prefers early morning classes.",
		`<li class="now">now · Mon 2 Mar 10:00</li>`,
		"Mon 2 Mar 11:00", "PT session", "Studio 1", "confirmed",
		"Tue 3 Mar 12:00", "Book a PT intro session")
	wantIn(t, "Ana Lima's timeline", timeline, `<li class="task done">`)

	body = page(t, ts.URL+"/members/m025")
	timeline = between(t, body, `id="timeline"`, "</ol>")
	wantIn(t, "Yusuf Demir's timeline", timeline,
		`<li class="appointment cancelled"><span class="when">Mon 2 Mar 15:00</span>`, "cancelled")
	follow = between(t, body, `id="follow-ups"`, `id="timeline"`)
	wantNotIn(t, "Yusuf Demir's follow-ups", follow, "PT session")
	wantIn(t, "Yusuf Demir's follow-ups", follow, "Offer the annual upgrade")

	body = page(t, ts.URL+"/members/m002")
	wantIn(t, "Ben Carter's page", body, "Sat 28 Feb 18:00", "showed", "Follow up on missed classes",
		"Asked about freezing the membership over the summer.")

	body = page(t, ts.URL+"/members/m026")
	wantIn(t, "Zoë O'Brien's page", body, "<h1>Zoë O&#39;Brien</h1>", "<title>Zoë O&#39;Brien · GymFlow</title>", "No open tasks.")
	wantNotIn(t, "Zoë O'Brien's page", body, "O'Brien")

	body = page(t, ts.URL+"/members/m003")
	wantIn(t, "Carla Souza's page", body, "Knee injury: no high-impact &lt;HIIT&gt; for four weeks.")
	wantNotIn(t, "Carla Souza's page", body, "<HIIT>")
}

func TestNotFound(t *testing.T) {
	d, ts := newOwnDemo(t)
	for _, path := range []string{"/members/nope", "/members/", "/members/m001/x", "/nope", "/members/m999"} {
		if status, body := get(t, ts.URL+path); status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404\n%s", path, status, body)
		}
	}
	// A member GymFlow knows but the sync has not linked (yet).
	if err := d.store.DeleteLink(t.Context(), contactsync.KindMember, "m001"); err != nil {
		t.Fatal(err)
	}
	if status, _ := get(t, ts.URL+"/members/m001"); status != http.StatusNotFound {
		t.Errorf("GET /members/m001 of an unlinked member: status %d, want 404", status)
	}
	resp, err := http.Post(ts.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: status %d, want 405", resp.StatusCode)
	}
}

// TestPagesMakeNoAPICalls serves every page, twice, and counts the fake
// API's requests: none.
func TestPagesMakeNoAPICalls(t *testing.T) {
	d, ts := newTestDemo(t)
	before := d.api.RequestCount()
	if want := 1 + 3*len(d.members); d.loadCalls != want {
		t.Errorf("loading the read model took %d API calls, want one search and 3 per member (%d)", d.loadCalls, want)
	}
	for range 2 {
		page(t, ts.URL+"/")
		for _, m := range d.members {
			page(t, ts.URL+"/members/"+m.ID)
		}
		get(t, ts.URL+"/members/nope")
	}
	if n := d.api.RequestCount() - before; n != 0 {
		t.Errorf("serving the pages made %d API calls, want none", n)
	}
}

// TestLoadReadModel checks that the loader copied every task, note and
// appointment of the fake into the read model, with its member.
func TestLoadReadModel(t *testing.T) {
	d, _ := newOwnDemo(t)
	ctx := t.Context()
	links, err := d.store.Links(ctx, contactsync.KindMember, "", 0)
	if err != nil || len(links) != len(d.members) {
		t.Fatalf("%d member links, %v; want %d", len(links), err, len(d.members))
	}
	for _, l := range links {
		acts, err := d.store.Activities(ctx, contactsync.ActivityQuery{ContactID: l.RemoteID})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[contactsync.Kind]int{}
		for _, a := range acts {
			counts[a.Kind]++
			if a.MemberID != l.LocalID {
				t.Errorf("%s %s of contact %s has member %q, want %s", a.Kind, a.RemoteID, l.RemoteID, a.MemberID, l.LocalID)
			}
		}
		want := map[contactsync.Kind]int{
			contactsync.KindTask:        len(d.api.Tasks(l.RemoteID)),
			contactsync.KindNote:        len(d.api.Notes(l.RemoteID)),
			contactsync.KindAppointment: len(d.api.Appointments(l.RemoteID)),
		}
		for k, n := range want {
			if counts[k] != n {
				t.Errorf("member %s: %d %ss in the read model, %d in the API", l.LocalID, counts[k], k, n)
			}
		}
	}
	// Loading again replaces, never duplicates.
	all, _ := d.store.Activities(ctx, contactsync.ActivityQuery{})
	if len(all) < 10*len(d.members) {
		t.Errorf("%d activities of %d members: the demo tells no story", len(all), len(d.members))
	}
	if err := loadReadModel(ctx, d.api.Client(), d.store, d.store); err != nil {
		t.Fatal(err)
	}
	again, _ := d.store.Activities(ctx, contactsync.ActivityQuery{})
	if len(again) != len(all) {
		t.Errorf("%d activities after loading again, want %d", len(again), len(all))
	}
}

// lockedBuffer is an io.Writer the test can read while run writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	log := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0"}, io.MultiWriter(pw, log))
		pw.Close()
	}()
	var url string
	sc := bufio.NewScanner(pr)
	for url == "" && sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), " at http://"); ok {
			url = "http://" + rest
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		t.Fatalf("no URL printed:\n%s", log.String())
	}
	body := page(t, url)
	wantIn(t, "the served front page", body, "GymFlow members", "Overdue tasks", "Ana Lima")
	page(t, url+"members/m001")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancellation")
	}
	wantIn(t, "the output", log.String(), "Dashboard of 292 gym members at http://127.0.0.1:", "loaded with 877 API calls", "the pages make none")
}

func TestRunRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"extra"}, {"-listen", "not an address"}} {
		var out strings.Builder
		if err := run(t.Context(), args, &out); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
