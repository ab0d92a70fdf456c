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
	contactsync "github.com/gymflow/contacts-go/sync"
)

// outboundArgs is the job that applies a location's outbox.
type outboundArgs struct {
	Location string `json:"location" river:"unique"`
}

// Kind implements river.JobArgs.
func (outboundArgs) Kind() string { return "contactsync_outbound" }

// uniqueStates: at most one job of a location and task waits or runs. A
// GymFlow transaction that finds one running inserts nothing: the running
// job reads its queue until it is empty under the location's lock, which
// waits for transactions still enqueueing, and completes itself in the
// same transaction as its last, empty read (finish). Completed jobs are not
// in the set, so that the next change schedules a new job.
var uniqueStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

func (f *Fleet[TTx]) uniqueOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: f.cfg.Queue, UniqueOpts: river.UniqueOpts{ByArgs: true, ByQueue: true, ByState: uniqueStates}}
}

// Snoozes of a location's job, by cause.
const (
	snoozeBusy      = time.Second // another job of the location runs
	snoozeLeaseHeld = 5 * time.Second
	snoozeRateLimit = 10 * time.Second
	snoozeBudget    = 15 * time.Minute
	snoozeParked    = time.Hour
)

type outboundWorker[TTx any] struct {
	river.WorkerDefaults[outboundArgs]
	f *Fleet[TTx]
}

// Work applies the location's outbox through its engine, a batch per
// Apply.
func (w *outboundWorker[TTx]) Work(ctx context.Context, job *river.Job[outboundArgs]) error {
	f := w.f
	loc := job.Args.Location
	if err := checkLocation(loc); err != nil {
		return river.JobCancel(err)
	}
	ctx, h, err := f.holdLocation(ctx, loc)
	if err != nil {
		return err
	}
	defer h.end()
	eng, err := f.cfg.Engine(ctx, loc)
	if err != nil {
		return fmt.Errorf("fleet: the engine of location %q: %w", loc, err)
	}
	h.use(eng.Client())
	apply := func(ctx context.Context, batch []queued) error {
		changes := make([]contactsync.Change, 0, len(batch))
		for _, r := range batch {
			ch, err := decodeChange(r.body)
			if err != nil {
				f.cfg.Logger.Error("fleet: skipping a change that cannot be read", "location", loc, "seq", r.seq, "err", err)
				continue
			}
			changes = append(changes, ch)
		}
		if len(changes) == 0 {
			return nil
		}
		rep, err := eng.Apply(ctx, seq(changes))
		f.reportRun(loc, rep)
		if err != nil {
			return f.stopped(loc, rep.RunID, err)
		}
		f.gauge(MetricParked, loc, 0)
		if rep.Failed > 0 {
			f.cfg.Logger.Warn("fleet: changes refused", "location", loc, "failed", rep.Failed, "run", rep.RunID)
		}
		return nil
	}
	return f.drain(ctx, job.JobRow, loc, f.q.out, apply, nil, outboundArgs{Location: loc}, f.uniqueOpts())
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

// stopped turns the error that stopped a location's run into the job's
// outcome: a snooze for what passes by itself (another runner, the rate
// limit, the day's budget, a revoked installation), else an error River
// retries with backoff. What the job had not applied stays queued either
// way.
func (f *Fleet[TTx]) stopped(loc, run string, err error) error {
	log := f.cfg.Logger.With("location", loc, "err", err)
	if run != "" {
		log = log.With("run", run)
	}
	snooze := func(reason string, d time.Duration) error {
		f.count(MetricSnoozes, loc, 1, "reason", reason)
		return river.JobSnooze(d)
	}
	switch {
	case errors.Is(err, contactsync.ErrLeaseHeld):
		return snooze("lease", snoozeLeaseHeld)
	case errors.Is(err, contacts.ErrRateLimited):
		log.Info("fleet: location rate limited; snoozing")
		return snooze("rate_limited", snoozeRateLimit)
	case errors.Is(err, contactsync.ErrBudgetExhausted), errors.Is(err, contacts.ErrDailyLimitExceeded):
		log.Warn("fleet: location's daily budget spent; snoozing")
		return snooze("budget", snoozeBudget)
	case errors.Is(err, contacts.ErrUnauthorized), errors.Is(err, contacts.ErrForbidden):
		log.Error("fleet: location parked: its token was refused")
		f.gauge(MetricParked, loc, 1)
		return snooze("parked", snoozeParked)
	}
	log.Warn("fleet: location's run stopped")
	f.count(MetricFailures, loc, 1)
	return fmt.Errorf("fleet: syncing location %q: %w", loc, err)
}
