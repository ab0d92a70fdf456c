package main

// The dashboard in a real browser: a headless Chromium, driven through the
// DevTools protocol (github.com/chromedp/chromedp), loads the pages from
// an httptest server of the demonstration, and the tests check what it
// rendered, that the page logged no error, threw nothing and loaded every
// resource, and that a screenshot of it is not blank.
//
// The browser is CONTACTS_CHROMIUM (a path, or a name on PATH) when set,
// else chromium, chromium-browser or google-chrome on PATH. Without one the
// tests skip; with CONTACTS_REQUIRE_BROWSER=1 (as in CI) they fail instead.
// Tests that need a browser have "Browser" in their names
// (go test -run Browser ./examples/dashboard/).
//
// A test uses the helpers below:
//
//	d, b := browseDemo(t)          // the demonstration at testNow, and a browser on it
//	b.open("/")                    // 200, and no console error, exception or failed load
//	n := b.count("#members tr")    // elements matching a CSS selector
//	w, h := b.size("svg.chart")    // the first match's rendered size
//	url := b.click(`a[href="/members/m001"]`) // follows a link; the new page is checked as open does
//	b.screenshot("front")          // a full-page PNG, kept in t.ArtifactDir(), checked not blank

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// Environment variables of the browser tests.
const (
	// envChromium names the browser to run: a path, or a name on PATH.
	envChromium = "CONTACTS_CHROMIUM"
	// envRequireBrowser, set to 1 (or true), makes a test that would be
	// skipped for want of a browser fail instead.
	envRequireBrowser = "CONTACTS_REQUIRE_BROWSER"
)

// chromiumNames are the browsers looked for on PATH, in order, when
// envChromium is not set.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// browserTimeout bounds everything a test does in its browser, from the
// start of the browser to its end.
const browserTimeout = 60 * time.Second

// Blank screenshots: a page is taken for blank when it has fewer than two
// colours, or when less than minInk of its pixels differ from its most
// frequent colour (its background). The dashboard's pages, text on panels
// and tables, have 25 to 50%, a page of plain text about 14%, and one with
// nothing but the dashboard's header bar about 6%.
const minInk = 0.10

// findChromium returns the browser to run, as the package's comment says.
func findChromium(getenv func(string) string) (string, error) {
	if name := getenv(envChromium); name != "" {
		path, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", envChromium, name, err)
		}
		return path, nil
	}
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("no Chromium found: none of %s is on PATH, and %s is not set", strings.Join(chromiumNames, ", "), envChromium)
}

// browserRequired reports whether envRequireBrowser asks for a browser:
// 1, true, yes or on (any case), as internal/pgtest reads
// CONTACTS_REQUIRE_POSTGRES.
func browserRequired(getenv func(string) string) bool {
	switch strings.ToLower(strings.TrimSpace(getenv(envRequireBrowser))) {
	case "1", "t", "true", "yes", "y", "on":
		return true
	}
	return false
}

// browserVerdict decides what a test that cannot have a browser, because
// of err, does: fail (fatal, when required) or skip, and with which
// message.
func browserVerdict(err error, required bool) (fatal bool, msg string) {
	if required {
		return true, fmt.Sprintf("browser tests: a browser is required (%s=1) but %v", envRequireBrowser, err)
	}
	return false, fmt.Sprintf("browser tests: skipped: %v (install Chromium, e.g. Debian's chromium package, or set %s to one; %s=1 makes this a failure)",
		err, envChromium, envRequireBrowser)
}

// browserUnavailable skips or fails t, as browserVerdict decides.
func browserUnavailable(t testing.TB, err error) {
	t.Helper()
	if fatal, msg := browserVerdict(err, browserRequired(os.Getenv)); fatal {
		t.Fatal(msg)
	} else {
		t.Skip(msg)
	}
}

// browser is a headless Chromium with one tab, for one test.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab's chromedp context
	base string          // the site: paths given to open are relative to it

	mu       sync.Mutex
	problems []problem
	requests map[network.RequestID]string // URL of each request of the tab
}

// problem is something a page did wrong: a console error, an uncaught
// exception, a resource that failed to load.
type problem struct {
	url  string // the resource or script it is about, if known
	text string
}

func (p problem) String() string {
	if p.url == "" {
		return p.text
	}
	return p.text + " (" + p.url + ")"
}

// browseDemo serves the demonstration at testNow (newTestDemo) and returns
// it with a browser on its site.
func browseDemo(t *testing.T) (*demo, *browser) {
	t.Helper()
	if _, err := findChromium(os.Getenv); err != nil {
		browserUnavailable(t, err) // before the demonstration is built
	}
	d, ts := newTestDemo(t)
	return d, newBrowser(t, ts.URL)
}

// newBrowser starts a headless Chromium for t, with a fresh profile under
// t.TempDir(), and returns its tab on the site at base (a URL without a
// trailing slash). The browser stops when t ends, and at the latest after
// browserTimeout. Without a browser, t is skipped (or fails, see
// browserUnavailable).
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path, err := findChromium(os.Getenv)
	if err != nil {
		browserUnavailable(t, err)
	}
	// Made before the cleanup below is registered, so removed after it ran:
	// after the browser exited.
	profile := t.TempDir()

	b := &browser{t: t, base: strings.TrimSuffix(base, "/"), requests: map[network.RequestID]string{}}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	output := &lockedBuffer{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(output),
	)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	t.Cleanup(func() {
		// What the last page did after its last check. The events the
		// browser sent before this round trip have been noted.
		if _, err := chromedp.Run(tabCtx, chromedp.Evaluate[int](`0`)); err == nil {
			for _, p := range b.noted() {
				t.Errorf("at the end of the test: %s", p)
			}
		}
		// Close the browser gracefully, then make sure its process is gone
		// (the allocator's cancel waits for it).
		if err := chromedp.Cancel(tabCtx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("closing the browser: %v", err)
		}
		cancelTab()
		cancelAlloc()
		cancelTimeout()
	})
	b.ctx = tabCtx
	// The first action starts the browser and opens the tab.
	if err := chromedp.Do(tabCtx); err != nil {
		if out := strings.TrimSpace(output.String()); out != "" {
			t.Logf("%s's output:\n%s", path, out)
		}
		browserUnavailable(t, fmt.Errorf("starting %s: %w", path, err))
	}
	version, err := cdp.Call(tabCtx, chromedp.FromContext(tabCtx).Browser, cdpbrowser.GetVersion, cdp.Empty{})
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	t.Logf("browser: %s (%s)", path, version.Product)
	return b
}

// record is the tab's event listener: it runs on the goroutine that reads
// the browser's messages, so it only notes what it sees.
func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			p := problem{text: "console." + string(ev.Type) + ": " + consoleArgs(ev.Args)}
			if st := ev.StackTrace; st != nil && len(st.CallFrames) > 0 {
				p.url = fmt.Sprintf("%s:%d", st.CallFrames[0].URL, st.CallFrames[0].LineNumber+1)
			}
			b.problems = append(b.problems, p)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			first, _, _ := strings.Cut(d.Exception.Description, "\n")
			text += " " + first
		}
		b.problems = append(b.problems, problem{url: fmt.Sprintf("%s:%d", d.URL, d.LineNumber+1), text: "uncaught exception: " + text})
	case *log.EventEntryAdded:
		if e := ev.Entry; e.Level == log.EntryLevelError {
			b.problems = append(b.problems, problem{url: e.URL, text: "browser log (" + string(e.Source) + "): " + e.Text})
		}
	case *network.EventRequestWillBeSent:
		b.requests[ev.RequestID] = ev.Request.URL
	case *network.EventResponseReceived:
		if r := ev.Response; r.Status >= 400 {
			b.problems = append(b.problems, problem{url: r.URL, text: fmt.Sprintf("%s answered %d %s", ev.Type, r.Status, r.StatusText)})
		}
	case *network.EventLoadingFailed:
		// A load the browser cancels (the page navigated away) is no fault
		// of the page.
		if !ev.Canceled {
			b.problems = append(b.problems, problem{url: b.requests[ev.RequestID], text: strings.TrimSpace(fmt.Sprintf("%s failed to load: %s %s", ev.Type, ev.ErrorText, ev.BlockedReason))})
		}
	}
}

// consoleArgs renders the arguments of a console call: strings as they
// are, other values by their description or JSON.
func consoleArgs(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		var s string
		switch {
		case a.Value != nil && json.Unmarshal(a.Value, &s) == nil:
		case a.Description != "":
			s = a.Description
		default:
			s = string(a.Value)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// takeProblems returns the problems noted since the last call, and forgets
// them. A round trip to the page first makes sure that every event the
// browser sent before it was noted.
func (b *browser) takeProblems() []problem {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`0`)); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return b.noted()
}

// noted returns the problems noted so far, and forgets them.
func (b *browser) noted() []problem {
	b.mu.Lock()
	defer b.mu.Unlock()
	ps := slices.DeleteFunc(b.problems, func(p problem) bool {
		return slices.Contains(ignoredPaths, strings.TrimPrefix(p.url, b.base))
	})
	b.problems = nil
	return ps
}

// ignoredPaths are resources of the site whose failures are not the page's:
// Chromium asks for /favicon.ico after loading a page that declares no
// icon, and the dashboard serves none. An icon a page declares (<link
// rel="icon">) is a resource like another.
var ignoredPaths = []string{"/favicon.ico"}

// checkProblems fails the test for every problem noted since the last
// check, but those of the document at allowURL (a page expected to answer
// with an error status reports that status too).
func (b *browser) checkProblems(what, allowURL string) {
	b.t.Helper()
	for _, p := range b.takeProblems() {
		if allowURL != "" && p.url == allowURL {
			continue
		}
		b.t.Errorf("%s: %s", what, p)
	}
}

// url returns the absolute URL of path on the site.
func (b *browser) url(path string) string { return b.base + path }

// navigate loads path in the tab, waits for the page to load, and returns
// the document's status. It checks nothing: see open. Problems noted
// before (late ones of the page before) stay for the next check.
func (b *browser) navigate(path string) int {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.url(path)))
	if err != nil {
		b.t.Fatalf("loading %s: %v", path, err)
	}
	if resp == nil {
		b.t.Fatalf("loading %s: no response", path)
	}
	return int(resp.Status)
}

// open loads path, and fails the test unless it answered 200 OK and loaded
// without a console error, an uncaught exception or a failed load.
func (b *browser) open(path string) { b.t.Helper(); b.openStatus(path, http.StatusOK) }

// openStatus is open for a page that must answer status.
func (b *browser) openStatus(path string, status int) {
	b.t.Helper()
	if got := b.navigate(path); got != status {
		b.t.Errorf("GET %s: status %d, want %d", path, got, status)
	}
	allow := ""
	if status >= 400 {
		allow = b.url(path)
	}
	b.checkProblems("GET "+path, allow)
}

// location returns the tab's current URL.
func (b *browser) location() string {
	b.t.Helper()
	var loc string
	b.eval(`document.location.href`, &loc)
	return loc
}

// click clicks the first element matching the CSS selector sel, which
// must navigate (a link), waits for the new page, checks it as open does
// and returns its URL. It fails the test at once when nothing matches, or
// when the first match is not rendered.
func (b *browser) click(sel string) string {
	b.t.Helper()
	// Click waits for the element to be visible: fail at once instead.
	if w, h := b.size(sel); w <= 0 || h <= 0 {
		b.t.Fatalf("cannot click %s on %s: it is rendered %gx%g", sel, b.location(), w, h)
	}
	b.checkProblems("before clicking "+sel, "")
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("clicking %s: %v", sel, err)
	}
	loc := b.location()
	if resp == nil || resp.Status != http.StatusOK {
		b.t.Errorf("clicking %s loaded %s: %+v, want status 200", sel, loc, resp)
	}
	b.checkProblems("after clicking "+sel, "")
	return loc
}

// eval evaluates the JavaScript expression in the page and decodes its
// value (JSON) into v. It fails the test on an exception.
func (b *browser) eval(expr string, v any) {
	b.t.Helper()
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		b.t.Fatalf("evaluating %s: %v (%s)", expr, err, raw)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// count returns how many elements match the CSS selector sel.
func (b *browser) count(sel string) int {
	b.t.Helper()
	var n int
	b.eval(`document.querySelectorAll(`+jsString(sel)+`).length`, &n)
	return n
}

// texts returns the rendered text (innerText, trimmed) of every element
// matching sel, in document order.
func (b *browser) texts(sel string) []string {
	b.t.Helper()
	var ts []string
	b.eval(`Array.from(document.querySelectorAll(`+jsString(sel)+`), e => e.innerText.trim())`, &ts)
	return ts
}

// text returns the rendered text of the first element matching sel; it
// fails the test when there is none.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ts := b.texts(sel)
	if len(ts) == 0 {
		b.t.Fatalf("no %s on %s", sel, b.location())
	}
	return ts[0]
}

// size returns the rendered width and height, in CSS pixels, of the first
// element matching sel (its bounding box); it fails the test when there is
// none. A chart that was drawn has both above zero.
func (b *browser) size(sel string) (width, height float64) {
	b.t.Helper()
	var box *struct{ Width, Height float64 }
	b.eval(`(() => { const e = document.querySelector(`+jsString(sel)+`);
		if (!e) return null;
		const r = e.getBoundingClientRect();
		return {Width: r.width, Height: r.height}; })()`, &box)
	if box == nil {
		b.t.Fatalf("no %s on %s", sel, b.location())
	}
	return box.Width, box.Height
}

// screenshot takes a PNG of the whole page (beyond the window), writes it
// to name.png in t.ArtifactDir() (kept with go test -artifacts, removed
// otherwise) and logs its path, fails the test if the page looks blank
// (see notBlank), and returns it.
func (b *browser) screenshot(name string) image.Image {
	b.t.Helper()
	data, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	file := filepath.Join(b.t.ArtifactDir(), name+".png")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		b.t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", file, err)
	}
	ink, err := notBlank(img)
	b.t.Logf("screenshot of %s: %s (%dx%d, %.1f%% ink)", b.location(), file, img.Bounds().Dx(), img.Bounds().Dy(), 100*ink)
	if err != nil {
		b.t.Errorf("screenshot %s: %v", file, err)
	}
	return img
}

// notBlank returns the share of img's pixels that differ from its most
// frequent colour (the background), and an error when img looks blank:
// fewer than two colours, or less than minInk of the pixels off the
// background.
func notBlank(img image.Image) (ink float64, err error) {
	r := img.Bounds()
	if r.Empty() {
		return 0, errors.New("the image is empty")
	}
	counts := map[[4]uint32]int{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c0, c1, c2, c3 := img.At(x, y).RGBA()
			counts[[4]uint32{c0, c1, c2, c3}]++
		}
	}
	background := 0
	for _, n := range counts {
		background = max(background, n)
	}
	total := r.Dx() * r.Dy()
	ink = float64(total-background) / float64(total)
	switch {
	case len(counts) < 2:
		return ink, fmt.Errorf("the page is blank: a single colour over %dx%d pixels", r.Dx(), r.Dy())
	case ink < minInk:
		return ink, fmt.Errorf("the page looks blank: %.1f%% of its pixels differ from the background, want at least %.0f%%", 100*ink, 100*minInk)
	}
	return ink, nil
}

func TestBrowserFrontPage(t *testing.T) {
	d, b := browseDemo(t)
	ctx := t.Context()
	b.open("/")

	if got, want := b.text("title"), "Members · GymFlow"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	// The members table: a header and a row per member, by name, each
	// linking to the member's page.
	if got := b.count("#members tr:has(th)"); got != 1 {
		t.Errorf("%d header rows in the members table, want 1", got)
	}
	if got, want := b.count("#members tr:has(td)"), len(d.members); got != want {
		t.Errorf("%d member rows, want %d", got, want)
	}
	var names []string
	for _, m := range d.members {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	if got := b.texts(`#members td:first-child a[href^="/members/"]`); !slices.Equal(got, names) {
		t.Errorf("member links %q, want the members by name %q", got, names)
	}
	if got := b.count(`#members td:first-child a[href^="/members/m"]`); got != len(d.members) {
		t.Errorf("%d links to members' pages, want %d", got, len(d.members))
	}

	// The panels hold what the views return, and something.
	panels := []struct {
		sel  string
		view func() ([]contactsync.Activity, error)
	}{
		{"#overdue .item", func() ([]contactsync.Activity, error) { return d.views.OverdueTasks(ctx, panelLimit) }},
		{"#upcoming .item", func() ([]contactsync.Activity, error) {
			return d.views.UpcomingAppointments(ctx, panelWindow, panelLimit)
		}},
		{"#notes .item", func() ([]contactsync.Activity, error) { return d.views.RecentNotes(ctx, panelWindow, panelLimit) }},
	}
	for _, p := range panels {
		as, err := p.view()
		if err != nil {
			t.Fatal(err)
		}
		if len(as) == 0 {
			t.Fatalf("%s: the view returns nothing: the check would prove nothing", p.sel)
		}
		if got := b.count(p.sel); got != len(as) {
			t.Errorf("%d %s, want %d", got, p.sel, len(as))
		}
	}
	for _, sel := range []string{"#overdue", "#upcoming", "#notes", "#members"} {
		if w, h := b.size(sel); w <= 0 || h <= 0 {
			t.Errorf("%s is rendered %gx%g", sel, w, h)
		}
	}
	b.screenshot("front-page")
}

func TestBrowserMemberTimeline(t *testing.T) {
	d, b := browseDemo(t)
	ctx := t.Context()

	// From the members table, and from the overdue panel.
	overdue, err := d.views.OverdueTasks(ctx, panelLimit)
	if err != nil || len(overdue) == 0 {
		t.Fatalf("overdue tasks: %v, %v", overdue, err)
	}
	for _, c := range []struct {
		link, member string
	}{
		{`#members a[href="/members/m001"]`, "m001"},
		{`#members a[href="/members/m026"]`, "m026"}, // Zoë O'Brien: escaped in HTML, shown as is
		{"#overdue .item a", overdue[0].MemberID},
	} {
		b.open("/")
		loc := b.click(c.link)
		if want := b.url("/members/" + c.member); loc != want {
			t.Errorf("clicking %s led to %s, want %s", c.link, loc, want)
			continue
		}
		checkMemberPage(t, d, b, c.member)
	}
	b.screenshot("member-" + overdue[0].MemberID)

	// The header leads back to the front page.
	if loc, want := b.click("header a"), b.url("/"); loc != want {
		t.Errorf("the header's link led to %s, want %s", loc, want)
	}
	if got := b.count("#members tr:has(td)"); got != len(d.members) {
		t.Errorf("back on the front page: %d member rows, want %d", got, len(d.members))
	}
}

// checkMemberPage checks the member page the browser shows against the
// views: its heading, follow-ups and timeline.
func checkMemberPage(t *testing.T, d *demo, b *browser, id string) {
	t.Helper()
	var m member
	for _, x := range d.members {
		if x.ID == id {
			m = x
		}
	}
	timeline, err := d.views.Timeline(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(timeline) == 0 {
		t.Fatalf("%s has no activity: the check would prove nothing", id)
	}
	if got := b.text("h1"); got != m.Name {
		t.Errorf("%s's page: heading %q, want %q", id, got, m.Name)
	}
	if got, want := b.text("title"), m.Name+" · GymFlow"; got != want {
		t.Errorf("%s's page: title %q, want %q", id, got, want)
	}
	now := d.views.Now()
	followUps, upcoming := 0, 0
	for _, a := range timeline {
		switch {
		case a.Kind == contactsync.KindTask && !a.Completed:
			followUps++
		case a.Kind == contactsync.KindAppointment && !a.At.Before(now) && !a.Cancelled():
			followUps++
		}
		if !a.At.Before(now) {
			upcoming++
		}
	}
	if got := b.count("#timeline > li:not(.now)"); got != len(timeline) {
		t.Errorf("%s's timeline shows %d activities, want %d", id, got, len(timeline))
	}
	for _, kind := range []contactsync.Kind{contactsync.KindTask, contactsync.KindNote, contactsync.KindAppointment} {
		want := 0
		for _, a := range timeline {
			if a.Kind == kind {
				want++
			}
		}
		if got := b.count("#timeline > li." + string(kind)); got != want {
			t.Errorf("%s's timeline shows %d %ss, want %d", id, got, kind, want)
		}
	}
	wantNow := 0
	if upcoming > 0 {
		wantNow = 1
	}
	if got := b.count("#timeline > li.now"); got != wantNow {
		t.Errorf("%s's timeline has %d now lines, want %d", id, got, wantNow)
	}
	if got := b.count("#follow-ups .item"); got != followUps {
		t.Errorf("%s's follow-ups: %d, want %d", id, got, followUps)
	}
	if w, h := b.size("#timeline"); w <= 0 || h <= 0 {
		t.Errorf("%s's timeline is rendered %gx%g", id, w, h)
	}
}

func TestBrowserNotFound(t *testing.T) {
	_, b := browseDemo(t)
	for _, path := range []string{"/members/nope", "/nope"} {
		b.openStatus(path, http.StatusNotFound)
		if got := b.text("body"); got != "404 page not found" {
			t.Errorf("GET %s shows %q", path, got)
		}
	}
}

// TestBrowserHelpersCatchFaults: the checks the browser tests rely on
// fail on a page that logs an error, throws, misses a resource or is
// blank, and pass on a page that is fine.
func TestBrowserHelpersCatchFaults(t *testing.T) {
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!doctype html><html><head><title>t</title><link rel=icon href=data:,></head><body>"+body+"</body></html>")
		}
	}
	mux.HandleFunc("GET /fine", page(`<h1>Fine</h1><p>`+strings.Repeat("Some text. ", 400)+`</p>`))
	mux.HandleFunc("GET /console", page(`<script>console.error("the console error")</script>`))
	mux.HandleFunc("GET /throws", page(`<script>throw new Error("the uncaught error")</script>`))
	mux.HandleFunc("GET /missing", page(`<img src="/no-such-image.png" alt="">`))
	mux.HandleFunc("GET /blank", page(``))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	b := newBrowser(t, ts.URL)

	if status := b.navigate("/fine"); status != http.StatusOK {
		t.Fatalf("/fine: status %d", status)
	}
	if ps := b.takeProblems(); len(ps) != 0 {
		t.Errorf("/fine: problems %v, want none", ps)
	}
	b.screenshot("fine")

	for path, want := range map[string]string{
		"/console": "the console error",
		"/throws":  "the uncaught error",
		"/missing": "/no-such-image.png",
	} {
		b.navigate(path)
		ps := b.takeProblems()
		if !slices.ContainsFunc(ps, func(p problem) bool { return strings.Contains(p.String(), want) }) {
			t.Errorf("%s: problems %v, want one about %q", path, ps, want)
		}
	}

	b.navigate("/blank")
	data, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if ink, err := notBlank(img); err == nil {
		t.Errorf("a blank page passes the blank check (%.1f%% ink)", 100*ink)
	}
}

// TestBrowserRequirement: without a browser, the browser tests skip, or
// fail when one is required. It needs no browser.
func TestBrowserRequirement(t *testing.T) {
	if fatal, msg := browserVerdict(errors.New("no Chromium found"), false); fatal || !strings.Contains(msg, "skipped") {
		t.Errorf("not required: fatal %v, %q", fatal, msg)
	}
	if fatal, msg := browserVerdict(errors.New("no Chromium found"), true); !fatal || !strings.Contains(msg, envRequireBrowser) {
		t.Errorf("required: fatal %v, %q", fatal, msg)
	}
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	if _, err := findChromium(env(map[string]string{envChromium: "/no/such/chromium"})); err == nil {
		t.Errorf("findChromium with %s=/no/such/chromium succeeded", envChromium)
	}
	for v, want := range map[string]bool{"": false, "0": false, "1": true, "true": true, "ON": true} {
		if got := browserRequired(env(map[string]string{envRequireBrowser: v})); got != want {
			t.Errorf("%s=%q: required %v, want %v", envRequireBrowser, v, got, want)
		}
	}
}
