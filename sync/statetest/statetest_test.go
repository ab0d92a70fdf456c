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
	"github.com/gymflow/contacts-go/sync/statetest"
)

// flawEnv names the flaw TestSuite's store has; TestSuiteCatchesFlaws
// sets it for a test binary of its own.
const flawEnv = "STATETEST_FLAW"

// TestSuite runs the suite on a MemoryStore, broken as flawEnv says. In a
// normal run it has no flaw and must pass.
func TestSuite(t *testing.T) {
	flaw := os.Getenv(flawEnv)
	statetest.Run(t, func(t *testing.T) contactsync.StateStore {
		return &flawed{MemoryStore: contactsync.NewMemoryStore(), flaw: flaw, tags: make(map[string][]string)}
	})
}

// TestSuiteCatchesFlaws checks that the suite fails stores that break the
// contract, in the subtests that should catch them.
func TestSuiteCatchesFlaws(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
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

// flawed is a MemoryStore with one flaw.
type flawed struct {
	*contactsync.MemoryStore
	flaw string

	mu     sync.Mutex
	tags   map[string][]string // aliasing: the caller's Tags by local ID
	remote sync.Map            // stale-remote: kind/remote → link, never cleaned
}

func (f *flawed) Link(ctx context.Context, kind contactsync.Kind, localID string) (contactsync.Link, error) {
	l, err := f.MemoryStore.Link(ctx, kind, localID)
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
	return f.MemoryStore.LinkByRemote(ctx, kind, remoteID)
}

func (f *flawed) PutLink(ctx context.Context, l contactsync.Link) error {
	f.remember(l)
	if f.flaw == "seconds" {
		l.UpdatedAt = l.UpdatedAt.Truncate(time.Second)
	}
	return f.MemoryStore.PutLink(ctx, l)
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
	ls, err := f.MemoryStore.Links(ctx, kind, after, limit)
	if f.flaw == "unordered-links" {
		slices.Reverse(ls)
	}
	return ls, err
}

func (f *flawed) PutIntent(ctx context.Context, in contactsync.Intent) error {
	if f.flaw == "seconds" {
		in.CreatedAt = in.CreatedAt.Truncate(time.Second)
	}
	return f.MemoryStore.PutIntent(ctx, in)
}

func (f *flawed) Intent(ctx context.Context, key string) (contactsync.Intent, error) {
	in, err := f.MemoryStore.Intent(ctx, key)
	if f.flaw == "not-found-nil" && err != nil {
		return contactsync.Intent{}, nil
	}
	return in, err
}

func (f *flawed) Intents(ctx context.Context) ([]contactsync.Intent, error) {
	ins, err := f.MemoryStore.Intents(ctx)
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
	return f.MemoryStore.Commit(ctx, l, key)
}

func (f *flawed) MarkDone(ctx context.Context, key string) (bool, error) {
	if f.flaw != "racy-markdone" {
		return f.MemoryStore.MarkDone(ctx, key)
	}
	done, err := f.MemoryStore.Done(ctx, key) // check, then act: a race
	if err != nil || done {
		return false, err
	}
	time.Sleep(time.Millisecond)
	_, err = f.MemoryStore.MarkDone(ctx, key)
	return true, err
}

func (f *flawed) Runs(ctx context.Context, limit int) ([]contactsync.RunRecord, error) {
	rs, err := f.MemoryStore.Runs(ctx, 0)
	if f.flaw == "oldest-run-first" {
		slices.Reverse(rs)
	}
	if limit > 0 && len(rs) > limit {
		rs = rs[:limit]
	}
	return rs, err
}
