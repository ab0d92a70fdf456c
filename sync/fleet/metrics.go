package fleet

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// The fleet's metrics, through Config.Metrics (contactsync's hook; package
// prommetrics puts them on Prometheus). Every one has a "location" label.
const (
	// Counters.
	MetricAPICalls   = "contactsync_fleet_api_calls_total"  // side: outbound or inbound
	MetricChanges    = "contactsync_fleet_changes_total"    // changes applied
	MetricFailures   = "contactsync_fleet_failures_total"   // changes refused, and runs stopped by an error
	MetricSnoozes    = "contactsync_fleet_snoozes_total"    // reason: busy, lease, rate_limited, budget, parked
	MetricDeliveries = "contactsync_fleet_deliveries_total" // webhooks handed to the location's Inbound
	// Gauges.
	MetricLag            = "contactsync_fleet_lag_seconds"     // age of the oldest change waiting (0: none)
	MetricQueueDepth     = "contactsync_fleet_queue_depth"     // queue: changes or deliveries
	MetricDailyRemaining = "contactsync_fleet_daily_remaining" // the API's daily budget left, as last reported
	MetricParked         = "contactsync_fleet_parked"          // 1 while the location's token is refused
)

// DefaultMetricsEvery is how often a fleet with Config.Metrics reports its
// queues.
const DefaultMetricsEvery = 15 * time.Second

func (f *Fleet[TTx]) count(name, loc string, delta int64, labels ...string) {
	if f.cfg.Metrics == nil || delta == 0 {
		return
	}
	f.cfg.Metrics.Counter(name, delta, labelMap(loc, labels))
}

func (f *Fleet[TTx]) gauge(name, loc string, v float64, labels ...string) {
	if f.cfg.Metrics == nil {
		return
	}
	f.cfg.Metrics.Gauge(name, v, labelMap(loc, labels))
}

func labelMap(loc string, pairs []string) map[string]string {
	m := map[string]string{"location": loc}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return m
}

// reportRun reports what an outbound run of a location did.
func (f *Fleet[TTx]) reportRun(loc string, rep *contactsync.Report) {
	f.count(MetricAPICalls, loc, rep.APICalls, "side", "outbound")
	f.count(MetricChanges, loc, int64(rep.Changes))
	f.count(MetricFailures, loc, int64(rep.Failed))
	if rep.RateLimit.DailyLimit > 0 {
		f.gauge(MetricDailyRemaining, loc, float64(rep.RateLimit.DailyRemaining))
	}
}

// Backlogs reports what waits in every location's queues, by location (a
// location with nothing queued is absent).
func (f *Fleet[TTx]) Backlogs(ctx context.Context) (map[string]Backlog, error) {
	out := map[string]Backlog{}
	for i, q := range []string{f.q.out.all, f.q.in.all} {
		err := f.db.query(ctx, q, nil, func(scan func(...any) error) error {
			var (
				loc string
				n   int
				ms  sql.NullInt64
			)
			if err := scan(&loc, &n, &ms); err != nil {
				return err
			}
			b := out[loc]
			var oldest time.Time
			if ms.Valid {
				oldest = time.UnixMilli(ms.Int64)
			}
			if i == 0 {
				b.Changes, b.OldestChange = n, oldest
			} else {
				b.Deliveries, b.OldestDelivery = n, oldest
			}
			out[loc] = b
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("fleet: reading the queues: %w", err)
		}
	}
	return out, nil
}

// reportQueues reports every MetricsEvery the queues' depth and lag, until
// ctx ends. A location whose queues emptied is reported at 0 once.
func (f *Fleet[TTx]) reportQueues(ctx context.Context) {
	t := time.NewTicker(f.cfg.MetricsEvery)
	defer t.Stop()
	shown := map[string]bool{}
	for {
		if all, err := f.Backlogs(ctx); err == nil {
			now := time.Now()
			for loc, b := range all {
				lag := 0.0
				if !b.OldestChange.IsZero() {
					lag = max(now.Sub(b.OldestChange).Seconds(), 0)
				}
				f.gauge(MetricLag, loc, lag)
				f.gauge(MetricQueueDepth, loc, float64(b.Changes), "queue", "changes")
				f.gauge(MetricQueueDepth, loc, float64(b.Deliveries), "queue", "deliveries")
				shown[loc] = true
			}
			for loc := range shown {
				if _, ok := all[loc]; !ok {
					f.gauge(MetricLag, loc, 0)
					f.gauge(MetricQueueDepth, loc, 0, "queue", "changes")
					f.gauge(MetricQueueDepth, loc, 0, "queue", "deliveries")
					delete(shown, loc)
				}
			}
		} else if ctx.Err() == nil {
			f.cfg.Logger.Warn("fleet: reading the queues for the metrics", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
