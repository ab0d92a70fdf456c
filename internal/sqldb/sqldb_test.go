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

func TestDialect(t *testing.T) {
	if SQLite.String() != "SQLite" || Postgres.String() != "Postgres" || Dialect(0).String() != "Dialect(0)" || Dialect(9).String() != "Dialect(9)" {
		t.Error("Dialect.String")
	}
	if !SQLite.Valid() || !Postgres.Valid() || Dialect(0).Valid() || Dialect(3).Valid() {
		t.Error("Dialect.Valid")
	}
	if !SQLite.IsSQLite() || Postgres.IsSQLite() {
		t.Error("Dialect.IsSQLite")
	}
	q := `UPDATE t SET a = ? WHERE id = ?`
	if got := SQLite.Rebind(q); got != q {
		t.Errorf("SQLite.Rebind = %q", got)
	}
	if got, want := Postgres.Rebind(q), `UPDATE t SET a = $1 WHERE id = $2`; got != want {
		t.Errorf("Postgres.Rebind = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		d    Dialect
		err  error
		want bool
	}{
		{SQLite, codeErr(5), true},
		{SQLite, codeErr(19), false},
		{SQLite, stateErr("40001"), false},
		{Postgres, stateErr("40001"), true},
		{Postgres, stateErr("40P01"), true},
		{Postgres, stateErr("23505"), false},
		{Postgres, codeErr(5), false},
		{Dialect(0), codeErr(5), false},
	} {
		if got := tc.d.Retryable(tc.err); got != tc.want {
			t.Errorf("%s.Retryable(%v) = %v", tc.d, tc.err, got)
		}
	}
	for _, tc := range []struct {
		d     Dialect
		fails error
		runs  int
	}{{SQLite, codeErr(5), 3}, {Postgres, stateErr("40001"), 3}, {Postgres, codeErr(5), 1}, {SQLite, stateErr("40001"), 1}} {
		n := 0
		err := tc.d.Retry(context.Background(), func() error {
			n++
			if n < 3 {
				return tc.fails
			}
			return nil
		})
		if n != tc.runs || (tc.runs == 3) != (err == nil) {
			t.Errorf("%s.Retry of a statement refused twice with %v: %v after %d runs, want %d runs", tc.d, tc.fails, err, n, tc.runs)
		}
	}
}

type stateErr string

func (s stateErr) Error() string    { return "ERROR: refused (SQLSTATE " + string(s) + ")" }
func (s stateErr) SQLState() string { return string(s) }

func TestIsSerializationFailure(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{stateErr("40001"), true},
		{stateErr("40P01"), true},
		{fmt.Errorf("exec: %w", stateErr("40001")), true},
		{stateErr("40002"), false},
		{stateErr("23505"), false},
		{errors.New("pq: could not serialize access due to concurrent update"), true},
		{errors.New("pq: deadlock detected"), true},
		{errors.New("database is locked"), false},
	} {
		if got := IsSerializationFailure(tc.err); got != tc.want {
			t.Errorf("IsSerializationFailure(%v) = %v", tc.err, got)
		}
	}
}
