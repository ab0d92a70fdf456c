package storetest_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/oauth"
	"github.com/gymflow/contacts-go/oauth/storetest"
)

// broken wraps a MemoryStore and breaks one guarantee.
type broken struct {
	*oauth.MemoryStore
	flaw string
}

func (b broken) Save(ctx context.Context, key oauth.Key, t oauth.Token) (oauth.Token, error) {
	if b.flaw == "no-cas" { // last writer wins
		if cur, err := b.MemoryStore.Load(ctx, key); err == nil {
			t.Version = cur.Version
		}
	}
	return b.MemoryStore.Save(ctx, key, t)
}

func (b broken) Lock(ctx context.Context, key oauth.Key, ttl time.Duration) (func(), error) {
	if b.flaw == "no-lock" {
		return func() {}, key.Validate()
	}
	return b.MemoryStore.Lock(ctx, key, ttl)
}

const flawEnv = "STORETEST_FLAW"

// TestFlawedStoreHelper runs the suite on a broken store when
// TestSuiteCatchesFlaws asks it to, in a process of its own.
func TestFlawedStoreHelper(t *testing.T) {
	flaw := os.Getenv(flawEnv)
	if flaw == "" {
		t.Skip("helper of TestSuiteCatchesFlaws")
	}
	storetest.Run(t, func(t *testing.T) oauth.TokenStore {
		return broken{MemoryStore: oauth.NewMemoryStore(), flaw: flaw}
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
		"no-cas":  {"SaveWrongVersion", "SaveNextVersion", "SaveZeroVersionOnExisting", "ConcurrentSave"},
		"no-lock": {"LockExcludes", "LockKeysIndependent", "LockLapses", "UnlockTwice", "LockContext"},
	} {
		t.Run(flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(exe, "-test.run=^TestFlawedStoreHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), flawEnv+"="+flaw)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err == nil {
				t.Fatalf("the suite passed a store with flaw %s", flaw)
			}
			for _, name := range subtests {
				if !strings.Contains(out.String(), "--- FAIL: TestFlawedStoreHelper/"+name+" ") {
					t.Errorf("subtest %s did not catch flaw %s:\n%s", name, flaw, out.Bytes())
				}
			}
		})
	}
}
