package oauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Store errors.
var (
	// ErrNoToken: nothing is stored under the key.
	ErrNoToken = errors.New("oauth: no token stored under this key")
	// ErrConflict: the stored token's version is not the one the caller
	// read — another process changed it first.
	ErrConflict = errors.New("oauth: the stored token changed (version conflict)")
)

// TokenStore keeps tokens where every process of an integration can reach
// them. Refresh tokens are single-use, so two processes must never refresh
// the same key at once, and a rotated refresh token must be saved before
// the new access token is used; the store provides both guarantees through
// Lock and the versioned Save.
//
// Implementations in this package: NewMemoryStore (one process),
// NewFileStore (one machine), NewSQLStore (any number of machines, through
// database/sql). Package oauth/storetest checks an implementation.
type TokenStore interface {
	// Load returns the token stored under key, with its Version, or
	// ErrNoToken.
	Load(ctx context.Context, key Key) (Token, error)
	// Save stores t under key if the stored version equals t.Version
	// (0: nothing may be stored yet) and returns t with its new Version
	// and UpdatedAt. Otherwise it stores nothing and returns ErrConflict.
	// Save must be durable when it returns.
	Save(ctx context.Context, key Key, t Token) (Token, error)
	// Delete removes the token under key (no error if there is none).
	// The SDK itself never deletes a token; applications do, e.g. on an
	// UNINSTALL webhook.
	Delete(ctx context.Context, key Key) error
	// Lock takes the key's refresh lock, which excludes every other
	// holder using the same store, in this process or another. It waits
	// until the lock is free or ctx ends. The lock lapses after ttl, so a
	// crashed holder cannot block refreshes forever; unlock releases it
	// early and is safe to call more than once.
	Lock(ctx context.Context, key Key, ttl time.Duration) (unlock func(), err error)
}

// lockPoll is how often a waiting Lock retries.
const lockPoll = 10 * time.Millisecond

// MemoryStore is a TokenStore for one process.
type MemoryStore struct {
	mu     sync.Mutex
	tokens map[Key]sealed[Token]
	locks  map[Key]memLease
	seq    uint64
	now    func() time.Time
}

type memLease struct {
	holder  uint64
	expires time.Time
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{tokens: map[Key]sealed[Token]{}, locks: map[Key]memLease{}, now: time.Now}
}

// Load implements TokenStore.
func (m *MemoryStore) Load(ctx context.Context, key Key) (Token, error) {
	if err := key.Validate(); err != nil {
		return Token{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[key]
	if !ok {
		return Token{}, ErrNoToken
	}
	return cloneToken(t.get()), nil
}

// Save implements TokenStore.
func (m *MemoryStore) Save(ctx context.Context, key Key, t Token) (Token, error) {
	if err := key.Validate(); err != nil {
		return Token{}, err
	}
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	stored, ok := m.tokens[key]
	cur := stored.get()
	if ok && cur.Version != t.Version || !ok && t.Version != 0 {
		return Token{}, ErrConflict
	}
	t = cloneToken(t)
	t.Version = cur.Version + 1
	t.UpdatedAt = m.now().UTC()
	m.tokens[key] = seal(t)
	return cloneToken(t), nil
}

// Delete implements TokenStore.
func (m *MemoryStore) Delete(ctx context.Context, key Key) error {
	if err := key.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tokens, key)
	return nil
}

// Lock implements TokenStore.
func (m *MemoryStore) Lock(ctx context.Context, key Key, ttl time.Duration) (func(), error) {
	if err := key.Validate(); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, errors.New("oauth: lock ttl must be positive")
	}
	return pollLock(ctx, func() (func(), bool) {
		m.mu.Lock()
		defer m.mu.Unlock()
		now := m.now()
		if l, held := m.locks[key]; held && now.Before(l.expires) {
			return nil, false
		}
		m.seq++
		holder := m.seq
		m.locks[key] = memLease{holder: holder, expires: now.Add(ttl)}
		return func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.locks[key].holder == holder {
				delete(m.locks, key)
			}
		}, true
	})
}

// pollLock calls try until it acquires the lock or ctx ends.
func pollLock(ctx context.Context, try func() (unlock func(), ok bool)) (func(), error) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		if unlock, ok := try(); ok {
			var once sync.Once
			return func() { once.Do(unlock) }, nil
		}
		t.Reset(lockPoll)
	}
}

func cloneToken(t Token) Token {
	t.Scopes = append([]string(nil), t.Scopes...)
	t.ApprovedLocations = append([]string(nil), t.ApprovedLocations...)
	return t
}

// String describes the store without its tokens.
func (m *MemoryStore) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("oauth.MemoryStore{tokens: %d}", len(m.tokens))
}

// GoString is String, so %#v does not print tokens either.
func (m *MemoryStore) GoString() string { return m.String() }

// Format implements fmt.Formatter: every verb prints String.
func (m *MemoryStore) Format(f fmt.State, verb rune) { formatRedacted(f, verb, m.String()) }
