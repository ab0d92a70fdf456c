package oauth_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/oauth"
)

// TestConfigOAuth2 checks the *oauth2.Config equivalent: the API's
// authorization page (or its white-label twin), the token endpoint on
// BaseURL, and client credentials in the form body.
func TestConfigOAuth2(t *testing.T) {
	t.Parallel()
	scopes := []string{contacts.ScopeContactsReadonly, contacts.ScopeContactsWrite}
	for _, tt := range []struct {
		name       string
		whiteLabel bool
		baseURL    string
		wantAuth   string
		wantToken  string
	}{
		{"marketplace", false, "https://api.example.test", oauth.AuthURL, "https://api.example.test/oauth/token"},
		{"white label", true, "https://api.example.test/", oauth.WhiteLabelAuthURL, "https://api.example.test/oauth/token"},
		{"default base URL", false, "", oauth.AuthURL, contacts.DefaultBaseURL + "/oauth/token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &oauth.Config{ClientID: "app-1", ClientSecret: "s3cret", RedirectURL: "http://localhost/callback",
				Scopes: scopes, BaseURL: tt.baseURL, WhiteLabel: tt.whiteLabel}
			o := cfg.OAuth2()
			if o.Endpoint.AuthURL != tt.wantAuth {
				t.Errorf("AuthURL = %q, want %q", o.Endpoint.AuthURL, tt.wantAuth)
			}
			if o.Endpoint.TokenURL != tt.wantToken {
				t.Errorf("TokenURL = %q, want %q", o.Endpoint.TokenURL, tt.wantToken)
			}
			if o.Endpoint.AuthStyle != oauth2.AuthStyleInParams {
				t.Errorf("AuthStyle = %v, want AuthStyleInParams (the API refuses credentials in a header)", o.Endpoint.AuthStyle)
			}
			if o.ClientID != cfg.ClientID || o.ClientSecret != cfg.ClientSecret || o.RedirectURL != cfg.RedirectURL ||
				!slices.Equal(o.Scopes, scopes) {
				t.Errorf("credentials, redirect or scopes not carried over: %q %q %v", o.ClientID, o.RedirectURL, o.Scopes)
			}

			// AuthCodeURL sends the user to that page with the request.
			u, err := url.Parse(cfg.AuthCodeURL("state-123"))
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if page := u.Scheme + "://" + u.Host + u.Path; page != tt.wantAuth {
				t.Errorf("AuthCodeURL page = %q, want %q", page, tt.wantAuth)
			}
			for name, want := range map[string]string{
				"response_type": "code", "client_id": "app-1", "redirect_uri": "http://localhost/callback",
				"scope": strings.Join(scopes, " "), "state": "state-123",
			} {
				if got := q.Get(name); got != want {
					t.Errorf("AuthCodeURL %s = %q, want %q", name, got, want)
				}
			}
			if strings.Contains(u.String(), "s3cret") {
				t.Error("AuthCodeURL carries the client secret")
			}
		})
	}
}

// TestConfigOAuth2Exchange: x/oauth2's own Exchange works against the API
// with the config OAuth2 returns, in one request. The fake refuses client
// credentials in a Basic header, so a header style fails and auto-detection
// costs a second request.
func TestConfigOAuth2Exchange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	code, err := e.srv.AuthorizationCode(e.app.ClientID, contactstest.Grant{
		UserType: contactstest.UserTypeLocation, LocationID: e.srv.LocationID(), Scopes: e.cfg.Scopes, RedirectURI: e.cfg.RedirectURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.srv.HTTPClient())
	before := e.srv.TokenRequests("authorization_code")
	tok, err := e.cfg.OAuth2().Exchange(ctx, code)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if n := e.srv.TokenRequests("authorization_code") - before; n != 1 {
		t.Errorf("Exchange made %d token requests, want 1", n)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Errorf("exchanged token lacks a field: access %t, refresh %t, expiry %v",
			tok.AccessToken != "", tok.RefreshToken != "", tok.Expiry)
	}
	if loc, _ := tok.Extra("locationId").(string); loc != e.srv.LocationID() {
		t.Errorf("locationId = %q, want %q", loc, e.srv.LocationID())
	}
	// The access token works on the API.
	seeded := e.srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	client := e.srv.Client(contacts.WithTokenSource(oauth2.StaticTokenSource(tok)))
	if _, err := client.Contacts.Get(context.Background(), seeded.ID); err != nil {
		t.Errorf("API call with the exchanged token: %v", err)
	}
}

// tokenForm is one POST /oauth/token request as the server received it.
type tokenForm struct {
	contentType, authorization string
	raw                        string
	form                       url.Values
}

// TestTokenRequestForm: the authorization-code exchange and every refresh
// (direct, and by a Source from the stored token's user type) send
// user_type as configured, with the client credentials form-encoded in the
// body, never in a header.
func TestTokenRequestForm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := contactstest.NewManualClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	srv := contactstest.NewServer(contactstest.WithClock(clock), contactstest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	// A secret with characters that only survive proper form encoding.
	const secret = "s3cr&t+/=%20?#é"
	app := srv.RegisterApp(contactstest.App{ClientSecret: secret, RedirectURIs: []string{"http://localhost/callback"}})
	var mu sync.Mutex
	var sent []tokenForm
	base := srv.HTTPClient().Transport
	cfg := &oauth.Config{
		ClientID: app.ClientID, ClientSecret: secret, RedirectURL: "http://localhost/callback",
		Scopes: []string{contacts.ScopeContactsReadonly}, BaseURL: srv.URL, Now: clock.Now,
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/oauth/token" {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					return nil, err
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				form, err := url.ParseQuery(string(body))
				if err != nil {
					t.Errorf("the token request body is not form-encoded: %v", err)
				}
				mu.Lock()
				sent = append(sent, tokenForm{r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(body), form})
				mu.Unlock()
			}
			return base.RoundTrip(r)
		})},
	}
	last := func(t *testing.T) tokenForm {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(sent) == 0 {
			t.Fatal("no token request was sent")
		}
		f := sent[len(sent)-1]
		sent = nil
		return f
	}
	check := func(t *testing.T, f tokenForm, want map[string]string) {
		t.Helper()
		if f.contentType != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type %q, want application/x-www-form-urlencoded", f.contentType)
		}
		if f.authorization != "" {
			t.Error("the token request carries an Authorization header: credentials go in the form")
		}
		want["client_id"], want["client_secret"] = app.ClientID, secret
		for name, v := range want {
			if got := f.form[name]; len(got) != 1 || got[0] != v {
				t.Errorf("form %s = %q, want exactly %q", name, got, v)
			}
		}
		if strings.Contains(f.raw, secret) {
			t.Error("the client secret is in the body unencoded")
		}
		if enc := url.QueryEscape(secret); !strings.Contains(f.raw, "client_secret="+enc) {
			t.Errorf("the body lacks client_secret=%s", enc)
		}
	}

	var company string
	for _, tt := range []struct {
		name     string
		userType oauth.UserType
	}{{"location", oauth.Location}, {"company", oauth.Company}} {
		t.Run(tt.name, func(t *testing.T) {
			g := contactstest.Grant{UserType: string(tt.userType), CompanyID: company, RedirectURI: cfg.RedirectURL, Scopes: cfg.Scopes}
			if tt.userType == oauth.Location {
				g.LocationID = srv.LocationID()
			}
			code, err := srv.AuthorizationCode(app.ClientID, g)
			if err != nil {
				t.Fatal(err)
			}
			store := oauth.NewMemoryStore()
			key, tok, err := oauth.Install(ctx, cfg, store, code, tt.userType)
			if err != nil {
				t.Fatal(err)
			}
			company = tok.CompanyID
			check(t, last(t), map[string]string{"grant_type": "authorization_code", "code": code,
				"redirect_uri": cfg.RedirectURL, "user_type": string(tt.userType)})

			// A Source refreshes the stored token with its user type.
			clock.Advance(25 * time.Hour)
			if _, err := oauth.NewSource(ctx, cfg, store, key, oauth.WithClock(clock.Now)).Current(ctx); err != nil {
				t.Fatal(err)
			}
			check(t, last(t), map[string]string{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken, "user_type": string(tt.userType)})

			// And so does Refresh itself.
			stored, err := store.Load(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cfg.Refresh(ctx, stored.RefreshToken, tt.userType); err != nil {
				t.Fatal(err)
			}
			check(t, last(t), map[string]string{"grant_type": "refresh_token", "refresh_token": stored.RefreshToken, "user_type": string(tt.userType)})
		})
	}
}
