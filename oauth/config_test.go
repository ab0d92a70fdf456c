package oauth_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

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
