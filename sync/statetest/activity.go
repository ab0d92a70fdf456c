package statetest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// RunActivity runs the conformance suite of contactsync.ActivityStore
// against the stores newStore returns, one per subtest, each of which
// must be empty.
//
// It checks the contract documented on contactsync.ActivityStore and
// contactsync.ActivityQuery: activities keyed by Kind and RemoteID,
// replaced, deleted one by one and by contact; a faithful round trip of
// every field (times to the millisecond); every filter of a query, From
// inclusive and To exclusive; the order by At, ties by RemoteID, and
// Descending; Limit; and concurrent use. It settles what the contract
// leaves open as the stores of package contactsync do:
//
//   - Ties of At and RemoteID (activities of different kinds with one
//     remote ID) are ordered by Kind, and Descending is exactly the reverse
//     of the ascending order.
//   - Completed selects tasks only: with it set, notes and appointments are
//     left out whatever Kinds says. Likewise Statuses selects appointments
//     only; with both set, nothing is selected.
//   - A negative Limit, like zero, means no cap.
//   - An activity with the zero At sorts first: any To selects it, and no
//     From does.
//   - PutActivity refuses an activity without a Kind or a RemoteID.
//
// A randomized subtest compares the store with a simple model of the
// contract across many queries.
func RunActivity(t *testing.T, newStore func(t *testing.T) contactsync.ActivityStore) {
	t.Helper()
	runSuite(t, newStore, []subtest[contactsync.ActivityStore]{
		{"Empty", testActivityEmpty},
		{"RefusesBadKeys", testActivityRefusesBadKeys},
		{"RoundTrip", testActivityRoundTrip},
		{"Replace", testActivityReplace},
		{"KindsSeparate", testActivityKindsSeparate},
		{"Delete", testActivityDelete},
		{"DeleteContact", testActivityDeleteContact},
		{"Order", testActivityOrder},
		{"Limit", testActivityLimit},
		{"Filters", testActivityFilters},
		{"Bounds", testActivityBounds},
		{"CompletedAndStatuses", testActivityCompletedAndStatuses},
		{"ZeroAt", testActivityZeroAt},
		{"Model", testActivityModel},
		{"Concurrent", testActivityConcurrent},
	})
}

// Kinds of activities, short.
const (
	kTask = contactsync.KindTask
	kNote = contactsync.KindNote
	kAppt = contactsync.KindAppointment
)

// act returns a small activity of a contact and member, at ms plus min
// minutes.
func act(kind contactsync.Kind, id, contact, member string, min int) contactsync.Activity {
	return contactsync.Activity{Kind: kind, RemoteID: id, ContactID: contact, MemberID: member,
		Title: "title " + id, At: ms.Add(time.Duration(min) * time.Minute), UpdatedAt: ms}
}

func mustPutActivity(t *testing.T, s contactsync.ActivityStore, as ...contactsync.Activity) {
	t.Helper()
	for _, a := range as {
		if err := s.PutActivity(t.Context(), a); err != nil {
			t.Fatalf("PutActivity(%s %s): %v", a.Kind, a.RemoteID, err)
		}
	}
}

func mustActivities(t *testing.T, s contactsync.ActivityStore, q contactsync.ActivityQuery) []contactsync.Activity {
	t.Helper()
	as, err := s.Activities(t.Context(), q)
	if err != nil {
		t.Fatalf("Activities(%s): %v", describeQuery(q), err)
	}
	return as
}

// describeQuery is q for messages.
func describeQuery(q contactsync.ActivityQuery) string {
	var parts []string
	if len(q.Kinds) > 0 {
		parts = append(parts, fmt.Sprintf("Kinds:%v", q.Kinds))
	}
	if q.ContactID != "" {
		parts = append(parts, "ContactID:"+q.ContactID)
	}
	if q.MemberID != "" {
		parts = append(parts, "MemberID:"+q.MemberID)
	}
	if !q.From.IsZero() {
		parts = append(parts, "From:"+q.From.UTC().Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		parts = append(parts, "To:"+q.To.UTC().Format(time.RFC3339Nano))
	}
	if q.Completed != nil {
		parts = append(parts, "Completed:"+strconv.FormatBool(*q.Completed))
	}
	if len(q.Statuses) > 0 {
		parts = append(parts, fmt.Sprintf("Statuses:%q", q.Statuses))
	}
	if q.Descending {
		parts = append(parts, "Descending")
	}
	if q.Limit != 0 {
		parts = append(parts, "Limit:"+strconv.Itoa(q.Limit))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// actIDs returns kind/remote ID of each activity.
func actIDs(as []contactsync.Activity) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, string(a.Kind)+"/"+a.RemoteID)
	}
	return out
}

// wantActs fails unless the query returns the activities of ids
// ("kind/remoteID"), in order.
func wantActs(t *testing.T, s contactsync.ActivityStore, q contactsync.ActivityQuery, ids ...string) {
	t.Helper()
	if ids == nil {
		ids = []string{}
	}
	if got := actIDs(mustActivities(t, s, q)); !slices.Equal(got, ids) {
		t.Errorf("Activities(%s) = %v, want %v", describeQuery(q), got, ids)
	}
}

// diffActivity describes how got differs from want to the millisecond, or
// returns "".
func diffActivity(got, want contactsync.Activity) string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	str("Kind", string(got.Kind), string(want.Kind))
	str("RemoteID", got.RemoteID, want.RemoteID)
	str("ContactID", got.ContactID, want.ContactID)
	str("MemberID", got.MemberID, want.MemberID)
	str("Title", got.Title, want.Title)
	str("Body", got.Body, want.Body)
	str("Status", got.Status, want.Status)
	if got.Completed != want.Completed {
		d = append(d, fmt.Sprintf("Completed = %t, want %t", got.Completed, want.Completed))
	}
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{{"At", got.At, want.At}, {"End", got.End, want.End}, {"UpdatedAt", got.UpdatedAt, want.UpdatedAt}, {"CompletedAt", got.CompletedAt, want.CompletedAt}} {
		if s := diffTime(tm.got, tm.want); s != "" {
			d = append(d, tm.name+" "+s)
		}
	}
	return strings.Join(d, "; ")
}

func wantActivity(t *testing.T, s contactsync.ActivityStore, want contactsync.Activity) {
	t.Helper()
	got, err := s.Activity(t.Context(), want.Kind, want.RemoteID)
	if err != nil {
		t.Errorf("Activity(%s, %s): %v", want.Kind, want.RemoteID, err)
		return
	}
	if d := diffActivity(got, want); d != "" {
		t.Errorf("Activity(%s, %s): %s", want.Kind, want.RemoteID, d)
	}
}

func wantNoActivity(t *testing.T, s contactsync.ActivityStore, kind contactsync.Kind, remoteID string) {
	t.Helper()
	_, err := s.Activity(t.Context(), kind, remoteID)
	wantNotFound(t, fmt.Sprintf("Activity(%s, %s)", kind, remoteID), err)
}

func testActivityEmpty(t *testing.T, s contactsync.ActivityStore) {
	ctx := t.Context()
	for _, k := range []contactsync.Kind{kTask, kNote, kAppt} {
		wantNoActivity(t, s, k, "x")
	}
	wantActs(t, s, contactsync.ActivityQuery{})
	wantActs(t, s, contactsync.ActivityQuery{ContactID: "c1", Kinds: []contactsync.Kind{kTask}})
	if err := s.DeleteActivity(ctx, kTask, "x"); err != nil {
		t.Errorf("DeleteActivity of a missing activity: %v", err)
	}
	if err := s.DeleteContactActivities(ctx, "c1"); err != nil {
		t.Errorf("DeleteContactActivities of a contact without activities: %v", err)
	}
}

func testActivityRefusesBadKeys(t *testing.T, s contactsync.ActivityStore) {
	for _, a := range []contactsync.Activity{{Kind: kTask}, {RemoteID: "r1"}} {
		if err := s.PutActivity(t.Context(), a); err == nil {
			t.Errorf("PutActivity(%+v) succeeded", a)
		}
	}
	wantActs(t, s, contactsync.ActivityQuery{})
}

func testActivityRoundTrip(t *testing.T, s contactsync.ActivityStore) {
	zone := time.FixedZone("X", -5*3600)
	full := contactsync.Activity{Kind: kAppt, RemoteID: "ü/1 ?", ContactID: "c 1", MemberID: "m'1",
		Title: "Spin \"class\" <b>", Body: "line 1\nline 2\x00é",
		At:  time.Date(2026, 5, 6, 7, 8, 9, 123_456_789, zone),
		End: time.Date(2026, 5, 6, 8, 8, 9, 999_999_999, time.Local), Completed: true,
		Status: "confirmed", UpdatedAt: time.Date(2026, 5, 1, 0, 0, 0, 1_000_000, time.UTC),
		CompletedAt: time.Date(2026, 5, 7, 1, 2, 3, 456_789_000, zone)}
	bare := contactsync.Activity{Kind: kNote, RemoteID: "n1"}
	past := contactsync.Activity{Kind: kTask, RemoteID: "t1", At: time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC)}
	mustPutActivity(t, s, full, bare, past)
	wantActivity(t, s, full)
	wantActivity(t, s, bare)
	wantActivity(t, s, past)
	got, err := s.Activity(t.Context(), kNote, "n1")
	if err == nil && (!got.At.IsZero() || !got.End.IsZero() || !got.UpdatedAt.IsZero() || !got.CompletedAt.IsZero()) {
		t.Errorf("zero times came back as %v, %v, %v, %v", got.At, got.End, got.UpdatedAt, got.CompletedAt)
	}
	// Activities returns the same fields.
	for _, a := range mustActivities(t, s, contactsync.ActivityQuery{}) {
		want := map[string]contactsync.Activity{full.RemoteID: full, bare.RemoteID: bare, past.RemoteID: past}[a.RemoteID]
		if d := diffActivity(a, want); d != "" {
			t.Errorf("Activities: %s", d)
		}
	}
}

func testActivityReplace(t *testing.T, s contactsync.ActivityStore) {
	a := act(kTask, "t1", "c1", "m1", 0)
	a.Completed, a.Body, a.End = true, "body", ms.Add(time.Hour)
	mustPutActivity(t, s, a)
	repl := act(kTask, "t1", "c2", "m2", 30)
	mustPutActivity(t, s, repl)
	wantActivity(t, s, repl) // fields the replacement lacks are cleared
	// The indexes follow the replacement.
	wantActs(t, s, contactsync.ActivityQuery{ContactID: "c1"})
	wantActs(t, s, contactsync.ActivityQuery{MemberID: "m1"})
	wantActs(t, s, contactsync.ActivityQuery{ContactID: "c2"}, "task/t1")
	wantActs(t, s, contactsync.ActivityQuery{MemberID: "m2"}, "task/t1")
	wantActs(t, s, contactsync.ActivityQuery{To: ms.Add(30 * time.Minute)})
	open := false
	wantActs(t, s, contactsync.ActivityQuery{Completed: &open}, "task/t1")
	wantActs(t, s, contactsync.ActivityQuery{}, "task/t1")
}

func testActivityKindsSeparate(t *testing.T, s contactsync.ActivityStore) {
	tk, nt := act(kTask, "x1", "c1", "m1", 0), act(kNote, "x1", "c1", "m1", 1)
	nt.Body = "note"
	mustPutActivity(t, s, tk, nt)
	wantActivity(t, s, tk)
	wantActivity(t, s, nt)
	wantNoActivity(t, s, kAppt, "x1")
	wantActs(t, s, contactsync.ActivityQuery{}, "task/x1", "note/x1")
	wantActs(t, s, contactsync.ActivityQuery{Kinds: []contactsync.Kind{kNote}}, "note/x1")
	wantActs(t, s, contactsync.ActivityQuery{Kinds: []contactsync.Kind{kTask, kNote}}, "task/x1", "note/x1")
	wantActs(t, s, contactsync.ActivityQuery{Kinds: []contactsync.Kind{kAppt}})
}

func testActivityDelete(t *testing.T, s contactsync.ActivityStore) {
	ctx := t.Context()
	mustPutActivity(t, s, act(kTask, "t1", "c1", "m1", 0), act(kTask, "t2", "c1", "m1", 1), act(kNote, "t1", "c1", "m1", 2))
	if err := s.DeleteActivity(ctx, kTask, "t1"); err != nil {
		t.Fatal(err)
	}
	wantNoActivity(t, s, kTask, "t1")
	wantActivity(t, s, act(kNote, "t1", "c1", "m1", 2))
	wantActs(t, s, contactsync.ActivityQuery{ContactID: "c1"}, "task/t2", "note/t1")
	wantActs(t, s, contactsync.ActivityQuery{MemberID: "m1", Kinds: []contactsync.Kind{kTask}}, "task/t2")
	if err := s.DeleteActivity(ctx, kTask, "t1"); err != nil {
		t.Errorf("DeleteActivity again: %v", err)
	}
	mustPutActivity(t, s, act(kTask, "t1", "c3", "m3", 5)) // and back
	wantActs(t, s, contactsync.ActivityQuery{Kinds: []contactsync.Kind{kTask}}, "task/t2", "task/t1")
}

func testActivityDeleteContact(t *testing.T, s contactsync.ActivityStore) {
	mustPutActivity(t, s,
		act(kTask, "t1", "c1", "m1", 0), act(kNote, "n1", "c1", "m1", 1), act(kAppt, "a1", "c1", "m1", 2),
		act(kTask, "t2", "c2", "m2", 3), act(kTask, "t3", "c10", "m1", 4))
	if err := s.DeleteContactActivities(t.Context(), "c1"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		kind contactsync.Kind
		id   string
	}{{kTask, "t1"}, {kNote, "n1"}, {kAppt, "a1"}} {
		wantNoActivity(t, s, k.kind, k.id)
	}
	wantActs(t, s, contactsync.ActivityQuery{}, "task/t2", "task/t3")
	wantActs(t, s, contactsync.ActivityQuery{MemberID: "m1"}, "task/t3")
	wantActs(t, s, contactsync.ActivityQuery{ContactID: "c1"})
}

// orderFixture stores activities whose order needs every tie-breaker:
// equal times broken by RemoteID, equal times and IDs by Kind. It returns
// their IDs in ascending order and the activities by ID.
func orderFixture(t *testing.T, s contactsync.ActivityStore) (ascending []string, byID map[string]contactsync.Activity) {
	as := []contactsync.Activity{
		act(kNote, "b", "c1", "m1", 10),
		act(kTask, "z", "c1", "m1", 0),
		act(kTask, "b", "c1", "m1", 10),
		act(kAppt, "a", "c2", "m2", 10),
		act(kNote, "y", "c2", "m2", -60),
		act(kAppt, "c", "c1", "m1", 10),
		act(kTask, "d", "c2", "m2", 20),
	}
	mustPutActivity(t, s, as...)
	byID = map[string]contactsync.Activity{}
	for _, a := range as {
		byID[string(a.Kind)+"/"+a.RemoteID] = a
	}
	return []string{"note/y", "task/z", "appointment/a", "note/b", "task/b", "appointment/c", "task/d"}, byID
}

func testActivityOrder(t *testing.T, s contactsync.ActivityStore) {
	asc, byID := orderFixture(t, s)
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	wantActs(t, s, contactsync.ActivityQuery{}, asc...)
	wantActs(t, s, contactsync.ActivityQuery{Descending: true}, desc...)
	// The order holds within every filter.
	all := []contactsync.Kind{kAppt, kNote, kTask}
	for _, q := range []contactsync.ActivityQuery{
		{ContactID: "c1"}, {MemberID: "m2"}, {Kinds: []contactsync.Kind{kTask}},
		{Kinds: []contactsync.Kind{kNote, kAppt}}, {Kinds: all}, {From: ms}, {To: ms.Add(15 * time.Minute)},
	} {
		want := filterIDs(asc, func(id string) bool { return modelMatch(byID[id], q) })
		wantActs(t, s, q, want...)
		q.Descending = true
		slices.Reverse(want)
		wantActs(t, s, q, want...)
	}
}

func filterIDs(ids []string, keep func(string) bool) []string {
	var out []string
	for _, id := range ids {
		if keep(id) {
			out = append(out, id)
		}
	}
	return out
}

func testActivityLimit(t *testing.T, s contactsync.ActivityStore) {
	asc, _ := orderFixture(t, s)
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	for _, limit := range []int{1, 2, 3, len(asc), len(asc) + 5} {
		n := min(limit, len(asc))
		wantActs(t, s, contactsync.ActivityQuery{Limit: limit}, asc[:n]...)
		wantActs(t, s, contactsync.ActivityQuery{Limit: limit, Descending: true}, desc[:n]...)
	}
	wantActs(t, s, contactsync.ActivityQuery{Limit: 0}, asc...)
	wantActs(t, s, contactsync.ActivityQuery{Limit: -1}, asc...)
	wantActs(t, s, contactsync.ActivityQuery{Limit: 1, ContactID: "c2", Descending: true}, "task/d")
	wantActs(t, s, contactsync.ActivityQuery{Limit: 2, Kinds: []contactsync.Kind{kTask}}, "task/z", "task/b")
}

func testActivityFilters(t *testing.T, s contactsync.ActivityStore) {
	mustPutActivity(t, s,
		act(kTask, "t1", "c1", "m1", 0), act(kTask, "t2", "c2", "m1", 1), act(kTask, "t3", "c3", "", 2),
		act(kNote, "n1", "c1", "m1", 3), act(kAppt, "a1", "c2", "m1", 4), act(kAppt, "a2", "c3", "", 5))
	for _, tc := range []struct {
		q    contactsync.ActivityQuery
		want []string
	}{
		{contactsync.ActivityQuery{Kinds: []contactsync.Kind{}}, []string{"task/t1", "task/t2", "task/t3", "note/n1", "appointment/a1", "appointment/a2"}},
		{contactsync.ActivityQuery{ContactID: "c1"}, []string{"task/t1", "note/n1"}},
		{contactsync.ActivityQuery{ContactID: "c"}, nil}, // not a prefix match
		{contactsync.ActivityQuery{MemberID: "m1"}, []string{"task/t1", "task/t2", "note/n1", "appointment/a1"}},
		{contactsync.ActivityQuery{MemberID: "m1", ContactID: "c2"}, []string{"task/t2", "appointment/a1"}},
		{contactsync.ActivityQuery{MemberID: "m1", ContactID: "c3"}, nil},
		{contactsync.ActivityQuery{MemberID: "m1", Kinds: []contactsync.Kind{kAppt, kNote}}, []string{"note/n1", "appointment/a1"}},
		{contactsync.ActivityQuery{ContactID: "c3", Kinds: []contactsync.Kind{kTask}}, []string{"task/t3"}},
		{contactsync.ActivityQuery{Kinds: []contactsync.Kind{"other"}}, nil},
		{contactsync.ActivityQuery{Kinds: []contactsync.Kind{kNote, kTask, kNote}, ContactID: "c1"}, []string{"task/t1", "note/n1"}},
		{contactsync.ActivityQuery{Kinds: []contactsync.Kind{kAppt, kAppt}}, []string{"appointment/a1", "appointment/a2"}},
	} {
		wantActs(t, s, tc.q, tc.want...)
	}
}

func testActivityBounds(t *testing.T, s contactsync.ActivityStore) {
	at := func(min int) time.Time { return ms.Add(time.Duration(min) * time.Minute) }
	mustPutActivity(t, s, act(kAppt, "a0", "c1", "m1", 0), act(kAppt, "a1", "c1", "m1", 1), act(kAppt, "a2", "c1", "m1", 2))
	milli := time.Millisecond
	for _, tc := range []struct {
		from, to time.Time
		want     []string
	}{
		{at(1), time.Time{}, []string{"appointment/a1", "appointment/a2"}}, // From inclusive
		{time.Time{}, at(1), []string{"appointment/a0"}},                   // To exclusive
		{at(0), at(2), []string{"appointment/a0", "appointment/a1"}},       // both
		{at(1), at(1), nil}, // empty
		{at(2), at(1), nil}, // inverted
		{at(1).Add(-time.Nanosecond), at(1).Add(time.Nanosecond), []string{"appointment/a1"}}, // finer than stored
		{at(1).Add(time.Nanosecond), time.Time{}, []string{"appointment/a2"}},
		{time.Time{}, at(1).Add(-time.Nanosecond), []string{"appointment/a0"}},
		{at(1).Add(-milli), at(1).Add(milli), []string{"appointment/a1"}},
		{at(1).In(time.FixedZone("Y", 7200)), time.Time{}, []string{"appointment/a1", "appointment/a2"}}, // any zone
	} {
		q := contactsync.ActivityQuery{From: tc.from, To: tc.to}
		wantActs(t, s, q, tc.want...)
		q.Kinds, q.ContactID, q.MemberID = []contactsync.Kind{kAppt}, "c1", "m1"
		wantActs(t, s, q, tc.want...)
	}
}

func testActivityCompletedAndStatuses(t *testing.T, s contactsync.ActivityStore) {
	done := act(kTask, "t1", "c1", "m1", 0)
	done.Completed = true
	open := act(kTask, "t2", "c1", "m1", 1)
	booked := act(kAppt, "a1", "c1", "m1", 2)
	booked.Status = "booked"
	cancelled := act(kAppt, "a2", "c1", "m1", 3)
	cancelled.Status = "cancelled"
	note := act(kNote, "n1", "c1", "m1", 4)
	odd := act(kNote, "n2", "c1", "m1", 5) // a note with the fields of others
	odd.Completed, odd.Status = true, "booked"
	mustPutActivity(t, s, done, open, booked, cancelled, note, odd)
	yes, no := true, false
	all := []contactsync.Kind{kTask, kNote, kAppt}
	for _, tc := range []struct {
		q    contactsync.ActivityQuery
		want []string
	}{
		{contactsync.ActivityQuery{Completed: &yes}, []string{"task/t1"}},
		{contactsync.ActivityQuery{Completed: &no}, []string{"task/t2"}},
		{contactsync.ActivityQuery{Completed: &no, Kinds: all}, []string{"task/t2"}},
		{contactsync.ActivityQuery{Completed: &no, Kinds: []contactsync.Kind{kNote}}, nil},
		{contactsync.ActivityQuery{Completed: &no, MemberID: "m1", Descending: true, Limit: 1}, []string{"task/t2"}},
		{contactsync.ActivityQuery{Statuses: []string{"booked"}}, []string{"appointment/a1"}},
		{contactsync.ActivityQuery{Statuses: []string{"booked", "cancelled"}, Kinds: all}, []string{"appointment/a1", "appointment/a2"}},
		{contactsync.ActivityQuery{Statuses: []string{"Booked"}}, nil}, // statuses are exact
		{contactsync.ActivityQuery{Statuses: []string{"booked"}, Kinds: []contactsync.Kind{kTask}}, nil},
		{contactsync.ActivityQuery{Statuses: []string{"booked"}, Completed: &yes}, nil},
	} {
		wantActs(t, s, tc.q, tc.want...)
	}
	// Completing a task moves it between the selections.
	open.Completed = true
	mustPutActivity(t, s, open)
	wantActs(t, s, contactsync.ActivityQuery{Completed: &no})
	wantActs(t, s, contactsync.ActivityQuery{Completed: &yes}, "task/t1", "task/t2")
}

func testActivityZeroAt(t *testing.T, s contactsync.ActivityStore) {
	undated := act(kTask, "t0", "c1", "m1", 0)
	undated.At = time.Time{}
	mustPutActivity(t, s, act(kTask, "t1", "c1", "m1", 0), undated)
	wantActs(t, s, contactsync.ActivityQuery{}, "task/t0", "task/t1")
	wantActs(t, s, contactsync.ActivityQuery{Descending: true}, "task/t1", "task/t0")
	wantActs(t, s, contactsync.ActivityQuery{To: ms}, "task/t0")
	wantActs(t, s, contactsync.ActivityQuery{From: time.Unix(0, 0)}, "task/t1")
	wantActs(t, s, contactsync.ActivityQuery{From: time.Time{}.Add(time.Millisecond)}, "task/t1")
	open := false
	wantActs(t, s, contactsync.ActivityQuery{Completed: &open, To: ms.Add(time.Minute)}, "task/t0", "task/t1")
}

// modelMatch reports whether the contract, as the suite reads it, selects
// a with q (ignoring Descending and Limit).
func modelMatch(a contactsync.Activity, q contactsync.ActivityQuery) bool {
	switch {
	case len(q.Kinds) > 0 && !slices.Contains(q.Kinds, a.Kind),
		q.ContactID != "" && a.ContactID != q.ContactID,
		q.MemberID != "" && a.MemberID != q.MemberID,
		!q.From.IsZero() && a.At.UnixMilli() < q.From.UnixMilli(),
		!q.From.IsZero() && a.At.UnixMilli() == q.From.UnixMilli() && q.From.Nanosecond()%1e6 != 0,
		!q.To.IsZero() && a.At.UnixMilli() > q.To.UnixMilli(),
		!q.To.IsZero() && a.At.UnixMilli() == q.To.UnixMilli() && q.To.Nanosecond()%1e6 == 0,
		q.Completed != nil && (a.Kind != kTask || a.Completed != *q.Completed),
		len(q.Statuses) > 0 && (a.Kind != kAppt || !slices.Contains(q.Statuses, a.Status)):
		return false
	}
	return true
}

// modelQuery is the contract's answer to q over the activities of model.
func modelQuery(model map[string]contactsync.Activity, q contactsync.ActivityQuery) []string {
	var sel []contactsync.Activity
	for _, a := range model {
		if modelMatch(a, q) {
			sel = append(sel, a)
		}
	}
	slices.SortFunc(sel, func(a, b contactsync.Activity) int {
		c := cmp.Or(cmp.Compare(a.At.UnixMilli(), b.At.UnixMilli()), cmp.Compare(a.RemoteID, b.RemoteID), cmp.Compare(a.Kind, b.Kind))
		if q.Descending {
			return -c
		}
		return c
	})
	if q.Limit > 0 && len(sel) > q.Limit {
		sel = sel[:q.Limit]
	}
	return actIDs(sel)
}

// testActivityModel puts, replaces and deletes random activities and
// compares the store's answers to random queries with the model's.
func testActivityModel(t *testing.T, s contactsync.ActivityStore) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(7, 11))
	kinds := []contactsync.Kind{kTask, kNote, kAppt}
	statuses := []string{"booked", "confirmed", "cancelled", ""}
	pick := func(n int, prefix string) string { return prefix + strconv.Itoa(rng.IntN(n)) }
	// Times on a coarse grid, for ties, some with sub-millisecond parts
	// that the stores drop.
	when := func() time.Time {
		if rng.IntN(20) == 0 {
			return time.Time{}
		}
		return ms.Add(time.Duration(rng.IntN(40))*time.Minute + time.Duration(rng.IntN(3))*time.Microsecond*700)
	}
	model := map[string]contactsync.Activity{}
	for range 250 {
		a := contactsync.Activity{Kind: kinds[rng.IntN(3)], RemoteID: pick(60, "r"), ContactID: pick(8, "c"),
			Title: pick(5, "title "), At: when(), Completed: rng.IntN(2) == 0, Status: statuses[rng.IntN(len(statuses))]}
		if rng.IntN(4) > 0 {
			a.MemberID = "m" + a.ContactID[1:]
		}
		key := string(a.Kind) + "/" + a.RemoteID
		switch rng.IntN(10) {
		case 0:
			if err := s.DeleteActivity(ctx, a.Kind, a.RemoteID); err != nil {
				t.Fatal(err)
			}
			delete(model, key)
		case 1:
			if err := s.DeleteContactActivities(ctx, a.ContactID); err != nil {
				t.Fatal(err)
			}
			for k, m := range model {
				if m.ContactID == a.ContactID {
					delete(model, k)
				}
			}
		default:
			mustPutActivity(t, s, a)
			a.At = time.UnixMilli(a.At.UnixMilli()) // as stored
			if a.At.UnixMilli() == (time.Time{}).UnixMilli() {
				a.At = time.Time{}
			}
			model[key] = a
		}
	}
	yes, no := true, false
	for i := range 300 {
		var q contactsync.ActivityQuery
		if rng.IntN(2) == 0 {
			for _, k := range kinds {
				if rng.IntN(2) == 0 {
					q.Kinds = append(q.Kinds, k)
				}
			}
		}
		switch rng.IntN(4) {
		case 0:
			q.ContactID = pick(9, "c")
		case 1:
			q.MemberID = pick(9, "m")
		}
		if rng.IntN(3) == 0 {
			q.From = when()
		}
		if rng.IntN(3) == 0 {
			q.To = when()
		}
		switch rng.IntN(6) {
		case 0:
			q.Completed = &yes
		case 1:
			q.Completed = &no
		case 2:
			q.Statuses = []string{statuses[rng.IntN(len(statuses))], statuses[rng.IntN(len(statuses))]}
		}
		q.Descending = rng.IntN(2) == 0
		if rng.IntN(2) == 0 {
			q.Limit = rng.IntN(12) - 1
		}
		want := modelQuery(model, q)
		if want == nil {
			want = []string{}
		}
		if got := actIDs(mustActivities(t, s, q)); !slices.Equal(got, want) {
			t.Fatalf("query %d: Activities(%s)\n  = %v\nwant %v", i, describeQuery(q), got, want)
		}
	}
}

// testActivityConcurrent writes and reads activities from many goroutines.
func testActivityConcurrent(t *testing.T, s contactsync.ActivityStore) {
	const (
		workers = 8
		rounds  = 10
	)
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			contact := "c" + strconv.Itoa(w)
			for i := range rounds {
				a := act(kTask, fmt.Sprintf("w%d-%d", w, i), contact, "m"+strconv.Itoa(w), i)
				if err := s.PutActivity(ctx, a); err != nil {
					t.Errorf("PutActivity: %v", err)
					return
				}
				got, err := s.Activities(ctx, contactsync.ActivityQuery{ContactID: contact})
				if err != nil || len(got) != i+1 {
					t.Errorf("Activities of %s after %d puts = %d, %v", contact, i+1, len(got), err)
					return
				}
			}
			if w%2 == 0 {
				if err := s.DeleteContactActivities(ctx, contact); err != nil {
					t.Errorf("DeleteContactActivities: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if n := len(mustActivities(t, s, contactsync.ActivityQuery{})); n != workers/2*rounds {
		t.Errorf("%d activities left, want %d", n, workers/2*rounds)
	}
}
