package fleet

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/riverqueue/river"

	"github.com/gymflow/contacts-go/internal/sqldb"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/webhook"
)

// The inbound tasks of a location's job.
const (
	taskInbox     = "inbox"     // hand the fleet's inbox to the Inbound, process it
	taskCycle     = "cycle"     // Inbound.Cycle: inbox, contact poll, dirty refresh
	taskReconcile = "reconcile" // Inbound.Reconcile, with activities
)

// inboundArgs is a job of a location's inbound side. A periodic task
// carries the slot it was scheduled for (not part of its uniqueness: one
// job per location and task waits or runs, whatever its slot).
type inboundArgs struct {
	Location string    `json:"location" river:"unique"`
	Task     string    `json:"task" river:"unique"`
	Slot     time.Time `json:"slot,omitzero"`
}

// Kind implements river.JobArgs.
func (inboundArgs) Kind() string { return "contactsync_inbound" }

// Deliver stores a verified webhook event in the fleet's inbox in tx and
// schedules its location's inbound job in the same transaction: use it in
// a webhook.Handler's function (acknowledge the delivery once tx has
// committed). A redelivery of a stored event stores nothing. An event
// without a location (an app-level event) is not stored.
func (f *Fleet[TTx]) Deliver(ctx context.Context, tx TTx, ev webhook.Event) error {
	if ev == nil {
		return errors.New("fleet: a nil event")
	}
	m := ev.Info()
	if m.WebhookID == "" {
		return errors.New("fleet: a webhook event without a webhookId")
	}
	if m.LocationID == "" {
		return nil
	}
	if err := checkLocation(m.LocationID); err != nil {
		return err
	}
	if len(m.Raw) == 0 || len(m.Raw) > maxChangeBytes {
		return fmt.Errorf("fleet: webhook %s is %d bytes (1 to %d)", m.WebhookID, len(m.Raw), maxChangeBytes)
	}
	if f.db.dialect() == sqldb.Postgres {
		if err := f.db.execTx(ctx, tx, f.q.lockShared, lockKey(m.LocationID)); err != nil {
			return fmt.Errorf("fleet: locking location %q: %w", m.LocationID, err)
		}
	}
	if err := f.db.execTx(ctx, tx, f.q.in.insert, m.LocationID, m.WebhookID, m.Raw, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("fleet: storing webhook %s: %w", m.WebhookID, err)
	}
	if _, err := f.client.InsertTx(ctx, tx, inboundArgs{Location: m.LocationID, Task: taskInbox}, f.uniqueOpts()); err != nil {
		return fmt.Errorf("fleet: scheduling the inbound job of location %q: %w", m.LocationID, err)
	}
	return nil
}

// Handler returns a webhook.Handler function that delivers each event in
// a transaction of its own (Deliver), for a receiver that has no
// transaction to share.
func (f *Fleet[TTx]) Handler() func(context.Context, webhook.Event) error {
	return func(ctx context.Context, ev webhook.Event) error {
		return f.db.inTx(ctx, func(tx TTx) error { return f.Deliver(ctx, tx, ev) })
	}
}

type inboundWorker[TTx any] struct {
	river.WorkerDefaults[inboundArgs]
	f *Fleet[TTx]
}

func (w *inboundWorker[TTx]) Work(ctx context.Context, job *river.Job[inboundArgs]) error {
	f := w.f
	loc, task := job.Args.Location, job.Args.Task
	if err := checkLocation(loc); err != nil {
		return river.JobCancel(err)
	}
	if task != taskInbox && task != taskCycle && task != taskReconcile {
		return river.JobCancel(fmt.Errorf("fleet: unknown inbound task %q", task))
	}
	ctx, h, err := f.holdLocation(ctx, loc)
	if err != nil {
		return err
	}
	defer h.end()
	in, err := f.cfg.Inbound(ctx, loc)
	if err != nil {
		return fmt.Errorf("fleet: the inbound side of location %q: %w", loc, err)
	}
	h.use(in.Client())
	var rep contactsync.InboundReport
	switch task {
	case taskCycle:
		rep, err = in.Cycle(ctx, f.cfg.RefreshLimit)
	case taskReconcile:
		rep, err = in.Reconcile(ctx, true)
	case taskInbox:
		apply := func(ctx context.Context, batch []queued) error {
			for _, r := range batch {
				ev, err := webhook.Parse(r.body)
				if err != nil {
					f.cfg.Logger.Error("fleet: skipping a webhook that cannot be read", "location", loc, "seq", r.seq, "err", err)
					continue
				}
				if err := in.Receive(ctx, ev); err != nil {
					return fmt.Errorf("fleet: storing a webhook of location %q: %w", loc, err)
				}
				f.count(MetricDeliveries, loc, 1)
			}
			return nil
		}
		settle := func(ctx context.Context) error {
			var err error
			rep, err = in.ProcessInbox(ctx)
			return err
		}
		err = f.drain(ctx, job.JobRow, loc, f.q.in, apply, settle, inboundArgs{Location: loc, Task: taskInbox}, f.uniqueOpts())
	}
	f.count(MetricAPICalls, loc, rep.APICalls, "side", "inbound")
	if err == nil {
		f.gauge(MetricParked, loc, 0)
	}
	f.cfg.Logger.Debug("fleet: inbound task done", "location", loc, "task", task, "events", rep.Events, "apiCalls", rep.APICalls, "err", err)
	if err != nil {
		var snooze *river.JobSnoozeError
		if errors.As(err, &snooze) {
			return err
		}
		return f.stopped(loc, "", err)
	}
	return nil
}

// scheduleArgs is the fleet's periodic job: it schedules the locations'
// cycles and reconciliations due in the next Tick.
type scheduleArgs struct{}

// Kind implements river.JobArgs.
func (scheduleArgs) Kind() string { return "contactsync_schedule" }

type scheduleWorker[TTx any] struct {
	river.WorkerDefaults[scheduleArgs]
	f *Fleet[TTx]
}

func (w *scheduleWorker[TTx]) Work(ctx context.Context, job *river.Job[scheduleArgs]) error {
	f := w.f
	locs, err := f.cfg.Locations(ctx)
	if err != nil {
		return fmt.Errorf("fleet: listing the locations: %w", err)
	}
	from := job.ScheduledAt.Truncate(f.cfg.Tick)
	to := from.Add(f.cfg.Tick)
	var params []river.InsertManyParams
	for _, loc := range locs {
		if checkLocation(loc) != nil {
			f.cfg.Logger.Error("fleet: skipping an invalid location ID", "location", loc)
			continue
		}
		for _, p := range []struct {
			task  string
			every time.Duration
		}{{taskCycle, f.cfg.CycleEvery}, {taskReconcile, f.cfg.ReconcileEvery}} {
			if p.every <= 0 {
				continue
			}
			if at, ok := slot(loc, p.task, p.every, from, to); ok {
				opts := *f.uniqueOpts()
				opts.ScheduledAt = at
				params = append(params, river.InsertManyParams{Args: inboundArgs{Location: loc, Task: p.task, Slot: at}, InsertOpts: &opts})
			}
		}
	}
	for len(params) > 0 {
		n := min(len(params), 1000)
		if _, err := f.client.InsertMany(ctx, params[:n]); err != nil {
			return fmt.Errorf("fleet: scheduling the locations' cycles: %w", err)
		}
		params = params[n:]
	}
	return nil
}

// slot returns the time in [from, to) at which a location's task is due
// every period, if one falls there. Each location and task has its own
// offset within the period (a hash of both), so that thousands of
// locations spread their cycles evenly over it instead of all polling at
// the top of the minute.
func slot(loc, task string, period time.Duration, from, to time.Time) (time.Time, bool) {
	h := fnv.New64a()
	h.Write([]byte(task))
	h.Write([]byte{0})
	h.Write([]byte(loc))
	p := int64(period)
	offset := int64(h.Sum64() % uint64(p))
	a := from.UnixNano()
	// The first t >= a with t ≡ offset (mod p).
	k := (a - offset) / p
	t := k*p + offset
	for t < a {
		t += p
	}
	if t >= to.UnixNano() {
		return time.Time{}, false
	}
	return time.Unix(0, t), true
}

// alignedEvery is a River periodic schedule that runs at multiples of d
// (Unix time), so that the schedule job's windows tile.
type alignedEvery time.Duration

func (d alignedEvery) Next(t time.Time) time.Time {
	return t.Truncate(time.Duration(d)).Add(time.Duration(d))
}
