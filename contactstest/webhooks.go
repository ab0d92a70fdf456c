package contactstest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Webhook event types, as the "type" field of the payloads spells them.
const (
	EventContactCreate     = "ContactCreate"
	EventContactUpdate     = "ContactUpdate"
	EventContactDelete     = "ContactDelete"
	EventContactTagUpdate  = "ContactTagUpdate"
	EventContactDndUpdate  = "ContactDndUpdate"
	EventTaskCreate        = "TaskCreate"
	EventTaskComplete      = "TaskComplete"
	EventTaskDelete        = "TaskDelete"
	EventNoteCreate        = "NoteCreate"
	EventNoteUpdate        = "NoteUpdate"
	EventNoteDelete        = "NoteDelete"
	EventAppointmentCreate = "AppointmentCreate"
	EventAppointmentUpdate = "AppointmentUpdate"
	EventAppointmentDelete = "AppointmentDelete"
	EventInstall           = "INSTALL"
	EventUninstall         = "UNINSTALL"
)

// Signature headers of webhook deliveries. Both sign the raw body bytes.
const (
	// SignatureHeader carries base64(Ed25519 signature), the current scheme.
	SignatureHeader = "x-ghl-signature"
	// LegacySignatureHeader carries base64(RSA-SHA256 PKCS#1 v1.5
	// signature), the legacy scheme.
	LegacySignatureHeader = "x-wh-signature"
)

// Bounds that keep a long test's memory flat.
const (
	maxWebhookQueue = 10000 // pending deliveries per receiver; beyond, deliveries are dropped
	maxWebhookLog   = 10000 // delivery records kept (the oldest are forgotten)
)

// Delivery defaults. The live API retries a 429 six times, about ten
// minutes apart; the fake keeps the count and shortens the wait.
const (
	defaultWebhookRetries = 6
	defaultWebhookWait    = 10 * time.Millisecond
	defaultWebhookTimeout = 10 * time.Second
)

// WebhookOptions tunes webhook delivery for tests. The zero value sends
// every event once to every receiver, in the order the changes happened,
// as soon as possible.
//
// Rates are probabilities in [0, 1] drawn, per event and receiver, from
// the server's seeded generator (WithSeed), so a test that makes the same
// changes sees the same drops, duplicates and shuffles every run.
type WebhookOptions struct {
	// DuplicateRate sends a share of deliveries twice: the same bytes,
	// signatures and webhookId, as an at-least-once sender does.
	DuplicateRate float64
	// DropRate loses a share of deliveries without sending them. They are
	// recorded with Dropped set.
	DropRate float64
	// Hold keeps new deliveries queued until FlushWebhooks (or until Hold
	// and Reorder are switched off).
	Hold bool
	// Reorder holds deliveries like Hold and, at FlushWebhooks, sends each
	// receiver's held deliveries in a shuffled order drawn from the
	// server's seeded generator.
	Reorder bool
	// MaxRetries bounds the retries of a delivery answered with 429 Too
	// Many Requests, the only answer the live API retries. 0 means 6, as
	// the live API; negative means no retry.
	MaxRetries int
	// RetryWait is the wait before a retry, plus up to 50% jitter. The
	// live API waits about ten minutes; 0 means 10ms. A retried delivery
	// goes to the back of its receiver's queue, so it arrives after events
	// sent meanwhile, as it would live. Waits run on the real clock.
	RetryWait time.Duration
	// Timeout bounds each attempt; 0 means 10s. A timeout loses the event.
	Timeout time.Duration
	// ExactAppointmentTypes sends "AppointmentUpdate" and
	// "AppointmentDelete" as the payload type. By default the fake
	// reproduces the documented payloads, whose update and delete samples
	// both say "AppointmentCreate"; the delivery record (Event) always
	// holds the real event type.
	ExactAppointmentTypes bool
	// Client sends the deliveries; nil uses the server's own client, which
	// does not follow redirects (a 3xx is a failure). Set it to reach an
	// https receiver, e.g. to httptest.NewTLSServer(h).Client().
	Client *http.Client
}

func (o WebhookOptions) maxRetries() int {
	switch {
	case o.MaxRetries < 0:
		return 0
	case o.MaxRetries == 0:
		return defaultWebhookRetries
	}
	return o.MaxRetries
}

func (o WebhookOptions) retryWait() time.Duration {
	if o.RetryWait > 0 {
		return o.RetryWait
	}
	return defaultWebhookWait
}

func (o WebhookOptions) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return defaultWebhookTimeout
}

// WebhookDelivery records what became of one event sent to one receiver.
type WebhookDelivery struct {
	// Event is the event's type. For appointment updates and deletes it is
	// the real type even when the payload says "AppointmentCreate".
	Event     string
	WebhookID string
	// URL is the receiver's.
	URL string
	// Body is the exact payload, as signed and sent.
	Body []byte
	// Status is the HTTP status of the last attempt; 0 if none answered.
	Status int
	// Attempts counts the requests made: 1, plus one per retry after 429.
	Attempts int
	// Delivered is true when the receiver answered 2xx.
	Delivered bool
	// Dropped is true when the delivery was lost on purpose (DropRate),
	// because the receiver's queue was full, or because the payload could
	// not be encoded (a seeded custom field value JSON cannot hold);
	// nothing was sent.
	Dropped bool
	// Duplicate marks the extra copy sent because of DuplicateRate.
	Duplicate bool
	// Err is the transport error of the last attempt (connection refused,
	// timeout…) or why the delivery was dropped.
	Err string
}

// webhooks delivers events to the registered receivers. Lock order:
// Server.mu, then webhooks.mu, then Server.rngMu; delivery goroutines
// never take Server.mu.
type webhooks struct {
	s      *Server
	edPub  ed25519.PublicKey
	edKey  ed25519.PrivateKey
	rsaGen sync.Once
	rsaKey *rsa.PrivateKey
	client *http.Client
	ctx    context.Context // cancelled by close; aborts requests and waits
	cancel context.CancelFunc
	wg     sync.WaitGroup // delivery goroutines

	mu        sync.Mutex // guards the fields below
	closed    bool
	opts      WebhookOptions
	receivers []*receiver
	pending   int                  // deliveries not yet finished, all receivers
	idle      chan struct{}        // closed when pending drops to 0; nil if nobody waits
	flushing  int                  // FlushWebhooks calls in progress: nothing is held meanwhile
	timers    map[*time.Timer]bool // pending retries, stopped by close
	log       []WebhookDelivery
	logStart  int // ring start once log is full
}

// receiver is one registered URL with its queue and delivery goroutine.
type receiver struct {
	url     string
	ready   []*delivery // to send, in order
	held    []*delivery // waiting for FlushWebhooks (Hold, Reorder)
	pending int         // ready, held, in flight or waiting for a retry
	wake    chan struct{}
}

// event is one webhook, marshalled and signed once for every receiver.
type event struct {
	typ    string
	id     string
	body   []byte
	once   sync.Once
	edSig  string
	rsaSig string
}

type delivery struct {
	ev        *event
	r         *receiver
	attempts  int
	status    int
	duplicate bool
}

func newWebhooks(s *Server) *webhooks {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("contactstest: generating the webhook Ed25519 key: " + err.Error())
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	ctx, cancel := context.WithCancel(context.Background())
	return &webhooks{
		s: s, edPub: pub, edKey: key, ctx: ctx, cancel: cancel,
		client: &http.Client{
			Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// close stops delivery: queued deliveries are discarded, requests in
// flight are aborted, and it returns once every delivery goroutine ended.
func (w *webhooks) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	for _, r := range w.receivers {
		r.ready, r.held, r.pending = nil, nil, 0
	}
	w.pending = 0
	for t := range w.timers {
		t.Stop()
	}
	w.timers = nil
	if w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
	w.mu.Unlock()
	w.cancel()
	w.wg.Wait()
	w.client.CloseIdleConnections()
}

// rsaPrivate returns the RSA key, generating it on first use: it takes
// tens of milliseconds, which servers that never sign should not pay.
func (w *webhooks) rsaPrivate() *rsa.PrivateKey {
	w.rsaGen.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("contactstest: generating the webhook RSA key: " + err.Error())
		}
		w.rsaKey = k
	})
	return w.rsaKey
}

// signatures signs body with both keys and returns the header values.
func (w *webhooks) signatures(body []byte) (ed, legacy string) {
	ed = base64.StdEncoding.EncodeToString(ed25519.Sign(w.edKey, body))
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(nil, w.rsaPrivate(), crypto.SHA256, sum[:])
	if err != nil {
		panic("contactstest: RSA signing: " + err.Error())
	}
	return ed, base64.StdEncoding.EncodeToString(sig)
}

// sign signs an event once; duplicates and receivers share the result.
func (w *webhooks) sign(ev *event) (ed, legacy string) {
	ev.once.Do(func() { ev.edSig, ev.rsaSig = w.signatures(ev.body) })
	return ev.edSig, ev.rsaSig
}

// AddWebhook registers a receiver: every event from now on is POSTed to
// rawURL, as the live API does for an app's webhook URL. Adding the same
// URL twice has no effect.
func (s *Server) AddWebhook(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("contactstest: webhook URL %q is not an absolute http(s) URL", rawURL)
	}
	w := s.hooks
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("contactstest: server closed")
	}
	if slices.ContainsFunc(w.receivers, func(r *receiver) bool { return r.url == rawURL }) {
		return nil
	}
	r := &receiver{url: rawURL, wake: make(chan struct{}, 1)}
	w.receivers = append(w.receivers, r)
	w.wg.Add(1)
	go w.run(r)
	return nil
}

// SetWebhookOptions replaces the delivery options; the zero value restores
// the defaults. Switching Hold and Reorder off releases held deliveries.
func (s *Server) SetWebhookOptions(o WebhookOptions) {
	w := s.hooks
	w.mu.Lock()
	defer w.mu.Unlock()
	w.opts = o
	if !o.Hold && !o.Reorder {
		w.releaseLocked()
	}
}

// WebhookPublicKeys returns the public keys that verify deliveries: the
// Ed25519 key for SignatureHeader and the RSA key for
// LegacySignatureHeader. Each server has its own fresh key pairs.
func (s *Server) WebhookPublicKeys() (ed25519.PublicKey, *rsa.PublicKey) {
	return slices.Clone(s.hooks.edPub), &s.hooks.rsaPrivate().PublicKey
}

// WebhookPublicKeysPEM returns the public keys as PEM "PUBLIC KEY" (PKIX)
// blocks, the form a receiver is configured with: the live API publishes
// its RSA key this way and shows the Ed25519 key in the app's settings.
func (s *Server) WebhookPublicKeysPEM() (ed25519PEM, rsaPEM string) {
	ed, r := s.WebhookPublicKeys()
	return pemPublicKey(ed), pemPublicKey(r)
}

func pemPublicKey(k any) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic("contactstest: encoding a public key: " + err.Error())
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// SignWebhook returns the signature headers the server would send with
// body, to test a receiver with hand-made payloads (a stale timestamp, a
// replayed webhookId…) that still verify.
func (s *Server) SignWebhook(body []byte) http.Header {
	ed, legacy := s.hooks.signatures(body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(SignatureHeader, ed)
	h.Set(LegacySignatureHeader, legacy)
	return h
}

// FlushWebhooks releases held deliveries and waits until every queued
// delivery has been attempted to its end: delivered, lost, or out of
// retries. Events emitted while it waits are waited for too. It returns
// ctx's error if ctx ends first, and at once after Close.
func (s *Server) FlushWebhooks(ctx context.Context) error {
	w := s.hooks
	w.mu.Lock()
	w.flushing++
	defer func() {
		w.flushing--
		w.mu.Unlock()
	}()
	w.releaseLocked()
	for w.pending > 0 && !w.closed {
		if w.idle == nil {
			w.idle = make(chan struct{})
		}
		idle := w.idle
		w.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			w.mu.Lock()
			return ctx.Err()
		}
		w.mu.Lock()
	}
	return nil
}

// WebhookDeliveries returns the record of finished deliveries (the last
// 10,000), in the order they finished: delivered, lost or dropped.
func (s *Server) WebhookDeliveries() []WebhookDelivery {
	w := s.hooks
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]WebhookDelivery, 0, len(w.log))
	out = append(out, w.log[w.logStart:]...)
	out = append(out, w.log[:w.logStart]...)
	for i := range out {
		out[i].Body = slices.Clone(out[i].Body)
	}
	return out
}

// ResetWebhookDeliveries empties the delivery record.
func (s *Server) ResetWebhookDeliveries() {
	w := s.hooks
	w.mu.Lock()
	w.log, w.logStart = nil, 0
	w.mu.Unlock()
}

// AppInstall describes an app installation for SimulateInstall.
type AppInstall struct {
	AppID string
	// LocationID is the sub-account the app was installed on. Leave it
	// empty for an agency-level install, whose payload carries only appId,
	// companyId, planId and trial.
	LocationID string
	// CompanyID is the agency; empty takes the location's, if the server
	// knows the location.
	CompanyID           string
	UserID              string
	PlanID              string
	Trial               *AppTrial
	CompanyName         string
	IsWhitelabelCompany bool
	WhitelabelDomain    string
	WhitelabelLogoURL   string
}

// AppTrial is the trial of an installed app's plan.
type AppTrial struct {
	OnTrial      bool
	DurationDays int
	StartDate    time.Time
}

// SimulateInstall emits an INSTALL event, as the live API does when a user
// installs the app. It changes nothing else (issue tokens with IssueToken).
func (s *Server) SimulateInstall(in AppInstall) error {
	if in.AppID == "" {
		return errors.New("contactstest: SimulateInstall needs an AppID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.CompanyID == "" && s.locations[in.LocationID] != nil {
		in.CompanyID = s.locations[in.LocationID].companyID
	}
	if in.LocationID == "" && in.CompanyID == "" {
		return errors.New("contactstest: SimulateInstall needs a LocationID or a CompanyID")
	}
	m := map[string]any{"type": EventInstall, "appId": in.AppID}
	omitEmpty(m, "companyId", in.CompanyID)
	omitEmpty(m, "planId", in.PlanID)
	if in.Trial != nil {
		trial := map[string]any{"onTrial": in.Trial.OnTrial, "trialDuration": in.Trial.DurationDays}
		omitEmpty(trial, "trialStartDate", iso(in.Trial.StartDate))
		m["trial"] = trial
	}
	if in.LocationID != "" {
		m["locationId"] = in.LocationID
		omitEmpty(m, "userId", in.UserID)
		omitEmpty(m, "companyName", in.CompanyName)
		m["isWhitelabelCompany"] = in.IsWhitelabelCompany
		details := map[string]any{}
		if in.IsWhitelabelCompany {
			omitEmpty(details, "domain", in.WhitelabelDomain)
			omitEmpty(details, "logoUrl", in.WhitelabelLogoURL)
		}
		m["whitelabelDetails"] = details
	}
	s.emitLocked(EventInstall, m)
	return nil
}

// SimulateUninstall emits an UNINSTALL event: for a sub-account when
// locationID is set, else for the agency companyID. It changes nothing
// else (revoke tokens with RevokeToken).
func (s *Server) SimulateUninstall(appID, locationID, companyID string) error {
	m := map[string]any{"type": EventUninstall, "appId": appID}
	switch {
	case appID == "":
		return errors.New("contactstest: SimulateUninstall needs an appID")
	case locationID != "":
		m["locationId"] = locationID
	case companyID != "":
		m["companyId"] = companyID
	default:
		return errors.New("contactstest: SimulateUninstall needs a locationID or a companyID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitLocked(EventUninstall, m)
	return nil
}

// emitContactLocked emits a contact event carrying the contact's snapshot.
func (s *Server) emitContactLocked(eventType string, c *Contact) {
	if !s.hooks.listening() {
		return
	}
	s.emitLocked(eventType, c.webhookWire(eventType))
}

// emitContactChangesLocked emits the events of a contact update, in this
// order: ContactUpdate, then ContactTagUpdate if the set of tags changed,
// then ContactDndUpdate if dnd, dndSettings or the inbound DND changed.
// Each carries the updated snapshot.
func (s *Server) emitContactChangesLocked(before, after *Contact) {
	s.emitContactLocked(EventContactUpdate, after)
	if !sameTags(before.Tags, after.Tags) {
		s.emitContactLocked(EventContactTagUpdate, after)
	}
	if before.DND != after.DND || !maps.Equal(before.DNDSettings, after.DNDSettings) || !sameDND(before.InboundDND, after.InboundDND) {
		s.emitContactLocked(EventContactDndUpdate, after)
	}
}

func sameTags(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func sameDND(a, b *DNDSetting) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// emitTaskLocked emits a task event. The documented task payloads have no
// "completed" field, TaskComplete's included.
func (s *Server) emitTaskLocked(eventType string, c *Contact, t *Task) {
	if !s.hooks.listening() {
		return
	}
	m := map[string]any{
		"type":       eventType,
		"locationId": c.LocationID,
		"id":         t.ID,
		"contactId":  t.ContactID,
		"title":      t.Title,
		"dateAdded":  iso(t.DateAdded),
	}
	omitEmpty(m, "body", t.Body)
	omitEmpty(m, "assignedTo", t.AssignedTo)
	omitEmpty(m, "dueDate", iso(t.DueDate))
	s.emitLocked(eventType, m)
}

// emitNoteLocked emits a note event: id, body, contactId and dateAdded,
// like the documented payloads (no title, color, pinned or userId).
func (s *Server) emitNoteLocked(eventType string, c *Contact, n *Note) {
	if !s.hooks.listening() {
		return
	}
	s.emitLocked(eventType, map[string]any{
		"type":       eventType,
		"locationId": c.LocationID,
		"id":         n.ID,
		"body":       n.Body,
		"contactId":  n.ContactID,
		"dateAdded":  iso(n.DateAdded),
	})
}

// emitAppointmentLocked emits an appointment event with the appointment
// nested under "appointment". Times are RFC 3339 in the zone they were
// stored in, as in the documented samples.
func (s *Server) emitAppointmentLocked(eventType string, a *Appointment) {
	if !s.hooks.listening() {
		return
	}
	appt := map[string]any{
		"id":                a.ID,
		"calendarId":        a.CalendarID,
		"contactId":         a.ContactID,
		"title":             a.Title,
		"appointmentStatus": a.AppointmentStatus,
		"users":             nonNil(a.Users),
	}
	omitEmpty(appt, "address", a.Address)
	omitEmpty(appt, "groupId", a.GroupID)
	omitEmpty(appt, "assignedUserId", a.AssignedUserID)
	omitEmpty(appt, "notes", a.Notes)
	omitEmpty(appt, "source", a.Source)
	for k, t := range map[string]time.Time{"startTime": a.StartTime, "endTime": a.EndTime, "dateAdded": a.DateAdded, "dateUpdated": a.DateUpdated} {
		if !t.IsZero() {
			appt[k] = t.Format(time.RFC3339)
		}
	}
	s.emitLocked(eventType, map[string]any{
		"type":        eventType,
		"locationId":  a.LocationID,
		"appointment": appt,
	})
}

// listening reports whether any receiver would get an event, so servers
// without receivers build no payloads and draw nothing from the seeded
// generator.
func (w *webhooks) listening() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.closed && len(w.receivers) > 0
}

// emitLocked stamps payload with timestamp and webhookId, marshals it once
// and queues it for every receiver. It does no I/O and may be called with
// s.mu held.
func (s *Server) emitLocked(eventType string, payload map[string]any) {
	w := s.hooks
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || len(w.receivers) == 0 {
		return
	}
	if !w.opts.ExactAppointmentTypes && (eventType == EventAppointmentUpdate || eventType == EventAppointmentDelete) {
		payload["type"] = EventAppointmentCreate // as the documented samples
	}
	ev := &event{typ: eventType, id: s.webhookID()}
	payload["timestamp"] = iso(s.clock.Now())
	payload["webhookId"] = ev.id
	body, err := json.Marshal(payload)
	ev.body = body
	for _, r := range w.receivers {
		d := &delivery{ev: ev, r: r}
		if err != nil { // a seeded custom field value JSON cannot encode
			w.recordLocked(d, false, true, "dropped: marshalling the payload: "+err.Error())
			continue
		}
		if w.opts.DropRate > 0 && s.randFloat() < w.opts.DropRate {
			w.recordLocked(d, false, true, "dropped (DropRate)")
			continue
		}
		w.pushLocked(d)
		if w.opts.DuplicateRate > 0 && s.randFloat() < w.opts.DuplicateRate {
			w.pushLocked(&delivery{ev: ev, r: r, duplicate: true})
		}
	}
}

// webhookID returns a random UUID (version 4 layout) from the seeded
// generator.
func (s *Server) webhookID() string {
	s.rngMu.Lock()
	hi, lo := s.rng.Uint64(), s.rng.Uint64()
	s.rngMu.Unlock()
	hi = hi&^0xf000 | 0x4000         // version 4
	lo = lo&^(0xc<<60) | (0x8 << 60) // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// pushLocked queues a delivery, held or ready depending on the options.
func (w *webhooks) pushLocked(d *delivery) {
	r := d.r
	if r.pending >= maxWebhookQueue {
		w.recordLocked(d, false, true, "dropped: receiver queue full")
		return
	}
	r.pending++
	w.pending++
	if (w.opts.Hold || w.opts.Reorder) && w.flushing == 0 {
		r.held = append(r.held, d)
		return
	}
	r.ready = append(r.ready, d)
	r.signal()
}

// releaseLocked moves held deliveries to the ready queues, shuffled when
// Reorder is on. Receivers are visited in registration order, so the
// shuffles are reproducible.
func (w *webhooks) releaseLocked() {
	for _, r := range w.receivers {
		if len(r.held) == 0 {
			continue
		}
		if w.opts.Reorder {
			w.s.rngMu.Lock()
			w.s.rng.Shuffle(len(r.held), func(i, j int) { r.held[i], r.held[j] = r.held[j], r.held[i] })
			w.s.rngMu.Unlock()
		}
		r.ready = append(r.ready, r.held...)
		r.held = nil
		r.signal()
	}
}

func (r *receiver) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run delivers a receiver's queue, one delivery at a time, in order.
func (w *webhooks) run(r *receiver) {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		for len(r.ready) == 0 && !w.closed {
			w.mu.Unlock()
			select {
			case <-r.wake:
			case <-w.ctx.Done():
				return
			}
			w.mu.Lock()
		}
		if w.closed {
			w.mu.Unlock()
			return
		}
		d := r.ready[0]
		r.ready[0] = nil
		r.ready = r.ready[1:]
		opts := w.opts
		w.mu.Unlock()
		w.attempt(d, opts)
	}
}

// attempt POSTs a delivery once and decides its fate: 2xx delivered, 429
// retried while retries remain, anything else lost.
func (w *webhooks) attempt(d *delivery, o WebhookOptions) {
	ed, legacy := w.sign(d.ev)
	ctx, cancel := context.WithTimeout(w.ctx, o.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.r.url, bytes.NewReader(d.ev.body))
	if err != nil {
		w.finish(d, false, err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, ed)
	req.Header.Set(LegacySignatureHeader, legacy)
	client := o.Client
	if client == nil {
		client = w.client
	}
	d.attempts++
	resp, err := client.Do(req)
	if err != nil {
		if w.ctx.Err() != nil {
			return // closing: nobody is waiting for the outcome
		}
		d.status = 0
		w.finish(d, false, err.Error())
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	d.status = resp.StatusCode
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		w.finish(d, true, "")
	case resp.StatusCode == http.StatusTooManyRequests && d.attempts <= o.maxRetries():
		w.retryLater(d, o.retryWait())
	default:
		w.finish(d, false, "")
	}
}

// retryLater puts d back at the end of its receiver's queue after wait
// plus jitter. The jitter is not drawn from the seeded generator, so
// retries do not disturb generated IDs.
func (w *webhooks) retryLater(d *delivery, wait time.Duration) {
	wait += time.Duration(mrand.Int64N(int64(wait)/2 + 1))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(wait, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.closed {
			return
		}
		delete(w.timers, t)
		d.r.ready = append(d.r.ready, d)
		d.r.signal()
	})
	if w.timers == nil {
		w.timers = map[*time.Timer]bool{}
	}
	w.timers[t] = true
}

// finish records a delivery's outcome and releases its queue slot.
func (w *webhooks) finish(d *delivery, delivered bool, errText string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.recordLocked(d, delivered, false, errText)
	d.r.pending--
	w.pending--
	if w.pending == 0 && w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
}

func (w *webhooks) recordLocked(d *delivery, delivered, dropped bool, errText string) {
	rec := WebhookDelivery{
		Event: d.ev.typ, WebhookID: d.ev.id, URL: d.r.url, Body: d.ev.body,
		Status: d.status, Attempts: d.attempts, Delivered: delivered, Dropped: dropped,
		Duplicate: d.duplicate, Err: strings.TrimSpace(errText),
	}
	if len(w.log) < maxWebhookLog {
		w.log = append(w.log, rec)
		return
	}
	w.log[w.logStart] = rec
	w.logStart = (w.logStart + 1) % maxWebhookLog
}
