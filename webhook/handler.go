package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Defaults of a Handler.
const (
	// DefaultMaxBodyBytes caps a delivery's body (1 MiB).
	DefaultMaxBodyBytes = 1 << 20
	// DefaultReplayWindow is how far a delivery's timestamp may be from now.
	DefaultReplayWindow = 5 * time.Minute
	// DefaultReadTimeout bounds the time to read a delivery's body.
	DefaultReadTimeout = 10 * time.Second
)

// errReadTimeout: the body was not read within the handler's read timeout.
var errReadTimeout = errors.New("webhook: timed out reading the body")

// HandlerFunc is the application's handler. Return nil only once the
// event is safely handled: the delivery is acknowledged (2xx) only then.
type HandlerFunc func(ctx context.Context, ev Event) error

// Handler is an http.Handler that receives webhooks safely: POST only,
// body capped, signature verified over the raw bytes, stale timestamps and
// repeated webhookIds refused, the event decoded and handed to the
// application exactly once per webhookId.
//
// Answers: 200 once the application handled the event, or for a duplicate
// (without calling the application again); 401 for a missing or bad
// signature or a stale timestamp; 400 for a malformed body; 405 for a
// method other than POST; 413 above the body cap; 408, closing the
// connection, when the body is not received within the read timeout
// (WithReadTimeout). When the application returns an error — or another
// delivery of the same event is still being processed, or the dedup store
// fails — the answer is 429 with Retry-After, because 429 is the only
// failure after which the API redelivers; the event is released so the
// redelivery is processed.
//
// Late redeliveries: a delivery whose timestamp is outside the replay
// window is refused as stale (401) — unless its webhookId's earlier
// delivery failed here (the application's error, answered 429). That
// redelivery is processed once, however late: the API redelivers only
// after a 429, with the original signed body and timestamp, and the event
// was never applied. A late repeat of a processed webhookId is still only
// acknowledged (200) without calling the application.
type Handler struct {
	verifier *Verifier
	fn       HandlerFunc
	maxBody  int64
	readTO   time.Duration
	window   time.Duration
	now      func() time.Time
	dedup    DedupStore
	logger   *slog.Logger
	retry    time.Duration
}

// HandlerOption configures a Handler.
type HandlerOption func(*Handler)

// WithMaxBodyBytes caps request bodies (default 1 MiB).
func WithMaxBodyBytes(n int64) HandlerOption { return func(h *Handler) { h.maxBody = n } }

// WithReadTimeout bounds the time to read a request's body, from when the
// handler starts reading it (default 10 s): a client sending it too slowly
// is answered 408 and its connection closed, so that slow bodies cannot
// hold the server's connections. The handler sets the connection's read
// deadline (http.ResponseController.SetReadDeadline), which net/http lifts
// once the body is read, so the application's context is not cut short by
// it. Where the ResponseWriter cannot set a read deadline (a wrapper
// without Unwrap), the handler stops waiting for the body after d, closes
// it and answers 408.
func WithReadTimeout(d time.Duration) HandlerOption { return func(h *Handler) { h.readTO = d } }

// WithReplayWindow sets how far from now a delivery's timestamp may be
// (default 5 minutes).
func WithReplayWindow(d time.Duration) HandlerOption { return func(h *Handler) { h.window = d } }

// WithClock sets the handler's clock (default time.Now).
func WithClock(now func() time.Time) HandlerOption { return func(h *Handler) { h.now = now } }

// WithDedupStore replaces the default in-memory store (NewMemoryDedup),
// e.g. with NewSQLDedup when several instances receive webhooks.
func WithDedupStore(s DedupStore) HandlerOption { return func(h *Handler) { h.dedup = s } }

// WithLogger logs each delivery (type, webhookId, location, outcome —
// never the body) to l.
func WithLogger(l *slog.Logger) HandlerOption {
	return func(h *Handler) {
		if l != nil {
			h.logger = l
		}
	}
}

// WithRetryAfter sets the Retry-After sent with 429 answers (default 60 s).
func WithRetryAfter(d time.Duration) HandlerOption {
	return func(h *Handler) { h.retry = max(d, time.Second) }
}

// NewHandler returns a Handler calling fn for every verified, fresh event.
func NewHandler(v *Verifier, fn HandlerFunc, opts ...HandlerOption) (*Handler, error) {
	if v == nil {
		return nil, errors.New("webhook: NewHandler needs a verifier")
	}
	if fn == nil {
		return nil, errors.New("webhook: NewHandler needs a handler function")
	}
	h := &Handler{verifier: v, fn: fn, maxBody: DefaultMaxBodyBytes, readTO: DefaultReadTimeout, window: DefaultReplayWindow, now: time.Now,
		logger: slog.New(slog.DiscardHandler), retry: time.Minute}
	for _, o := range opts {
		o(h)
	}
	if h.dedup == nil {
		h.dedup = NewMemoryDedup(0, 0)
	}
	if h.maxBody <= 0 || h.window <= 0 || h.readTO <= 0 {
		return nil, errors.New("webhook: body cap, read timeout and replay window must be positive")
	}
	return h, nil
}

// VerifyAndParse verifies a delivery and decodes it, for applications with
// their own routing. It does no replay or duplicate check; Handler does.
func VerifyAndParse(v *Verifier, header http.Header, body []byte) (Event, error) {
	if err := v.Verify(header, body); err != nil {
		return nil, err
	}
	return Parse(body)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reply(w, http.StatusMethodNotAllowed, "method not allowed", nil)
		return
	}
	if r.ContentLength > h.maxBody {
		h.reply(w, http.StatusRequestEntityTooLarge, "body too large", nil)
		return
	}
	body, err := h.readBody(w, r)
	if errors.Is(err, errReadTimeout) || errors.Is(err, os.ErrDeadlineExceeded) {
		w.Header().Set("Connection", "close")
		h.reply(w, http.StatusRequestTimeout, "timed out reading the body", nil)
		h.logger.Warn("webhook: timed out reading the body", "timeout", h.readTO)
		return
	}
	if err != nil {
		h.reply(w, http.StatusBadRequest, "could not read the body", nil)
		return
	}
	if int64(len(body)) > h.maxBody {
		h.reply(w, http.StatusRequestEntityTooLarge, "body too large", nil)
		return
	}
	if err := h.verifier.Verify(r.Header, body); err != nil {
		h.reply(w, http.StatusUnauthorized, "signature rejected", nil)
		h.logger.Warn("webhook: rejected signature", "error", err)
		return
	}
	ev, err := Parse(body)
	if err != nil {
		h.reply(w, http.StatusBadRequest, "malformed event", nil)
		h.logger.Warn("webhook: malformed event", "error", err)
		return
	}
	m := ev.Info()
	if m.WebhookID == "" || m.Timestamp.IsZero() {
		h.reply(w, http.StatusBadRequest, "the event has no webhookId or timestamp", m)
		return
	}
	ctx := r.Context()
	now := h.now()
	claim, err := h.dedup.Begin(ctx, m.WebhookID, now)
	if err != nil {
		h.logger.Error("webhook: dedup store failed", "webhookId", m.WebhookID, "error", err)
		h.tryLater(w, "dedup store unavailable", m)
		return
	}
	switch claim {
	case Duplicate:
		h.reply(w, http.StatusOK, "duplicate", m)
		return
	case InProgress:
		h.tryLater(w, "already being processed", m)
		return
	}
	// A retry of a delivery that failed here is welcome even if its
	// timestamp has aged: we asked for it with a 429.
	if claim == Fresh && (now.Sub(m.Timestamp) > h.window || m.Timestamp.Sub(now) > h.window) {
		if err := h.dedup.End(ctx, m.WebhookID, Abandoned, now); err != nil {
			h.logger.Error("webhook: dedup store failed", "webhookId", m.WebhookID, "error", err)
		}
		h.reply(w, http.StatusUnauthorized, "stale timestamp", m)
		return
	}
	if err := h.fn(ctx, ev); err != nil {
		h.logger.Error("webhook: handler failed", "type", m.Type, "webhookId", m.WebhookID, "error", err)
		if err := h.dedup.End(context.WithoutCancel(ctx), m.WebhookID, Failed, h.now()); err != nil {
			h.logger.Error("webhook: dedup store failed", "webhookId", m.WebhookID, "error", err)
		}
		h.tryLater(w, "handler failed", m)
		return
	}
	if err := h.dedup.End(context.WithoutCancel(ctx), m.WebhookID, Processed, h.now()); err != nil {
		// Processed but not remembered: a redelivery may be processed again.
		h.logger.Error("webhook: could not record a processed event", "webhookId", m.WebhookID, "error", err)
	}
	h.reply(w, http.StatusOK, "ok", m)
}

// readBody reads up to maxBody+1 bytes of r's body within the read
// timeout, measured on the real clock (not h.now, which tests may fix).
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	read := func() ([]byte, error) { return io.ReadAll(io.LimitReader(r.Body, h.maxBody+1)) }
	if r.ContentLength == 0 {
		// No body (http.NoBody): nothing to wait for, and no deadline to
		// leave on a connection whose next request is already awaited.
		return read()
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(h.readTO)); err == nil {
		// net/http lifts the deadline once the body is read to its end
		// (always, unless the body is refused), so it cannot cancel the
		// request's context while the application runs.
		return read()
	}
	// The ResponseWriter cannot set the connection's deadline (a wrapper
	// without Unwrap, or another server): bound the wait instead. Closing
	// the body ends a pending Read in net/http's HTTP/2 server and most
	// other bodies; net/http's HTTP/1 body ends it at the next bytes
	// received. The reader is waited for: the body is never read after
	// ServeHTTP returns.
	type result struct {
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		body, err := read()
		done <- result{body, err}
	}()
	t := time.NewTimer(h.readTO)
	defer t.Stop()
	select {
	case res := <-done:
		return res.body, res.err
	case <-t.C:
	}
	r.Body.Close()
	if res := <-done; res.err == nil {
		return res.body, nil // read whole just as the timer fired
	}
	return nil, errReadTimeout
}

func (h *Handler) tryLater(w http.ResponseWriter, msg string, m *Meta) {
	w.Header().Set("Retry-After", strconv.Itoa(int(h.retry.Seconds())))
	h.reply(w, http.StatusTooManyRequests, msg, m)
}

func (h *Handler) reply(w http.ResponseWriter, status int, msg string, m *Meta) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
	if m != nil {
		h.logger.Info("webhook: delivery", "status", status, "outcome", msg, "type", m.Type, "webhookId", m.WebhookID, "locationId", m.LocationID)
	}
}
