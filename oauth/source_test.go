package oauth_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"sync/atomic"

	"context"
	"errors"
	"fmt"
	"golang.org/x/time/rate"
	"log/slog"
	"slices"
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

// TestMetadataMergedIntoRefresh: a refresh answer that leaves out the
// token's metadata (the fake always repeats it, the live API need not)
// must not erase it from the store: the stored values are kept.
func TestMetadataMergedIntoRefresh(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		grant contactstest.Grant
		strip []string // fields removed from the refresh answer
	}{
		{"location", contactstest.Grant{UserType: contactstest.UserTypeLocation, UserID: "user-1", PlanID: "plan-1"},
			[]string{"locationId", "companyId", "userType", "scope", "userId", "planId"}},
		{"company", contactstest.Grant{UserType: contactstest.UserTypeCompany, UserID: "user-2", PlanID: "plan-2"},
			[]string{"companyId", "userType", "scope", "userId", "planId", "approvedLocations"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, nil)
			tt.grant.Scopes = e.cfg.Scopes
			key := e.install(t, tt.grant)
			before, err := e.store.Load(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			// Every field the refresh answer will lack is set, so keeping it is visible.
			company := tt.grant.UserType == contactstest.UserTypeCompany
			if before.UserType == "" || before.CompanyID == "" || before.UserID == "" || before.PlanID == "" || len(before.Scopes) == 0 ||
				(before.LocationID == "") != company || (len(before.ApprovedLocations) == 0) == company {
				t.Fatalf("the installed token lacks metadata: %v user %q plan %q approved %q",
					before, before.UserID, before.PlanID, before.ApprovedLocations)
			}

			var stripped []string
			base := e.cfg.HTTPClient.Transport
			cfg := *e.cfg
			cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				resp, err := base.RoundTrip(r)
				if err != nil || r.URL.Path != "/oauth/token" || resp.StatusCode != http.StatusOK {
					return resp, err
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return nil, err
				}
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil {
					return nil, err
				}
				for _, f := range tt.strip {
					if _, ok := m[f]; ok {
						delete(m, f)
						stripped = append(stripped, f)
					}
				}
				if body, err = json.Marshal(m); err != nil {
					return nil, err
				}
				resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
				resp.Header.Del("Content-Length")
				return resp, nil
			})}

			e.clock.Advance(25 * time.Hour)
			got, err := oauth.NewSource(ctx, &cfg, e.store, key, oauth.WithClock(e.clock.Now)).Current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(stripped)
			want := slices.Sorted(slices.Values(tt.strip))
			if !slices.Equal(stripped, want) {
				t.Fatalf("the refresh answer lost %q, want %q: the test no longer strips what it should", stripped, want)
			}
			after, err := e.store.Load(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if after.RefreshToken == before.RefreshToken || after.AccessToken == before.AccessToken || got.AccessToken != after.AccessToken {
				t.Fatalf("no refresh was stored: before %v, after %v", before, after)
			}
			for name, tok := range map[string]oauth.Token{"stored": after, "returned": got} {
				if tok.LocationID != before.LocationID || tok.CompanyID != before.CompanyID || tok.UserType != before.UserType ||
					tok.UserID != before.UserID || tok.PlanID != before.PlanID ||
					!slices.Equal(tok.Scopes, before.Scopes) || !slices.Equal(tok.ApprovedLocations, before.ApprovedLocations) {
					t.Errorf("%s token after the refresh:\n%v user %q plan %q approved %q\nbefore:\n%v user %q plan %q approved %q",
						name, tok, tok.UserID, tok.PlanID, tok.ApprovedLocations, before, before.UserID, before.PlanID, before.ApprovedLocations)
				}
			}
		})
	}
}

// TestRefreshShortlyBeforeExpiry: with the default skew (5 minutes), a
// token 10 minutes from expiry is used as it is, one 2 minutes from
// expiry is refreshed once, whether the Source finds it in the store or
// holds it already.
func TestRefreshShortlyBeforeExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		name      string
		left      time.Duration // before the stored token's expiry
		refreshes int
	}{
		{"10 minutes left", 10 * time.Minute, 0},
		{"2 minutes left", 2 * time.Minute, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			installed := e.stored(t)
			e.clock.Set(installed.Expiry.Add(-tt.left))
			got, err := e.source().Current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n := e.srv.TokenRequests("refresh_token"); n != tt.refreshes {
				t.Errorf("refresh requests = %d, want %d", n, tt.refreshes)
			}
			if refreshed := got.AccessToken != installed.AccessToken; refreshed != (tt.refreshes == 1) {
				t.Errorf("returned a refreshed token: %t, want %t", refreshed, tt.refreshes == 1)
			}
		})
	}

	t.Run("held token crosses the margin", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		installed := e.stored(t)
		src := e.source()
		e.clock.Set(installed.Expiry.Add(-10 * time.Minute))
		if tok, err := src.Token(); err != nil || tok.AccessToken != installed.AccessToken {
			t.Fatalf("10 minutes before expiry: err %v, refreshed %t (want the installed token)", err, err == nil)
		}
		e.clock.Set(installed.Expiry.Add(-2 * time.Minute))
		tok, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		if n := e.srv.TokenRequests("refresh_token"); n != 1 || tok.AccessToken == installed.AccessToken {
			t.Errorf("2 minutes before expiry: %d refresh requests (want 1), new token %t", n, tok.AccessToken != installed.AccessToken)
		}
	})
}

// TestTokenWithholdsTheRefreshToken: the oauth2.Token handed to transports
// carries the access token only; the rotating refresh token stays in the
// store, where only the Source spends it under the lock.
func TestTokenWithholdsTheRefreshToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	installed := e.stored(t)
	tok, err := e.source().Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken != "" {
		t.Errorf("access token set %t, refresh token set %t: want only the access token", tok.AccessToken != "", tok.RefreshToken != "")
	}
	if installed.RefreshToken == "" {
		t.Error("the stored token has no refresh token: the test proves nothing")
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
		before := e.stored(t)
		e.clock.Advance(25 * time.Hour)
		e.srv.SetLocationActive(e.srv.LocationID(), false)
		src := e.source()
		if _, err := src.Token(); !errors.Is(err, oauth.ErrLocationInactive) {
			t.Fatalf("err = %v", err)
		}
		if got := e.stored(t); got.RefreshToken != before.RefreshToken || got.AccessToken != before.AccessToken ||
			got.Version != before.Version || !got.Expiry.Equal(before.Expiry) {
			t.Errorf("a refresh refused as location not active changed the stored token: %v, was %v", got, before)
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

// TestTokenExtraFields: the token endpoint's userId, planId and (for an
// agency token) approvedLocations are decoded and stored with the token.
func TestTokenExtraFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	scopes := []string{contacts.ScopeContactsReadonly, contacts.ScopeContactsWrite, contacts.ScopeOAuthWrite}
	e := newEnv(t, nil, scopes...)
	company := e.stored(t).CompanyID
	other := e.srv.AddLocation("", company, contactstest.LocationSettings{})
	agencyKey := e.install(t, contactstest.Grant{UserType: contactstest.UserTypeCompany, CompanyID: company, Scopes: scopes,
		UserID: "user-agency-1", PlanID: "plan-pro"})
	agency, err := e.store.Load(ctx, agencyKey)
	if err != nil {
		t.Fatal(err)
	}
	wantApproved := []string{e.srv.LocationID(), other}
	slices.Sort(wantApproved)
	if agency.UserID != "user-agency-1" || agency.PlanID != "plan-pro" || !slices.Equal(agency.ApprovedLocations, wantApproved) {
		t.Errorf("stored agency token: userId %q, planId %q, approvedLocations %q; want %q, %q, %q",
			agency.UserID, agency.PlanID, agency.ApprovedLocations, "user-agency-1", "plan-pro", wantApproved)
	}
	// A location token exchanged from it carries the same user and plan.
	lt, err := e.cfg.LocationToken(ctx, agency, other)
	if err != nil {
		t.Fatal(err)
	}
	if lt.UserID != "user-agency-1" || lt.PlanID != "plan-pro" {
		t.Errorf("location token: userId %q, planId %q", lt.UserID, lt.PlanID)
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

// TestSecretsNeverPrinted formats every exported type that holds a token
// or the client secret — and, where fmt can reach them, the structs behind
// the pointers (a dereferenced Source or store prints its unexported
// fields, which fmt formats without calling their types' methods) — with
// every common verb, and checks that no access token, refresh token or
// client secret appears, neither as is nor hex-encoded. The Source is
// caught holding a current token, an invalidated access token, a pending
// (unsaved) refreshed token and the refresh token it spent.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logs bytes.Buffer
	fs := &failingStore{TokenStore: oauth.NewMemoryStore()}
	e := newEnv(t, fs)
	installed := e.stored(t)
	secrets := map[string]string{
		"client secret":           e.cfg.ClientSecret,
		"installed access token":  installed.AccessToken,
		"installed refresh token": installed.RefreshToken,
	}
	// Every token the endpoints issue from now on is a secret too.
	var mu sync.Mutex
	base := e.cfg.HTTPClient.Transport
	e.cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(r)
		if err != nil || !strings.HasPrefix(r.URL.Path, "/oauth/") {
			return resp, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		var tr struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if json.Unmarshal(body, &tr) == nil {
			mu.Lock()
			n := len(secrets)
			if tr.AccessToken != "" {
				secrets[fmt.Sprintf("access token %d", n)] = tr.AccessToken
			}
			if tr.RefreshToken != "" {
				secrets[fmt.Sprintf("refresh token %d", n)] = tr.RefreshToken
			}
			mu.Unlock()
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	})}

	e.clock.Advance(25 * time.Hour)
	src := e.source(oauth.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	tok := e.stored(t)
	src.InvalidateToken(tok.AccessToken) // held as the rejected access token
	fs.mu.Lock()
	fs.failing = true
	fs.mu.Unlock()
	if _, err := src.Token(); !errors.Is(err, oauth.ErrUnsaved) { // a pending token, and the spent refresh token
		t.Fatalf("refresh with a failing store: %v", err)
	}
	// A failing refresh too: the pending refresh spent tok's refresh token.
	_, refreshErr := e.cfg.Refresh(ctx, tok.RefreshToken, oauth.Location)
	if refreshErr == nil {
		t.Fatal("a spent refresh token refreshed")
	}
	fileStore, err := oauth.NewFileStore(t.TempDir() + "/tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	fresh := tok
	fresh.Version = 0
	if _, err := fileStore.Save(ctx, e.key, fresh); err != nil {
		t.Fatal(err)
	}
	sqlStore, err := openSQLite(t.TempDir() + "/tokens.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlStore.Save(ctx, e.key, fresh); err != nil {
		t.Fatal(err)
	}
	memStore := fs.TokenStore.(*oauth.MemoryStore)
	m := oauth.NewManager(ctx, e.cfg, e.store, oauth.WithSourceOptions(oauth.WithClock(e.clock.Now)))
	if _, err := m.Client(ctx, e.srv.LocationID()); err != nil { // the manager's Source holds a token
		t.Fatal(err)
	}
	if len(secrets) < 7 {
		t.Fatalf("%d secrets recorded, want the client secret and 3 token pairs", len(secrets))
	}

	// deref is the struct behind p, as fmt prints it (a reflect.Value is
	// formatted as the value it holds, without copying a mutex in vet's
	// sight).
	deref := func(p any) reflect.Value { return reflect.ValueOf(p).Elem() }
	values := []struct {
		name string
		v    any
	}{
		{"Token", tok}, {"*Token", &tok}, {"[]Token", []oauth.Token{tok}}, {"map of *Token", map[string]*oauth.Token{"k": &tok}},
		{"Config", *e.cfg}, {"*Config", e.cfg},
		{"*Source", src}, {"Source", deref(src)},
		{"*Manager", m}, {"Manager", deref(m)},
		{"*MemoryStore", memStore}, {"MemoryStore", deref(memStore)},
		{"*FileStore", fileStore}, {"FileStore", deref(fileStore)},
		{"*SQLStore", sqlStore}, {"SQLStore", deref(sqlStore)},
		{"refresh error", refreshErr},
	}
	var out strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%q", "%t"} {
		for _, val := range values {
			got := fmt.Sprintf(verb, val.v)
			out.WriteString(got + "\n")
			for name, secret := range secrets {
				if strings.Contains(got, secret) || strings.Contains(got, hex.EncodeToString([]byte(secret))) ||
					strings.Contains(got, strings.ToUpper(hex.EncodeToString([]byte(secret)))) {
					t.Errorf("%s of %s prints the %s: %s", verb, val.name, name, got)
				}
			}
		}
	}
	for name, secret := range secrets {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the %s appears in the logs:\n%s", name, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "token refreshed") {
		t.Errorf("no refresh record in the logs: %s", logs.String())
	}
	// The redacted forms still describe the value.
	for verb, want := range map[string]string{"%d": "oauth.Token{", "%#v": "oauth.Token{", "%q": `"oauth.Token{`, "%s": "access: [redacted]"} {
		if got := fmt.Sprintf(verb, tok); !strings.Contains(got, want) {
			t.Errorf("%s of a Token = %s, want it to contain %s", verb, got, want)
		}
	}
	if got := fmt.Sprintf("%d", e.cfg); !strings.Contains(got, "ClientSecret: [redacted]") {
		t.Errorf("%%d of a *Config = %s", got)
	}
}
