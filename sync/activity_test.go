package contactsync_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
)

// viewsNow is the views' clock in the tests.
var viewsNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// viewsStores are the stores the views are tested on, with the read model
// of seedViews.
type viewsStores interface {
	contactsync.StateStore
	contactsync.ActivityStore
}

// seedViews links members m1 to c1 and m2 to c2 (and m3 to nothing), and
// stores their activities, and those of the unlinked contact c9, around
// viewsNow.
func seedViews(t *testing.T, s viewsStores) *contactsync.Views {
	t.Helper()
	ctx := t.Context()
	day := 24 * time.Hour
	at := func(d time.Duration) time.Time { return viewsNow.Add(d) }
	task := func(id, contact, member string, due time.Time, done bool) contactsync.Activity {
		return contactsync.Activity{Kind: contactsync.KindTask, RemoteID: id, ContactID: contact, MemberID: member,
			Title: "task " + id, At: due, Completed: done}
	}
	note := func(id, contact, member string, created time.Time) contactsync.Activity {
		return contactsync.Activity{Kind: contactsync.KindNote, RemoteID: id, ContactID: contact, MemberID: member,
			Body: "note " + id, At: created}
	}
	appt := func(id, contact, member string, start time.Time, status string) contactsync.Activity {
		return contactsync.Activity{Kind: contactsync.KindAppointment, RemoteID: id, ContactID: contact, MemberID: member,
			Title: "appointment " + id, At: start, End: start.Add(time.Hour), Status: status}
	}
	for _, l := range []contactsync.Link{
		{Kind: contactsync.KindMember, LocalID: "m1", RemoteID: "c1"},
		{Kind: contactsync.KindMember, LocalID: "m2", RemoteID: "c2"},
		{Kind: contactsync.KindMember, LocalID: "m3"}, // a link without a contact yet
	} {
		if err := s.PutLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []contactsync.Activity{
		task("t1", "c1", "m1", at(-2*day), false),
		task("t2", "c1", "m1", at(0), false), // due exactly now
		task("t3", "c1", "m1", at(-5*day), true),
		task("t4", "c1", "m1", at(3*day), false),
		task("t5", "c1", "m1", at(3*day), false),
		note("n1", "c1", "m1", at(-time.Hour)),
		note("n2", "c1", "m1", at(-7*day)),      // exactly 7 days ago
		note("n6", "c1", "", at(-20*day)),       // stored before c1 was linked
		appt("a1", "c1", "m1", at(0), "booked"), // starts exactly now
		appt("a2", "c1", "m1", at(day), "cancelled"),
		appt("a3", "c1", "m1", at(-day), "showed"),
		appt("a4", "c1", "m1", at(3*day), "confirmed"),

		task("t6", "c2", "m2", at(-day), false),
		task("t7", "c2", "m2", time.Time{}, false),     // no due date
		appt("a5", "c2", "m2", at(7*day), "confirmed"), // exactly a week ahead
		appt("a6", "c2", "m2", at(2*time.Hour), "Canceled"),
		note("n4", "c2", "m2", at(-30*time.Minute)),

		task("t8", "c9", "", at(-day), false), // an unlinked contact's
		appt("a7", "c9", "", at(4*day), "booked"),
		note("n5", "c9", "", at(-10*time.Minute)),
	} {
		if err := s.PutActivity(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	return &contactsync.Views{State: s, Activity: s, Now: func() time.Time { return viewsNow }}
}

// ids returns the RemoteIDs of as.
func ids(as []contactsync.Activity) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.RemoteID)
	}
	return out
}

// forEachViewsStore runs f on a MemoryStore and on a SQLiteStore.
func forEachViewsStore(t *testing.T, f func(t *testing.T, v *contactsync.Views)) {
	for name, newStore := range map[string]func(t *testing.T) viewsStores{
		"memory": func(*testing.T) viewsStores { return memstore.New() },
		"sqlite": func(t *testing.T) viewsStores { return openSQLite(t, filepath.Join(t.TempDir(), "sync.db"), "loc1") },
	} {
		t.Run(name, func(t *testing.T) { f(t, seedViews(t, newStore(t))) })
	}
}

func wantIDs(t *testing.T, what string, as []contactsync.Activity, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if want == nil {
		want = []string{}
	}
	if got := ids(as); !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestViewsTimeline(t *testing.T) {
	forEachViewsStore(t, func(t *testing.T, v *contactsync.Views) {
		tl, err := v.Timeline(t.Context(), "m1")
		// By At; at now an appointment before a task; three days ahead an
		// appointment, then tasks by ID. Completed tasks, cancelled
		// appointments and activities stored before the link are there.
		wantIDs(t, "Timeline(m1)", tl, err, "n6", "n2", "t3", "t1", "a3", "n1", "a1", "t2", "a2", "a4", "t4", "t5")
		for _, a := range tl {
			if a.MemberID != "m1" || a.ContactID != "c1" {
				t.Errorf("Timeline(m1) has %s of member %q, contact %q", a.RemoteID, a.MemberID, a.ContactID)
			}
		}
		if len(tl) > 0 && (tl[0].Body != "note n6" || !tl[0].At.Equal(viewsNow.Add(-20*24*time.Hour))) {
			t.Errorf("Timeline(m1)[0] = %+v", tl[0])
		}
		tl, err = v.Timeline(t.Context(), "m2")
		wantIDs(t, "Timeline(m2)", tl, err, "t7", "t6", "n4", "a6", "a5")

		for _, member := range []string{"m3", "m9", ""} {
			if tl, err := v.Timeline(t.Context(), member); !errors.Is(err, contactsync.ErrNotFound) {
				t.Errorf("Timeline(%q) = %v, %v; want ErrNotFound", member, ids(tl), err)
			}
		}
	})
}

func TestViewsOpenTasks(t *testing.T) {
	forEachViewsStore(t, func(t *testing.T, v *contactsync.Views) {
		ctx := t.Context()
		// By due date, without a due date first; not t3 (completed) nor t8
		// (no member's).
		all, err := v.OpenTasks(ctx, 0)
		wantIDs(t, "OpenTasks(0)", all, err, "t7", "t1", "t6", "t2", "t4", "t5")
		as, err := v.OpenTasks(ctx, 2)
		wantIDs(t, "OpenTasks(2)", as, err, "t7", "t1")
		as, err = v.OpenTasks(ctx, 100)
		wantIDs(t, "OpenTasks(100)", as, err, "t7", "t1", "t6", "t2", "t4", "t5")
		for _, a := range all {
			if a.MemberID == "" || a.Completed || a.Kind != contactsync.KindTask {
				t.Errorf("OpenTasks has %+v", a)
			}
		}
	})
}

func TestViewsOverdueTasks(t *testing.T) {
	forEachViewsStore(t, func(t *testing.T, v *contactsync.Views) {
		ctx := t.Context()
		// Not t2, due exactly now; not t7, without a due date; not t3,
		// completed; not t8, no member's.
		as, err := v.OverdueTasks(ctx, 0)
		wantIDs(t, "OverdueTasks(0)", as, err, "t1", "t6")
		for _, a := range as {
			if !a.Overdue(viewsNow) {
				t.Errorf("%s is listed overdue, but Overdue(now) = false", a.RemoteID)
			}
		}
		as, err = v.OverdueTasks(ctx, 1)
		wantIDs(t, "OverdueTasks(1)", as, err, "t1")
		// A millisecond later, t2 is overdue too.
		later := *v
		later.Now = func() time.Time { return viewsNow.Add(time.Millisecond) }
		as, err = later.OverdueTasks(ctx, 0)
		wantIDs(t, "OverdueTasks a millisecond later", as, err, "t1", "t6", "t2")
	})
}

func TestViewsUpcomingAppointments(t *testing.T) {
	forEachViewsStore(t, func(t *testing.T, v *contactsync.Views) {
		ctx := t.Context()
		week := 7 * 24 * time.Hour
		// a1 starts exactly now; a6 and a2 are cancelled; a5 starts exactly
		// a week ahead; a3 is past; a7 is no member's.
		as, err := v.UpcomingAppointments(ctx, week, 0)
		wantIDs(t, "UpcomingAppointments(week)", as, err, "a1", "a4")
		as, err = v.UpcomingAppointments(ctx, week+time.Millisecond, 0)
		wantIDs(t, "UpcomingAppointments(week+1ms)", as, err, "a1", "a4", "a5")
		as, err = v.UpcomingAppointments(ctx, 0, 0)
		wantIDs(t, "UpcomingAppointments(all)", as, err, "a1", "a4", "a5")
		// The limit counts what is shown: two cancelled and one unlinked
		// appointment among the first five do not shorten the list.
		as, err = v.UpcomingAppointments(ctx, 0, 2)
		wantIDs(t, "UpcomingAppointments(all, 2)", as, err, "a1", "a4")
		as, err = v.UpcomingAppointments(ctx, 0, 3)
		wantIDs(t, "UpcomingAppointments(all, 3)", as, err, "a1", "a4", "a5")
		as, err = v.UpcomingAppointments(ctx, week, 1)
		wantIDs(t, "UpcomingAppointments(week, 1)", as, err, "a1")
		if len(as) == 1 && (as[0].MemberID != "m1" || !as[0].End.Equal(viewsNow.Add(time.Hour)) || as[0].Status != "booked") {
			t.Errorf("UpcomingAppointments(week, 1)[0] = %+v", as[0])
		}
	})
}

func TestViewsRecentNotes(t *testing.T) {
	forEachViewsStore(t, func(t *testing.T, v *contactsync.Views) {
		ctx := t.Context()
		week := 7 * 24 * time.Hour
		// Newest first; n2 was written exactly a week ago; n5 is no
		// member's, n6 was stored without one.
		as, err := v.RecentNotes(ctx, week, 0)
		wantIDs(t, "RecentNotes(week)", as, err, "n4", "n1", "n2")
		as, err = v.RecentNotes(ctx, week-time.Millisecond, 0)
		wantIDs(t, "RecentNotes(week-1ms)", as, err, "n4", "n1")
		as, err = v.RecentNotes(ctx, week, 1)
		wantIDs(t, "RecentNotes(week, 1)", as, err, "n4")
		as, err = v.RecentNotes(ctx, 0, 0)
		wantIDs(t, "RecentNotes(all)", as, err, "n4", "n1", "n2")
		if len(as) > 0 && (as[0].MemberID != "m2" || as[0].Body != "note n4") {
			t.Errorf("RecentNotes[0] = %+v", as[0])
		}
	})
}

// TestViewsRealClock checks that Views without a clock use the time now.
func TestViewsRealClock(t *testing.T) {
	s := memstore.New()
	ctx := t.Context()
	now := time.Now()
	for _, a := range []contactsync.Activity{
		{Kind: contactsync.KindTask, RemoteID: "past", ContactID: "c1", MemberID: "m1", At: now.Add(-time.Minute)},
		{Kind: contactsync.KindTask, RemoteID: "future", ContactID: "c1", MemberID: "m1", At: now.Add(time.Hour)},
	} {
		if err := s.PutActivity(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	as, err := contactsync.NewViews(s, s).OverdueTasks(ctx, 0)
	wantIDs(t, "OverdueTasks", as, err, "past")
}

func TestActivityPredicates(t *testing.T) {
	now := viewsNow
	for _, tc := range []struct {
		a                  contactsync.Activity
		cancelled, overdue bool
	}{
		{contactsync.Activity{Kind: contactsync.KindAppointment, Status: "cancelled", At: now.Add(-time.Hour)}, true, false},
		{contactsync.Activity{Kind: contactsync.KindAppointment, Status: "CANCELED"}, true, false},
		{contactsync.Activity{Kind: contactsync.KindAppointment, Status: "confirmed"}, false, false},
		{contactsync.Activity{Kind: contactsync.KindNote, Status: "cancelled"}, false, false},
		{contactsync.Activity{Kind: contactsync.KindTask, At: now.Add(-time.Nanosecond)}, false, true},
		{contactsync.Activity{Kind: contactsync.KindTask, At: now}, false, false},
		{contactsync.Activity{Kind: contactsync.KindTask, At: now.Add(-time.Hour), Completed: true}, false, false},
		{contactsync.Activity{Kind: contactsync.KindTask}, false, false},
	} {
		if got := tc.a.Cancelled(); got != tc.cancelled {
			t.Errorf("%+v.Cancelled() = %t", tc.a, got)
		}
		if got := tc.a.Overdue(now); got != tc.overdue {
			t.Errorf("%+v.Overdue(now) = %t", tc.a, got)
		}
	}
}
