package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	contactsync "github.com/gymflow/contacts-go/sync"
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
type op struct {
	ctx   context.Context
	loc   string
	fence *contactsync.Lease
	run   func(ctx context.Context, tx *sql.Tx) error
	done  chan error // buffered: the writer never blocks on it
	state atomic.Int32
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
}

func newWriter(db *DB) *writer {
	w := &writer{db: db, wake: make(chan struct{}, db.writers), quit: make(chan struct{})}
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

// take returns up to maxBatch queued ops, marked taken; nil when the
// queue is empty.
func (w *writer) take() []*op {
	w.mu.Lock()
	defer w.mu.Unlock()
	var batch []*op
	n := 0
	for n < len(w.queue) && len(batch) < maxBatch {
		o := w.queue[n]
		n++
		if o.state.CompareAndSwap(opQueued, opTaken) {
			batch = append(batch, o)
		}
	}
	w.queue = append(w.queue[:0], w.queue[n:]...)
	return batch
}

func (w *writer) loop() {
	defer w.wg.Done()
	for {
		if batch := w.take(); len(batch) > 0 {
			w.flush(batch)
			continue
		}
		select {
		case <-w.wake:
		case <-w.quit:
			if batch := w.take(); len(batch) > 0 {
				w.flush(batch)
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
		return w.db.inTx(ctx, func(tx *sql.Tx) error {
			fences := map[fenceKey]int64{}
			for i, o := range batch {
				if ferr := w.db.checkFence(ctx, tx, o, fences); ferr != nil {
					if !errors.Is(ferr, contactsync.ErrLeaseLost) {
						return ferr
					}
					results[i] = ferr
					continue
				}
				if err := o.run(ctx, tx); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err == nil || len(batch) == 1 {
		for i, o := range batch {
			if err != nil {
				results[i] = err
			}
			o.done <- results[i]
		}
		return
	}
	for _, o := range batch {
		w.flush([]*op{o})
	}
}

// batchContext bounds a transaction: by its one caller's context, or, for
// several callers, by deadline (each caller's context bounds its wait).
func batchContext(batch []*op) (context.Context, context.CancelFunc) {
	if len(batch) == 1 {
		return context.WithTimeout(batch[0].ctx, deadline)
	}
	return context.WithTimeout(context.Background(), deadline)
}

// fenceKey names a lease.
type fenceKey struct{ loc, name string }

// checkFence checks o's fence, if it has one, within tx: the lease's
// token must still be the fence's. It reads each lease once per
// transaction, locking its row (PostgreSQL: FOR SHARE; SQLite holds the
// database's write lock) so that no acquisition passes between the check
// and the commit.
func (s *DB) checkFence(ctx context.Context, tx *sql.Tx, o *op, seen map[fenceKey]int64) error {
	if o.fence == nil {
		return nil
	}
	k := fenceKey{o.loc, o.fence.Name}
	token, ok := seen[k]
	if !ok {
		err := tx.QueryRowContext(ctx, s.q.fence, o.loc, o.fence.Name).Scan(&token)
		if errors.Is(err, sql.ErrNoRows) {
			token, err = -1, nil
		}
		if err != nil {
			return err
		}
		seen[k] = token
	}
	if token != o.fence.Token {
		return fmt.Errorf("%w: %s lease token %d, now %d", contactsync.ErrLeaseLost, o.fence.Name, o.fence.Token, token)
	}
	return nil
}

// write hands run to the writers and waits for its commit. It returns
// ctx's error if ctx ends first; the write may then still be committed,
// unless no writer had taken it yet.
func (s *DB) write(ctx context.Context, loc string, fence *contactsync.Lease, run func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.startOnce.Do(func() {
		s.smu.Lock()
		defer s.smu.Unlock()
		if s.stmts != nil { // not closed
			s.w = newWriter(s)
		}
	})
	o := &op{ctx: ctx, loc: loc, fence: fence, run: run, done: make(chan error, 1)}
	if s.w == nil || !s.w.enqueue(o) {
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

// exec runs one statement of an op.
func (s *DB) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}
