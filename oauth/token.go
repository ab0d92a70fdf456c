package oauth

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// UserType is the kind of account a token acts for.
type UserType string

// User types of the token endpoint's user_type.
const (
	// Location is a sub-account token: what the contacts API accepts.
	Location UserType = "Location"
	// Company is an agency token: exchange it for Location tokens.
	Company UserType = "Company"
)

// Key names one stored token: an app's token for one location or one
// company. Exactly one of LocationID and CompanyID is set.
type Key struct {
	AppID      string
	LocationID string
	CompanyID  string
}

// LocationKey is the key of an app's token for a location.
func LocationKey(appID, locationID string) Key { return Key{AppID: appID, LocationID: locationID} }

// CompanyKey is the key of an app's agency token for a company.
func CompanyKey(appID, companyID string) Key { return Key{AppID: appID, CompanyID: companyID} }

// Subject returns "location:<id>" or "company:<id>".
func (k Key) Subject() string {
	if k.CompanyID != "" {
		return "company:" + k.CompanyID
	}
	return "location:" + k.LocationID
}

// String returns "<app>/<subject>".
func (k Key) String() string { return k.AppID + "/" + k.Subject() }

// Validate reports whether the key names exactly one subject of an app.
func (k Key) Validate() error {
	switch {
	case k.AppID == "":
		return fmt.Errorf("oauth: key %s has no app ID", k)
	case (k.LocationID == "") == (k.CompanyID == ""):
		return fmt.Errorf("oauth: key %s must name exactly one of a location or a company", k)
	case strings.ContainsAny(k.AppID+k.LocationID+k.CompanyID, "/\x00"):
		return fmt.Errorf("oauth: key %s contains '/' or NUL", k)
	}
	return nil
}

// Token is a stored OAuth token with the metadata the token endpoint
// returns alongside it. Formatting a Token with any fmt verb (%v, %+v, %#v,
// %s, %d, %x, …) never prints the access or refresh token.
type Token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry"`
	// Scopes are the scopes granted.
	Scopes            []string `json:"scopes,omitempty"`
	UserType          UserType `json:"user_type,omitempty"`
	LocationID        string   `json:"location_id,omitempty"`
	CompanyID         string   `json:"company_id,omitempty"`
	UserID            string   `json:"user_id,omitempty"`
	PlanID            string   `json:"plan_id,omitempty"`
	ApprovedLocations []string `json:"approved_locations,omitempty"`
	// UpdatedAt is when the token was last written.
	UpdatedAt time.Time `json:"updated_at"`
	// Version is the store's version of this token, for compare-and-swap;
	// 0 for a token never stored. Stores set it; callers pass it back.
	Version int64 `json:"-"`
}

// HasScope reports whether the token was granted scope.
func (t Token) HasScope(scope string) bool { return slices.Contains(t.Scopes, scope) }

// ValidFor reports whether the access token is set and will not expire
// within d of now. A zero Expiry never expires.
func (t Token) ValidFor(now time.Time, d time.Duration) bool {
	return t.AccessToken != "" && (t.Expiry.IsZero() || now.Add(d).Before(t.Expiry))
}

// OAuth2 returns the token as an *oauth2.Token. Unlike Token, that type
// does not redact: %v prints its access and refresh tokens.
func (t Token) OAuth2() *oauth2.Token {
	typ := t.TokenType
	if typ == "" {
		typ = "Bearer"
	}
	return &oauth2.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: typ, Expiry: t.Expiry}
}

// merge returns fresh with the metadata of prev kept where the token
// endpoint's answer left it out (a refresh answer may omit locationId,
// companyId or userType), so stored metadata survives every refresh.
func merge(prev, fresh Token) Token {
	if fresh.RefreshToken == "" {
		fresh.RefreshToken = prev.RefreshToken
	}
	if len(fresh.Scopes) == 0 {
		fresh.Scopes = prev.Scopes
	}
	if fresh.UserType == "" {
		fresh.UserType = prev.UserType
	}
	if fresh.LocationID == "" {
		fresh.LocationID = prev.LocationID
	}
	if fresh.CompanyID == "" {
		fresh.CompanyID = prev.CompanyID
	}
	if fresh.UserID == "" {
		fresh.UserID = prev.UserID
	}
	if fresh.PlanID == "" {
		fresh.PlanID = prev.PlanID
	}
	if len(fresh.ApprovedLocations) == 0 {
		fresh.ApprovedLocations = prev.ApprovedLocations
	}
	fresh.Version = prev.Version
	return fresh
}

// String describes the token without its secrets.
func (t Token) String() string {
	return fmt.Sprintf("oauth.Token{type: %s, location: %q, company: %q, scopes: %v, expiry: %s, version: %d, access: %s, refresh: %s}",
		t.UserType, t.LocationID, t.CompanyID, t.Scopes, t.Expiry.Format(time.RFC3339), t.Version, redact(t.AccessToken), redact(t.RefreshToken))
}

// GoString is String, so %#v does not print secrets either.
func (t Token) GoString() string { return t.String() }

// Format implements fmt.Formatter, so that every verb — not only those
// that call String — prints the redacted description: %d or %t of a Token
// would otherwise print its fields, secrets included.
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String()) }

// LogValue is String, so log/slog handlers (the JSON one would otherwise
// marshal the token, secrets included) do not print secrets either.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// formatRedacted writes desc, a description without secrets, for any verb:
// %s, %q, %x and %X format it as they format a string, every other verb
// (%v, %+v, %#v, %d, …) as %s does, with the same flags and width.
func formatRedacted(f fmt.State, verb rune, desc string) {
	switch verb {
	case 's', 'q', 'x', 'X':
	default:
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), desc)
}

// sealed holds a value that must never be printed — a Token, an access or
// refresh token, a *Config with its client secret — in an unexported field.
// fmt never calls the methods (String, Format) of an unexported field's
// type, so a Token or secret string held directly there is printed raw by
// %v or %d of the struct around it (a dereferenced Source, say), and %s
// even follows a pointer to a struct. A func value is printed as an
// address only, whatever the verb.
type sealed[T any] struct{ v func() T }

func seal[T any](v T) sealed[T] { return sealed[T]{func() T { return v }} }

// get returns the sealed value, or T's zero value if there is none.
func (s sealed[T]) get() T {
	if s.v == nil {
		var zero T
		return zero
	}
	return s.v()
}

// ok reports whether a value is sealed.
func (s sealed[T]) ok() bool { return s.v != nil }

func redact(s string) string {
	if s == "" {
		return "none"
	}
	return "[redacted]"
}
