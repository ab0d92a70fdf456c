package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"NaN", 0, false},
		// Past what time.Duration holds: saturated, never negative.
		{"9300000000", time.Duration(math.MaxInt64), true},
		{"1e300", time.Duration(math.MaxInt64), true},
		{"+Inf", time.Duration(math.MaxInt64), true},
		{"9223372036", 9223372036 * time.Second, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.v != "" {
			h.Set("Retry-After", c.v)
		}
		got, ok := RetryAfter(h, now)
		if got != c.want || ok != c.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

func TestExponentialJitterBounds(t *testing.T) {
	lo := func(n int64) int64 { return 0 }
	hi := func(n int64) int64 { return n - 1 }
	for attempt, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		if got := Exponential(time.Second, 8*time.Second, attempt, lo); got != want/2 {
			t.Errorf("attempt %d low = %v, want %v", attempt, got, want/2)
		}
		if got := Exponential(time.Second, 8*time.Second, attempt, hi); got != want {
			t.Errorf("attempt %d high = %v, want %v", attempt, got, want)
		}
	}
	if got := Exponential(0, time.Second, 3, hi); got != 0 {
		t.Errorf("zero min = %v", got)
	}
	// Huge attempt numbers must not overflow past the cap.
	if got := Exponential(time.Second, time.Minute, 500, hi); got != time.Minute {
		t.Errorf("attempt 500 = %v", got)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTransientError(t *testing.T) {
	yes := []error{
		io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.EPIPE,
		&url.Error{Op: "Get", URL: "https://x", Err: timeoutErr{}},
		&net.OpError{Op: "dial", Err: errors.New("no route")},
		fmt.Errorf("wrapped: %w", syscall.ECONNRESET),
	}
	no := []error{nil, context.Canceled, errors.New("x509: certificate signed by unknown authority"), errors.New("oauth2: token expired")}
	for _, e := range yes {
		if !TransientError(e) {
			t.Errorf("TransientError(%v) = false", e)
		}
	}
	for _, e := range no {
		if TransientError(e) {
			t.Errorf("TransientError(%v) = true", e)
		}
	}
}

func TestCheckStopsWhenContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := Policy{MaxRetries: 3, MaxRetryAfter: time.Minute}
	retry, err := p.Check(ctx, &http.Response{StatusCode: 503}, nil)
	if retry || err != context.Canceled {
		t.Errorf("Check on a cancelled context = %v, %v", retry, err)
	}
}
