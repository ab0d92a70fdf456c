package contactstest

import (
	"cmp"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file fakes the API's OAuth 2.0 endpoints (api/apps/oauth.json):
//
//   - POST /oauth/token: the authorization_code and refresh_token grants.
//     Refresh tokens are single-use and rotate on every refresh.
//   - POST /oauth/locationToken: exchanges an agency (Company) token for a
//     sub-account (Location) token.
//   - GET /oauth/installedLocations: the locations of an agency and whether
//     an app is installed on them.
//
// The user-facing half of the authorization-code flow (the chooselocation
// page) is replaced by Server.AuthorizationCode, which installs an app and
// mints the code the redirect would carry.
//
// Where the live API's behaviour is undocumented, the fake follows RFC 6749
// and says so in the comments below. Client secrets, authorization codes
// and refresh tokens never appear in its answers' messages.

// OAuth lifetimes.
const (
	// DefaultAccessTokenTTL is the lifetime of the access tokens the OAuth
	// endpoints issue: the live API's expires_in of 86399 seconds. Change
	// it with Server.SetAccessTokenTTL.
	DefaultAccessTokenTTL = 86399 * time.Second
	// RefreshTokenTTL is how long an unused refresh token stays valid, as
	// on the live API: a year.
	RefreshTokenTTL = 365 * 24 * time.Hour
	// AuthorizationCodeTTL is how long an authorization code may wait for
	// its exchange, on the server's clock.
	AuthorizationCodeTTL = 10 * time.Minute
)

// Grant types of POST /oauth/token.
const (
	GrantTypeAuthorizationCode = "authorization_code"
	GrantTypeRefreshToken      = "refresh_token"
	// GrantTypeClientCredentials is listed by the spec's enum but the API
	// documents no such flow for apps; the fake answers it with 400
	// unsupported_grant_type.
	GrantTypeClientCredentials = "client_credentials"
)

// OAuth error codes (RFC 6749 §5.2) the token endpoint sends in "error".
const (
	ErrorInvalidClient        = "invalid_client"
	ErrorInvalidGrant         = "invalid_grant"
	ErrorInvalidRequest       = "invalid_request"
	ErrorUnsupportedGrantType = "unsupported_grant_type"
)

// Messages of the token endpoint's errors.
const (
	// MsgRefreshTokenInvalid is the live API's message for a refresh token
	// that was already used, revoked or has expired.
	MsgRefreshTokenInvalid = "refresh token is invalid, expired, or has already been used"
	// MsgAuthorizationCodeInvalid is the fake's message for an unknown,
	// used or expired authorization code (the live wording is undocumented).
	MsgAuthorizationCodeInvalid = "authorization code is invalid, expired, or has already been used"
	// MsgLocationNotActive is the live API's 400 message when a token is
	// asked for a location that is not active; it is recoverable.
	MsgLocationNotActive = "Location is not active"
	// MsgAppUninstalled is the error_description of a refresh with a
	// refresh token that Uninstall revoked (still an invalid_grant).
	MsgAppUninstalled = "the app was uninstalled from this location: its refresh token was revoked"
)

const formContentType = "application/x-www-form-urlencoded"

// App is an OAuth app (a Marketplace app's client credentials) registered
// with the server by RegisterApp. Formatting an App with the fmt verbs
// redacts its ClientSecret.
type App struct {
	// ClientID identifies the app at the token endpoint. RegisterApp
	// generates one when empty, in the live API's "<appId>-<suffix>" form;
	// the part before the first "-" is the app ID that
	// /oauth/installedLocations and /oauth/locationToken report.
	ClientID string
	// ClientSecret authenticates the app at POST /oauth/token.
	// RegisterApp generates one when empty.
	ClientSecret string
	// RedirectURIs are the app's registered redirect URIs. When any are
	// registered, a Grant's RedirectURI must be one of them.
	RedirectURIs []string
	// Scopes are the scopes the app may be granted. nil means every scope
	// the fake knows: contacts.readonly, contacts.write, oauth.readonly and
	// oauth.write.
	Scopes []string
}

// String describes the app without its secret.
func (a App) String() string {
	return fmt.Sprintf("{ClientID:%s ClientSecret:[redacted] RedirectURIs:%v Scopes:%v}", a.ClientID, a.RedirectURIs, a.Scopes)
}

// GoString describes the app without its secret, for %#v.
func (a App) GoString() string {
	return fmt.Sprintf("contactstest.App{ClientID:%q, ClientSecret:\"[redacted]\", RedirectURIs:%#v, Scopes:%#v}", a.ClientID, a.RedirectURIs, a.Scopes)
}

// Grant describes an authorization: what a user approves when installing an
// app on the chooselocation page. Server.AuthorizationCode turns it into
// the code the redirect would carry.
type Grant struct {
	// UserType is UserTypeLocation (the default) for a sub-account grant
	// or UserTypeCompany for an agency grant.
	UserType string
	// LocationID is the sub-account of a Location grant; empty means the
	// server's default location. A Company grant takes none.
	LocationID string
	// CompanyID is the agency. A Location grant defaults to (and must
	// match) its location's company; a Company grant defaults to the
	// default location's company.
	CompanyID string
	// Scopes granted; nil means all of the app's scopes. Each must be one
	// of the app's.
	Scopes []string
	// RedirectURI is the redirect_uri of the authorization request. When
	// set, the token request must repeat it exactly; when empty, none is
	// checked.
	RedirectURI string
	// UserID is the installing user (the response's userId); generated
	// when empty.
	UserID string
	// PlanID is the subscribed plan of a paid app (the response's planId,
	// omitted when empty).
	PlanID string
}

// appKey names an app (by client ID) on a location or a company.
type appKey struct{ clientID, id string }

// oauthGrant is one authorization. Every token issued from it — the first
// exchange, each refresh — shares it, so a refresh keeps its scopes,
// location, company and user type.
type oauthGrant struct {
	clientID   string // empty for agency tokens not issued by the OAuth endpoints
	userType   string
	locationID string // Location grants only
	companyID  string
	scopes     []string
	userID     string
	planID     string
}

type authCode struct {
	grant       *oauthGrant
	redirectURI string
	expires     time.Time
}

type refreshToken struct {
	grant   *oauthGrant
	expires time.Time
}

// oauthState is the OAuth half of the server's state, guarded by Server.mu.
type oauthState struct {
	apps    map[string]*App
	codes   map[string]*authCode     // unused authorization codes
	refresh map[string]*refreshToken // live refresh tokens
	// grants maps access tokens the OAuth endpoints issued (and agency
	// tokens they were shown) to their grant.
	grants   map[string]*oauthGrant
	inactive map[string]bool // location IDs marked inactive
	// uninstalled remembers refresh tokens Uninstall revoked, so a refresh
	// with one says why it fails.
	uninstalled map[string]bool

	// Installations: an app is installed on a location when it was
	// installed there (locInstalls) or on its agency (coInstalls) and not
	// uninstalled from the location since (removed).
	locInstalls map[appKey]time.Time
	coInstalls  map[appKey]time.Time
	removed     map[appKey]bool

	accessTTL  time.Duration
	tokenCalls map[string]int // POST /oauth/token calls by grant_type
	tokenTotal int
}

func newOAuthState() *oauthState {
	return &oauthState{
		apps:        map[string]*App{},
		codes:       map[string]*authCode{},
		refresh:     map[string]*refreshToken{},
		grants:      map[string]*oauthGrant{},
		inactive:    map[string]bool{},
		uninstalled: map[string]bool{},
		locInstalls: map[appKey]time.Time{},
		coInstalls:  map[appKey]time.Time{},
		removed:     map[appKey]bool{},
		accessTTL:   DefaultAccessTokenTTL,
		tokenCalls:  map[string]int{},
	}
}

// allScopes are the scopes the fake knows, the default of App.Scopes.
var allScopes = []string{ScopeContactsRead, ScopeContactsWrite, ScopeOAuthRead, ScopeOAuthWrite}

// RegisterApp registers an OAuth app and returns it with its generated
// ClientID and ClientSecret filled in. Registering a ClientID again
// replaces the app's secret, redirect URIs and scopes; tokens already
// issued keep working.
func (s *Server) RegisterApp(a App) App {
	if a.ClientID == "" {
		a.ClientID = s.randHex(24) + "-" + strings.ToLower(s.newID()[:8])
	}
	if a.ClientSecret == "" {
		a.ClientSecret = s.randHex(8) + "-" + s.randHex(4) + "-" + s.randHex(4) + "-" + s.randHex(4) + "-" + s.randHex(12)
	}
	a.RedirectURIs = slices.Clone(a.RedirectURIs)
	if a.Scopes == nil {
		a.Scopes = slices.Clone(allScopes)
	} else {
		a.Scopes = uniqueScopes(a.Scopes)
	}
	stored := a
	s.mu.Lock()
	s.oauth.apps[a.ClientID] = &stored
	s.mu.Unlock()
	a.RedirectURIs, a.Scopes = slices.Clone(a.RedirectURIs), slices.Clone(a.Scopes)
	return a
}

// AuthorizationCode installs the app on the grant's location (or, for a
// Company grant, its agency) and returns an authorization code for it, as
// the redirect after the chooselocation page would carry. The code is
// single-use and expires AuthorizationCodeTTL after now on the server's
// clock. Installing again after Uninstall reinstalls the app.
func (s *Server) AuthorizationCode(clientID string, g Grant) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.oauth.apps[clientID]
	if app == nil {
		return "", fmt.Errorf("contactstest: no OAuth app with client ID %q", clientID)
	}
	grant := &oauthGrant{clientID: clientID, userType: cmp.Or(g.UserType, UserTypeLocation), planID: g.PlanID}
	switch grant.userType {
	case UserTypeLocation:
		grant.locationID = cmp.Or(g.LocationID, s.defaultLocation)
		loc := s.locations[grant.locationID]
		if loc == nil {
			return "", fmt.Errorf("contactstest: no location %q", grant.locationID)
		}
		if g.CompanyID != "" && g.CompanyID != loc.companyID {
			return "", fmt.Errorf("contactstest: location %q belongs to company %q, not %q", loc.id, loc.companyID, g.CompanyID)
		}
		grant.companyID = loc.companyID
	case UserTypeCompany:
		if g.LocationID != "" {
			return "", errors.New("contactstest: a Company grant takes no LocationID")
		}
		grant.companyID = g.CompanyID
		if grant.companyID == "" {
			if loc := s.locations[s.defaultLocation]; loc != nil {
				grant.companyID = loc.companyID
			}
		}
		if grant.companyID == "" {
			return "", errors.New("contactstest: a Company grant needs a CompanyID")
		}
	default:
		return "", fmt.Errorf("contactstest: user type %q: want %q or %q", g.UserType, UserTypeLocation, UserTypeCompany)
	}
	if g.Scopes == nil {
		grant.scopes = slices.Clone(app.Scopes)
	} else {
		for _, sc := range g.Scopes {
			if !slices.Contains(app.Scopes, sc) {
				return "", fmt.Errorf("contactstest: scope %q is not one of the app's scopes %v", sc, app.Scopes)
			}
		}
		grant.scopes = uniqueScopes(g.Scopes)
	}
	if g.RedirectURI != "" && len(app.RedirectURIs) > 0 && !slices.Contains(app.RedirectURIs, g.RedirectURI) {
		return "", fmt.Errorf("contactstest: redirect URI %q is not registered for the app", g.RedirectURI)
	}
	grant.userID = cmp.Or(g.UserID, s.newID())

	now := s.clock.Now()
	if grant.userType == UserTypeLocation {
		k := appKey{clientID, grant.locationID}
		s.oauth.locInstalls[k] = now
		delete(s.oauth.removed, k)
	} else {
		k := appKey{clientID, grant.companyID}
		if _, ok := s.oauth.coInstalls[k]; !ok {
			s.oauth.coInstalls[k] = now
		}
		for _, loc := range s.locations {
			if loc.companyID == grant.companyID {
				delete(s.oauth.removed, appKey{clientID, loc.id})
			}
		}
	}
	code := s.randHex(40)
	s.oauth.codes[code] = &authCode{grant: grant, redirectURI: g.RedirectURI, expires: now.Add(AuthorizationCodeTTL)}
	return code, nil
}

// SetAccessTokenTTL sets the lifetime of the access tokens the OAuth
// endpoints issue from now on; d <= 0 restores DefaultAccessTokenTTL.
func (s *Server) SetAccessTokenTTL(d time.Duration) {
	if d <= 0 {
		d = DefaultAccessTokenTTL
	}
	s.mu.Lock()
	s.oauth.accessTTL = d
	s.mu.Unlock()
}

// SetLocationActive marks a location active (the default) or inactive.
// While a location is inactive the OAuth endpoints refuse to issue tokens
// for it with 400 "Location is not active", consuming nothing: the same
// refresh token (or authorization code) works again once the location is
// active. Tokens already issued keep working.
func (s *Server) SetLocationActive(locationID string, active bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locations[locationID] == nil {
		return fmt.Errorf("contactstest: no location %q", locationID)
	}
	if active {
		delete(s.oauth.inactive, locationID)
	} else {
		s.oauth.inactive[locationID] = true
	}
	return nil
}

// Uninstall removes an app from a location, as the UNINSTALL of a
// sub-account does: the app's access tokens for the location (those issued
// by /oauth/token and /oauth/locationToken alike, and IssueToken tokens
// whose AppID is clientID) stop authenticating, its refresh tokens and
// pending authorization codes for the location die (a refresh then fails
// with invalid_grant), and /oauth/locationToken refuses the location.
//
// id may also be a company ID, to remove an agency-level install: then
// every token, refresh token and code of the app for that company and its
// locations dies. A new AuthorizationCode reinstalls the app.
func (s *Server) Uninstall(clientID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth.apps[clientID] == nil {
		return fmt.Errorf("contactstest: no OAuth app with client ID %q", clientID)
	}
	var dead func(locationID, companyID, userType string) bool
	if s.locations[id] != nil {
		k := appKey{clientID, id}
		delete(s.oauth.locInstalls, k)
		s.oauth.removed[k] = true
		dead = func(locationID, _, userType string) bool {
			return userType == UserTypeLocation && locationID == id
		}
	} else {
		known := false
		if _, ok := s.oauth.coInstalls[appKey{clientID, id}]; ok {
			known = true
		}
		for _, loc := range s.locations {
			if loc.companyID == id {
				known = true
				delete(s.oauth.locInstalls, appKey{clientID, loc.id})
				delete(s.oauth.removed, appKey{clientID, loc.id})
			}
		}
		if !known {
			return fmt.Errorf("contactstest: no location or company %q", id)
		}
		delete(s.oauth.coInstalls, appKey{clientID, id})
		dead = func(_, companyID, _ string) bool { return companyID == id }
	}
	for _, t := range s.tokens {
		if t.appID == clientID && dead(t.locationID, t.companyID, t.userType) {
			t.revoked = true
		}
	}
	for v, rt := range s.oauth.refresh {
		if g := rt.grant; g.clientID == clientID && dead(g.locationID, g.companyID, g.userType) {
			delete(s.oauth.refresh, v)
			s.oauth.uninstalled[v] = true
		}
	}
	for v, ac := range s.oauth.codes {
		if g := ac.grant; g.clientID == clientID && dead(g.locationID, g.companyID, g.userType) {
			delete(s.oauth.codes, v)
		}
	}
	return nil
}

// TokenRequests returns how many POST /oauth/token calls the server has
// answered with the given grant_type ("refresh_token", …), failed ones
// included; "" counts every call, malformed ones too. Unlike the request
// log, ResetRequests does not reset it.
func (s *Server) TokenRequests(grantType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if grantType == "" {
		return s.oauth.tokenTotal
	}
	return s.oauth.tokenCalls[grantType]
}

// serveOAuth serves the /oauth/ endpoints. ServeHTTP calls it before bearer
// authentication and rate limiting, without s.mu held.
func (s *Server) serveOAuth(c *call) {
	switch p, m := c.r.URL.Path, c.r.Method; {
	case p == "/oauth/token" && m == http.MethodPost:
		s.serveToken(c)
	case p == "/oauth/locationToken" && m == http.MethodPost:
		s.serveLocationToken(c)
	case p == "/oauth/installedLocations" && m == http.MethodGet:
		s.serveInstalledLocations(c)
	default:
		c.writeJSON(http.StatusNotFound, map[string]any{
			"statusCode": http.StatusNotFound, "message": fmt.Sprintf("Cannot %s %s", m, p), "error": errorNames[http.StatusNotFound],
		})
	}
}

// serveToken serves POST /oauth/token.
//
// Choices where the API is undocumented, after RFC 6749:
//   - Client credentials go in the form only; an Authorization: Basic
//     header is refused with 401 invalid_client before anything else, so
//     nothing is consumed and x/oauth2's auto-detection falls back to the
//     form.
//   - Unknown form parameters (scope, code_verifier, …) are ignored;
//     repeated ones are a 422.
//   - user_type is optional; when sent it must match the grant's (else 400
//     invalid_request).
//   - Only a successful exchange consumes an authorization code or a
//     refresh token: a wrong redirect_uri, a mismatched user_type or an
//     inactive location leave it usable.
//   - Error bodies carry both the API's envelope (statusCode, message) and
//     RFC 6749's (error, error_description).
func (s *Server) serveToken(c *call) {
	noStore(c.w)
	form, formMsgs := c.oauthForm()
	s.mu.Lock()
	s.oauth.tokenTotal++
	if gt := form.Get("grant_type"); gt != "" {
		s.oauth.tokenCalls[gt]++
	}
	s.mu.Unlock()

	if isBasicAuth(c.r) {
		c.oauthError(http.StatusUnauthorized, ErrorInvalidClient,
			"client credentials must be sent as client_id and client_secret in the form body; HTTP Basic authentication is not supported")
		return
	}
	if len(formMsgs) > 0 {
		c.fail(http.StatusUnprocessableEntity, formMsgs...)
		return
	}
	var msgs []string
	need := func(name string) {
		if strings.TrimSpace(form.Get(name)) == "" {
			msgs = append(msgs, name+" should not be empty")
		}
	}
	need("client_id")
	need("client_secret")
	grantType := form.Get("grant_type")
	switch grantType {
	case GrantTypeAuthorizationCode:
		need("code")
	case GrantTypeRefreshToken:
		need("refresh_token")
	case GrantTypeClientCredentials:
	default:
		msgs = append(msgs, "grant_type must be one of the following values: authorization_code, refresh_token, client_credentials")
	}
	if _, ok := form["user_type"]; ok {
		if ut := form.Get("user_type"); ut != UserTypeCompany && ut != UserTypeLocation {
			msgs = append(msgs, "user_type must be one of the following values: Company, Location")
		}
	}
	if len(msgs) > 0 {
		c.fail(http.StatusUnprocessableEntity, msgs...)
		return
	}

	reply := func() func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		app := s.oauth.apps[form.Get("client_id")]
		if app == nil || subtle.ConstantTimeCompare([]byte(app.ClientSecret), []byte(form.Get("client_secret"))) != 1 {
			return func() {
				c.oauthError(http.StatusUnauthorized, ErrorInvalidClient, "client authentication failed: unknown client_id or wrong client_secret")
			}
		}
		now := s.clock.Now()
		switch grantType {
		case GrantTypeAuthorizationCode:
			value := form.Get("code")
			ac := s.oauth.codes[value]
			switch {
			case ac == nil || ac.grant.clientID != app.ClientID:
				return c.invalidGrant(MsgAuthorizationCodeInvalid)
			case !now.Before(ac.expires):
				delete(s.oauth.codes, value)
				return c.invalidGrant(MsgAuthorizationCodeInvalid)
			case ac.redirectURI != "" && form.Get("redirect_uri") != ac.redirectURI:
				return c.invalidGrant("redirect_uri does not match the one the authorization code was issued for")
			}
			c.attributeGrant(ac.grant)
			if r := s.checkGrantLocked(c, ac.grant, form); r != nil {
				return r
			}
			delete(s.oauth.codes, value)
			body := s.issueLocked(ac.grant)
			return func() { c.writeJSON(http.StatusOK, body) }
		case GrantTypeRefreshToken:
			value := form.Get("refresh_token")
			rt := s.oauth.refresh[value]
			switch {
			case rt == nil && s.oauth.uninstalled[value]:
				return c.invalidGrant(MsgAppUninstalled)
			case rt == nil || rt.grant.clientID != app.ClientID:
				return c.invalidGrant(MsgRefreshTokenInvalid)
			case !now.Before(rt.expires):
				delete(s.oauth.refresh, value)
				return c.invalidGrant(MsgRefreshTokenInvalid)
			}
			c.attributeGrant(rt.grant)
			if r := s.checkGrantLocked(c, rt.grant, form); r != nil {
				return r
			}
			delete(s.oauth.refresh, value) // single use: it rotates
			body := s.issueLocked(rt.grant)
			return func() { c.writeJSON(http.StatusOK, body) }
		default: // client_credentials
			return func() {
				c.oauthError(http.StatusBadRequest, ErrorUnsupportedGrantType,
					"grant_type client_credentials is not supported: use authorization_code or refresh_token")
			}
		}
	}()
	reply()
}

// attributeGrant attributes a token request about a sub-account grant to
// the rate-limit budget its access tokens draw on (the app's on the
// location), so the answer carries that budget's headers. Agency grants
// belong to no location budget.
func (c *call) attributeGrant(g *oauthGrant) {
	if g.userType == UserTypeLocation {
		c.limitKey = limitKey(g.clientID, g.locationID)
	}
}

// checkGrantLocked checks a token request against its grant; it returns the
// answer when the request must fail, nil when it may proceed.
func (s *Server) checkGrantLocked(c *call, g *oauthGrant, form url.Values) func() {
	if ut := form.Get("user_type"); ut != "" && ut != g.userType {
		msg := fmt.Sprintf("user_type %s does not match the grant, which is for a %s", ut, g.userType)
		return func() { c.oauthError(http.StatusBadRequest, ErrorInvalidRequest, msg) }
	}
	if g.userType == UserTypeLocation && s.oauth.inactive[g.locationID] {
		return func() { c.fail(http.StatusBadRequest, MsgLocationNotActive) }
	}
	return nil
}

// issueLocked issues an access token and a new refresh token for g and
// returns the token endpoint's answer (GetAccessCodeSuccessfulResponseDto).
func (s *Server) issueLocked(g *oauthGrant) map[string]any {
	ttl := s.oauth.accessTTL
	access := s.addAccessTokenLocked(g, g.clientID, ttl)
	refresh := "rt-" + strings.ToLower(s.newID()) + s.newID() + s.newID()
	s.oauth.refresh[refresh] = &refreshToken{grant: g, expires: s.clock.Now().Add(RefreshTokenTTL)}
	body := map[string]any{
		"access_token":       access,
		"token_type":         "Bearer",
		"expires_in":         int64(ttl / time.Second),
		"refresh_token":      refresh,
		"scope":              strings.Join(g.scopes, " "),
		"userType":           g.userType,
		"companyId":          g.companyID,
		"userId":             g.userID,
		"isBulkInstallation": false,
	}
	if g.planID != "" {
		body["planId"] = g.planID
	}
	if g.userType == UserTypeLocation {
		body["locationId"] = g.locationID
	} else {
		approved := s.approvedLocationsLocked(g.clientID, g.companyID)
		body["approvedLocations"] = approved
		_, future := s.oauth.coInstalls[appKey{g.clientID, g.companyID}]
		body["installToFutureLocations"] = future
		// All locations are approved while the agency-wide install covers
		// every location of the company (none was uninstalled since).
		total := 0
		for _, loc := range s.locations {
			if loc.companyID == g.companyID {
				total++
			}
		}
		body["approveAllLocations"] = future && len(approved) == total
	}
	return body
}

// addAccessTokenLocked stores a new access token for g, living ttl and
// counted against appID's rate-limit budget, and returns it.
func (s *Server) addAccessTokenLocked(g *oauthGrant, appID string, ttl time.Duration) string {
	value := "at-" + strings.ToLower(s.newID()) + s.newID()
	s.addTokenLocked(value, TokenSpec{
		LocationID: g.locationID,
		CompanyID:  g.companyID,
		UserType:   g.userType,
		Scopes:     append(make([]string, 0, len(g.scopes)), g.scopes...), // never nil: nil means the default scopes
		TTL:        ttl,
		AppID:      appID,
	})
	s.oauth.grants[value] = g
	return value
}

// approvedLocationsLocked lists the company's locations the app is
// installed on, sorted.
func (s *Server) approvedLocationsLocked(clientID, companyID string) []string {
	out := []string{}
	for _, loc := range s.locations {
		if loc.companyID == companyID {
			if _, ok := s.installedAtLocked(clientID, loc.id); ok {
				out = append(out, loc.id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// installedAtLocked reports whether the app is installed on the location,
// and since when.
func (s *Server) installedAtLocked(clientID, locationID string) (time.Time, bool) {
	k := appKey{clientID, locationID}
	if t, ok := s.oauth.locInstalls[k]; ok {
		return t, true
	}
	if s.oauth.removed[k] {
		return time.Time{}, false
	}
	if loc := s.locations[locationID]; loc != nil && loc.companyID != "" {
		if t, ok := s.oauth.coInstalls[appKey{clientID, loc.companyID}]; ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// serveLocationToken serves POST /oauth/locationToken: an agency token with
// oauth.write exchanges for a Location token of one of its company's
// locations, carrying the agency token's app and scopes and living
// SetAccessTokenTTL's lifetime.
//
// The answer follows GetLocationAccessTokenSuccessfulResponseDto and so
// carries no refresh_token: a location token is renewed by exchanging the
// agency token again, which is all the spec promises. For an agency token
// issued by /oauth/token the app must be installed on the location (403
// otherwise); a token from IssueToken may reach any of its company's
// locations.
func (s *Server) serveLocationToken(c *call) {
	noStore(c.w)
	tok, ok := s.agencyToken(c, ScopeOAuthWrite)
	if !ok {
		return
	}
	if c.r.Header.Get("Version") != APIVersion {
		c.fail(http.StatusBadRequest, "version header is invalid or missing; use "+APIVersion)
		return
	}
	form, msgs := c.oauthForm()
	if len(msgs) == 0 {
		for _, name := range []string{"companyId", "locationId"} {
			if strings.TrimSpace(form.Get(name)) == "" {
				msgs = append(msgs, name+" should not be empty")
			}
		}
	}
	if len(msgs) > 0 {
		c.fail(http.StatusUnprocessableEntity, msgs...)
		return
	}
	companyID, locationID := form.Get("companyId"), form.Get("locationId")

	reply := func() func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if companyID != tok.companyID {
			return failLater(c, http.StatusForbidden, fmt.Sprintf("The token does not have access to company %s: companyId must be the agency token's company", companyID))
		}
		loc := s.locations[locationID]
		if loc == nil {
			return failLater(c, http.StatusBadRequest, fmt.Sprintf("Location with id %s not found", locationID))
		}
		if loc.companyID != companyID {
			return failLater(c, http.StatusForbidden, fmt.Sprintf("Location %s does not belong to company %s", locationID, companyID))
		}
		g := s.agencyGrantLocked(tok)
		if g.clientID != "" {
			if _, ok := s.installedAtLocked(g.clientID, locationID); !ok {
				return failLater(c, http.StatusForbidden, fmt.Sprintf("The app is not installed on location %s", locationID))
			}
		}
		if s.oauth.inactive[locationID] {
			return failLater(c, http.StatusBadRequest, MsgLocationNotActive)
		}
		lg := &oauthGrant{clientID: g.clientID, userType: UserTypeLocation, locationID: locationID,
			companyID: companyID, scopes: g.scopes, userID: g.userID, planID: g.planID}
		ttl := s.oauth.accessTTL
		value := s.addAccessTokenLocked(lg, tok.appID, ttl)
		c.limitKey = limitKey(tok.appID, locationID) // the new token's budget
		body := map[string]any{
			"access_token": value,
			"token_type":   "Bearer",
			"expires_in":   int64(ttl / time.Second),
			"scope":        strings.Join(lg.scopes, " "),
			"locationId":   locationID,
			"userId":       lg.userID,
		}
		if lg.planID != "" {
			body["planId"] = lg.planID
		}
		if lg.clientID != "" {
			body["appId"] = appIDOf(lg.clientID)
		}
		return func() { c.writeJSON(http.StatusOK, body) }
	}()
	reply()
}

// agencyGrantLocked returns the grant of an agency token. A token the OAuth
// endpoints did not issue (IssueToken) gets a synthetic one, kept so its
// userId stays stable.
func (s *Server) agencyGrantLocked(tok token) *oauthGrant {
	if g := s.oauth.grants[tok.value]; g != nil {
		return g
	}
	scopes := slices.Sorted(maps.Keys(tok.scopes))
	g := &oauthGrant{userType: UserTypeCompany, companyID: tok.companyID, scopes: scopes, userID: s.newID()}
	s.oauth.grants[tok.value] = g
	return g
}

// serveInstalledLocations serves GET /oauth/installedLocations for an
// agency token with oauth.readonly. companyId must be the token's company
// and appId the token's app (its app ID, or its full client ID). The fake's
// locations have no name or address: name is the location ID, address is
// empty, and query matches the ID. Without isInstalled every location of
// the company is listed, each with its isInstalled flag.
func (s *Server) serveInstalledLocations(c *call) {
	tok, ok := s.agencyToken(c, ScopeOAuthRead)
	if !ok {
		return
	}
	if c.r.Header.Get("Version") != APIVersion {
		c.fail(http.StatusBadRequest, "version header is invalid or missing; use "+APIVersion)
		return
	}
	q := c.r.URL.Query()
	var msgs []string
	for _, name := range []string{"companyId", "appId"} {
		if strings.TrimSpace(q.Get(name)) == "" {
			msgs = append(msgs, name+" should not be empty")
		}
	}
	number := func(name string, def int) int {
		v := q.Get(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			msgs = append(msgs, name+" must be a number string")
		}
		return n
	}
	skip, limit := number("skip", 0), number("limit", 20)
	var wantInstalled *bool
	if v := q.Get("isInstalled"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil || (v != "true" && v != "false") {
			msgs = append(msgs, "isInstalled must be a boolean value")
		}
		wantInstalled = &b
	}
	if len(msgs) > 0 {
		c.fail(http.StatusUnprocessableEntity, msgs...)
		return
	}

	reply := func() func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		companyID := q.Get("companyId")
		if companyID != tok.companyID {
			return failLater(c, http.StatusForbidden, fmt.Sprintf("The token does not have access to company %s", companyID))
		}
		g := s.agencyGrantLocked(tok)
		if appID := q.Get("appId"); g.clientID == "" || (appID != g.clientID && appID != appIDOf(g.clientID)) {
			return failLater(c, http.StatusForbidden, "appId does not match the app the token was issued for")
		}
		query := strings.ToLower(q.Get("query"))
		var ids []string
		for _, loc := range s.locations {
			if loc.companyID == companyID {
				ids = append(ids, loc.id)
			}
		}
		slices.Sort(ids)
		locs := []map[string]any{}
		count := 0
		for _, id := range ids {
			if l := q.Get("locationId"); l != "" && l != id {
				continue
			}
			if query != "" && !strings.Contains(strings.ToLower(id), query) {
				continue
			}
			at, installed := s.installedAtLocked(g.clientID, id)
			if wantInstalled != nil && installed != *wantInstalled {
				continue
			}
			count++
			if count <= skip || len(locs) >= limit {
				continue
			}
			l := map[string]any{"_id": id, "name": id, "address": "", "isInstalled": installed}
			if installed {
				l["installedAt"] = iso(at)
			}
			locs = append(locs, l)
		}
		_, future := s.oauth.coInstalls[appKey{g.clientID, companyID}]
		body := map[string]any{"locations": locs, "count": count, "installToFutureLocations": future}
		return func() { c.writeJSON(http.StatusOK, body) }
	}()
	reply()
}

// agencyToken authenticates an Agency-Access-Only route: a live Company
// access token with scope. It answers 401 itself on failure and returns a
// copy of the token.
func (s *Server) agencyToken(c *call, scope string) (token, bool) {
	raw, found := strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	if !found || raw == "" {
		c.fail(http.StatusUnauthorized, "Invalid token: access token is invalid")
		return token{}, false
	}
	s.mu.Lock()
	var tok token
	t := s.tokens[raw]
	if t != nil {
		tok = *t
	}
	s.mu.Unlock()
	switch {
	case t == nil || tok.revoked:
		c.fail(http.StatusUnauthorized, "Invalid token: access token is invalid")
	case !tok.expires.IsZero() && !s.clock.Now().Before(tok.expires):
		c.fail(http.StatusUnauthorized, "Invalid JWT: access token has expired")
	case tok.userType != UserTypeCompany:
		c.fail(http.StatusUnauthorized, "This route needs an agency (Company) access token; a sub-account (Location) token was sent")
	case !tok.scopes[scope]:
		c.fail(http.StatusUnauthorized, "The token is not authorized for this scope.")
	default:
		return tok, true
	}
	return token{}, false
}

// oauthForm reads the body as a form. It returns the 422 messages when the
// body is not a form or repeats a parameter (RFC 6749 §3.2).
func (c *call) oauthForm() (url.Values, []string) {
	mt, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt != formContentType {
		return nil, []string{"Content-Type must be " + formContentType}
	}
	form, err := url.ParseQuery(string(c.body))
	if err != nil {
		return nil, []string{"body must be a valid " + formContentType + " form"}
	}
	var msgs []string
	for k, v := range form {
		if len(v) > 1 {
			msgs = append(msgs, k+" must not be repeated")
		}
	}
	slices.Sort(msgs)
	return form, msgs
}

// oauthError writes an error both the API's envelope (statusCode, message)
// and OAuth clients (error, error_description; RFC 6749 §5.2) can read.
// desc must not hold a secret.
func (c *call) oauthError(status int, code, desc string) {
	c.writeJSON(status, map[string]any{
		"statusCode": status, "message": desc, "error": code, "error_description": desc,
	})
}

// invalidGrant returns an answer of 400 invalid_grant.
func (c *call) invalidGrant(desc string) func() {
	return func() { c.oauthError(http.StatusBadRequest, ErrorInvalidGrant, desc) }
}

// failLater returns an answer of c.fail.
func failLater(c *call, status int, msg string) func() {
	return func() { c.fail(status, msg) }
}

// noStore forbids caching of a token response (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// isBasicAuth reports whether the request sends an Authorization: Basic
// header (well-formed or not).
func isBasicAuth(r *http.Request) bool {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	return len(h) >= 5 && strings.EqualFold(h[:5], "basic")
}

// appIDOf returns the app ID part of a client ID ("<appId>-<suffix>").
func appIDOf(clientID string) string {
	id, _, _ := strings.Cut(clientID, "-")
	return id
}

// randHex returns n random lowercase hex digits from the seeded generator.
func (s *Server) randHex(n int) string {
	const digits = "0123456789abcdef"
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[s.rng.IntN(len(digits))]
	}
	return string(b)
}

// uniqueScopes returns list without repeats, in order, never nil.
func uniqueScopes(list []string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
