package ratelimit

import (
	"net/http"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestParse(t *testing.T) {
	now := time.Unix(100, 0)
	h := http.Header{}
	if _, ok := Parse(h, now); ok {
		t.Fatal("empty headers parsed as a snapshot")
	}
	h.Set(HeaderMax, "100")
	h.Set(HeaderRemaining, "42")
	h.Set(HeaderInterval, "10000")
	h.Set(HeaderDailyLimit, "200000")
	h.Set(HeaderDailyRemaining, "nope")
	s, ok := Parse(h, now)
	want := Snapshot{Limit: 100, Remaining: 42, Interval: 10 * time.Second, DailyLimit: 200000, DailyRemaining: -1, ObservedAt: now}
	if !ok || s != want {
		t.Errorf("Parse = %+v, %v; want %+v", s, ok, want)
	}
	if DailyExhausted(h) {
		t.Error("unparsable daily remaining counted as exhausted")
	}
	h.Set(HeaderDailyRemaining, "0")
	if !DailyExhausted(h) {
		t.Error("daily remaining 0 not exhausted")
	}
}

func TestAdaptNeverRaises(t *testing.T) {
	now := time.Unix(100, 0)
	l := rate.NewLimiter(rate.Every(time.Second), 10)
	Adapt(l, Snapshot{Limit: 1000, Interval: time.Second, Remaining: 900}, 900, now)
	if l.Burst() != 10 || l.Limit() != 1 {
		t.Errorf("limiter raised to burst %d limit %v", l.Burst(), l.Limit())
	}
	Adapt(l, Snapshot{Limit: -1, Remaining: 4}, 4, now)
	if tok := l.TokensAt(now); tok != 4 {
		t.Errorf("tokens = %v, want 4", tok)
	}
	inf := rate.NewLimiter(rate.Inf, 0)
	Adapt(inf, Snapshot{Limit: 1, Interval: time.Second}, 0, now)
	if inf.Limit() != rate.Inf {
		t.Error("an unlimited limiter was adapted")
	}
}
