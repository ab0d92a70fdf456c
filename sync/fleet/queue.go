package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/gymflow/contacts-go/internal/sqldb"
)

// queued is one row of a queue table.
type queued struct {
	seq  int64
	body []byte
}

// drain is the loop of a job that empties one location's queue table: it
// reads a batch (under the location's lock with PostgreSQL), hands it to
// apply, removes it, and goes on until the queue is empty, then runs
// settle (if any) and completes the job in the transaction of a last,
// empty read. After Slice it hands the rest on to next, a new job at the
// back of the queue. apply's and settle's errors end the job as they are.
func (f *Fleet[TTx]) drain(ctx context.Context, job *rivertype.JobRow, loc string, qq queueQueries,
	apply func(ctx context.Context, batch []queued) error, settle func(ctx context.Context) error, next river.JobArgs, nextOpts *river.InsertOpts) error {
	deadline := time.Now().Add(f.cfg.Slice)
	for {
		batch, err := f.readBatch(ctx, loc, qq)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			if settle != nil {
				if err := settle(ctx); err != nil {
					return err
				}
			}
			done, err := f.finish(ctx, job, loc, qq)
			if err != nil || done {
				return err
			}
			continue
		}
		if err := apply(ctx, batch); err != nil {
			return err
		}
		if err := f.db.exec(ctx, qq.remove, loc, batch[len(batch)-1].seq); err != nil {
			return fmt.Errorf("fleet: removing what location %q applied: %w", loc, err)
		}
		if time.Now().After(deadline) {
			return f.handOn(ctx, job, next, nextOpts)
		}
	}
}

// readBatch reads the location's oldest rows of a queue (at most Batch).
func (f *Fleet[TTx]) readBatch(ctx context.Context, loc string, qq queueQueries) (batch []queued, err error) {
	read := func(query func(ctx context.Context, q string, args []any, scan func(func(...any) error) error) error) error {
		batch = batch[:0]
		return query(ctx, qq.batch, []any{loc, f.cfg.Batch}, func(scan func(...any) error) error {
			var r queued
			if err := scan(&r.seq, &r.body); err != nil {
				return err
			}
			batch = append(batch, r)
			return nil
		})
	}
	if f.db.dialect() == sqldb.Postgres {
		err = f.db.inTx(ctx, func(tx TTx) error {
			if err := f.db.execTx(ctx, tx, f.q.lock, lockKey(loc)); err != nil {
				return err
			}
			return read(func(ctx context.Context, q string, args []any, scan func(func(...any) error) error) error {
				return f.db.queryTx(ctx, tx, q, args, scan)
			})
		})
	} else {
		err = read(f.db.query)
	}
	if err != nil {
		return nil, fmt.Errorf("fleet: reading the queue of location %q: %w", loc, err)
	}
	return batch, nil
}

// finish completes the job if the location's queue is empty, in one
// transaction with that read (under the location's lock with
// PostgreSQL): a row committed after it schedules a new job, as this one
// is no longer running.
func (f *Fleet[TTx]) finish(ctx context.Context, job *rivertype.JobRow, loc string, qq queueQueries) (done bool, err error) {
	err = f.db.inTx(ctx, func(tx TTx) error {
		done = false
		if f.db.dialect() == sqldb.Postgres {
			if err := f.db.execTx(ctx, tx, f.q.lock, lockKey(loc)); err != nil {
				return err
			}
		}
		var s int64
		switch err := f.db.queryRowTx(ctx, tx, qq.any, []any{loc}, &s); {
		case err == nil:
			return nil // more came: not done
		case !errors.Is(err, errNoRows):
			return err
		}
		done = true
		return f.complete(ctx, tx, job)
	})
	if err != nil {
		return false, fmt.Errorf("fleet: completing a job of location %q: %w", loc, err)
	}
	return done, nil
}

// handOn completes the job and schedules next, at the back of the queue,
// in one transaction.
func (f *Fleet[TTx]) handOn(ctx context.Context, job *rivertype.JobRow, next river.JobArgs, opts *river.InsertOpts) error {
	err := f.db.inTx(ctx, func(tx TTx) error {
		if err := f.complete(ctx, tx, job); err != nil {
			return err
		}
		_, err := f.client.InsertTx(ctx, tx, next, opts)
		return err
	})
	if err != nil {
		return fmt.Errorf("fleet: handing on a job of location: %w", err)
	}
	return nil
}
