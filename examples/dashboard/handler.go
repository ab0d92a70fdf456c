package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"html/template"
	"log"
	"net/http"
	"slices"
	"strconv"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// Panels of the front page.
const (
	panelWindow = 7 * 24 * time.Hour // upcoming appointments and recent notes
	panelLimit  = 15
)

// timeLayout is how the pages show times.
const timeLayout = "Mon 2 Jan 15:04"

// handler serves the dashboard's pages from the views alone.
type handler struct {
	views   *contactsync.Views
	members []member // by name
	byID    map[string]member
	loc     *time.Location
	pages   *template.Template
}

// newHandler returns the dashboard: / lists the members and the
// location's overdue tasks, upcoming appointments and recent notes;
// /members/{id} shows a member's follow-ups and timeline. members is the
// GymFlow side's directory (names and emails); everything else comes from
// views. Times are shown in loc.
func newHandler(views *contactsync.Views, members []member, loc *time.Location) http.Handler {
	h := &handler{views: views, members: slices.Clone(members), byID: map[string]member{}, loc: loc}
	slices.SortFunc(h.members, func(a, b member) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	for _, m := range members {
		h.byID[m.ID] = m
	}
	h.pages = template.Must(template.New("pages").Funcs(template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "no date"
			}
			return t.In(loc).Format(timeLayout)
		},
		"clock": func(t time.Time) string { return t.In(loc).Format("15:04") },
		"add":   func(a, b float64) float64 { return a + b },
	}).Parse(pageTemplates + insightsTemplates))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.index)
	mux.HandleFunc("GET /{name}", h.indexCSV)
	mux.HandleFunc("GET /members/{id}/timeline.csv", h.timelineCSV)
	mux.HandleFunc("GET /members/{id}", h.member)
	mux.HandleFunc("GET /insights", h.insights)
	mux.HandleFunc("GET /insights/tasks", h.taskList)
	mux.HandleFunc("GET /insights/appointments", h.appointmentList)
	mux.HandleFunc("GET /insights/members", h.memberList)
	mux.HandleFunc("GET /insights/{name}", h.insightsCSV)
	return mux
}

func (h *handler) now() time.Time {
	if h.views.Now != nil {
		return h.views.Now()
	}
	return time.Now()
}

// entry is an activity as the pages show it, with its member.
type entry struct {
	contactsync.Activity
	Member member
	// NowLine marks the first entry of a timeline at or after now.
	NowLine bool
}

// memberRow is a line of the members table.
type memberRow struct {
	Member        member
	Open, Overdue int
	Next          *entry // the next appointment, if any
}

type indexPage struct {
	Now                      time.Time
	Members                  []memberRow
	Overdue, Upcoming, Notes []entry
}

type memberPage struct {
	Now                 time.Time
	Member              member
	Tasks, Appointments []entry // the follow-ups: open tasks, upcoming appointments
	Timeline            []entry
}

func (h *handler) index(w http.ResponseWriter, r *http.Request) {
	page, err := h.indexData(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	h.render(w, "index", page)
}

// indexCSV serves the front page's table and lists as CSV: members.csv,
// overdue.csv, upcoming.csv and notes.csv.
func (h *handler) indexCSV(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name != "members.csv" && name != "overdue.csv" && name != "upcoming.csv" && name != "notes.csv" {
		http.NotFound(w, r)
		return
	}
	page, err := h.indexData(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	var rows [][]string
	switch name {
	case "members.csv":
		rows = [][]string{{"member_id", "member", "email", "open_tasks", "overdue_tasks", "next_appointment", "next_appointment_title"}}
		for _, m := range page.Members {
			next, title := "", ""
			if m.Next != nil {
				next, title = csvTime(m.Next.At), m.Next.Title
			}
			rows = append(rows, []string{m.Member.ID, m.Member.Name, m.Member.Email, strconv.Itoa(m.Open), strconv.Itoa(m.Overdue), next, title})
		}
	case "overdue.csv":
		rows = activityRows(page.Overdue)
	case "upcoming.csv":
		rows = activityRows(page.Upcoming)
	default:
		rows = activityRows(page.Notes)
	}
	writeCSV(w, name, rows)
}

// timelineCSV serves a member's timeline as CSV.
func (h *handler) timelineCSV(w http.ResponseWriter, r *http.Request) {
	m, ok := h.byID[r.PathValue("id")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	timeline, err := h.views.Timeline(r.Context(), m.ID)
	if errors.Is(err, contactsync.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	entries := make([]entry, len(timeline))
	for i, a := range timeline {
		entries[i] = entry{Activity: a, Member: m}
	}
	writeCSV(w, "timeline-"+m.ID+".csv", activityRows(entries))
}

// indexData reads what the front page shows.
func (h *handler) indexData(ctx context.Context) (indexPage, error) {
	now := h.now()
	page := indexPage{Now: now}
	open, err := h.views.OpenTasks(ctx, 0)
	var upcoming []contactsync.Activity
	if err == nil {
		upcoming, err = h.views.UpcomingAppointments(ctx, 0, 0)
	}
	if err == nil {
		page.Overdue, err = h.entries(ctx, func(ctx context.Context) ([]contactsync.Activity, error) {
			return h.views.OverdueTasks(ctx, panelLimit)
		})
	}
	if err == nil {
		page.Upcoming, err = h.entries(ctx, func(ctx context.Context) ([]contactsync.Activity, error) {
			return h.views.UpcomingAppointments(ctx, panelWindow, panelLimit)
		})
	}
	if err == nil {
		page.Notes, err = h.entries(ctx, func(ctx context.Context) ([]contactsync.Activity, error) {
			return h.views.RecentNotes(ctx, panelWindow, panelLimit)
		})
	}
	if err != nil {
		return indexPage{}, err
	}
	rows := map[string]*memberRow{}
	for _, m := range h.members {
		page.Members = append(page.Members, memberRow{Member: m})
	}
	for i := range page.Members {
		rows[page.Members[i].Member.ID] = &page.Members[i]
	}
	for _, t := range open {
		if row := rows[t.MemberID]; row != nil {
			row.Open++
			if t.Overdue(now) {
				row.Overdue++
			}
		}
	}
	for _, a := range upcoming { // soonest first
		if row := rows[a.MemberID]; row != nil && row.Next == nil {
			row.Next = &entry{Activity: a, Member: row.Member}
		}
	}
	return page, nil
}

// entries runs a view and pairs its activities with their members.
func (h *handler) entries(ctx context.Context, view func(context.Context) ([]contactsync.Activity, error)) ([]entry, error) {
	as, err := view(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(as))
	for _, a := range as {
		m, ok := h.byID[a.MemberID]
		if !ok {
			m = member{ID: a.MemberID, Name: a.MemberID}
		}
		out = append(out, entry{Activity: a, Member: m})
	}
	return out, nil
}

func (h *handler) member(w http.ResponseWriter, r *http.Request) {
	m, ok := h.byID[r.PathValue("id")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	now := h.now()
	timeline, err := h.views.Timeline(r.Context(), m.ID)
	if errors.Is(err, contactsync.ErrNotFound) { // not linked to a contact (yet)
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	page := memberPage{Now: now, Member: m}
	nowLine := false
	for _, a := range timeline {
		e := entry{Activity: a, Member: m}
		if !nowLine && !a.At.Before(now) {
			e.NowLine, nowLine = true, true
		}
		page.Timeline = append(page.Timeline, e)
		switch {
		case a.Kind == contactsync.KindTask && !a.Completed:
			page.Tasks = append(page.Tasks, e)
		case a.Kind == contactsync.KindAppointment && !a.At.Before(now) && !a.Cancelled():
			page.Appointments = append(page.Appointments, e)
		}
	}
	h.render(w, "member", page)
}

// render executes a page into a buffer first, so that an error is a 500,
// not half a page.
func (h *handler) render(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := h.pages.ExecuteTemplate(&buf, name, data); err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

func (h *handler) fail(w http.ResponseWriter, err error) {
	log.Printf("dashboard: %v", err)
	http.Error(w, "The dashboard could not read its store.", http.StatusInternalServerError)
}

const pageTemplates = `
{{define "top"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{.}} · GymFlow</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f5f6f8; }
header { background: #1d2430; color: #fff; padding: .7em 1.5em; display: flex; gap: 1em; align-items: baseline; }
header a { color: #fff; font-weight: 600; text-decoration: none; }
main { padding: 1em 1.5em; max-width: 75em; }
a { color: #2456b3; }
.muted { color: #6b7280; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(20em, 1fr)); gap: 1em; }
.panel { background: #fff; border-radius: 8px; padding: .3em 1em 1em; box-shadow: 0 1px 2px #0002; }
.item { padding: .3em 0; border-bottom: 1px solid #eee; }
table { border-collapse: collapse; width: 100%; background: #fff; box-shadow: 0 1px 2px #0002; }
th, td { text-align: left; padding: .35em .7em; border-bottom: 1px solid #eee; }
.overdue { background: #fde2e1; color: #a4161a; border-radius: 4px; padding: 0 .35em; font-size: .85em; font-weight: 600; }
.badge { border-radius: 4px; padding: 0 .35em; font-size: .8em; background: #e5e7eb; }
.badge.task { background: #e0ecff; } .badge.note { background: #fff3c4; } .badge.appointment { background: #dcfce7; }
.timeline { list-style: none; padding: 0; background: #fff; box-shadow: 0 1px 2px #0002; border-radius: 8px; }
.timeline li { padding: .4em 1em; border-bottom: 1px solid #eee; }
.timeline li.now { background: #1d2430; color: #fff; font-size: .85em; }
.when { display: inline-block; min-width: 9em; color: #6b7280; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(12em, 1fr)); gap: 1em; }
.tile { background: #fff; border-radius: 8px; padding: .7em 1em; box-shadow: 0 1px 2px #0002; }
.tile b { font-size: 1.6em; }
.chart { background: #fff; border-radius: 8px; padding: .5em; margin: 0; box-shadow: 0 1px 2px #0002; max-width: 740px; }
.chart svg { display: block; max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
.chart .grid { stroke: #e9ecef; } .chart .axis { stroke: #495057; }
.chart .ytick { text-anchor: end; fill: #495057; } .chart .xtick { text-anchor: middle; fill: #495057; }
.chart a:hover rect, .chart a:hover circle { opacity: .75; }
figcaption { color: #495057; font-size: .9em; padding: .3em; }
.legend span { margin-right: .8em; white-space: nowrap; } .legend i { display: inline-block; width: .8em; height: .8em; margin-right: .3em; border-radius: 2px; }
.done b { text-decoration: line-through; } .cancelled b { text-decoration: line-through; color: #6b7280; }
</style>
</head>
<body>
<header><a href="/">GymFlow members</a><a href="/insights">Insights</a><span>activity from the read model — no API calls</span></header>
<main>
{{end}}

{{define "bottom"}}</main>
</body>
</html>
{{end}}

{{define "index"}}{{template "top" "Members"}}
<section class="panels">
<div class="panel" id="overdue"><h2>Overdue tasks</h2>
{{range .Overdue}}<div class="item"><span class="overdue">overdue</span> <b>{{.Title}}</b><br>
<span class="muted">due {{when .At}} · <a href="/members/{{.Member.ID}}">{{.Member.Name}}</a></span></div>
{{else}}<p class="muted">Nothing overdue.</p>{{end}}<p><a href="/overdue.csv" download>CSV</a></p></div>
<div class="panel" id="upcoming"><h2>Upcoming appointments</h2>
{{range .Upcoming}}<div class="item"><b>{{when .At}}</b>–{{clock .End}} {{.Title}} <span class="muted">{{.Status}}</span><br>
<a href="/members/{{.Member.ID}}">{{.Member.Name}}</a></div>
{{else}}<p class="muted">No appointments in the next 7 days.</p>{{end}}<p><a href="/upcoming.csv" download>CSV</a></p></div>
<div class="panel" id="notes"><h2>Recent notes</h2>
{{range .Notes}}<div class="item">{{.Body}}<br>
<span class="muted">{{when .At}} · <a href="/members/{{.Member.ID}}">{{.Member.Name}}</a></span></div>
{{else}}<p class="muted">No notes in the last 7 days.</p>{{end}}<p><a href="/notes.csv" download>CSV</a></p></div>
</section>
<h2>Members</h2>
<p><a href="/members.csv" download>Download the members as CSV</a></p>
<table id="members">
<tr><th>Member</th><th>Email</th><th>Open tasks</th><th>Overdue</th><th>Next appointment</th></tr>
{{range .Members}}<tr>
<td><a href="/members/{{.Member.ID}}">{{.Member.Name}}</a></td>
<td>{{.Member.Email}}</td>
<td>{{.Open}}</td>
<td>{{if .Overdue}}<span class="overdue">{{.Overdue}} overdue</span>{{else}}<span class="muted">0</span>{{end}}</td>
<td>{{with .Next}}{{when .At}} · {{.Title}}{{else}}<span class="muted">none</span>{{end}}</td>
</tr>
{{end}}</table>
{{template "bottom"}}{{end}}

{{define "member"}}{{template "top" .Member.Name}}
<h1>{{.Member.Name}}</h1>
<p class="muted">{{.Member.Email}} · GymFlow member {{.Member.ID}}</p>
<div class="panel" id="follow-ups"><h2>Follow-ups</h2>
{{range .Tasks}}<div class="item">{{if .Overdue $.Now}}<span class="overdue">overdue</span> {{end}}<b>{{.Title}}</b> <span class="muted">due {{when .At}}</span></div>
{{else}}<p class="muted">No open tasks.</p>{{end}}
{{range .Appointments}}<div class="item"><span class="badge appointment">appointment</span> <b>{{.Title}}</b> {{when .At}}–{{clock .End}} <span class="muted">{{.Status}}</span></div>
{{end}}</div>
<h2>Timeline</h2>
<p><a href="/members/{{.Member.ID}}/timeline.csv" download>Download the timeline as CSV</a></p>
<ol class="timeline" id="timeline">
{{range .Timeline}}{{if .NowLine}}<li class="now">now · {{when $.Now}}</li>
{{end}}<li class="{{.Kind}}{{if .Completed}} done{{end}}{{if .Cancelled}} cancelled{{end}}"><span class="when">{{when .At}}</span> <span class="badge {{.Kind}}">{{.Kind}}</span>
{{if eq .Kind "note"}}{{with .Title}}<b>{{.}}</b> {{end}}{{.Body}}{{else}}<b>{{.Title}}</b>{{with .Body}} <span class="muted">— {{.}}</span>{{end}}{{end}}
{{if .Overdue $.Now}}<span class="overdue">overdue</span>{{end}}{{if .Completed}} <span class="muted">done</span>{{end}}{{with .Status}} <span class="muted">{{.}}</span>{{end}}</li>
{{else}}<li class="muted">No activity yet.</li>
{{end}}</ol>
{{template "bottom"}}{{end}}
`
