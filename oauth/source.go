package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Defaults of a Source.
//
// The refresh lock is a lease of fixed length, not a short lease renewed
// (heartbeat) while it is held. A refresh request that has been sent
// cannot be recalled, so the lease must stay valid for as long as the
// request may run, whatever happens to its holder: a renewal that fails
// (the store unreachable for a moment, the process paused) would end the
// lease under a request in flight and let a second process spend the
// same single-use refresh token; renewing would also need a method every
// TokenStore must implement. So the holder's work is bounded by its lease
// (an answer slower than the lease is abandoned), and a waiter outlives
// the lease instead: DefaultRefreshTimeout exceeds DefaultLockTTL by 10 s,
// so a caller that finds the lease of a holder that crashed (kill -9)
// waits it out, takes the lock and refreshes, rather than failing. The
// price of a crashed holder is a delay of at most DefaultLockTTL, which
// leaves a contacts.Client request that meets it (contacts.DefaultTimeout
// per attempt, token included) time to complete.
const (
	// DefaultRefreshSkew is how long before expiry a token is refreshed.
	DefaultRefreshSkew = 5 * time.Minute
	// DefaultLockTTL is the lease of the store lock one refresh holds: it
	// bounds the refresh request, and how long a holder that crashed
	// blocks the key's refreshes.
	DefaultLockTTL = 20 * time.Second
	// DefaultRefreshTimeout bounds one refresh, lock wait included. It
	// exceeds DefaultLockTTL by 10 s, so that a caller outwaits the lease
	// of a holder that crashed.
	DefaultRefreshTimeout = DefaultLockTTL + 10*time.Second
)

// ErrUnsaved is returned (wrapped) while a refreshed token could not be
// saved: its access token is withheld until the new refresh token is
// durably stored, which the Source retries on every call.
var ErrUnsaved = errors.New("oauth: the refreshed token is not saved yet")

// Source is the refreshing token source for one key of a TokenStore. It
// implements oauth2.TokenSource (give it to contacts.WithTokenSource) and
// contacts.TokenInvalidator (so a client's 401 triggers one refresh). It is
// safe for concurrent use; one Source per key per process is enough, and
// Manager keeps them for you.
//
// Formatting a Source with any fmt verb never prints a token or the client
// secret, not even when the struct behind the pointer is formatted: the
// fields holding them are sealed.
type Source struct {
	cfg       sealed[*Config]
	store     TokenStore
	key       Key
	ctx       context.Context
	skew      time.Duration
	lockTTL   time.Duration
	timeout   time.Duration
	now       func() time.Time
	logger    *slog.Logger
	agency    *Source // fallback: exchange this agency token for the location
	agencyKey *Key

	mu      sync.Mutex
	cur     sealed[Token]
	have    bool
	invalid sealed[string] // an access token the API rejected
	pending sealed[Token]  // refreshed but not yet saved, if ok()
	spent   sealed[string] // the refresh token pending was obtained with
	failure *failure
}

// failure remembers a refresh the API refused, so that every API call does
// not knock on the token endpoint again with the same dead token.
type failure struct {
	err     error
	version int64 // the stored version that failed
	until   time.Time
}

// failureBackoff is how long a refused refresh is not retried (unless the
// stored token changes meanwhile, e.g. by a re-install).
const failureBackoff = 30 * time.Second

// SourceOption configures a Source.
type SourceOption func(*Source)

// WithRefreshSkew sets how long before expiry the token is refreshed.
func WithRefreshSkew(d time.Duration) SourceOption { return func(s *Source) { s.skew = d } }

// WithLockTTL sets the lease of the store lock taken for a refresh
// (default DefaultLockTTL). The lease bounds the refresh request, whose
// answer is abandoned if it comes later, and it is how long a holder that
// crashed blocks the key's refreshes in every process. Keep the refresh
// timeout (WithRefreshTimeout) several seconds longer than the lease, or a
// caller that meets a crashed holder's lease fails instead of waiting it
// out.
//
// Saving the rotated refresh token is not bounded by the lease: it is
// given at least 15 s, whatever the lease has left, which outlasts the
// 10 s for which a FileStore writer that crashed holds the file's mutex.
// So a short lease cannot make the save of a refreshed token fail there.
func WithLockTTL(d time.Duration) SourceOption { return func(s *Source) { s.lockTTL = d } }

// WithRefreshTimeout bounds one refresh, lock wait included (default
// DefaultRefreshTimeout). Once the refresh request is sent, the refresh
// is bounded by the lock's lease instead (see WithLockTTL). Keep it
// several seconds longer than the lease.
func WithRefreshTimeout(d time.Duration) SourceOption { return func(s *Source) { s.timeout = d } }

// WithClock sets the clock used to judge expiry (default time.Now).
func WithClock(now func() time.Time) SourceOption { return func(s *Source) { s.now = now } }

// WithLogger logs refreshes (key, outcome; never tokens) to l.
func WithLogger(l *slog.Logger) SourceOption { return func(s *Source) { s.logger = l } }

// WithAgencyFallback makes a location Source obtain its token by exchanging
// the agency token stored under companyKey (refreshed as needed) when the
// location has no token, no refresh token, or its own refresh fails with
// ErrInvalidGrant, ErrAppRevoked or ErrLocationInactive. If the fallback
// fails too, its error also matches the refresh's (errors.Is(err,
// ErrAppRevoked) still tells an uninstalled app).
func WithAgencyFallback(companyKey Key) SourceOption {
	return func(s *Source) { s.agencyKey = &companyKey }
}

// NewSource returns the refreshing source for key. ctx bounds every
// refresh (oauth2.TokenSource has no context of its own); use
// context.Background() for a long-lived client.
func NewSource(ctx context.Context, cfg *Config, store TokenStore, key Key, opts ...SourceOption) *Source {
	s := &Source{cfg: seal(cfg), store: store, key: key, ctx: ctx, skew: DefaultRefreshSkew, lockTTL: DefaultLockTTL,
		timeout: DefaultRefreshTimeout, now: time.Now, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	if s.agencyKey != nil {
		s.agency = NewSource(ctx, cfg, store, *s.agencyKey, WithRefreshSkew(s.skew), WithLockTTL(s.lockTTL),
			WithRefreshTimeout(s.timeout), WithClock(s.now), WithLogger(s.logger))
	}
	return s
}

// Key returns the source's store key.
func (s *Source) Key() Key { return s.key }

// Token implements oauth2.TokenSource: it returns a valid access token,
// refreshing it first if it expires within the skew or was invalidated.
//
// The returned token carries no refresh token: the rotating refresh token
// stays with the Source and its store. Handed to anything else (say
// oauth2.Config.TokenSource), it would be spent outside the store's lock
// and strand the stored one.
//
// The returned *oauth2.Token is golang.org/x/oauth2's type, which does not
// redact: formatting it with %v, %+v or %#v, or logging it, prints its
// access token. Keep it out of logs and error messages. This package's
// Token (from Current) redacts its secrets in fmt and log/slog output, so
// log that instead.
func (s *Source) Token() (*oauth2.Token, error) {
	t, err := s.Current(s.ctx)
	if err != nil {
		return nil, err
	}
	ot := t.OAuth2()
	ot.RefreshToken = ""
	return ot, nil
}

// Current is Token with the whole record: scopes, IDs, expiry.
func (s *Source) Current(ctx context.Context) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.cur.get(); s.usable(cur) && s.have && !s.pending.ok() {
		return cur, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	t, err := s.obtain(ctx)
	if err != nil {
		return Token{}, err
	}
	s.cur, s.have = seal(t), true
	return t, nil
}

// InvalidateToken implements contacts.TokenInvalidator: if accessToken is
// the current token, the next call refreshes it (once, for every caller).
func (s *Source) InvalidateToken(accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if accessToken != "" && s.cur.get().AccessToken == accessToken {
		s.invalid = seal(accessToken)
	}
}

func (s *Source) usable(t Token) bool {
	return t.ValidFor(s.now(), s.skew) && t.AccessToken != s.invalid.get()
}

// obtain returns a usable token: stored, refreshed or exchanged. s.mu is
// held, so one call per key runs in this process at a time.
func (s *Source) obtain(ctx context.Context) (Token, error) {
	if s.pending.ok() {
		return s.savePending(ctx)
	}
	t, err := s.store.Load(ctx, s.key)
	switch {
	case err == nil && s.usable(t):
		return t, nil
	case err != nil && !errors.Is(err, ErrNoToken):
		return Token{}, fmt.Errorf("oauth: loading %s: %w", s.key, err)
	}

	unlock, err := s.store.Lock(ctx, s.key, s.lockTTL)
	if err != nil {
		return Token{}, fmt.Errorf("oauth: locking %s for a refresh: %w", s.key, err)
	}
	defer unlock()
	leaseEnd := time.Now().Add(s.lockTTL)
	// Another process may have refreshed while we waited for the lock.
	t, err = s.store.Load(ctx, s.key)
	switch {
	case err == nil && s.usable(t):
		s.logger.Debug("oauth: token refreshed by another holder", "key", s.key.String())
		return t, nil
	case errors.Is(err, ErrNoToken):
		if s.agency != nil {
			return s.exchange(ctx, Token{}, true)
		}
		return Token{}, fmt.Errorf("oauth: %s: %w", s.key, ErrNoToken)
	case err != nil:
		return Token{}, fmt.Errorf("oauth: loading %s: %w", s.key, err)
	}
	if t.RefreshToken == "" {
		if s.agency != nil {
			return s.exchange(ctx, t, true)
		}
		return Token{}, fmt.Errorf("oauth: %s: the stored token expired and has no refresh token", s.key)
	}
	if f := s.failure; f != nil && f.version == t.Version && s.now().Before(f.until) {
		return Token{}, f.err
	}

	if err := ctx.Err(); err != nil {
		return Token{}, err // nothing spent yet
	}
	// Once the request is sent the refresh token may be spent, whatever
	// happens to the answer: a caller's cancellation or deadline (a
	// shutdown, say) must not throw the answer away or keep the rotated
	// token from being saved. The refresh is bounded by the lease
	// instead, and the save by at least rotatedSaveTime.
	rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), leaseEnd)
	defer cancel()
	fresh, err := s.cfg.get().Refresh(rctx, t.RefreshToken, t.UserType)
	if err != nil {
		s.logger.Warn("oauth: refresh failed", "key", s.key.String(), "error", err)
		if s.agency != nil && (errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrLocationInactive)) {
			// "Location is not active" leaves the refresh token valid: keep it.
			got, ferr := s.exchange(ctx, t, errors.Is(err, ErrInvalidGrant))
			if ferr != nil && !errors.Is(ferr, ErrUnsaved) {
				// The fallback failed too (an uninstalled app, say, is gone
				// for the agency as well): the error still matches the
				// refresh's (ErrAppRevoked, ErrInvalidGrant, …).
				ferr = fmt.Errorf("%w (after the location's own refresh failed: %w)", ferr, err)
				if errors.Is(err, ErrInvalidGrant) {
					// The refresh token stays refused: like a refused
					// refresh without a fallback, do not ask again at once.
					s.failure = &failure{err: ferr, version: t.Version, until: s.now().Add(failureBackoff)}
				}
				return Token{}, ferr
			}
			return got, ferr
		}
		if errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrInvalidClient) {
			s.failure = &failure{err: err, version: t.Version, until: s.now().Add(failureBackoff)}
		}
		return Token{}, err // the stored token is left as it was
	}
	s.failure = nil
	s.logger.Info("oauth: token refreshed", "key", s.key.String(), "expiry", fresh.Expiry)
	s.spent = seal(t.RefreshToken)
	// The new refresh token is now the only live one: saving it must not
	// fail for want of time when the lease is short or nearly over.
	sctx, scancel := context.WithDeadline(context.WithoutCancel(ctx), later(leaseEnd, time.Now().Add(rotatedSaveTime)))
	defer scancel()
	return s.save(sctx, merge(t, fresh))
}

// rotatedSaveTime is the least time a Source gives saving a rotated
// refresh token, whatever its lease has left: long enough to outwait a
// FileStore writer that crashed holding the file's mutex (fileMutexTTL),
// and to write the file after it. Saving after the lease has lapsed is
// safe: Save is a compare-and-swap on the version refreshed from, and the
// only live refresh token is the one being saved.
const rotatedSaveTime = fileMutexTTL + 5*time.Second

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// exchange obtains a location token from the agency fallback and stores it
// over prev; dropRefresh drops prev's refresh token, which the API refused.
func (s *Source) exchange(ctx context.Context, prev Token, dropRefresh bool) (Token, error) {
	agency, err := s.agency.Current(ctx)
	if err != nil {
		return Token{}, fmt.Errorf("oauth: agency fallback for %s: %w", s.key, err)
	}
	fresh, err := s.cfg.get().LocationToken(ctx, agency, s.key.LocationID)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized {
			s.agency.InvalidateToken(agency.AccessToken) // refresh it next time
		}
		return Token{}, fmt.Errorf("oauth: agency fallback for %s: %w", s.key, err)
	}
	// A location token from the exchange has no refresh token: do not let
	// merge resurrect a refresh token the API has just refused.
	merged := merge(prev, fresh)
	if dropRefresh {
		merged.RefreshToken = fresh.RefreshToken
	}
	s.logger.Info("oauth: location token obtained from the agency", "key", s.key.String())
	s.spent = seal(prev.RefreshToken)
	return s.save(ctx, merged)
}

// saveAttempts is how often a Save is tried before the refresh fails.
const saveAttempts = 3

// save stores t (CAS on t.Version). If it cannot, the token is kept as
// pending and an error wrapping ErrUnsaved is returned: its access token is
// not used until its refresh token is stored.
func (s *Source) save(ctx context.Context, t Token) (Token, error) {
	var err error
	for range saveAttempts {
		var saved Token
		saved, err = s.store.Save(ctx, s.key, t)
		if err == nil {
			s.pending, s.invalid = sealed[Token]{}, sealed[string]{}
			return saved, nil
		}
		if errors.Is(err, ErrConflict) || ctx.Err() != nil {
			break
		}
	}
	s.pending = seal(t)
	s.logger.Error("oauth: could not save a refreshed token", "key", s.key.String(), "error", err)
	return Token{}, fmt.Errorf("oauth: %s refreshed, but saving its new refresh token failed (%w); the new access token is withheld until it is saved: %w", s.key, err, ErrUnsaved)
}

// savePending retries saving a refreshed token. It saves only over the
// token it was refreshed from: if the store moved on meanwhile (another
// install, or the token was deleted), the stored state wins and the
// pending token is dropped, so a stale refresh can never overwrite a newer
// installation, and a conflict cannot wedge the Source.
func (s *Source) savePending(ctx context.Context) (Token, error) {
	stored, err := s.store.Load(ctx, s.key)
	switch {
	case err == nil && stored.RefreshToken == s.spent.get():
		p := s.pending.get()
		p.Version = stored.Version
		return s.save(ctx, p)
	case err != nil && !errors.Is(err, ErrNoToken):
		return Token{}, fmt.Errorf("oauth: loading %s: %w (a refreshed token is still unsaved: %w)", s.key, err, ErrUnsaved)
	}
	s.logger.Warn("oauth: dropped an unsaved refresh: the stored token changed meanwhile", "key", s.key.String())
	s.pending = sealed[Token]{}
	if err == nil && s.usable(stored) {
		return stored, nil
	}
	return s.obtain(ctx)
}

// String describes the source without tokens.
func (s *Source) String() string { return "oauth.Source{" + s.key.String() + "}" }

// GoString is String.
func (s *Source) GoString() string { return s.String() }

// Format implements fmt.Formatter: every verb prints String.
func (s *Source) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s.String()) }

// Install exchanges an authorization code and stores the token under the
// key it belongs to (LocationKey or CompanyKey of cfg.App()), replacing a
// token stored there before. It returns the key and the stored token.
func Install(ctx context.Context, cfg *Config, store TokenStore, code string, userType UserType) (Key, Token, error) {
	t, err := cfg.Exchange(ctx, code, userType)
	if err != nil {
		return Key{}, Token{}, err
	}
	key := LocationKey(cfg.App(), t.LocationID)
	if t.UserType == Company || userType == Company {
		key = CompanyKey(cfg.App(), t.CompanyID)
	}
	if err := key.Validate(); err != nil {
		return Key{}, Token{}, fmt.Errorf("oauth: install: the token names no location or company: %w", err)
	}
	for range saveAttempts {
		prev, err := store.Load(ctx, key)
		if err != nil && !errors.Is(err, ErrNoToken) {
			return key, Token{}, err
		}
		t.Version = prev.Version
		saved, err := store.Save(ctx, key, t)
		if err == nil {
			return key, saved, nil
		}
		if !errors.Is(err, ErrConflict) {
			return key, Token{}, fmt.Errorf("oauth: install: saving the token: %w", err)
		}
	}
	return key, Token{}, fmt.Errorf("oauth: install: saving the token: %w", ErrConflict)
}
