// Package oauth runs the Contacts API's OAuth 2.0 authorization-code flow
// and a token lifecycle that never loses a rotated refresh token.
//
// The API's refresh tokens are single-use: every refresh returns a new one
// and kills the old. A rotated token that is not saved, or two refreshes
// racing with the same token, disconnect the customer until they reinstall
// the app. This package prevents both, across goroutines and processes:
//
//   - Source, the refreshing oauth2.TokenSource, refreshes shortly before
//     expiry and once after a 401, one refresh at a time per key in the
//     process; before refreshing it takes the store's cross-process lock
//     and re-reads the store, so it reuses a token another process has just
//     refreshed instead of spending the same refresh token twice;
//   - the rotated refresh token is saved (compare-and-swap on the stored
//     version) before the new access token is handed out; if saving fails
//     the refresh fails loudly and the new access token is withheld;
//   - stored metadata (locationId, companyId, userType, scopes) survives
//     every refresh, and no error ever deletes a stored token.
//
// What no client can prevent: the token endpoint rotates the refresh token
// when it processes the request, so if its answer never arrives (the
// connection drops or times out after the request was sent), or the
// process dies before the rotated token is saved, the stored refresh token
// is dead and the next refresh fails with ErrInvalidGrant; the location
// must be re-authorized (or served through WithAgencyFallback). Source
// narrows the window: once a refresh request is sent, neither the caller's
// cancellation nor its deadline abandons it (it is bounded by the lock's
// lease instead, and saving its answer by at least 15 s, however little of
// the lease is left), and a rotated token the store refused (ErrUnsaved)
// is kept in memory only, so keep the store healthy and the process up
// until ErrUnsaved clears.
//
// Stores: NewMemoryStore (one process), NewFileStore (one machine),
// NewSQLStore (database/sql: SQLite, PostgreSQL). Manager hands out one
// *contacts.Client per location sharing one HTTP transport. Agency
// (Company) tokens are exchanged for location tokens (LocationToken) and
// serve as a fallback when a location's own refresh fails.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	contacts "github.com/gymflow/contacts-go"
)

// Authorization endpoints: the marketplace's location chooser, and its
// white-label twin for agencies that hide the HighLevel brand.
const (
	AuthURL           = "https://marketplace.gohighlevel.com/v2/oauth/chooselocation"
	WhiteLabelAuthURL = "https://marketplace.leadconnectorhq.com/v2/oauth/chooselocation"
)

// Token endpoint errors. Match them with errors.Is on the error a refresh,
// an exchange or a Source returns; a *TokenError carries the details.
var (
	// ErrInvalidGrant: the refresh token (or code) is invalid, expired or
	// already used. The integration must be re-authorized.
	ErrInvalidGrant = errors.New("oauth: the refresh token or code is invalid, expired or already used")
	// ErrAppRevoked: the app was uninstalled or its access revoked. It
	// also matches ErrInvalidGrant.
	ErrAppRevoked = errors.New("oauth: the app was uninstalled or its access revoked")
	// ErrLocationInactive: "Location is not active". Recoverable later with
	// the same refresh token, which stays stored.
	ErrLocationInactive = errors.New("oauth: location is not active")
	// ErrInvalidClient: the client ID or secret was refused.
	ErrInvalidClient = errors.New("oauth: client authentication failed")
)

// TokenError is a failed call to a token endpoint. It never holds a
// client secret, code or token.
type TokenError struct {
	// Op is "exchange", "refresh" or "location token".
	Op         string
	StatusCode int
	// Code is the OAuth error code ("invalid_grant", …), if any.
	Code string
	// Description is the server's error_description or message.
	Description string
	TraceID     string
	kind        error
}

func (e *TokenError) Error() string {
	s := fmt.Sprintf("oauth: %s: %d", e.Op, e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.TraceID != "" {
		s += " [trace " + e.TraceID + "]"
	}
	return s
}

// Is matches the package's sentinel errors.
func (e *TokenError) Is(target error) bool {
	return target != nil && (target == e.kind || e.kind == ErrAppRevoked && target == ErrInvalidGrant)
}

// Config is an OAuth app's configuration.
type Config struct {
	ClientID     string
	ClientSecret string
	RedirectURL  string
	// Scopes to request, e.g. contacts.ScopeContactsReadonly.
	Scopes []string
	// AppID names the app in store keys; empty means the marketplace app
	// ID, the part of ClientID before its first "-".
	AppID string
	// BaseURL is the API host serving /oauth/token; empty means
	// contacts.DefaultBaseURL.
	BaseURL string
	// WhiteLabel sends users to the white-label authorization page.
	WhiteLabel bool
	// HTTPClient makes the token requests; nil means a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock that turns expires_in into an expiry; nil means
	// time.Now. Tests share it with a fake server's clock.
	Now func() time.Time
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// String describes the config without its client secret.
func (c Config) String() string {
	return fmt.Sprintf("oauth.Config{ClientID: %q, ClientSecret: %s, RedirectURL: %q, Scopes: %v, BaseURL: %q}",
		c.ClientID, redact(c.ClientSecret), c.RedirectURL, c.Scopes, c.baseURL())
}

// GoString is String.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb prints String, so that no
// verb (%d, say) prints the client secret.
func (c Config) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }

// LogValue is String, so log/slog handlers do not print the secret.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c *Config) baseURL() string {
	if c.BaseURL == "" {
		return contacts.DefaultBaseURL
	}
	return strings.TrimRight(c.BaseURL, "/")
}

// App returns the app ID used in store keys.
func (c *Config) App() string {
	if c.AppID != "" {
		return c.AppID
	}
	id, _, _ := strings.Cut(c.ClientID, "-")
	return id
}

// httpClient returns the client for token requests. It never follows
// redirects: a 307/308 would re-send the form — client secret and refresh
// token — to wherever the redirect points.
func (c *Config) httpClient() *http.Client {
	hc := http.Client{Timeout: 30 * time.Second}
	if c.HTTPClient != nil {
		hc = *c.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc
}

// OAuth2 returns the equivalent *oauth2.Config: the API's authorization and
// token endpoints, client credentials sent in the form body as the API
// expects. Use it for AuthCodeURL; Exchange and Refresh here return the
// API's token metadata as well.
func (c *Config) OAuth2() *oauth2.Config {
	auth := AuthURL
	if c.WhiteLabel {
		auth = WhiteLabelAuthURL
	}
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		RedirectURL:  c.RedirectURL,
		Scopes:       c.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   auth,
			TokenURL:  c.baseURL() + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// AuthCodeURL returns the URL to send the user to; state protects the
// callback against forgery.
func (c *Config) AuthCodeURL(state string, opts ...oauth2.AuthCodeOption) string {
	return c.OAuth2().AuthCodeURL(state, opts...)
}

// Exchange trades an authorization code for a token; userType is Location
// for a sub-account install and Company for an agency one.
func (c *Config) Exchange(ctx context.Context, code string, userType UserType) (Token, error) {
	if code == "" {
		return Token{}, errors.New("oauth: exchange: empty authorization code")
	}
	form := c.clientForm("authorization_code", userType)
	form.Set("code", code)
	if c.RedirectURL != "" {
		form.Set("redirect_uri", c.RedirectURL)
	}
	return c.post(ctx, "exchange", "/oauth/token", form, "")
}

// Refresh trades a refresh token for a new token pair. The refresh token is
// dead afterwards, whatever happens to the answer: save the returned
// RefreshToken before using the access token. Source does all of this.
func (c *Config) Refresh(ctx context.Context, refreshToken string, userType UserType) (Token, error) {
	if refreshToken == "" {
		return Token{}, errors.New("oauth: refresh: no refresh token")
	}
	form := c.clientForm("refresh_token", userType)
	form.Set("refresh_token", refreshToken)
	return c.post(ctx, "refresh", "/oauth/token", form, "")
}

// LocationToken exchanges an agency (Company) access token for a token of
// one of the agency's locations (POST /oauth/locationToken; the agency
// token needs the oauth.write scope). The answer carries no refresh token:
// exchange again when it expires.
func (c *Config) LocationToken(ctx context.Context, agency Token, locationID string) (Token, error) {
	if agency.UserType != "" && agency.UserType != Company {
		return Token{}, fmt.Errorf("oauth: location token: the agency token is a %s token", agency.UserType)
	}
	if agency.CompanyID == "" || locationID == "" {
		return Token{}, errors.New("oauth: location token: company and location IDs are required")
	}
	form := url.Values{"companyId": {agency.CompanyID}, "locationId": {locationID}}
	t, err := c.post(ctx, "location token", "/oauth/locationToken", form, agency.AccessToken)
	if err != nil {
		return Token{}, err
	}
	t.UserType = Location
	t.CompanyID = agency.CompanyID
	if t.LocationID == "" {
		t.LocationID = locationID
	}
	if len(t.Scopes) == 0 {
		t.Scopes = agency.Scopes
	}
	return t, nil
}

func (c *Config) clientForm(grant string, userType UserType) url.Values {
	form := url.Values{
		"client_id":     {c.ClientID},
		"client_secret": {c.ClientSecret},
		"grant_type":    {grant},
	}
	if userType != "" {
		form.Set("user_type", string(userType))
	}
	return form
}

// tokenResponse is the token endpoints' answer, success or error.
type tokenResponse struct {
	AccessToken       string   `json:"access_token"`
	TokenType         string   `json:"token_type"`
	ExpiresIn         float64  `json:"expires_in"`
	RefreshToken      string   `json:"refresh_token"`
	Scope             string   `json:"scope"`
	UserType          UserType `json:"userType"`
	LocationID        string   `json:"locationId"`
	CompanyID         string   `json:"companyId"`
	ApprovedLocations []string `json:"approvedLocations"`
	UserID            string   `json:"userId"`
	PlanID            string   `json:"planId"`
	TraceID           string   `json:"traceId"`

	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
	Message          json.RawMessage `json:"message"`
}

// maxTokenBody bounds token endpoint answers.
const maxTokenBody = 64 << 10

func (c *Config) post(ctx context.Context, op, path string, form url.Values, bearer string) (Token, error) {
	if c.ClientID == "" || c.ClientSecret == "" && bearer == "" {
		return Token{}, fmt.Errorf("oauth: %s: the config has no client ID or secret", op)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL()+path, strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, fmt.Errorf("oauth: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "contacts-go/"+contacts.Version)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Version", contacts.APIVersion)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Token{}, ctxErr
		}
		return Token{}, fmt.Errorf("oauth: %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	if err != nil {
		return Token{}, fmt.Errorf("oauth: %s: reading the answer: %w", op, err)
	}
	var tr tokenResponse
	decodeErr := json.Unmarshal(data, &tr)
	if resp.StatusCode != http.StatusOK {
		return Token{}, classify(op, resp.StatusCode, tr)
	}
	if decodeErr != nil || tr.AccessToken == "" {
		return Token{}, &TokenError{Op: op, StatusCode: resp.StatusCode, Description: "the answer has no access token", TraceID: tr.TraceID}
	}
	t := Token{
		AccessToken:       tr.AccessToken,
		RefreshToken:      tr.RefreshToken,
		TokenType:         tr.TokenType,
		Scopes:            strings.Fields(tr.Scope),
		UserType:          tr.UserType,
		LocationID:        tr.LocationID,
		CompanyID:         tr.CompanyID,
		ApprovedLocations: tr.ApprovedLocations,
		UserID:            tr.UserID,
		PlanID:            tr.PlanID,
	}
	if tr.ExpiresIn > 0 {
		t.Expiry = c.now().Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return t, nil
}

// classify turns an error answer into a *TokenError with its sentinel.
func classify(op string, status int, tr tokenResponse) *TokenError {
	desc := tr.ErrorDescription
	if desc == "" {
		var s string
		var list []string
		if json.Unmarshal(tr.Message, &s) == nil {
			desc = s
		} else if json.Unmarshal(tr.Message, &list) == nil {
			desc = strings.Join(list, "; ")
		}
	}
	e := &TokenError{Op: op, StatusCode: status, Code: tr.Error, Description: desc, TraceID: tr.TraceID}
	lower := strings.ToLower(desc)
	switch {
	case strings.Contains(lower, "location is not active"):
		e.kind = ErrLocationInactive
	case tr.Error == "invalid_grant" && (strings.Contains(lower, "uninstall") || strings.Contains(lower, "revoked")):
		e.kind = ErrAppRevoked
	case tr.Error == "invalid_grant":
		e.kind = ErrInvalidGrant
	case tr.Error == "invalid_client" || status == http.StatusUnauthorized && op != "location token":
		e.kind = ErrInvalidClient
	}
	return e
}
