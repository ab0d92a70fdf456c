package sqldb

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

type codeErr int

func (c codeErr) Error() string { return fmt.Sprintf("sqlite error %d", int(c)) }
func (c codeErr) Code() int     { return int(c) }

func TestIsBusy(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{codeErr(5), true},
		{codeErr(6), true},
		{codeErr(5 | 1<<8), true}, // an extended SQLITE_BUSY code
		{codeErr(19), false},
		{fmt.Errorf("exec: %w", codeErr(5)), true},
		{errors.New("database is locked"), true},
		{errors.New("UNIQUE constraint failed"), false},
	} {
		if got := IsBusy(tc.err); got != tc.want {
			t.Errorf("IsBusy(%v) = %v", tc.err, got)
		}
	}
}

func TestRetry(t *testing.T) {
	n := 0
	err := Retry(context.Background(), true, func() error {
		n++
		if n < 3 {
			return codeErr(5)
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Errorf("busy twice then ok: err=%v after %d runs", err, n)
	}
	n = 0
	if err := Retry(context.Background(), false, func() error { n++; return codeErr(5) }); err == nil || n != 1 {
		t.Errorf("non-SQLite: %v after %d runs", err, n)
	}
	n = 0
	if err := Retry(context.Background(), true, func() error { n++; return errors.New("syntax error") }); err == nil || n != 1 {
		t.Errorf("other error: %v after %d runs", err, n)
	}
}

func TestNumbered(t *testing.T) {
	got := Numbered(`UPDATE t SET a = ?, b = ? WHERE id = ? AND v = ?`)
	if want := `UPDATE t SET a = $1, b = $2 WHERE id = $3 AND v = $4`; got != want {
		t.Errorf("Numbered = %q, want %q", got, want)
	}
	if got := Numbered("SELECT 1"); got != "SELECT 1" {
		t.Errorf("Numbered without placeholders = %q", got)
	}
}
