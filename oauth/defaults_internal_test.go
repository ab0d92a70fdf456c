package oauth

import (
	"context"
	"testing"
	"time"
)

// TestDefaultsOutwaitACrashedHolder checks the relation of the defaults
// that TestKilledRefresherDoesNotBlockTheNextCaller exercises across
// processes, scaled down: the refresh timeout (which includes the wait for
// the lock) outlasts the lock's lease by a margin, so a caller that meets
// the lease of a holder that was killed waits it out and refreshes rather
// than failing; and a Source built without options uses these defaults.
func TestDefaultsOutwaitACrashedHolder(t *testing.T) {
	// The margin covers what a waiter does between the lease's lapse and
	// sending its own refresh: one lock poll, taking the lease, a Load.
	const margin = 5 * time.Second
	if DefaultRefreshTimeout < DefaultLockTTL+margin {
		t.Errorf("DefaultRefreshTimeout = %s, want at least DefaultLockTTL (%s) + %s: a caller would give up before a crashed holder's lease lapses",
			DefaultRefreshTimeout, DefaultLockTTL, margin)
	}
	s := NewSource(context.Background(), &Config{}, NewMemoryStore(), LocationKey("app", "loc"), WithAgencyFallback(CompanyKey("app", "co")))
	for _, src := range []*Source{s, s.agency} {
		if src.timeout != DefaultRefreshTimeout || src.lockTTL != DefaultLockTTL {
			t.Errorf("%s: timeout %s and lock TTL %s, want the defaults %s and %s", src, src.timeout, src.lockTTL, DefaultRefreshTimeout, DefaultLockTTL)
		}
	}
}

// TestRotatedSaveOutwaitsTheFileMutex checks the relation behind
// TestFileStoreShortLockTTLSavesPastCrashedWriter at its real size: the
// least time a Source gives saving a rotated token outlasts the file
// mutex of a FileStore writer that crashed, with time left to write.
func TestRotatedSaveOutwaitsTheFileMutex(t *testing.T) {
	if rotatedSaveTime < fileMutexTTL+time.Second {
		t.Errorf("rotatedSaveTime = %s, want at least fileMutexTTL (%s) + 1s", rotatedSaveTime, fileMutexTTL)
	}
}
