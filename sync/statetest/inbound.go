package statetest

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// RunInbound runs the conformance suite of contactsync.InboundStore
// against the stores newStore returns, one per subtest, each of which
// must be empty.
//
// It checks the contract documented on contactsync.InboundStore: PutInbox
// storing an entry once, even after it was processed, until PurgeInbox
// forgets it (and reporting first exactly once among concurrent callers);
// PendingInbox in order of Timestamp, then Received, with a limit;
// DoneInbox and PurgeInbox; named cursors; what was seen of a record; the
// dirty marks, listed oldest first up to a time and cleared only when not
// newer than the clearing time; faithful round trips (times to the
// millisecond); and that the store keeps its own copies of Body and State.
// It settles what the contract leaves open as the stores of package
// contactsync do:
//
//   - A limit of zero or less (PendingInbox, Dirty) means no limit.
//   - A contact marked dirty again keeps the earliest of its marks (the
//     soonest re-read wins) and is listed by it.
//   - DoneInbox of an ID that is not in the inbox is no error, and
//     setting a cursor to "" unsets it.
//   - PutInbox refuses an entry without an ID, PutSeen one without a Kind
//     or RemoteID, MarkDirty an empty contact ID.
func RunInbound(t *testing.T, newStore func(t *testing.T) contactsync.InboundStore) {
	t.Helper()
	runSuite(t, newStore, []subtest[contactsync.InboundStore]{
		{"Empty", testInboundEmpty},
		{"RefusesBadKeys", testInboundRefusesBadKeys},
		{"Inbox", testInbox},
		{"InboxOrder", testInboxOrder},
		{"InboxRoundTrip", testInboxRoundTrip},
		{"InboxPurge", testInboxPurge},
		{"InboxConcurrent", testInboxConcurrent},
		{"Cursors", testCursors},
		{"Seen", testSeen},
		{"Dirty", testDirty},
		{"DirtyEarliestMark", testDirtyEarliestMark},
		{"ClearDirty", testClearDirty},
		{"NoAliasing", testInboundNoAliasing},
	})
}

// entry returns an inbox entry received at ms plus sec seconds, with a
// timestamp of ms plus ts seconds.
func entry(id string, ts, sec int) contactsync.InboxEntry {
	return contactsync.InboxEntry{ID: id, Timestamp: ms.Add(time.Duration(ts) * time.Second),
		Received: ms.Add(time.Duration(sec) * time.Second), Body: []byte(`{"webhookId":"` + id + `"}`)}
}

func mustPutInbox(t *testing.T, s contactsync.InboundStore, e contactsync.InboxEntry, wantFirst bool) {
	t.Helper()
	first, err := s.PutInbox(t.Context(), e)
	if err != nil {
		t.Fatalf("PutInbox(%s): %v", e.ID, err)
	}
	if first != wantFirst {
		t.Errorf("PutInbox(%s) = %t, want %t", e.ID, first, wantFirst)
	}
}

func mustPending(t *testing.T, s contactsync.InboundStore, limit int) []contactsync.InboxEntry {
	t.Helper()
	es, err := s.PendingInbox(t.Context(), limit)
	if err != nil {
		t.Fatalf("PendingInbox(%d): %v", limit, err)
	}
	return es
}

// wantPending fails unless PendingInbox(limit) returns the entries of ids,
// in order.
func wantPending(t *testing.T, s contactsync.InboundStore, limit int, ids ...string) {
	t.Helper()
	got := []string{}
	for _, e := range mustPending(t, s, limit) {
		got = append(got, e.ID)
	}
	if ids == nil {
		ids = []string{}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("PendingInbox(%d) = %q, want %q", limit, got, ids)
	}
}

func mustDoneInbox(t *testing.T, s contactsync.InboundStore, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.DoneInbox(t.Context(), id); err != nil {
			t.Fatalf("DoneInbox(%s): %v", id, err)
		}
	}
}

// wantDirty fails unless Dirty(before, limit) returns ids, in order.
func wantDirty(t *testing.T, s contactsync.InboundStore, before time.Time, limit int, ids ...string) {
	t.Helper()
	got, err := s.Dirty(t.Context(), before, limit)
	if err != nil {
		t.Fatalf("Dirty: %v", err)
	}
	if got == nil {
		got = []string{}
	}
	if ids == nil {
		ids = []string{}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("Dirty(%v, %d) = %q, want %q", before.Format(time.RFC3339Nano), limit, got, ids)
	}
}

func mustMarkDirty(t *testing.T, s contactsync.InboundStore, contactID string, at time.Time) {
	t.Helper()
	if err := s.MarkDirty(t.Context(), contactID, at); err != nil {
		t.Fatalf("MarkDirty(%s): %v", contactID, err)
	}
}

func mustClearDirty(t *testing.T, s contactsync.InboundStore, contactID string, at time.Time) {
	t.Helper()
	if err := s.ClearDirty(t.Context(), contactID, at); err != nil {
		t.Fatalf("ClearDirty(%s): %v", contactID, err)
	}
}

// diffEntry describes how got differs from want, or returns "".
func diffEntry(got, want contactsync.InboxEntry) string {
	var d []string
	if got.ID != want.ID {
		d = append(d, fmt.Sprintf("ID = %q, want %q", got.ID, want.ID))
	}
	if !bytes.Equal(got.Body, want.Body) {
		d = append(d, fmt.Sprintf("Body = %q, want %q", got.Body, want.Body))
	}
	if s := diffTime(got.Received, want.Received); s != "" {
		d = append(d, "Received "+s)
	}
	if s := diffTime(got.Timestamp, want.Timestamp); s != "" {
		d = append(d, "Timestamp "+s)
	}
	return strings.Join(d, "; ")
}

// diffSeen describes how got differs from want, or returns "".
func diffSeen(got, want contactsync.Seen) string {
	var d []string
	if got.Kind != want.Kind || got.RemoteID != want.RemoteID || got.Hash != want.Hash || got.Deleted != want.Deleted {
		d = append(d, fmt.Sprintf("{%q %q %q %t}, want {%q %q %q %t}", got.Kind, got.RemoteID, got.Hash, got.Deleted,
			want.Kind, want.RemoteID, want.Hash, want.Deleted))
	}
	if !bytes.Equal(got.State, want.State) {
		d = append(d, fmt.Sprintf("State = %q, want %q", got.State, want.State))
	}
	if s := diffTime(got.At, want.At); s != "" {
		d = append(d, "At "+s)
	}
	return strings.Join(d, "; ")
}

func testInboundEmpty(t *testing.T, s contactsync.InboundStore) {
	ctx := t.Context()
	wantPending(t, s, 10)
	wantPending(t, s, 0)
	if c, err := s.Cursor(ctx, "contacts"); err != nil || c != "" {
		t.Errorf(`Cursor of an empty store = %q, %v; want ""`, c, err)
	}
	_, err := s.Seen(ctx, contactsync.KindMember, "c1")
	wantNotFound(t, "Seen of an empty store", err)
	wantDirty(t, s, ms.Add(time.Hour), 0)
	for name, err := range map[string]error{
		"DoneInbox":  s.DoneInbox(ctx, "x"),
		"PurgeInbox": s.PurgeInbox(ctx, ms.Add(time.Hour)),
		"ClearDirty": s.ClearDirty(ctx, "c1", ms),
	} {
		if err != nil {
			t.Errorf("%s of an empty store: %v", name, err)
		}
	}
	wantPending(t, s, 0) // DoneInbox of an unknown ID stores nothing
	mustPutInbox(t, s, entry("x", 0, 0), true)
}

func testInboundRefusesBadKeys(t *testing.T, s contactsync.InboundStore) {
	ctx := t.Context()
	if _, err := s.PutInbox(ctx, contactsync.InboxEntry{Body: []byte("{}")}); err == nil {
		t.Error("PutInbox without an ID succeeded")
	}
	for _, seen := range []contactsync.Seen{{Kind: contactsync.KindMember}, {RemoteID: "c1"}} {
		if err := s.PutSeen(ctx, seen); err == nil {
			t.Errorf("PutSeen(%+v) succeeded", seen)
		}
	}
	if err := s.MarkDirty(ctx, "", ms); err == nil {
		t.Error(`MarkDirty("") succeeded`)
	}
	wantPending(t, s, 0)
	wantDirty(t, s, ms.Add(time.Hour), 0)
}

func testInbox(t *testing.T, s contactsync.InboundStore) {
	first := entry("w1", 0, 0)
	mustPutInbox(t, s, first, true)
	// A redelivery is not stored again, and does not replace the entry.
	again := entry("w1", 5, 5)
	again.Body = []byte("redelivered")
	mustPutInbox(t, s, again, false)
	es := mustPending(t, s, 0)
	if len(es) != 1 {
		t.Fatalf("PendingInbox = %d entries, want 1", len(es))
	}
	if d := diffEntry(es[0], first); d != "" {
		t.Errorf("the entry after a redelivery: %s", d)
	}
	mustPutInbox(t, s, entry("w2", 1, 1), true)
	wantPending(t, s, 0, "w1", "w2")

	// A processed entry is no longer pending, and still not stored again.
	mustDoneInbox(t, s, "w1")
	wantPending(t, s, 0, "w2")
	mustPutInbox(t, s, again, false)
	wantPending(t, s, 0, "w2")
	mustDoneInbox(t, s, "w1") // twice is fine
	mustDoneInbox(t, s, "w2")
	wantPending(t, s, 0)
	mustPutInbox(t, s, entry("w2", 1, 1), false)
	wantPending(t, s, 0)
}

func testInboxOrder(t *testing.T, s contactsync.InboundStore) {
	// By Timestamp, then Received; stored in no particular order.
	for _, e := range []contactsync.InboxEntry{
		entry("e", 30, 1),
		entry("a", 10, 9),
		entry("d", 20, 8),
		entry("c", 20, 7), // same Timestamp as d, received earlier
		entry("b", 15, 20),
		entry("f", -10, 50), // an event older than its delivery suggests
	} {
		mustPutInbox(t, s, e, true)
	}
	all := []string{"f", "a", "b", "c", "d", "e"}
	wantPending(t, s, 0, all...)
	wantPending(t, s, -1, all...)
	for _, limit := range []int{1, 2, 5, 6, 10} {
		wantPending(t, s, limit, all[:min(limit, len(all))]...)
	}
	mustDoneInbox(t, s, "a", "c")
	wantPending(t, s, 2, "f", "b")
	wantPending(t, s, 0, "f", "b", "d", "e")
	// Timestamps finer than a millisecond order as stored.
	mustPutInbox(t, s, contactsync.InboxEntry{ID: "g", Timestamp: ms.Add(20*time.Second + 300*time.Microsecond), Received: ms}, true)
	wantPending(t, s, 0, "f", "b", "g", "d", "e")
}

func testInboxRoundTrip(t *testing.T, s contactsync.InboundStore) {
	want := contactsync.InboxEntry{ID: "wh-ü 1", Received: time.Date(2026, 6, 7, 8, 9, 10, 123_456_789, time.Local),
		Timestamp: time.Date(2026, 6, 7, 8, 9, 9, 999_999_999, time.FixedZone("Z", -3600)),
		Body:      []byte("{\"type\":\"ContactCreate\"}\x00\xff")}
	mustPutInbox(t, s, want, true)
	es := mustPending(t, s, 1)
	if len(es) != 1 {
		t.Fatalf("PendingInbox = %d entries", len(es))
	}
	if d := diffEntry(es[0], want); d != "" {
		t.Errorf("round trip: %s", d)
	}
	bare := contactsync.InboxEntry{ID: "bare", Received: ms}
	mustPutInbox(t, s, bare, true)
	for _, e := range mustPending(t, s, 0) {
		if e.ID == "bare" && (len(e.Body) != 0 || !e.Timestamp.IsZero()) {
			t.Errorf("a bare entry came back with Body %q and Timestamp %v", e.Body, e.Timestamp)
		}
	}
	wantPending(t, s, 0, "bare", want.ID) // the zero Timestamp first
}

func testInboxPurge(t *testing.T, s contactsync.InboundStore) {
	ctx := t.Context()
	for i := range 5 {
		mustPutInbox(t, s, entry("w"+strconv.Itoa(i), i, i*60), true) // received at i minutes
	}
	mustDoneInbox(t, s, "w0", "w1", "w2", "w4")
	// Before 2 minutes: w0 and w1 are forgotten; w2 (received exactly
	// then) is kept, and so is w3, unprocessed.
	if err := s.PurgeInbox(ctx, ms.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	mustPutInbox(t, s, entry("w0", 0, 600), true)
	mustPutInbox(t, s, entry("w1", 1, 600), true)
	mustPutInbox(t, s, entry("w2", 2, 600), false)
	wantPending(t, s, 0, "w0", "w1", "w3")
	// Unprocessed entries are never purged.
	if err := s.PurgeInbox(ctx, ms.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantPending(t, s, 0, "w0", "w1", "w3")
	mustPutInbox(t, s, entry("w2", 2, 600), true)
	mustPutInbox(t, s, entry("w4", 4, 600), true)
	// Bounds finer than a millisecond: w0, w1, w2 and w4 were received at
	// 10 minutes, w3 at 3.
	mustDoneInbox(t, s, "w0", "w1", "w2", "w3", "w4")
	if err := s.PurgeInbox(ctx, ms.Add(10*time.Minute-time.Nanosecond)); err != nil {
		t.Fatal(err)
	}
	mustPutInbox(t, s, entry("w4", 4, 0), false)
	mustPutInbox(t, s, entry("w3", 3, 0), true)
	if err := s.PurgeInbox(ctx, ms.Add(10*time.Minute+time.Nanosecond)); err != nil {
		t.Fatal(err)
	}
	mustPutInbox(t, s, entry("w4", 4, 0), true)
	wantPending(t, s, 0, "w3", "w4")
}

// testInboxConcurrent delivers the same webhooks from many goroutines at
// once: each is stored first exactly once.
func testInboxConcurrent(t *testing.T, s contactsync.InboundStore) {
	const (
		workers = 8
		ids     = 20
	)
	var firsts [ids]atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range ids {
				first, err := s.PutInbox(t.Context(), entry("w"+strconv.Itoa(i), i, 0))
				if err != nil {
					t.Errorf("PutInbox: %v", err)
					return
				}
				if first {
					firsts[i].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for i := range ids {
		if n := firsts[i].Load(); n != 1 {
			t.Errorf("PutInbox(w%d) from %d goroutines was first %d times, want once", i, workers, n)
		}
	}
	if n := len(mustPending(t, s, 0)); n != ids {
		t.Errorf("%d pending entries, want %d", n, ids)
	}
}

func testCursors(t *testing.T, s contactsync.InboundStore) {
	ctx := t.Context()
	get := func(name string) string {
		t.Helper()
		v, err := s.Cursor(ctx, name)
		if err != nil {
			t.Fatalf("Cursor(%s): %v", name, err)
		}
		return v
	}
	set := func(name, value string) {
		t.Helper()
		if err := s.SetCursor(ctx, name, value); err != nil {
			t.Fatalf("SetCursor(%s): %v", name, err)
		}
	}
	set("contacts.dateUpdated", "2026-03-14T15:09:26.535Z")
	set("other", "x")
	if v := get("contacts.dateUpdated"); v != "2026-03-14T15:09:26.535Z" {
		t.Errorf("Cursor = %q", v)
	}
	set("contacts.dateUpdated", "2026-03-15T00:00:00Z")
	if v := get("contacts.dateUpdated"); v != "2026-03-15T00:00:00Z" {
		t.Errorf("Cursor after a replace = %q", v)
	}
	if v := get("other"); v != "x" {
		t.Errorf("another cursor = %q", v)
	}
	if v := get("contacts"); v != "" {
		t.Errorf("an unset cursor = %q", v)
	}
	set("other", "")
	if v := get("other"); v != "" {
		t.Errorf(`a cursor set to "" = %q`, v)
	}
	long := strings.Repeat("é\x00", 500)
	set("long", long)
	if v := get("long"); v != long {
		t.Errorf("a long cursor came back with %d bytes, want %d", len(v), len(long))
	}
}

func testSeen(t *testing.T, s contactsync.InboundStore) {
	ctx := t.Context()
	put := func(seen contactsync.Seen) {
		t.Helper()
		if err := s.PutSeen(ctx, seen); err != nil {
			t.Fatalf("PutSeen(%s %s): %v", seen.Kind, seen.RemoteID, err)
		}
	}
	want := func(want contactsync.Seen) {
		t.Helper()
		got, err := s.Seen(ctx, want.Kind, want.RemoteID)
		if err != nil {
			t.Errorf("Seen(%s, %s): %v", want.Kind, want.RemoteID, err)
			return
		}
		if d := diffSeen(got, want); d != "" {
			t.Errorf("Seen(%s, %s): %s", want.Kind, want.RemoteID, d)
		}
	}
	contact := contactsync.Seen{Kind: contactsync.KindMember, RemoteID: "c1",
		At: time.Date(2026, 1, 2, 3, 4, 5, 678_999_999, time.FixedZone("W", 3600)), Hash: "h1",
		State: []byte(`{"email":"a@example.com"}` + "\x00\xff")}
	task := contactsync.Seen{Kind: contactsync.KindTask, RemoteID: "c1", Deleted: true} // same ID, other kind
	put(contact)
	put(task)
	want(contact)
	want(task)
	got, err := s.Seen(ctx, contactsync.KindTask, "c1")
	if err == nil && (len(got.State) != 0 || !got.At.IsZero()) {
		t.Errorf("a bare Seen came back with State %q and At %v", got.State, got.At)
	}
	_, err = s.Seen(ctx, contactsync.KindNote, "c1")
	wantNotFound(t, "Seen(note, c1)", err)
	// PutSeen replaces every field.
	repl := contactsync.Seen{Kind: contactsync.KindMember, RemoteID: "c1", At: ms, Deleted: true}
	put(repl)
	want(repl)
}

func testDirty(t *testing.T, s contactsync.InboundStore) {
	at := func(sec int) time.Time { return ms.Add(time.Duration(sec) * time.Second) }
	mustMarkDirty(t, s, "c3", at(30))
	mustMarkDirty(t, s, "c1", at(10))
	mustMarkDirty(t, s, "c2", at(20))
	mustMarkDirty(t, s, "c0", at(20)) // same mark as c2: by ID
	mustMarkDirty(t, s, "c4", time.Time{})
	wantDirty(t, s, at(60), 0, "c4", "c1", "c0", "c2", "c3")
	wantDirty(t, s, at(60), -1, "c4", "c1", "c0", "c2", "c3")
	wantDirty(t, s, at(60), 3, "c4", "c1", "c0")
	wantDirty(t, s, at(20), 0, "c4", "c1", "c0", "c2") // at or before
	wantDirty(t, s, at(20).Add(-time.Nanosecond), 0, "c4", "c1")
	wantDirty(t, s, at(20).Add(time.Nanosecond), 0, "c4", "c1", "c0", "c2")
	wantDirty(t, s, time.Time{}, 0, "c4")
	wantDirty(t, s, at(60), 10, "c4", "c1", "c0", "c2", "c3")
}

// testDirtyNewestMark checks that a contact marked again keeps its newest
// mark, whichever order the marks come in.
func testDirtyEarliestMark(t *testing.T, s contactsync.InboundStore) {
	at := func(sec int) time.Time { return ms.Add(time.Duration(sec) * time.Second) }
	mustMarkDirty(t, s, "c1", at(30))
	mustMarkDirty(t, s, "c2", at(20))
	wantDirty(t, s, at(60), 0, "c2", "c1")
	wantDirty(t, s, at(25), 0, "c2")
	mustMarkDirty(t, s, "c1", at(40)) // later: ignored
	wantDirty(t, s, at(35), 0, "c2", "c1")
	mustMarkDirty(t, s, "c1", at(10)) // earlier: c1 moves ahead of c2
	wantDirty(t, s, at(60), 0, "c1", "c2")
	wantDirty(t, s, at(15), 0, "c1")
	mustClearDirty(t, s, "c1", at(9))
	wantDirty(t, s, at(60), 0, "c1", "c2")
	mustClearDirty(t, s, "c1", at(10))
	wantDirty(t, s, at(60), 0, "c2")
}

func testClearDirty(t *testing.T, s contactsync.InboundStore) {
	at := func(sec int) time.Time { return ms.Add(time.Duration(sec) * time.Second) }
	mustMarkDirty(t, s, "c1", at(10))
	mustMarkDirty(t, s, "c2", at(10))
	mustMarkDirty(t, s, "c3", at(10))
	mustMarkDirty(t, s, "c4", at(10))
	mustClearDirty(t, s, "c1", at(9))                        // the mark is newer: kept
	mustClearDirty(t, s, "c2", at(10))                       // exactly as new: cleared
	mustClearDirty(t, s, "c3", at(11))                       // older: cleared
	mustClearDirty(t, s, "c4", at(10).Add(-time.Nanosecond)) // newer by less than a millisecond: kept
	mustClearDirty(t, s, "c9", at(11))                       // not marked: no error
	wantDirty(t, s, at(60), 0, "c1", "c4")
	// A cleared contact can be marked again.
	mustMarkDirty(t, s, "c2", at(5))
	wantDirty(t, s, at(60), 0, "c2", "c1", "c4")
}

func testInboundNoAliasing(t *testing.T, s contactsync.InboundStore) {
	ctx := t.Context()
	e := entry("w1", 0, 0)
	body := slices.Clone(e.Body)
	mustPutInbox(t, s, e, true)
	e.Body[0] = 'X'
	es := mustPending(t, s, 0)
	if len(es) != 1 || !bytes.Equal(es[0].Body, body) {
		t.Fatalf("Body after the caller changed what it stored = %q", es[0].Body)
	}
	es[0].Body[0] = 'Y'
	if es := mustPending(t, s, 0); !bytes.Equal(es[0].Body, body) {
		t.Errorf("Body after the caller changed what it read = %q", es[0].Body)
	}

	state := []byte("state")
	if err := s.PutSeen(ctx, contactsync.Seen{Kind: contactsync.KindMember, RemoteID: "c1", State: state}); err != nil {
		t.Fatal(err)
	}
	state[0] = 'X'
	got, err := s.Seen(ctx, contactsync.KindMember, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.State) != "state" {
		t.Errorf("State after the caller changed what it stored = %q", got.State)
	}
	got.State[0] = 'Y'
	if got, _ := s.Seen(ctx, contactsync.KindMember, "c1"); string(got.State) != "state" {
		t.Errorf("State after the caller changed what it read = %q", got.State)
	}
}
