package contactstest_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"golang.org/x/oauth2"
)

const oauthRedirect = "https://app.example.com/oauth/callback"

// oauthReply is a decoded answer of the fake.
type oauthReply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r oauthReply) str(key string) string { s, _ := r.body[key].(string); return s }

// oauthDo makes a raw request to the server.
func oauthDo(t *testing.T, srv *contactstest.Server, method, path, contentType, body string, header map[string]string) oauthReply {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := oauthReply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %q", method, path, raw)
	}
	if r.str("traceId") == "" {
		t.Errorf("%s %s: no traceId in %s", method, path, raw)
	}
	return r
}

// oauthPostToken posts a form to /oauth/token.
func oauthPostToken(t *testing.T, srv *contactstest.Server, form url.Values) oauthReply {
	t.Helper()
	return oauthDo(t, srv, http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", form.Encode(), nil)
}

// oauthCodeForm is the form exchanging code for app.
func oauthCodeForm(app contactstest.App, code string) url.Values {
	return url.Values{
		"client_id": {app.ClientID}, "client_secret": {app.ClientSecret},
		"grant_type": {"authorization_code"}, "code": {code}, "user_type": {"Location"},
	}
}

// oauthRefreshForm is the form refreshing rt for app.
func oauthRefreshForm(app contactstest.App, rt string) url.Values {
	return url.Values{
		"client_id": {app.ClientID}, "client_secret": {app.ClientSecret},
		"grant_type": {"refresh_token"}, "refresh_token": {rt},
	}
}

// oauthGetContact reads a contact with a bearer token.
func oauthGetContact(t *testing.T, srv *contactstest.Server, tok, id string) oauthReply {
	t.Helper()
	return oauthDo(t, srv, http.MethodGet, "/contacts/"+id, "", "", map[string]string{
		"Authorization": "Bearer " + tok, "Version": contactstest.APIVersion,
	})
}

// oauthInstall registers an app, installs it with g and exchanges the code; it
// returns the token endpoint's answer.
func oauthInstall(t *testing.T, srv *contactstest.Server, app contactstest.App, g contactstest.Grant) oauthReply {
	t.Helper()
	code, err := srv.AuthorizationCode(app.ClientID, g)
	if err != nil {
		t.Fatal(err)
	}
	form := oauthCodeForm(app, code)
	form.Set("user_type", cmp.Or(g.UserType, contactstest.UserTypeLocation))
	if g.RedirectURI != "" {
		form.Set("redirect_uri", g.RedirectURI)
	}
	r := oauthPostToken(t, srv, form)
	if r.status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	return r
}

// oauthExpectError checks an error answer of the token endpoint.
func oauthExpectError(t *testing.T, r oauthReply, status int, code, desc string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d error %q", r.status, r.raw, status, code)
	}
	if desc != "" && (r.str("error_description") != desc || r.str("message") != desc) {
		t.Errorf("description/message = %q/%q, want %q", r.str("error_description"), r.str("message"), desc)
	}
	if got, _ := r.body["statusCode"].(float64); int(got) != status {
		t.Errorf("statusCode = %v, want %d", r.body["statusCode"], status)
	}
}

func oauthManualServer(t *testing.T) (*contactstest.Server, *contactstest.ManualClock) {
	t.Helper()
	clock := contactstest.NewManualClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	srv := contactstest.NewServer(contactstest.WithClock(clock))
	t.Cleanup(srv.Close)
	return srv, clock
}

func TestOAuthAuthorizationCodeExchange(t *testing.T) {
	tests := []struct {
		name string
		// prepare may change the form or the server before the exchange.
		prepare    func(t *testing.T, srv *contactstest.Server, clock *contactstest.ManualClock, app contactstest.App, form url.Values)
		status     int
		errCode    string
		errMessage string
	}{
		{name: "success", status: http.StatusOK},
		{
			name: "without user_type",
			prepare: func(_ *testing.T, _ *contactstest.Server, _ *contactstest.ManualClock, _ contactstest.App, f url.Values) {
				f.Del("user_type")
			},
			status: http.StatusOK,
		},
		{
			name: "just before expiry",
			prepare: func(_ *testing.T, _ *contactstest.Server, clock *contactstest.ManualClock, _ contactstest.App, _ url.Values) {
				clock.Advance(contactstest.AuthorizationCodeTTL - time.Second)
			},
			status: http.StatusOK,
		},
		{
			name: "wrong secret",
			prepare: func(_ *testing.T, _ *contactstest.Server, _ *contactstest.ManualClock, _ contactstest.App, f url.Values) {
				f.Set("client_secret", "not-the-secret")
			},
			status: http.StatusUnauthorized, errCode: "invalid_client",
		},
		{
			name: "unknown client",
			prepare: func(_ *testing.T, _ *contactstest.Server, _ *contactstest.ManualClock, _ contactstest.App, f url.Values) {
				f.Set("client_id", "nobody-x")
			},
			status: http.StatusUnauthorized, errCode: "invalid_client",
		},
		{
			name: "reused code",
			prepare: func(t *testing.T, srv *contactstest.Server, _ *contactstest.ManualClock, _ contactstest.App, f url.Values) {
				if r := oauthPostToken(t, srv, f); r.status != http.StatusOK {
					t.Fatalf("first exchange: %d %s", r.status, r.raw)
				}
			},
			status: http.StatusBadRequest, errCode: "invalid_grant", errMessage: contactstest.MsgAuthorizationCodeInvalid,
		},
		{
			name: "expired code",
			prepare: func(_ *testing.T, _ *contactstest.Server, clock *contactstest.ManualClock, _ contactstest.App, _ url.Values) {
				clock.Advance(contactstest.AuthorizationCodeTTL)
			},
			status: http.StatusBadRequest, errCode: "invalid_grant", errMessage: contactstest.MsgAuthorizationCodeInvalid,
		},
		{
			name: "unknown code",
			prepare: func(_ *testing.T, _ *contactstest.Server, _ *contactstest.ManualClock, _ contactstest.App, f url.Values) {
				f.Set("code", "0123456789abcdef")
			},
			status: http.StatusBadRequest, errCode: "invalid_grant", errMessage: contactstest.MsgAuthorizationCodeInvalid,
		},
		{
			name: "code of another app",
			prepare: func(_ *testing.T, srv *contactstest.Server, _ *contactstest.ManualClock, _ contactstest.App, f url.Values) {
				other := srv.RegisterApp(contactstest.App{})
				f.Set("client_id", other.ClientID)
				f.Set("client_secret", other.ClientSecret)
			},
			status: http.StatusBadRequest, errCode: "invalid_grant",
		},
		{
			name: "redirect mismatch",
			prepare: func(_ *testing.T, _ *contactstest.Server, _ *contactstest.ManualClock, _ contactstest.App, f url.Values) {
				f.Set("redirect_uri", "https://evil.example.com/cb")
			},
			status: http.StatusBadRequest, errCode: "invalid_grant",
		},
		{
			name: "redirect missing",
			prepare: func(_ *testing.T, _ *contactstest.Server, _ *contactstest.ManualClock, _ contactstest.App, f url.Values) {
				f.Del("redirect_uri")
			},
			status: http.StatusBadRequest, errCode: "invalid_grant",
		},
		{
			name: "user_type mismatch",
			prepare: func(_ *testing.T, _ *contactstest.Server, _ *contactstest.ManualClock, _ contactstest.App, f url.Values) {
				f.Set("user_type", "Company")
			},
			status: http.StatusBadRequest, errCode: "invalid_request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, clock := oauthManualServer(t)
			app := srv.RegisterApp(contactstest.App{RedirectURIs: []string{oauthRedirect}, Scopes: []string{contactstest.ScopeContactsRead, contactstest.ScopeContactsWrite}})
			code, err := srv.AuthorizationCode(app.ClientID, contactstest.Grant{RedirectURI: oauthRedirect, PlanID: "plan-1"})
			if err != nil {
				t.Fatal(err)
			}
			form := oauthCodeForm(app, code)
			form.Set("redirect_uri", oauthRedirect)
			if tt.prepare != nil {
				tt.prepare(t, srv, clock, app, form)
			}
			r := oauthPostToken(t, srv, form)
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
			}
			for _, secret := range []string{form.Get("client_secret"), app.ClientSecret, code} {
				if strings.Contains(r.raw, secret) {
					t.Errorf("answer leaks a secret: %s", r.raw)
				}
			}
			if tt.status != http.StatusOK {
				oauthExpectError(t, r, tt.status, tt.errCode, tt.errMessage)
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			want := map[string]any{
				"token_type": "Bearer", "expires_in": float64(86399), "scope": "contacts.readonly contacts.write",
				"userType": "Location", "locationId": srv.LocationID(), "planId": "plan-1", "isBulkInstallation": false,
			}
			for k, v := range want {
				if r.body[k] != v {
					t.Errorf("%s = %v, want %v", k, r.body[k], v)
				}
			}
			for _, k := range []string{"access_token", "refresh_token", "companyId", "userId"} {
				if r.str(k) == "" {
					t.Errorf("%s missing in %s", k, r.raw)
				}
			}
			ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
			if got := oauthGetContact(t, srv, r.str("access_token"), ct.ID); got.status != http.StatusOK {
				t.Errorf("issued token on GET /contacts/{id}: %d %s", got.status, got.raw)
			}
		})
	}
}

func TestOAuthAuthorizationCodeHelperErrors(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	other := srv.AddLocation("", "other-company", contactstest.LocationSettings{})
	app := srv.RegisterApp(contactstest.App{RedirectURIs: []string{oauthRedirect}, Scopes: []string{contactstest.ScopeContactsRead}})
	tests := []struct {
		name     string
		clientID string
		g        contactstest.Grant
	}{
		{"unknown app", "nope", contactstest.Grant{}},
		{"unknown location", app.ClientID, contactstest.Grant{LocationID: "missing"}},
		{"company mismatch", app.ClientID, contactstest.Grant{LocationID: other, CompanyID: "someone-else"}},
		{"scope not granted to app", app.ClientID, contactstest.Grant{Scopes: []string{contactstest.ScopeContactsWrite}}},
		{"unregistered redirect", app.ClientID, contactstest.Grant{RedirectURI: "https://elsewhere.example.com"}},
		{"bad user type", app.ClientID, contactstest.Grant{UserType: "Agency"}},
		{"company grant with location", app.ClientID, contactstest.Grant{UserType: contactstest.UserTypeCompany, LocationID: other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, err := srv.AuthorizationCode(tt.clientID, tt.g); err == nil {
				t.Fatalf("got code %q, want an error", code)
			}
		})
	}
}

func TestOAuthAppFormattingRedactsSecret(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	app := srv.RegisterApp(contactstest.App{})
	if app.ClientID == "" || app.ClientSecret == "" || !strings.Contains(app.ClientID, "-") {
		t.Fatalf("generated credentials: %v", app)
	}
	for _, s := range []string{fmt.Sprint(app), fmt.Sprintf("%+v", app), fmt.Sprintf("%#v", app)} {
		if strings.Contains(s, app.ClientSecret) || !strings.Contains(s, app.ClientID) {
			t.Errorf("formatted app %q", s)
		}
	}
}

// oauthConfig is an x/oauth2 configuration for app against srv.
func oauthConfig(srv *contactstest.Server, app contactstest.App, style oauth2.AuthStyle) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     app.ClientID,
		ClientSecret: app.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: srv.URL + "/oauth/token", AuthStyle: style},
		RedirectURL:  oauthRedirect,
	}
}

func oauthContext(srv *contactstest.Server) context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, srv.HTTPClient())
}

func TestOAuthRefreshRotationWithOAuth2(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	ctx := oauthContext(srv)
	app := srv.RegisterApp(contactstest.App{RedirectURIs: []string{oauthRedirect}})
	cfg := oauthConfig(srv, app, oauth2.AuthStyleInParams)
	code, err := srv.AuthorizationCode(app.ClientID, contactstest.Grant{RedirectURI: oauthRedirect, Scopes: []string{contactstest.ScopeContactsRead}})
	if err != nil {
		t.Fatal(err)
	}
	first, err := cfg.Exchange(ctx, code, oauth2.SetAuthURLParam("user_type", "Location"))
	if err != nil {
		t.Fatal(err)
	}
	if first.RefreshToken == "" || first.ExpiresIn != 86399 || first.Extra("locationId") != srv.LocationID() {
		t.Fatalf("exchange: %+v", first)
	}

	second, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	// The refresh keeps the grant.
	for k, v := range map[string]any{"scope": "contacts.readonly", "userType": "Location", "locationId": srv.LocationID(), "companyId": first.Extra("companyId"), "userId": first.Extra("userId")} {
		if second.Extra(k) != v {
			t.Errorf("refreshed %s = %v, want %v", k, second.Extra(k), v)
		}
	}
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	for name, tok := range map[string]string{"new": second.AccessToken, "previous": first.AccessToken} {
		if r := oauthGetContact(t, srv, tok, ct.ID); r.status != http.StatusOK {
			t.Errorf("%s access token: %d %s", name, r.status, r.raw)
		}
	}

	// The old refresh token is dead, exactly as x/oauth2 reports it.
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("reusing the refresh token: %v, want *oauth2.RetrieveError", err)
	}
	if re.ErrorCode != "invalid_grant" || re.ErrorDescription != contactstest.MsgRefreshTokenInvalid || re.Response.StatusCode != http.StatusBadRequest {
		t.Errorf("RetrieveError = %q %q %d", re.ErrorCode, re.ErrorDescription, re.Response.StatusCode)
	}
	if strings.Contains(err.Error(), first.RefreshToken) || strings.Contains(err.Error(), app.ClientSecret) {
		t.Error("error leaks a secret")
	}
	// A failed reuse does not hurt the live one.
	third, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: second.RefreshToken}).Token()
	if err != nil || third.RefreshToken == second.RefreshToken {
		t.Fatalf("refreshing the rotated token: %v", err)
	}
	if got := srv.TokenRequests("refresh_token"); got != 3 {
		t.Errorf("TokenRequests(refresh_token) = %d, want 3", got)
	}
	if got := srv.TokenRequests("authorization_code"); got != 1 {
		t.Errorf("TokenRequests(authorization_code) = %d, want 1", got)
	}
}

func TestOAuthSDKRefreshesExactlyOnce(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	ctx := oauthContext(srv)
	app := srv.RegisterApp(contactstest.App{})
	r := oauthInstall(t, srv, app, contactstest.Grant{})
	cfg := oauthConfig(srv, app, oauth2.AuthStyleInParams)
	// An expired token: the source must refresh before the first call.
	ts := cfg.TokenSource(ctx, &oauth2.Token{AccessToken: r.str("access_token"), RefreshToken: r.str("refresh_token"), Expiry: time.Now().Add(-time.Minute)})
	c := srv.Client(contacts.WithTokenSource(ts))
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	for range 5 {
		if _, err := c.Contacts.Get(context.Background(), ct.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.TokenRequests("refresh_token"); got != 1 {
		t.Errorf("refreshes = %d, want exactly 1", got)
	}
}

func TestOAuthAccessTokenExpiry(t *testing.T) {
	srv, clock := oauthManualServer(t)
	app := srv.RegisterApp(contactstest.App{})
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})

	day := oauthInstall(t, srv, app, contactstest.Grant{}).str("access_token")
	srv.SetAccessTokenTTL(time.Minute)
	short := oauthInstall(t, srv, app, contactstest.Grant{})
	if short.body["expires_in"] != float64(60) {
		t.Fatalf("expires_in = %v, want 60", short.body["expires_in"])
	}
	minute := short.str("access_token")

	check := func(tok string, wantStatus int) {
		t.Helper()
		r := oauthGetContact(t, srv, tok, ct.ID)
		if r.status != wantStatus {
			t.Fatalf("at %v: %d %s, want %d", clock.Now(), r.status, r.raw, wantStatus)
		}
		if wantStatus == http.StatusUnauthorized && r.str("message") != "Invalid JWT: access token has expired" {
			t.Errorf("message = %q", r.str("message"))
		}
	}
	check(minute, http.StatusOK)
	clock.Advance(59 * time.Second)
	check(minute, http.StatusOK)
	clock.Advance(time.Second)
	check(minute, http.StatusUnauthorized)
	check(day, http.StatusOK)
	clock.Advance(86399*time.Second - time.Minute)
	check(day, http.StatusUnauthorized)

	// Through the SDK: ErrUnauthorized.
	_, err := srv.Client(contacts.WithToken(day)).Contacts.Get(context.Background(), ct.ID)
	if !errors.Is(err, contacts.ErrUnauthorized) {
		t.Errorf("SDK with an expired token: %v", err)
	}
	// The refresh token outlives the access token.
	srv.SetAccessTokenTTL(0)
	r := oauthPostToken(t, srv, oauthRefreshForm(app, short.str("refresh_token")))
	if r.status != http.StatusOK || r.body["expires_in"] != float64(86399) {
		t.Fatalf("refresh after expiry: %d %s", r.status, r.raw)
	}
	check(r.str("access_token"), http.StatusOK)
}

func TestOAuthIssuedTokenScopes(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	app := srv.RegisterApp(contactstest.App{})
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	ctx := context.Background()

	tests := []struct {
		name      string
		scopes    []string
		readErr   bool
		writeErr  bool
		wantScope string
	}{
		{"read only", []string{contactstest.ScopeContactsRead}, false, true, "contacts.readonly"},
		{"write only", []string{contactstest.ScopeContactsWrite}, true, false, "contacts.write"},
		{"both", []string{contactstest.ScopeContactsRead, contactstest.ScopeContactsWrite}, false, false, "contacts.readonly contacts.write"},
		{"oauth only", []string{contactstest.ScopeOAuthRead}, true, true, "oauth.readonly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := oauthInstall(t, srv, app, contactstest.Grant{Scopes: tt.scopes})
			if r.str("scope") != tt.wantScope {
				t.Errorf("scope = %q, want %q", r.str("scope"), tt.wantScope)
			}
			// The refreshed token carries the same scopes.
			rr := oauthPostToken(t, srv, oauthRefreshForm(app, r.str("refresh_token")))
			if rr.status != http.StatusOK || rr.str("scope") != tt.wantScope {
				t.Fatalf("refresh: %d %s", rr.status, rr.raw)
			}
			for _, tok := range []string{r.str("access_token"), rr.str("access_token")} {
				c := srv.Client(contacts.WithToken(tok))
				_, err := c.Contacts.Get(ctx, ct.ID)
				oauthCheckScopeErr(t, "read", err, tt.readErr)
				_, err = c.Tags.Add(ctx, ct.ID, []string{"vip"})
				oauthCheckScopeErr(t, "write", err, tt.writeErr)
			}
		})
	}
}

func oauthCheckScopeErr(t *testing.T, op string, err error, want bool) {
	t.Helper()
	if !want {
		if err != nil {
			t.Errorf("%s: %v", op, err)
		}
		return
	}
	var ae *contacts.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized || ae.Message() != "The token is not authorized for this scope." {
		t.Errorf("%s: %v, want 401 The token is not authorized for this scope.", op, err)
	}
}

func TestOAuthLocationNotActive(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	app := srv.RegisterApp(contactstest.App{})
	r := oauthInstall(t, srv, app, contactstest.Grant{})
	rt := r.str("refresh_token")
	code, err := srv.AuthorizationCode(app.ClientID, contactstest.Grant{})
	if err != nil {
		t.Fatal(err)
	}

	if err := srv.SetLocationActive(srv.LocationID(), false); err != nil {
		t.Fatal(err)
	}
	for range 2 { // refusing consumes nothing
		got := oauthPostToken(t, srv, oauthRefreshForm(app, rt))
		if got.status != http.StatusBadRequest || got.str("message") != contactstest.MsgLocationNotActive {
			t.Fatalf("refresh while inactive: %d %s", got.status, got.raw)
		}
		got = oauthPostToken(t, srv, oauthCodeForm(app, code))
		if got.status != http.StatusBadRequest || got.str("message") != contactstest.MsgLocationNotActive {
			t.Fatalf("exchange while inactive: %d %s", got.status, got.raw)
		}
	}
	// Tokens already issued keep working.
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	if got := oauthGetContact(t, srv, r.str("access_token"), ct.ID); got.status != http.StatusOK {
		t.Errorf("issued token while inactive: %d %s", got.status, got.raw)
	}

	if err := srv.SetLocationActive(srv.LocationID(), true); err != nil {
		t.Fatal(err)
	}
	if got := oauthPostToken(t, srv, oauthRefreshForm(app, rt)); got.status != http.StatusOK {
		t.Fatalf("refresh once active again: %d %s", got.status, got.raw)
	}
	if got := oauthPostToken(t, srv, oauthCodeForm(app, code)); got.status != http.StatusOK {
		t.Fatalf("exchange once active again: %d %s", got.status, got.raw)
	}
	if err := srv.SetLocationActive("missing", false); err == nil {
		t.Error("SetLocationActive of an unknown location: no error")
	}
}

func TestOAuthUninstall(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	app := srv.RegisterApp(contactstest.App{})
	other := srv.AddLocation("", "", contactstest.LocationSettings{})
	here := oauthInstall(t, srv, app, contactstest.Grant{})
	there := oauthInstall(t, srv, app, contactstest.Grant{LocationID: other})
	ctHere := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	ctThere := srv.SeedContact(contactstest.Contact{FirstName: "Bo", LocationID: other})
	// A refreshed pair: both generations of access token must die.
	refreshed := oauthPostToken(t, srv, oauthRefreshForm(app, here.str("refresh_token")))
	if refreshed.status != http.StatusOK {
		t.Fatal(refreshed.raw)
	}

	if err := srv.Uninstall(app.ClientID, srv.LocationID()); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{here.str("access_token"), refreshed.str("access_token")} {
		if r := oauthGetContact(t, srv, tok, ctHere.ID); r.status != http.StatusUnauthorized || r.str("message") != "Invalid token: access token is invalid" {
			t.Errorf("token after uninstall: %d %s", r.status, r.raw)
		}
	}
	r := oauthPostToken(t, srv, oauthRefreshForm(app, refreshed.str("refresh_token")))
	oauthExpectError(t, r, http.StatusBadRequest, "invalid_grant", contactstest.MsgAppUninstalled)

	// The other location keeps the app.
	if r := oauthGetContact(t, srv, there.str("access_token"), ctThere.ID); r.status != http.StatusOK {
		t.Errorf("other location's token: %d %s", r.status, r.raw)
	}
	if r := oauthPostToken(t, srv, oauthRefreshForm(app, there.str("refresh_token"))); r.status != http.StatusOK {
		t.Errorf("other location's refresh: %d %s", r.status, r.raw)
	}
	// Reinstalling works.
	again := oauthInstall(t, srv, app, contactstest.Grant{})
	if r := oauthGetContact(t, srv, again.str("access_token"), ctHere.ID); r.status != http.StatusOK {
		t.Errorf("token after reinstall: %d %s", r.status, r.raw)
	}

	if err := srv.Uninstall("nope", srv.LocationID()); err == nil {
		t.Error("Uninstall of an unknown app: no error")
	}
	if err := srv.Uninstall(app.ClientID, "nowhere"); err == nil {
		t.Error("Uninstall of an unknown location: no error")
	}
}

// oauthAgency is a server with company "co-1" owning two locations and
// company "co-2" owning one, an app installed on co-1 at agency level and
// its agency token.
type oauthAgency struct {
	srv         *contactstest.Server
	clock       *contactstest.ManualClock
	app         contactstest.App
	loc1, loc2  string
	foreign     string
	agency      oauthReply
	agencyToken string
}

func newOAuthAgency(t *testing.T) *oauthAgency {
	t.Helper()
	srv, clock := oauthManualServer(t)
	a := &oauthAgency{srv: srv, clock: clock}
	a.loc1 = srv.AddLocation("", "co-1", contactstest.LocationSettings{})
	a.loc2 = srv.AddLocation("", "co-1", contactstest.LocationSettings{})
	a.foreign = srv.AddLocation("", "co-2", contactstest.LocationSettings{})
	a.app = srv.RegisterApp(contactstest.App{})
	a.agency = oauthInstall(t, srv, a.app, contactstest.Grant{UserType: contactstest.UserTypeCompany, CompanyID: "co-1", UserID: "user-1"})
	a.agencyToken = a.agency.str("access_token")
	return a
}

func (a *oauthAgency) locationToken(t *testing.T, bearer, companyID, locationID string) oauthReply {
	t.Helper()
	form := url.Values{"companyId": {companyID}, "locationId": {locationID}}
	return oauthDo(t, a.srv, http.MethodPost, "/oauth/locationToken", "application/x-www-form-urlencoded", form.Encode(),
		map[string]string{"Authorization": "Bearer " + bearer, "Version": contactstest.APIVersion})
}

func TestOAuthAgencyToken(t *testing.T) {
	a := newOAuthAgency(t)
	r := a.agency
	if r.str("userType") != "Company" || r.str("companyId") != "co-1" || r.str("userId") != "user-1" {
		t.Errorf("agency token answer: %s", r.raw)
	}
	if _, ok := r.body["locationId"]; ok {
		t.Errorf("agency answer has a locationId: %s", r.raw)
	}
	approved, _ := r.body["approvedLocations"].([]any)
	want := []string{a.loc1, a.loc2}
	slices.Sort(want)
	if len(approved) != 2 || approved[0] != want[0] || approved[1] != want[1] {
		t.Errorf("approvedLocations = %v, want %v", approved, want)
	}
	// The contacts endpoints refuse agency tokens.
	ct := a.srv.SeedContact(contactstest.Contact{FirstName: "Ana", LocationID: a.loc1})
	if got := oauthGetContact(t, a.srv, a.agencyToken, ct.ID); got.status != http.StatusUnauthorized {
		t.Errorf("agency token on contacts: %d %s", got.status, got.raw)
	}
	// An agency refresh keeps the user type.
	rr := oauthPostToken(t, a.srv, url.Values{
		"client_id": {a.app.ClientID}, "client_secret": {a.app.ClientSecret}, "grant_type": {"refresh_token"},
		"refresh_token": {r.str("refresh_token")}, "user_type": {"Company"},
	})
	if rr.status != http.StatusOK || rr.str("userType") != "Company" || rr.str("companyId") != "co-1" {
		t.Errorf("agency refresh: %d %s", rr.status, rr.raw)
	}
}

func TestOAuthLocationTokenExchange(t *testing.T) {
	a := newOAuthAgency(t)
	r := a.locationToken(t, a.agencyToken, "co-1", a.loc1)
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	for k, v := range map[string]any{
		"token_type": "Bearer", "expires_in": float64(86399), "locationId": a.loc1, "userId": "user-1",
		"scope": a.agency.str("scope"), "appId": strings.SplitN(a.app.ClientID, "-", 2)[0],
	} {
		if r.body[k] != v {
			t.Errorf("%s = %v, want %v", k, r.body[k], v)
		}
	}
	if _, ok := r.body["refresh_token"]; ok {
		t.Errorf("location token answer carries a refresh_token: %s", r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
	ct := a.srv.SeedContact(contactstest.Contact{FirstName: "Ana", LocationID: a.loc1})
	if got := oauthGetContact(t, a.srv, r.str("access_token"), ct.ID); got.status != http.StatusOK {
		t.Errorf("location token on its location: %d %s", got.status, got.raw)
	}
	other := a.srv.SeedContact(contactstest.Contact{FirstName: "Bo", LocationID: a.loc2})
	if got := oauthGetContact(t, a.srv, r.str("access_token"), other.ID); got.status != http.StatusForbidden {
		t.Errorf("location token on another location: %d %s", got.status, got.raw)
	}
	// Uninstalling the app from the location kills the derived token.
	if err := a.srv.Uninstall(a.app.ClientID, a.loc1); err != nil {
		t.Fatal(err)
	}
	if got := oauthGetContact(t, a.srv, r.str("access_token"), ct.ID); got.status != http.StatusUnauthorized {
		t.Errorf("location token after uninstall: %d %s", got.status, got.raw)
	}
}

func TestOAuthLocationTokenErrors(t *testing.T) {
	tests := []struct {
		name string
		// do sends the request; it may change the setup first.
		do      func(t *testing.T, a *oauthAgency) oauthReply
		status  int
		message string
	}{
		{
			name:   "no bearer",
			do:     func(t *testing.T, a *oauthAgency) oauthReply { return a.locationToken(t, "", "co-1", a.loc1) },
			status: http.StatusUnauthorized, message: "Invalid token: access token is invalid",
		},
		{
			name:   "unknown bearer",
			do:     func(t *testing.T, a *oauthAgency) oauthReply { return a.locationToken(t, "at-nope", "co-1", a.loc1) },
			status: http.StatusUnauthorized, message: "Invalid token: access token is invalid",
		},
		{
			name: "location token as bearer",
			do: func(t *testing.T, a *oauthAgency) oauthReply {
				loc := oauthInstall(t, a.srv, a.app, contactstest.Grant{LocationID: a.loc1})
				return a.locationToken(t, loc.str("access_token"), "co-1", a.loc1)
			},
			status: http.StatusUnauthorized,
		},
		{
			name: "agency token without oauth.write",
			do: func(t *testing.T, a *oauthAgency) oauthReply {
				ro := oauthInstall(t, a.srv, a.app, contactstest.Grant{UserType: contactstest.UserTypeCompany, CompanyID: "co-1", Scopes: []string{contactstest.ScopeOAuthRead}})
				return a.locationToken(t, ro.str("access_token"), "co-1", a.loc1)
			},
			status: http.StatusUnauthorized, message: "The token is not authorized for this scope.",
		},
		{
			name: "expired agency token",
			do: func(t *testing.T, a *oauthAgency) oauthReply {
				a.clock.Advance(contactstest.DefaultAccessTokenTTL)
				return a.locationToken(t, a.agencyToken, "co-1", a.loc1)
			},
			status: http.StatusUnauthorized, message: "Invalid JWT: access token has expired",
		},
		{
			name: "no version header",
			do: func(t *testing.T, a *oauthAgency) oauthReply {
				return oauthDo(t, a.srv, http.MethodPost, "/oauth/locationToken", "application/x-www-form-urlencoded",
					url.Values{"companyId": {"co-1"}, "locationId": {a.loc1}}.Encode(),
					map[string]string{"Authorization": "Bearer " + a.agencyToken})
			},
			status: http.StatusBadRequest,
		},
		{
			name: "JSON body",
			do: func(t *testing.T, a *oauthAgency) oauthReply {
				return oauthDo(t, a.srv, http.MethodPost, "/oauth/locationToken", "application/json",
					fmt.Sprintf(`{"companyId":"co-1","locationId":%q}`, a.loc1),
					map[string]string{"Authorization": "Bearer " + a.agencyToken, "Version": contactstest.APIVersion})
			},
			status: http.StatusUnprocessableEntity,
		},
		{
			name:   "missing locationId",
			do:     func(t *testing.T, a *oauthAgency) oauthReply { return a.locationToken(t, a.agencyToken, "co-1", "") },
			status: http.StatusUnprocessableEntity,
		},
		{
			name: "another company",
			do: func(t *testing.T, a *oauthAgency) oauthReply {
				return a.locationToken(t, a.agencyToken, "co-2", a.foreign)
			},
			status: http.StatusForbidden,
		},
		{
			name: "unknown location",
			do: func(t *testing.T, a *oauthAgency) oauthReply {
				return a.locationToken(t, a.agencyToken, "co-1", "missing")
			},
			status: http.StatusBadRequest, message: "Location with id missing not found",
		},
		{
			name: "location of another company",
			do: func(t *testing.T, a *oauthAgency) oauthReply {
				return a.locationToken(t, a.agencyToken, "co-1", a.foreign)
			},
			status: http.StatusForbidden,
		},
		{
			name: "app uninstalled from location",
			do: func(t *testing.T, a *oauthAgency) oauthReply {
				if err := a.srv.Uninstall(a.app.ClientID, a.loc2); err != nil {
					t.Fatal(err)
				}
				return a.locationToken(t, a.agencyToken, "co-1", a.loc2)
			},
			status: http.StatusForbidden,
		},
		{
			name: "location not active",
			do: func(t *testing.T, a *oauthAgency) oauthReply {
				if err := a.srv.SetLocationActive(a.loc1, false); err != nil {
					t.Fatal(err)
				}
				return a.locationToken(t, a.agencyToken, "co-1", a.loc1)
			},
			status: http.StatusBadRequest, message: contactstest.MsgLocationNotActive,
		},
		{
			name: "agency uninstalled",
			do: func(t *testing.T, a *oauthAgency) oauthReply {
				if err := a.srv.Uninstall(a.app.ClientID, "co-1"); err != nil {
					t.Fatal(err)
				}
				return a.locationToken(t, a.agencyToken, "co-1", a.loc1)
			},
			status: http.StatusUnauthorized, message: "Invalid token: access token is invalid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newOAuthAgency(t)
			r := tt.do(t, a)
			if r.status != tt.status {
				t.Fatalf("got %d %s, want %d", r.status, r.raw, tt.status)
			}
			if tt.message != "" && r.str("message") != tt.message {
				t.Errorf("message = %q, want %q", r.str("message"), tt.message)
			}
			if _, ok := r.body["access_token"]; ok {
				t.Errorf("error answer carries a token: %s", r.raw)
			}
		})
	}
}

func TestOAuthInstalledLocations(t *testing.T) {
	a := newOAuthAgency(t)
	if err := a.srv.Uninstall(a.app.ClientID, a.loc2); err != nil {
		t.Fatal(err)
	}
	get := func(bearer string, q url.Values) oauthReply {
		return oauthDo(t, a.srv, http.MethodGet, "/oauth/installedLocations?"+q.Encode(), "", "",
			map[string]string{"Authorization": "Bearer " + bearer, "Version": contactstest.APIVersion})
	}
	appID := strings.SplitN(a.app.ClientID, "-", 2)[0]

	r := get(a.agencyToken, url.Values{"companyId": {"co-1"}, "appId": {appID}})
	if r.status != http.StatusOK || r.body["count"] != float64(2) {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	installed := map[string]bool{}
	for _, l := range r.body["locations"].([]any) {
		m := l.(map[string]any)
		installed[m["_id"].(string)] = m["isInstalled"].(bool)
	}
	if !installed[a.loc1] || installed[a.loc2] || len(installed) != 2 {
		t.Errorf("isInstalled = %v", installed)
	}

	r = get(a.agencyToken, url.Values{"companyId": {"co-1"}, "appId": {a.app.ClientID}, "isInstalled": {"true"}})
	if r.status != http.StatusOK || r.body["count"] != float64(1) {
		t.Errorf("isInstalled=true: %d %s", r.status, r.raw)
	}

	for _, tt := range []struct {
		name   string
		bearer string
		q      url.Values
		status int
	}{
		{"missing appId", a.agencyToken, url.Values{"companyId": {"co-1"}}, http.StatusUnprocessableEntity},
		{"bad limit", a.agencyToken, url.Values{"companyId": {"co-1"}, "appId": {appID}, "limit": {"ten"}}, http.StatusUnprocessableEntity},
		{"other company", a.agencyToken, url.Values{"companyId": {"co-2"}, "appId": {appID}}, http.StatusForbidden},
		{"other app", a.agencyToken, url.Values{"companyId": {"co-1"}, "appId": {"someone-else"}}, http.StatusForbidden},
		{"location token", a.srv.Token(), url.Values{"companyId": {"co-1"}, "appId": {appID}}, http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := get(tt.bearer, tt.q); r.status != tt.status {
				t.Errorf("got %d %s, want %d", r.status, r.raw, tt.status)
			}
		})
	}
}

func TestOAuthTokenEndpointRequestFormat(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	app := srv.RegisterApp(contactstest.App{})
	valid := url.Values{"client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "grant_type": {"refresh_token"}, "refresh_token": {"rt-unknown"}}
	jsonBody, _ := json.Marshal(map[string]string{"client_id": app.ClientID, "client_secret": app.ClientSecret, "grant_type": "refresh_token", "refresh_token": "rt-unknown"})

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		header      map[string]string
		status      int
		errCode     string // "error" field, when the answer is an OAuth error
		message     string // one of the messages
	}{
		{name: "JSON body", method: "POST", path: "/oauth/token", contentType: "application/json", body: string(jsonBody),
			status: 422, message: "Content-Type must be application/x-www-form-urlencoded"},
		{name: "no content type", method: "POST", path: "/oauth/token", body: valid.Encode(), status: 422},
		{name: "form with charset", method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded; charset=utf-8",
			body: valid.Encode(), status: 400, errCode: "invalid_grant"},
		{name: "basic auth", method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
			body:   url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-unknown"}}.Encode(),
			header: map[string]string{"Authorization": "Basic " + oauthBasic(app.ClientID, app.ClientSecret)}, status: 401, errCode: "invalid_client"},
		{name: "basic auth with form credentials too", method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
			body: valid.Encode(), header: map[string]string{"Authorization": "Basic " + oauthBasic(app.ClientID, app.ClientSecret)}, status: 401, errCode: "invalid_client"},
		{name: "missing fields", method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
			body: url.Values{"grant_type": {"refresh_token"}}.Encode(), status: 422, message: "client_secret should not be empty"},
		{name: "missing code", method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
			body:   url.Values{"client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "grant_type": {"authorization_code"}}.Encode(),
			status: 422, message: "code should not be empty"},
		{name: "unknown grant type", method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
			body: url.Values{"client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "grant_type": {"password"}}.Encode(), status: 422},
		{name: "bad user_type", method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
			body: oauthWithParam(valid, "user_type", "Agency").Encode(), status: 422, message: "user_type must be one of the following values: Company, Location"},
		{name: "client_credentials", method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
			body: oauthWithParam(valid, "grant_type", "client_credentials").Encode(), status: 400, errCode: "unsupported_grant_type"},
		{name: "repeated parameter", method: "POST", path: "/oauth/token", contentType: "application/x-www-form-urlencoded",
			body: valid.Encode() + "&refresh_token=rt-other", status: 422, message: "refresh_token must not be repeated"},
		{name: "GET token", method: "GET", path: "/oauth/token", status: 404},
		{name: "unknown oauth path", method: "POST", path: "/oauth/revoke", contentType: "application/x-www-form-urlencoded", body: valid.Encode(), status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := oauthDo(t, srv, tt.method, tt.path, tt.contentType, tt.body, tt.header)
			if r.status != tt.status {
				t.Fatalf("got %d %s, want %d", r.status, r.raw, tt.status)
			}
			if tt.errCode != "" {
				oauthExpectError(t, r, tt.status, tt.errCode, "")
			}
			if tt.status == 422 {
				msgs, ok := r.body["message"].([]any)
				if !ok || r.str("error") != "Unprocessable Entity" {
					t.Fatalf("422 envelope: %s", r.raw)
				}
				if tt.message != "" && !slices.Contains(msgs, any(tt.message)) {
					t.Errorf("messages %v lack %q", msgs, tt.message)
				}
			}
			if strings.Contains(r.raw, app.ClientSecret) {
				t.Errorf("answer leaks the client secret: %s", r.raw)
			}
		})
	}
}

func oauthBasic(user, pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

func oauthWithParam(v url.Values, k, val string) url.Values {
	out := url.Values{}
	for key, vals := range v {
		out[key] = slices.Clone(vals)
	}
	out.Set(k, val)
	return out
}

func TestOAuthAuthStyles(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	ctx := oauthContext(srv)
	app := srv.RegisterApp(contactstest.App{RedirectURIs: []string{oauthRedirect}})

	// Credentials in a Basic header are refused, and the code survives.
	code, err := srv.AuthorizationCode(app.ClientID, contactstest.Grant{RedirectURI: oauthRedirect})
	if err != nil {
		t.Fatal(err)
	}
	_, err = oauthConfig(srv, app, oauth2.AuthStyleInHeader).Exchange(ctx, code)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("AuthStyleInHeader: %v", err)
	}
	if _, err := oauthConfig(srv, app, oauth2.AuthStyleInParams).Exchange(ctx, code); err != nil {
		t.Fatalf("the code did not survive the refused attempt: %v", err)
	}

	// Auto-detection falls back to the form.
	code, err = srv.AuthorizationCode(app.ClientID, contactstest.Grant{RedirectURI: oauthRedirect})
	if err != nil {
		t.Fatal(err)
	}
	before := srv.TokenRequests("authorization_code")
	if _, err := oauthConfig(srv, app, oauth2.AuthStyleAutoDetect).Exchange(ctx, code); err != nil {
		t.Fatalf("AuthStyleAutoDetect: %v", err)
	}
	if got := srv.TokenRequests("authorization_code") - before; got != 2 {
		t.Errorf("auto-detection made %d calls, want 2 (header, then form)", got)
	}
	// The request log records the calls too.
	n := 0
	for _, r := range srv.Requests() {
		if r.Path == "/oauth/token" {
			n++
		}
	}
	if n != srv.TokenRequests("") {
		t.Errorf("request log has %d token calls, TokenRequests says %d", n, srv.TokenRequests(""))
	}
}

func TestOAuthConcurrentRefresh(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	app := srv.RegisterApp(contactstest.App{})
	rt := oauthInstall(t, srv, app, contactstest.Grant{}).str("refresh_token")
	form := oauthRefreshForm(app, rt).Encode()

	const n = 16
	statuses := make([]int, n)
	codes := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := srv.HTTPClient().Post(srv.URL+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			var body struct {
				Error string `json:"error"`
			}
			errs[i] = json.NewDecoder(resp.Body).Decode(&body)
			statuses[i], codes[i] = resp.StatusCode, body.Error
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		switch {
		case statuses[i] == http.StatusOK:
			ok++
		case statuses[i] != http.StatusBadRequest || codes[i] != "invalid_grant":
			t.Errorf("call %d: %d %q", i, statuses[i], codes[i])
		}
	}
	if ok != 1 {
		t.Errorf("%d refreshes succeeded, want exactly 1", ok)
	}
	if got := srv.TokenRequests("refresh_token"); got != n {
		t.Errorf("TokenRequests(refresh_token) = %d, want %d", got, n)
	}
}
