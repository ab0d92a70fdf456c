package oauth_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/oauth"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRefreshOutlivesCancellation: the Source's context is cancelled (a
// shutdown) after the token endpoint has rotated the refresh token but
// before the answer is read. The answer must still be read and the rotated
// refresh token saved, or the integration is dead.
func TestRefreshOutlivesCancellation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	before := e.stored(t)
	e.clock.Advance(25 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := e.cfg.HTTPClient.Transport
	cfg := *e.cfg
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(r)
		if r.URL.Path == "/oauth/token" {
			cancel() // the server has answered; the body is not read yet
		}
		return resp, err
	})}
	src := oauth.NewSource(ctx, &cfg, e.store, e.key, oauth.WithClock(e.clock.Now))
	tok, err := src.Token()
	if err != nil {
		t.Fatalf("refresh cancelled after the server rotated the token: %v", err)
	}
	after := e.stored(t)
	if after.RefreshToken == before.RefreshToken || after.AccessToken != tok.AccessToken {
		t.Fatal("the rotated refresh token was not saved")
	}
	if _, err := e.cfg.Refresh(context.Background(), after.RefreshToken, oauth.Location); err != nil {
		t.Fatalf("the stored refresh token is dead: %v", err)
	}

	// A context that ended before the refresh spends nothing.
	e.clock.Advance(25 * time.Hour)
	n := e.srv.TokenRequests("refresh_token")
	if _, err := src.Token(); !errors.Is(err, context.Canceled) {
		t.Fatalf("refresh with a cancelled context: %v", err)
	}
	if e.srv.TokenRequests("refresh_token") != n {
		t.Error("a refresh was sent with a cancelled context")
	}
}

// TestPendingConflictDoesNotWedge: a refreshed token could not be saved,
// and meanwhile the store got another token (a reinstall) that has expired
// by the next call. The Source must go on with the stored token instead of
// failing with ErrUnsaved forever.
func TestPendingConflictDoesNotWedge(t *testing.T) {
	t.Parallel()
	fs := &failingStore{TokenStore: oauth.NewMemoryStore()}
	e := newEnv(t, fs)
	e.clock.Advance(25 * time.Hour)
	src := e.source()
	fs.failing = true
	if _, err := src.Token(); !errors.Is(err, oauth.ErrUnsaved) {
		t.Fatalf("refresh with a failing store: %v", err)
	}
	fs.mu.Lock()
	fs.failing = false
	fs.mu.Unlock()
	e.install(t, contactstest.Grant{UserType: contactstest.UserTypeLocation, LocationID: e.srv.LocationID(), Scopes: e.cfg.Scopes})
	e.clock.Advance(25 * time.Hour)
	tok, err := src.Token()
	if err != nil {
		t.Fatalf("after a conflict with an expired stored token: %v", err)
	}
	if after := e.stored(t); after.AccessToken != tok.AccessToken {
		t.Error("the Source hands out a token the store does not hold")
	}
}

// TestInactiveFallbackKeepsRefreshToken: "Location is not active" leaves
// the location's refresh token valid, so a successful agency fallback must
// not drop it from the store.
func TestInactiveFallbackKeepsRefreshToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	scopes := []string{contacts.ScopeContactsReadonly, contacts.ScopeContactsWrite, contacts.ScopeOAuthWrite}
	e := newEnv(t, nil, scopes...)
	before := e.stored(t)
	agencyKey := e.install(t, contactstest.Grant{UserType: contactstest.UserTypeCompany, CompanyID: before.CompanyID, Scopes: scopes})
	e.clock.Advance(25 * time.Hour)
	base := e.cfg.HTTPClient.Transport
	cfg := *e.cfg
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/oauth/token" {
			body, _ := io.ReadAll(r.Body)
			if strings.Contains(string(body), "refresh_token="+before.RefreshToken) {
				return &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
					Body: io.NopCloser(strings.NewReader(`{"statusCode":400,"message":"Location is not active"}`))}, nil
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		return base.RoundTrip(r)
	})}
	src := oauth.NewSource(ctx, &cfg, e.store, e.key, oauth.WithClock(e.clock.Now), oauth.WithAgencyFallback(agencyKey))
	if _, err := src.Current(ctx); err != nil {
		t.Fatalf("agency fallback: %v", err)
	}
	if after := e.stored(t); after.RefreshToken != before.RefreshToken {
		t.Fatal("the fallback dropped a refresh token that is still valid")
	}
}

// lockWatch reports when Lock is called for one key.
type lockWatch struct {
	oauth.TokenStore
	key     oauth.Key
	entered chan struct{}
}

func (l *lockWatch) Lock(ctx context.Context, key oauth.Key, ttl time.Duration) (func(), error) {
	if key == l.key {
		select {
		case l.entered <- struct{}{}:
		default:
		}
	}
	return l.TokenStore.Lock(ctx, key, ttl)
}

// TestManagerLocationsDoNotWaitForEachOther: while one location's first
// client waits for a refresh lock another process holds, clients of other
// locations are handed out at once.
func TestManagerLocationsDoNotWaitForEachOther(t *testing.T) {
	t.Parallel()
	mem := oauth.NewMemoryStore()
	lw := &lockWatch{TokenStore: mem, entered: make(chan struct{}, 1)}
	e := newEnv(t, lw)
	second := e.srv.AddLocation("", e.stored(t).CompanyID, contactstest.LocationSettings{})
	slow := e.install(t, contactstest.Grant{UserType: contactstest.UserTypeLocation, LocationID: second, Scopes: e.cfg.Scopes})
	lw.key = slow
	m := oauth.NewManager(context.Background(), e.cfg, lw, oauth.WithSourceOptions(oauth.WithClock(e.clock.Now)))
	if _, err := m.Client(context.Background(), e.srv.LocationID()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(25 * time.Hour)
	unlock, err := mem.Lock(context.Background(), slow, time.Minute) // another process is refreshing
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	slowCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Client(slowCtx, second)
	}()
	<-lw.entered
	ctx, cancelFast := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelFast()
	got := make(chan error, 1)
	go func() {
		_, err := m.Client(ctx, e.srv.LocationID())
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-done:
		t.Fatal("another location's client waited for the blocked refresh")
	}
	cancel()
	<-done
}

// TestSlogNeverPrintsSecrets: slog's JSON handler marshals values that are
// not LogValuers, which would print a Token's secrets. (A []Token is still
// marshalled: Token's JSON is the stores' format.)
func TestSlogNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&out, nil))
	tok := oauth.Token{AccessToken: "access-SECRET-1", RefreshToken: "refresh-SECRET-2"}
	cfg := oauth.Config{ClientID: "id", ClientSecret: "client-SECRET-3"}
	l.Info("x", "token", tok, "tokenp", &tok, "cfg", cfg, "cfgp", &cfg)
	if strings.Contains(out.String(), "SECRET") {
		t.Fatalf("slog printed a secret: %s", out.String())
	}
}

// A refresh left unsaved must not overwrite a newer installation, even
// when the store reuses the version number after a delete.
func TestPendingNeverOverwritesANewerInstall(t *testing.T) {
	t.Parallel()
	fs := &failingStore{TokenStore: oauth.NewMemoryStore()}
	e := newEnv(t, fs)
	e.clock.Advance(25 * time.Hour)
	src := e.source()
	fs.failing = true
	if _, err := src.Token(); !errors.Is(err, oauth.ErrUnsaved) {
		t.Fatalf("refresh with a failing store: %v", err)
	}
	fs.mu.Lock()
	fs.failing = false
	fs.mu.Unlock()
	// The app deletes the token (UNINSTALL), the customer re-installs: the
	// new token is stored at version 1 again.
	if err := fs.Delete(context.Background(), e.key); err != nil {
		t.Fatal(err)
	}
	e.install(t, contactstest.Grant{UserType: contactstest.UserTypeLocation, LocationID: e.srv.LocationID(), Scopes: e.cfg.Scopes})
	installed := e.stored(t)
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if after := e.stored(t); after.RefreshToken != installed.RefreshToken || tok.AccessToken != installed.AccessToken {
		t.Errorf("the stale refresh overwrote the new installation: %v", after)
	}
}

// A refresh token the API refused is not sent again on every call, but a
// re-install is picked up at once.
func TestRefusedRefreshIsNotHammered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	stale := e.stored(t)
	if _, err := e.cfg.Refresh(context.Background(), stale.RefreshToken, oauth.Location); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(25 * time.Hour)
	src := e.source()
	before := e.srv.TokenRequests("refresh_token")
	for range 5 {
		if _, err := src.Token(); !errors.Is(err, oauth.ErrInvalidGrant) {
			t.Fatalf("err = %v", err)
		}
	}
	if n := e.srv.TokenRequests("refresh_token") - before; n != 1 {
		t.Errorf("5 calls sent %d refreshes of a dead token, want 1", n)
	}
	e.install(t, contactstest.Grant{UserType: contactstest.UserTypeLocation, LocationID: e.srv.LocationID(), Scopes: e.cfg.Scopes})
	if _, err := src.Token(); err != nil {
		t.Errorf("after a re-install: %v", err)
	}
}

// Token requests never follow redirects, which would re-send the client
// secret and refresh token to another host.
func TestTokenRequestsDoNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked.Store(true) }))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/oauth/token", http.StatusPermanentRedirect)
	}))
	defer redirector.Close()
	cfg := &oauth.Config{ClientID: "app-1", ClientSecret: "s3cret", BaseURL: redirector.URL}
	if _, err := cfg.Refresh(context.Background(), "rt-secret", oauth.Location); err == nil {
		t.Fatal("a redirect answered as success")
	}
	if leaked.Load() {
		t.Error("the token request followed the redirect")
	}
}

// TestRevokedAppFallsBackToAgency: WithAgencyFallback applies when the
// location's own refresh fails because the app was revoked or uninstalled
// (ErrAppRevoked, an ErrInvalidGrant): the location's token is obtained
// from the agency, stored without the refused refresh token. When the
// agency cannot serve the location either (the app is gone from it), the
// error still says the app was revoked, and the stored token is kept.
func TestRevokedAppFallsBackToAgency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	scopes := []string{contacts.ScopeContactsReadonly, contacts.ScopeContactsWrite, contacts.ScopeOAuthWrite}

	t.Run("the agency serves the location", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, scopes...)
		before := e.stored(t)
		agencyKey := e.install(t, contactstest.Grant{UserType: contactstest.UserTypeCompany, CompanyID: before.CompanyID, Scopes: scopes})
		e.clock.Advance(25 * time.Hour)
		// The token endpoint refuses the location's refresh token as
		// revoked by an uninstall; the agency's install still covers the
		// location.
		var refused, exchanged atomic.Int32
		base := e.cfg.HTTPClient.Transport
		cfg := *e.cfg
		cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			switch r.URL.Path {
			case "/oauth/token":
				body, _ := io.ReadAll(r.Body)
				if strings.Contains(string(body), "refresh_token="+before.RefreshToken) {
					refused.Add(1)
					return &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
						Body: io.NopCloser(strings.NewReader(`{"error":"invalid_grant","error_description":"` + contactstest.MsgAppUninstalled + `"}`))}, nil
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
			case "/oauth/locationToken":
				exchanged.Add(1)
			}
			return base.RoundTrip(r)
		})}
		// The refusal is classified as a revoked app.
		if _, err := cfg.Refresh(ctx, before.RefreshToken, oauth.Location); !errors.Is(err, oauth.ErrAppRevoked) {
			t.Fatalf("the simulated refusal is %v, want ErrAppRevoked", err)
		}
		got, err := oauth.NewSource(ctx, &cfg, e.store, e.key, oauth.WithClock(e.clock.Now), oauth.WithAgencyFallback(agencyKey)).Current(ctx)
		if err != nil {
			t.Fatalf("agency fallback after a revoked refresh: %v", err)
		}
		if refused.Load() != 2 || exchanged.Load() != 1 {
			t.Errorf("refused refreshes %d (want 2: ours and the source's), location token exchanges %d (want 1)", refused.Load(), exchanged.Load())
		}
		after := e.stored(t)
		if after.AccessToken != got.AccessToken || after.AccessToken == before.AccessToken || after.Version != before.Version+1 {
			t.Errorf("the exchanged token was not stored: %v (was %v), returned %v", after, before, got)
		}
		if after.RefreshToken != "" {
			t.Error("the revoked refresh token was kept after the fallback")
		}
		if after.UserType != oauth.Location || after.LocationID != e.srv.LocationID() || after.CompanyID != before.CompanyID {
			t.Errorf("stored token after the fallback: %v", after)
		}
		// The token works on the API.
		seeded := e.srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
		if _, err := e.srv.Client(contacts.WithToken(got.AccessToken)).Contacts.Get(ctx, seeded.ID); err != nil {
			t.Errorf("API call with the fallback token: %v", err)
		}
	})

	t.Run("the app is gone from the location", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, scopes...)
		before := e.stored(t)
		agencyKey := e.install(t, contactstest.Grant{UserType: contactstest.UserTypeCompany, CompanyID: before.CompanyID, Scopes: scopes})
		e.clock.Advance(25 * time.Hour)
		if err := e.srv.Uninstall(e.app.ClientID, e.srv.LocationID()); err != nil {
			t.Fatal(err)
		}
		var exchanged atomic.Int32
		base := e.cfg.HTTPClient.Transport
		cfg := *e.cfg
		cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/oauth/locationToken" {
				exchanged.Add(1)
			}
			return base.RoundTrip(r)
		})}
		src := oauth.NewSource(ctx, &cfg, e.store, e.key, oauth.WithClock(e.clock.Now), oauth.WithAgencyFallback(agencyKey))
		_, err := src.Current(ctx)
		if !errors.Is(err, oauth.ErrAppRevoked) || !errors.Is(err, oauth.ErrInvalidGrant) {
			t.Fatalf("err = %v, want ErrAppRevoked (and ErrInvalidGrant)", err)
		}
		if exchanged.Load() != 1 {
			t.Errorf("location token exchanges %d, want 1: the fallback applies to a revoked app", exchanged.Load())
		}
		// The next call at once gets the same answer without asking the
		// token endpoint again; after the back-off, it asks again.
		requests := len(e.srv.Requests())
		if _, err2 := src.Current(ctx); !errors.Is(err2, oauth.ErrAppRevoked) || len(e.srv.Requests()) != requests {
			t.Errorf("an immediate retry: err %v, %d more requests, want the remembered error and none", err2, len(e.srv.Requests())-requests)
		}
		e.clock.Advance(time.Minute)
		if _, err3 := src.Current(ctx); !errors.Is(err3, oauth.ErrAppRevoked) || exchanged.Load() != 2 {
			t.Errorf("after the back-off: err %v, %d exchanges, want ErrAppRevoked after a second exchange", err3, exchanged.Load())
		}
		if after := e.stored(t); after.RefreshToken != before.RefreshToken || after.Version != before.Version {
			t.Errorf("a failed fallback changed the stored token: %v, was %v", after, before)
		}
	})
}
