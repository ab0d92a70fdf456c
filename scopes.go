package contacts

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/oauth2"
)

// OAuth scopes of the API. Reads of the contacts API need
// ScopeContactsReadonly, writes ScopeContactsWrite.
const (
	ScopeContactsReadonly   = "contacts.readonly"
	ScopeContactsWrite      = "contacts.write"
	ScopeOAuthReadonly      = "oauth.readonly"
	ScopeOAuthWrite         = "oauth.write"
	ScopeLocationsReadonly  = "locations.readonly"
	ScopeUsersReadonly      = "users.readonly"
	ScopeCalendarsReadonly  = "calendars.readonly"
	ScopeBusinessesReadonly = "businesses.readonly"
	ScopeBusinessesWrite    = "businesses.write"
	ScopeCampaignsReadonly  = "campaigns.readonly"
	ScopeWorkflowsReadonly  = "workflows.readonly"
)

// ErrReadOnly is returned, before any I/O, by write methods of a client
// made read-only with WithReadOnly. It matches ErrInvalidArgument too.
var ErrReadOnly = fmt.Errorf("%w: the client is read-only (contacts.readonly)", ErrInvalidArgument)

// ErrMissingScope matches an *APIError for a 401 or 403 caused by the token
// lacking the operation's scope; APIError.RequiredScope names it.
var ErrMissingScope = errors.New("contacts: the token lacks the scope this operation needs")

// WithReadOnly makes the client read-only, as the product's set-up guide
// recommends for tokens granted only contacts.readonly: every write method
// fails with ErrReadOnly before any I/O.
func WithReadOnly() Option {
	return func(c *config) error {
		c.readOnly = true
		return nil
	}
}

// requiredScope is the scope an operation needs: every read — GET and the
// POST of search — needs contacts.readonly, every other call contacts.write.
func requiredScope(method, path string) string {
	if method == "GET" || method == "POST" && path == "/contacts/search" {
		return ScopeContactsReadonly
	}
	return ScopeContactsWrite
}

// isScopeMessage reports whether an error message blames the token's
// scopes ("The token is not authorized for this scope.").
func isScopeMessage(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "scope")
}

// TokenInvalidator is implemented by token sources that can drop an access
// token the API rejected, so that the next Token call fetches a fresh one
// (oauth.Source does). After a 401 the client calls InvalidateToken with
// the token it sent and repeats the request once.
type TokenInvalidator interface {
	InvalidateToken(accessToken string)
}

// StaticToken is a token source for a static bearer token, such as a
// sub-account Private Integration Token, that can be replaced at runtime
// when the token is rotated, without rebuilding the client:
//
//	pit, _ := contacts.NewStaticToken(os.Getenv("CONTACTS_API_TOKEN"))
//	client, _ := contacts.NewClient(contacts.WithTokenSource(pit))
//	…
//	pit.Set(rotated) // later requests use the new token
//
// It never refreshes anything. Formatting it never prints the token.
type StaticToken struct {
	v atomic.Pointer[oauth2.Token]
}

// NewStaticToken returns a StaticToken holding token.
func NewStaticToken(token string) (*StaticToken, error) {
	s := &StaticToken{}
	if err := s.Set(token); err != nil {
		return nil, err
	}
	return s, nil
}

// Set replaces the token; requests that start afterwards use it.
func (s *StaticToken) Set(token string) error {
	if err := validToken(token); err != nil {
		return fmt.Errorf("contacts: %w", err)
	}
	s.v.Store(&oauth2.Token{AccessToken: token, TokenType: "Bearer"})
	return nil
}

// Token implements oauth2.TokenSource.
func (s *StaticToken) Token() (*oauth2.Token, error) {
	t := s.v.Load()
	if t == nil {
		return nil, errors.New("contacts: static token is not set")
	}
	return t, nil
}

// String describes the token source without the token.
func (s *StaticToken) String() string { return "contacts.StaticToken{token: [redacted]}" }

// GoString is String.
func (s *StaticToken) GoString() string { return s.String() }
