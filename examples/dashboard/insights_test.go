package main

import (
	"encoding/csv"
	"fmt"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// readCSV fetches a CSV download and parses it.
func readCSV(t *testing.T, u string) [][]string {
	t.Helper()
	code, body := get(t, u)
	if code != 200 {
		t.Fatalf("%s: %d %s", u, code, body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return rows
}

// The Insights page draws the views: a bar segment per non-empty
// follow-up bucket of a week, a bar per engagement bucket, a point per week
// and outcome; its CSV downloads hold the same numbers.
func TestInsightsPage(t *testing.T) {
	d, srv := newTestDemo(t)
	ctx := t.Context()
	f, err := d.views.FollowUps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, err := d.views.Engagement(ctx)
	if err != nil {
		t.Fatal(err)
	}
	weeks, err := d.views.AppointmentWeeks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body := page(t, srv.URL+"/insights")
	segments := 0
	for _, w := range f.Weeks {
		for _, n := range []int{w.OnTime, w.Late, w.Open, w.Overdue} {
			if n > 0 {
				segments++
			}
		}
	}
	figure := func(id string) string {
		m := regexp.MustCompile(`(?s)<figure class="chart" id="` + id + `">.*?</figure>`).FindString(body)
		if m == "" {
			t.Fatalf("no %s in\n%s", id, body)
		}
		return m
	}
	if n := strings.Count(figure("chart-follow-ups"), "<rect"); n != segments || segments == 0 {
		t.Errorf("follow-ups: %d bars, want %d (non-zero)", n, segments)
	}
	if n := strings.Count(figure("chart-engagement"), "<rect"); n != 5 {
		t.Errorf("engagement: %d bars, want 5", n)
	}
	if n := strings.Count(figure("chart-appointments"), "<circle"); n != 3*len(weeks) {
		t.Errorf("appointments: %d points, want %d", n, 3*len(weeks))
	}
	for _, id := range []string{"chart-follow-ups", "chart-engagement", "chart-appointments"} {
		if fg := figure(id); !strings.Contains(fg, "<title id=") || !strings.Contains(fg, "<desc id=") || !strings.Contains(fg, "<figcaption>") {
			t.Errorf("%s lacks its title, description or caption", id)
		}
	}
	if !strings.Contains(body, fmt.Sprintf(`<b id="completion">%d%%</b>`, int(100*f.CompletionRate+0.5))) {
		t.Errorf("completion rate %v not shown", f.CompletionRate)
	}

	// Every follow-up bar links to a list of exactly its tasks.
	links := regexp.MustCompile(`<a href="(/insights/tasks\?[^"]+)" class="bar"><rect[^>]*><title>Week of [^:]+: (\d+) `).FindAllStringSubmatch(body, -1)
	if len(links) != segments {
		t.Fatalf("%d follow-up links, want %d", len(links), segments)
	}
	for _, l := range links {
		href := strings.ReplaceAll(l[1], "&amp;", "&")
		list := page(t, srv.URL+href)
		rows := listRows(t, list)
		if want, _ := strconv.Atoi(l[2]); rows != want {
			t.Errorf("%s: %d rows, the bar says %d", href, rows, want)
		}
		u, _ := url.Parse(href)
		q := u.Query()
		q.Set("format", "csv")
		if csvRows := readCSV(t, srv.URL+u.Path+"?"+q.Encode()); len(csvRows)-1 != rows {
			t.Errorf("%s as CSV: %d rows, the page %d", href, len(csvRows)-1, rows)
		}
	}

	// Engagement bars link to their members.
	for i, n := range engagementCounts(e) {
		list := page(t, srv.URL+"/insights/members?bucket="+engagementSeries[i].Key)
		if rows := listRows(t, list); rows != n {
			t.Errorf("bucket %s: %d members listed, the view counts %d", engagementSeries[i].Key, rows, n)
		}
	}

	// The CSV downloads match the views.
	fu := readCSV(t, srv.URL+"/insights/follow-ups.csv")
	if len(fu) != 1+contactsync.InsightWeeks || fu[0][0] != "week" {
		t.Fatalf("follow-ups.csv: %v", fu)
	}
	for i, w := range f.Weeks {
		if want := []string{weekParam(w.Week), strconv.Itoa(w.OnTime), strconv.Itoa(w.Late), strconv.Itoa(w.Open), strconv.Itoa(w.Overdue)}; strings.Join(fu[i+1], ",") != strings.Join(want, ",") {
			t.Errorf("follow-ups.csv row %d: %v, want %v", i+1, fu[i+1], want)
		}
	}
	eng := readCSV(t, srv.URL+"/insights/engagement.csv")
	for i, n := range engagementCounts(e) {
		if eng[i+1][1] != strconv.Itoa(n) {
			t.Errorf("engagement.csv: %v", eng)
		}
	}
	ap := readCSV(t, srv.URL+"/insights/appointments.csv")
	for i, w := range weeks {
		if ap[i+1][1] != strconv.Itoa(w.Kept) || ap[i+1][2] != strconv.Itoa(w.Cancelled) || ap[i+1][3] != strconv.Itoa(w.NoShow) {
			t.Errorf("appointments.csv row %d: %v, want %+v", i+1, ap[i+1], w)
		}
	}
	runs, err := d.views.SyncRuns(ctx, 10)
	if err != nil || len(runs) == 0 {
		t.Fatalf("the demo's run log: %v, %v", runs, err)
	}
	if n := strings.Count(regexp.MustCompile(`(?s)<table id="runs">.*?</table>`).FindString(body), "<tr>") - 1; n != len(runs) {
		t.Errorf("sync health: %d rows, want %d", n, len(runs))
	}
	for name, rows := range map[string]int{"overdue.csv": len(mustOverdue(t, d)), "quiet.csv": len(mustQuiet(t, d)), "runs.csv": len(runs)} {
		if got := readCSV(t, srv.URL+"/insights/"+name); len(got)-1 != rows {
			t.Errorf("%s: %d rows, want %d", name, len(got)-1, rows)
		}
	}
	if code, _ := get(t, srv.URL+"/insights/nothing.csv"); code != 404 {
		t.Errorf("an unknown download: %d", code)
	}
	for _, bad := range []string{"/insights/tasks?week=2026-03-03&status=late", "/insights/tasks?week=x&status=late", "/insights/tasks?week=2026-03-02&status=x",
		"/insights/members?bucket=x", "/insights/appointments?week=2026-03-02"} {
		if code, _ := get(t, srv.URL+bad); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
}

// A cell that a spreadsheet would run as a formula is written quoted.
func TestCSVCellsAreNotFormulas(t *testing.T) {
	rec := httptest.NewRecorder()
	writeCSV(rec, "x.csv", [][]string{{"=HYPERLINK(\"http://evil\")", "+1", "-2", "@x", "plain"}})
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"'=HYPERLINK(\"http://evil\")", "'+1", "'-2", "'@x", "plain"} {
		if rows[0][i] != want {
			t.Errorf("cell %d: %q, want %q", i, rows[0][i], want)
		}
	}
}

// listRows counts the rows of a list page's table (each names a member).
func listRows(t *testing.T, page string) int {
	t.Helper()
	table := regexp.MustCompile(`(?s)<table id="list">.*?</table>`).FindString(page)
	if table == "" {
		t.Fatalf("no list in\n%s", page)
	}
	return strings.Count(table, `<a href="/members/`)
}

func mustOverdue(t *testing.T, d *demo) []contactsync.OverdueMember {
	t.Helper()
	o, err := d.views.OverdueMembers(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func mustQuiet(t *testing.T, d *demo) []contactsync.QuietMember {
	t.Helper()
	q, err := d.views.QuietMembers(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// The front page's table and lists, and a member's timeline, download as
// CSV with what the page shows.
func TestFrontPageAndTimelineCSV(t *testing.T) {
	d, srv := newTestDemo(t)
	ctx := t.Context()
	members := readCSV(t, srv.URL+"/members.csv")
	if len(members)-1 != len(d.members) || members[0][0] != "member_id" {
		t.Errorf("members.csv: %d rows, want %d", len(members)-1, len(d.members))
	}
	body := page(t, srv.URL+"/")
	for _, c := range []struct {
		name, panel, end string
		view             func() ([]contactsync.Activity, error)
	}{
		{"overdue.csv", "overdue", `id="upcoming"`, func() ([]contactsync.Activity, error) { return d.views.OverdueTasks(ctx, panelLimit) }},
		{"upcoming.csv", "upcoming", `id="notes"`, func() ([]contactsync.Activity, error) {
			return d.views.UpcomingAppointments(ctx, panelWindow, panelLimit)
		}},
		{"notes.csv", "notes", "</section>", func() ([]contactsync.Activity, error) { return d.views.RecentNotes(ctx, panelWindow, panelLimit) }},
	} {
		want, err := c.view()
		if err != nil {
			t.Fatal(err)
		}
		rows := readCSV(t, srv.URL+"/"+c.name)
		if len(rows)-1 != len(want) || len(want) == 0 {
			t.Errorf("%s: %d rows, the view %d", c.name, len(rows)-1, len(want))
			continue
		}
		panel := between(t, body, `id="`+c.panel+`"`, c.end)
		if got := strings.Count(panel, `class="item"`); got != len(want) {
			t.Errorf("%s: the panel shows %d, the CSV %d", c.panel, got, len(rows)-1)
		}
	}
	tl, err := d.views.Timeline(ctx, "m001")
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, srv.URL+"/members/m001/timeline.csv")
	if len(rows)-1 != len(tl) || rows[1][0] != "m001" {
		t.Errorf("timeline.csv: %d rows, the timeline %d", len(rows)-1, len(tl))
	}
	for _, bad := range []string{"/other.csv", "/members/nope/timeline.csv"} {
		if code, _ := get(t, srv.URL+bad); code != 404 {
			t.Errorf("%s: %d, want 404", bad, code)
		}
	}
}
