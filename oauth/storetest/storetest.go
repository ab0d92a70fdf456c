// Package storetest is a conformance suite for oauth.TokenStore
// implementations. Every store in package oauth runs it, and so should a
// store of your own:
//
//	func TestRedisStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) oauth.TokenStore {
//			return newRedisStore(t) // a store for this subtest only
//		})
//	}
//
// The suite checks the contract documented on oauth.TokenStore: Load,
// versioned Save (compare-and-swap), Delete, key validation and isolation,
// a faithful round trip of every Token field, and the refresh Lock
// (exclusion, lapse after its ttl, idempotent unlock, context
// cancellation), alone and under concurrency.
//
// Where the interface's documentation leaves room, the suite asks for what
// the SDK relies on: an invalid key (see oauth.Key.Validate) is an error
// other than ErrNoToken and ErrConflict for all four methods, Delete
// included; a Save with a version never stored, negative included,
// conflicts; a zero Expiry stays zero (it means "never expires"); the
// store keeps its own copies of a token's slices; the unlock of a holder
// whose lease lapsed and was taken over leaves the new holder's lock alone;
// and Lock of a held key returns the context's error once ctx ends.
//
// Each subtest calls newStore once. The store it returns need not be empty:
// the suite uses keys with a random app ID, so a store backed by a shared
// database works too; newStore should register any cleanup with t.Cleanup.
// The suite never asserts on timing, only on outcomes and their order, and
// uses lock ttls of 100 ms, so a store must keep time to well below that.
// It takes well under two seconds for the stores of package oauth.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/oauth"
)

// Durations the suite uses. A store must treat a lease of shortTTL as
// lapsed soon after it ends; every wait that should succeed is bounded by
// waitLimit, so a broken store fails the test instead of hanging it.
const (
	shortTTL  = 100 * time.Millisecond
	longTTL   = 30 * time.Second
	waitLimit = 10 * time.Second
	// heldWait is how long a Lock that must not acquire is given before
	// its context ends.
	heldWait = 100 * time.Millisecond
)

// Run runs the conformance suite against the stores newStore returns, one
// per subtest.
func Run(t *testing.T, newStore func(t *testing.T) oauth.TokenStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s oauth.TokenStore)
	}{
		{"LoadMissing", testLoadMissing},
		{"SaveCreates", testSaveCreates},
		{"SaveWrongVersion", testSaveWrongVersion},
		{"SaveNextVersion", testSaveNextVersion},
		{"SaveZeroVersionOnExisting", testSaveZeroOnExisting},
		{"SaveVersionOnMissing", testSaveVersionOnMissing},
		{"RoundTrip", testRoundTrip},
		{"RoundTripMinimal", testRoundTripMinimal},
		{"NoAliasing", testNoAliasing},
		{"KeysIsolated", testKeysIsolated},
		{"Delete", testDelete},
		{"InvalidKeys", testInvalidKeys},
		{"LockExcludes", testLockExcludes},
		{"LockKeysIndependent", testLockKeysIndependent},
		{"LockLapses", testLockLapses},
		{"UnlockTwice", testUnlockTwice},
		{"LockContext", testLockContext},
		{"ConcurrentSave", testConcurrentSave},
		{"ConcurrentIncrements", testConcurrentIncrements},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			tc.fn(t, s)
		})
	}
}

// newApp returns an app ID no other subtest uses.
func newApp(t *testing.T) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "storetest-app-" + hex.EncodeToString(b[:])
}

func sampleToken(access string) oauth.Token {
	return oauth.Token{
		AccessToken:  access,
		RefreshToken: "refresh-of-" + access,
		TokenType:    "Bearer",
		Expiry:       time.Now().Add(time.Hour).Round(time.Millisecond),
		Scopes:       []string{"contacts.readonly", "contacts.write"},
		UserType:     oauth.Location,
		LocationID:   "loc-1",
		CompanyID:    "company-1",
		UserID:       "user-1",
	}
}

func mustSave(t *testing.T, s oauth.TokenStore, key oauth.Key, tok oauth.Token) oauth.Token {
	t.Helper()
	got, err := s.Save(t.Context(), key, tok)
	if err != nil {
		t.Fatalf("Save(%s, version %d): %v", key, tok.Version, err)
	}
	return got
}

func mustLoad(t *testing.T, s oauth.TokenStore, key oauth.Key) oauth.Token {
	t.Helper()
	got, err := s.Load(t.Context(), key)
	if err != nil {
		t.Fatalf("Load(%s): %v", key, err)
	}
	return got
}

func wantNoToken(t *testing.T, s oauth.TokenStore, key oauth.Key) {
	t.Helper()
	if _, err := s.Load(t.Context(), key); !errors.Is(err, oauth.ErrNoToken) {
		t.Fatalf("Load(%s) = %v, want ErrNoToken", key, err)
	}
}

// wantUnchanged checks that the token under key is still want.
func wantUnchanged(t *testing.T, s oauth.TokenStore, key oauth.Key, want oauth.Token) {
	t.Helper()
	got := mustLoad(t, s, key)
	if got.Version != want.Version || got.AccessToken != want.AccessToken {
		t.Fatalf("after a rejected Save, Load(%s) has version %d and access token %q, want version %d and %q",
			key, got.Version, got.AccessToken, want.Version, want.AccessToken)
	}
}

// closeTime reports whether a and b are the same instant to within a
// second (the coarsest resolution a store may keep).
func closeTime(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Second && d < time.Second
}

func testLoadMissing(t *testing.T, s oauth.TokenStore) {
	wantNoToken(t, s, oauth.LocationKey(newApp(t), "loc-1"))
}

func testSaveCreates(t *testing.T, s oauth.TokenStore) {
	key := oauth.LocationKey(newApp(t), "loc-1")
	tok := sampleToken("a1")
	bogus := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	tok.UpdatedAt = bogus
	got := mustSave(t, s, key, tok)
	if got.Version < 1 {
		t.Errorf("Save of a new token returned version %d, want >= 1", got.Version)
	}
	if got.UpdatedAt.IsZero() || got.UpdatedAt.Equal(bogus) {
		t.Errorf("Save returned UpdatedAt %v, want the time of the save", got.UpdatedAt)
	}
	if got.AccessToken != tok.AccessToken || got.RefreshToken != tok.RefreshToken {
		t.Error("Save returned a token with other access or refresh token than it was given")
	}
	loaded := mustLoad(t, s, key)
	if loaded.Version != got.Version {
		t.Errorf("Load returned version %d, Save returned %d", loaded.Version, got.Version)
	}
	if !closeTime(loaded.UpdatedAt, got.UpdatedAt) {
		t.Errorf("Load returned UpdatedAt %v, Save returned %v", loaded.UpdatedAt, got.UpdatedAt)
	}
	if loaded.AccessToken != tok.AccessToken {
		t.Error("Load returned another access token than the one saved")
	}
}

func testSaveWrongVersion(t *testing.T, s oauth.TokenStore) {
	key := oauth.LocationKey(newApp(t), "loc-1")
	v1 := mustSave(t, s, key, sampleToken("a1"))
	for _, v := range []int64{v1.Version + 1, v1.Version + 100, -1} {
		tok := sampleToken("a2")
		tok.Version = v
		if _, err := s.Save(t.Context(), key, tok); !errors.Is(err, oauth.ErrConflict) {
			t.Errorf("Save with version %d over version %d = %v, want ErrConflict", v, v1.Version, err)
		}
		wantUnchanged(t, s, key, v1)
	}
}

func testSaveNextVersion(t *testing.T, s oauth.TokenStore) {
	key := oauth.LocationKey(newApp(t), "loc-1")
	v1 := mustSave(t, s, key, sampleToken("a1"))
	next := sampleToken("a2")
	next.Version = v1.Version
	v2 := mustSave(t, s, key, next)
	if v2.Version <= v1.Version {
		t.Fatalf("Save over version %d returned version %d, want a greater one", v1.Version, v2.Version)
	}
	if loaded := mustLoad(t, s, key); loaded.Version != v2.Version || loaded.AccessToken != "a2" {
		t.Fatalf("Load after the second Save: version %d, access token %q; want version %d, %q",
			loaded.Version, loaded.AccessToken, v2.Version, "a2")
	}
	// The first version is stale now.
	stale := sampleToken("a3")
	stale.Version = v1.Version
	if _, err := s.Save(t.Context(), key, stale); !errors.Is(err, oauth.ErrConflict) {
		t.Fatalf("Save with the stale version %d = %v, want ErrConflict", v1.Version, err)
	}
	wantUnchanged(t, s, key, v2)
	// And the store keeps counting.
	third := sampleToken("a4")
	third.Version = v2.Version
	if v3 := mustSave(t, s, key, third); v3.Version <= v2.Version {
		t.Fatalf("Save over version %d returned version %d, want a greater one", v2.Version, v3.Version)
	}
}

func testSaveZeroOnExisting(t *testing.T, s oauth.TokenStore) {
	key := oauth.LocationKey(newApp(t), "loc-1")
	v1 := mustSave(t, s, key, sampleToken("a1"))
	if _, err := s.Save(t.Context(), key, sampleToken("a2")); !errors.Is(err, oauth.ErrConflict) {
		t.Fatalf("second Save with version 0 = %v, want ErrConflict", err)
	}
	wantUnchanged(t, s, key, v1)
}

func testSaveVersionOnMissing(t *testing.T, s oauth.TokenStore) {
	key := oauth.LocationKey(newApp(t), "loc-1")
	tok := sampleToken("a1")
	tok.Version = 1
	if _, err := s.Save(t.Context(), key, tok); !errors.Is(err, oauth.ErrConflict) {
		t.Fatalf("Save with version 1 of a key with no token = %v, want ErrConflict", err)
	}
	wantNoToken(t, s, key)
}

func testRoundTrip(t *testing.T, s oauth.TokenStore) {
	key := oauth.CompanyKey(newApp(t), "company-7")
	odd := `quote" back\slash ünïcödé 🔑 '; DROP TABLE tokens; --` + "\n\ttab"
	want := oauth.Token{
		AccessToken:       "access-" + odd,
		RefreshToken:      "refresh-" + odd,
		TokenType:         "bearer",
		Expiry:            time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("UTC+5:30", 5*3600+1800)),
		Scopes:            []string{"contacts.readonly", "contacts.write", "locations.readonly", odd},
		UserType:          oauth.Company,
		LocationID:        "loc-" + odd,
		CompanyID:         "company-7",
		UserID:            "user-42",
		PlanID:            "plan-pro",
		ApprovedLocations: []string{"loc-a", "loc-b", "loc-c"},
	}
	saved := mustSave(t, s, key, want)
	for _, got := range []oauth.Token{saved, mustLoad(t, s, key)} {
		checkFields(t, got, want)
		if got.Version != saved.Version {
			t.Errorf("Version = %d, want %d", got.Version, saved.Version)
		}
	}
}

func checkFields(t *testing.T, got, want oauth.Token) {
	t.Helper()
	// Compare without printing secrets.
	if got.AccessToken != want.AccessToken {
		t.Error("AccessToken did not round trip")
	}
	if got.RefreshToken != want.RefreshToken {
		t.Error("RefreshToken did not round trip")
	}
	str := []struct{ name, got, want string }{
		{"TokenType", got.TokenType, want.TokenType},
		{"UserType", string(got.UserType), string(want.UserType)},
		{"LocationID", got.LocationID, want.LocationID},
		{"CompanyID", got.CompanyID, want.CompanyID},
		{"UserID", got.UserID, want.UserID},
		{"PlanID", got.PlanID, want.PlanID},
	}
	for _, f := range str {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
	if !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("Scopes = %q, want %q", got.Scopes, want.Scopes)
	}
	if !slices.Equal(got.ApprovedLocations, want.ApprovedLocations) {
		t.Errorf("ApprovedLocations = %q, want %q", got.ApprovedLocations, want.ApprovedLocations)
	}
	if want.Expiry.IsZero() {
		if !got.Expiry.IsZero() {
			t.Errorf("Expiry = %v, want the zero time (never expires)", got.Expiry)
		}
	} else if got.Expiry.IsZero() || !closeTime(got.Expiry, want.Expiry) {
		t.Errorf("Expiry = %v, want %v (to the second)", got.Expiry, want.Expiry)
	}
}

// testRoundTripMinimal stores a token with only an access token: a zero
// Expiry (which means "never expires") must stay zero.
func testRoundTripMinimal(t *testing.T, s oauth.TokenStore) {
	key := oauth.LocationKey(newApp(t), "loc-1")
	want := oauth.Token{AccessToken: "only-access"}
	mustSave(t, s, key, want)
	checkFields(t, mustLoad(t, s, key), want)
}

// testNoAliasing checks that the store keeps its own copy of a token's
// slices: changing what was saved or loaded changes nothing stored.
func testNoAliasing(t *testing.T, s oauth.TokenStore) {
	key := oauth.LocationKey(newApp(t), "loc-1")
	tok := sampleToken("a1")
	tok.ApprovedLocations = []string{"loc-a", "loc-b"}
	saved := mustSave(t, s, key, tok)
	tok.Scopes[0] = "changed-after-save"
	tok.ApprovedLocations[0] = "changed-after-save"
	saved.Scopes[1] = "changed-after-save"
	loaded := mustLoad(t, s, key)
	loaded.Scopes[0] = "changed-after-load"
	loaded.ApprovedLocations[1] = "changed-after-load"
	again := mustLoad(t, s, key)
	if !slices.Equal(again.Scopes, []string{"contacts.readonly", "contacts.write"}) || !slices.Equal(again.ApprovedLocations, []string{"loc-a", "loc-b"}) {
		t.Fatalf("stored slices changed with the caller's copies: scopes %q, approved locations %q", again.Scopes, again.ApprovedLocations)
	}
}

func testKeysIsolated(t *testing.T, s oauth.TokenStore) {
	app, app2 := newApp(t), newApp(t)
	keys := []oauth.Key{
		oauth.LocationKey(app, "x"),
		oauth.LocationKey(app, "y"),  // same app, another location
		oauth.CompanyKey(app, "x"),   // a company with the location's ID
		oauth.LocationKey(app2, "x"), // another app, same location
		oauth.CompanyKey(app2, "x"),
		oauth.LocationKey(app, "X"), // IDs are case-sensitive
	}
	saved := make([]oauth.Token, len(keys))
	// Save all but the last; the last must stay missing.
	for i, key := range keys[:len(keys)-1] {
		saved[i] = mustSave(t, s, key, sampleToken("access-"+strconv.Itoa(i)))
	}
	wantNoToken(t, s, keys[len(keys)-1])
	for i, key := range keys[:len(keys)-1] {
		if got := mustLoad(t, s, key); got.AccessToken != "access-"+strconv.Itoa(i) {
			t.Errorf("Load(%s) returned access token %q, want %q", key, got.AccessToken, "access-"+strconv.Itoa(i))
		}
	}
	// Updating and deleting one key leaves the others alone.
	next := sampleToken("updated")
	next.Version = saved[0].Version
	mustSave(t, s, keys[0], next)
	if err := s.Delete(t.Context(), keys[2]); err != nil {
		t.Fatalf("Delete(%s): %v", keys[2], err)
	}
	wantNoToken(t, s, keys[2])
	for i, key := range keys[:len(keys)-1] {
		if i == 0 || i == 2 {
			continue
		}
		if got := mustLoad(t, s, key); got.AccessToken != "access-"+strconv.Itoa(i) || got.Version != saved[i].Version {
			t.Errorf("after changing other keys, Load(%s) returned version %d, access token %q; want %d, %q",
				key, got.Version, got.AccessToken, saved[i].Version, "access-"+strconv.Itoa(i))
		}
	}
}

func testDelete(t *testing.T, s oauth.TokenStore) {
	ctx := t.Context()
	key := oauth.LocationKey(newApp(t), "loc-1")
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete of a key with no token: %v", err)
	}
	mustSave(t, s, key, sampleToken("a1"))
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNoToken(t, s, key)
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	// A deleted key starts over: version 0 creates it again.
	if got := mustSave(t, s, key, sampleToken("a2")); got.Version < 1 {
		t.Fatalf("Save after Delete returned version %d", got.Version)
	}
	if got := mustLoad(t, s, key); got.AccessToken != "a2" {
		t.Fatalf("Load after re-creating returned access token %q, want %q", got.AccessToken, "a2")
	}
}

func testInvalidKeys(t *testing.T, s oauth.TokenStore) {
	app := newApp(t)
	invalid := []oauth.Key{
		{},
		{AppID: app},
		{LocationID: "loc-1"},
		{CompanyID: "company-1"},
		{AppID: app, LocationID: "loc-1", CompanyID: "company-1"},
		oauth.LocationKey(app+"/x", "loc-1"),
		oauth.LocationKey(app, "loc/1"),
		oauth.CompanyKey(app, "company\x001"),
	}
	for _, key := range invalid {
		if key.Validate() == nil {
			t.Fatalf("test bug: key %q is valid", key)
		}
		if _, err := s.Load(t.Context(), key); err == nil || errors.Is(err, oauth.ErrNoToken) {
			t.Errorf("Load(%q) = %v, want a key error", key, err)
		}
		if _, err := s.Save(t.Context(), key, sampleToken("a1")); err == nil || errors.Is(err, oauth.ErrConflict) {
			t.Errorf("Save(%q) = %v, want a key error", key, err)
		}
		if err := s.Delete(t.Context(), key); err == nil {
			t.Errorf("Delete(%q) = nil, want a key error", key)
		}
		ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
		unlock, err := s.Lock(ctx, key, longTTL)
		cancel()
		if err == nil {
			unlock()
			t.Errorf("Lock(%q) succeeded, want a key error", key)
		} else if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Lock(%q) waited until its context ended, want a key error", key)
		}
	}
}

// lock takes key's lock, failing the test if that takes more than
// waitLimit.
func lock(t *testing.T, s oauth.TokenStore, key oauth.Key, ttl time.Duration) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	unlock, err := s.Lock(ctx, key, ttl)
	if err != nil {
		t.Fatalf("Lock(%s): %v", key, err)
	}
	if unlock == nil {
		t.Fatalf("Lock(%s) returned a nil unlock", key)
	}
	return unlock
}

// wantHeld checks that key's lock cannot be taken: Lock must wait until
// its context ends and return the context's error.
func wantHeld(t *testing.T, s oauth.TokenStore, key oauth.Key) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), heldWait)
	defer cancel()
	unlock, err := s.Lock(ctx, key, longTTL)
	if err == nil {
		unlock()
		t.Fatalf("Lock(%s) acquired a lock another holder has", key)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock(%s) of a held lock = %v, want context.DeadlineExceeded", key, err)
	}
}

// testLockExcludes checks that a second Lock waits for the first holder's
// unlock and then acquires, by the order of events rather than by timing.
func testLockExcludes(t *testing.T, s oauth.TokenStore) {
	key := oauth.LocationKey(newApp(t), "loc-1")
	unlock := lock(t, s, key, longTTL)

	var (
		mu     sync.Mutex
		events []string
	)
	record := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		u, err := s.Lock(ctx, key, longTTL)
		if err == nil {
			record("second acquired")
			u()
		}
		done <- err
	}()
	// Give the second Lock time to try while the lock is held. If it got
	// the lock anyway, the events show it in the wrong order.
	time.Sleep(3 * heldWait / 2)
	record("first unlocked")
	unlock()
	if err := <-done; err != nil {
		t.Fatalf("second Lock after the first unlocked: %v", err)
	}
	if got := fmt.Sprint(events); got != "[first unlocked second acquired]" {
		t.Fatalf("events %s: the second Lock acquired a held lock", got)
	}
}

// testLockKeysIndependent checks that holding one key's lock blocks no
// other key.
func testLockKeysIndependent(t *testing.T, s oauth.TokenStore) {
	app, app2 := newApp(t), newApp(t)
	held := oauth.LocationKey(app, "x")
	unlock := lock(t, s, held, longTTL)
	defer unlock()
	for _, key := range []oauth.Key{
		oauth.LocationKey(app, "y"),
		oauth.CompanyKey(app, "x"),
		oauth.LocationKey(app2, "x"),
	} {
		u := lock(t, s, key, longTTL)
		defer u()
	}
	wantHeld(t, s, held)
}

// testLockLapses checks that a lock nobody unlocks lapses after its ttl,
// and that the stale holder's unlock does not release the new holder's
// lock.
func testLockLapses(t *testing.T, s oauth.TokenStore) {
	key := oauth.LocationKey(newApp(t), "loc-1")
	stale := lock(t, s, key, shortTTL)
	fresh := lock(t, s, key, longTTL) // waits for the lapse
	stale()
	wantHeld(t, s, key)
	fresh()
	lock(t, s, key, longTTL)()
}

func testUnlockTwice(t *testing.T, s oauth.TokenStore) {
	key := oauth.LocationKey(newApp(t), "loc-1")
	first := lock(t, s, key, longTTL)
	first()
	first()
	second := lock(t, s, key, longTTL)
	first() // must not release the second holder's lock
	wantHeld(t, s, key)
	second()
	second()
	lock(t, s, key, longTTL)()
}

func testLockContext(t *testing.T, s oauth.TokenStore) {
	key := oauth.LocationKey(newApp(t), "loc-1")
	unlock := lock(t, s, key, longTTL)
	defer unlock()

	wantHeld(t, s, key) // a deadline

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		time.Sleep(heldWait / 2)
		cancel()
	}()
	if u, err := s.Lock(ctx, key, longTTL); err == nil {
		u()
		t.Fatal("Lock acquired a held lock")
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock of a held lock with a canceled context = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if u, err := s.Lock(ctx, key, longTTL); err == nil {
		u()
		t.Fatal("Lock acquired a held lock")
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock of a held lock with a canceled context = %v, want context.Canceled", err)
	}
}

// testConcurrentSave races saves of the same version: exactly one wins.
func testConcurrentSave(t *testing.T, s oauth.TokenStore) {
	const n = 8
	key := oauth.LocationKey(newApp(t), "loc-1")
	base := mustSave(t, s, key, sampleToken("base"))

	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]oauth.Token, n)
		errs    = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			tok := sampleToken("writer-" + strconv.Itoa(i))
			tok.Version = base.Version // what every writer read
			<-start
			results[i], errs[i] = s.Save(t.Context(), key, tok)
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both saved over version %d", winner, i, base.Version)
		case err == nil:
			winner = i
		case !errors.Is(err, oauth.ErrConflict):
			t.Fatalf("writer %d: %v, want success or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer saved")
	}
	got := mustLoad(t, s, key)
	if got.Version != results[winner].Version || got.AccessToken != "writer-"+strconv.Itoa(winner) {
		t.Fatalf("stored version %d with access token %q, want the winner's version %d and %q",
			got.Version, got.AccessToken, results[winner].Version, "writer-"+strconv.Itoa(winner))
	}
}

// testConcurrentIncrements runs the refresh pattern (Lock, Load, Save,
// unlock) from several goroutines: the lock must make every Save succeed
// and no update may be lost.
func testConcurrentIncrements(t *testing.T, s oauth.TokenStore) {
	const workers, rounds = 4, 5
	key := oauth.LocationKey(newApp(t), "loc-1")
	base := mustSave(t, s, key, sampleToken("0"))

	var (
		wg     sync.WaitGroup
		inside atomic.Int32
		failed atomic.Bool
	)
	fail := func(format string, args ...any) {
		failed.Store(true)
		t.Errorf(format, args...)
	}
	for range workers {
		wg.Go(func() {
			for range rounds {
				if failed.Load() {
					return
				}
				ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
				unlock, err := s.Lock(ctx, key, longTTL)
				cancel()
				if err != nil {
					fail("Lock: %v", err)
					return
				}
				if inside.Add(1) != 1 {
					fail("two goroutines hold the lock at once")
				}
				err = increment(t.Context(), s, key)
				inside.Add(-1)
				unlock()
				if err != nil {
					fail("%v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	got := mustLoad(t, s, key)
	if got.AccessToken != strconv.Itoa(workers*rounds) {
		t.Fatalf("counter = %q after %d increments: updates were lost", got.AccessToken, workers*rounds)
	}
	if got.Version < base.Version+workers*rounds {
		t.Fatalf("version went from %d to %d in %d saves", base.Version, got.Version, workers*rounds)
	}
}

// increment adds one to the counter kept in the access token.
func increment(ctx context.Context, s oauth.TokenStore, key oauth.Key) error {
	cur, err := s.Load(ctx, key)
	if err != nil {
		return fmt.Errorf("loading under the lock: %w", err)
	}
	n, err := strconv.Atoi(cur.AccessToken)
	if err != nil {
		return errors.New("counter is not a number")
	}
	cur.AccessToken = strconv.Itoa(n + 1)
	if _, err := s.Save(ctx, key, cur); err != nil {
		return fmt.Errorf("saving under the lock: %w", err)
	}
	return nil
}
