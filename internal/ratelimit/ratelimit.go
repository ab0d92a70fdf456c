// Package ratelimit parses the Contacts API's X-RateLimit-* headers and
// provides the client-side limiter transport that sits below authentication.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Header names the API sends on every response.
const (
	HeaderMax            = "X-RateLimit-Max"
	HeaderRemaining      = "X-RateLimit-Remaining"
	HeaderInterval       = "X-RateLimit-Interval-Milliseconds"
	HeaderDailyLimit     = "X-RateLimit-Limit-Daily"
	HeaderDailyRemaining = "X-RateLimit-Daily-Remaining"
)

// Snapshot is one response's view of the rate-limit budget. Integer fields
// are -1 when the header was absent or unparsable.
type Snapshot struct {
	Limit          int
	Remaining      int
	Interval       time.Duration
	DailyLimit     int
	DailyRemaining int
	ObservedAt     time.Time
}

// Parse reads the rate-limit headers. ok is false when none is present.
func Parse(h http.Header, now time.Time) (s Snapshot, ok bool) {
	s = Snapshot{Limit: -1, Remaining: -1, DailyLimit: -1, DailyRemaining: -1, ObservedAt: now}
	read := func(name string, dst *int) {
		v := h.Get(name)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return
		}
		*dst = n
		ok = true
	}
	read(HeaderMax, &s.Limit)
	read(HeaderRemaining, &s.Remaining)
	read(HeaderDailyLimit, &s.DailyLimit)
	read(HeaderDailyRemaining, &s.DailyRemaining)
	ms := -1
	read(HeaderInterval, &ms)
	if ms > 0 {
		s.Interval = time.Duration(ms) * time.Millisecond
	}
	return s, ok
}

// DailyExhausted reports whether the headers say the daily budget is spent.
func DailyExhausted(h http.Header) bool {
	v := h.Get(HeaderDailyRemaining)
	if v == "" {
		return false
	}
	n, err := strconv.Atoi(v)
	return err == nil && n <= 0
}

// Transport waits on a token-bucket limiter before every attempt (retries
// included) and adapts the bucket when the server reports less headroom than
// the bucket holds.
type Transport struct {
	Base    http.RoundTripper
	Limiter *rate.Limiter // nil disables client-side limiting
	// Observe, if set, receives every parsed snapshot.
	Observe func(Snapshot)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxPause caps how long one 429 may hold every later request. A
	// server asking for longer (a Retry-After beyond the retry policy's
	// cap) gets its 429 returned to the caller, and the client must not
	// then freeze silently for the rest of that wait. Zero disables the
	// pause.
	MaxPause time.Duration

	// pauseUntil (unix ns) holds every request once the server reported
	// its window spent: a token bucket refills continuously, but the
	// API's window does not, so without the pause the client would probe
	// the spent window and collect 429s until it resets.
	pauseUntil atomic.Int64
	// windowStart (unix ns) is when the response that opened the
	// server's current window arrived (Remaining == Limit-1): the window
	// began at or before it, so it ends at or before windowStart+Interval.
	windowStart atomic.Int64

	// The window's accounting, under mu: the server's last reported
	// remaining count (when known), the requests in flight, and a channel
	// closed when either changes. A count of 0 is known until zeroUntil,
	// the end of the pause it set.
	mu        sync.Mutex
	known     bool
	remaining int
	inflight  int
	zeroUntil int64
	changed   chan struct{}
	// knownUntil (unix ns) is when a known count stops being trusted: the
	// end of the window it was read in, at the latest. After that the
	// server's window has reset, and another client of the same token (a
	// process that ran the location meanwhile) may have spent the new one.
	knownUntil int64
	// blind is set once a response came without the headers (a server or
	// proxy that does not send them): no count will ever be known, so
	// requests are not held back waiting for one.
	blind bool
}

// ErrWaitExceedsDeadline is returned when waiting for the limiter would
// overrun the request's deadline. It matches context.DeadlineExceeded.
var ErrWaitExceedsDeadline = fmt.Errorf("rate limiter wait would exceed the context deadline: %w", context.DeadlineExceeded)

func (t *Transport) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.admit(req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.Base.RoundTrip(req)
	if err != nil {
		t.settle(-1, 0, false, true, 0)
		return resp, err
	}
	now := t.now()
	snap, ok := Parse(resp.Header, now)
	if ok && t.Observe != nil {
		t.Observe(snap)
	}
	if ok && snap.Limit > 0 && snap.Remaining == snap.Limit-1 {
		t.windowStart.Store(now.UnixNano())
	}
	if t.Limiter == nil {
		return resp, nil
	}
	remaining := -1
	if ok {
		remaining = snap.Remaining
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		remaining = 0
	}
	Adapt(t.Limiter, snap, remaining, now)
	var until int64
	if remaining == 0 && !DailyExhausted(resp.Header) {
		until = t.pause(now, snap, resp.Header)
	}
	var validUntil int64
	if ok && snap.Interval > 0 {
		validUntil = now.Add(snap.Interval).UnixNano()
		if ws := t.windowStart.Load(); ws > 0 && ws+int64(snap.Interval) > now.UnixNano() {
			validUntil = min(validUntil, ws+int64(snap.Interval))
		}
	}
	t.settle(remaining, until, ok && snap.Limit > 0 && snap.Remaining == snap.Limit-1, ok || resp.StatusCode == http.StatusTooManyRequests, validUntil)
	return resp, nil
}

// admit waits until a request may go out: past any pause, with a token
// from the limiter, and — when the server's remaining count is known — not
// while the requests already in flight would use up what remains of the
// window (a token bucket would let a burst of concurrent callers overrun
// it). While the count is not known (a new client, or a window that has
// just reset) one request goes out alone and its response tells the rest:
// the window may be shared with another client of the same token — a
// process that ran the location before this one — and be nearly spent.
// It counts the request as in flight.
func (t *Transport) admit(req *http.Request) error {
	if err := t.waitPause(req); err != nil {
		return err
	}
	if t.Limiter == nil {
		return nil
	}
	ctx := req.Context()
	if err := t.Limiter.Wait(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if _, has := ctx.Deadline(); has {
			return ErrWaitExceedsDeadline
		}
		return err
	}
	for {
		// A request that waited for a token while another's response
		// reported the window spent must not go out into that window.
		if err := t.waitPause(req); err != nil {
			return err
		}
		t.mu.Lock()
		if t.known && t.remaining > 0 && t.knownUntil != 0 && t.now().UnixNano() >= t.knownUntil {
			t.known = false // read in a window that has ended: ask again
		}
		if t.known && t.remaining == 0 {
			if t.now().Before(time.Unix(0, t.zeroUntil)) {
				t.mu.Unlock()
				continue // the window was reported spent meanwhile: wait out its pause
			}
			t.known = false // the spent window has ended
		}
		if (t.known && t.inflight < t.remaining) || (!t.known && (t.blind || t.inflight == 0)) {
			t.inflight++
			t.mu.Unlock()
			return nil
		}
		if t.changed == nil {
			t.changed = make(chan struct{})
		}
		changed := t.changed
		t.mu.Unlock()
		// In flight are as many requests as the window has left: wait
		// for one to answer (with a new count, or a pause to honour).
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// PausedUntil is when the pause set by a spent window ends (the zero time
// if none was ever set; it may be past).
func (t *Transport) PausedUntil() time.Time {
	if ns := t.pauseUntil.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Forget drops the window's remaining count, so that the next request
// goes out alone and its response tells the count again: another client of
// the same token may have spent the window since this one read it. A count
// of 0 with its pause still running is kept (the server said so, and the
// pause ends by itself).
func (t *Transport) Forget() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !(t.known && t.remaining == 0) {
		t.known = false
	}
}

// settle records a request's end: remaining is the count its response
// reported (-1 if none; 0 with until, the pause it set, if any), opened
// whether that response opened a new window, told whether the response
// carried the headers (true as well for a transport error, which says
// nothing about them), validUntil when its window ends at the latest (0:
// unknown); the waiting requests re-check. Within a window the
// count only falls: a response overtaken by a later one does not raise it
// again.
func (t *Transport) settle(remaining int, until int64, opened, told bool, validUntil int64) {
	if t.Limiter == nil {
		return
	}
	t.mu.Lock()
	t.inflight--
	if remaining >= 0 {
		t.blind = false
	} else if !told {
		t.blind = true
	}
	switch {
	case remaining > 0:
		if !t.known || opened || remaining < t.remaining {
			t.known, t.remaining, t.knownUntil = true, remaining, validUntil
		}
	case remaining == 0 && until != 0:
		// Known only while the pause lasts: admit forgets it after.
		t.known, t.remaining, t.zeroUntil = true, 0, until
	case remaining == 0:
		t.known = false // nothing would end the wait: let the server answer
	}
	if t.changed != nil {
		close(t.changed)
		t.changed = nil
	}
	t.mu.Unlock()
}

// pause holds requests until the server's window has surely reset: for
// Retry-After when the server sends one; else until one interval after
// the response that opened the window, when this client saw it (an evenly
// paced client then loses no time); else one full interval from now.
func (t *Transport) pause(now time.Time, s Snapshot, h http.Header) int64 {
	var until time.Time
	if d, ok := RetryAfter(h, now); ok {
		until = now.Add(d)
	} else if s.Interval > 0 {
		until = now.Add(s.Interval)
		if ws := time.Unix(0, t.windowStart.Load()); now.Sub(ws) < s.Interval {
			until = ws.Add(s.Interval + s.Interval/100) // a 1% margin for clock skew
		}
	}
	if until.Sub(now) > t.MaxPause {
		until = now.Add(t.MaxPause)
	}
	if !until.After(now) {
		return 0
	}
	untilNS := until.UnixNano()
	for {
		cur := t.pauseUntil.Load()
		if cur >= untilNS {
			return cur
		}
		if t.pauseUntil.CompareAndSwap(cur, untilNS) {
			return untilNS
		}
	}
}

// waitPause blocks while the transport is paused, honouring the context.
func (t *Transport) waitPause(req *http.Request) error {
	until := t.pauseUntil.Load()
	if until == 0 {
		return nil
	}
	d := time.Unix(0, until).Sub(t.now())
	if d <= 0 {
		return nil
	}
	ctx := req.Context()
	if dl, has := ctx.Deadline(); has && dl.Before(t.now().Add(d)) {
		return ErrWaitExceedsDeadline
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// RetryAfter parses a Retry-After header given in seconds or as an HTTP
// date.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if !(secs >= 0) { // negative or NaN
			return 0, false
		}
		// A huge value (or "Inf") would overflow time.Duration to a
		// negative wait, and the 429 would be retried at once: saturate,
		// so callers compare it with their cap and give up instead.
		if secs >= float64(math.MaxInt64)/float64(time.Second) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// Adapt lowers the limiter to what the server reports: the bucket never holds
// more tokens than the server's remaining count, and burst and rate never
// exceed the server's advertised window. It never raises the limiter above
// what the caller configured.
func Adapt(l *rate.Limiter, s Snapshot, remaining int, now time.Time) {
	if l.Limit() == rate.Inf {
		return
	}
	if s.Limit > 0 && s.Interval > 0 {
		if s.Limit < l.Burst() {
			l.SetBurstAt(now, s.Limit)
		}
		if r := rate.Limit(float64(s.Limit) / s.Interval.Seconds()); r < l.Limit() {
			l.SetLimitAt(now, r)
		}
	}
	if remaining < 0 {
		return
	}
	tokens := l.TokensAt(now)
	if excess := int(math.Floor(tokens)) - remaining; excess > 0 {
		l.AllowN(now, excess) // consumes the surplus; never waits
	}
}

// IsWaitError reports whether err came from the limiter.
func IsWaitError(err error) bool { return errors.Is(err, ErrWaitExceedsDeadline) }
