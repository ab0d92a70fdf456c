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
