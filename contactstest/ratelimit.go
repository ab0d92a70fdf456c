package contactstest

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimits configures the server's rate limiting, per app and location
// like the live API: each request a valid sub-account token makes to a
// contacts endpoint counts against the budget of the token's app
// (TokenSpec.AppID) on the token's location, and the answer carries that
// budget's X-RateLimit-* headers.
//
// Answers the limiter does not count carry the headers too, showing the
// budget as it stands, whenever the request can be attributed to a
// location budget: a 401 for a known but expired or revoked sub-account
// token, a scripted answer or injected fault for a request bearing a known
// sub-account token, a POST /oauth/token answer about a sub-account grant
// (the budget of the app on that location, which the tokens it issues
// draw on), and a successful POST /oauth/locationToken (the new token's
// budget). Requests without a bearer token the server knows, agency
// (Company) tokens, which belong to no location, and OAuth answers given
// before the grant is known cannot be attributed, so their answers carry
// no X-RateLimit-* headers.
type RateLimits struct {
	// Burst requests are allowed per Interval.
	Burst    int
	Interval time.Duration
	// Daily requests are allowed per UTC day of the server's clock.
	Daily int
	// RetryAfter adds a Retry-After header to 429s (the live API's
	// behaviour is undocumented; off by default so clients cope without).
	RetryAfter bool
	// Disabled switches limiting off; the headers are still sent and
	// always show the full budget.
	Disabled bool
}

// DefaultRateLimits are the live API's documented limits: 100 requests per
// 10 seconds and 200,000 per day.
func DefaultRateLimits() RateLimits {
	return RateLimits{Burst: 100, Interval: 10 * time.Second, Daily: 200000}
}

type budget struct {
	windowStart time.Time
	used        int
	day         string
	dailyUsed   int
}

type limiter struct {
	mu      sync.Mutex
	cfg     RateLimits
	budgets map[string]*budget
}

func newLimiter(cfg RateLimits) *limiter {
	if cfg.Burst <= 0 {
		cfg.Burst = 100
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Daily <= 0 {
		cfg.Daily = 200000
	}
	return &limiter{cfg: cfg, budgets: map[string]*budget{}}
}

// SetRateLimits replaces the server's rate limits and resets every budget.
func (s *Server) SetRateLimits(l RateLimits) {
	nl := newLimiter(l)
	s.limits.mu.Lock()
	s.limits.cfg = nl.cfg
	s.limits.budgets = map[string]*budget{}
	s.limits.mu.Unlock()
}

// limitKey names the budget of an app on a location.
func limitKey(appID, locationID string) string { return appID + "|" + locationID }

// setHeaders writes the X-RateLimit-* headers of a budget.
func setHeaders(h http.Header, cfg RateLimits, remaining, dailyRemaining int) {
	h.Set("X-RateLimit-Max", strconv.Itoa(cfg.Burst))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Interval-Milliseconds", strconv.FormatInt(cfg.Interval.Milliseconds(), 10))
	h.Set("X-RateLimit-Limit-Daily", strconv.Itoa(cfg.Daily))
	h.Set("X-RateLimit-Daily-Remaining", strconv.Itoa(dailyRemaining))
}

// peek writes the X-RateLimit-* headers of the budget named key as it
// stands at now, without counting a request or moving its windows.
func (l *limiter) peek(h http.Header, key string, now time.Time) {
	l.mu.Lock()
	cfg := l.cfg
	used, dailyUsed := 0, 0
	if b := l.budgets[key]; b != nil {
		if now.Sub(b.windowStart) < cfg.Interval && !now.Before(b.windowStart) {
			used = b.used
		}
		if now.UTC().Format(time.DateOnly) == b.day {
			dailyUsed = b.dailyUsed
		}
	}
	l.mu.Unlock()
	setHeaders(h, cfg, max(cfg.Burst-used, 0), max(cfg.Daily-dailyUsed, 0))
}

// admit counts the request against its app's budget for the token's
// location (fixed windows), sets the X-RateLimit-* headers, and answers
// 429 itself when a budget is spent.
func (l *limiter) admit(c *call) bool {
	now := c.s.clock.Now()
	l.mu.Lock()
	key := limitKey(c.tok.appID, c.tok.locationID)
	b := l.budgets[key]
	if b == nil {
		b = &budget{windowStart: now}
		l.budgets[key] = b
	}
	if now.Sub(b.windowStart) >= l.cfg.Interval || now.Before(b.windowStart) {
		b.windowStart, b.used = now, 0
	}
	if day := now.UTC().Format(time.DateOnly); day != b.day {
		b.day, b.dailyUsed = day, 0
	}
	cfg := l.cfg
	limited := !cfg.Disabled && (b.used >= cfg.Burst || b.dailyUsed >= cfg.Daily)
	if !limited && !cfg.Disabled {
		// With limits off nothing is counted: the headers show a full budget.
		b.used++
		b.dailyUsed++
	}
	remaining, dailyRemaining := max(cfg.Burst-b.used, 0), max(cfg.Daily-b.dailyUsed, 0)
	resetIn := b.windowStart.Add(cfg.Interval).Sub(now)
	dailyOut := b.dailyUsed >= cfg.Daily
	l.mu.Unlock()

	h := c.w.Header()
	setHeaders(h, cfg, remaining, dailyRemaining)
	if !limited {
		return true
	}
	if cfg.RetryAfter {
		wait := resetIn
		if dailyOut {
			y, m, d := now.UTC().Date()
			wait = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Sub(now)
		}
		h.Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
	}
	c.fail(http.StatusTooManyRequests, "Too Many Requests")
	return false
}
