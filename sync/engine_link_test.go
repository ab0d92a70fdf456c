package contactsync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// TestLinkingHonoursFillIfEmpty: a member whose contact already exists is
// linked to it; under FillIfEmpty the engine reads the contact first and
// fills only its empty fields, keeping the CRM's values.
func TestLinkingHonoursFillIfEmpty(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithPolicies(contactsync.Policies{Default: contactsync.FillIfEmpty}))
	existing := w.srv.SeedContact(contactstest.Contact{Email: "member2@example.com", FirstName: "Crm"})
	rep, calls := w.sync([]contactsync.Member{member(2)})
	// The refused create, the read, the update (last name, source, plan) and the tag add.
	if rep.Linked != 1 || calls != 4 {
		t.Fatalf("%d calls\n%s", calls, rep)
	}
	got, _ := w.srv.Contact(existing.ID)
	if got.FirstName != "Crm" || got.LastName != "Test" || got.Source != "gymflow" || len(got.CustomFields) != 1 {
		t.Errorf("linked contact = %+v, want the CRM's first name kept and the empty fields filled", got)
	}
}

// TestLinkingHonoursNewestWins: when linking, a CRM contact changed after
// the member keeps its values; one changed before takes GymFlow's.
func TestLinkingHonoursNewestWins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		memberAge time.Duration // how long before the contact's last change the member changed (negative: after)
		wantFirst string
	}{
		{"contact newer", time.Hour, "Crm"},
		{"member newer", -time.Hour, "Member2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, contactsync.WithPolicies(contactsync.Policies{Default: contactsync.NewestWins}))
			at := time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Millisecond)
			existing := w.srv.SeedContact(contactstest.Contact{Email: "member2@example.com", FirstName: "Crm", DateUpdated: at})
			m := member(2)
			m.UpdatedAt = at.Add(-tc.memberAge)
			rep, _ := w.sync([]contactsync.Member{m})
			if rep.Linked != 1 || rep.Failed != 0 {
				t.Fatalf("%s", rep)
			}
			if got, _ := w.srv.Contact(existing.ID); got.FirstName != tc.wantFirst {
				t.Errorf("first name = %q, want %q", got.FirstName, tc.wantFirst)
			}
		})
	}
}

// TestLinkingRemovesPrefixedTagsGymFlowLacks: with tags owned by a prefix,
// linking reads the contact's tags: prefixed tags GymFlow does not have go,
// the CRM's other tags stay, and tags already there are not re-added.
func TestLinkingRemovesPrefixedTagsGymFlowLacks(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithTagOwnership(contactsync.Ownership{Written: true, Prefix: "gf:"}))
	existing := w.srv.SeedContact(contactstest.Contact{Email: "member2@example.com", FirstName: "Member2", LastName: "Test",
		Tags: []string{"gf:old", "crm-automation", "gf:gold"}})
	m := member(2)
	m.Tags = []string{"gf:gold", "member"}
	rep, _ := w.sync([]contactsync.Member{m})
	if rep.Linked != 1 || rep.TagsAdded != 1 || rep.TagsRemoved != 1 {
		t.Fatalf("%s", rep)
	}
	got, _ := w.srv.Contact(existing.ID)
	if want := []string{"crm-automation", "gf:gold", "member"}; !slices.Equal(slices.Sorted(slices.Values(got.Tags)), want) {
		t.Errorf("tags = %v, want %v", got.Tags, want)
	}
}

// bodyRecorder keeps the bodies of the PUT requests it passes on.
type bodyRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	puts [][]byte
}

func (b *bodyRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && req.Body != nil {
		data, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(data))
		b.mu.Lock()
		b.puts = append(b.puts, data)
		b.mu.Unlock()
	}
	return b.base.RoundTrip(req)
}

// TestUpdateBodiesNeverCarryTags: an update's tags would replace the
// contact's, so no update body the engine sends — linking a duplicate,
// updating a changed member, archiving and lifting an archive — carries
// them, and a tag added in the CRM survives every one.
func TestUpdateBodiesNeverCarryTags(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithDeletePolicy(contactsync.ArchiveWithDND()))
	rec := &bodyRecorder{base: w.srv.HTTPClient().Transport}
	client := w.srv.Client(contacts.WithHTTPClient(&http.Client{Transport: rec}))
	w.eng = w.engine(client)
	w.srv.SeedContact(contactstest.Contact{Email: "member1@example.com", FirstName: "Old", Tags: []string{"crm-1"}})
	ms := members(2)
	w.sync(ms)
	c0 := w.byEmail("member0@example.com")[0]
	if _, err := w.client.Tags.Add(context.Background(), c0.ID, []string{"crm-0"}); err != nil {
		t.Fatal(err)
	}
	ms[0].Fields["last_name"] = "Changed"
	ms[0].Tags = []string{"member", "gold"}
	w.sync(ms)
	w.apply(contactsync.MemberDeleted{Member: "m0001"})
	w.sync(ms) // m0001 comes back: the archive is lifted

	if len(rec.puts) < 4 {
		t.Fatalf("%d update bodies recorded, want the link, the change, the archive and the lift", len(rec.puts))
	}
	for _, body := range rec.puts {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			t.Fatal(err)
		}
		if _, ok := fields["tags"]; ok {
			t.Errorf("an update body carries tags: %s", body)
		}
	}
	if got := w.byEmail("member0@example.com")[0]; got.LastName != "Changed" || !slices.Equal(slices.Sorted(slices.Values(got.Tags)), []string{"crm-0", "gold", "member"}) {
		t.Errorf("member0 = %s %v", got.LastName, got.Tags)
	}
	if got := w.byEmail("member1@example.com")[0]; got.DND || !slices.Equal(slices.Sorted(slices.Values(got.Tags)), []string{"crm-1", "member"}) {
		t.Errorf("member1 DND=%v tags=%v", got.DND, got.Tags)
	}
}

// TestResolvedCreateIsCountedOnce: a create left pending by a crash is
// resolved at the next run's start and counted there; the member, when it
// comes by in the same run, is not counted again as unchanged.
func TestResolvedCreateIsCountedOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	crash := &crashAfterWrite{base: w.srv.HTTPClient().Transport, write: 1, cancel: cancel}
	crashed := w.engine(w.srv.Client(contacts.WithHTTPClient(&http.Client{Transport: crash})), contactsync.WithConcurrency(1))
	if _, err := crashed.SyncMembers(ctx, seq(members(1))); err == nil {
		t.Fatal("the crashed run reported success")
	}
	rep, _ := w.sync(members(3))
	if rep.Resolved != 1 || rep.Linked+rep.Created != 3 || rep.Unchanged != 0 || rep.Members != 3 {
		t.Fatalf("%s", rep)
	}
	if len(w.byEmail("member0@example.com")) != 1 {
		t.Error("the crashed create was duplicated")
	}
}

// TestDailyBudgetSurvivesRestart: the day's calls are read back from the
// run log, so a job restarted within the day does not get a fresh budget.
func TestDailyBudgetSurvivesRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithDailyBudget(10, 0), contactsync.WithConcurrency(1))
	ms := members(16)
	if rep, calls := w.sync(ms[:6]); calls != 6 || rep.Created != 6 {
		t.Fatalf("first process: %d calls\n%s", calls, rep)
	}
	restarted := w.engine(w.client) // a new process on the same store
	rep, err := restarted.SyncMembers(context.Background(), seq(ms))
	if !errors.Is(err, contactsync.ErrBudgetExhausted) || rep.Created != 4 || w.srv.RequestCount() != 10 {
		t.Fatalf("err=%v requests=%d\n%s", err, w.srv.RequestCount(), rep)
	}
	tomorrow := w.engine(w.client, contactsync.WithClock(func() time.Time { return time.Now().Add(24 * time.Hour) }))
	if rep, err := tomorrow.SyncMembers(context.Background(), seq(ms)); err != nil || rep.Created != 6 {
		t.Fatalf("the next day: err=%v\n%s", err, rep)
	}
}

// TestServerDailyReserveStopsTheRun: the engine keeps the reserve of the
// server-reported daily remaining for other integrations and stops there.
func TestServerDailyReserveStopsTheRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, contactsync.WithDailyBudget(0, 15), contactsync.WithConcurrency(1))
	w.srv.SetRateLimits(contactstest.RateLimits{Burst: 1000, Interval: 10 * time.Second, Daily: 20})
	rep, err := w.eng.SyncMembers(context.Background(), seq(members(30)))
	if !errors.Is(err, contactsync.ErrBudgetExhausted) || rep.Created != 5 || w.srv.RequestCount() != 5 {
		t.Fatalf("err=%v requests=%d\n%s", err, w.srv.RequestCount(), rep)
	}
	if rep.RateLimit.DailyRemaining != 15 {
		t.Errorf("daily remaining = %d, want 15", rep.RateLimit.DailyRemaining)
	}
}
