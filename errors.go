package contacts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gymflow/contacts-go/internal/ratelimit"
	"github.com/gymflow/contacts-go/internal/retry"
)

// Sentinel errors, matched with errors.Is against the errors the SDK returns.
var (
	// ErrNotFound: the contact, task or note does not exist (or was
	// deleted). The live API reports unknown IDs as 400 "… not found" as
	// well as 404; both match.
	ErrNotFound = errors.New("contacts: not found")
	// ErrUnauthorized: 401, the token is missing, invalid or expired.
	ErrUnauthorized = errors.New("contacts: unauthorized")
	// ErrForbidden: 403, the token may not act on this location or lacks
	// the operation's scope.
	ErrForbidden = errors.New("contacts: forbidden")
	// ErrValidation: 400 or 422, the API rejected the request's content.
	ErrValidation = errors.New("contacts: validation failed")
	// ErrDuplicateContact: the location does not allow duplicate contacts
	// and one already exists; APIError.DuplicateContactID names it.
	ErrDuplicateContact = errors.New("contacts: duplicate contact")
	// ErrRateLimited: 429, the burst or the daily budget is spent.
	ErrRateLimited = errors.New("contacts: rate limited")
	// ErrDailyLimitExceeded: 429 with the daily budget spent. Not retried.
	ErrDailyLimitExceeded = errors.New("contacts: daily rate limit exceeded")
	// ErrServer: a 5xx answer.
	ErrServer = errors.New("contacts: server error")
	// ErrInvalidArgument: the SDK refused the call before any I/O (empty
	// or path-escaping ID, missing location, missing required field).
	ErrInvalidArgument = errors.New("contacts: invalid argument")
	// ErrRedirect: the server answered with a redirect (3xx), which the SDK
	// never follows: the API does not redirect API calls, and following
	// one could carry the bearer token and the request body to another
	// host, or turn a create into a GET. APIError.Location says where it
	// pointed. A wrong base URL (http:// for https://) is the usual cause.
	ErrRedirect = errors.New("contacts: redirect not followed")
	// ErrNotSucceeded: a 2xx answer whose body says succeded: false.
	ErrNotSucceeded = errors.New("contacts: the API reported the operation did not succeed")
)

// APIError is an answer outside 2xx. Match it with errors.Is against the
// sentinels or errors.As to read its fields. It never holds credentials.
type APIError struct {
	// Method and Path identify the call (the path without query string).
	Method string
	Path   string
	// StatusCode is the HTTP status.
	StatusCode int
	// Messages holds the body's message, which the API sends as a string
	// (400, 401) or an array of strings (422).
	Messages []string
	// ErrorText is the body's "error" field, e.g. "Unprocessable Entity".
	ErrorText string
	// TraceID is the body's traceId.
	TraceID string
	// DuplicateContactID and MatchingField come from the "meta" object the
	// live API adds when a location rejects a duplicate contact (not in the
	// spec).
	DuplicateContactID string
	MatchingField      string
	// RequiredScope is set on a 401 or 403 the API blamed on the token's
	// scopes: the scope the operation needs (contacts.readonly or
	// contacts.write).
	RequiredScope string
	// RateLimit is the response's rate-limit snapshot, nil if absent.
	RateLimit *RateLimit
	// RetryAfter is the server's Retry-After, 0 if absent.
	RetryAfter time.Duration
	// Location is where a redirect (3xx) pointed, without its query
	// string or user info; the SDK did not follow it (ErrRedirect).
	Location string
	// Body is the raw body, truncated to 64 KiB. A bearer token the server
	// echoed back is replaced by "[redacted]" here and in every text field.
	Body []byte
}

type errorBody struct {
	StatusCode int         `json:"statusCode"`
	Message    messageList `json:"message"`
	Error      string      `json:"error"`
	TraceID    string      `json:"traceId"`
	Meta       struct {
		ContactID     string `json:"contactId"`
		MatchingField string `json:"matchingField"`
	} `json:"meta"`
}

// messageList decodes a message sent as a string or an array of strings.
type messageList []string

func (m *messageList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		if one != "" {
			*m = []string{one}
		}
		return nil
	}
	var many []any
	if err := json.Unmarshal(b, &many); err != nil {
		return nil // unexpected shape: leave empty, Body keeps it
	}
	for _, v := range many {
		if s, ok := v.(string); ok {
			*m = append(*m, s)
		} else if v != nil {
			*m = append(*m, fmt.Sprint(v))
		}
	}
	return nil
}

// newAPIError builds the error for a non-2xx answer. secret is the bearer
// token the attempt was sent with ("" if unknown): a server that echoes it
// (e.g. "invalid token Bearer pit-…") must not leak it through Error(),
// formatted output or Body, so every server-supplied text is scrubbed of it.
// truncated reports that data was cut at the error-body bound.
func newAPIError(method, path string, resp *http.Response, data []byte, truncated bool, snap ratelimit.Snapshot, hasRate bool, secret string) *APIError {
	e := &APIError{Method: method, Path: path, StatusCode: resp.StatusCode, Body: redactBytes(data, secret, truncated)}
	var body errorBody
	if json.Unmarshal(data, &body) == nil {
		e.Messages = body.Message
		e.ErrorText = body.Error
		e.TraceID = body.TraceID
		e.DuplicateContactID = body.Meta.ContactID
		e.MatchingField = body.Meta.MatchingField
		if secret != "" {
			for i, m := range e.Messages {
				e.Messages[i] = redactString(m, secret)
			}
			for _, f := range []*string{&e.ErrorText, &e.TraceID, &e.DuplicateContactID, &e.MatchingField} {
				*f = redactString(*f, secret)
			}
		}
	}
	if hasRate {
		rl := RateLimit(snap)
		e.RateLimit = &rl
	}
	if d, ok := retry.RetryAfter(resp.Header, time.Now()); ok {
		e.RetryAfter = d
	}
	if e.isRedirect() {
		e.Location = redirectTarget(resp)
	}
	return e
}

func (e *APIError) isRedirect() bool { return e.StatusCode >= 300 && e.StatusCode <= 399 }

// redirectTarget resolves a redirect's Location against the request URL
// and drops the query string and user info, which may hold personal data
// or credentials. "" if there is none.
func redirectTarget(resp *http.Response) string {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "(unparsable)"
	}
	if resp.Request != nil && resp.Request.URL != nil {
		u = resp.Request.URL.ResolveReference(u)
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.User = "", false, "", nil
	return u.String()
}

// redacted replaces a credential a server echoed back.
const redacted = "[redacted]"

// redactString replaces every occurrence of secret in s. It allocates only
// when s holds the secret.
func redactString(s, secret string) string {
	if secret == "" || !strings.Contains(s, secret) {
		return s
	}
	return strings.ReplaceAll(s, secret, redacted)
}

// redactBytes replaces every occurrence of secret in b, and, when b was
// truncated, a trailing partial copy of it cut by the bound. It returns b
// itself unless a replacement was made.
func redactBytes(b []byte, secret string, truncated bool) []byte {
	if secret == "" {
		return b
	}
	sec := []byte(secret)
	if bytes.Contains(b, sec) {
		b = bytes.ReplaceAll(b, sec, []byte(redacted))
	}
	if truncated {
		for k := min(len(sec)-1, len(b)); k > 0; k-- {
			if bytes.HasSuffix(b, sec[:k]) {
				b = append(b[:len(b)-k:len(b)-k], redacted...)
				break
			}
		}
	}
	return b
}

// bearerToken returns the bearer token an attempt carried: from the
// Authorization header of the request the response answers, else the one
// the tokenRecorder noted for the call. "" if neither is known.
func bearerToken(resp *http.Response, st *retry.State) string {
	if resp != nil && resp.Request != nil {
		scheme, tok, ok := strings.Cut(resp.Request.Header.Get("Authorization"), " ")
		if tok = strings.TrimSpace(tok); ok && strings.EqualFold(scheme, "Bearer") && tok != "" {
			return tok
		}
	}
	if st != nil {
		return st.Token()
	}
	return ""
}

// Message returns the messages joined with "; ".
func (e *APIError) Message() string { return strings.Join(e.Messages, "; ") }

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "contacts: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if msg := e.Message(); msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	} else if e.ErrorText != "" {
		b.WriteString(": ")
		b.WriteString(e.ErrorText)
	}
	if e.DuplicateContactID != "" {
		fmt.Fprintf(&b, " (existing contact %s", e.DuplicateContactID)
		if e.MatchingField != "" {
			fmt.Fprintf(&b, " matched by %s", e.MatchingField)
		}
		b.WriteString(")")
	}
	if e.RequiredScope != "" {
		fmt.Fprintf(&b, " (the operation needs the %s scope)", e.RequiredScope)
	}
	if e.isRedirect() {
		b.WriteString(" (redirect")
		if e.Location != "" {
			fmt.Fprintf(&b, " to %s", e.Location)
		}
		b.WriteString(" not followed: the SDK sends requests only to its base URL)")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, " [trace %s]", e.TraceID)
	}
	return b.String()
}

// Is matches the sentinel errors.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound ||
			e.StatusCode == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message()), "not found")
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrValidation:
		return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity
	case ErrDuplicateContact:
		return e.DuplicateContactID != "" ||
			e.StatusCode == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message()), "duplicated contacts")
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrDailyLimitExceeded:
		return e.StatusCode == http.StatusTooManyRequests && e.RateLimit != nil && e.RateLimit.DailyRemaining == 0
	case ErrServer:
		return e.StatusCode >= 500
	case ErrRedirect:
		return e.isRedirect()
	case ErrMissingScope:
		return e.RequiredScope != ""
	}
	return false
}

// TransportError is a failure to get any HTTP answer: connection refused or
// reset, timeout, TLS failure, or a token source error. Unwrap gives the
// cause. Context cancellation is returned as the context's own error instead.
type TransportError struct {
	Method, Path string
	Attempts     int
	Err          error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("contacts: %s %s: %v (after %d attempt(s))", e.Method, e.Path, redactURLError(e.Err), e.Attempts)
}

func (e *TransportError) Unwrap() error { return e.Err }

// redactURLError prints a *url.Error without its query string, which may
// hold e-mail addresses or phone numbers.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return fmt.Sprintf("%s %q: %v", ue.Op, u.Redacted(), ue.Err)
		}
	}
	return err.Error()
}

// DecodeError is a 2xx answer whose body the SDK could not decode.
type DecodeError struct {
	Method, Path string
	StatusCode   int
	TraceID      string
	Err          error
}

func (e *DecodeError) Error() string {
	s := fmt.Sprintf("contacts: %s %s: decoding %d response: %v", e.Method, e.Path, e.StatusCode, e.Err)
	if e.TraceID != "" {
		s += " [trace " + e.TraceID + "]"
	}
	return s
}

func (e *DecodeError) Unwrap() error { return e.Err }

// checkID rejects IDs that are empty or could change the request path.
func checkID(name, id string) error {
	switch id {
	case "":
		return fmt.Errorf("%s is empty", name)
	case ".", "..":
		return fmt.Errorf("%s %q is not a valid ID", name, id)
	}
	for _, r := range id {
		if r == '/' || r == '\\' || r < ' ' || r == 0x7f {
			return fmt.Errorf("%s %q must not contain '/', '\\' or control characters", name, id)
		}
	}
	return nil
}

// seg validates id and returns it escaped for use as one path segment.
func seg(name, id string) (string, error) {
	if err := checkID(name, id); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	return url.PathEscape(id), nil
}

// pathOf fills format's %s verbs with validated, escaped IDs given as
// name, value pairs: pathOf("/contacts/%s/tasks/%s", "contactId", c, "taskId", t).
func pathOf(format string, pairs ...string) (string, error) {
	args := make([]any, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		s, err := seg(pairs[i], pairs[i+1])
		if err != nil {
			return "", err
		}
		args = append(args, s)
	}
	return fmt.Sprintf(format, args...), nil
}
