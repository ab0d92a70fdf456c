package contacts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/gymflow/contacts-go/internal/ratelimit"
	"github.com/gymflow/contacts-go/internal/retry"
)

const (
	// DefaultBaseURL is the Contacts API's production host.
	DefaultBaseURL = "https://services.leadconnectorhq.com"
	// APIVersion is the value of the Version header the contacts API
	// requires; it is the only value its spec allows.
	APIVersion = "2021-07-28"
	// Version is this SDK's version, sent in the User-Agent header.
	Version = "0.1.0"

	// DefaultTimeout bounds each HTTP attempt when no HTTP client is given.
	DefaultTimeout = 30 * time.Second

	maxResponseBody = 32 << 20 // success bodies: generous, but bounded
	maxErrorBody    = 64 << 10 // error bodies kept on APIError
)

// Client is a Contacts API client. It is safe for concurrent use; create one
// per credential and reuse it.
//
// Resources hang off the client as services:
//
//	c.Contacts.Get(ctx, id)
//	c.Tasks.Create(ctx, contactID, contacts.TaskCreate{...})
//	c.Tags.Add(ctx, contactID, []string{"vip"})
type Client struct {
	Contacts     *ContactsService
	Tasks        *TasksService
	Notes        *NotesService
	Appointments *AppointmentsService
	Tags         *TagsService
	Followers    *FollowersService
	Campaigns    *CampaignsService
	Workflows    *WorkflowsService

	common     service
	baseURL    string
	locationID string
	userAgent  string
	apiVersion string
	headers    http.Header
	policy     retry.Policy
	readOnly   bool
	tokens     oauth2.TokenSource
	http       *retryablehttp.Client
	logger     *slog.Logger
	lastRate   atomic.Pointer[RateLimit]
	limited    *ratelimit.Transport // the client-side limiter, for ResetRateLimit
}

type service struct{ client *Client }

// Option configures a Client. Options validate their input: NewClient
// returns the first error.
type Option func(*config) error

type config struct {
	baseURL     string
	httpClient  *http.Client
	tokenSource oauth2.TokenSource
	locationID  string
	userAgent   string
	apiVersion  string
	retry       RetryPolicy
	limiter     *rate.Limiter
	logger      *slog.Logger
	headers     http.Header
	readOnly    bool
}

// RetryPolicy controls retries. Start from DefaultRetryPolicy and adjust.
//
// What is retried: GET, PUT and DELETE after a 5xx (except 501), a timeout
// or a dropped connection; any method after a 429, because the server did
// not process it. A POST is never repeated after a 5xx or a transport error,
// because the server may have acted on it (the API is known to create a
// contact and still answer with an error); re-check instead. A 429 that says
// the daily budget is spent fails at once with ErrDailyLimitExceeded.
type RetryPolicy struct {
	// MaxRetries is the number of retries after the first attempt; 0
	// disables retries.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential, jittered wait.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxRetryAfter caps a server-requested wait (Retry-After on a 429). A
	// 429 asking for longer is returned to the caller instead of waited on.
	// It also caps how long the client-side limiter holds later requests
	// after a 429 or a spent window, so one long Retry-After never freezes
	// the client; zero disables that hold.
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy returns the policy a client uses unless told otherwise:
// 3 retries, backoff from 500ms to 10s, Retry-After honoured up to 60s.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: 3, MinBackoff: 500 * time.Millisecond, MaxBackoff: 10 * time.Second, MaxRetryAfter: time.Minute}
}

// DefaultRateLimiter returns a limiter matching the API's documented burst
// budget: 100 requests per 10 seconds.
func DefaultRateLimiter() *rate.Limiter {
	return rate.NewLimiter(rate.Every(100*time.Millisecond), 100)
}

// WithBaseURL sets the API host, for example a contactstest server's URL.
func WithBaseURL(raw string) Option {
	return func(c *config) error {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("base URL: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("base URL %q: want an absolute http(s) URL", raw)
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("base URL %q: must not carry a query, fragment or user info", u.Redacted())
		}
		c.baseURL = strings.TrimRight(u.String(), "/")
		return nil
	}
}

// WithHTTPClient sets the HTTP client whose Transport, Timeout and Jar the
// SDK uses underneath its own retry, auth and rate-limit layers. Share one
// transport between many clients this way.
//
// Its CheckRedirect is not used: the SDK never follows a redirect, because
// the API does not redirect API calls and a followed redirect would carry
// the bearer token (and a write's body) wherever the Location points. A
// redirect comes back as an *APIError matching ErrRedirect.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("HTTP client is nil")
		}
		c.httpClient = hc
		return nil
	}
}

// WithTokenSource authenticates requests with tokens from ts, typically an
// OAuth 2.0 source. The source should cache its token (oauth2.Config's
// sources do); it is consulted before every attempt.
func WithTokenSource(ts oauth2.TokenSource) Option {
	return func(c *config) error {
		if ts == nil {
			return errors.New("token source is nil")
		}
		c.tokenSource = ts
		return nil
	}
}

// WithToken authenticates with a static bearer token, such as a sub-account
// Private Integration Token ("pit-…"). The token never appears in errors,
// logs or formatted output.
func WithToken(token string) Option {
	return func(c *config) error {
		st, err := NewStaticToken(token)
		if err != nil {
			return errors.Unwrap(err)
		}
		c.tokenSource = st
		return nil
	}
}

func validToken(token string) error {
	if token == "" {
		return errors.New("token is empty")
	}
	for _, r := range token {
		if r <= ' ' || r == 0x7f {
			return errors.New("token contains whitespace or control characters")
		}
	}
	return nil
}

// WithLocationID sets the default sub-account (location) ID used by every
// request that needs one and does not name it itself.
func WithLocationID(id string) Option {
	return func(c *config) error {
		if err := checkID("locationId", id); err != nil {
			return err
		}
		c.locationID = id
		return nil
	}
}

// WithUserAgent prefixes the SDK's User-Agent with the application's own
// product token, e.g. "gymflow-sync/2.3".
func WithUserAgent(product string) Option {
	return func(c *config) error {
		if strings.ContainsAny(product, "\r\n") {
			return errors.New("user agent contains a line break")
		}
		c.userAgent = strings.TrimSpace(product)
		return nil
	}
}

// WithAPIVersion overrides the Version header sent on every request. The
// default, APIVersion, is the only value the contacts spec accepts.
func WithAPIVersion(v string) Option {
	return func(c *config) error {
		if v == "" || strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("API version %q is invalid", v)
		}
		c.apiVersion = v
		return nil
	}
}

// WithHeader adds a header to every request. Authorization, Version,
// User-Agent, Accept, Content-Type and Content-Length are managed by the SDK
// and cannot be set this way.
func WithHeader(key, value string) Option {
	return func(c *config) error {
		if err := checkHeader(key, value); err != nil {
			return err
		}
		c.headers.Add(key, value)
		return nil
	}
}

func checkHeader(key, value string) error {
	switch http.CanonicalHeaderKey(key) {
	case "Authorization", "Version", "User-Agent", "Accept", "Content-Type", "Content-Length":
		return fmt.Errorf("header %q is managed by the SDK", key)
	case "":
		return errors.New("header name is empty")
	}
	if strings.ContainsAny(key, "\r\n: ") || strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("header %q contains invalid characters", key)
	}
	return nil
}

// WithRetryPolicy replaces DefaultRetryPolicy.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *config) error {
		if p.MaxRetries < 0 || p.MinBackoff < 0 || p.MaxBackoff < 0 || p.MaxRetryAfter < 0 {
			return errors.New("retry policy: values must not be negative")
		}
		if p.MaxBackoff < p.MinBackoff {
			return errors.New("retry policy: MaxBackoff is below MinBackoff")
		}
		c.retry = p
		return nil
	}
}

// WithRateLimiter replaces the client-side limiter (DefaultRateLimiter). The
// limiter is consulted before every attempt, retries included, and lowered
// when the server's X-RateLimit-* headers report less headroom. Pass nil to
// disable client-side limiting.
func WithRateLimiter(l *rate.Limiter) Option {
	return func(c *config) error {
		c.limiter = l
		return nil
	}
}

// WithLogger sends the SDK's debug records (requests, responses, retries) to
// l. Without it the SDK is silent. Records carry method, path, status,
// attempt and wait; never headers, bodies, query strings or tokens.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("logger is nil")
		}
		c.logger = l
		return nil
	}
}

// NewClient returns a client. It performs no I/O and reads no environment.
// Credentials are required: WithToken or WithTokenSource.
func NewClient(opts ...Option) (*Client, error) {
	cfg := config{
		baseURL:    DefaultBaseURL,
		apiVersion: APIVersion,
		retry:      DefaultRetryPolicy(),
		limiter:    DefaultRateLimiter(),
		logger:     slog.New(slog.DiscardHandler),
		headers:    http.Header{},
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, fmt.Errorf("contacts: %w", err)
		}
	}
	if cfg.tokenSource == nil {
		return nil, errors.New("contacts: no credentials: use WithToken (Private Integration Token) or WithTokenSource (OAuth)")
	}

	c := &Client{
		baseURL:    cfg.baseURL,
		locationID: cfg.locationID,
		apiVersion: cfg.apiVersion,
		headers:    cfg.headers,
		logger:     cfg.logger,
		policy:     retry.Policy(cfg.retry),
		readOnly:   cfg.readOnly,
		tokens:     cfg.tokenSource,
	}
	c.userAgent = "contacts-go/" + Version + " (" + runtime.Version() + "; +https://github.com/gymflow/contacts-go)"
	if cfg.userAgent != "" {
		c.userAgent = cfg.userAgent + " " + c.userAgent
	}

	var base http.RoundTripper
	inner := &http.Client{Timeout: DefaultTimeout, CheckRedirect: refuseRedirect}
	if hc := cfg.httpClient; hc != nil {
		base = hc.Transport
		inner.Timeout = hc.Timeout
		inner.Jar = hc.Jar
		// hc.CheckRedirect is deliberately not used (see WithHTTPClient).
	}
	if base == nil {
		base = cleanhttp.DefaultPooledTransport()
	}
	limited := &ratelimit.Transport{Base: base, Limiter: cfg.limiter, Observe: c.observeRateLimit, MaxPause: cfg.retry.MaxRetryAfter}
	c.limited = limited
	auth := &oauth2.Transport{Source: cfg.tokenSource, Base: tokenRecorder{limited}}
	baseURL, _ := url.Parse(cfg.baseURL) // validated by WithBaseURL or a constant
	inner.Transport = originGuard{scheme: baseURL.Scheme, host: baseURL.Host, next: auth}

	c.http = &retryablehttp.Client{
		HTTPClient:   inner,
		RetryWaitMin: cfg.retry.MinBackoff,
		RetryWaitMax: cfg.retry.MaxBackoff,
		// The per-request limit lives in retry.State so it can be
		// overridden per call; this bound is only a backstop.
		RetryMax:        1 << 16,
		CheckRetry:      c.policy.Check,
		Backoff:         c.backoff,
		ErrorHandler:    retryablehttp.PassthroughErrorHandler,
		RequestLogHook:  c.logRequest,
		ResponseLogHook: c.logResponse,
	}

	c.common.client = c
	c.Contacts = (*ContactsService)(&c.common)
	c.Tasks = (*TasksService)(&c.common)
	c.Notes = (*NotesService)(&c.common)
	c.Appointments = (*AppointmentsService)(&c.common)
	c.Tags = (*TagsService)(&c.common)
	c.Followers = (*FollowersService)(&c.common)
	c.Campaigns = (*CampaignsService)(&c.common)
	c.Workflows = (*WorkflowsService)(&c.common)
	return c, nil
}

// LocationID returns the client's default location ID ("" if none).
func (c *Client) LocationID() string { return c.locationID }

// RateLimit returns the rate-limit budget reported by the most recent
// response that carried X-RateLimit-* headers. ok is false before any.
func (c *Client) RateLimit() (rl RateLimit, ok bool) {
	if p := c.lastRate.Load(); p != nil {
		return *p, true
	}
	return RateLimit{}, false
}

// ResetRateLimit makes the client forget the remaining count of the rate
// limit window it last read: its next request goes out alone, and that
// response's X-RateLimit-Remaining paces the rest. Call it when another
// client of the same location's budget — another process — may have sent
// requests since this one did, such as a worker taking a location over
// from another; otherwise the client would pace itself by a count that
// other process has since spent, and draw 429s. A pause set by a 429 still
// holds. It is safe to call at any time, from any goroutine.
func (c *Client) ResetRateLimit() { c.limited.Forget() }

// RateLimitedUntil returns until when the client holds its requests back
// because the server reported the rate-limit window spent (a 429, or
// X-RateLimit-Remaining: 0): the window's end at the latest, or a
// Retry-After. It is the zero time when requests are not held back. A
// process handing a location over to another can pass it on, so that the
// other does not find the spent window out by a 429.
func (c *Client) RateLimitedUntil() time.Time {
	if until := c.limited.PausedUntil(); until.After(time.Now()) {
		return until
	}
	return time.Time{}
}

// ReadOnly reports whether the client refuses writes (WithReadOnly).
func (c *Client) ReadOnly() bool { return c.readOnly }

// String describes the client without credentials.
func (c *Client) String() string {
	return fmt.Sprintf("contacts.Client{baseURL: %q, locationID: %q, readOnly: %t}", c.baseURL, c.locationID, c.readOnly)
}

// GoString is String, so %#v never prints credentials either.
func (c *Client) GoString() string { return c.String() }

func (c *Client) observeRateLimit(s ratelimit.Snapshot) {
	rl := RateLimit(s)
	c.lastRate.Store(&rl)
}

// RateLimit is the budget the server reported on a response. Integer fields
// are -1 when the server did not send the corresponding header.
type RateLimit struct {
	// Limit is X-RateLimit-Max: requests allowed per Interval.
	Limit int
	// Remaining is X-RateLimit-Remaining: requests left in this Interval.
	Remaining int
	// Interval is X-RateLimit-Interval-Milliseconds.
	Interval time.Duration
	// DailyLimit is X-RateLimit-Limit-Daily.
	DailyLimit int
	// DailyRemaining is X-RateLimit-Daily-Remaining.
	DailyRemaining int
	// ObservedAt is when the response arrived.
	ObservedAt time.Time
}

// Response is HTTP metadata about one call, filled in by WithResponse.
type Response struct {
	StatusCode int
	Header     http.Header
	// TraceID is the body's traceId, for HighLevel support requests.
	TraceID string
	// RateLimit is parsed from the final response's headers; HasRateLimit
	// reports whether any were present.
	RateLimit    RateLimit
	HasRateLimit bool
	// Attempts is the number of HTTP attempts made, retries included.
	Attempts int
}

// RequestOption adjusts one call.
type RequestOption func(*requestConfig)

type requestConfig struct {
	resp       *Response
	headers    http.Header
	userAgent  string
	apiVersion string
	maxRetries int
	err        error
}

// WithResponse fills *dst with the call's HTTP metadata (status, headers,
// trace ID, rate limit, attempts), on success and on API errors.
func WithResponse(dst *Response) RequestOption {
	return func(rc *requestConfig) { rc.resp = dst }
}

// WithRequestHeader sets a header on this call only. The headers
// WithHeader refuses cannot be set this way either (see WithRequestAPIVersion
// and WithRequestUserAgent).
func WithRequestHeader(key, value string) RequestOption {
	return func(rc *requestConfig) {
		if err := checkHeader(key, value); err != nil {
			rc.err = err
			return
		}
		if rc.headers == nil {
			rc.headers = http.Header{}
		}
		rc.headers.Set(key, value)
	}
}

// WithRequestAPIVersion overrides the Version header for this call.
func WithRequestAPIVersion(v string) RequestOption {
	return func(rc *requestConfig) {
		if v == "" || strings.ContainsAny(v, "\r\n") {
			rc.err = fmt.Errorf("API version %q is invalid", v)
			return
		}
		rc.apiVersion = v
	}
}

// WithRequestUserAgent replaces the User-Agent header for this call.
func WithRequestUserAgent(ua string) RequestOption {
	return func(rc *requestConfig) {
		if ua == "" || strings.ContainsAny(ua, "\r\n") {
			rc.err = fmt.Errorf("user agent %q is invalid", ua)
			return
		}
		rc.userAgent = ua
	}
}

// WithMaxRetries overrides the retry policy's MaxRetries for this call; 0
// disables retries.
func WithMaxRetries(n int) RequestOption {
	return func(rc *requestConfig) {
		if n < 0 {
			rc.err = errors.New("max retries must not be negative")
			return
		}
		rc.maxRetries = n
	}
}

// request describes one API call.
type request struct {
	method string
	path   string // escaped, starting with "/"
	query  url.Values
	body   any // JSON-encoded when non-nil
	out    any // JSON-decoded from a 2xx body when non-nil
}

func (c *Client) do(ctx context.Context, r request, opts []RequestOption) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context", ErrInvalidArgument)
	}
	scope := requiredScope(r.method, r.path)
	if c.readOnly && scope == ScopeContactsWrite {
		return fmt.Errorf("%w: refusing %s %s", ErrReadOnly, r.method, r.path)
	}
	rc := requestConfig{maxRetries: c.policy.MaxRetries, userAgent: c.userAgent, apiVersion: c.apiVersion}
	for _, o := range opts {
		if o != nil {
			o(&rc)
		}
	}
	if rc.err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidArgument, rc.err)
	}

	var payload []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return fmt.Errorf("contacts: encoding %s %s body: %w", r.method, r.path, err)
		}
		payload = b
	}
	target := c.baseURL + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}

	// A 401 that is not about scopes may mean the access token was revoked
	// or expired early: a source that can drop it gets one chance to
	// supply a fresh token, and the request (which the API did not
	// process) is sent once more.
	invalidator, canRefresh := c.tokens.(TokenInvalidator)
	for {
		st, err := c.send(ctx, r, target, payload, &rc)
		var apiErr *APIError
		if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden) &&
			isScopeMessage(apiErr.Message()) {
			apiErr.RequiredScope = scope
			return err
		}
		if canRefresh && apiErr != nil && apiErr.StatusCode == http.StatusUnauthorized && st != nil {
			if used := st.Token(); used != "" {
				canRefresh = false
				invalidator.InvalidateToken(used)
				continue
			}
		}
		return err
	}
}

// send makes one request, retries included, and decodes its answer.
func (c *Client) send(ctx context.Context, r request, target string, payload []byte, rc *requestConfig) (*retry.State, error) {
	st := &retry.State{Method: r.method, MaxRetries: rc.maxRetries}
	var body any
	if payload != nil {
		body = payload
	}
	req, err := retryablehttp.NewRequestWithContext(retry.WithState(ctx, st), r.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("contacts: building %s %s: %w", r.method, r.path, err)
	}
	h := req.Header
	for k, vs := range c.headers {
		h[k] = append([]string(nil), vs...)
	}
	for k, vs := range rc.headers {
		h[k] = vs
	}
	h.Set("Accept", "application/json")
	h.Set("Version", rc.apiVersion)
	h.Set("User-Agent", rc.userAgent)
	if payload != nil {
		h.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return st, ctxErr
		}
		return st, &TransportError{Method: r.method, Path: r.path, Attempts: int(st.Attempts.Load()), Err: err}
	}
	defer resp.Body.Close()

	limit := int64(maxResponseBody)
	isErr := resp.StatusCode < 200 || resp.StatusCode > 299
	if isErr {
		limit = maxErrorBody
	}
	data, readErr := readBody(resp.Body, resp.ContentLength, limit)
	if readErr != nil && !(isErr && errors.Is(readErr, errBodyTooLarge)) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return st, ctxErr
		}
		return st, &TransportError{Method: r.method, Path: r.path, Attempts: int(st.Attempts.Load()), Err: fmt.Errorf("reading response: %w", readErr)}
	}

	snap, hasRate := ratelimit.Parse(resp.Header, time.Now())
	if rc.resp != nil {
		*rc.resp = Response{
			StatusCode:   resp.StatusCode,
			Header:       resp.Header,
			TraceID:      traceIDOf(data),
			RateLimit:    RateLimit(snap),
			HasRateLimit: hasRate,
			Attempts:     int(st.Attempts.Load()),
		}
	}
	if isErr {
		truncated := errors.Is(readErr, errBodyTooLarge)
		return st, newAPIError(r.method, r.path, resp, data, truncated, snap, hasRate, bearerToken(resp, st))
	}
	if r.out == nil {
		return st, nil
	}
	// Every operation with a result answers with a JSON object (its
	// traceId at least): an empty body, or a JSON null, is not an empty
	// result but a broken answer, and must not pass for "no contacts" or
	// "no duplicate".
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return st, &DecodeError{Method: r.method, Path: r.path, StatusCode: resp.StatusCode, Err: errEmptyBody}
	}
	if err := json.Unmarshal(data, r.out); err != nil {
		return st, &DecodeError{Method: r.method, Path: r.path, StatusCode: resp.StatusCode, TraceID: traceIDOf(data), Err: err}
	}
	if a, ok := r.out.(rawAttacher); ok {
		a.attachRaw(data)
	}
	return st, nil
}

var (
	errBodyTooLarge = errors.New("response body exceeds the SDK's size limit")
	errEmptyBody    = errors.New("empty response body where the operation returns data")
)

// readBody reads at most limit bytes; it returns what it read and
// errBodyTooLarge if the body is longer.
func readBody(r io.Reader, length, limit int64) ([]byte, error) {
	size := int64(512)
	if length > 0 && length <= limit {
		size = length + 1 // +1 so a correct Content-Length needs no regrowth to see EOF
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return buf.Bytes(), err
	}
	if n > limit {
		return buf.Bytes()[:limit], errBodyTooLarge
	}
	return buf.Bytes(), nil
}

// traceIDOf extracts the top-level traceId from a JSON body, "" if none.
func traceIDOf(data []byte) string {
	if len(data) == 0 || !bytes.Contains(data, []byte(`"traceId"`)) {
		return ""
	}
	var v struct {
		TraceID string `json:"traceId"`
	}
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	return v.TraceID
}

func (c *Client) backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	d := c.policy.Backoff(minWait, maxWait, attempt, resp)
	if c.logger.Enabled(context.Background(), slog.LevelInfo) {
		attrs := []slog.Attr{slog.Int("attempt", attempt+1), slog.Duration("wait", d)}
		if resp != nil {
			attrs = append(attrs, slog.Int("status", resp.StatusCode))
			if resp.Request != nil {
				attrs = append(attrs, slog.String("method", resp.Request.Method), slog.String("path", resp.Request.URL.Path))
			}
		}
		c.logger.LogAttrs(context.Background(), slog.LevelInfo, "contacts: retrying", attrs...)
	}
	return d
}

func (c *Client) logRequest(_ retryablehttp.Logger, req *http.Request, attempt int) {
	if st := retry.FromContext(req.Context()); st != nil {
		st.Attempts.Add(1)
	}
	if c.logger.Enabled(req.Context(), slog.LevelDebug) {
		c.logger.LogAttrs(req.Context(), slog.LevelDebug, "contacts: request",
			slog.String("method", req.Method), slog.String("path", req.URL.Path), slog.Int("attempt", attempt+1))
	}
}

func (c *Client) logResponse(_ retryablehttp.Logger, resp *http.Response) {
	if resp.Request == nil || !c.logger.Enabled(resp.Request.Context(), slog.LevelDebug) {
		return
	}
	c.logger.LogAttrs(resp.Request.Context(), slog.LevelDebug, "contacts: response",
		slog.String("method", resp.Request.Method), slog.String("path", resp.Request.URL.Path), slog.Int("status", resp.StatusCode))
}

// refuseRedirect is every client's CheckRedirect: a redirect is returned
// to the SDK as the answer, never followed.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// originGuard sits above the auth layer and refuses any request that is not
// for the base URL's scheme and host, so the bearer token is attached to
// nothing else, whatever a lower layer or a future change may do.
type originGuard struct {
	scheme, host string
	next         http.RoundTripper
}

func (g originGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != g.scheme || req.URL.Host != g.host {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("refusing to send credentials to %s://%s: not the client's base URL", req.URL.Scheme, req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

// tokenRecorder sits below the auth layer and notes, per request, the
// access token each attempt carried, so a 401 can invalidate exactly it.
type tokenRecorder struct{ base http.RoundTripper }

func (t tokenRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if st := retry.FromContext(req.Context()); st != nil {
		if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
			st.SetToken(tok)
		}
	}
	return t.base.RoundTrip(req)
}

// location returns id, or the client's default location when id is empty.
func (c *Client) location(id string) (string, error) {
	if id == "" {
		id = c.locationID
	}
	if id == "" {
		return "", fmt.Errorf("%w: locationId is required: set it on the request or with WithLocationID", ErrInvalidArgument)
	}
	if err := checkID("locationId", id); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	return id, nil
}
