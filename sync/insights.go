package contactsync

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// The insights are the numbers a gym manager looks at: whether follow-ups
// get done, which members are drifting away, how appointments go, and how
// the sync runs. Like the other views they only read the stores and never
// call the API. A store that implements InsightStore (package sqlstore's,
// in SQL over its indexes) computes them itself; for any other store the
// views compute them from Activities and Links.
//
// Weeks start on Monday, 00:00 UTC. The weekly insights cover InsightWeeks
// weeks: the current one and those before it. Only the activities of
// contacts a member is linked to count (as in the other location-wide
// views), and archived members are left out of engagement.

// InsightWeeks is how many weeks the weekly insights cover.
const InsightWeeks = 12

// QuietAfter is how long without activity makes a member "gone quiet".
const QuietAfter = 30 * 24 * time.Hour

// WeekStart returns the start of t's week: Monday, 00:00 UTC.
func WeekStart(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// insightWindow is the first week's start and the end of the current
// week.
func insightWindow(now time.Time) (from, to time.Time) {
	to = WeekStart(now).AddDate(0, 0, 7)
	return to.AddDate(0, 0, -7*InsightWeeks), to
}

// FollowUpWeek is what became of the tasks due in one week.
type FollowUpWeek struct {
	// Week is the week's start.
	Week time.Time
	// OnTime are done by their due time (or done at a time the read
	// model does not know: first seen already completed); Late done
	// after it; Open not done and not yet due; Overdue not done and past
	// due.
	OnTime, Late, Open, Overdue int
}

// Total is the number of tasks due in the week.
func (w FollowUpWeek) Total() int { return w.OnTime + w.Late + w.Open + w.Overdue }

// FollowUps are the follow-up tasks of the last InsightWeeks weeks, by
// due date.
type FollowUps struct {
	// Weeks are the weeks, oldest first, each present.
	Weeks []FollowUpWeek
	// Due counts the tasks of the weeks that are done or past due, Done
	// those done; CompletionRate is Done/Due (0 if Due is 0).
	Due, Done      int
	CompletionRate float64
	// MedianLateness is the median time from due to done over the
	// Timed completed tasks whose completion time is known (negative:
	// done early). Zero if Timed is 0.
	MedianLateness time.Duration
	Timed          int
}

// OverdueMember is a member with overdue follow-ups.
type OverdueMember struct {
	MemberID, ContactID string
	// OldestDue is the due time of the member's oldest overdue task;
	// Count how many are overdue.
	OldestDue time.Time
	Count     int
}

// Engagement counts the members by their last activity: a note, a
// completed task (by due time) or an appointment not cancelled, not a
// no-show, up to now.
type Engagement struct {
	// Week: within 7 days; Month: within 30 days (and not 7); Quarter:
	// within 90 days (and not 30); Older: before; Never: no activity.
	Week, Month, Quarter, Older, Never int
}

// Total is the number of members counted.
func (e Engagement) Total() int { return e.Week + e.Month + e.Quarter + e.Older + e.Never }

// QuietMember is a member active before, but not for QuietAfter.
type QuietMember struct {
	MemberID, ContactID string
	LastActivity        time.Time
}

// AppointmentWeek counts the appointments of one week, by start.
type AppointmentWeek struct {
	Week time.Time
	// Kept are neither cancelled nor no-shows.
	Kept, Cancelled, NoShow int
}

// Total is the number of appointments of the week.
func (w AppointmentWeek) Total() int { return w.Kept + w.Cancelled + w.NoShow }

// AppointmentOutcome classifies an appointment's status: "cancelled",
// "noshow" or "kept".
func AppointmentOutcome(status string) string {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "cancelled", "canceled":
		return "cancelled"
	case "noshow", "no_show", "no-show":
		return "noshow"
	}
	return "kept"
}

// InsightStore is an ActivityStore (and StateStore, for Engagement and
// QuietMembers) that computes the insights itself. now is the views'
// clock; limits of zero or less mean no limit. Package statetest checks an
// implementation against the views' own computation.
type InsightStore interface {
	FollowUpInsights(ctx context.Context, now time.Time) (FollowUps, error)
	OverdueMembers(ctx context.Context, now time.Time, limit int) ([]OverdueMember, error)
	EngagementInsights(ctx context.Context, now time.Time) (Engagement, error)
	QuietMembers(ctx context.Context, now time.Time, limit int) ([]QuietMember, error)
	AppointmentInsights(ctx context.Context, now time.Time) ([]AppointmentWeek, error)
}

func (v *Views) insightStore() (InsightStore, bool) {
	s, ok := v.Activity.(InsightStore)
	return s, ok
}

// FollowUps returns the follow-up tasks of the last InsightWeeks weeks.
func (v *Views) FollowUps(ctx context.Context) (FollowUps, error) {
	if s, ok := v.insightStore(); ok {
		return s.FollowUpInsights(ctx, v.now())
	}
	return v.followUps(ctx, v.now())
}

// OverdueMembers returns the members with an overdue task (one due
// before now; a task without a due date never is), the oldest overdue
// first (then by MemberID), at most limit (0: all).
func (v *Views) OverdueMembers(ctx context.Context, limit int) ([]OverdueMember, error) {
	if s, ok := v.insightStore(); ok {
		return s.OverdueMembers(ctx, v.now(), limit)
	}
	return v.overdueMembers(ctx, v.now(), limit)
}

// Engagement counts the linked members by last activity. It needs State
// (the member links) unless the store is an InsightStore.
func (v *Views) Engagement(ctx context.Context) (Engagement, error) {
	if s, ok := v.insightStore(); ok {
		return s.EngagementInsights(ctx, v.now())
	}
	var e Engagement
	now := v.now()
	err := v.lastActivities(ctx, now, func(_ Link, last time.Time) {
		switch EngagementBucket(last, now) {
		case "never":
			e.Never++
		case "week":
			e.Week++
		case "month":
			e.Month++
		case "quarter":
			e.Quarter++
		default:
			e.Older++
		}
	})
	return e, err
}

// EngagementBucket names the Engagement bucket of a member last active at
// last (zero: never), at now: "week", "month", "quarter", "older" or
// "never".
func EngagementBucket(last, now time.Time) string {
	switch age := now.Sub(last); {
	case last.IsZero():
		return "never"
	case age <= 7*24*time.Hour:
		return "week"
	case age <= 30*24*time.Hour:
		return "month"
	case age <= 90*24*time.Hour:
		return "quarter"
	}
	return "older"
}

// QuietMembers returns the members active before but not in the last
// QuietAfter, the most recently active first (then by MemberID), at most
// limit (0: all): the ones still worth a call.
func (v *Views) QuietMembers(ctx context.Context, limit int) ([]QuietMember, error) {
	if s, ok := v.insightStore(); ok {
		return s.QuietMembers(ctx, v.now(), limit)
	}
	var out []QuietMember
	now := v.now()
	err := v.lastActivities(ctx, now, func(l Link, last time.Time) {
		if !last.IsZero() && now.Sub(last) > QuietAfter {
			out = append(out, QuietMember{MemberID: l.LocalID, ContactID: l.RemoteID, LastActivity: last})
		}
	})
	slices.SortFunc(out, func(a, b QuietMember) int {
		return cmp.Or(b.LastActivity.Compare(a.LastActivity), cmp.Compare(a.MemberID, b.MemberID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// AppointmentWeeks returns the appointments of the last InsightWeeks weeks
// by outcome, oldest week first, each present.
func (v *Views) AppointmentWeeks(ctx context.Context) ([]AppointmentWeek, error) {
	if s, ok := v.insightStore(); ok {
		return s.AppointmentInsights(ctx, v.now())
	}
	from, to := insightWindow(v.now())
	weeks := EmptyAppointmentWeeks(v.now())
	acts, err := v.Activity.Activities(ctx, ActivityQuery{Kinds: []Kind{KindAppointment}, From: from, To: to})
	for _, a := range acts {
		if a.MemberID == "" {
			continue
		}
		w := &weeks[weekIndex(from, a.At)]
		switch AppointmentOutcome(a.Status) {
		case "cancelled":
			w.Cancelled++
		case "noshow":
			w.NoShow++
		default:
			w.Kept++
		}
	}
	return weeks, err
}

// SyncRun is a run of the sync's run log, as sync health shows it.
type SyncRun struct {
	ID                string
	Started, Finished time.Time
	// Err is the error that stopped the run early, if any.
	Err string
	// From the run's Report: the changes it processed, the API calls it
	// made (retries included), the records it failed.
	Changes, Failed int
	APICalls        int64
	// DailyLimit and DailyRemaining are the location's daily budget as the
	// API last reported it in the run (-1: not reported); DailyUsed is
	// their difference, the calls the day had taken by the run's end.
	DailyLimit, DailyRemaining, DailyUsed int
}

// SyncRuns returns the last limit runs of the sync's run log (0: all),
// newest first, with the numbers of their reports. A report that cannot be
// read leaves its numbers zero (and the budget -1).
func (v *Views) SyncRuns(ctx context.Context, limit int) ([]SyncRun, error) {
	if v.State == nil {
		return nil, errors.New("contactsync: SyncRuns needs Views.State")
	}
	runs, err := v.State.Runs(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]SyncRun, len(runs))
	for i, r := range runs {
		s := SyncRun{ID: r.ID, Started: r.Started, Finished: r.Finished, Err: r.Err, DailyLimit: -1, DailyRemaining: -1, DailyUsed: -1}
		var rep Report
		if json.Unmarshal(r.Report, &rep) == nil {
			s.Changes, s.Failed, s.APICalls = rep.Changes, rep.Failed, rep.APICalls
			if rep.RateLimit.DailyLimit > 0 && rep.RateLimit.DailyRemaining >= 0 {
				s.DailyLimit, s.DailyRemaining = rep.RateLimit.DailyLimit, rep.RateLimit.DailyRemaining
				s.DailyUsed = s.DailyLimit - s.DailyRemaining
			}
		}
		out[i] = s
	}
	return out, nil
}

func weekIndex(from, t time.Time) int { return int(t.Sub(from) / (7 * 24 * time.Hour)) }

// EmptyFollowUpWeeks and EmptyAppointmentWeeks are the InsightWeeks weeks
// up to now's, with nothing counted (for an InsightStore to fill).
func EmptyFollowUpWeeks(now time.Time) []FollowUpWeek {
	return emptyWeeks(now, func(w *FollowUpWeek) *time.Time { return &w.Week })
}

// EmptyAppointmentWeeks: see EmptyFollowUpWeeks.
func EmptyAppointmentWeeks(now time.Time) []AppointmentWeek {
	return emptyWeeks(now, func(w *AppointmentWeek) *time.Time { return &w.Week })
}

func emptyWeeks[W any](now time.Time, week func(*W) *time.Time) []W {
	from, _ := insightWindow(now)
	out := make([]W, InsightWeeks)
	for i := range out {
		*week(&out[i]) = from.AddDate(0, 0, 7*i)
	}
	return out
}

// FollowUpBucket tells where a task due at due, completed (at completedAt,
// zero if not known) or not, falls at now: "ontime", "late", "open" or
// "overdue".
func FollowUpBucket(due time.Time, completed bool, completedAt, now time.Time) string {
	switch {
	case completed && !completedAt.IsZero() && completedAt.After(due):
		return "late"
	case completed:
		return "ontime"
	case due.Before(now):
		return "overdue"
	}
	return "open"
}

// SummarizeFollowUps completes f from its Weeks and the lateness of its
// timed completed tasks (in any order): Due, Done, CompletionRate, Timed
// and MedianLateness.
func SummarizeFollowUps(f *FollowUps, lateness []time.Duration) {
	f.Due, f.Done = 0, 0
	for _, w := range f.Weeks {
		f.Done += w.OnTime + w.Late
		f.Due += w.OnTime + w.Late + w.Overdue
	}
	if f.Due > 0 {
		f.CompletionRate = float64(f.Done) / float64(f.Due)
	}
	f.Timed = len(lateness)
	f.MedianLateness = MedianDuration(lateness)
}

// MedianDuration is the median of ds (the mean of the two middle ones for
// an even count; zero for none). It sorts ds.
func MedianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return ds[n/2-1] + (ds[n/2]-ds[n/2-1])/2
}

func (v *Views) followUps(ctx context.Context, now time.Time) (FollowUps, error) {
	from, to := insightWindow(now)
	f := FollowUps{Weeks: EmptyFollowUpWeeks(now)}
	acts, err := v.Activity.Activities(ctx, ActivityQuery{Kinds: []Kind{KindTask}, From: from, To: to})
	if err != nil {
		return FollowUps{}, err
	}
	var lateness []time.Duration
	for _, a := range acts {
		if a.MemberID == "" {
			continue
		}
		w := &f.Weeks[weekIndex(from, a.At)]
		switch FollowUpBucket(a.At, a.Completed, a.CompletedAt, now) {
		case "late":
			w.Late++
		case "ontime":
			w.OnTime++
		case "overdue":
			w.Overdue++
		default:
			w.Open++
		}
		if a.Completed && !a.CompletedAt.IsZero() {
			lateness = append(lateness, a.CompletedAt.Sub(a.At))
		}
	}
	SummarizeFollowUps(&f, lateness)
	return f, nil
}

func (v *Views) overdueMembers(ctx context.Context, now time.Time, limit int) ([]OverdueMember, error) {
	open := false // a task without a due date is never overdue (see Activity.Overdue)
	acts, err := v.Activity.Activities(ctx, ActivityQuery{Kinds: []Kind{KindTask}, Completed: &open, From: notZero, To: now})
	if err != nil {
		return nil, err
	}
	byMember := map[string]*OverdueMember{}
	var out []*OverdueMember
	for _, a := range acts { // oldest first
		if a.MemberID == "" {
			continue
		}
		m := byMember[a.MemberID]
		if m == nil {
			m = &OverdueMember{MemberID: a.MemberID, ContactID: a.ContactID, OldestDue: a.At}
			byMember[a.MemberID] = m
			out = append(out, m)
		}
		m.Count++
	}
	res := make([]OverdueMember, len(out))
	for i, m := range out {
		res[i] = *m
	}
	slices.SortStableFunc(res, func(a, b OverdueMember) int {
		return cmp.Or(a.OldestDue.Compare(b.OldestDue), cmp.Compare(a.MemberID, b.MemberID))
	})
	if limit > 0 && len(res) > limit {
		res = res[:limit]
	}
	return res, nil
}

// Active reports whether a counts as the member's activity at now: a note,
// a completed task or an appointment neither cancelled nor a no-show, at
// or before now.
func (a Activity) Active(now time.Time) bool {
	if a.At.After(now) {
		return false
	}
	switch a.Kind {
	case KindNote:
		return true
	case KindTask:
		return a.Completed
	case KindAppointment:
		return AppointmentOutcome(a.Status) == "kept"
	}
	return false
}

// lastActivities calls f with each linked, unarchived member and the time
// of its last activity (zero: none; an activity without a time does not
// count).
func (v *Views) lastActivities(ctx context.Context, now time.Time, f func(Link, time.Time)) error {
	if v.State == nil {
		return errors.New("contactsync: member insights need Views.State")
	}
	last := map[string]time.Time{}
	acts, err := v.Activity.Activities(ctx, ActivityQuery{To: now.Add(time.Millisecond)})
	if err != nil {
		return err
	}
	for _, a := range acts {
		if a.MemberID != "" && a.Active(now) && a.At.After(last[a.MemberID]) {
			last[a.MemberID] = a.At
		}
	}
	after := ""
	for {
		links, err := v.State.Links(ctx, KindMember, after, 1000)
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.RemoteID != "" && !l.Archived {
				f(l, last[l.LocalID])
			}
		}
		if len(links) < 1000 {
			return nil
		}
		after = links[len(links)-1].LocalID
	}
}
