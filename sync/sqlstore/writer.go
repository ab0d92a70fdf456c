package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/internal/storekit"
)

// The writers group commits: every write of a DB's stores is an op handed
// to one of its writers, which runs the ops waiting at that moment in one
// transaction, and each caller returns when its op is committed. A write
// is as durable as before (its caller returns after the commit), but the
// engine's workers and a fleet's locations share the commits, and so the
// syncs of the disk: a SQLite store no longer pays one fsync per write.
//
// If an op fails, the transaction is rolled back and each op of the batch
// is run again in a transaction of its own, so one failing write (or a
// deadlock between two processes' batches) never fails the others.

// maxBatch bounds the ops of one transaction.
const maxBatch = 256

// Op states: queued until a writer takes it or its caller gives up.
const (
	opQueued int32 = iota
	opTaken
	opAbandoned
)

// op is one write: run, within the location's fence if fence is set.
// Its result goes to done, or, for a write its caller does not wait for,
// to after.
type op struct {
	ctx   context.Context
	loc   string
	fence *contactsync.Lease
	// stmts are the op's statements, run in order; or, for an op that
	// reads what it writes (leases, the budget), run does the work.
	stmts []stmt
	run   func(ctx context.Context, tx *sql.Tx) error
	done  chan error // buffered: the writer never blocks on it
	after func(error)
	// solo runs the op in a transaction of its own: the ops that lock a
	// lease's or a budget's row for update, so that no transaction holds
	// such a lock and waits for another's (no deadlock between the
	// batches of two processes).
	solo  bool
	state atomic.Int32
}

// stmt is a statement of an op; rows, if set, gets the rows it affected.
type stmt struct {
	query string
	args  []any
	rows  *int64
}

// exec runs o's work in tx.
func (o *op) exec(ctx context.Context, db *DB, tx *sql.Tx) error {
	if o.run != nil {
		return o.run(ctx, tx)
	}
	for _, st := range o.stmts {
		res, err := db.exec(ctx, tx, st.query, st.args...)
		if err != nil {
			return err
		}
		if st.rows != nil {
			if *st.rows, err = res.RowsAffected(); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish hands o its result.
func (o *op) finish(err error) {
	if o.after != nil {
		o.after(err)
		return
	}
	o.done <- err
}

// writer is a DB's pool of writing goroutines and the queue they share.
type writer struct {
	db    *DB
	mu    sync.Mutex
	queue []*op
	wake  chan struct{}
	quit  chan struct{}
	wg    sync.WaitGroup
	done  bool // stopped: no more ops
	// busy counts the ops of each location a writer is running: a
	// location's ops are taken in the order they were queued, and not
	// while an earlier one runs in another writer, so they commit in
	// order (a write its caller did not wait for, then the next).
	busy map[string]int
}

func newWriter(db *DB) *writer {
	w := &writer{db: db, wake: make(chan struct{}, db.writers), quit: make(chan struct{}), busy: map[string]int{}}
	w.wg.Add(db.writers)
	for range db.writers {
		go w.loop()
	}
	return w
}

// stop lets the writers finish the queue, then ends them.
func (w *writer) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
	close(w.quit)
	w.wg.Wait()
}

// enqueue queues o; false if the writers are stopped.
func (w *writer) enqueue(o *op) bool {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return false
	}
	w.queue = append(w.queue, o)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // every writer is awake already
	}
	return true
}

// take returns up to maxBatch queued ops, marked taken, and leaves in the
// queue the ops of locations another writer is busy with (and every later
// op of those locations); nil when there is nothing to take. A solo op is
// taken alone.
func (w *writer) take() []*op {
	w.mu.Lock()
	defer w.mu.Unlock()
	var (
		batch []*op
		kept  = w.queue[:0]
		held  = map[string]bool{} // locations whose ops wait this time
		stop  bool                // a solo op was taken
	)
	for _, o := range w.queue {
		switch {
		case o.state.Load() == opAbandoned:
			continue // its caller gave up before any writer took it
		case stop, len(batch) >= maxBatch, held[o.loc]:
			kept = append(kept, o)
			continue
		case w.busy[o.loc] > 0 && !inBatch(batch, o.loc), o.solo && len(batch) > 0:
			held[o.loc] = true
			kept = append(kept, o)
			continue
		}
		if o.state.CompareAndSwap(opQueued, opTaken) {
			batch = append(batch, o)
			w.busy[o.loc]++
			stop = o.solo
		}
	}
	clear(w.queue[len(kept):])
	w.queue = kept
	return batch
}

// inBatch reports whether batch has an op of loc (whose later ops then
// join it, in order).
func inBatch(batch []*op, loc string) bool {
	for i := len(batch) - 1; i >= 0; i-- {
		if batch[i].loc == loc {
			return true
		}
	}
	return false
}

// release ends the busy marks of batch and wakes the writers, for ops of
// those locations may be waiting.
func (w *writer) release(batch []*op) {
	w.mu.Lock()
	for _, o := range batch {
		if w.busy[o.loc]--; w.busy[o.loc] == 0 {
			delete(w.busy, o.loc)
		}
	}
	waiting := len(w.queue) > 0
	w.mu.Unlock()
	if waiting {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// gather lets the writes of callers that a commit just released join the
// next transaction: after a transaction of several writes (the store is
// busy), it yields the processor while writes keep arriving, for at most
// gatherMax. A commit costs about the same for one write as for dozens (it
// waits for the disk), so a busy store commits far more writes per second.
func (w *writer) gather(last int) {
	if last < 2 {
		return
	}
	start := time.Now()
	n := w.queued()
	for n < maxBatch && time.Since(start) < gatherMax {
		mark := time.Now()
		for time.Since(mark) < gatherQuiet {
			runtime.Gosched()
		}
		m := w.queued()
		if m == n {
			return
		}
		n = m
	}
}

// Gathering: see gather.
const (
	gatherQuiet = 50 * time.Microsecond
	gatherMax   = 500 * time.Microsecond
)

func (w *writer) queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

func (w *writer) loop() {
	defer w.wg.Done()
	last := 0
	for {
		w.gather(last)
		if batch := w.take(); len(batch) > 0 {
			last = len(batch)
			w.flush(batch)
			w.release(batch)
			w.db.prepareUnprepared()
			continue
		}
		select {
		case <-w.wake:
		case <-w.quit:
			w.mu.Lock()
			idle := len(w.queue) == 0
			w.mu.Unlock()
			if !idle {
				// Ops wait for another writer's batch: come back when
				// it releases them.
				select {
				case <-w.wake:
				case <-time.After(time.Millisecond):
				}
				continue
			}
			return
		}
	}
}

// flush commits batch in one transaction, or each op in its own if that
// fails, and hands every op its result.
func (w *writer) flush(batch []*op) {
	ctx, cancel := batchContext(batch)
	defer cancel()
	results := make([]error, len(batch))
	err := w.db.dialect.Retry(ctx, func() error {
		clear(results)
		if done, err := w.db.pipeline(ctx, batch, results); done {
			return err
		}
		return w.db.inTx(ctx, func(tx *sql.Tx) error {
			fences := map[fenceKey]int64{}
			for _, k := range fenceKeys(batch) {
				if _, err := w.db.readFence(ctx, tx, k, fences); err != nil {
					return err
				}
			}
			for i, o := range batch {
				if ferr := w.db.checkFence(ctx, tx, o, fences); ferr != nil {
					if !errors.Is(ferr, contactsync.ErrLeaseLost) {
						return ferr
					}
					results[i] = ferr
					continue
				}
				if err := o.exec(ctx, w.db, tx); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err == nil {
		w.db.commits.Add(1)
		w.db.batched.Add(int64(len(batch)))
	}
	var unknown *unknownOutcome
	if err == nil || len(batch) == 1 || errors.As(err, &unknown) {
		// A batch that may have committed is not run again: an op run
		// twice would report what its first run did (MarkDone and
		// PutInbox: first = false) as done before.
		for i, o := range batch {
			if err != nil {
				results[i] = err
			}
			o.finish(results[i])
		}
		return
	}
	for _, o := range batch {
		w.flush([]*op{o})
	}
}

// batchContext bounds a transaction: by its one caller's context, or, for
// several callers (or a caller that does not wait), by deadline (each
// waiting caller's context bounds its wait).
func batchContext(batch []*op) (context.Context, context.CancelFunc) {
	if len(batch) == 1 && batch[0].after == nil {
		return context.WithTimeout(batch[0].ctx, deadline)
	}
	return context.WithTimeout(context.Background(), deadline)
}

// fenceKey names a lease.
type fenceKey struct{ loc, name string }

// fenceKeys returns the leases batch's ops are fenced by, each once, in
// the one order every transaction locks them in (no two transactions wait
// for each other's lease rows).
func fenceKeys(batch []*op) []fenceKey {
	var keys []fenceKey
	for _, o := range batch {
		if o.fence != nil {
			keys = append(keys, fenceKey{o.loc, o.fence.Name})
		}
	}
	slices.SortFunc(keys, func(a, b fenceKey) int { return cmp.Or(cmp.Compare(a.loc, b.loc), cmp.Compare(a.name, b.name)) })
	return slices.Compact(keys)
}

// checkFence checks o's fence, if it has one, within tx: the lease's
// token must still be the fence's. It reads each lease once per
// transaction, locking its row (PostgreSQL: FOR SHARE; SQLite holds the
// database's write lock) so that no acquisition passes between the check
// and the commit.
func (s *DB) checkFence(ctx context.Context, tx *sql.Tx, o *op, seen map[fenceKey]int64) error {
	if o.fence == nil {
		return nil
	}
	token, err := s.readFence(ctx, tx, fenceKey{o.loc, o.fence.Name}, seen)
	if err != nil {
		return err
	}
	if token != o.fence.Token {
		return storekit.LeaseLost(*o.fence, token)
	}
	return nil
}

// readFence reads a lease's token within tx, once per transaction.
func (s *DB) readFence(ctx context.Context, tx *sql.Tx, k fenceKey, seen map[fenceKey]int64) (int64, error) {
	if token, ok := seen[k]; ok {
		return token, nil
	}
	s.statements.Add(1)
	var token int64
	err := tx.QueryRowContext(ctx, s.q.fence, k.loc, k.name).Scan(&token)
	if errors.Is(err, sql.ErrNoRows) {
		token, err = -1, nil
	}
	if err != nil {
		return 0, err
	}
	seen[k] = token
	return token, nil
}

// write hands run to the writers and waits for its commit. It returns
// ctx's error if ctx ends first; the write may then still be committed,
// unless no writer had taken it yet.
func (s *DB) write(ctx context.Context, loc string, fence *contactsync.Lease, stmts ...stmt) error {
	return s.writeOp(ctx, &op{ctx: ctx, loc: loc, fence: fence, stmts: stmts, done: make(chan error, 1)})
}

// writeSolo is write in a transaction of its own (see op.solo).
func (s *DB) writeSolo(ctx context.Context, loc string, run func(ctx context.Context, tx *sql.Tx) error) error {
	return s.writeOp(ctx, &op{ctx: ctx, loc: loc, run: run, done: make(chan error, 1), solo: true})
}

func (s *DB) writeOp(ctx context.Context, o *op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.enqueue(o) {
		return errClosed
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err() // never run
		}
		return ctx.Err()
	}
}

// enqueue starts the writers if need be and queues o; false after Close.
func (s *DB) enqueue(o *op) bool {
	s.startOnce.Do(func() {
		s.smu.Lock()
		defer s.smu.Unlock()
		if s.stmts != nil { // not closed
			s.w = newWriter(s)
		}
	})
	return s.w != nil && s.w.enqueue(o)
}

// writeBehind hands run to the writers without waiting for it: after gets
// its result once it is committed (or failed). It returns false after
// Close.
func (s *DB) writeBehind(loc string, fence *contactsync.Lease, after func(error), stmts ...stmt) bool {
	return s.enqueue(&op{ctx: context.Background(), loc: loc, fence: fence, stmts: stmts, after: after})
}

// exec runs one statement of an op.
//
// It uses the statement the DB prepared, if it has, or else runs query
// as it is, and the writer prepares it after the transaction: preparing it
// now, on the DB, would take a second connection while tx holds one, and
// with a pool of one connection (SetMaxOpenConns(1), as an in-memory
// SQLite database needs) wait until the context ends.
func (s *DB) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if !s.prepares() {
		s.statements.Add(1)
		return tx.ExecContext(ctx, query, args...)
	}
	s.smu.Lock()
	if s.stmts == nil {
		s.smu.Unlock()
		return nil, errClosed
	}
	st, ok := s.stmts[query]
	if !ok {
		if s.unprepared == nil {
			s.unprepared = map[string]bool{}
		}
		s.unprepared[query] = true
	}
	s.smu.Unlock()
	s.statements.Add(1)
	if !ok {
		return tx.ExecContext(ctx, query, args...)
	}
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// prepareUnprepared prepares the statements exec ran unprepared. The
// writers call it between their transactions.
func (s *DB) prepareUnprepared() {
	s.smu.Lock()
	queries := s.unprepared
	s.unprepared = nil
	s.smu.Unlock()
	if len(queries) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for q := range queries {
		_, _ = s.stmt(ctx, q) // if it fails, the next exec of q runs it unprepared and asks again
	}
}
