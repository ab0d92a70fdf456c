package oauth

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"golang.org/x/time/rate"

	contacts "github.com/gymflow/contacts-go"
)

// Manager hands out one *contacts.Client per location for an app installed
// on many locations. The clients share one HTTP transport (connections are
// pooled once) but each has its own refreshing token Source and its own
// rate limiter, because the API's budget is per app and location.
type Manager struct {
	cfg        sealed[*Config] // its client secret stays out of fmt's reach
	store      TokenStore
	httpClient *http.Client
	agency     *Key
	clientOpts []contacts.Option
	srcOpts    []SourceOption
	ctx        context.Context
	limiter    func(locationID string) *rate.Limiter

	mu      sync.Mutex
	clients map[string]*contacts.Client
	sources map[string]*Source // one per location, so one refresh at a time per key
}

// ManagerOption configures a Manager.
type ManagerOption func(*Manager)

// WithHTTPClient sets the HTTP client whose transport every location's
// client shares (default: one pooled transport for the manager).
func WithHTTPClient(hc *http.Client) ManagerOption { return func(m *Manager) { m.httpClient = hc } }

// WithAgency makes locations without a usable token of their own fall back
// to exchanging the agency token stored under CompanyKey(app, companyID).
func WithAgency(companyID string) ManagerOption {
	return func(m *Manager) {
		k := CompanyKey(m.cfg.get().App(), companyID)
		m.agency = &k
	}
}

// WithRateLimiters sets how each location's client-side limiter is made
// (default: contacts.DefaultRateLimiter, one per location, since the API's
// budget is per app and location).
func WithRateLimiters(newLimiter func(locationID string) *rate.Limiter) ManagerOption {
	return func(m *Manager) { m.limiter = newLimiter }
}

// WithClientOptions adds options to every client the manager builds.
func WithClientOptions(opts ...contacts.Option) ManagerOption {
	return func(m *Manager) { m.clientOpts = append(m.clientOpts, opts...) }
}

// WithSourceOptions adds options to every token Source the manager builds.
func WithSourceOptions(opts ...SourceOption) ManagerOption {
	return func(m *Manager) { m.srcOpts = append(m.srcOpts, opts...) }
}

// NewManager returns a manager for cfg's app. ctx bounds token refreshes
// for the manager's lifetime.
func NewManager(ctx context.Context, cfg *Config, store TokenStore, opts ...ManagerOption) *Manager {
	m := &Manager{cfg: seal(cfg), store: store, ctx: ctx, clients: map[string]*contacts.Client{}, sources: map[string]*Source{}}
	for _, o := range opts {
		o(m)
	}
	if m.limiter == nil {
		m.limiter = func(string) *rate.Limiter { return contacts.DefaultRateLimiter() }
	}
	if m.httpClient == nil {
		m.httpClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: contacts.DefaultTimeout}
	}
	return m
}

// HTTPClient returns the HTTP client all the manager's clients share.
func (m *Manager) HTTPClient() *http.Client { return m.httpClient }

// Client returns the client for a location, building it on first use. A
// location whose token lacks contacts.write gets a read-only client
// (contacts.WithReadOnly), so writes fail before any I/O.
//
// The first call for a location may refresh its token; it does so without
// holding up calls for other locations.
func (m *Manager) Client(ctx context.Context, locationID string) (*contacts.Client, error) {
	key := LocationKey(m.cfg.get().App(), locationID)
	if err := key.Validate(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	if c := m.clients[locationID]; c != nil {
		m.mu.Unlock()
		return c, nil
	}
	src := m.sources[locationID]
	if src == nil {
		srcOpts := m.srcOpts
		if m.agency != nil {
			srcOpts = append(append([]SourceOption(nil), srcOpts...), WithAgencyFallback(*m.agency))
		}
		src = NewSource(m.ctx, m.cfg.get(), m.store, key, srcOpts...)
		m.sources[locationID] = src
	}
	m.mu.Unlock()

	// Token I/O (a refresh, a wait for another process's lock) happens
	// outside m.mu; src serializes the callers for this location.
	tok, err := src.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("oauth: client for location %s: %w", locationID, err)
	}
	opts := []contacts.Option{
		contacts.WithBaseURL(m.cfg.get().baseURL()),
		contacts.WithHTTPClient(m.httpClient),
		contacts.WithTokenSource(src),
		contacts.WithLocationID(locationID),
		contacts.WithRateLimiter(m.limiter(locationID)),
	}
	if len(tok.Scopes) > 0 && !tok.HasScope(contacts.ScopeContactsWrite) {
		opts = append(opts, contacts.WithReadOnly())
	}
	c, err := contacts.NewClient(append(opts, m.clientOpts...)...)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if prev := m.clients[locationID]; prev != nil {
		return prev, nil // built meanwhile by another caller
	}
	if m.sources[locationID] != src {
		return c, nil // forgotten meanwhile: do not cache
	}
	m.clients[locationID] = c
	return c, nil
}

// Forget drops a location's cached client, e.g. after an UNINSTALL webhook;
// its stored token is left alone (delete it from the store if you mean to).
func (m *Manager) Forget(locationID string) {
	m.mu.Lock()
	delete(m.clients, locationID)
	delete(m.sources, locationID)
	m.mu.Unlock()
}

// String describes the manager without credentials.
func (m *Manager) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("oauth.Manager{app: %q, clients: %d}", m.cfg.get().App(), len(m.clients))
}

// GoString is String.
func (m *Manager) GoString() string { return m.String() }

// Format implements fmt.Formatter: every verb prints String.
func (m *Manager) Format(f fmt.State, verb rune) { formatRedacted(f, verb, m.String()) }
