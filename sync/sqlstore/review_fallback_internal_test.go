package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// reviewDriver wraps modernc's SQLite driver: ExecContext of a statement on
// the cursors table waits for gate (to hold a writer in a transaction), and
// the Commit of a transaction that ran a markDone statement commits, then
// reports an error once (the connection dropped after the server
// committed: the caller cannot tell whether it did).
type reviewDriver struct {
	inner     sqlite.Driver
	gate      atomic.Pointer[chan struct{}]
	entered   atomic.Pointer[chan struct{}] // closed when a statement first waits for gate
	failAfter atomic.Bool                   // the next Commit of a markDone transaction fails after committing
}

type reviewConn struct {
	d     *reviewDriver
	inner driver.Conn
	mark  bool // this transaction ran a markDone statement
}

type reviewTx struct {
	c     *reviewConn
	inner driver.Tx
}

var reviewDrv = &reviewDriver{}

func init() { sql.Register("review-sqlite", reviewDrv) }

func (d *reviewDriver) Open(name string) (driver.Conn, error) {
	c, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &reviewConn{d: d, inner: c}, nil
}

func (c *reviewConn) Prepare(q string) (driver.Stmt, error) { return c.inner.Prepare(q) }
func (c *reviewConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}
func (c *reviewConn) Close() error { return c.inner.Close() }
func (c *reviewConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}
func (c *reviewConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	tx, err := c.inner.(driver.ConnBeginTx).BeginTx(ctx, o)
	if err != nil {
		return nil, err
	}
	c.mark = false
	return &reviewTx{c: c, inner: tx}, nil
}
func (c *reviewConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if g := c.d.gate.Load(); g != nil && strings.Contains(q, "cursors") {
		if e := c.d.entered.Swap(nil); e != nil {
			close(*e)
		}
		<-*g
	}
	if strings.Contains(q, "done (location_id, key, done_at)") {
		c.mark = true
	}
	return c.inner.(driver.ExecerContext).ExecContext(ctx, q, args)
}
func (c *reviewConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.inner.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (t *reviewTx) Commit() error {
	if err := t.inner.Commit(); err != nil {
		return err
	}
	if t.c.mark && t.c.d.failAfter.CompareAndSwap(true, false) {
		return errors.New("review: connection reset after COMMIT was sent")
	}
	return nil
}
func (t *reviewTx) Rollback() error { return t.inner.Rollback() }

// TestReviewFallbackRerunsAnOpWhoseBatchMayHaveCommitted: when a batch's
// transaction fails, flush runs each op again alone. A failure at (or
// after) COMMIT does not mean the batch was rolled back: here it was
// committed, and MarkDone, run a second time, finds its own row and
// reports first = false with no error — the one caller that recorded the
// key is told it was recorded before (its work is skipped, by nobody).
// Alone, the same failure returns an error (the outcome is unknown), never
// a wrong answer.
func TestReviewFallbackRerunsAnOpWhoseBatchMayHaveCommitted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	raw, err := sql.Open("review-sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	db, err := New(raw, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	s, _ := db.Location("loc")
	ctx := t.Context()

	if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m0", RemoteID: "c0"}); err != nil {
		t.Fatal(err) // the writers are started
	}
	// A writer held in a transaction, so that the next writes queue up
	// and go into one batch.
	gate, entered := make(chan struct{}), make(chan struct{})
	var opened sync.Once
	open := func() { opened.Do(func() { reviewDrv.gate.Store(nil); close(gate) }) }
	t.Cleanup(open) // before db.Close (cleanups run last first), even if the test fails
	reviewDrv.entered.Store(&entered)
	reviewDrv.gate.Store(&gate)
	held := make(chan error, 1)
	go func() { held <- s.SetCursor(ctx, "hold", "x") }()
	select {
	case <-entered: // the writer is in its transaction, waiting
	case <-time.After(time.Minute):
		t.Fatal("the held write never reached the database")
	}

	var (
		wg    sync.WaitGroup
		first bool
		mdErr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); first, mdErr = s.MarkDone(ctx, "lead/l1") }()
	go func() {
		defer wg.Done()
		_ = s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m1", RemoteID: "c1"})
	}()
	waitFor(t, func() bool { return db.w.queued() == 2 })
	reviewDrv.failAfter.Store(true)
	open()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	done, err := s.Done(ctx, "lead/l1")
	if err != nil || !done {
		t.Fatalf("Done = %t, %v", done, err)
	}
	if mdErr == nil && !first {
		t.Errorf("MarkDone of a key recorded by no one before = (first false, nil error): its batch committed, " +
			"the commit reported an error, and the fallback ran MarkDone again")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
