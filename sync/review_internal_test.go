package contactsync

import (
	"errors"
	"testing"
	"time"
)

// TestBudgetExhaustionSurvivesRetriesOfOtherCalls: once the server's daily
// remaining reached the reserve, the attempts of a call still in flight on
// another worker must not lift the exhaustion.
func TestBudgetExhaustionSurvivesRetriesOfOtherCalls(t *testing.T) {
	e := &Engine{now: time.Now}
	if err := e.spend(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.exhaust()    // worker A saw DailyRemaining <= reserve
	e.spendMore(2) // worker B's call took three attempts
	if err := e.spend(t.Context()); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("spend after exhaustion = %v, want ErrBudgetExhausted", err)
	}
}

// completedAt: when the read model knows a task was done.
func TestCompletedAtRule(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	hour := time.Hour
	open := Activity{Kind: KindTask, RemoteID: "t", UpdatedAt: t0}
	doneAt := func(updated, completed time.Time) Activity {
		return Activity{Kind: KindTask, RemoteID: "t", Completed: true, UpdatedAt: updated, CompletedAt: completed}
	}
	for _, c := range []struct {
		name   string
		prev   Activity
		exists bool
		news   Activity
		want   time.Time
	}{
		{"first seen done, by a poll: unknown", Activity{}, false, doneAt(t0, time.Time{}), time.Time{}},
		{"first seen done, by TaskComplete: its time", Activity{}, false, doneAt(t0, t0), t0},
		{"seen open, then done by a poll: the poll's news", open, true, doneAt(t0.Add(hour), time.Time{}), t0.Add(hour)},
		{"seen open, then TaskComplete", open, true, doneAt(t0.Add(2*hour), t0.Add(hour)), t0.Add(hour)},
		{"done before: kept", doneAt(t0, t0), true, doneAt(t0.Add(hour), time.Time{}), t0},
		{"done before, a TaskComplete tells earlier", doneAt(t0, t0), true, doneAt(t0.Add(hour), t0.Add(-hour)), t0.Add(-hour)},
		{"done, unknown when; still unknown", doneAt(t0, time.Time{}), true, doneAt(t0.Add(hour), time.Time{}), time.Time{}},
		{"reopened", doneAt(t0, t0), true, Activity{Kind: KindTask, UpdatedAt: t0.Add(hour), CompletedAt: t0}, time.Time{}},
	} {
		if got := completedAt(c.prev, c.exists, c.news); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
