package oauth

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var pgPlaceholder = regexp.MustCompile(`\$(\d+)`)

// checkPostgresPlaceholders reports whether query's placeholders are $1…$n
// in order of appearance, each used once, with n = args, and no ? left.
func checkPostgresPlaceholders(query string, args int) error {
	if strings.Contains(query, "?") {
		return errors.New("a ? placeholder is left")
	}
	found := pgPlaceholder.FindAllStringSubmatch(query, -1)
	for i, m := range found {
		if n, _ := strconv.Atoi(m[1]); n != i+1 {
			return fmt.Errorf("placeholder %d of %d is $%d, want $%d", i+1, len(found), n, i+1)
		}
	}
	if len(found) != args {
		return fmt.Errorf("%d placeholders for %d arguments", len(found), args)
	}
	return nil
}

func sqlStatements(q sqlQueries) map[string]string {
	return map[string]string{
		"createTokens": q.createTokens, "createLocks": q.createLocks, "load": q.load, "insert": q.insert,
		"update": q.update, "delete": q.delete, "lock": q.lock, "unlck": q.unlck,
	}
}

// TestPostgresPlaceholders: every Postgres statement numbers its
// placeholders $1…$n consecutively, one for each ? of the same SQLite
// statement, and is otherwise the same statement.
func TestPostgresPlaceholders(t *testing.T) {
	lite := sqlStatements(buildQueries(SQLite, "p_tokens", "p_locks"))
	pg := sqlStatements(buildQueries(Postgres, "p_tokens", "p_locks"))
	for name, query := range pg {
		want := strings.Count(lite[name], "?")
		if err := checkPostgresPlaceholders(query, want); err != nil {
			t.Errorf("%s: %v (SQLite has %d ?):\n%s", name, err, want, query)
		}
		if back := pgPlaceholder.ReplaceAllString(query, "?"); back != lite[name] {
			t.Errorf("%s differs from its SQLite statement beyond placeholders:\n%s\n%s", name, query, lite[name])
		}
	}
	if n := strings.Count(lite["update"], "?"); n != 6 {
		t.Errorf("the update statement has %d placeholders, want 6", n) // so the check above is not vacuous
	}
}

// TestPostgresStatementArgs runs every operation of a Postgres SQLStore
// against a driver that checks each statement's placeholders against the
// arguments the store actually passes with it.
func TestPostgresStatementArgs(t *testing.T) {
	rec := &recordingConnector{}
	db := sql.OpenDB(rec)
	defer db.Close()
	s, err := NewSQLStore(db, Postgres)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := LocationKey("app", "loc")
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	saved, err := s.Save(ctx, key, Token{AccessToken: "a"}) // insert
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, key, saved); err != nil { // update
		t.Fatal(err)
	}
	unlock, err := s.Lock(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, err := range rec.errs {
		t.Error(err)
	}
	for name, query := range sqlStatements(s.q) {
		if !rec.seen[query] {
			t.Errorf("the %s statement was not run", name)
		}
	}
}

// recordingConnector is a database/sql driver that answers every statement
// with success (one row affected; Load's row) and records the statements
// whose placeholders do not match their arguments.
type recordingConnector struct {
	mu   sync.Mutex
	seen map[string]bool
	errs []error
}

func (c *recordingConnector) Connect(context.Context) (driver.Conn, error) {
	return recordingConn{c}, nil
}
func (c *recordingConnector) Driver() driver.Driver { return nil }

func (c *recordingConnector) record(query string, args []driver.NamedValue) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	c.seen[query] = true
	if err := checkPostgresPlaceholders(query, len(args)); err != nil {
		err = fmt.Errorf("%v:\n%s", err, query)
		c.errs = append(c.errs, err)
		return err
	}
	return nil
}

type recordingConn struct{ c *recordingConnector }

func (recordingConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("prepare not supported")
}
func (recordingConn) Close() error              { return nil }
func (recordingConn) Begin() (driver.Tx, error) { return nil, errors.New("transactions not supported") }

func (rc recordingConn) ExecContext(_ context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := rc.c.record(query, args); err != nil {
		return nil, err
	}
	return driver.RowsAffected(1), nil
}

func (rc recordingConn) QueryContext(_ context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := rc.c.record(query, args); err != nil {
		return nil, err
	}
	return &tokenRows{}, nil
}

// tokenRows is Load's answer: one token at version 1.
type tokenRows struct{ done bool }

func (*tokenRows) Columns() []string { return []string{"token", "version"} }
func (*tokenRows) Close() error      { return nil }
func (r *tokenRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0], dest[1] = `{"access_token":"a"}`, int64(1)
	return nil
}
