package fleet

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/internal/sqldb"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// outboundArgs is the job that applies a location's outbox.
type outboundArgs struct {
	Location string `json:"location"`
}

// Kind implements river.JobArgs.
func (outboundArgs) Kind() string { return "contactsync_outbound" }

// uniqueStates: at most one outbound job of a location waits or runs. A
// GymFlow transaction that finds one running inserts nothing: the running
// job reads the outbox until it is empty under the location's lock, which
// waits for transactions still enqueueing, and completes itself in the
// same transaction as its last, empty read (finish). Completed jobs are not
// in the set, so that the next change schedules a new job.
var uniqueStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

func (f *Fleet[TTx]) outboundOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: f.cfg.Queue, UniqueOpts: river.UniqueOpts{ByArgs: true, ByQueue: true, ByState: uniqueStates}}
}

// Snoozes of a location's job, by cause.
const (
	snoozeLeaseHeld = 5 * time.Second
	snoozeRateLimit = 10 * time.Second
	snoozeBudget    = 15 * time.Minute
	snoozeParked    = time.Hour
)

type outboundWorker[TTx any] struct {
	river.WorkerDefaults[outboundArgs]
	f *Fleet[TTx]
}

// Work applies the location's outbox, a batch at a time, for up to Slice;
// then hands the rest on to a new job, or completes once the outbox is
// empty.
func (w *outboundWorker[TTx]) Work(ctx context.Context, job *river.Job[outboundArgs]) error {
	f := w.f
	loc := job.Args.Location
	if err := checkLocation(loc); err != nil {
		return river.JobCancel(err)
	}
	eng, err := f.cfg.Engine(ctx, loc)
	if err != nil {
		return fmt.Errorf("fleet: the engine of location %q: %w", loc, err)
	}
	deadline := time.Now().Add(f.cfg.Slice)
	for {
		changes, last, err := f.readBatch(ctx, loc)
		if err != nil {
			return err
		}
		if last == 0 {
			done, err := f.finish(ctx, job)
			if err != nil || done {
				return err
			}
			continue
		}
		if len(changes) > 0 {
			rep, err := eng.Apply(ctx, seq(changes))
			if err != nil {
				return f.stopped(loc, rep, err)
			}
			if rep.Failed > 0 {
				f.cfg.Logger.Warn("fleet: changes refused", "location", loc, "failed", rep.Failed, "run", rep.RunID)
			}
		}
		if err := f.db.exec(ctx, f.q.remove, loc, last); err != nil {
			return fmt.Errorf("fleet: removing applied changes of location %q: %w", loc, err)
		}
		if time.Now().After(deadline) {
			return f.handOn(ctx, job)
		}
	}
}

func seq(changes []contactsync.Change) iter.Seq2[contactsync.Change, error] {
	return func(yield func(contactsync.Change, error) bool) {
		for _, ch := range changes {
			if !yield(ch, nil) {
				return
			}
		}
	}
}

// readBatch reads the location's oldest changes (at most Batch) and the
// last one's seq (0 if none). With PostgreSQL it reads under the
// location's lock, after every transaction still enqueueing there has
// ended. A change that cannot be decoded (not written by Enqueue) is
// logged and skipped.
func (f *Fleet[TTx]) readBatch(ctx context.Context, loc string) (changes []contactsync.Change, last int64, err error) {
	read := func(query func(ctx context.Context, q string, args []any, scan func(func(...any) error) error) error) error {
		changes, last = nil, 0
		return query(ctx, f.q.batch, []any{loc, f.cfg.Batch}, func(scan func(...any) error) error {
			var (
				s int64
				b []byte
			)
			if err := scan(&s, &b); err != nil {
				return err
			}
			last = s
			ch, err := decodeChange(b)
			if err != nil {
				f.cfg.Logger.Error("fleet: skipping a change that cannot be read", "location", loc, "seq", s, "err", err)
				return nil
			}
			changes = append(changes, ch)
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
		return nil, 0, fmt.Errorf("fleet: reading the outbox of location %q: %w", loc, err)
	}
	return changes, last, nil
}

// finish completes the job if the location's outbox is empty, in one
// transaction with that read (under the location's lock with
// PostgreSQL): a change committed after it schedules a new job, as the
// job is no longer running.
func (f *Fleet[TTx]) finish(ctx context.Context, job *river.Job[outboundArgs]) (done bool, err error) {
	loc := job.Args.Location
	err = f.db.inTx(ctx, func(tx TTx) error {
		if f.db.dialect() == sqldb.Postgres {
			if err := f.db.execTx(ctx, tx, f.q.lock, lockKey(loc)); err != nil {
				return err
			}
		}
		var s int64
		switch err := f.db.queryRowTx(ctx, tx, f.q.any, []any{loc}, &s); {
		case err == nil:
			return nil // more came: not done
		case !errors.Is(err, errNoRows):
			return err
		}
		done = true
		return f.complete(ctx, tx, job)
	})
	if err != nil {
		return false, fmt.Errorf("fleet: completing the sync of location %q: %w", loc, err)
	}
	return done, nil
}

// handOn completes the job and schedules the location's next one, at the
// back of the queue, in one transaction.
func (f *Fleet[TTx]) handOn(ctx context.Context, job *river.Job[outboundArgs]) error {
	err := f.db.inTx(ctx, func(tx TTx) error {
		if err := f.complete(ctx, tx, job); err != nil {
			return err
		}
		_, err := f.client.InsertTx(ctx, tx, outboundArgs{Location: job.Args.Location}, f.outboundOpts())
		return err
	})
	if err != nil {
		return fmt.Errorf("fleet: handing on the sync of location %q: %w", job.Args.Location, err)
	}
	return nil
}

// stopped turns the error that stopped a location's run into the job's
// outcome: a snooze for what passes by itself (another runner, the rate
// limit, the day's budget, a revoked installation), else an error River
// retries with backoff. The changes stay in the outbox either way.
func (f *Fleet[TTx]) stopped(loc string, rep *contactsync.Report, err error) error {
	log := f.cfg.Logger.With("location", loc, "err", err)
	if rep != nil {
		log = log.With("run", rep.RunID)
	}
	switch {
	case errors.Is(err, contactsync.ErrLeaseHeld):
		return river.JobSnooze(snoozeLeaseHeld)
	case errors.Is(err, contacts.ErrRateLimited):
		log.Info("fleet: location rate limited; snoozing")
		return river.JobSnooze(snoozeRateLimit)
	case errors.Is(err, contactsync.ErrBudgetExhausted), errors.Is(err, contacts.ErrDailyLimitExceeded):
		log.Warn("fleet: location's daily budget spent; snoozing")
		return river.JobSnooze(snoozeBudget)
	case errors.Is(err, contacts.ErrUnauthorized), errors.Is(err, contacts.ErrForbidden):
		log.Error("fleet: location parked: its token was refused")
		return river.JobSnooze(snoozeParked)
	}
	log.Warn("fleet: location's run stopped")
	return fmt.Errorf("fleet: syncing location %q: %w", loc, err)
}
