package oauth

import (
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// leaseDir keeps cross-process leases as files in one directory. It needs
// nothing from the operating system but exclusive file creation and atomic
// rename within a directory, so it works wherever os.Rename does
// (including Windows) and needs no flock.
//
// A lease on a name is a file <name>.<holder>.lease whose JSON content
// holds the holder's ID and the lease's expiry. Holder IDs are random and
// never reused, so removing an expired lease by its file name can never
// remove a newer lease: taking over an expired lease is just removing its
// file, and any number of processes may race to do so.
//
// To take a lease a process
//
//  1. lists the directory; if it finds a live (unexpired) lease on the name
//     it gives up this attempt, removing any expired ones it sees;
//  2. writes its own lease to a temporary file (created with O_EXCL) and
//     renames it to <name>.<holder>.lease, so a lease file is never seen
//     half-written;
//  3. lists the directory again: if another live lease on the name is
//     there, it removes its own and gives up this attempt; otherwise it
//     holds the lease.
//
// Of two processes racing, the one that publishes second lists after the
// first's file exists, so it sees it and backs off: at most one holds the
// lease (both may back off, so a failed attempt sleeps a random moment to
// break the tie). Releasing removes the holder's own file only, so a holder
// whose lease lapsed and was taken over cannot release the new holder's.
// Expiry is judged by the wall clock, which every process of one machine
// shares.
type leaseDir struct {
	dir string
	now func() time.Time
}

// leaseRecord is the content of a lease file.
type leaseRecord struct {
	Holder string `json:"holder"`
	// ExpiresMS is the lease's expiry in Unix milliseconds.
	ExpiresMS int64 `json:"expires_unix_ms"`
	// PID and What say who holds what, for a person looking at the
	// directory.
	PID  int    `json:"pid"`
	What string `json:"what"`
}

const (
	leaseSuffix = ".lease"
	tempPrefix  = ".tmp."
	// staleTemp is the age after which a leftover temporary file (of a
	// process that crashed between creating and renaming it) is removed.
	staleTemp = time.Minute
)

// newHolderID returns a random ID that no other lease has or will have.
func newHolderID() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // never fails (crypto/rand.Read panics instead)
	return hex.EncodeToString(b[:])
}

// tryAcquire makes one attempt to take the lease on name for ttl. what
// describes the lease in its file. It returns ok false, with a nil error,
// if another process holds the lease; an error only if the directory
// cannot be used.
func (d leaseDir) tryAcquire(name, what string, ttl time.Duration) (release func(), expires time.Time, ok bool, err error) {
	if live, err := d.scan(name, ""); err != nil || live {
		return nil, time.Time{}, false, err
	}
	holder := newHolderID()
	expires = d.now().Add(ttl)
	rec, err := json.Marshal(leaseRecord{Holder: holder, ExpiresMS: expires.UnixMilli(), PID: os.Getpid(), What: what})
	if err != nil {
		return nil, time.Time{}, false, err
	}
	tmp := filepath.Join(d.dir, tempPrefix+name+"."+holder)
	if err := writeNew(tmp, rec); err != nil {
		return nil, time.Time{}, false, fmt.Errorf("oauth: writing lock file: %w", err)
	}
	final := filepath.Join(d.dir, name+"."+holder+leaseSuffix)
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return nil, time.Time{}, false, fmt.Errorf("oauth: publishing lock file: %w", err)
	}
	release = func() { removeFile(final) }
	live, err := d.scan(name, holder)
	if err != nil || live {
		release()
		if err == nil {
			// Another process published at the same moment; both may
			// back off, so sleep a random while to break the tie.
			time.Sleep(rand.N(lockPoll))
		}
		return nil, time.Time{}, false, err
	}
	return release, expires, true, nil
}

// scan reports whether a live lease on name other than self's exists. It
// removes the expired leases on name it meets, and stale temporary files.
func (d leaseDir) scan(name, self string) (live bool, err error) {
	entries, err := os.ReadDir(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		// Someone removed the directory: no lease is held.
		return false, os.MkdirAll(d.dir, 0o700)
	}
	if err != nil {
		return false, fmt.Errorf("oauth: reading lock directory: %w", err)
	}
	now := d.now()
	for _, e := range entries {
		file := e.Name()
		if strings.HasPrefix(file, tempPrefix) {
			if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > staleTemp {
				_ = os.Remove(filepath.Join(d.dir, file))
			}
			continue
		}
		holder, ok := strings.CutPrefix(file, name+".")
		if !ok {
			continue
		}
		holder, ok = strings.CutSuffix(holder, leaseSuffix)
		if !ok || holder == self {
			continue
		}
		path := filepath.Join(d.dir, file)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released or taken over meanwhile
		}
		if err != nil {
			return false, fmt.Errorf("oauth: reading lock file: %w", err)
		}
		var rec leaseRecord
		// A lease file is published complete, so one that does not
		// parse can only be the wreck of a machine crash: it has lapsed.
		if json.Unmarshal(b, &rec) == nil && rec.Holder == holder && now.UnixMilli() < rec.ExpiresMS {
			return true, nil
		}
		_ = os.Remove(path)
	}
	return false, nil
}

// writeNew creates path, which must not exist, with mode 0600 and content
// b, and closes it.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// removeFile removes path if it exists. On Windows a file another process
// has open cannot be removed, so it tries again for a while; a lease left
// behind lapses anyway.
func removeFile(path string) {
	for i := 0; ; i++ {
		err := os.Remove(path)
		if err == nil || errors.Is(err, fs.ErrNotExist) || runtime.GOOS != "windows" || i == 50 {
			return
		}
		time.Sleep(lockPoll / 2)
	}
}
