package contacts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jarcoal/httpmock"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	contacts "github.com/gymflow/contacts-go"
)

const testToken = "pit-super-secret-token-0123456789"

// newTestClient returns a client on a fresh mock transport.
func newTestClient(t *testing.T, opts ...contacts.Option) (*contacts.Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	base := []contacts.Option{
		contacts.WithBaseURL("https://api.test"),
		contacts.WithHTTPClient(&http.Client{Transport: mt}),
		contacts.WithToken(testToken),
		contacts.WithLocationID("loc1"),
		contacts.WithRateLimiter(nil),
	}
	c, err := contacts.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, mt
}

// sequence answers successive calls with the given responders, repeating the last.
func sequence(rs ...httpmock.Responder) (httpmock.Responder, *atomic.Int32) {
	var n atomic.Int32
	return func(req *http.Request) (*http.Response, error) {
		i := int(n.Add(1)) - 1
		if i >= len(rs) {
			i = len(rs) - 1
		}
		return rs[i](req)
	}, &n
}

func status(code int, body string, headers ...string) httpmock.Responder {
	return func(req *http.Request) (*http.Response, error) {
		resp := httpmock.NewStringResponse(code, body)
		resp.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			resp.Header.Set(headers[i], headers[i+1])
		}
		resp.Request = req
		return resp, nil
	}
}

const contactBody = `{"contact":{"id":"c1","firstName":"Ana"},"traceId":"t-1"}`

func TestNewClientValidatesOptions(t *testing.T) {
	t.Parallel()
	cases := map[string][]contacts.Option{
		"no credentials":     {},
		"empty token":        {contacts.WithToken("")},
		"token with newline": {contacts.WithToken("abc\r\nX-Evil: 1")},
		"nil token source":   {contacts.WithTokenSource(nil)},
		"relative base URL":  {contacts.WithToken("t"), contacts.WithBaseURL("/contacts")},
		"ftp base URL":       {contacts.WithToken("t"), contacts.WithBaseURL("ftp://x")},
		"base URL query":     {contacts.WithToken("t"), contacts.WithBaseURL("https://x/?a=1")},
		"managed header":     {contacts.WithToken("t"), contacts.WithHeader("Authorization", "Bearer x")},
		"Accept header":      {contacts.WithToken("t"), contacts.WithHeader("accept", "text/html")},
		"header injection":   {contacts.WithToken("t"), contacts.WithHeader("X-A", "1\r\nX-B: 2")},
		"negative retries":   {contacts.WithToken("t"), contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: -1})},
		"backoff inverted":   {contacts.WithToken("t"), contacts.WithRetryPolicy(contacts.RetryPolicy{MinBackoff: 2, MaxBackoff: 1})},
		"bad location":       {contacts.WithToken("t"), contacts.WithLocationID("a/b")},
		"nil http client":    {contacts.WithToken("t"), contacts.WithHTTPClient(nil)},
		"nil logger":         {contacts.WithToken("t"), contacts.WithLogger(nil)},
	}
	for name, opts := range cases {
		if _, err := contacts.NewClient(opts...); err == nil {
			t.Errorf("%s: NewClient succeeded, want an error", name)
		} else if strings.Contains(err.Error(), "X-Evil") {
			t.Errorf("%s: error echoes the token: %v", name, err)
		}
	}
	if _, err := contacts.NewClient(contacts.WithToken("pit-x")); err != nil {
		t.Fatalf("minimal client: %v", err)
	}
}

func TestHeadersOnEveryRequest(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t, contacts.WithUserAgent("gymflow-sync/2.3"), contacts.WithHeader("X-Team", "gym"))
	var got http.Header
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", func(req *http.Request) (*http.Response, error) {
		got = req.Header.Clone()
		return status(200, contactBody)(req)
	})
	if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if v := got.Get("Authorization"); v != "Bearer "+testToken {
		t.Errorf("Authorization = %q", v)
	}
	if v := got.Get("Version"); v != "2021-07-28" {
		t.Errorf("Version = %q", v)
	}
	if v := got.Get("User-Agent"); !strings.HasPrefix(v, "gymflow-sync/2.3 contacts-go/"+contacts.Version+" ") {
		t.Errorf("User-Agent = %q", v)
	}
	if v := got.Get("X-Team"); v != "gym" {
		t.Errorf("X-Team = %q", v)
	}
	if v := got.Get("Accept"); v != "application/json" {
		t.Errorf("Accept = %q", v)
	}

	// Per-call overrides.
	_, err := c.Contacts.Get(context.Background(), "c1",
		contacts.WithRequestAPIVersion("2099-01-01"),
		contacts.WithRequestUserAgent("probe/1"),
		contacts.WithRequestHeader("X-Request-Id", "r-1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Get("Version") != "2099-01-01" || got.Get("User-Agent") != "probe/1" || got.Get("X-Request-Id") != "r-1" {
		t.Errorf("per-call overrides not applied: %v", got)
	}
	// A managed header cannot be set per call, and nothing is sent.
	before := mt.GetTotalCallCount()
	_, err = c.Contacts.Get(context.Background(), "c1", contacts.WithRequestHeader("Authorization", "Bearer other"))
	if !errors.Is(err, contacts.ErrInvalidArgument) || mt.GetTotalCallCount() != before {
		t.Errorf("managed per-call header: err=%v calls=%d", err, mt.GetTotalCallCount()-before)
	}
}

func TestTokenSourceIsConsultedPerAttempt(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	ts := tokenFunc(func() (*oauth2.Token, error) {
		return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", n.Add(1)), TokenType: "Bearer"}, nil
	})
	c, mt := newTestClient(t, contacts.WithTokenSource(ts), contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 1}))
	var auths []string
	r, _ := sequence(status(503, `{}`), status(200, contactBody))
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", func(req *http.Request) (*http.Response, error) {
		auths = append(auths, req.Header.Get("Authorization"))
		return r(req)
	})
	if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if len(auths) != 2 || auths[0] != "Bearer tok-1" || auths[1] != "Bearer tok-2" {
		t.Errorf("authorization per attempt = %v, want tok-1 then tok-2", auths)
	}
}

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	reset := httpmock.NewErrorResponder(syscall.ECONNRESET)
	tests := []struct {
		name      string
		method    string // GET, PUT, DELETE or POST
		responses []httpmock.Responder
		wantCalls int32
		wantErr   error // nil for success
	}{
		{"GET retries 5xx", "GET", []httpmock.Responder{status(503, `{}`), status(500, `{}`), status(200, contactBody)}, 3, nil},
		{"PUT retries 502", "PUT", []httpmock.Responder{status(502, `{}`), status(200, contactBody)}, 2, nil},
		{"DELETE retries 504", "DELETE", []httpmock.Responder{status(504, `{}`), status(200, `{"succeded":true}`)}, 2, nil},
		{"GET gives up after MaxRetries", "GET", []httpmock.Responder{status(503, `{"message":"busy"}`)}, 4, contacts.ErrServer},
		{"501 is not retried", "GET", []httpmock.Responder{status(501, `{}`)}, 1, contacts.ErrServer},
		{"POST never retries 5xx", "POST", []httpmock.Responder{status(500, `{}`), status(201, contactBody)}, 1, contacts.ErrServer},
		{"POST retries 429", "POST", []httpmock.Responder{status(429, `{}`, "Retry-After", "1"), status(201, contactBody)}, 2, nil},
		{"GET retries 429", "GET", []httpmock.Responder{status(429, `{}`), status(200, contactBody)}, 2, nil},
		{"404 is not retried", "GET", []httpmock.Responder{status(404, `{}`), status(200, contactBody)}, 1, contacts.ErrNotFound},
		{"422 is not retried", "PUT", []httpmock.Responder{status(422, `{"message":["x"]}`), status(200, contactBody)}, 1, contacts.ErrValidation},
		{"daily limit fails at once", "GET", []httpmock.Responder{status(429, `{}`, "X-RateLimit-Limit-Daily", "200000", "X-RateLimit-Daily-Remaining", "0"), status(200, contactBody)}, 1, contacts.ErrDailyLimitExceeded},
		{"daily remaining alone fails at once", "GET", []httpmock.Responder{status(429, `{}`, "X-RateLimit-Daily-Remaining", "0"), status(200, contactBody)}, 1, contacts.ErrDailyLimitExceeded},
		{"Retry-After beyond the cap is returned", "GET", []httpmock.Responder{status(429, `{}`, "Retry-After", "3600"), status(200, contactBody)}, 1, contacts.ErrRateLimited},
		{"Retry-After past time.Duration is returned", "GET", []httpmock.Responder{status(429, `{}`, "Retry-After", "9300000000"), status(200, contactBody)}, 1, contacts.ErrRateLimited},
		{"Retry-After of Inf is returned", "POST", []httpmock.Responder{status(429, `{}`, "Retry-After", "1e300"), status(201, contactBody)}, 1, contacts.ErrRateLimited},
		{"GET retries a reset", "GET", []httpmock.Responder{reset, status(200, contactBody)}, 2, nil},
		{"POST never retries a reset", "POST", []httpmock.Responder{reset, status(201, contactBody)}, 1, syscall.ECONNRESET},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				c, mt := newTestClient(t)
				r, calls := sequence(tt.responses...)
				ctx := context.Background()
				var err error
				switch tt.method {
				case "GET":
					mt.RegisterResponder("GET", "https://api.test/contacts/c1", r)
					_, err = c.Contacts.Get(ctx, "c1")
				case "PUT":
					mt.RegisterResponder("PUT", "https://api.test/contacts/c1", r)
					_, err = c.Contacts.Update(ctx, "c1", contacts.ContactUpdate{FirstName: contacts.Value("Ana")})
				case "DELETE":
					mt.RegisterResponder("DELETE", "https://api.test/contacts/c1", r)
					err = c.Contacts.Delete(ctx, "c1")
				case "POST":
					mt.RegisterResponder("POST", "https://api.test/contacts/", r)
					_, err = c.Contacts.Create(ctx, contacts.ContactCreate{Email: "ana@example.com"})
				}
				if got := calls.Load(); got != tt.wantCalls {
					t.Errorf("calls = %d, want %d", got, tt.wantCalls)
				}
				if tt.wantErr == nil && err != nil {
					t.Errorf("err = %v, want success", err)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			})
		})
	}
}

func TestRetryAfterIsHonouredAndCapped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, mt := newTestClient(t, contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxRetryAfter: 5 * time.Second}))
		r, _ := sequence(status(429, `{}`, "Retry-After", "3"), status(200, contactBody))
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", r)
		start := time.Now() // the bubble's fake clock
		var meta contacts.Response
		if _, err := c.Contacts.Get(context.Background(), "c1", contacts.WithResponse(&meta)); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("waited %v on the fake clock, want the server's 3s", waited)
		}
		if meta.Attempts != 2 {
			t.Errorf("attempts = %d, want 2", meta.Attempts)
		}
	})
}

func TestRefusedRetryAfterIsReportedAndDoesNotFreezeTheClient(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// One 429 asking for an hour is returned to the caller (beyond the
		// policy's minute); the limiter's hold is capped by the same minute,
		// so the next call is not silently blocked for the hour.
		c, mt := newTestClient(t, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		r, _ := sequence(status(429, `{}`, "Retry-After", "3600", "X-RateLimit-Max", "100", "X-RateLimit-Remaining", "0",
			"X-RateLimit-Interval-Milliseconds", "10000", "X-RateLimit-Limit-Daily", "200000", "X-RateLimit-Daily-Remaining", "150000"),
			status(200, contactBody))
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", r)
		start := time.Now() // the bubble's fake clock
		_, err := c.Contacts.Get(context.Background(), "c1")
		var apiErr *contacts.APIError
		if !errors.As(err, &apiErr) || !errors.Is(err, contacts.ErrRateLimited) || errors.Is(err, contacts.ErrDailyLimitExceeded) {
			t.Fatalf("err = %v, want a rate-limited *APIError that is not the daily limit", err)
		}
		if apiErr.RetryAfter != time.Hour {
			t.Errorf("RetryAfter = %v, want 1h", apiErr.RetryAfter)
		}
		if rl := apiErr.RateLimit; rl == nil || rl.Limit != 100 || rl.Remaining != 0 || rl.DailyRemaining != 150000 {
			t.Errorf("RateLimit = %+v, want the response's headers", rl)
		}
		if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited > contacts.DefaultRetryPolicy().MaxRetryAfter {
			t.Errorf("second call held %v on the fake clock, want at most the policy's %v", waited, contacts.DefaultRetryPolicy().MaxRetryAfter)
		}
	})
}

func TestRateLimited429WithoutRetryAfterWaitsForTheWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// A 429 carrying only the window headers: the retry waits for the
		// window to end instead of probing it with backoff-sized gaps.
		c, mt := newTestClient(t, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		var stamps []time.Time
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", func(req *http.Request) (*http.Response, error) {
			stamps = append(stamps, time.Now())
			if len(stamps) == 1 {
				return status(429, `{}`, "X-RateLimit-Max", "100", "X-RateLimit-Remaining", "0",
					"X-RateLimit-Interval-Milliseconds", "10000")(req)
			}
			return status(200, contactBody, "X-RateLimit-Max", "100", "X-RateLimit-Remaining", "99",
				"X-RateLimit-Interval-Milliseconds", "10000")(req)
		})
		if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil {
			t.Fatal(err)
		}
		if len(stamps) != 2 {
			t.Fatalf("attempts = %d, want 2", len(stamps))
		}
		if gap := stamps[1].Sub(stamps[0]); gap < 10*time.Second || gap > 11*time.Second {
			t.Errorf("retry after %v on the fake clock, want when the 10 s window ends", gap)
		}
	})
}

func TestLimiterPauseHonoursTheContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// The window is spent: the next call waits ~10 s. A caller that
		// cancels meanwhile gets context.Canceled at once; one whose
		// deadline falls inside the pause fails at once with a
		// deadline error. Neither sends anything.
		c, mt := newTestClient(t, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(200, contactBody, "X-RateLimit-Max", "100",
			"X-RateLimit-Remaining", "0", "X-RateLimit-Interval-Milliseconds", "10000"))
		if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		if _, err := c.Contacts.Get(ctx, "c1"); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled during the pause: err = %v, want context.Canceled", err)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("returned after %v on the fake clock, want at the cancellation (1s)", waited)
		}
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer dcancel()
		start = time.Now()
		if _, err := c.Contacts.Get(dctx, "c1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("deadline inside the pause: err = %v, want a deadline error", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("returned after %v on the fake clock, want at once", waited)
		}
		if n := mt.GetTotalCallCount(); n != 1 {
			t.Errorf("%d requests sent, want only the first", n)
		}
	})
}

// fixedWindow is a server's budget of 100 requests per 10 s window, the
// window starting at its first request, as the API counts.
type fixedWindow struct {
	mu                    sync.Mutex
	start                 time.Time
	used, served, tooMany int
}

// serveFixedWindow answers GET contacts/c1 within a fixedWindow, each
// answer taking latency to come back.
func serveFixedWindow(mt *httpmock.MockTransport, latency time.Duration) *fixedWindow {
	w := &fixedWindow{}
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", func(req *http.Request) (*http.Response, error) {
		if latency > 0 {
			defer time.Sleep(latency)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if now := time.Now(); w.start.IsZero() || now.Sub(w.start) >= 10*time.Second {
			w.start, w.used = now, 0
		}
		if w.used >= 100 {
			w.tooMany++
			return status(429, `{}`, "X-RateLimit-Max", "100", "X-RateLimit-Remaining", "0", "X-RateLimit-Interval-Milliseconds", "10000")(req)
		}
		w.used++
		w.served++
		return status(200, contactBody, "X-RateLimit-Max", "100", "X-RateLimit-Remaining", fmt.Sprint(100-w.used),
			"X-RateLimit-Interval-Milliseconds", "10000")(req)
	})
	return w
}

// burst has callers goroutines each call Get n times, and waits for them.
func burst(t *testing.T, c *contacts.Client, callers, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range n {
				if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// check fails t unless the window served want requests and refused none.
func (w *fixedWindow) check(t *testing.T, want int) {
	t.Helper()
	if w.served != want || w.tooMany != 0 {
		t.Errorf("%d served, %d × 429; want %d and none", w.served, w.tooMany, want)
	}
}

// spentElsewhere opens a window now in which another client of the same
// token has already sent n requests.
func (w *fixedWindow) spentElsewhere(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.start, w.used = time.Now(), n
}

func TestConcurrentCallersDrawNo429(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// A fixed-window server (100 per 10 s from the window's first
		// request), four goroutines calling as fast as the default
		// limiter lets them: callers already waiting for a token when
		// the window is reported spent must wait for the next one too.
		c, mt := newTestClient(t, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		w := serveFixedWindow(mt, 0)
		burst(t, c, 4, 100)
		w.check(t, 400)
	})
}

func TestFreshClientProbesAWindowAnotherProcessSpent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Another process ran the location until a moment ago and spent
		// 95 of the window's 100 requests. A new client (a worker that
		// takes the location over) with a full token bucket and 16
		// concurrent callers must not send more than the 5 left: it
		// learns the count from one request first.
		c, mt := newTestClient(t, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		w := serveFixedWindow(mt, 50*time.Millisecond) // the answer's way back: requests overlap
		w.spentElsewhere(95)
		burst(t, c, 16, 5)
		w.check(t, 80)
	})
}

func TestCountFromAnEndedWindowIsNotTrusted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// The client ran the location in one window (90 left when it
		// stopped); in the next window another process spent 95. The
		// client's next burst must go by the new count, not the old.
		c, mt := newTestClient(t, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		w := serveFixedWindow(mt, 50*time.Millisecond)
		burst(t, c, 1, 10)
		time.Sleep(12 * time.Second)
		w.spentElsewhere(95) // the other process's window
		burst(t, c, 16, 1)
		w.check(t, 26)
	})
}

// spendInWindow has another client of the same token send n requests in
// the current window.
func (w *fixedWindow) spendInWindow(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.used += n
}

func TestResetRateLimitAfterAnotherProcessRanTheLocation(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// A worker ran the location (10 requests: it knows of 90 left),
		// handed it over, and another process spent 85 more in the same
		// window before handing it back. The worker resets its count
		// when it takes the location again: of 16 concurrent calls, 5 go
		// in this window and the rest wait for the next, with no 429.
		c, mt := newTestClient(t, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		w := serveFixedWindow(mt, 50*time.Millisecond)
		burst(t, c, 1, 10)
		w.spendInWindow(85)
		c.ResetRateLimit()
		burst(t, c, 16, 1)
		w.check(t, 26)
	})
}

func TestRateLimitedUntilTellsWhenASpentWindowEnds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, mt := newTestClient(t, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		w := serveFixedWindow(mt, 0)
		start := time.Now()
		if !c.RateLimitedUntil().IsZero() {
			t.Fatal("held back before any request")
		}
		burst(t, c, 1, 99)
		if !c.RateLimitedUntil().IsZero() {
			t.Fatal("held back with one request left")
		}
		burst(t, c, 1, 1) // the window's last
		until := c.RateLimitedUntil()
		if until.Before(start.Add(10*time.Second)) || until.After(start.Add(11*time.Second)) {
			t.Fatalf("held back until %s after the window opened; want its end, 10 s (+1%%)", until.Sub(start))
		}
		time.Sleep(time.Until(until))
		if !c.RateLimitedUntil().IsZero() {
			t.Error("still held back after the window ended")
		}
		burst(t, c, 1, 1)
		w.check(t, 101)
	})
}

func TestClientWithoutRateHeadersIsNotSerialized(t *testing.T) {
	t.Parallel()
	// A server (or proxy) that sends no X-RateLimit-* headers: once that
	// is seen, concurrent callers go out together, not one at a time.
	c, mt := newTestClient(t, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
	var inflight, peak, calls atomic.Int64
	release := make(chan struct{})
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", func(req *http.Request) (*http.Response, error) {
		if calls.Add(1) == 1 {
			return status(200, contactBody)(req)
		}
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if n >= 4 {
			close(release)
		}
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		return status(200, contactBody)(req)
	})
	if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil { // the first learns there are no headers
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if peak.Load() < 4 {
		t.Errorf("at most %d requests in flight, want 4", peak.Load())
	}
}

func TestBackoffIsBoundedExponential(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, mt := newTestClient(t, contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 5, MinBackoff: time.Second, MaxBackoff: 4 * time.Second, MaxRetryAfter: time.Minute}))
		var stamps []time.Time
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", func(req *http.Request) (*http.Response, error) {
			stamps = append(stamps, time.Now())
			return status(503, `{}`)(req)
		})
		_, err := c.Contacts.Get(context.Background(), "c1")
		if !errors.Is(err, contacts.ErrServer) {
			t.Fatalf("err = %v", err)
		}
		if len(stamps) != 6 {
			t.Fatalf("attempts = %d, want 6", len(stamps))
		}
		// Waits are min*2^i capped at max, jittered into [d/2, d].
		caps := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
		for i, ceiling := range caps {
			gap := stamps[i+1].Sub(stamps[i])
			if gap < ceiling/2 || gap > ceiling {
				t.Errorf("wait %d = %v, want within [%v, %v]", i, gap, ceiling/2, ceiling)
			}
		}
	})
}

func TestContextCancelledDuringBackoff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, mt := newTestClient(t)
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(503, `{}`))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := c.Contacts.Get(ctx, "c1")
		if err != context.Canceled {
			t.Fatalf("err = %#v, want context.Canceled itself", err)
		}
		if n := mt.GetTotalCallCount(); n != 1 {
			t.Errorf("calls = %d, want 1 (cancelled while waiting)", n)
		}
	})
}

func TestContextDeadlineComesBackAsItself(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, mt := newTestClient(t)
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(503, `{}`))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := c.Contacts.Get(ctx, "c1")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestWithMaxRetriesPerCall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, mt := newTestClient(t)
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(503, `{}`))
		var meta contacts.Response
		_, err := c.Contacts.Get(context.Background(), "c1", contacts.WithMaxRetries(0), contacts.WithResponse(&meta))
		if !errors.Is(err, contacts.ErrServer) || mt.GetTotalCallCount() != 1 || meta.Attempts != 1 || meta.StatusCode != 503 {
			t.Fatalf("err=%v calls=%d meta=%+v", err, mt.GetTotalCallCount(), meta)
		}
	})
}

func TestLimiterIsConsultedPerAttempt(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Two tokens and no refill to speak of: the first attempt and one
		// retry pass; the second retry must wait on the limiter, not the server.
		lim := rate.NewLimiter(rate.Every(24*time.Hour), 2)
		c, mt := newTestClient(t, contacts.WithRateLimiter(lim))
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(503, `{}`))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := c.Contacts.Get(ctx, "c1")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a deadline error from the limiter", err)
		}
		if n := mt.GetTotalCallCount(); n != 2 {
			t.Errorf("server saw %d attempts, want 2 (the third is held by the limiter)", n)
		}
	})
}

func TestLimiterAdaptsToServerHeadroom(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		lim := contacts.DefaultRateLimiter()
		c, mt := newTestClient(t, contacts.WithRateLimiter(lim))
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(200, contactBody,
			"X-RateLimit-Max", "100", "X-RateLimit-Remaining", "3", "X-RateLimit-Interval-Milliseconds", "10000"))
		if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil {
			t.Fatal(err)
		}
		if tok := lim.Tokens(); tok > 3.01 {
			t.Errorf("limiter holds %.2f tokens after the server reported 3 remaining", tok)
		}
		// A server advertising a smaller window lowers burst and rate.
		mt.RegisterResponder("GET", "https://api.test/contacts/c2", status(200, contactBody,
			"X-RateLimit-Max", "50", "X-RateLimit-Remaining", "40", "X-RateLimit-Interval-Milliseconds", "10000"))
		if _, err := c.Contacts.Get(context.Background(), "c2"); err != nil {
			t.Fatal(err)
		}
		if lim.Burst() != 50 || lim.Limit() != 5 {
			t.Errorf("limiter burst=%d limit=%v, want 50 and 5/s", lim.Burst(), lim.Limit())
		}
	})
}

func TestRateLimitHeadersAreExposed(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	if _, ok := c.RateLimit(); ok {
		t.Fatal("RateLimit reported before any response")
	}
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(200, contactBody,
		"X-RateLimit-Max", "100", "X-RateLimit-Remaining", "97", "X-RateLimit-Interval-Milliseconds", "10000",
		"X-RateLimit-Limit-Daily", "200000", "X-RateLimit-Daily-Remaining", "199990"))
	var meta contacts.Response
	if _, err := c.Contacts.Get(context.Background(), "c1", contacts.WithResponse(&meta)); err != nil {
		t.Fatal(err)
	}
	want := contacts.RateLimit{Limit: 100, Remaining: 97, Interval: 10 * time.Second, DailyLimit: 200000, DailyRemaining: 199990}
	got := meta.RateLimit
	got.ObservedAt = time.Time{}
	if !meta.HasRateLimit || got != want {
		t.Errorf("per-call rate limit = %+v, want %+v", got, want)
	}
	if meta.TraceID != "t-1" || meta.StatusCode != 200 || meta.Attempts != 1 {
		t.Errorf("meta = %+v", meta)
	}
	last, ok := c.RateLimit()
	last.ObservedAt = time.Time{}
	if !ok || last != want {
		t.Errorf("client.RateLimit() = %+v, %v", last, ok)
	}
}

func TestAPIErrorDecoding(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	tests := []struct {
		status  int
		body    string
		is      []error
		isNot   []error
		msgs    []string
		errText string
	}{
		{400, `{"statusCode":400,"message":"Contact with id c1 not found","traceId":"tr"}`,
			[]error{contacts.ErrNotFound, contacts.ErrValidation}, []error{contacts.ErrDuplicateContact}, []string{"Contact with id c1 not found"}, ""},
		{400, `{"statusCode":400,"message":"This location does not allow duplicated contacts.","meta":{"contactId":"dup1","matchingField":"email"},"traceId":"tr"}`,
			[]error{contacts.ErrDuplicateContact, contacts.ErrValidation}, []error{contacts.ErrNotFound}, []string{"This location does not allow duplicated contacts."}, ""},
		{401, `{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}`,
			[]error{contacts.ErrUnauthorized}, []error{contacts.ErrForbidden}, []string{"Invalid token: access token is invalid"}, "Unauthorized"},
		{403, `{"statusCode":403,"message":"The token does not have access to this location."}`,
			[]error{contacts.ErrForbidden}, []error{contacts.ErrUnauthorized}, []string{"The token does not have access to this location."}, ""},
		{404, `not json at all`, []error{contacts.ErrNotFound}, []error{contacts.ErrValidation}, nil, ""},
		{422, `{"statusCode":422,"message":["email must be an email","locationId should not be empty"],"error":"Unprocessable Entity"}`,
			[]error{contacts.ErrValidation}, []error{contacts.ErrNotFound}, []string{"email must be an email", "locationId should not be empty"}, "Unprocessable Entity"},
		{429, `{"statusCode":429,"message":"Too many requests"}`, []error{contacts.ErrRateLimited}, []error{contacts.ErrDailyLimitExceeded}, []string{"Too many requests"}, ""},
		{500, `{"statusCode":500,"message":"Internal server error"}`, []error{contacts.ErrServer}, []error{contacts.ErrValidation}, []string{"Internal server error"}, ""},
	}
	for _, tt := range tests {
		mt.RegisterResponder("POST", "https://api.test/contacts/", status(tt.status, tt.body))
		_, err := c.Contacts.Create(context.Background(), contacts.ContactCreate{Email: "a@b.co"}, contacts.WithMaxRetries(0))
		var apiErr *contacts.APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("%d: err = %v, want *APIError", tt.status, err)
		}
		if apiErr.StatusCode != tt.status || fmt.Sprint(apiErr.Messages) != fmt.Sprint(tt.msgs) || apiErr.ErrorText != tt.errText {
			t.Errorf("%d: decoded %+v", tt.status, apiErr)
		}
		if apiErr.Method != "POST" || apiErr.Path != "/contacts/" || string(apiErr.Body) != tt.body {
			t.Errorf("%d: method/path/body = %s %s %q", tt.status, apiErr.Method, apiErr.Path, apiErr.Body)
		}
		for _, s := range tt.is {
			if !errors.Is(err, s) {
				t.Errorf("%d: errors.Is(%v) = false", tt.status, s)
			}
		}
		for _, s := range tt.isNot {
			if errors.Is(err, s) {
				t.Errorf("%d: errors.Is(%v) = true", tt.status, s)
			}
		}
	}
	// The duplicate's ID and the trace ID reach the message.
	mt.RegisterResponder("POST", "https://api.test/contacts/", status(400, tests[1].body))
	_, err := c.Contacts.Create(context.Background(), contacts.ContactCreate{Email: "a@b.co"})
	var apiErr *contacts.APIError
	errors.As(err, &apiErr)
	if apiErr.DuplicateContactID != "dup1" || apiErr.MatchingField != "email" || apiErr.TraceID != "tr" {
		t.Errorf("duplicate meta = %+v", apiErr)
	}
	want := "contacts: POST /contacts/: 400 Bad Request: This location does not allow duplicated contacts. (existing contact dup1 matched by email) [trace tr]"
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", err.Error(), want)
	}
}

func TestErrorBodyIsBounded(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	huge := `{"message":"` + strings.Repeat("x", 1<<20) + `"}`
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(400, huge))
	_, err := c.Contacts.Get(context.Background(), "c1")
	var apiErr *contacts.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v", err)
	}
	if len(apiErr.Body) != 64<<10 {
		t.Errorf("kept %d bytes of the error body, want 64 KiB", len(apiErr.Body))
	}
}

func TestSuccessBodyIsBounded(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", func(req *http.Request) (*http.Response, error) {
		// 40 MiB of body, produced lazily.
		body := io.MultiReader(strings.NewReader(`{"contact":{"id":"c1","firstName":"`), io.LimitReader(zeroes{}, 40<<20), strings.NewReader(`"}}`))
		return &http.Response{StatusCode: 200, Body: io.NopCloser(body), Header: http.Header{}, Request: req, ContentLength: -1}, nil
	})
	_, err := c.Contacts.Get(context.Background(), "c1")
	var te *contacts.TransportError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "size limit") {
		t.Fatalf("err = %v, want a size-limit error", err)
	}
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestPathParametersCannotEscape(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	ctx := context.Background()
	for _, id := range []string{"", ".", "..", "../x", "a/b", `a\b`, "x\n", "/"} {
		if _, err := c.Contacts.Get(ctx, id); !errors.Is(err, contacts.ErrInvalidArgument) {
			t.Errorf("Get(%q): err = %v, want ErrInvalidArgument", id, err)
		}
		if _, err := c.Tasks.Get(ctx, "c1", id); !errors.Is(err, contacts.ErrInvalidArgument) {
			t.Errorf("Tasks.Get(c1, %q): err = %v", id, err)
		}
	}
	if n := mt.GetTotalCallCount(); n != 0 {
		t.Fatalf("%d requests were sent for invalid IDs", n)
	}
	// Other characters are escaped into a single segment.
	var gotPath string
	mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
		gotPath = req.URL.EscapedPath()
		return status(200, contactBody)(req)
	})
	if _, err := c.Contacts.Get(ctx, "a b?c#d%2F"); err != nil {
		t.Fatal(err)
	}
	if want := "/contacts/a%20b%3Fc%23d%252F"; gotPath != want {
		t.Errorf("escaped path = %q, want %q", gotPath, want)
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c, mt := newTestClient(t, contacts.WithLogger(logger), contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(503, `{"message":"down"}`))
		mt.RegisterResponder("GET", "https://api.test/contacts/c2", httpmock.NewErrorResponder(syscall.ECONNREFUSED))
		mt.RegisterResponder("GET", `=~^https://api.test/contacts/search/duplicate`, status(401, `{"message":"Invalid token"}`))
		var errs []error
		_, err := c.Contacts.Get(context.Background(), "c1")
		errs = append(errs, err)
		_, err = c.Contacts.Get(context.Background(), "c2")
		errs = append(errs, err)
		_, err = c.Contacts.FindDuplicate(context.Background(), contacts.DuplicateQuery{Email: "private@example.com"})
		errs = append(errs, err)

		var formatted strings.Builder
		for _, e := range errs {
			if e == nil {
				t.Fatal("expected errors")
			}
			fmt.Fprintf(&formatted, "%v %+v %#v %s\n", e, e, e, e.Error())
		}
		fmt.Fprintf(&formatted, "%v %+v %#v %s", c, c, c, c)
		if !strings.Contains(logs.String(), `"contacts: retrying"`) || !strings.Contains(logs.String(), `"contacts: request"`) {
			t.Errorf("expected request and retry records, got:\n%s", logs.String())
		}
		for name, text := range map[string]string{"logs": logs.String(), "errors and client": formatted.String()} {
			if strings.Contains(text, testToken) || strings.Contains(text, "Bearer") {
				t.Errorf("%s contain the token:\n%s", name, text)
			}
			if strings.Contains(text, "private@example.com") {
				t.Errorf("%s contain the query's e-mail address:\n%s", name, text)
			}
		}
	})
}

func TestNoRequestBeforeRanging(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	seq := c.Contacts.SearchAll(context.Background(), contacts.SearchParams{})
	_ = c.Contacts.ListAll(context.Background(), contacts.ListParams{})
	_ = c.Contacts.ListByBusinessAll(context.Background(), "b1", contacts.BusinessListParams{})
	if mt.GetTotalCallCount() != 0 {
		t.Fatal("iterators fetched before being ranged")
	}
	_ = seq
}

func TestLimiterPausesUntilTheServerWindowResets(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// A token bucket refills while the server's fixed window does not:
		// once the server reports its window spent, the client waits a full
		// interval instead of probing and collecting 429s.
		c, mt := newTestClient(t, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		var stamps []time.Time
		remaining := 2
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", func(req *http.Request) (*http.Response, error) {
			stamps = append(stamps, time.Now())
			remaining--
			if remaining < 0 {
				return status(429, `{}`)(req)
			}
			return status(200, contactBody, "X-RateLimit-Max", "100", "X-RateLimit-Remaining", fmt.Sprint(remaining),
				"X-RateLimit-Interval-Milliseconds", "10000")(req)
		})
		start := time.Now()
		for range 2 {
			if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil {
				t.Fatal(err)
			}
		}
		remaining = 100 // the window resets
		if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil {
			t.Fatal(err)
		}
		if len(stamps) != 3 {
			t.Fatalf("attempts = %d, want 3 (no probing of the spent window)", len(stamps))
		}
		if waited := stamps[2].Sub(start); waited < 10*time.Second {
			t.Errorf("third call after %v on the fake clock, want a full 10 s interval", waited)
		}
	})
}

func TestLimiterPauseEndsWithTheWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// The response that opened the window (99 of 100 left) dates it, so
		// an evenly paced client resumes when that window ends, not a full
		// interval after the window ran out.
		c, mt := newTestClient(t, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		var stamps []time.Time
		left := []string{"99", "0", "99"}
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", func(req *http.Request) (*http.Response, error) {
			stamps = append(stamps, time.Now())
			rem := left[min(len(stamps)-1, len(left)-1)]
			return status(200, contactBody, "X-RateLimit-Max", "100", "X-RateLimit-Remaining", rem,
				"X-RateLimit-Interval-Milliseconds", "10000")(req)
		})
		start := time.Now()
		c.Contacts.Get(context.Background(), "c1")
		time.Sleep(6 * time.Second)
		c.Contacts.Get(context.Background(), "c1") // spends the window at t0+6s
		c.Contacts.Get(context.Background(), "c1")
		if got := stamps[2].Sub(start); got < 10*time.Second || got > 11*time.Second {
			t.Errorf("resumed after %v, want when the window that opened at 0s ends (~10.1s), not at 16s", got)
		}
	})
}

// TestEmptyOrNonJSONSuccessIsADecodeError: a 2xx answer without a JSON body
// is a broken answer, not an empty result (the audit found Search returning
// 0 contacts and FindDuplicate (nil, nil) for an empty 200).
func TestEmptyOrNonJSONSuccessIsADecodeError(t *testing.T) {
	t.Parallel()
	calls := map[string]func(c *contacts.Client) error{
		"Search": func(c *contacts.Client) error {
			_, err := c.Contacts.Search(t.Context(), contacts.SearchParams{})
			return err
		},
		"FindDuplicate": func(c *contacts.Client) error {
			_, err := c.Contacts.FindDuplicate(t.Context(), contacts.DuplicateQuery{Email: "a@example.com"})
			return err
		},
		"Get": func(c *contacts.Client) error {
			_, err := c.Contacts.Get(t.Context(), "c1")
			return err
		},
		"Delete": func(c *contacts.Client) error { return c.Contacts.Delete(t.Context(), "c1") },
		"Tasks.List": func(c *contacts.Client) error {
			_, err := c.Tasks.List(t.Context(), "c1")
			return err
		},
	}
	for _, body := range []string{"", "  \n", "null", "<html>oops</html>"} {
		for name, call := range calls {
			t.Run(fmt.Sprintf("%s/%q", name, body), func(t *testing.T) {
				t.Parallel()
				c, mt := newTestClient(t)
				mt.RegisterNoResponder(status(http.StatusOK, body))
				err := call(c)
				var de *contacts.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("err = %v, want a *DecodeError", err)
				}
				if de.StatusCode != http.StatusOK {
					t.Errorf("StatusCode = %d", de.StatusCode)
				}
			})
		}
	}
}

// TestAcceptIsManaged: Accept is always application/json; setting it is
// refused like the other managed headers, never silently rewritten.
func TestAcceptIsManaged(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(200, contactBody))
	_, err := c.Contacts.Get(t.Context(), "c1", contacts.WithRequestHeader("Accept", "application/xml"))
	if !errors.Is(err, contacts.ErrInvalidArgument) || !strings.Contains(err.Error(), "Accept") {
		t.Errorf("per-call Accept: err = %v, want ErrInvalidArgument naming Accept", err)
	}
	if n := mt.GetTotalCallCount(); n != 0 {
		t.Errorf("%d request(s) sent", n)
	}
}
