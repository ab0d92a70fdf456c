package oauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// FileStore is a TokenStore that keeps every token in one JSON file, for
// the processes of one machine. Each Save and Delete rewrites the file
// atomically and durably (a temporary file in the same directory, fsynced,
// renamed over the file, and the directory fsynced), so a crash leaves
// either the old file or the new one. The file and its temporary files
// have mode 0600; the tokens in it are not encrypted, so keep it on a
// disk only the integration's user can read.
//
// Any number of FileStore values, in one process or many, may share a
// path. Each Save and Delete reads, changes and writes the file under a
// cross-process mutex, and Lock is a cross-process lease; both are lock
// files in the directory <path>.locks, created with O_EXCL and renamed into
// place (no flock, so they work on Windows too), whose content holds the
// lease's holder and expiry. A lock file whose lease has expired is taken
// over: since every lease file has its holder's unique name, removing an
// expired one never removes a newer one, and a process that publishes its
// lease file re-reads the directory and backs off if another live lease is
// there, so at most one process holds a lease.
//
// A writer that crashes while it holds the file's mutex blocks every other
// Save and Delete for up to 10 s, until its lease lapses; give a Save a
// deadline longer than that. A Source does: it gives the save of a rotated
// refresh token at least 15 s, whatever its lock TTL (WithLockTTL), so a
// crashed writer cannot make it fail with ErrUnsaved.
//
// The file looks like this (the token is Token's JSON):
//
//	{
//	  "format": 1,
//	  "tokens": {
//	    "<app ID>/location:<location ID>": {"version": 3, "token": {"access_token": "…", …}},
//	    "<app ID>/company:<company ID>": {"version": 1, "token": {…}}
//	  }
//	}
//
// Use it on a local file system: network file systems may not make
// exclusive creation and rename atomic.
type FileStore struct {
	path   string
	leases leaseDir
	// mu serializes this value's writers, which would otherwise contend
	// for the file mutex through the file system.
	mu sync.Mutex
}

// fileFormat is the format version a FileStore writes and reads.
const fileFormat = 1

// fileMutexTTL bounds how long a Save or Delete holds the file's mutex:
// a writer that crashed blocks the others for at most this long, and a
// writer that takes longer than this gives up instead of writing. The
// Source's rotatedSaveTime must exceed it.
const fileMutexTTL = 10 * time.Second

// fileMutexName is the lease name of the file's mutex. Key leases are
// named "k" and a hash, so the two cannot collide.
const fileMutexName = "store"

type fileData struct {
	Format int                  `json:"format"`
	Tokens map[string]fileEntry `json:"tokens"`
}

type fileEntry struct {
	Version int64           `json:"version"`
	Token   json.RawMessage `json:"token"`
}

// NewFileStore returns a store keeping its tokens in the file at path,
// which it creates on the first Save; its directory is created with mode
// 0700 if missing. If the file exists, it must be a valid token file, and
// if its mode lets others read it, NewFileStore restricts it to 0600.
func NewFileStore(path string) (*FileStore, error) {
	if path == "" {
		return nil, errors.New("oauth: NewFileStore needs a path")
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("oauth: file store path: %w", err)
	}
	// Writes replace the file by rename, which would replace a symbolic
	// link rather than the file it points to: store at the target.
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if path, err = filepath.EvalSymlinks(path); err != nil {
			return nil, fmt.Errorf("oauth: file store path: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("oauth: file store directory: %w", err)
	}
	switch fi, err := os.Stat(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("oauth: file store: %w", err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("oauth: file store %s is not a regular file", path)
	case fi.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows":
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("oauth: file store %s is readable by others and cannot be restricted: %w", path, err)
		}
	}
	s := &FileStore{path: path, leases: leaseDir{dir: path + ".locks", now: time.Now}}
	if _, err := s.read(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.leases.dir, 0o700); err != nil {
		return nil, fmt.Errorf("oauth: file store lock directory: %w", err)
	}
	return s, nil
}

// Path returns the absolute path of the store's file.
func (s *FileStore) Path() string { return s.path }

// Load implements TokenStore. It reads the file each time, so it sees
// every Save that returned, in any process.
func (s *FileStore) Load(ctx context.Context, key Key) (Token, error) {
	if err := key.Validate(); err != nil {
		return Token{}, err
	}
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	tokens, err := s.read()
	if err != nil {
		return Token{}, err
	}
	e, ok := tokens[key.String()]
	if !ok {
		return Token{}, ErrNoToken
	}
	var t Token
	if err := json.Unmarshal(e.Token, &t); err != nil {
		return Token{}, fmt.Errorf("oauth: file store %s: the token of %s is corrupt", s.path, key)
	}
	t.Version = e.Version
	return t, nil
}

// Save implements TokenStore.
func (s *FileStore) Save(ctx context.Context, key Key, t Token) (Token, error) {
	if err := key.Validate(); err != nil {
		return Token{}, err
	}
	var saved Token
	err := s.update(ctx, func(tokens map[string]fileEntry) (bool, error) {
		cur, ok := tokens[key.String()]
		if ok && cur.Version != t.Version || !ok && t.Version != 0 {
			return false, ErrConflict
		}
		saved = cloneToken(t)
		saved.Version = cur.Version + 1
		saved.UpdatedAt = time.Now().UTC()
		raw, err := json.Marshal(saved)
		if err != nil {
			return false, fmt.Errorf("oauth: encoding the token of %s: %w", key, err)
		}
		tokens[key.String()] = fileEntry{Version: saved.Version, Token: raw}
		return true, nil
	})
	if err != nil {
		return Token{}, err
	}
	return saved, nil
}

// Delete implements TokenStore.
func (s *FileStore) Delete(ctx context.Context, key Key) error {
	if err := key.Validate(); err != nil {
		return err
	}
	return s.update(ctx, func(tokens map[string]fileEntry) (bool, error) {
		if _, ok := tokens[key.String()]; !ok {
			return false, nil
		}
		delete(tokens, key.String())
		return true, nil
	})
}

// Lock implements TokenStore with a lease file per key and holder,
// <path>.locks/k<hash of key>.<holder>.lease; ttl must be positive.
func (s *FileStore) Lock(ctx context.Context, key Key, ttl time.Duration) (func(), error) {
	if err := key.Validate(); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("oauth: lock ttl %s is not positive", ttl)
	}
	sum := sha256.Sum256([]byte(key.String()))
	unlock, _, err := s.acquire(ctx, "k"+hex.EncodeToString(sum[:16]), key.String(), ttl)
	return unlock, err
}

// acquire takes the lease name for ttl, polling until it is free or ctx
// ends, and returns when the lease lapses.
func (s *FileStore) acquire(ctx context.Context, name, what string, ttl time.Duration) (release func(), expires time.Time, err error) {
	var fatal error
	release, err = pollLock(ctx, func() (func(), bool) {
		r, exp, ok, err := s.leases.tryAcquire(name, what, ttl)
		if err != nil {
			fatal = err
			return func() {}, true // stop polling
		}
		expires = exp
		return r, ok
	})
	switch {
	case err != nil:
		return nil, time.Time{}, err
	case fatal != nil:
		return nil, time.Time{}, fatal
	}
	return release, expires, nil
}

// update runs change on the stored tokens under the file's mutex and
// writes the file if change reports a change.
func (s *FileStore) update(ctx context.Context, change func(map[string]fileEntry) (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	release, expires, err := s.acquire(ctx, fileMutexName, "file "+s.path, fileMutexTTL)
	if err != nil {
		return err
	}
	defer release()
	tokens, err := s.read()
	if err != nil {
		return err
	}
	if changed, err := change(tokens); err != nil || !changed {
		return err
	}
	return s.write(tokens, expires)
}

// read returns the tokens in the file: none if there is no file.
func (s *FileStore) read() (map[string]fileEntry, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]fileEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: file store: %w", err)
	}
	return parseTokenFile(s.path, b)
}

// parseTokenFile parses a token file. Its errors never quote the file's
// content, which holds secrets.
func parseTokenFile(path string, b []byte) (map[string]fileEntry, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]fileEntry{}, nil // e.g. a file made with touch
	}
	var d fileData
	if err := json.Unmarshal(b, &d); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("oauth: file store %s is corrupt: invalid JSON at byte %d; fix or remove it (it may hold the only copy of refresh tokens)", path, syn.Offset)
		}
		return nil, fmt.Errorf("oauth: file store %s is corrupt: not a token file; fix or remove it (it may hold the only copy of refresh tokens)", path)
	}
	if d.Format != fileFormat {
		return nil, fmt.Errorf("oauth: file store %s has format %d, want %d", path, d.Format, fileFormat)
	}
	if d.Tokens == nil {
		d.Tokens = map[string]fileEntry{}
	}
	for k, e := range d.Tokens {
		if e.Version < 1 || len(e.Token) == 0 || !strings.Contains(k, "/") {
			return nil, fmt.Errorf("oauth: file store %s is corrupt: bad entry %q", path, k)
		}
	}
	return d.Tokens, nil
}

// write replaces the file with tokens, atomically and durably, unless the
// file's mutex lapses (at expires) before the new file is in place.
func (s *FileStore) write(tokens map[string]fileEntry, expires time.Time) error {
	b, err := json.MarshalIndent(fileData{Format: fileFormat, Tokens: tokens}, "", "  ")
	if err != nil {
		return fmt.Errorf("oauth: file store: encoding: %w", err)
	}
	b = append(b, '\n')
	dir, base := filepath.Split(s.path)
	f, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return fmt.Errorf("oauth: file store: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil || runtime.GOOS == "windows" {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !time.Now().Before(expires) {
		err = fmt.Errorf("writing took longer than the file's lock (%s)", fileMutexTTL)
	}
	if err == nil {
		err = renameOver(tmp, s.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("oauth: file store %s: nothing written: %w", s.path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("oauth: file store %s: written but not synced: %w", s.path, err)
	}
	removeStaleTemps(dir, base+".tmp-")
	return nil
}

// renameOver renames tmp to path. On Windows, replacing a file that a
// reader has open fails for a moment, so it tries again.
func renameOver(tmp, path string) error {
	for i := 0; ; i++ {
		err := os.Rename(tmp, path)
		if err == nil || runtime.GOOS != "windows" || i == 100 {
			return err
		}
		time.Sleep(lockPoll / 2)
	}
}

// syncDir makes a rename in dir durable. Windows cannot sync a directory
// (and needs not: its renames are durable with the file).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeStaleTemps removes temporary files a crashed writer left in dir.
// Only the holder of the file's mutex writes, so a temporary file older
// than the mutex can be no live writer's.
func removeStaleTemps(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// String describes the store without its tokens.
func (f *FileStore) String() string { return fmt.Sprintf("oauth.FileStore{path: %q}", f.path) }

// GoString is String.
func (f *FileStore) GoString() string { return f.String() }

// Format implements fmt.Formatter: every verb prints String.
func (f *FileStore) Format(st fmt.State, verb rune) { formatRedacted(st, verb, f.String()) }
