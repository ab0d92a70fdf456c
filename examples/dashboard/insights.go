package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// The Insights page: charts of the insight views, drawn as SVG on the
// server (no script, no CDN), each bar or point a link to the list behind
// it, and every table downloadable as CSV.

// Follow-up buckets, in the order the bars stack them, with their colours.
var followUpSeries = []series{
	{Key: "ontime", Label: "Done on time", Color: "#2f9e44"},
	{Key: "late", Label: "Done late", Color: "#f08c00"},
	{Key: "open", Label: "Open", Color: "#74c0fc"},
	{Key: "overdue", Label: "Overdue", Color: "#e03131"},
}

// Engagement buckets, in the order of the bars.
var engagementSeries = []series{
	{Key: "week", Label: "≤ 7 days", Color: "#2f9e44"},
	{Key: "month", Label: "8–30 days", Color: "#94d82d"},
	{Key: "quarter", Label: "31–90 days", Color: "#f08c00"},
	{Key: "older", Label: "> 90 days", Color: "#e03131"},
	{Key: "never", Label: "Never", Color: "#868e96"},
}

// Appointment outcomes, one line each.
var appointmentSeries = []series{
	{Key: "kept", Label: "Kept", Color: "#1971c2"},
	{Key: "cancelled", Label: "Cancelled", Color: "#e03131"},
	{Key: "noshow", Label: "No-show", Color: "#f08c00"},
}

type series struct{ Key, Label, Color string }

// chart is an SVG chart, laid out for the template.
type chart struct {
	ID, Title, Desc string
	Width, Height   int
	Plot            rect // the plotting area
	YTicks          []tick
	XLabels         []tick
	Bars            []bar
	Lines           []line
	Legend          []series
}

type rect struct{ X, Y, W, H float64 }

type tick struct {
	Pos  float64
	Text string
}

// bar is one segment of a (stacked) bar, a link to its list.
type bar struct {
	rect
	Color, Href, Label string
}

type line struct {
	series
	Points string // "x,y x,y …"
	Dots   []dot
}

type dot struct {
	X, Y        float64
	Href, Label string
}

const (
	chartW, chartH         = 720, 300
	padL, padR, padT, padB = 48.0, 16.0, 16.0, 40.0
)

func plotArea() rect {
	return rect{X: padL, Y: padT, W: chartW - padL - padR, H: chartH - padT - padB}
}

// yScale returns ticks for 0..max and the pixels per unit.
func yScale(p rect, max int) ([]tick, float64) {
	top := niceCeil(max)
	step := top / 4
	var ticks []tick
	for v := 0; v <= top; v += step {
		ticks = append(ticks, tick{Pos: p.Y + p.H - float64(v)*p.H/float64(top), Text: strconv.Itoa(v)})
	}
	return ticks, p.H / float64(top)
}

// niceCeil rounds n up to a multiple of 4 of 1, 2 or 5 × 10^k, at least 4.
func niceCeil(n int) int {
	n = max(n, 4)
	for mag := 1; ; mag *= 10 {
		for _, m := range []int{1, 2, 5} {
			if s := m * mag; 4*s >= n {
				return 4 * s
			}
		}
	}
}

func weekLabel(w time.Time) string { return w.Format("2 Jan") }

func weekParam(w time.Time) string { return w.Format(time.DateOnly) }

// followUpChart stacks each week's tasks by bucket.
func followUpChart(f contactsync.FollowUps) chart {
	c := chart{ID: "chart-follow-ups", Title: "Follow-ups due per week", Width: chartW, Height: chartH, Plot: plotArea(), Legend: followUpSeries}
	top := 0
	for _, w := range f.Weeks {
		top = max(top, w.Total())
	}
	var unit float64
	c.YTicks, unit = yScale(c.Plot, top)
	slot := c.Plot.W / float64(len(f.Weeks))
	for i, w := range f.Weeks {
		x := c.Plot.X + float64(i)*slot + slot*0.15
		y := c.Plot.Y + c.Plot.H
		c.XLabels = append(c.XLabels, tick{Pos: x + slot*0.35, Text: weekLabel(w.Week)})
		for j, n := range []int{w.OnTime, w.Late, w.Open, w.Overdue} {
			if n == 0 {
				continue
			}
			s := followUpSeries[j]
			h := float64(n) * unit
			y -= h
			c.Bars = append(c.Bars, bar{rect: rect{X: x, Y: y, W: slot * 0.7, H: h}, Color: s.Color,
				Href:  "/insights/tasks?" + url.Values{"week": {weekParam(w.Week)}, "status": {s.Key}}.Encode(),
				Label: fmt.Sprintf("Week of %s: %d %s", weekLabel(w.Week), n, s.Label)})
		}
	}
	c.Desc = fmt.Sprintf("Tasks due in each of the last %d weeks, stacked by outcome: %d due so far, %d done (%.0f%%).",
		len(f.Weeks), f.Due, f.Done, 100*f.CompletionRate)
	return c
}

// engagementChart has a bar per last-activity bucket.
func engagementChart(e contactsync.Engagement) chart {
	c := chart{ID: "chart-engagement", Title: "Members by last activity", Width: chartW, Height: chartH, Plot: plotArea()}
	counts := engagementCounts(e)
	var unit float64
	c.YTicks, unit = yScale(c.Plot, slices.Max(counts))
	slot := c.Plot.W / float64(len(counts))
	for i, n := range counts {
		s := engagementSeries[i]
		x := c.Plot.X + float64(i)*slot + slot*0.2
		c.XLabels = append(c.XLabels, tick{Pos: x + slot*0.3, Text: s.Label})
		h := float64(n) * unit
		c.Bars = append(c.Bars, bar{rect: rect{X: x, Y: c.Plot.Y + c.Plot.H - h, W: slot * 0.6, H: h}, Color: s.Color,
			Href: "/insights/members?bucket=" + s.Key, Label: fmt.Sprintf("%s: %d members", s.Label, n)})
	}
	c.Desc = fmt.Sprintf("%d members by the time of their last note, completed task or kept appointment: %d in the last week, %d never.",
		e.Total(), e.Week, e.Never)
	return c
}

func engagementCounts(e contactsync.Engagement) []int {
	return []int{e.Week, e.Month, e.Quarter, e.Older, e.Never}
}

// appointmentChart draws a line per outcome across the weeks.
func appointmentChart(weeks []contactsync.AppointmentWeek) chart {
	c := chart{ID: "chart-appointments", Title: "Appointments per week", Width: chartW, Height: chartH, Plot: plotArea(), Legend: appointmentSeries}
	top := 0
	for _, w := range weeks {
		top = max(top, w.Kept, w.Cancelled, w.NoShow)
	}
	var unit float64
	c.YTicks, unit = yScale(c.Plot, top)
	slot := c.Plot.W / float64(len(weeks))
	for j, s := range appointmentSeries {
		l := line{series: s}
		for i, w := range weeks {
			n := []int{w.Kept, w.Cancelled, w.NoShow}[j]
			x, y := c.Plot.X+float64(i)*slot+slot/2, c.Plot.Y+c.Plot.H-float64(n)*unit
			if j == 0 {
				c.XLabels = append(c.XLabels, tick{Pos: x, Text: weekLabel(w.Week)})
			}
			l.Points += fmt.Sprintf("%.1f,%.1f ", x, y)
			l.Dots = append(l.Dots, dot{X: x, Y: y, Label: fmt.Sprintf("Week of %s: %d %s", weekLabel(w.Week), n, s.Label),
				Href: "/insights/appointments?" + url.Values{"week": {weekParam(w.Week)}, "outcome": {s.Key}}.Encode()})
		}
		c.Lines = append(c.Lines, l)
	}
	total := 0
	for _, w := range weeks {
		total += w.Total()
	}
	c.Desc = fmt.Sprintf("%d appointments over the last %d weeks, by week of their start: kept, cancelled and no-shows.", total, len(weeks))
	return c
}

type insightsPage struct {
	Now                               time.Time
	FollowUps                         contactsync.FollowUps
	FollowUpChart, EngagementChart    chart
	AppointmentChart                  chart
	Engagement                        contactsync.Engagement
	AppointmentWeeks                  []contactsync.AppointmentWeek
	Overdue                           []overdueRow
	Quiet                             []quietRow
	Runs                              []contactsync.SyncRun
	MedianLateness                    string
	CompletionPercent, EngagedPercent int
}

type overdueRow struct {
	contactsync.OverdueMember
	Member member
}

type quietRow struct {
	contactsync.QuietMember
	Member member
}

// insightsData reads every insight view once.
func (h *handler) insightsData(ctx context.Context) (insightsPage, error) {
	p := insightsPage{Now: h.now()}
	var err error
	if p.FollowUps, err = h.views.FollowUps(ctx); err != nil {
		return p, err
	}
	if p.Engagement, err = h.views.Engagement(ctx); err != nil {
		return p, err
	}
	if p.AppointmentWeeks, err = h.views.AppointmentWeeks(ctx); err != nil {
		return p, err
	}
	overdue, err := h.views.OverdueMembers(ctx, 0)
	if err != nil {
		return p, err
	}
	quiet, err := h.views.QuietMembers(ctx, 0)
	if err != nil {
		return p, err
	}
	if p.Runs, err = h.views.SyncRuns(ctx, 10); err != nil {
		return p, err
	}
	for _, o := range overdue {
		p.Overdue = append(p.Overdue, overdueRow{OverdueMember: o, Member: h.memberOf(o.MemberID)})
	}
	for _, q := range quiet {
		p.Quiet = append(p.Quiet, quietRow{QuietMember: q, Member: h.memberOf(q.MemberID)})
	}
	p.FollowUpChart, p.EngagementChart, p.AppointmentChart = followUpChart(p.FollowUps), engagementChart(p.Engagement), appointmentChart(p.AppointmentWeeks)
	p.CompletionPercent = int(math.Round(100 * p.FollowUps.CompletionRate))
	if t := p.Engagement.Total(); t > 0 {
		p.EngagedPercent = int(math.Round(100 * float64(p.Engagement.Week+p.Engagement.Month) / float64(t)))
	}
	p.MedianLateness = "–"
	if p.FollowUps.Timed > 0 {
		p.MedianLateness = humanDuration(p.FollowUps.MedianLateness)
	}
	return p, nil
}

func (h *handler) memberOf(id string) member {
	if m, ok := h.byID[id]; ok {
		return m
	}
	return member{ID: id, Name: id}
}

// humanDuration shows d in days or hours, "early" when negative.
func humanDuration(d time.Duration) string {
	suffix := "late"
	if d < 0 {
		d, suffix = -d, "early"
	}
	if d >= 48*time.Hour {
		return fmt.Sprintf("%.1f days %s", d.Hours()/24, suffix)
	}
	return fmt.Sprintf("%.1f hours %s", d.Hours(), suffix)
}

func (h *handler) insights(w http.ResponseWriter, r *http.Request) {
	p, err := h.insightsData(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	h.render(w, "insights", p)
}

// listPage is the list behind a bar or point.
type listPage struct {
	Title, CSV string
	Entries    []entry
	Members    []memberLast
}

type memberLast struct {
	Member member
	Last   time.Time
}

// taskList: the tasks of a week in one follow-up bucket.
func (h *handler) taskList(w http.ResponseWriter, r *http.Request) {
	week, status, ok := weekAnd(r, "status", followUpSeries)
	if !ok {
		http.Error(w, "want ?week=YYYY-MM-DD (a Monday) and a status: ontime, late, open or overdue", http.StatusBadRequest)
		return
	}
	now := h.now()
	acts, err := h.views.Activity.Activities(r.Context(), contactsync.ActivityQuery{Kinds: []contactsync.Kind{contactsync.KindTask}, From: week, To: week.AddDate(0, 0, 7)})
	if err != nil {
		h.fail(w, err)
		return
	}
	var keep []contactsync.Activity
	for _, a := range acts {
		if a.MemberID != "" && contactsync.FollowUpBucket(a.At, a.Completed, a.CompletedAt, now) == status.Key {
			keep = append(keep, a)
		}
	}
	h.list(w, r, fmt.Sprintf("Tasks due in the week of %s: %s", weekLabel(week), status.Label), keep)
}

// appointmentList: the appointments of a week with one outcome.
func (h *handler) appointmentList(w http.ResponseWriter, r *http.Request) {
	week, outcome, ok := weekAnd(r, "outcome", appointmentSeries)
	if !ok {
		http.Error(w, "want ?week=YYYY-MM-DD (a Monday) and an outcome: kept, cancelled or noshow", http.StatusBadRequest)
		return
	}
	acts, err := h.views.Activity.Activities(r.Context(), contactsync.ActivityQuery{Kinds: []contactsync.Kind{contactsync.KindAppointment}, From: week, To: week.AddDate(0, 0, 7)})
	if err != nil {
		h.fail(w, err)
		return
	}
	var keep []contactsync.Activity
	for _, a := range acts {
		if a.MemberID != "" && contactsync.AppointmentOutcome(a.Status) == outcome.Key {
			keep = append(keep, a)
		}
	}
	h.list(w, r, fmt.Sprintf("Appointments in the week of %s: %s", weekLabel(week), outcome.Label), keep)
}

// list renders activities as a page, or as CSV with ?format=csv.
func (h *handler) list(w http.ResponseWriter, r *http.Request, title string, acts []contactsync.Activity) {
	entries, _ := h.entries(r.Context(), func(context.Context) ([]contactsync.Activity, error) { return acts, nil })
	if r.URL.Query().Get("format") == "csv" {
		writeCSV(w, "list.csv", activityRows(entries))
		return
	}
	q := r.URL.Query()
	q.Set("format", "csv")
	h.render(w, "list", listPage{Title: title, CSV: r.URL.Path + "?" + q.Encode(), Entries: entries})
}

// memberList: the members of one last-activity bucket.
func (h *handler) memberList(w http.ResponseWriter, r *http.Request) {
	i := slices.IndexFunc(engagementSeries, func(s series) bool { return s.Key == r.URL.Query().Get("bucket") })
	if i < 0 {
		http.Error(w, "want ?bucket=week, month, quarter, older or never", http.StatusBadRequest)
		return
	}
	rows, err := h.membersByBucket(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	members := rows[engagementSeries[i].Key]
	if r.URL.Query().Get("format") == "csv" {
		out := [][]string{{"member_id", "member", "email", "last_activity"}}
		for _, m := range members {
			out = append(out, []string{m.Member.ID, m.Member.Name, m.Member.Email, csvTime(m.Last)})
		}
		writeCSV(w, "members.csv", out)
		return
	}
	h.render(w, "list", listPage{Title: "Members last active: " + engagementSeries[i].Label,
		CSV: "/insights/members?" + url.Values{"bucket": {engagementSeries[i].Key}, "format": {"csv"}}.Encode(), Members: members})
}

// membersByBucket sorts the directory's members into the engagement
// buckets by their timelines (the read model; no API call), by the rule
// of contactsync's Engagement.
func (h *handler) membersByBucket(ctx context.Context) (map[string][]memberLast, error) {
	now := h.now()
	out := map[string][]memberLast{}
	for _, m := range h.members {
		tl, err := h.views.Timeline(ctx, m.ID)
		if errors.Is(err, contactsync.ErrNotFound) {
			continue // not linked
		}
		if err != nil {
			return nil, err
		}
		var last time.Time
		for _, a := range tl {
			if a.Active(now) && a.At.After(last) {
				last = a.At
			}
		}
		key := contactsync.EngagementBucket(last, now)
		out[key] = append(out[key], memberLast{Member: m, Last: last})
	}
	return out, nil
}

// weekAnd reads ?week= (a Monday) and the series named by param.
func weekAnd(r *http.Request, param string, of []series) (time.Time, series, bool) {
	week, err := time.Parse(time.DateOnly, r.URL.Query().Get("week"))
	i := slices.IndexFunc(of, func(s series) bool { return s.Key == r.URL.Query().Get(param) })
	if err != nil || i < 0 || !contactsync.WeekStart(week).Equal(week) {
		return time.Time{}, series{}, false
	}
	return week, of[i], true
}

// insightsCSV serves the Insights page's tables as CSV.
func (h *handler) insightsCSV(w http.ResponseWriter, r *http.Request) {
	p, err := h.insightsData(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	var rows [][]string
	switch name := r.PathValue("name"); name {
	case "follow-ups.csv":
		rows = [][]string{{"week", "on_time", "late", "open", "overdue"}}
		for _, w := range p.FollowUps.Weeks {
			rows = append(rows, []string{weekParam(w.Week), strconv.Itoa(w.OnTime), strconv.Itoa(w.Late), strconv.Itoa(w.Open), strconv.Itoa(w.Overdue)})
		}
	case "engagement.csv":
		rows = [][]string{{"last_activity", "members"}}
		for i, n := range engagementCounts(p.Engagement) {
			rows = append(rows, []string{engagementSeries[i].Key, strconv.Itoa(n)})
		}
	case "appointments.csv":
		rows = [][]string{{"week", "kept", "cancelled", "noshow"}}
		for _, w := range p.AppointmentWeeks {
			rows = append(rows, []string{weekParam(w.Week), strconv.Itoa(w.Kept), strconv.Itoa(w.Cancelled), strconv.Itoa(w.NoShow)})
		}
	case "overdue.csv":
		rows = [][]string{{"member_id", "member", "oldest_due", "overdue_tasks"}}
		for _, o := range p.Overdue {
			rows = append(rows, []string{o.MemberID, o.Member.Name, csvTime(o.OldestDue), strconv.Itoa(o.Count)})
		}
	case "runs.csv":
		rows = [][]string{{"run", "started", "finished", "changes", "api_calls", "failed", "daily_used", "daily_limit", "error"}}
		for _, r := range p.Runs {
			rows = append(rows, []string{r.ID, csvTime(r.Started), csvTime(r.Finished), strconv.Itoa(r.Changes), strconv.FormatInt(r.APICalls, 10),
				strconv.Itoa(r.Failed), strconv.Itoa(r.DailyUsed), strconv.Itoa(r.DailyLimit), r.Err})
		}
	case "quiet.csv":
		rows = [][]string{{"member_id", "member", "last_activity"}}
		for _, q := range p.Quiet {
			rows = append(rows, []string{q.MemberID, q.Member.Name, csvTime(q.LastActivity)})
		}
	default:
		http.NotFound(w, r)
		return
	}
	writeCSV(w, r.PathValue("name"), rows)
}

// activityRows are entries as CSV rows, with a header.
func activityRows(entries []entry) [][]string {
	rows := [][]string{{"member_id", "member", "kind", "title", "body", "at", "end", "completed", "completed_at", "status"}}
	for _, e := range entries {
		rows = append(rows, []string{e.Member.ID, e.Member.Name, string(e.Kind), e.Title, e.Body, csvTime(e.At), csvTime(e.End),
			strconv.FormatBool(e.Completed), csvTime(e.CompletedAt), e.Status})
	}
	return rows
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// writeCSV writes rows as a CSV download. Cells that a spreadsheet would
// run as a formula (=, +, -, @ first) are prefixed with a quote.
func writeCSV(w http.ResponseWriter, name string, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	cw := csv.NewWriter(w)
	for _, row := range rows {
		for i, cell := range row {
			if cell != "" && (cell[0] == '=' || cell[0] == '+' || cell[0] == '-' || cell[0] == '@') {
				row[i] = "'" + cell
			}
		}
		cw.Write(row)
	}
	cw.Flush()
}

const insightsTemplates = `
{{define "chart"}}<figure class="chart" id="{{.ID}}">
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-labelledby="{{.ID}}-title {{.ID}}-desc">
<title id="{{.ID}}-title">{{.Title}}</title><desc id="{{.ID}}-desc">{{.Desc}}</desc>
{{range .YTicks}}<line x1="{{$.Plot.X}}" x2="{{$.Plot.X | add $.Plot.W}}" y1="{{.Pos}}" y2="{{.Pos}}" class="grid"/><text x="{{$.Plot.X | add -6}}" y="{{.Pos | add 4}}" class="ytick">{{.Text}}</text>
{{end}}<line x1="{{.Plot.X}}" x2="{{.Plot.X}}" y1="{{.Plot.Y}}" y2="{{.Plot.Y | add .Plot.H}}" class="axis"/>
<line x1="{{.Plot.X}}" x2="{{.Plot.X | add .Plot.W}}" y1="{{.Plot.Y | add .Plot.H}}" y2="{{.Plot.Y | add .Plot.H}}" class="axis"/>
{{range .XLabels}}<text x="{{.Pos}}" y="{{$.Plot.Y | add $.Plot.H | add 18}}" class="xtick">{{.Text}}</text>
{{end}}{{range .Bars}}<a href="{{.Href}}" class="bar"><rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Color}}"><title>{{.Label}}</title></rect></a>
{{end}}{{range .Lines}}<polyline points="{{.Points}}" fill="none" stroke="{{.Color}}" stroke-width="2" class="line"/>
{{$c := .Color}}{{range .Dots}}<a href="{{.Href}}" class="point"><circle cx="{{.X}}" cy="{{.Y}}" r="4" fill="{{$c}}"><title>{{.Label}}</title></circle></a>
{{end}}{{end}}</svg>
<figcaption>{{.Desc}}{{with .Legend}} <span class="legend">{{range .}}<span><i style="background:{{.Color}}"></i>{{.Label}}</span> {{end}}</span>{{end}}</figcaption>
</figure>{{end}}

{{define "insights"}}{{template "top" "Insights"}}
<h1>Insights</h1>
<section class="tiles">
<div class="tile"><b id="completion">{{.CompletionPercent}}%</b> follow-ups done<br><span class="muted">{{.FollowUps.Done}} of {{.FollowUps.Due}} due</span></div>
<div class="tile"><b id="lateness">{{.MedianLateness}}</b><br><span class="muted">median, due to done ({{.FollowUps.Timed}} timed)</span></div>
<div class="tile"><b id="engaged">{{.EngagedPercent}}%</b> members active in 30 days<br><span class="muted">{{.Engagement.Total}} members</span></div>
<div class="tile"><b id="quiet-count">{{len .Quiet}}</b> gone quiet<br><span class="muted">active before, nothing for 30 days</span></div>
</section>
<h2>Follow-ups</h2>
{{template "chart" .FollowUpChart}}
<p><a href="/insights/follow-ups.csv" download>Download the weeks as CSV</a></p>
<h3>Members with overdue follow-ups</h3>
<table id="overdue-members"><tr><th>Member</th><th>Oldest overdue since</th><th>Overdue tasks</th></tr>
{{range .Overdue}}<tr><td><a href="/members/{{.Member.ID}}">{{.Member.Name}}</a></td><td>{{when .OldestDue}}</td><td>{{.Count}}</td></tr>
{{else}}<tr><td colspan="3" class="muted">Nothing overdue.</td></tr>{{end}}</table>
<p><a href="/insights/overdue.csv" download>Download as CSV</a></p>
<h2>Engagement</h2>
{{template "chart" .EngagementChart}}
<p><a href="/insights/engagement.csv" download>Download as CSV</a></p>
<h3>Gone quiet</h3>
<table id="quiet-members"><tr><th>Member</th><th>Last active</th></tr>
{{range .Quiet}}<tr><td><a href="/members/{{.Member.ID}}">{{.Member.Name}}</a></td><td>{{when .LastActivity}}</td></tr>
{{else}}<tr><td colspan="2" class="muted">Nobody has gone quiet.</td></tr>{{end}}</table>
<p><a href="/insights/quiet.csv" download>Download as CSV</a></p>
<h2>Appointments</h2>
{{template "chart" .AppointmentChart}}
<p><a href="/insights/appointments.csv" download>Download as CSV</a></p>
<h2>Sync health</h2>
<p class="muted">The last runs of GymFlow's sync to this location, from its run log.</p>
<table id="runs"><tr><th>Started</th><th>Took</th><th>Changes</th><th>API calls</th><th>Failed</th><th>Day's budget used</th><th>Error</th></tr>
{{range .Runs}}<tr><td>{{when .Started}}</td><td>{{.Finished.Sub .Started}}</td><td>{{.Changes}}</td><td>{{.APICalls}}</td><td>{{if .Failed}}<span class="overdue">{{.Failed}}</span>{{else}}0{{end}}</td>
<td>{{if ge .DailyLimit 0}}{{.DailyUsed}} of {{.DailyLimit}}{{else}}<span class="muted">not reported</span>{{end}}</td><td>{{.Err}}</td></tr>
{{else}}<tr><td colspan="7" class="muted">No sync runs recorded in this store.</td></tr>{{end}}</table>
<p><a href="/insights/runs.csv" download>Download as CSV</a></p>
{{template "bottom"}}{{end}}

{{define "list"}}{{template "top" .Title}}
<h1>{{.Title}}</h1>
<p><a href="/insights">Back to the insights</a> · <a href="{{.CSV}}" download>Download as CSV</a></p>
{{if .Members}}<table id="list"><tr><th>Member</th><th>Email</th><th>Last active</th></tr>
{{range .Members}}<tr><td><a href="/members/{{.Member.ID}}">{{.Member.Name}}</a></td><td>{{.Member.Email}}</td><td>{{if .Last.IsZero}}never{{else}}{{when .Last}}{{end}}</td></tr>
{{end}}</table>{{else}}<table id="list"><tr><th>When</th><th>What</th><th>Member</th><th>Status</th></tr>
{{range .Entries}}<tr><td>{{when .At}}</td><td>{{.Title}}</td><td><a href="/members/{{.Member.ID}}">{{.Member.Name}}</a></td><td>{{if .Completed}}done{{if not .CompletedAt.IsZero}} {{when .CompletedAt}}{{end}}{{end}}{{.Status}}</td></tr>
{{else}}<tr><td colspan="4" class="muted">Nothing.</td></tr>{{end}}</table>{{end}}
{{template "bottom"}}{{end}}
`
