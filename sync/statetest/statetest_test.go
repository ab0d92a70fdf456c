package statetest_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/sync/statetest"
)

// flawEnv names the flaw TestSuite's store has; TestSuiteCatchesFlaws
// sets it for a test binary of its own.
const flawEnv = "STATETEST_FLAW"

// TestSuite runs the suite on a memstore.Store, broken as flawEnv says. In a
// normal run it has no flaw and must pass.
func TestSuite(t *testing.T) {
	flaw := os.Getenv(flawEnv)
	statetest.Run(t, func(t *testing.T) contactsync.StateStore {
		return newFlawed(flaw)
	})
}

// TestActivitySuite runs the activity suite on a memstore.Store, broken as
// flawEnv says. In a normal run it has no flaw and must pass.
func TestActivitySuite(t *testing.T) {
	flaw := os.Getenv(flawEnv)
	statetest.RunActivity(t, func(t *testing.T) contactsync.ActivityStore {
		return newFlawed(flaw)
	})
}

// TestInboundSuite runs the inbound suite on a memstore.Store, broken as
// flawEnv says. In a normal run it has no flaw and must pass.
func TestInboundSuite(t *testing.T) {
	flaw := os.Getenv(flawEnv)
	statetest.RunInbound(t, func(t *testing.T) contactsync.InboundStore {
		return newFlawed(flaw)
	})
}

func newFlawed(flaw string) *flawed {
	return &flawed{Store: memstore.New(), flaw: flaw, tags: make(map[string][]string)}
}

// TestLeaseSuite runs the lease suite on a memstore.Store, broken as
// flawEnv says. In a normal run it has no flaw and must pass.
func TestLeaseSuite(t *testing.T) {
	flaw := os.Getenv(flawEnv)
	statetest.RunLease(t, func(t *testing.T) statetest.LeaseStateStore { return newFlawed(flaw) })
}

// TestBudgetSuite runs the budget suite on a memstore.Store, broken as
// flawEnv says. In a normal run it has no flaw and must pass.
func TestBudgetSuite(t *testing.T) {
	flaw := os.Getenv(flawEnv)
	statetest.RunBudget(t, func(t *testing.T) contactsync.BudgetStore { return newFlawed(flaw) })
}

// TestSuiteCatchesFlaws checks that the suites fail stores that break the
// contract, in the subtests that should catch them.
func TestSuiteCatchesFlaws(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	catches := func(t *testing.T, test, flaw string, subtests []string) {
		t.Helper()
		cmd := exec.Command(exe, "-test.run=^"+test+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), flawEnv+"="+flaw)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err == nil {
			t.Fatalf("%s passed a store with flaw %s", test, flaw)
		}
		for _, name := range subtests {
			if !strings.Contains(out.String(), "--- FAIL: "+test+"/"+name+" ") {
				t.Errorf("subtest %s of %s did not catch flaw %s:\n%s", name, test, flaw, out.Bytes())
			}
		}
	}
	for flaw, subtests := range map[string][]string{
		"ascending-only":         {"Order", "Limit", "Model"},
		"completed-keeps-others": {"CompletedAndStatuses", "Model"},
		"to-inclusive":           {"Bounds", "Model"},
		"delete-contact-noop":    {"DeleteContact", "Concurrent"},
		"activity-seconds":       {"RoundTrip"},
	} {
		t.Run("activity/"+flaw, func(t *testing.T) {
			t.Parallel()
			catches(t, "TestActivitySuite", flaw, subtests)
		})
	}
	for flaw, subtests := range map[string][]string{
		"fence-ignored":      {"Fenced"},
		"token-reused":       {"ExpiredPasses", "ReleasePasses"},
		"acquire-check-then": {"ConcurrentAcquire"},
	} {
		t.Run("lease/"+flaw, func(t *testing.T) {
			t.Parallel()
			catches(t, "TestLeaseSuite", flaw, subtests)
		})
	}
	for flaw, subtests := range map[string][]string{
		"budget-no-limit":   {"Spend", "Concurrent"},
		"budget-below-zero": {"GiveBack"},
	} {
		t.Run("budget/"+flaw, func(t *testing.T) {
			t.Parallel()
			catches(t, "TestBudgetSuite", flaw, subtests)
		})
	}
	for flaw, subtests := range map[string][]string{
		"inbox-replaces":      {"Inbox", "InboxConcurrent"},
		"done-forgets":        {"Inbox", "InboxPurge"},
		"pending-by-received": {"InboxOrder"},
		"clear-dirty-always":  {"ClearDirty", "DirtyEarliestMark"},
		"dirty-keeps-newest":  {"DirtyEarliestMark"},
		"dirty-keeps-first":   {"DirtyEarliestMark"},
	} {
		t.Run("inbound/"+flaw, func(t *testing.T) {
			t.Parallel()
			catches(t, "TestInboundSuite", flaw, subtests)
		})
	}
	for flaw, subtests := range map[string][]string{
		"commit-keeps-intent": {"Commit", "CommitReplaces", "Concurrent"},
		"stale-remote":        {"LinkByRemote", "CommitReplaces"},
		"unordered-links":     {"LinksPaging", "LinksKindsIsolated"},
		"newest-intent-first": {"IntentsOldestFirst"},
		"oldest-run-first":    {"Runs"},
		"racy-markdone":       {"Concurrent"},
		"aliasing":            {"NoAliasing"},
		"seconds":             {"RoundTripLink", "RoundTripIntent"},
		"not-found-nil":       {"Empty", "DeleteLink", "Commit"},
	} {
		t.Run(flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(exe, "-test.run=^TestSuite$", "-test.count=1")
			cmd.Env = append(os.Environ(), flawEnv+"="+flaw)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err == nil {
				t.Fatalf("the suite passed a store with flaw %s", flaw)
			}
			for _, name := range subtests {
				if !strings.Contains(out.String(), "--- FAIL: TestSuite/"+name+" ") {
					t.Errorf("subtest %s did not catch flaw %s:\n%s", name, flaw, out.Bytes())
				}
			}
		})
	}
}

// flawed is a memstore.Store with one flaw.
type flawed struct {
	*memstore.Store
	flaw string

	mu     sync.Mutex
	tags   map[string][]string // aliasing: the caller's Tags by local ID
	remote sync.Map            // stale-remote: kind/remote → link, never cleaned

	holders map[string]string // acquire-check-then: lease name → owner
	spent   map[string]int    // budget-below-zero: day → used
}

func (f *flawed) Link(ctx context.Context, kind contactsync.Kind, localID string) (contactsync.Link, error) {
	l, err := f.Store.Link(ctx, kind, localID)
	switch {
	case f.flaw == "not-found-nil" && err != nil:
		return contactsync.Link{}, nil
	case f.flaw == "aliasing" && err == nil:
		f.mu.Lock()
		l.Tags = f.tags[localID]
		f.mu.Unlock()
	}
	return l, err
}

func (f *flawed) LinkByRemote(ctx context.Context, kind contactsync.Kind, remoteID string) (contactsync.Link, error) {
	if f.flaw == "stale-remote" {
		if l, ok := f.remote.Load(string(kind) + "/" + remoteID); ok {
			return l.(contactsync.Link), nil
		}
	}
	return f.Store.LinkByRemote(ctx, kind, remoteID)
}

func (f *flawed) PutLink(ctx context.Context, l contactsync.Link) error {
	f.remember(l)
	if f.flaw == "seconds" {
		l.UpdatedAt = l.UpdatedAt.Truncate(time.Second)
	}
	return f.Store.PutLink(ctx, l)
}

func (f *flawed) remember(l contactsync.Link) {
	if f.flaw == "stale-remote" {
		f.remote.Store(string(l.Kind)+"/"+l.RemoteID, l)
	}
	if f.flaw == "aliasing" {
		f.mu.Lock()
		f.tags[l.LocalID] = l.Tags
		f.mu.Unlock()
	}
}

func (f *flawed) Links(ctx context.Context, kind contactsync.Kind, after string, limit int) ([]contactsync.Link, error) {
	ls, err := f.Store.Links(ctx, kind, after, limit)
	if f.flaw == "unordered-links" {
		slices.Reverse(ls)
	}
	return ls, err
}

func (f *flawed) PutIntent(ctx context.Context, in contactsync.Intent) error {
	if f.flaw == "seconds" {
		in.CreatedAt = in.CreatedAt.Truncate(time.Second)
	}
	return f.Store.PutIntent(ctx, in)
}

func (f *flawed) Intent(ctx context.Context, key string) (contactsync.Intent, error) {
	in, err := f.Store.Intent(ctx, key)
	if f.flaw == "not-found-nil" && err != nil {
		return contactsync.Intent{}, nil
	}
	return in, err
}

func (f *flawed) Intents(ctx context.Context) ([]contactsync.Intent, error) {
	ins, err := f.Store.Intents(ctx)
	if f.flaw == "newest-intent-first" {
		slices.Reverse(ins)
	}
	return ins, err
}

func (f *flawed) Commit(ctx context.Context, l contactsync.Link, key string) error {
	f.remember(l)
	if f.flaw == "commit-keeps-intent" {
		key = ""
	}
	return f.Store.Commit(ctx, l, key)
}

func (f *flawed) MarkDone(ctx context.Context, key string) (bool, error) {
	if f.flaw != "racy-markdone" {
		return f.Store.MarkDone(ctx, key)
	}
	done, err := f.Store.Done(ctx, key) // check, then act: a race
	if err != nil || done {
		return false, err
	}
	time.Sleep(time.Millisecond)
	_, err = f.Store.MarkDone(ctx, key)
	return true, err
}

func (f *flawed) Runs(ctx context.Context, limit int) ([]contactsync.RunRecord, error) {
	rs, err := f.Store.Runs(ctx, 0)
	if f.flaw == "oldest-run-first" {
		slices.Reverse(rs)
	}
	if limit > 0 && len(rs) > limit {
		rs = rs[:limit]
	}
	return rs, err
}

func (f *flawed) Activities(ctx context.Context, q contactsync.ActivityQuery) ([]contactsync.Activity, error) {
	switch f.flaw {
	case "ascending-only":
		q.Descending = false
	case "to-inclusive":
		if !q.To.IsZero() {
			q.To = q.To.Add(time.Millisecond)
		}
	case "completed-keeps-others":
		if q.Completed != nil {
			q.Limit = 0
			as, err := f.Store.Activities(ctx, q)
			if err != nil {
				return nil, err
			}
			others := q
			others.Completed = nil
			others.Kinds = []contactsync.Kind{contactsync.KindNote, contactsync.KindAppointment}
			more, err := f.Store.Activities(ctx, others)
			return append(as, more...), err
		}
	}
	return f.Store.Activities(ctx, q)
}

func (f *flawed) PutActivity(ctx context.Context, a contactsync.Activity) error {
	if f.flaw == "activity-seconds" {
		a.At = a.At.Truncate(time.Second)
	}
	return f.Store.PutActivity(ctx, a)
}

func (f *flawed) DeleteContactActivities(ctx context.Context, contactID string) error {
	if f.flaw == "delete-contact-noop" {
		return nil
	}
	return f.Store.DeleteContactActivities(ctx, contactID)
}

func (f *flawed) PutInbox(ctx context.Context, e contactsync.InboxEntry) (bool, error) {
	if f.flaw == "inbox-replaces" {
		_ = f.Store.PurgeInbox(ctx, time.Now().Add(time.Hour)) // forget processed ones
		_, err := f.Store.PutInbox(ctx, e)
		return true, err
	}
	return f.Store.PutInbox(ctx, e)
}

func (f *flawed) DoneInbox(ctx context.Context, id string) error {
	if f.flaw == "done-forgets" {
		if err := f.Store.DoneInbox(ctx, id); err != nil {
			return err
		}
		return f.Store.PurgeInbox(ctx, time.Now().Add(24*365*time.Hour))
	}
	return f.Store.DoneInbox(ctx, id)
}

func (f *flawed) PendingInbox(ctx context.Context, limit int) ([]contactsync.InboxEntry, error) {
	es, err := f.Store.PendingInbox(ctx, 0)
	if f.flaw == "pending-by-received" {
		slices.SortStableFunc(es, func(a, b contactsync.InboxEntry) int { return a.Received.Compare(b.Received) })
	}
	if limit > 0 && len(es) > limit {
		es = es[:limit]
	}
	return es, err
}

func (f *flawed) MarkDirty(ctx context.Context, contactID string, t time.Time) error {
	switch f.flaw {
	case "dirty-keeps-first":
		ids, err := f.Store.Dirty(ctx, time.Now().Add(24*365*time.Hour), 0)
		if err != nil || slices.Contains(ids, contactID) {
			return err
		}
	case "dirty-keeps-newest":
		ids, err := f.Store.Dirty(ctx, t.Add(-time.Millisecond), 0)
		if err != nil {
			return err
		}
		if slices.Contains(ids, contactID) { // an earlier mark: replace it
			if err := f.Store.ClearDirty(ctx, contactID, t); err != nil {
				return err
			}
		}
	}
	return f.Store.MarkDirty(ctx, contactID, t)
}

func (f *flawed) ClearDirty(ctx context.Context, contactID string, t time.Time) error {
	if f.flaw == "clear-dirty-always" {
		t = time.Now().Add(24 * 365 * time.Hour)
	}
	return f.Store.ClearDirty(ctx, contactID, t)
}

// Fenced: with flaw fence-ignored, the fenced view is the plain store.
func (f *flawed) Fenced(l contactsync.Lease) contactsync.StateStore {
	if f.flaw == "fence-ignored" {
		return f
	}
	return f.Store.Fenced(l)
}

// AcquireLease: with flaw token-reused, a new owner gets the old token;
// with acquire-check-then, the lease is checked, then taken (a race).
func (f *flawed) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (contactsync.Lease, error) {
	switch f.flaw {
	case "token-reused":
		l, err := f.Store.AcquireLease(ctx, name, owner, ttl)
		if err == nil && l.Token > 1 {
			l.Token = 1
		}
		return l, err
	case "acquire-check-then":
		f.mu.Lock()
		held := f.holders[name]
		f.mu.Unlock()
		if held != "" && held != owner {
			return contactsync.Lease{}, &contactsync.LeaseHeldError{Name: name, Owner: held}
		}
		time.Sleep(time.Millisecond)
		f.mu.Lock()
		if f.holders == nil {
			f.holders = map[string]string{}
		}
		f.holders[name] = owner
		f.mu.Unlock()
		return contactsync.Lease{Name: name, Owner: owner, Token: 1, Expires: time.Now().Add(ttl)}, nil
	}
	return f.Store.AcquireLease(ctx, name, owner, ttl)
}

// SpendBudget: with flaw budget-no-limit, the limit is ignored; with
// budget-below-zero, giving back may go below zero.
func (f *flawed) SpendBudget(ctx context.Context, day string, n, limit int) (granted, used int, err error) {
	switch f.flaw {
	case "budget-no-limit":
		return f.Store.SpendBudget(ctx, day, n, 1<<30)
	case "budget-below-zero":
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.spent == nil {
			f.spent = map[string]int{}
		}
		cur := f.spent[day]
		next := min(cur+n, max(limit, cur))
		f.spent[day] = next
		return next - cur, next, nil
	}
	return f.Store.SpendBudget(ctx, day, n, limit)
}
