package main

import (
	"encoding/csv"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserInsights opens the Insights page in Chromium: no console
// errors; every chart drawn with a size and the expected number of bars or
// points; a bar's link lands on the list behind it, as many rows as the
// bar counts; a CSV download parses and matches the page; and the
// screenshot is not blank. With CONTACTS_DASHBOARD_SCREENSHOT set, the
// screenshot is also written there (how docs/insights.png is made).
func TestBrowserInsights(t *testing.T) {
	d, b := browseDemo(t)
	ctx := t.Context()
	f, err := d.views.FollowUps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	weeks, err := d.views.AppointmentWeeks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.open("/insights")
	segments := 0
	for _, w := range f.Weeks {
		for _, n := range []int{w.OnTime, w.Late, w.Open, w.Overdue} {
			if n > 0 {
				segments++
			}
		}
	}
	for _, c := range []struct {
		sel  string
		want int
	}{
		{"#chart-follow-ups svg a.bar rect", segments},
		{"#chart-engagement svg a.bar rect", 5},
		{"#chart-appointments svg a.point circle", 3 * len(weeks)},
		{"#chart-appointments svg polyline", 3},
	} {
		if got := b.count(c.sel); got != c.want || got == 0 {
			t.Errorf("%d %s, want %d", got, c.sel, c.want)
		}
	}
	for _, id := range []string{"#chart-follow-ups svg", "#chart-engagement svg", "#chart-appointments svg"} {
		if w, h := b.size(id); w < 100 || h < 50 {
			t.Errorf("%s is drawn %gx%g", id, w, h)
		}
	}
	// The late bars exist: completion times came through the webhooks.
	if late := b.count(`#chart-follow-ups a.bar[href*="status=late"]`); late == 0 {
		t.Error("no week has tasks done late")
	}
	b.screenshot("insights")
	if path := os.Getenv("CONTACTS_DASHBOARD_SCREENSHOT"); path != "" {
		data, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The first late bar's list has as many rows as its label says.
	var label string
	b.eval(`document.querySelector('#chart-follow-ups a.bar[href*="status=late"] title').textContent`, &label)
	n, err := strconv.Atoi(strings.Fields(strings.SplitN(label, ": ", 2)[1])[0])
	if err != nil {
		t.Fatalf("bar label %q: %v", label, err)
	}
	loc := b.click(`#chart-follow-ups a.bar[href*="status=late"] rect`)
	if !strings.Contains(loc, "/insights/tasks?") || !strings.Contains(loc, "status=late") {
		t.Errorf("the bar led to %s", loc)
	}
	if rows := b.count(`#list a[href^="/members/"]`); rows != n {
		t.Errorf("the list behind %q has %d rows", label, rows)
	}
	b.screenshot("list")
	b.checkProblems("the list", "")

	// The follow-ups CSV matches the chart's weeks.
	resp, err := http.Get(b.url("/insights/follow-ups.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(rows) != len(f.Weeks)+1 {
		t.Fatalf("follow-ups.csv: %d rows, %v", len(rows), err)
	}
	for i, w := range f.Weeks {
		if rows[i+1][2] != strconv.Itoa(w.Late) {
			t.Errorf("week %s: CSV says %s late, the view %d", weekParam(w.Week), rows[i+1][2], w.Late)
		}
	}
}
