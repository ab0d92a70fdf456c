package statetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// InsightsStore is what the insights read: the member links and the
// activity read model, in one store.
type InsightsStore interface {
	contactsync.StateStore
	contactsync.ActivityStore
}

// RunInsights runs the conformance suite of the insight views
// (contactsync.Views' FollowUps, OverdueMembers, Engagement, QuietMembers
// and AppointmentWeeks) over the stores newStore returns, one per subtest,
// each empty. A store that implements contactsync.InsightStore computes
// them itself; the suite checks its answers against fixed expectations
// and, on random data, against the views' own computation from
// Activities and Links.
func RunInsights(t *testing.T, newStore func(t *testing.T) InsightsStore) {
	t.Helper()
	runSuite(t, newStore, []subtest[InsightsStore]{
		{"Empty", testInsightsEmpty},
		{"Fixed", testInsightsFixed},
		{"Model", testInsightsModel},
	})
}

// insightNow is a Wednesday, 15:30 UTC.
var insightNow = time.Date(2026, 11, 18, 15, 30, 0, 0, time.UTC)

// plainActivity hides a store's InsightStore, so that the views compute
// the insights from Activities.
type plainActivity struct{ contactsync.ActivityStore }

func insightViews(s InsightsStore, plain bool) *contactsync.Views {
	var a contactsync.ActivityStore = s
	if plain {
		a = plainActivity{s}
	}
	return &contactsync.Views{State: s, Activity: a, Now: func() time.Time { return insightNow }}
}

type insights struct {
	FollowUps    contactsync.FollowUps
	Overdue      []contactsync.OverdueMember
	Engagement   contactsync.Engagement
	Quiet        []contactsync.QuietMember
	Appointments []contactsync.AppointmentWeek
}

func readInsights(t *testing.T, v *contactsync.Views, limit int) insights {
	t.Helper()
	ctx := context.Background()
	var in insights
	var err error
	if in.FollowUps, err = v.FollowUps(ctx); err != nil {
		t.Fatal(err)
	}
	if in.Overdue, err = v.OverdueMembers(ctx, limit); err != nil {
		t.Fatal(err)
	}
	if in.Engagement, err = v.Engagement(ctx); err != nil {
		t.Fatal(err)
	}
	if in.Quiet, err = v.QuietMembers(ctx, limit); err != nil {
		t.Fatal(err)
	}
	if in.Appointments, err = v.AppointmentWeeks(ctx); err != nil {
		t.Fatal(err)
	}
	return in
}

func testInsightsEmpty(t *testing.T, s InsightsStore) {
	in := readInsights(t, insightViews(s, false), 0)
	if len(in.FollowUps.Weeks) != contactsync.InsightWeeks || len(in.Appointments) != contactsync.InsightWeeks {
		t.Fatalf("weeks: %d follow-up, %d appointment; want %d each", len(in.FollowUps.Weeks), len(in.Appointments), contactsync.InsightWeeks)
	}
	first := contactsync.WeekStart(insightNow).AddDate(0, 0, -7*(contactsync.InsightWeeks-1))
	for i, w := range in.FollowUps.Weeks {
		if want := first.AddDate(0, 0, 7*i); !w.Week.Equal(want) || w.Total() != 0 || !in.Appointments[i].Week.Equal(want) || in.Appointments[i].Total() != 0 {
			t.Errorf("week %d: %+v, %+v; want %s, empty", i, w, in.Appointments[i], want)
		}
	}
	if in.FollowUps.Due != 0 || in.FollowUps.CompletionRate != 0 || len(in.Overdue) != 0 || in.Engagement.Total() != 0 || len(in.Quiet) != 0 {
		t.Errorf("an empty store: %+v", in)
	}
}

func putMember(t *testing.T, s InsightsStore, id string, archived bool) {
	t.Helper()
	if err := s.PutLink(context.Background(), contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: "c-" + id, Archived: archived}); err != nil {
		t.Fatal(err)
	}
}

func putActivities(t *testing.T, s InsightsStore, acts ...contactsync.Activity) {
	t.Helper()
	for _, a := range acts {
		if a.ContactID == "" && a.MemberID != "" {
			a.ContactID = "c-" + a.MemberID
		}
		if a.ContactID == "" {
			a.ContactID = "c-unlinked"
		}
		if err := s.PutActivity(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
}

func testInsightsFixed(t *testing.T, s InsightsStore) {
	day := 24 * time.Hour
	now := insightNow
	thisWeek := contactsync.WeekStart(now) // Monday 16 Nov 2026
	for _, m := range []string{"m1", "m2", "m3", "m4", "m5", "m7"} {
		putMember(t, s, m, false)
	}
	putMember(t, s, "m6", true) // archived: not counted
	task := func(id, member string, due time.Time, done bool, doneAt time.Time) contactsync.Activity {
		return contactsync.Activity{Kind: contactsync.KindTask, RemoteID: id, MemberID: member, Title: id, At: due, Completed: done, CompletedAt: doneAt}
	}
	putActivities(t, s,
		// This week: one done on time, one done late, one overdue (due
		// Monday), one open (due Friday).
		task("t1", "m1", thisWeek.Add(10*time.Hour), true, thisWeek.Add(9*time.Hour)),
		task("t2", "m1", thisWeek.Add(10*time.Hour), true, thisWeek.Add(34*time.Hour)),
		task("t3", "m2", thisWeek.Add(10*time.Hour), false, time.Time{}),
		task("t4", "m2", thisWeek.Add(4*day), false, time.Time{}),
		// Two weeks ago: done, completion time unknown (on time); and
		// overdue, m3's oldest.
		task("t5", "m3", thisWeek.Add(-14*day+time.Hour), true, time.Time{}),
		task("t6", "m3", thisWeek.Add(-13*day), false, time.Time{}),
		// Before the 12 weeks: overdue all the same, but in no week.
		task("t7", "m4", thisWeek.Add(-100*day), false, time.Time{}),
		// An unlinked contact's task counts nowhere.
		task("t8", "", thisWeek.Add(time.Hour), false, time.Time{}),
		// Notes and appointments: engagement.
		contactsync.Activity{Kind: contactsync.KindNote, RemoteID: "n1", MemberID: "m1", At: now.Add(-2 * day)},
		contactsync.Activity{Kind: contactsync.KindNote, RemoteID: "n2", MemberID: "m4", At: now.Add(-45 * day)},
		contactsync.Activity{Kind: contactsync.KindNote, RemoteID: "n3", MemberID: "m6", At: now.Add(-1 * day)},
		// m2: its last kept appointment 20 days ago; a later one cancelled,
		// a no-show, and one still to come do not count.
		contactsync.Activity{Kind: contactsync.KindAppointment, RemoteID: "a1", MemberID: "m2", At: now.Add(-20 * day), Status: "showed"},
		contactsync.Activity{Kind: contactsync.KindAppointment, RemoteID: "a2", MemberID: "m2", At: now.Add(-3 * day), Status: "Cancelled"},
		contactsync.Activity{Kind: contactsync.KindAppointment, RemoteID: "a3", MemberID: "m2", At: now.Add(-1 * day), Status: "noshow"},
		contactsync.Activity{Kind: contactsync.KindAppointment, RemoteID: "a4", MemberID: "m2", At: now.Add(day), Status: "confirmed"},
		// m5: one note 120 days ago.
		contactsync.Activity{Kind: contactsync.KindNote, RemoteID: "n4", MemberID: "m5", At: now.Add(-120 * day)},
		// Without a time: m7's note makes it no less "never" active, and
		// m5's open task without a due date is not overdue.
		contactsync.Activity{Kind: contactsync.KindNote, RemoteID: "n5", MemberID: "m7"},
		task("t9", "m5", time.Time{}, false, time.Time{}),
		// A status with spaces is classified all the same.
		contactsync.Activity{Kind: contactsync.KindAppointment, RemoteID: "a5", MemberID: "m2", At: now.Add(-20*day - time.Hour), Status: " Cancelled "},
	)
	for _, plain := range []bool{false, true} {
		in := readInsights(t, insightViews(s, plain), 0)
		name := map[bool]string{false: "store", true: "views"}[plain]
		w := in.FollowUps.Weeks
		last, twoAgo := w[len(w)-1], w[len(w)-3]
		if last != (contactsync.FollowUpWeek{Week: thisWeek, OnTime: 1, Late: 1, Open: 1, Overdue: 1}) {
			t.Errorf("%s: this week %+v", name, last)
		}
		if twoAgo != (contactsync.FollowUpWeek{Week: thisWeek.AddDate(0, 0, -14), OnTime: 1, Overdue: 1}) {
			t.Errorf("%s: two weeks ago %+v", name, twoAgo)
		}
		f := in.FollowUps
		if f.Due != 5 || f.Done != 3 || f.CompletionRate != 0.6 || f.Timed != 2 || f.MedianLateness != 11*time.Hour+30*time.Minute {
			t.Errorf("%s: follow-ups %+v (want 5 due, 3 done, 0.6, 2 timed, median 11h30m)", name, f)
		}
		wantOverdue := []contactsync.OverdueMember{
			{MemberID: "m4", ContactID: "c-m4", OldestDue: thisWeek.Add(-100 * day), Count: 1},
			{MemberID: "m3", ContactID: "c-m3", OldestDue: thisWeek.Add(-13 * day), Count: 1},
			{MemberID: "m2", ContactID: "c-m2", OldestDue: thisWeek.Add(10 * time.Hour), Count: 1},
		}
		if !reflect.DeepEqual(in.Overdue, wantOverdue) {
			t.Errorf("%s: overdue %+v", name, in.Overdue)
		}
		// m1: 2 days (week); m2: 20 days, m3: 16 days, its task done
		// (month); m4: 45 days (quarter); m5: 120 days (older); m7:
		// never.
		if e := in.Engagement; e != (contactsync.Engagement{Week: 1, Month: 2, Quarter: 1, Older: 1, Never: 1}) {
			t.Errorf("%s: engagement %+v", name, e)
		}
		wantQuiet := []contactsync.QuietMember{
			{MemberID: "m4", ContactID: "c-m4", LastActivity: now.Add(-45 * day)},
			{MemberID: "m5", ContactID: "c-m5", LastActivity: now.Add(-120 * day)},
		}
		if !reflect.DeepEqual(in.Quiet, wantQuiet) {
			t.Errorf("%s: quiet %+v", name, in.Quiet)
		}
		ap := in.Appointments
		// a1: 20 days ago = 3 weeks back (Oct 29, week of Oct 26); a2,
		// a3 this week or last; a4 this week (Thursday).
		got := map[time.Time]contactsync.AppointmentWeek{}
		for _, w := range ap {
			if w.Total() > 0 {
				got[w.Week] = w
			}
		}
		want := map[time.Time]contactsync.AppointmentWeek{}
		add := func(at time.Time, f func(*contactsync.AppointmentWeek)) {
			wk := contactsync.WeekStart(at)
			w := want[wk]
			w.Week = wk
			f(&w)
			want[wk] = w
		}
		add(now.Add(-20*day), func(w *contactsync.AppointmentWeek) { w.Kept++ })
		add(now.Add(-20*day-time.Hour), func(w *contactsync.AppointmentWeek) { w.Cancelled++ })
		add(now.Add(-3*day), func(w *contactsync.AppointmentWeek) { w.Cancelled++ })
		add(now.Add(-1*day), func(w *contactsync.AppointmentWeek) { w.NoShow++ })
		add(now.Add(day), func(w *contactsync.AppointmentWeek) { w.Kept++ })
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: appointments %+v, want %+v", name, got, want)
		}
		// Limits.
		v := insightViews(s, plain)
		if o, err := v.OverdueMembers(context.Background(), 2); err != nil || len(o) != 2 || o[0].MemberID != "m4" {
			t.Errorf("%s: overdue, limit 2: %+v, %v", name, o, err)
		}
		if q, err := v.QuietMembers(context.Background(), 1); err != nil || len(q) != 1 || q[0].MemberID != "m4" {
			t.Errorf("%s: quiet, limit 1: %+v, %v", name, q, err)
		}
	}
}

// testInsightsModel compares the store's insights with the views' own
// computation over random data.
func testInsightsModel(t *testing.T, s InsightsStore) {
	rng := rand.New(rand.NewPCG(7, 11))
	const members = 60
	for i := range members {
		putMember(t, s, fmt.Sprintf("m%02d", i), rng.IntN(10) == 0)
	}
	statuses := []string{"booked", "confirmed", "showed", "cancelled", "canceled", "noshow", "No_Show", "invalid"}
	kinds := []contactsync.Kind{contactsync.KindTask, contactsync.KindNote, contactsync.KindAppointment}
	for i := range 600 {
		member := ""
		if rng.IntN(12) != 0 {
			member = fmt.Sprintf("m%02d", rng.IntN(members+5)) // a few of no member link
		}
		// Whole minutes within ±130 days, some exactly at week starts
		// and at now.
		at := insightNow.Add(time.Duration(rng.IntN(2*130*24*60)-130*24*60) * time.Minute)
		switch rng.IntN(20) {
		case 0:
			at = contactsync.WeekStart(at)
		case 1:
			at = insightNow
		}
		a := contactsync.Activity{Kind: kinds[rng.IntN(len(kinds))], RemoteID: fmt.Sprintf("r%04d", i), MemberID: member, At: at}
		switch a.Kind {
		case contactsync.KindTask:
			a.Completed = rng.IntN(2) == 0
			if a.Completed && rng.IntN(3) != 0 {
				a.CompletedAt = at.Add(time.Duration(rng.IntN(10*24*60)-3*24*60) * time.Minute)
			}
		case contactsync.KindAppointment:
			a.Status = statuses[rng.IntN(len(statuses))]
		}
		putActivities(t, s, a)
	}
	for _, limit := range []int{0, 5} {
		got, want := readInsights(t, insightViews(s, false), limit), readInsights(t, insightViews(s, true), limit)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("limit %d: the store's insights\n%+v\ndiffer from the views' computation\n%+v", limit, got, want)
		}
	}
}
