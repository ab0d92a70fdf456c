package contactstest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

// Scopes the contacts API checks.
const (
	ScopeContactsRead  = "contacts.readonly"
	ScopeContactsWrite = "contacts.write"
	ScopeOAuthRead     = "oauth.readonly"
	ScopeOAuthWrite    = "oauth.write"
)

// APIVersion is the only Version header value the contacts API accepts.
const APIVersion = "2021-07-28"

// maxBody bounds request bodies, like the real API's body parser.
const maxBody = 1 << 20

// Server is a stateful, in-memory fake of the Contacts API. It serves all
// 32 operations of the contacts spec plus the OAuth token endpoints, with
// the live API's authentication, scopes, validation, duplicate rules,
// rate limits and webhooks. It is safe for concurrent use.
type Server struct {
	// URL is the base URL of a started server, e.g. "http://127.0.0.1:41234".
	URL string

	httpSrv *httptest.Server
	clock   Clock
	mux     *http.ServeMux
	// priority holds routes that ServeMux cannot register beside mux's
	// because they overlap (GET /contacts/business/{id} against
	// GET /contacts/{contactId}/tasks); it is consulted first.
	priority *http.ServeMux

	mu              sync.Mutex // guards the state below
	rngMu           sync.Mutex // guards rng, which IDs, traces and faults share
	rng             *rand.Rand
	seq             int64
	locations       map[string]*location
	tokens          map[string]*token
	contacts        map[string]*Contact
	contactSeq      map[string]int64
	index           map[string]map[string]bool // duplicate lookup: location/field/value → contact IDs
	tasks           map[string]*Task
	notes           map[string]*Note
	appointments    map[string]*Appointment
	requests        []Request // the newest maxLog entries
	requestCount    int       // every request since the last reset
	maxLog          int
	limits          *limiter
	faults          Faults
	scripts         map[string][]Scripted
	hooks           *webhooks
	oauth           *oauthState
	defaultLocation string
	defaultToken    string
}

// Request is one entry of the server's request log.
type Request struct {
	Method string
	Path   string // unescaped path, without the query string
	Query  string
	Status int
	// Location is the location of the token that made the call, if any.
	Location string
	Time     time.Time
}

// Option configures a Server.
type Option func(*config)

type config struct {
	clock    Clock
	seed     uint64
	limits   RateLimits
	listener net.Listener
	location string
	company  string
	maxLog   int
}

// WithClock makes the server read time from c (see ManualClock).
func WithClock(c Clock) Option { return func(cfg *config) { cfg.clock = c } }

// WithSeed makes generated IDs, tokens and injected faults reproducible.
func WithSeed(seed uint64) Option { return func(cfg *config) { cfg.seed = seed } }

// WithRateLimits replaces DefaultRateLimits.
func WithRateLimits(l RateLimits) Option { return func(cfg *config) { cfg.limits = l } }

// WithoutRateLimits switches rate limiting off (headers are still sent).
func WithoutRateLimits() Option {
	return func(cfg *config) { cfg.limits.Disabled = true }
}

// WithListener serves on l instead of a new loopback listener; use it to
// serve on a fixed address.
func WithListener(l net.Listener) Option { return func(cfg *config) { cfg.listener = l } }

// WithRequestLogLimit keeps only the newest n entries in the request log
// (default 1,000,000); RequestCount still counts every request.
func WithRequestLogLimit(n int) Option { return func(cfg *config) { cfg.maxLog = n } }

// WithLocationID sets the ID of the default location (generated if unset).
func WithLocationID(id string) Option { return func(cfg *config) { cfg.location = id } }

// NewServer starts a fake server on a loopback address with one default
// location and a Private Integration Token for it holding both contacts
// scopes (LocationID, Token). Close it when done.
func NewServer(opts ...Option) *Server {
	cfg := config{clock: realClock{}, seed: 1, limits: DefaultRateLimits(), maxLog: 1_000_000}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		clock:        cfg.clock,
		rng:          rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)),
		locations:    map[string]*location{},
		tokens:       map[string]*token{},
		contacts:     map[string]*Contact{},
		contactSeq:   map[string]int64{},
		index:        map[string]map[string]bool{},
		tasks:        map[string]*Task{},
		notes:        map[string]*Note{},
		appointments: map[string]*Appointment{},
		scripts:      map[string][]Scripted{},
		maxLog:       max(cfg.maxLog, 1),
	}
	s.limits = newLimiter(cfg.limits)
	s.hooks = newWebhooks(s)
	s.oauth = newOAuthState()
	s.mux = http.NewServeMux()
	s.priority = http.NewServeMux()
	s.routes()

	company := cfg.company
	if company == "" {
		company = s.newID()
	}
	loc := cfg.location
	if loc == "" {
		loc = s.newID()
	}
	s.defaultLocation = s.AddLocation(loc, company, LocationSettings{})
	s.defaultToken = s.IssueToken(TokenSpec{LocationID: loc, Scopes: []string{ScopeContactsRead, ScopeContactsWrite}})

	s.httpSrv = httptest.NewUnstartedServer(s)
	if cfg.listener != nil {
		s.httpSrv.Listener.Close()
		s.httpSrv.Listener = cfg.listener
	}
	s.httpSrv.Start()
	s.URL = s.httpSrv.URL
	return s
}

// Close stops the server and its webhook deliveries.
func (s *Server) Close() {
	s.hooks.close()
	s.httpSrv.Close()
}

// LocationID returns the default location's ID.
func (s *Server) LocationID() string { return s.defaultLocation }

// Token returns the default location's Private Integration Token.
func (s *Server) Token() string { return s.defaultToken }

// Now returns the server's clock time.
func (s *Server) Now() time.Time { return s.clock.Now() }

// HTTPClient returns an HTTP client for the server (the one its httptest
// server provides).
func (s *Server) HTTPClient() *http.Client { return s.httpSrv.Client() }

// Client returns a contacts client wired to the server: its URL, the
// default token and location. Its client-side rate limiter is off, because
// it runs on the real clock while the server's may be a ManualClock; pass
// contacts.WithRateLimiter to turn one on. opts are applied last.
func (s *Server) Client(opts ...contacts.Option) *contacts.Client {
	base := []contacts.Option{
		contacts.WithBaseURL(s.URL),
		contacts.WithHTTPClient(s.HTTPClient()),
		contacts.WithToken(s.defaultToken),
		contacts.WithLocationID(s.defaultLocation),
		contacts.WithRateLimiter(nil),
	}
	c, err := contacts.NewClient(append(base, opts...)...)
	if err != nil {
		panic("contactstest: building client: " + err.Error())
	}
	return c
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestCount returns how many requests the server has answered since it
// started or since ResetRequests.
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requestCount
}

// ResetRequests empties the request log and its count.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.requests, s.requestCount = nil, 0
	s.mu.Unlock()
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newID returns a 20-character alphanumeric ID like the API's.
func (s *Server) newID() string {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	var b [20]byte
	for i := range b {
		b[i] = idAlphabet[s.rng.IntN(len(idAlphabet))]
	}
	return string(b[:])
}

// randFloat returns a number in [0, 1) from the seeded generator.
func (s *Server) randFloat() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

func (s *Server) traceID() string {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", s.rng.Uint32(), s.rng.Uint32()&0xffff, s.rng.Uint32()&0xffff, s.rng.Uint32()&0xffff, s.rng.Uint64()&0xffffffffffff)
}

// statusRecorder remembers the status written and lets the server finish
// the headers of every answer, whichever code path writes it.
type statusRecorder struct {
	http.ResponseWriter
	status int
	// beforeHeader, if set, runs once, just before the status is written.
	beforeHeader func(http.Header)
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		if r.beforeHeader != nil {
			r.beforeHeader(r.Header())
		}
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (for resets).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// call is one request being served.
type call struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	tok  *token
	body []byte
	// limitKey names the rate-limit budget the request is attributed to
	// ("" when none): the answer carries that budget's X-RateLimit-*
	// headers even when the limiter did not count the request.
	limitKey string
	// headers are a scripted answer's headers, applied last; "" deletes.
	headers map[string]string
}

type tokenKey struct{}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	entry := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Time: s.clock.Now()}
	if strings.HasPrefix(r.URL.Path, "/oauth/") {
		entry.Query = "" // never log credentials a client put in the URL
	}
	defer func() {
		if entry.Status == 0 {
			entry.Status = rec.status
		}
		s.mu.Lock()
		if len(s.requests) >= s.maxLog {
			n := copy(s.requests, s.requests[len(s.requests)-s.maxLog/2:])
			s.requests = s.requests[:n]
		}
		s.requests = append(s.requests, entry)
		s.requestCount++
		s.mu.Unlock()
	}()

	c := &call{s: s, w: rec, r: r}
	bearer := s.bearerToken(r)
	if bearer != nil && bearer.userType != UserTypeCompany {
		c.limitKey = limitKey(bearer.appID, bearer.locationID)
	}
	rec.beforeHeader = c.finishHeaders

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return
	}
	if len(body) > maxBody {
		s.writeError(rec, http.StatusRequestEntityTooLarge, "request entity too large")
		return
	}
	c.body = body

	if s.injectFault(c, &entry) {
		return
	}
	if strings.HasPrefix(r.URL.Path, "/oauth/") {
		s.serveOAuth(c)
		return
	}
	// Look the token up again: it may have been revoked or expired while
	// an injected latency held the request.
	tok, ok := s.authenticate(c, s.bearerToken(r))
	if !ok {
		return
	}
	entry.Location = tok.locationID
	c.tok = tok
	if !s.limits.admit(c) {
		return
	}
	if r.Header.Get("Version") != APIVersion {
		c.fail(http.StatusBadRequest, "version header is invalid or missing; use "+APIVersion)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), tokenKey{}, c))
	if _, pattern := s.priority.Handler(r); pattern != "" {
		s.priority.ServeHTTP(rec, r) // ServeHTTP, not the handler, sets path values
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// route registers a contacts operation that needs scope.
func (s *Server) route(pattern, scope string, h func(*call)) { s.routeOn(s.mux, pattern, scope, h) }

func (s *Server) routeOn(mux *http.ServeMux, pattern, scope string, h func(*call)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(tokenKey{}).(*call)
		c.r = r // carries the pattern's path values
		if !c.tok.scopes[scope] {
			c.fail(http.StatusUnauthorized, "The token is not authorized for this scope.")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		h(c)
	})
}

func (s *Server) routes() {
	r, w := ScopeContactsRead, ScopeContactsWrite
	s.route("POST /contacts/search", r, (*call).searchContacts)
	s.route("GET /contacts/search/duplicate", r, (*call).findDuplicate)
	s.route("GET /contacts/{contactId}/tasks", r, (*call).listTasks)
	s.route("POST /contacts/{contactId}/tasks", w, (*call).createTask)
	s.route("GET /contacts/{contactId}/tasks/{taskId}", r, (*call).getTask)
	s.route("PUT /contacts/{contactId}/tasks/{taskId}", w, (*call).updateTask)
	s.route("DELETE /contacts/{contactId}/tasks/{taskId}", w, (*call).deleteTask)
	s.route("PUT /contacts/{contactId}/tasks/{taskId}/completed", w, (*call).completeTask)
	s.route("GET /contacts/{contactId}/appointments", r, (*call).listAppointments)
	s.route("POST /contacts/{contactId}/tags", w, (*call).addTags)
	s.route("DELETE /contacts/{contactId}/tags", w, (*call).removeTags)
	s.route("GET /contacts/{contactId}/notes", r, (*call).listNotes)
	s.route("POST /contacts/{contactId}/notes", w, (*call).createNote)
	s.route("GET /contacts/{contactId}/notes/{id}", r, (*call).getNote)
	s.route("PUT /contacts/{contactId}/notes/{id}", w, (*call).updateNote)
	s.route("DELETE /contacts/{contactId}/notes/{id}", w, (*call).deleteNote)
	s.route("POST /contacts/bulk/tags/update/{type}", w, (*call).bulkTags)
	s.route("POST /contacts/bulk/business", w, (*call).bulkBusiness)
	s.route("GET /contacts/{contactId}", r, (*call).getContact)
	s.route("PUT /contacts/{contactId}", w, (*call).updateContact)
	s.route("DELETE /contacts/{contactId}", w, (*call).deleteContact)
	s.route("POST /contacts/upsert", w, (*call).upsertContact)
	s.routeOn(s.priority, "GET /contacts/business/{businessId}", r, (*call).listByBusiness)
	s.route("POST /contacts/{contactId}/followers", w, (*call).addFollowers)
	s.route("DELETE /contacts/{contactId}/followers", w, (*call).removeFollowers)
	s.route("POST /contacts/{contactId}/campaigns/{campaignId}", w, (*call).addCampaign)
	s.route("DELETE /contacts/{contactId}/campaigns/{campaignId}", w, (*call).removeCampaign)
	s.route("DELETE /contacts/{contactId}/campaigns/removeAll", w, (*call).removeAllCampaigns)
	s.route("POST /contacts/{contactId}/workflow/{workflowId}", w, (*call).addWorkflow)
	s.route("DELETE /contacts/{contactId}/workflow/{workflowId}", w, (*call).removeWorkflow)
	s.route("POST /contacts/{$}", w, (*call).createContact)
	s.route("GET /contacts/{$}", r, (*call).listContacts)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(tokenKey{}).(*call)
		c.writeJSON(http.StatusNotFound, map[string]any{
			"statusCode": 404, "message": fmt.Sprintf("Cannot %s %s", r.Method, r.URL.Path), "error": "Not Found",
		})
	})
}

// bearerToken returns a copy of the token the request's Authorization
// header names, or nil if it names none the server knows. It checks
// nothing else: the token may be expired, revoked or an agency's.
func (s *Server) bearerToken(r *http.Request) *token {
	raw, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || raw == "" {
		return nil
	}
	// Copy the token under the lock: revocation writes it concurrently.
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.tokens[raw]; p != nil {
		t := *p
		return &t
	}
	return nil
}

// finishHeaders completes an answer's headers just before they are sent.
// An answer the limiter did not count (a 401, an injected fault, a
// scripted answer, an OAuth answer) still carries the X-RateLimit-*
// headers of the budget the request is attributed to, if any; a scripted
// answer's own headers are applied last.
func (c *call) finishHeaders(h http.Header) {
	if c.limitKey != "" && h.Get("X-RateLimit-Max") == "" {
		c.s.limits.peek(h, c.limitKey, c.s.clock.Now())
	}
	for k, v := range c.headers {
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
	}
}

// authenticate checks the bearer token tok (nil when the request names
// none the server knows). It answers 401 itself on failure.
func (s *Server) authenticate(c *call, tok *token) (*token, bool) {
	switch {
	case tok == nil || tok.revoked:
		c.fail(http.StatusUnauthorized, "Invalid token: access token is invalid")
		return nil, false
	case !tok.expires.IsZero() && !s.clock.Now().Before(tok.expires):
		c.fail(http.StatusUnauthorized, "Invalid JWT: access token has expired")
		return nil, false
	case tok.userType == UserTypeCompany:
		// Contacts endpoints take sub-account tokens only.
		c.fail(http.StatusUnauthorized, "This route is not supported with an agency (Company) token: exchange it with POST /oauth/locationToken")
		return nil, false
	}
	return tok, true
}

// writeJSON writes v with a traceId.
func (c *call) writeJSON(status int, v map[string]any) {
	if _, ok := v["traceId"]; !ok {
		v["traceId"] = c.s.traceID()
	}
	c.s.writeRaw(c.w, status, v)
}

func (s *Server) writeRaw(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

var errorNames = map[int]string{
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	413: "Payload Too Large", 422: "Unprocessable Entity", 429: "Too Many Requests",
	500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}

// fail writes the API's error envelope: 422 carries a message array and an
// error name; 400 a message string; 401/403 a message and an error name.
func (c *call) fail(status int, messages ...string) {
	body := map[string]any{"statusCode": status}
	switch {
	case status == http.StatusUnprocessableEntity:
		body["message"] = messages
		body["error"] = errorNames[status]
	case len(messages) > 0:
		body["message"] = strings.Join(messages, "; ")
		if status != http.StatusBadRequest {
			body["error"] = errorNames[status]
		}
	}
	c.writeJSON(status, body)
}

func (s *Server) writeError(w http.ResponseWriter, status int, msg string) {
	s.writeRaw(w, status, map[string]any{"statusCode": status, "message": msg, "error": errorNames[status], "traceId": s.traceID()})
}

// String describes the server without its tokens or secrets.
func (s *Server) String() string {
	return fmt.Sprintf("contactstest.Server{URL: %q, location: %q}", s.URL, s.defaultLocation)
}

// GoString is String.
func (s *Server) GoString() string { return s.String() }
