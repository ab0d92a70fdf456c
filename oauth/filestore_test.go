package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/oauth"
	"github.com/gymflow/contacts-go/oauth/storetest"
)

func newFileStore(t *testing.T, path string) *oauth.FileStore {
	t.Helper()
	s, err := oauth.NewFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) oauth.TokenStore {
		return newFileStore(t, filepath.Join(t.TempDir(), "tokens.json"))
	})
}

// alternatingStore spreads the calls over several stores, round robin.
type alternatingStore struct {
	stores []oauth.TokenStore
	n      atomic.Uint64
}

func (a *alternatingStore) next() oauth.TokenStore {
	return a.stores[a.n.Add(1)%uint64(len(a.stores))]
}

func (a *alternatingStore) Load(ctx context.Context, key oauth.Key) (oauth.Token, error) {
	return a.next().Load(ctx, key)
}

func (a *alternatingStore) Save(ctx context.Context, key oauth.Key, t oauth.Token) (oauth.Token, error) {
	return a.next().Save(ctx, key, t)
}

func (a *alternatingStore) Delete(ctx context.Context, key oauth.Key) error {
	return a.next().Delete(ctx, key)
}

func (a *alternatingStore) Lock(ctx context.Context, key oauth.Key, ttl time.Duration) (func(), error) {
	return a.next().Lock(ctx, key, ttl)
}

// TestFileStoreSharedPath runs the suite on two FileStore values sharing
// one file, as two processes would: no in-process state may be what makes
// locks and versions work.
func TestFileStoreSharedPath(t *testing.T) {
	storetest.Run(t, func(t *testing.T) oauth.TokenStore {
		path := filepath.Join(t.TempDir(), "tokens.json")
		return &alternatingStore{stores: []oauth.TokenStore{newFileStore(t, path), newFileStore(t, path)}}
	})
}

func TestFileStoreMultiProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	runStoreProcesses(t, "file", path, 4, 10, newFileStore(t, path))
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %v, want %v", filepath.Base(path), got, want)
	}
}

func TestFileStorePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "tokens.json")
	s := newFileStore(t, path)
	key := oauth.LocationKey("app", "loc")
	if _, err := s.Save(t.Context(), key, oauth.Token{AccessToken: "a"}); err != nil {
		t.Fatal(err)
	}
	wantMode(t, path, 0o600)
	wantMode(t, dir, 0o700)
	wantMode(t, path+".locks", 0o700)

	// A file others can read is restricted when opened…
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s = newFileStore(t, path)
	wantMode(t, path, 0o600)
	// … and by every write.
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	wantMode(t, path, 0o600)
}

// TestFileStoreFormat checks the documented file format.
func TestFileStoreFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	s := newFileStore(t, path)
	key := oauth.CompanyKey("app-1", "co-1")
	for v := range int64(2) {
		if _, err := s.Save(t.Context(), key, oauth.Token{AccessToken: "access", RefreshToken: "refresh", Version: v}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Format int `json:"format"`
		Tokens map[string]struct {
			Version int64          `json:"version"`
			Token   map[string]any `json:"token"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	e, ok := f.Tokens["app-1/company:co-1"]
	if f.Format != 1 || len(f.Tokens) != 1 || !ok {
		t.Fatalf("file has format %d and keys %v", f.Format, f.Tokens)
	}
	if e.Version != 2 || e.Token["access_token"] != "access" || e.Token["refresh_token"] != "refresh" || e.Token["updated_at"] == nil {
		t.Fatalf("entry = %v", e)
	}
}

// TestFileStoreCrashMidWrite simulates a writer that died after writing
// its temporary file and before renaming it: the store still has the old
// file, and the leftover does not get in the way.
func TestFileStoreCrashMidWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.json")
	s := newFileStore(t, path)
	key := oauth.LocationKey("app", "loc")
	old, err := s.Save(t.Context(), key, oauth.Token{AccessToken: "old"})
	if err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "tokens.json.tmp-12345")
	stale := filepath.Join(dir, "tokens.json.tmp-67890")
	for _, p := range []string{fresh, stale} {
		if err := os.WriteFile(p, []byte(`{"format":1,"tokens":{"app/location:loc":{"vers`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, long, long); err != nil {
		t.Fatal(err)
	}

	s2 := newFileStore(t, path) // as a restarted process would
	got, err := s2.Load(t.Context(), key)
	if err != nil || got.AccessToken != "old" || got.Version != old.Version {
		t.Fatalf("Load after a crashed write = version %d, %v; want the old token", got.Version, err)
	}
	got.AccessToken = "new"
	if _, err := s2.Save(t.Context(), key, got); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(t.Context(), key); got.AccessToken != "new" {
		t.Fatalf("Load = %q, want the new token", got.AccessToken)
	}
	// A leftover older than any live writer is cleaned up; a recent one
	// could be a live writer's and stays.
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file not removed: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("recent temporary file: %v", err)
	}
}

func TestFileStoreCorrupt(t *testing.T) {
	const secret = "SECRET-REFRESH-TOKEN"
	cases := map[string]string{
		"truncated":      `{"format":1,"tokens":{"app/location:loc":{"version":1,"token":{"refresh_token":"` + secret,
		"not JSON":       secret,
		"wrong shape":    `["` + secret + `"]`,
		"future format":  `{"format":2,"tokens":{}}`,
		"no format":      `{"tokens":{}}`,
		"bad version":    `{"format":1,"tokens":{"app/location:loc":{"version":0,"token":{"refresh_token":"` + secret + `"}}}}`,
		"no token":       `{"format":1,"tokens":{"app/location:loc":{"version":3}}}`,
		"bad token JSON": `{"format":1,"tokens":{"app/location:loc":{"version":3,"token":{"expiry":"` + secret + `"}}}}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens.json")
			s := newFileStore(t, path) // opened before the file went bad
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			check := func(op string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s of a corrupt file succeeded", op)
				}
				if errors.Is(err, oauth.ErrNoToken) || errors.Is(err, oauth.ErrConflict) {
					t.Fatalf("%s of a corrupt file = %v, want a corruption error", op, err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("%s error quotes the file: %v", op, err)
				}
			}
			key := oauth.LocationKey("app", "loc")
			_, err := s.Load(t.Context(), key)
			check("Load", err)
			if name != "bad token JSON" { // only that entry is bad
				_, err = oauth.NewFileStore(path)
				check("NewFileStore", err)
				_, err = s.Save(t.Context(), oauth.LocationKey("app", "other"), oauth.Token{AccessToken: "a"})
				check("Save", err)
				check("Delete", s.Delete(t.Context(), key))
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Fatal("the corrupt file was overwritten")
			}
		})
	}
}

func TestFileStoreEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newFileStore(t, path)
	key := oauth.LocationKey("app", "loc")
	if _, err := s.Load(t.Context(), key); !errors.Is(err, oauth.ErrNoToken) {
		t.Fatalf("Load from an empty file = %v, want ErrNoToken", err)
	}
	if _, err := s.Save(t.Context(), key, oauth.Token{AccessToken: "a"}); err != nil {
		t.Fatal(err)
	}
}

func TestFileStoreBadPath(t *testing.T) {
	dir := t.TempDir()
	if _, err := oauth.NewFileStore(""); err == nil {
		t.Error("NewFileStore(\"\") succeeded")
	}
	if _, err := oauth.NewFileStore(dir); err == nil {
		t.Error("NewFileStore of a directory succeeded")
	}
}

func TestFileStoreSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "link.json")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	s := newFileStore(t, link)
	if _, err := s.Save(t.Context(), oauth.LocationKey("app", "loc"), oauth.Token{AccessToken: "a"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symbolic link was replaced: %v", err)
	}
	if fi, err := os.Stat(target); err != nil || fi.Size() == 0 {
		t.Fatalf("the link's target was not written: %v", err)
	}
}

// writeLease puts a lease file in the store's lock directory as another
// process would have, holding name until expires.
func writeLease(t *testing.T, s *oauth.FileStore, name string, expires time.Time) {
	t.Helper()
	holder := strings.Repeat("ab", 16)
	b, err := json.Marshal(map[string]any{"holder": holder, "expires_unix_ms": expires.UnixMilli(), "pid": 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Path()+".locks", name+"."+holder+".lease"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func keyLeaseName(key oauth.Key) string {
	sum := sha256.Sum256([]byte(key.String()))
	return "k" + hex.EncodeToString(sum[:16])
}

// TestFileStoreForeignLeases checks leases other processes left: a live one
// blocks, an expired or unreadable one (a crashed holder's) is taken over.
func TestFileStoreForeignLeases(t *testing.T) {
	key := oauth.LocationKey("app", "loc")
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("key", func(t *testing.T) {
		s := newFileStore(t, filepath.Join(t.TempDir(), "tokens.json"))
		writeLease(t, s, keyLeaseName(key), time.Now().Add(time.Hour))
		if _, err := s.Lock(short(), key, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock of a key another process holds = %v, want DeadlineExceeded", err)
		}
		writeLease(t, s, keyLeaseName(key), time.Now().Add(-time.Second))
		unlock, err := s.Lock(t.Context(), key, time.Minute)
		if err != nil {
			t.Fatalf("Lock of a lapsed lease: %v", err)
		}
		unlock()
	})
	t.Run("garbage", func(t *testing.T) {
		s := newFileStore(t, filepath.Join(t.TempDir(), "tokens.json"))
		name := filepath.Join(s.Path()+".locks", keyLeaseName(key)+"."+strings.Repeat("cd", 16)+".lease")
		if err := os.WriteFile(name, []byte("\x00\x00"), 0o600); err != nil {
			t.Fatal(err)
		}
		unlock, err := s.Lock(t.Context(), key, time.Minute)
		if err != nil {
			t.Fatalf("Lock over a wrecked lease file: %v", err)
		}
		unlock()
	})
	t.Run("file mutex", func(t *testing.T) {
		s := newFileStore(t, filepath.Join(t.TempDir(), "tokens.json"))
		writeLease(t, s, "store", time.Now().Add(time.Hour))
		if _, err := s.Save(short(), key, oauth.Token{AccessToken: "a"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Save while another process writes = %v, want DeadlineExceeded", err)
		}
		if _, err := s.Load(t.Context(), key); !errors.Is(err, oauth.ErrNoToken) {
			t.Fatalf("Load after a failed Save = %v, want ErrNoToken", err)
		}
		writeLease(t, s, "store", time.Now().Add(-time.Second))
		if _, err := s.Save(t.Context(), key, oauth.Token{AccessToken: "a"}); err != nil {
			t.Fatalf("Save after the writer's lease lapsed: %v", err)
		}
	})
}

// TestFileStoreLockReleasesFiles checks that unlock and Save leave no lock
// files behind.
func TestFileStoreLockReleasesFiles(t *testing.T) {
	s := newFileStore(t, filepath.Join(t.TempDir(), "tokens.json"))
	key := oauth.LocationKey("app", "loc")
	unlock, err := s.Lock(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(t.Context(), key, oauth.Token{AccessToken: "a"}); err != nil {
		t.Fatal(err)
	}
	unlock()
	entries, err := os.ReadDir(s.Path() + ".locks")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
}

func TestFileStoreBadTTL(t *testing.T) {
	s := newFileStore(t, filepath.Join(t.TempDir(), "tokens.json"))
	if _, err := s.Lock(t.Context(), oauth.LocationKey("app", "loc"), 0); err == nil {
		t.Fatal("Lock with ttl 0 succeeded")
	}
}

// TestFileStoreLockDirRemoved checks that the store recovers when someone
// removes its lock directory.
func TestFileStoreLockDirRemoved(t *testing.T) {
	s := newFileStore(t, filepath.Join(t.TempDir(), "tokens.json"))
	if err := os.RemoveAll(s.Path() + ".locks"); err != nil {
		t.Fatal(err)
	}
	key := oauth.LocationKey("app", "loc")
	unlock, err := s.Lock(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := s.Save(t.Context(), key, oauth.Token{AccessToken: "a"}); err != nil {
		t.Fatal(err)
	}
}

// TestFileStoreShortLockTTLSavesPastCrashedWriter: a writer crashed while
// it held the file's mutex, whose lease still has a while to run, and a
// Source with a lock TTL shorter than that refreshes. Saving the rotated
// refresh token must wait the mutex out rather than fail at the end of the
// Source's lease ("refreshed, but saving its new refresh token failed"),
// which would leave the only live refresh token in memory. The mutex left
// here runs for 1 s and the lease for 200 ms; at full size a crashed
// writer's mutex runs for up to 10 s, which TestRotatedSaveOutwaitsTheFileMutex
// checks the Source allows for.
func TestFileStoreShortLockTTLSavesPastCrashedWriter(t *testing.T) {
	t.Parallel()
	store := newFileStore(t, filepath.Join(t.TempDir(), "tokens.json"))
	e := newEnv(t, store)
	before := e.stored(t)
	e.clock.Advance(25 * time.Hour) // the access token has expired
	writeLease(t, store, "store", time.Now().Add(time.Second))

	tok, err := e.source(oauth.WithLockTTL(200 * time.Millisecond)).Current(t.Context())
	if err != nil {
		t.Fatalf("refresh with a lock TTL shorter than a crashed writer's file mutex: %v", err)
	}
	after := e.stored(t)
	if after.RefreshToken == before.RefreshToken || after.AccessToken != tok.AccessToken || after.Version != before.Version+1 {
		t.Fatalf("the store does not hold the refreshed token: %v", after)
	}
	if _, err := e.cfg.Refresh(t.Context(), after.RefreshToken, oauth.Location); err != nil {
		t.Fatalf("the stored refresh token is not the live one: %v", err)
	}
}
