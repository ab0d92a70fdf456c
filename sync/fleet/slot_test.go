package fleet

import (
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// 5,000 locations cycling every 5 minutes, scheduled a minute at a time
// from an arbitrary moment: each location is due once per period, in its
// own slot, and the minutes carry about the same load (not 5,000 at :00).
func TestSlotsTileAndSpread(t *testing.T) {
	t.Parallel()
	const n = 5000
	period, tick := 5*time.Minute, time.Minute
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC).Add(17 * time.Second).Truncate(tick)
	per := map[string][]time.Time{}
	var counts []int
	for w := range 60 { // an hour of ticks
		from := start.Add(time.Duration(w) * tick)
		c := 0
		for i := range n {
			loc := fmt.Sprintf("location-%04d", i)
			if at, ok := slot(loc, taskCycle, period, from, from.Add(tick)); ok {
				if at.Before(from) || !at.Before(from.Add(tick)) {
					t.Fatalf("%s: slot %v outside [%v, %v)", loc, at, from, from.Add(tick))
				}
				per[loc] = append(per[loc], at)
				c++
			}
		}
		counts = append(counts, c)
	}
	for i := range n {
		loc := fmt.Sprintf("location-%04d", i)
		ats := per[loc]
		if len(ats) != 12 {
			t.Fatalf("%s due %d times in an hour, want 12", loc, len(ats))
		}
		for k := 1; k < len(ats); k++ {
			if d := ats[k].Sub(ats[k-1]); d != period {
				t.Fatalf("%s: %v between cycles, want %v", loc, d, period)
			}
		}
	}
	mean := float64(n) / float64(period/tick)
	for w, c := range counts {
		if float64(c) > 1.15*mean || float64(c) < 0.85*mean {
			t.Errorf("minute %d carries %d cycles, the mean is %.0f", w, c, mean)
		}
	}
	// Daily reconciliations spread over the day: no minute carries more
	// than a handful.
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	perMinute := map[int64]int{}
	for i := range n {
		at, ok := slot(fmt.Sprintf("location-%04d", i), taskReconcile, 24*time.Hour, day, day.Add(24*time.Hour))
		if !ok {
			t.Fatalf("location %d has no reconciliation in the day", i)
		}
		perMinute[at.Sub(day).Milliseconds()/60000]++
	}
	worst := 0
	for _, c := range perMinute {
		worst = max(worst, c)
	}
	if worst > 15 {
		t.Errorf("reconciliations: at most %d in a minute of the day", worst)
	}
}

func TestAlignedEvery(t *testing.T) {
	s := alignedEvery(time.Minute)
	at := time.Date(2026, 12, 7, 9, 0, 42, 0, time.UTC)
	if got, want := s.Next(at), time.Date(2026, 12, 7, 9, 1, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next(%v) = %v, want %v", at, got, want)
	}
	if got, want := s.Next(time.Date(2026, 12, 7, 9, 1, 0, 0, time.UTC)), time.Date(2026, 12, 7, 9, 2, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next on the minute = %v, want %v", got, want)
	}
}

func TestRetryPolicyIsShortAndBounded(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 2 * time.Second, 3: 8 * time.Second, 5: 32 * time.Second, 6: time.Minute, 500: time.Minute} {
		got := time.Until(retryPolicy{}.NextRetry(&rivertype.JobRow{Attempt: attempt}))
		if got > want || got < want*79/100 {
			t.Errorf("attempt %d: retry in %s, want %s less up to 20%%", attempt, got, want)
		}
	}
}
