// Package statetest is a conformance suite for implementations of
// contactsync.StateStore (Run), contactsync.ActivityStore (RunActivity)
// and contactsync.InboundStore (RunInbound). Both stores of package
// contactsync run all three, and so should a store of your own:
//
//	func TestPostgresStore(t *testing.T) {
//		statetest.Run(t, func(t *testing.T) contactsync.StateStore {
//			return newPostgresStore(t) // an empty store for this subtest only
//		})
//		statetest.RunActivity(t, func(t *testing.T) contactsync.ActivityStore { return newPostgresStore(t) })
//		statetest.RunInbound(t, func(t *testing.T) contactsync.InboundStore { return newPostgresStore(t) })
//	}
//
// Run checks the contract documented on contactsync.StateStore:
// links by local and by remote ID, replacing and deleting them, paging
// through them by kind and listing a member's; recording, replacing,
// listing and deleting intents; Commit storing a link and removing an
// intent together; MarkDone reporting first exactly once; the run log;
// a faithful round trip of every field; concurrent use; and that the store
// keeps its own copies of the slices it is given and hands out.
//
// Where the interfaces leave room, all three suites accept what a SQL
// store naturally does:
//
//   - An empty Tags, State, Data, Report or Body, nil or not, may come back
//     nil or empty (the stores of package contactsync return nil); a
//     non-empty one comes back equal, byte for byte.
//   - Times need only survive to the millisecond: a time comes back with
//     the same UnixMilli, in any location, and the zero time stays zero.
//   - Lookups that find nothing return an error matching
//     contactsync.ErrNotFound with errors.Is (it may be wrapped).
//
// RunActivity and RunInbound document what else they check, and how they
// settle what their interfaces leave open.
//
// Each subtest calls newStore once and needs the store it returns to be
// empty, because Intents, Runs, Activities and PendingInbox list
// everything a store holds; newStore should register any cleanup with
// t.Cleanup. Each suite takes about a second for a SQLiteStore with the
// race detector on, almost all of it in the file system's syncs.
package statetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// subtest is one named test of a suite, given a fresh store.
type subtest[S any] struct {
	name string
	fn   func(t *testing.T, s S)
}

// runSuite runs each test as a subtest on a store of its own.
func runSuite[S any](t *testing.T, newStore func(t *testing.T) S, tests []subtest[S]) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// Run runs the conformance suite against the stores newStore returns, one
// per subtest.
func Run(t *testing.T, newStore func(t *testing.T) contactsync.StateStore) {
	t.Helper()
	runSuite(t, newStore, []subtest[contactsync.StateStore]{
		{"Empty", testEmpty},
		{"PutLinkCreates", testPutLinkCreates},
		{"PutLinkReplaces", testPutLinkReplaces},
		{"LinkByRemote", testLinkByRemote},
		{"DeleteLink", testDeleteLink},
		{"LinksPaging", testLinksPaging},
		{"LinksKindsIsolated", testLinksKindsIsolated},
		{"MemberLinks", testMemberLinks},
		{"Intents", testIntents},
		{"IntentReplace", testIntentReplace},
		{"IntentsOldestFirst", testIntentsOldestFirst},
		{"DeleteIntent", testDeleteIntent},
		{"Commit", testCommit},
		{"CommitWithoutKey", testCommitWithoutKey},
		{"CommitReplaces", testCommitReplaces},
		{"CommitCancelled", testCommitCancelled},
		{"MarkDone", testMarkDone},
		{"Runs", testRuns},
		{"RoundTripLink", testRoundTripLink},
		{"RoundTripEmptyLink", testRoundTripEmptyLink},
		{"RoundTripIntent", testRoundTripIntent},
		{"RoundTripRun", testRoundTripRun},
		{"NoAliasing", testNoAliasing},
		{"Concurrent", testConcurrent},
	})
}

// ms is a time the suite uses, on a millisecond.
var ms = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// Helpers that fail the test on an unexpected error.

func mustPutLink(t *testing.T, s contactsync.StateStore, l contactsync.Link) {
	t.Helper()
	if err := s.PutLink(t.Context(), l); err != nil {
		t.Fatalf("PutLink(%s %s): %v", l.Kind, l.LocalID, err)
	}
}

func mustLink(t *testing.T, s contactsync.StateStore, kind contactsync.Kind, localID string) contactsync.Link {
	t.Helper()
	l, err := s.Link(t.Context(), kind, localID)
	if err != nil {
		t.Fatalf("Link(%s, %s): %v", kind, localID, err)
	}
	return l
}

func mustPutIntent(t *testing.T, s contactsync.StateStore, in contactsync.Intent) {
	t.Helper()
	if err := s.PutIntent(t.Context(), in); err != nil {
		t.Fatalf("PutIntent(%s): %v", in.Key, err)
	}
}

func mustIntents(t *testing.T, s contactsync.StateStore) []contactsync.Intent {
	t.Helper()
	ins, err := s.Intents(t.Context())
	if err != nil {
		t.Fatalf("Intents: %v", err)
	}
	return ins
}

func mustLinks(t *testing.T, s contactsync.StateStore, kind contactsync.Kind, after string, limit int) []contactsync.Link {
	t.Helper()
	ls, err := s.Links(t.Context(), kind, after, limit)
	if err != nil {
		t.Fatalf("Links(%s, %q, %d): %v", kind, after, limit, err)
	}
	return ls
}

func mustMemberLinks(t *testing.T, s contactsync.StateStore, kind contactsync.Kind, memberID string) []contactsync.Link {
	t.Helper()
	ls, err := s.MemberLinks(t.Context(), kind, memberID)
	if err != nil {
		t.Fatalf("MemberLinks(%s, %s): %v", kind, memberID, err)
	}
	return ls
}

func mustDone(t *testing.T, s contactsync.StateStore, key string) bool {
	t.Helper()
	done, err := s.Done(t.Context(), key)
	if err != nil {
		t.Fatalf("Done(%s): %v", key, err)
	}
	return done
}

// wantNotFound fails unless err matches contactsync.ErrNotFound.
func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, contactsync.ErrNotFound) {
		t.Errorf("%s: error %v, want ErrNotFound", what, err)
	}
}

// wantNoLink fails unless the store has no link of kind and localID.
func wantNoLink(t *testing.T, s contactsync.StateStore, kind contactsync.Kind, localID string) {
	t.Helper()
	_, err := s.Link(t.Context(), kind, localID)
	wantNotFound(t, fmt.Sprintf("Link(%s, %s)", kind, localID), err)
}

// wantNoIntent fails unless the store has no intent of key.
func wantNoIntent(t *testing.T, s contactsync.StateStore, key string) {
	t.Helper()
	_, err := s.Intent(t.Context(), key)
	wantNotFound(t, fmt.Sprintf("Intent(%s)", key), err)
}

// member, task and note return small links of each kind.
func member(id, remote string) contactsync.Link {
	return contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: remote, Hash: "h-" + id, UpdatedAt: ms}
}

func task(id, remote, memberID string) contactsync.Link {
	return contactsync.Link{Kind: contactsync.KindTask, LocalID: id, RemoteID: remote, MemberID: memberID,
		ContactID: "c-" + memberID, Hash: "h-" + id, UpdatedAt: ms}
}

func note(id, remote, memberID string) contactsync.Link {
	l := task(id, remote, memberID)
	l.Kind = contactsync.KindNote
	return l
}

// diffLink describes how got differs from want, allowing for the leeway
// the package documentation grants, or returns "".
func diffLink(got, want contactsync.Link) string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	str("Kind", string(got.Kind), string(want.Kind))
	str("LocalID", got.LocalID, want.LocalID)
	str("RemoteID", got.RemoteID, want.RemoteID)
	str("MemberID", got.MemberID, want.MemberID)
	str("ContactID", got.ContactID, want.ContactID)
	str("Hash", got.Hash, want.Hash)
	if !bytes.Equal(got.State, want.State) {
		d = append(d, fmt.Sprintf("State = %q, want %q", got.State, want.State))
	}
	if !slices.Equal(got.Tags, want.Tags) { // nil equals empty
		d = append(d, fmt.Sprintf("Tags = %q, want %q", got.Tags, want.Tags))
	}
	if got.Archived != want.Archived {
		d = append(d, fmt.Sprintf("Archived = %t, want %t", got.Archived, want.Archived))
	}
	if s := diffTime(got.UpdatedAt, want.UpdatedAt); s != "" {
		d = append(d, "UpdatedAt "+s)
	}
	return strings.Join(d, "; ")
}

// diffTime describes how got differs from want to the millisecond, or
// returns "".
func diffTime(got, want time.Time) string {
	switch {
	case want.IsZero() && !got.IsZero():
		return fmt.Sprintf("= %v, want the zero time", got)
	case want.IsZero():
		return ""
	case got.IsZero() || got.UnixMilli() != want.UnixMilli():
		return fmt.Sprintf("= %v, want %v to the millisecond", got, want)
	}
	return ""
}

// wantLink fails unless got is want.
func wantLink(t *testing.T, what string, got, want contactsync.Link) {
	t.Helper()
	if d := diffLink(got, want); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}

// wantLinks fails unless got are want, in order.
func wantLinks(t *testing.T, what string, got, want []contactsync.Link) {
	t.Helper()
	ids := func(ls []contactsync.Link) []string {
		var out []string
		for _, l := range ls {
			out = append(out, string(l.Kind)+"/"+l.LocalID)
		}
		return out
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("%s = %v, want %v", what, ids(got), ids(want))
		return
	}
	for i := range got {
		if d := diffLink(got[i], want[i]); d != "" {
			t.Errorf("%s[%d]: %s", what, i, d)
		}
	}
}

// diffIntent describes how got differs from want, or returns "".
func diffIntent(got, want contactsync.Intent) string {
	var d []string
	if got.Key != want.Key || got.Kind != want.Kind || got.LocalID != want.LocalID || got.Op != want.Op {
		d = append(d, fmt.Sprintf("{%q %q %q %q}, want {%q %q %q %q}", got.Key, got.Kind, got.LocalID, got.Op,
			want.Key, want.Kind, want.LocalID, want.Op))
	}
	if !bytes.Equal(got.Data, want.Data) {
		d = append(d, fmt.Sprintf("Data = %q, want %q", got.Data, want.Data))
	}
	if s := diffTime(got.CreatedAt, want.CreatedAt); s != "" {
		d = append(d, "CreatedAt "+s)
	}
	return strings.Join(d, "; ")
}

// wantIntentKeys fails unless the store's intents have keys, in order.
func wantIntentKeys(t *testing.T, s contactsync.StateStore, keys ...string) {
	t.Helper()
	var got []string
	for _, in := range mustIntents(t, s) {
		got = append(got, in.Key)
	}
	if !slices.Equal(got, keys) {
		t.Errorf("Intents have keys %q, want %q", got, keys)
	}
}

func testEmpty(t *testing.T, s contactsync.StateStore) {
	ctx := t.Context()
	for _, k := range []contactsync.Kind{contactsync.KindMember, contactsync.KindTask, contactsync.KindNote} {
		wantNoLink(t, s, k, "x")
		_, err := s.LinkByRemote(ctx, k, "x")
		wantNotFound(t, "LinkByRemote", err)
		if ls := mustLinks(t, s, k, "", 10); len(ls) != 0 {
			t.Errorf("Links(%s) of an empty store = %d links", k, len(ls))
		}
		if ls := mustMemberLinks(t, s, k, "x"); len(ls) != 0 {
			t.Errorf("MemberLinks(%s) of an empty store = %d links", k, len(ls))
		}
	}
	wantNoIntent(t, s, "x")
	if ins := mustIntents(t, s); len(ins) != 0 {
		t.Errorf("Intents of an empty store = %d intents", len(ins))
	}
	if mustDone(t, s, "x") {
		t.Error("Done of an empty store = true")
	}
	runs, err := s.Runs(ctx, 10)
	if err != nil || len(runs) != 0 {
		t.Errorf("Runs of an empty store = %d runs, %v", len(runs), err)
	}
	// Deleting what is not there is no error.
	if err := s.DeleteLink(ctx, contactsync.KindMember, "x"); err != nil {
		t.Errorf("DeleteLink of a missing link: %v", err)
	}
	if err := s.DeleteIntent(ctx, "x"); err != nil {
		t.Errorf("DeleteIntent of a missing intent: %v", err)
	}
}

func testPutLinkCreates(t *testing.T, s contactsync.StateStore) {
	l := member("m1", "c1")
	mustPutLink(t, s, l)
	wantLink(t, "Link", mustLink(t, s, contactsync.KindMember, "m1"), l)
	wantNoLink(t, s, contactsync.KindMember, "m2")
	wantNoLink(t, s, contactsync.KindTask, "m1") // kinds are separate
	got, err := s.LinkByRemote(t.Context(), contactsync.KindMember, "c1")
	if err != nil {
		t.Fatalf("LinkByRemote: %v", err)
	}
	wantLink(t, "LinkByRemote", got, l)
}

func testPutLinkReplaces(t *testing.T, s contactsync.StateStore) {
	mustPutLink(t, s, task("t1", "r1", "m1"))
	repl := contactsync.Link{Kind: contactsync.KindTask, LocalID: "t1", RemoteID: "r2", MemberID: "m2",
		ContactID: "c2", Hash: "h2", State: []byte(`{"v":2}`), Tags: []string{"b"}, Archived: true, UpdatedAt: ms.Add(time.Hour)}
	mustPutLink(t, s, repl)
	wantLink(t, "Link after a replace", mustLink(t, s, contactsync.KindTask, "t1"), repl)
	wantLinks(t, "Links after a replace", mustLinks(t, s, contactsync.KindTask, "", 10), []contactsync.Link{repl})

	// Replacing with a link of fewer fields clears the others.
	bare := contactsync.Link{Kind: contactsync.KindTask, LocalID: "t1"}
	mustPutLink(t, s, bare)
	wantLink(t, "Link after a replace with a bare link", mustLink(t, s, contactsync.KindTask, "t1"), bare)
}

func testLinkByRemote(t *testing.T, s contactsync.StateStore) {
	ctx := t.Context()
	m := member("m1", "c1")
	tk := task("t1", "c1", "m1") // the same remote ID in another kind
	mustPutLink(t, s, m)
	mustPutLink(t, s, tk)
	got, err := s.LinkByRemote(ctx, contactsync.KindMember, "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantLink(t, "LinkByRemote(member, c1)", got, m)
	got, err = s.LinkByRemote(ctx, contactsync.KindTask, "c1")
	if err != nil {
		t.Fatal(err)
	}
	wantLink(t, "LinkByRemote(task, c1)", got, tk)
	_, err = s.LinkByRemote(ctx, contactsync.KindNote, "c1")
	wantNotFound(t, "LinkByRemote(note, c1)", err)

	// A replace that changes the remote ID moves the link.
	m.RemoteID = "c9"
	mustPutLink(t, s, m)
	_, err = s.LinkByRemote(ctx, contactsync.KindMember, "c1")
	wantNotFound(t, "LinkByRemote of the replaced remote ID", err)
	got, err = s.LinkByRemote(ctx, contactsync.KindMember, "c9")
	if err != nil {
		t.Fatalf("LinkByRemote of the new remote ID: %v", err)
	}
	wantLink(t, "LinkByRemote of the new remote ID", got, m)
	if got, err := s.LinkByRemote(ctx, contactsync.KindTask, "c1"); err != nil || got.LocalID != "t1" {
		t.Errorf("LinkByRemote(task, c1) after the member moved = %q, %v", got.LocalID, err)
	}
}

func testDeleteLink(t *testing.T, s contactsync.StateStore) {
	ctx := t.Context()
	mustPutLink(t, s, task("t1", "r1", "m1"))
	mustPutLink(t, s, task("t2", "r2", "m1"))
	mustPutLink(t, s, note("t1", "r1", "m1")) // same IDs, other kind
	if err := s.DeleteLink(ctx, contactsync.KindTask, "t1"); err != nil {
		t.Fatal(err)
	}
	wantNoLink(t, s, contactsync.KindTask, "t1")
	_, err := s.LinkByRemote(ctx, contactsync.KindTask, "r1")
	wantNotFound(t, "LinkByRemote of a deleted link", err)
	wantLinks(t, "Links after a delete", mustLinks(t, s, contactsync.KindTask, "", 10), []contactsync.Link{task("t2", "r2", "m1")})
	wantLinks(t, "MemberLinks after a delete", mustMemberLinks(t, s, contactsync.KindTask, "m1"), []contactsync.Link{task("t2", "r2", "m1")})
	wantLink(t, "the note with the deleted task's IDs", mustLink(t, s, contactsync.KindNote, "t1"), note("t1", "r1", "m1"))
	if err := s.DeleteLink(ctx, contactsync.KindTask, "t1"); err != nil {
		t.Errorf("DeleteLink again: %v", err)
	}
	// A deleted link can be created again.
	mustPutLink(t, s, task("t1", "r3", "m2"))
	wantLink(t, "Link recreated", mustLink(t, s, contactsync.KindTask, "t1"), task("t1", "r3", "m2"))
}

func testLinksPaging(t *testing.T, s contactsync.StateStore) {
	const n = 23
	var want []contactsync.Link
	for i := range n {
		want = append(want, member(fmt.Sprintf("m%02d", i), fmt.Sprintf("c%d", i)))
	}
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(n) { // in no particular order
		mustPutLink(t, s, want[i])
	}
	// Page through with several page sizes.
	for _, limit := range []int{1, 5, 7, n, n + 10} {
		var got []contactsync.Link
		after := ""
		for pages := 0; ; pages++ {
			page := mustLinks(t, s, contactsync.KindMember, after, limit)
			if len(page) > limit {
				t.Fatalf("Links(limit %d) returned %d links", limit, len(page))
			}
			if len(page) == 0 || pages > n {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].LocalID
		}
		wantLinks(t, fmt.Sprintf("all pages of %d", limit), got, want)
	}
	// after need not be a stored ID, and is exclusive.
	wantLinks(t, `Links(after "m10")`, mustLinks(t, s, contactsync.KindMember, "m10", 3), want[11:14])
	wantLinks(t, `Links(after "m10x")`, mustLinks(t, s, contactsync.KindMember, "m10x", 2), want[11:13])
	wantLinks(t, `Links(after "m")`, mustLinks(t, s, contactsync.KindMember, "m", 2), want[:2])
	if ls := mustLinks(t, s, contactsync.KindMember, "m22", 5); len(ls) != 0 {
		t.Errorf("Links after the last = %d links", len(ls))
	}
	if ls := mustLinks(t, s, contactsync.KindMember, "z", 5); len(ls) != 0 {
		t.Errorf("Links after all = %d links", len(ls))
	}
	// A limit of zero or less means no limit.
	wantLinks(t, "Links(limit 0)", mustLinks(t, s, contactsync.KindMember, "", 0), want)
	wantLinks(t, "Links(after m20, limit -1)", mustLinks(t, s, contactsync.KindMember, "m20", -1), want[21:])
	// Ordered by LocalID as strings, byte by byte.
	odd := []contactsync.Link{member("M", "x1"), member("a", "x2"), member("m1", "x3"), member("é", "x4")}
	for _, l := range odd {
		mustPutLink(t, s, l)
	}
	all := mustLinks(t, s, contactsync.KindMember, "", 0)
	var ids []string
	for _, l := range all {
		ids = append(ids, l.LocalID)
	}
	if !slices.IsSorted(ids) || len(ids) != n+len(odd) {
		t.Errorf("Links are not all there in byte order: %q", ids)
	}
}

func testLinksKindsIsolated(t *testing.T, s contactsync.StateStore) {
	mustPutLink(t, s, member("a", "c1"))
	mustPutLink(t, s, member("c", "c3"))
	mustPutLink(t, s, task("b", "t1", "a"))
	mustPutLink(t, s, note("a", "n1", "a"))
	mustPutLink(t, s, note("d", "n2", "a"))
	wantLinks(t, "member Links", mustLinks(t, s, contactsync.KindMember, "", 10),
		[]contactsync.Link{member("a", "c1"), member("c", "c3")})
	wantLinks(t, "task Links", mustLinks(t, s, contactsync.KindTask, "", 10),
		[]contactsync.Link{task("b", "t1", "a")})
	wantLinks(t, "note Links", mustLinks(t, s, contactsync.KindNote, "", 10),
		[]contactsync.Link{note("a", "n1", "a"), note("d", "n2", "a")})
	wantLinks(t, "note Links after a", mustLinks(t, s, contactsync.KindNote, "a", 1),
		[]contactsync.Link{note("d", "n2", "a")})
	if ls := mustLinks(t, s, contactsync.Kind("other"), "", 10); len(ls) != 0 {
		t.Errorf("Links of an unused kind = %d links", len(ls))
	}
}

func testMemberLinks(t *testing.T, s contactsync.StateStore) {
	t3, t1, t2 := task("t3", "r3", "m1"), task("t1", "r1", "m1"), task("t2", "r2", "m2")
	n1 := note("n1", "q1", "m1")
	for _, l := range []contactsync.Link{t3, t1, t2, n1, member("m1", "c1")} {
		mustPutLink(t, s, l)
	}
	wantLinks(t, "MemberLinks(task, m1)", mustMemberLinks(t, s, contactsync.KindTask, "m1"), []contactsync.Link{t1, t3})
	wantLinks(t, "MemberLinks(task, m2)", mustMemberLinks(t, s, contactsync.KindTask, "m2"), []contactsync.Link{t2})
	wantLinks(t, "MemberLinks(note, m1)", mustMemberLinks(t, s, contactsync.KindNote, "m1"), []contactsync.Link{n1})
	if ls := mustMemberLinks(t, s, contactsync.KindTask, "m9"); len(ls) != 0 {
		t.Errorf("MemberLinks of a member without tasks = %d links", len(ls))
	}
	// A replace that changes the member moves the link.
	t3.MemberID = "m2"
	mustPutLink(t, s, t3)
	wantLinks(t, "MemberLinks(task, m1) after a move", mustMemberLinks(t, s, contactsync.KindTask, "m1"), []contactsync.Link{t1})
	wantLinks(t, "MemberLinks(task, m2) after a move", mustMemberLinks(t, s, contactsync.KindTask, "m2"), []contactsync.Link{t2, t3})
}

func testIntents(t *testing.T, s contactsync.StateStore) {
	in := contactsync.Intent{Key: "create/member/m1", Kind: contactsync.KindMember, LocalID: "m1", Op: "create",
		Data: []byte(`{"email":"a@example.com"}`), CreatedAt: ms}
	mustPutIntent(t, s, in)
	got, err := s.Intent(t.Context(), in.Key)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffIntent(got, in); d != "" {
		t.Errorf("Intent: %s", d)
	}
	wantNoIntent(t, s, "create/member/m2")
	ins := mustIntents(t, s)
	if len(ins) != 1 {
		t.Fatalf("Intents = %d intents, want 1", len(ins))
	}
	if d := diffIntent(ins[0], in); d != "" {
		t.Errorf("Intents[0]: %s", d)
	}
}

func testIntentReplace(t *testing.T, s contactsync.StateStore) {
	mustPutIntent(t, s, contactsync.Intent{Key: "k", Kind: contactsync.KindMember, LocalID: "m1", Op: "create", Data: []byte("1"), CreatedAt: ms})
	repl := contactsync.Intent{Key: "k", Kind: contactsync.KindTask, LocalID: "t1", Op: "update", Data: []byte("2"), CreatedAt: ms.Add(time.Second)}
	mustPutIntent(t, s, repl)
	got, err := s.Intent(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if d := diffIntent(got, repl); d != "" {
		t.Errorf("Intent after a replace: %s", d)
	}
	wantIntentKeys(t, s, "k")
}

func testIntentsOldestFirst(t *testing.T, s contactsync.StateStore) {
	at := func(sec int) time.Time { return ms.Add(time.Duration(sec) * time.Second) }
	for _, in := range []contactsync.Intent{
		{Key: "c", Op: "create", CreatedAt: at(3)},
		{Key: "a", Op: "create", CreatedAt: at(5)},
		{Key: "e", Op: "create", CreatedAt: at(1)},
		{Key: "b", Op: "create", CreatedAt: at(3)}, // same time as c: by key
		{Key: "d", Op: "create", CreatedAt: at(2)},
	} {
		mustPutIntent(t, s, in)
	}
	wantIntentKeys(t, s, "e", "d", "b", "c", "a")
	// A replace takes the new intent's time.
	mustPutIntent(t, s, contactsync.Intent{Key: "e", Op: "update", CreatedAt: at(9)})
	wantIntentKeys(t, s, "d", "b", "c", "a", "e")
}

func testDeleteIntent(t *testing.T, s contactsync.StateStore) {
	for _, k := range []string{"a", "b", "c"} {
		mustPutIntent(t, s, contactsync.Intent{Key: k, Op: "create", CreatedAt: ms})
	}
	if err := s.DeleteIntent(t.Context(), "b"); err != nil {
		t.Fatal(err)
	}
	wantNoIntent(t, s, "b")
	wantIntentKeys(t, s, "a", "c")
	if err := s.DeleteIntent(t.Context(), "b"); err != nil {
		t.Errorf("DeleteIntent again: %v", err)
	}
}

func testCommit(t *testing.T, s contactsync.StateStore) {
	ctx := t.Context()
	mustPutIntent(t, s, contactsync.Intent{Key: "create/member/m1", Kind: contactsync.KindMember, LocalID: "m1", Op: "create", CreatedAt: ms})
	mustPutIntent(t, s, contactsync.Intent{Key: "create/member/m2", Kind: contactsync.KindMember, LocalID: "m2", Op: "create", CreatedAt: ms})
	l := member("m1", "c1")
	if err := s.Commit(ctx, l, "create/member/m1"); err != nil {
		t.Fatal(err)
	}
	wantLink(t, "Link after Commit", mustLink(t, s, contactsync.KindMember, "m1"), l)
	if got, err := s.LinkByRemote(ctx, contactsync.KindMember, "c1"); err != nil || got.LocalID != "m1" {
		t.Errorf("LinkByRemote after Commit = %q, %v", got.LocalID, err)
	}
	wantNoIntent(t, s, "create/member/m1")
	wantIntentKeys(t, s, "create/member/m2") // other intents stay
	// The intent need not exist.
	l2 := member("m3", "c3")
	if err := s.Commit(ctx, l2, "no-such-intent"); err != nil {
		t.Fatalf("Commit with a missing intent: %v", err)
	}
	wantLink(t, "Link after Commit with a missing intent", mustLink(t, s, contactsync.KindMember, "m3"), l2)
	wantIntentKeys(t, s, "create/member/m2")
}

func testCommitWithoutKey(t *testing.T, s contactsync.StateStore) {
	mustPutIntent(t, s, contactsync.Intent{Key: "k", Op: "create", CreatedAt: ms})
	l := task("t1", "r1", "m1")
	if err := s.Commit(t.Context(), l, ""); err != nil {
		t.Fatal(err)
	}
	wantLink(t, `Link after Commit with key ""`, mustLink(t, s, contactsync.KindTask, "t1"), l)
	if _, err := s.Intent(t.Context(), "k"); err != nil {
		t.Errorf(`Commit with key "" touched intent k: %v`, err)
	}
}

func testCommitReplaces(t *testing.T, s contactsync.StateStore) {
	ctx := t.Context()
	mustPutLink(t, s, member("m1", "c1"))
	mustPutIntent(t, s, contactsync.Intent{Key: "update/member/m1", Kind: contactsync.KindMember, LocalID: "m1", Op: "update", CreatedAt: ms})
	l := member("m1", "c2")
	l.Hash, l.Tags = "h2", []string{"vip"}
	if err := s.Commit(ctx, l, "update/member/m1"); err != nil {
		t.Fatal(err)
	}
	wantLink(t, "Link after a replacing Commit", mustLink(t, s, contactsync.KindMember, "m1"), l)
	_, err := s.LinkByRemote(ctx, contactsync.KindMember, "c1")
	wantNotFound(t, "LinkByRemote of the replaced remote ID", err)
	wantNoIntent(t, s, "update/member/m1")
}

// testCommitCancelled checks that a Commit that fails leaves both the link
// and the intent as they were: the store never has one without the other.
func testCommitCancelled(t *testing.T, s contactsync.StateStore) {
	mustPutIntent(t, s, contactsync.Intent{Key: "k", Op: "create", CreatedAt: ms})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Commit(ctx, member("m1", "c1"), "k")
	_, linkErr := s.Link(t.Context(), contactsync.KindMember, "m1")
	_, intentErr := s.Intent(t.Context(), "k")
	linked, pending := linkErr == nil, intentErr == nil
	switch {
	case err == nil && (!linked || pending):
		t.Errorf("Commit succeeded, but link stored = %t and intent kept = %t", linked, pending)
	case err != nil && (linked || !pending):
		t.Errorf("Commit failed (%v), but link stored = %t and intent kept = %t", err, linked, pending)
	}
}

func testMarkDone(t *testing.T, s contactsync.StateStore) {
	ctx := t.Context()
	if mustDone(t, s, "lead/l1") {
		t.Error("Done before MarkDone = true")
	}
	first, err := s.MarkDone(ctx, "lead/l1")
	if err != nil || !first {
		t.Fatalf("first MarkDone = %t, %v; want true", first, err)
	}
	first, err = s.MarkDone(ctx, "lead/l1")
	if err != nil || first {
		t.Fatalf("second MarkDone = %t, %v; want false", first, err)
	}
	if !mustDone(t, s, "lead/l1") {
		t.Error("Done after MarkDone = false")
	}
	if mustDone(t, s, "lead/l2") || mustDone(t, s, "lead/l") {
		t.Error("Done of other keys = true")
	}
	if first, err := s.MarkDone(ctx, "lead/l2"); err != nil || !first {
		t.Errorf("MarkDone of another key = %t, %v; want true", first, err)
	}
}

func testRuns(t *testing.T, s contactsync.StateStore) {
	ctx := t.Context()
	at := func(min int) time.Time { return ms.Add(time.Duration(min) * time.Minute) }
	for _, r := range []contactsync.RunRecord{
		{ID: "r2", Started: at(10), Finished: at(11), Report: []byte(`{"n":2}`)},
		{ID: "r1", Started: at(0), Finished: at(1), Report: []byte(`{"n":1}`)},
		{ID: "r3", Started: at(20), Finished: at(21), Err: "stopped"},
	} {
		if err := s.AppendRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(limit int) []string {
		t.Helper()
		runs, err := s.Runs(ctx, limit)
		if err != nil {
			t.Fatalf("Runs(%d): %v", limit, err)
		}
		var out []string
		for _, r := range runs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, tc := range []struct {
		limit int
		want  []string
	}{
		{1, []string{"r3"}},
		{2, []string{"r3", "r2"}},
		{3, []string{"r3", "r2", "r1"}},
		{10, []string{"r3", "r2", "r1"}},
		{0, []string{"r3", "r2", "r1"}},
	} {
		if got := ids(tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("Runs(%d) = %q, want %q", tc.limit, got, tc.want)
		}
	}
	// A run with a logged ID replaces that run.
	if err := s.AppendRun(ctx, contactsync.RunRecord{ID: "r1", Started: at(30), Finished: at(31)}); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(0), []string{"r1", "r3", "r2"}; !slices.Equal(got, want) {
		t.Errorf("Runs after replacing r1 = %q, want %q", got, want)
	}
}

// fullLink has every field set, with bytes and strings that trip naive
// encodings.
func fullLink() contactsync.Link {
	return contactsync.Link{
		Kind:      contactsync.KindNote,
		LocalID:   "note/ü-1 'x' \"y\"",
		RemoteID:  "remote-%_?",
		MemberID:  "member; DROP TABLE links; --",
		ContactID: "contact\t\n",
		Hash:      "sha256:0123456789abcdef",
		State:     []byte{0, 1, 2, 0xff, 0xfe, '{', '}', 0},
		Tags:      []string{"VIP", "näh", "", "a,b", `q"uote`, "日本"},
		Archived:  true,
		UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 678_912_345, time.FixedZone("X", -7*3600)),
	}
}

func testRoundTripLink(t *testing.T, s contactsync.StateStore) {
	ctx := t.Context()
	want := fullLink()
	mustPutLink(t, s, want)
	wantLink(t, "Link", mustLink(t, s, want.Kind, want.LocalID), want)
	got, err := s.LinkByRemote(ctx, want.Kind, want.RemoteID)
	if err != nil {
		t.Fatalf("LinkByRemote: %v", err)
	}
	wantLink(t, "LinkByRemote", got, want)
	wantLinks(t, "Links", mustLinks(t, s, want.Kind, "", 10), []contactsync.Link{want})
	wantLinks(t, "MemberLinks", mustMemberLinks(t, s, want.Kind, want.MemberID), []contactsync.Link{want})

	// Through Commit too, with a time before 1970.
	want.LocalID, want.RemoteID, want.UpdatedAt = "other", "other-remote", time.Date(1960, 5, 6, 7, 8, 9, 10_000_000, time.UTC)
	if err := s.Commit(ctx, want, "k"); err != nil {
		t.Fatal(err)
	}
	wantLink(t, "Link stored by Commit", mustLink(t, s, want.Kind, want.LocalID), want)
}

func testRoundTripEmptyLink(t *testing.T, s contactsync.StateStore) {
	// Only the key: every other field is empty, and must stay so.
	bare := contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1"}
	mustPutLink(t, s, bare)
	got := mustLink(t, s, bare.Kind, bare.LocalID)
	wantLink(t, "bare Link", got, bare)
	if len(got.Tags) != 0 || len(got.State) != 0 || !got.UpdatedAt.IsZero() {
		t.Errorf("bare Link came back with Tags %q, State %q, UpdatedAt %v", got.Tags, got.State, got.UpdatedAt)
	}
	// Empty, non-nil slices may come back nil.
	empty := contactsync.Link{Kind: contactsync.KindMember, LocalID: "m2", Tags: []string{}, State: []byte{}}
	mustPutLink(t, s, empty)
	got = mustLink(t, s, empty.Kind, empty.LocalID)
	if len(got.Tags) != 0 || len(got.State) != 0 {
		t.Errorf("a Link with empty Tags and State came back with Tags %q, State %q", got.Tags, got.State)
	}
	// A single empty tag is a tag.
	one := contactsync.Link{Kind: contactsync.KindMember, LocalID: "m3", Tags: []string{""}}
	mustPutLink(t, s, one)
	if got := mustLink(t, s, one.Kind, one.LocalID); !slices.Equal(got.Tags, one.Tags) || got.Tags == nil {
		t.Errorf("Tags [\"\"] came back as %q", got.Tags)
	}
}

func testRoundTripIntent(t *testing.T, s contactsync.StateStore) {
	for _, in := range []contactsync.Intent{
		{Key: "tags/member/ü 1", Kind: contactsync.KindMember, LocalID: "ü 1", Op: "tags",
			Data: []byte{0, 0xff, '"', 0}, CreatedAt: time.Date(2026, 7, 8, 9, 10, 11, 999_999_999, time.Local)},
		{Key: "bare"},
	} {
		mustPutIntent(t, s, in)
		got, err := s.Intent(t.Context(), in.Key)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffIntent(got, in); d != "" {
			t.Errorf("Intent(%q): %s", in.Key, d)
		}
	}
	for _, in := range mustIntents(t, s) {
		if in.Key == "bare" && (len(in.Data) != 0 || !in.CreatedAt.IsZero()) {
			t.Errorf("a bare intent came back with Data %q and CreatedAt %v", in.Data, in.CreatedAt)
		}
	}
}

func testRoundTripRun(t *testing.T, s contactsync.StateStore) {
	want := []contactsync.RunRecord{
		{ID: "run-1", Started: time.Date(2026, 2, 3, 4, 5, 6, 7_890_000, time.UTC),
			Finished: time.Date(2026, 2, 3, 4, 6, 0, 1_000_000, time.FixedZone("Y", 3600)),
			Report:   []byte(`{"created":3,"errors":["x"]}` + "\x00\xff"), Err: "contactsync: stopped: \"quota\""},
		{ID: "run-0"}, // the zero Started sorts last
	}
	for _, r := range want {
		if err := s.AppendRun(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Runs(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Runs = %d runs, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || !bytes.Equal(g.Report, w.Report) || g.Err != w.Err {
			t.Errorf("Runs[%d] = {%q %q %q}, want {%q %q %q}", i, g.ID, g.Report, g.Err, w.ID, w.Report, w.Err)
		}
		if d := diffTime(g.Started, w.Started); d != "" {
			t.Errorf("Runs[%d].Started %s", i, d)
		}
		if d := diffTime(g.Finished, w.Finished); d != "" {
			t.Errorf("Runs[%d].Finished %s", i, d)
		}
	}
}

func testNoAliasing(t *testing.T, s contactsync.StateStore) {
	ctx := t.Context()
	orig := func() contactsync.Link {
		l := task("t1", "r1", "m1")
		l.Tags, l.State = []string{"a", "b"}, []byte("state")
		return l
	}
	// The store keeps its own copies of what it is given …
	in := orig()
	mustPutLink(t, s, in)
	in.Tags[0], in.State[0] = "X", 'X'
	wantLink(t, "Link after the caller changed what it stored", mustLink(t, s, contactsync.KindTask, "t1"), orig())
	in = orig()
	in.LocalID = "t2"
	if err := s.Commit(ctx, in, ""); err != nil {
		t.Fatal(err)
	}
	in.Tags[1], in.State[1] = "Y", 'Y'
	want2 := orig()
	want2.LocalID = "t2"
	wantLink(t, "Link after the caller changed what it committed", mustLink(t, s, contactsync.KindTask, "t2"), want2)

	// … and hands out copies, from every read.
	scribble := func(l contactsync.Link) {
		for i := range l.Tags {
			l.Tags[i] = "scribbled"
		}
		for i := range l.State {
			l.State[i] = '!'
		}
	}
	scribble(mustLink(t, s, contactsync.KindTask, "t1"))
	byRemote, err := s.LinkByRemote(ctx, contactsync.KindTask, "r1")
	if err != nil {
		t.Fatal(err)
	}
	scribble(byRemote)
	for _, l := range mustLinks(t, s, contactsync.KindTask, "", 10) {
		scribble(l)
	}
	for _, l := range mustMemberLinks(t, s, contactsync.KindTask, "m1") {
		scribble(l)
	}
	wantLink(t, "Link after the caller changed links it read", mustLink(t, s, contactsync.KindTask, "t1"), orig())
	wantLink(t, "Link after the caller changed links it read", mustLink(t, s, contactsync.KindTask, "t2"), want2)
	// Appending to a returned slice must not reach the store either.
	got := mustLink(t, s, contactsync.KindTask, "t1")
	_ = append(got.Tags[:1], "appended")
	_ = append(got.State[:1], '+')
	wantLink(t, "Link after the caller appended to a link it read", mustLink(t, s, contactsync.KindTask, "t1"), orig())

	// Intent data.
	data := []byte("data")
	mustPutIntent(t, s, contactsync.Intent{Key: "k", Op: "create", Data: data, CreatedAt: ms})
	data[0] = 'X'
	gotIn, err := s.Intent(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if string(gotIn.Data) != "data" {
		t.Errorf("Intent.Data after the caller changed what it stored = %q", gotIn.Data)
	}
	gotIn.Data[0] = 'Y'
	for _, in := range mustIntents(t, s) {
		in.Data[1] = 'Z'
	}
	if gotIn, _ := s.Intent(ctx, "k"); string(gotIn.Data) != "data" {
		t.Errorf("Intent.Data after the caller changed what it read = %q", gotIn.Data)
	}

	// Run reports.
	report := []byte("report")
	if err := s.AppendRun(ctx, contactsync.RunRecord{ID: "r", Started: ms, Report: report}); err != nil {
		t.Fatal(err)
	}
	report[0] = 'X'
	runs, err := s.Runs(ctx, 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("Runs = %d runs, %v", len(runs), err)
	}
	if string(runs[0].Report) != "report" {
		t.Errorf("Report after the caller changed what it stored = %q", runs[0].Report)
	}
	runs[0].Report[0] = 'Y'
	if runs, _ := s.Runs(ctx, 1); len(runs) != 1 || string(runs[0].Report) != "report" {
		t.Errorf("Report after the caller changed what it read = %q", runs[0].Report)
	}
}

// testConcurrent uses the store from many goroutines at once, each with
// keys of its own, and all of them on shared idempotency keys.
func testConcurrent(t *testing.T, s contactsync.StateStore) {
	const (
		workers = 8
		rounds  = 12
	)
	ctx := t.Context()
	var firsts [rounds]atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				id := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				m := member(id, "c-"+id)
				if err := s.PutLink(ctx, m); err != nil {
					t.Errorf("PutLink(%s): %v", id, err)
					return
				}
				if got, err := s.Link(ctx, contactsync.KindMember, id); err != nil || got.RemoteID != m.RemoteID {
					t.Errorf("Link(%s) right after PutLink = %q, %v", id, got.RemoteID, err)
				}
				key := "create/task/" + id
				if err := s.PutIntent(ctx, contactsync.Intent{Key: key, Kind: contactsync.KindTask, LocalID: id, Op: "create", CreatedAt: ms}); err != nil {
					t.Errorf("PutIntent(%s): %v", key, err)
					return
				}
				if err := s.Commit(ctx, task(id, "r-"+id, id), key); err != nil {
					t.Errorf("Commit(%s): %v", key, err)
					return
				}
				first, err := s.MarkDone(ctx, "shared/"+strconv.Itoa(i))
				if err != nil {
					t.Errorf("MarkDone: %v", err)
					return
				}
				if first {
					firsts[i].Add(1)
				}
				if _, err := s.Links(ctx, contactsync.KindMember, "", 5); err != nil {
					t.Errorf("Links: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i := range rounds {
		if n := firsts[i].Load(); n != 1 {
			t.Errorf("MarkDone(shared/%d) from %d goroutines returned first = true %d times, want once", i, workers, n)
		}
	}
	if n := len(mustLinks(t, s, contactsync.KindMember, "", 0)); n != workers*rounds {
		t.Errorf("%d member links, want %d", n, workers*rounds)
	}
	if n := len(mustLinks(t, s, contactsync.KindTask, "", 0)); n != workers*rounds {
		t.Errorf("%d task links, want %d", n, workers*rounds)
	}
	if ins := mustIntents(t, s); len(ins) != 0 {
		t.Errorf("%d intents left after every one was committed", len(ins))
	}
}
