package oauth_test

import (
	"bytes"
	"net/http"
	"sync/atomic"

	"context"
	"errors"
	"fmt"
	"golang.org/x/time/rate"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/oauth"
)

// env is a fake API with an installed OAuth app on a manual clock.
type env struct {
	srv   *contactstest.Server
	clock *contactstest.ManualClock
	app   contactstest.App
	cfg   *oauth.Config
	store oauth.TokenStore
	key   oauth.Key
}

func newEnv(t *testing.T, store oauth.TokenStore, scopes ...string) *env {
	t.Helper()
	clock := contactstest.NewManualClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	srv := contactstest.NewServer(contactstest.WithClock(clock), contactstest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	app := srv.RegisterApp(contactstest.App{RedirectURIs: []string{"http://localhost/callback"}})
	if scopes == nil {
		scopes = []string{contacts.ScopeContactsReadonly, contacts.ScopeContactsWrite}
	}
	cfg := &oauth.Config{
		ClientID: app.ClientID, ClientSecret: app.ClientSecret, RedirectURL: "http://localhost/callback",
		Scopes: scopes, BaseURL: srv.URL, HTTPClient: srv.HTTPClient(), Now: clock.Now,
	}
	if store == nil {
		store = oauth.NewMemoryStore()
	}
	e := &env{srv: srv, clock: clock, app: app, cfg: cfg, store: store}
	e.key = e.install(t, contactstest.Grant{UserType: contactstest.UserTypeLocation, LocationID: srv.LocationID(), Scopes: scopes})
	return e
}

// install runs the authorization-code flow and stores the token.
func (e *env) install(t *testing.T, g contactstest.Grant) oauth.Key {
	t.Helper()
	g.RedirectURI = e.cfg.RedirectURL
	code, err := e.srv.AuthorizationCode(e.app.ClientID, g)
	if err != nil {
		t.Fatal(err)
	}
	key, tok, err := oauth.Install(context.Background(), e.cfg, e.store, code, oauth.UserType(g.UserType))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Version == 0 || tok.RefreshToken == "" {
		t.Fatalf("installed token %v", tok)
	}
	return key
}

func (e *env) source(opts ...oauth.SourceOption) *oauth.Source {
	return oauth.NewSource(context.Background(), e.cfg, e.store, e.key, append([]oauth.SourceOption{oauth.WithClock(e.clock.Now)}, opts...)...)
}

func (e *env) stored(t *testing.T) oauth.Token {
	t.Helper()
	tok, err := e.store.Load(context.Background(), e.key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestHundredGoroutinesRefreshOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	before := e.stored(t)
	seeded := e.srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	e.clock.Advance(25 * time.Hour) // the access token has expired
	src := e.source()
	client := e.srv.Client(contacts.WithTokenSource(src))

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			_, err := client.Contacts.Get(context.Background(), seeded.ID)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.srv.TokenRequests("refresh_token"); n != 1 {
		t.Errorf("refresh requests = %d, want exactly 1", n)
	}
	after := e.stored(t)
	if after.RefreshToken == before.RefreshToken || after.Version != before.Version+1 {
		t.Errorf("store holds %v, want the rotated token at the next version", after)
	}
	// The store's refresh token is the live one: refreshing with it works.
	if _, err := e.cfg.Refresh(context.Background(), after.RefreshToken, oauth.Location); err != nil {
		t.Errorf("the stored refresh token is not the newest: %v", err)
	}
}

func TestMetadataSurvivesRefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	before := e.stored(t)
	if before.LocationID != e.srv.LocationID() || before.UserType != oauth.Location || before.CompanyID == "" || len(before.Scopes) != 2 {
		t.Fatalf("installed token lacks metadata: %v", before)
	}
	e.clock.Advance(24 * time.Hour)
	if _, err := e.source().Current(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := e.stored(t)
	if after.LocationID != before.LocationID || after.CompanyID != before.CompanyID || after.UserType != before.UserType ||
		fmt.Sprint(after.Scopes) != fmt.Sprint(before.Scopes) || !after.Expiry.After(before.Expiry) {
		t.Errorf("after refresh %v, before %v", after, before)
	}
}

// failingStore fails every Save while failing is set.
type failingStore struct {
	oauth.TokenStore
	mu      sync.Mutex
	failing bool
}

func (f *failingStore) Save(ctx context.Context, k oauth.Key, t oauth.Token) (oauth.Token, error) {
	f.mu.Lock()
	failing := f.failing
	f.mu.Unlock()
	if failing {
		return oauth.Token{}, errors.New("disk full")
	}
	return f.TokenStore.Save(ctx, k, t)
}

func TestUnsavedRefreshIsWithheld(t *testing.T) {
	t.Parallel()
	fs := &failingStore{TokenStore: oauth.NewMemoryStore()}
	e := newEnv(t, fs)
	before := e.stored(t)
	e.clock.Advance(25 * time.Hour)
	src := e.source()
	fs.failing = true
	_, err := src.Token()
	if !errors.Is(err, oauth.ErrUnsaved) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("refresh with a failing store: %v", err)
	}
	if got := e.stored(t); got.RefreshToken != before.RefreshToken {
		t.Fatal("the store changed although Save failed")
	}
	// Still withheld on the next call, without refreshing again.
	if _, err := src.Token(); !errors.Is(err, oauth.ErrUnsaved) {
		t.Fatalf("second call: %v", err)
	}
	fs.mu.Lock()
	fs.failing = false
	fs.mu.Unlock()
	tok, err := src.Token()
	if err != nil {
		t.Fatalf("after the store recovered: %v", err)
	}
	after := e.stored(t)
	if after.AccessToken != tok.AccessToken || after.RefreshToken == before.RefreshToken {
		t.Errorf("the pending token was not saved: %v", after)
	}
	if n := e.srv.TokenRequests("refresh_token"); n != 1 {
		t.Errorf("refresh requests = %d, want 1 (the pending token is reused)", n)
	}
}

func TestUnauthorizedRefreshesOnceAndRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seeded := e.srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	src := e.source()
	client := e.srv.Client(contacts.WithTokenSource(src))
	tok, err := src.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.srv.RevokeToken(tok.AccessToken) // rejected by the API before its expiry
	if _, err := client.Contacts.Get(context.Background(), seeded.ID); err != nil {
		t.Fatalf("call after the access token was revoked: %v", err)
	}
	if n := e.srv.TokenRequests("refresh_token"); n != 1 {
		t.Errorf("refresh requests = %d, want 1", n)
	}
}

func TestRefreshErrorsAreTypedAndKeepTheToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("reused refresh token", func(t *testing.T) {
		e := newEnv(t, nil)
		stale := e.stored(t)
		if _, err := e.cfg.Refresh(ctx, stale.RefreshToken, oauth.Location); err != nil { // someone else spends it
			t.Fatal(err)
		}
		e.clock.Advance(25 * time.Hour)
		_, err := e.source().Token()
		var te *oauth.TokenError
		if !errors.Is(err, oauth.ErrInvalidGrant) || !errors.As(err, &te) || te.Code != "invalid_grant" {
			t.Fatalf("err = %v", err)
		}
		if got := e.stored(t); got.RefreshToken != stale.RefreshToken || got.Version != stale.Version {
			t.Error("a failed refresh changed the stored token")
		}
	})

	t.Run("location not active, then active again", func(t *testing.T) {
		e := newEnv(t, nil)
		e.clock.Advance(25 * time.Hour)
		e.srv.SetLocationActive(e.srv.LocationID(), false)
		src := e.source()
		if _, err := src.Token(); !errors.Is(err, oauth.ErrLocationInactive) {
			t.Fatalf("err = %v", err)
		}
		e.srv.SetLocationActive(e.srv.LocationID(), true)
		if _, err := src.Token(); err != nil {
			t.Fatalf("after reactivation: %v", err)
		}
	})

	t.Run("app uninstalled", func(t *testing.T) {
		e := newEnv(t, nil)
		e.clock.Advance(25 * time.Hour)
		if err := e.srv.Uninstall(e.app.ClientID, e.srv.LocationID()); err != nil {
			t.Fatal(err)
		}
		_, err := e.source().Token()
		if !errors.Is(err, oauth.ErrAppRevoked) || !errors.Is(err, oauth.ErrInvalidGrant) {
			t.Fatalf("err = %v", err)
		}
		if _, err := e.store.Load(ctx, e.key); err != nil {
			t.Errorf("the token was deleted: %v", err)
		}
	})

	t.Run("wrong client secret", func(t *testing.T) {
		e := newEnv(t, nil)
		e.clock.Advance(25 * time.Hour)
		bad := *e.cfg
		bad.ClientSecret = "wrong-secret-value"
		_, err := oauth.NewSource(ctx, &bad, e.store, e.key, oauth.WithClock(e.clock.Now)).Token()
		if !errors.Is(err, oauth.ErrInvalidClient) || strings.Contains(err.Error(), "wrong-secret-value") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestAgencyExchangeAndFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	scopes := []string{contacts.ScopeContactsReadonly, contacts.ScopeContactsWrite, contacts.ScopeOAuthWrite}
	e := newEnv(t, nil, scopes...)
	company := e.stored(t).CompanyID
	agencyKey := e.install(t, contactstest.Grant{UserType: contactstest.UserTypeCompany, CompanyID: company, Scopes: scopes})
	if agencyKey != oauth.CompanyKey(e.cfg.App(), company) {
		t.Fatalf("agency key = %v", agencyKey)
	}
	seeded := e.srv.SeedContact(contactstest.Contact{FirstName: "Ana"})

	// A second location of the company has no token of its own: the
	// manager's client obtains one from the agency.
	other := e.srv.AddLocation("", company, contactstest.LocationSettings{})
	theirs := e.srv.SeedContact(contactstest.Contact{LocationID: other, FirstName: "Zoe"})
	m := oauth.NewManager(ctx, e.cfg, e.store, oauth.WithAgency(company), oauth.WithSourceOptions(oauth.WithClock(e.clock.Now)))
	c, err := m.Client(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Contacts.Get(ctx, theirs.ID); err != nil || got.FirstName != "Zoe" {
		t.Fatalf("via the agency token: %+v, %v", got, err)
	}
	lt, err := e.store.Load(ctx, oauth.LocationKey(e.cfg.App(), other))
	if err != nil || lt.UserType != oauth.Location || lt.LocationID != other {
		t.Errorf("stored location token %v, %v", lt, err)
	}

	// The default location's own refresh token dies; the fallback keeps it working.
	stale := e.stored(t)
	if _, err := e.cfg.Refresh(ctx, stale.RefreshToken, oauth.Location); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(25 * time.Hour)
	mine, err := m.Client(ctx, e.srv.LocationID())
	if err != nil {
		t.Fatalf("fallback after a failed refresh: %v", err)
	}
	if _, err := mine.Contacts.Get(ctx, seeded.ID); err != nil {
		t.Fatal(err)
	}
}

func TestManagerClientsShareTransportNotBudgets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	company := e.stored(t).CompanyID
	second := e.srv.AddLocation("", company, contactstest.LocationSettings{})
	e.key = e.install(t, contactstest.Grant{UserType: contactstest.UserTypeLocation, LocationID: second, Scopes: []string{contacts.ScopeContactsReadonly}})
	var calls atomic.Int32
	shared := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return e.srv.HTTPClient().Transport.RoundTrip(r)
	})}
	limiters := map[string]*rate.Limiter{}
	m := oauth.NewManager(ctx, e.cfg, e.store, oauth.WithSourceOptions(oauth.WithClock(e.clock.Now)), oauth.WithHTTPClient(shared),
		oauth.WithRateLimiters(func(loc string) *rate.Limiter {
			l := rate.NewLimiter(rate.Every(time.Hour), 10)
			limiters[loc] = l
			return l
		}))
	a, err := m.Client(ctx, e.srv.LocationID())
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Client(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := m.Client(ctx, second); again != b {
		t.Error("Client built a second client for the same location")
	}
	if a.LocationID() == b.LocationID() || a.ReadOnly() || !b.ReadOnly() {
		t.Errorf("clients: %v %v", a, b)
	}
	// The read-only client refuses writes before any I/O.
	before := e.srv.RequestCount()
	if _, err := b.Contacts.Create(ctx, contacts.ContactCreate{Email: "x@example.com"}); !errors.Is(err, contacts.ErrReadOnly) {
		t.Errorf("write on a contacts.readonly location: %v", err)
	}
	if e.srv.RequestCount() != before {
		t.Error("the refused write reached the API")
	}
	// Both clients go through the one shared transport, each on its own limiter.
	ours := e.srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	theirs := e.srv.SeedContact(contactstest.Contact{LocationID: second, FirstName: "Zoe"})
	for range 3 {
		if _, err := a.Contacts.Get(ctx, ours.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Contacts.Get(ctx, theirs.ID); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("the shared transport carried %d calls, want 4", n)
	}
	la, lb := limiters[e.srv.LocationID()], limiters[second]
	if len(limiters) != 2 || la == lb {
		t.Fatalf("limiters = %v", limiters)
	}
	if ta, tb := la.Tokens(), lb.Tokens(); ta > 7.01 || tb < 8.99 || tb > 9.01 {
		t.Errorf("limiter tokens a=%.2f b=%.2f, want 7 and 9: each location spends its own budget", ta, tb)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	e := newEnv(t, nil)
	e.clock.Advance(25 * time.Hour)
	src := e.source(oauth.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	tok := e.stored(t)
	// A failing refresh too.
	if _, err := e.cfg.Refresh(context.Background(), tok.RefreshToken, oauth.Location); err != nil {
		t.Fatal(err)
	}
	_, refreshErr := e.cfg.Refresh(context.Background(), tok.RefreshToken, oauth.Location)
	fileStore, err := oauth.NewFileStore(t.TempDir() + "/tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	fresh := tok
	fresh.Version = 0
	if _, err := fileStore.Save(context.Background(), e.key, fresh); err != nil {
		t.Fatal(err)
	}
	m := oauth.NewManager(context.Background(), e.cfg, e.store)
	sqlStore, err := openSQLite(t.TempDir() + "/tokens.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlStore.Save(context.Background(), e.key, fresh); err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v %s | %v %+v %#v | %v %+v | %v %#v | %+v %#v | %+v %#v | %+v %#v | %+v %#v | %s",
		tok, tok, tok, tok, *e.cfg, e.cfg, e.cfg, src, src, refreshErr, refreshErr, e.store, e.store, fileStore, fileStore,
		sqlStore, sqlStore, m, m, logs.String())
	for name, secret := range map[string]string{"access token": tok.AccessToken, "refresh token": tok.RefreshToken, "client secret": e.cfg.ClientSecret} {
		if strings.Contains(out, secret) {
			t.Errorf("the %s appears in formatted output or logs:\n%s", name, out)
		}
	}
	if !strings.Contains(logs.String(), "token refreshed") {
		t.Errorf("no refresh record in the logs: %s", logs.String())
	}
}
