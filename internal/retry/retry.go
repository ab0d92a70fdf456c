// Package retry holds the SDK's retry policy for go-retryablehttp: which
// outcomes are retried and how long to wait between attempts.
package retry

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gymflow/contacts-go/internal/ratelimit"
)

// Policy configures retries. See contacts.RetryPolicy for the documentation.
type Policy struct {
	MaxRetries    int
	MinBackoff    time.Duration
	MaxBackoff    time.Duration
	MaxRetryAfter time.Duration
}

// State is carried in a request's context so the policy knows the method and
// per-call limits, and so the caller can learn how many attempts were made.
type State struct {
	Method     string
	MaxRetries int
	Attempts   atomic.Int32
	token      atomic.Pointer[string]
}

// SetToken records the access token an attempt was sent with.
func (s *State) SetToken(tok string) { s.token.Store(&tok) }

// Token returns the access token of the latest attempt, "" if none.
func (s *State) Token() string {
	if p := s.token.Load(); p != nil {
		return *p
	}
	return ""
}

type stateKey struct{}

// WithState attaches s to ctx.
func WithState(ctx context.Context, s *State) context.Context {
	return context.WithValue(ctx, stateKey{}, s)
}

// FromContext returns the state attached to ctx, or nil.
func FromContext(ctx context.Context) *State {
	s, _ := ctx.Value(stateKey{}).(*State)
	return s
}

// Idempotent reports whether a request with this method may be repeated
// after the server may have processed it.
func Idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// Check is a retryablehttp.CheckRetry. Rules:
//   - the context is done: stop, return its error;
//   - 429: retry any method (the request was not processed), unless the daily
//     budget is exhausted or the server asks for a wait longer than
//     MaxRetryAfter;
//   - 5xx except 501: retry GET/PUT/DELETE only;
//   - transport errors (timeouts, resets, refused, EOF): retry GET/PUT/DELETE
//     only; a POST may have reached the server, so it is never repeated;
//   - anything else: stop.
func (p Policy) Check(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	st := FromContext(ctx)
	method := ""
	if st != nil {
		method = st.Method
		if int(st.Attempts.Load()) > st.MaxRetries {
			return false, nil
		}
	} else if resp != nil && resp.Request != nil {
		method = resp.Request.Method
	}
	if err != nil {
		return Idempotent(method) && TransientError(err), nil
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if ratelimit.DailyExhausted(resp.Header) {
			return false, nil
		}
		if d, ok := RetryAfter(resp.Header, time.Now()); ok && d > p.MaxRetryAfter {
			return false, nil
		}
		return true, nil
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return Idempotent(method), nil
	}
	return false, nil
}

// TransientError reports whether a transport error is worth retrying for an
// idempotent request.
func TransientError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if ratelimit.IsWaitError(err) {
		// The limiter's wait would overrun the caller's deadline: that is
		// the caller's budget, not an attempt's, and no retry can fit in it.
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	if isTimeout(err) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

// isTimeout reports whether any error in err's chain says it is a timeout.
// errors.As would stop at the first net.Error, and a *url.Error is one whose
// Timeout looks only at its direct cause, so an attempt's deadline wrapped
// below it (fmt.Errorf("…: %w", context.DeadlineExceeded)) would be missed.
func isTimeout(err error) bool {
	for err != nil {
		if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if isTimeout(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// Backoff is a retryablehttp.Backoff: a server-given Retry-After (capped by
// MaxRetryAfter) for 429, otherwise capped exponential backoff with jitter in
// [d/2, d].
func (p Policy) Backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		if d, ok := RetryAfter(resp.Header, time.Now()); ok {
			return min(d, p.MaxRetryAfter)
		}
	}
	return Exponential(minWait, maxWait, attempt, rand.Int64N)
}

// Exponential returns min*2^attempt capped at max, jittered into [d/2, d].
// randN returns a value in [0, n).
func Exponential(minWait, maxWait time.Duration, attempt int, randN func(int64) int64) time.Duration {
	if minWait <= 0 {
		return 0
	}
	d := minWait
	for i := 0; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	if maxWait > 0 && d > maxWait {
		d = maxWait
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(randN(int64(half)+1))
}

// RetryAfter parses a Retry-After header given in seconds or as an HTTP date.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	return ratelimit.RetryAfter(h, now)
}
