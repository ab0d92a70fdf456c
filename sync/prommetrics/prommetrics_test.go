package prommetrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/prommetrics"
)

var _ contactsync.Metrics = (*prommetrics.Metrics)(nil)

func TestCountersAndGaugesWithLabels(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := prommetrics.New(reg)
	a, b := m.With("location", "gym-a"), m.With("location", "gym-b")
	a.Counter("contactsync_contacts_created_total", 3, nil)
	a.Counter("contactsync_contacts_created_total", 2, nil)
	b.Counter("contactsync_contacts_created_total", 1, nil)
	a.Gauge("contactsync_fleet_lag_seconds", 12.5, nil)
	a.Gauge("contactsync_fleet_lag_seconds", 2, nil)
	b.Counter("contactsync_fleet_snoozes_total", 1, map[string]string{"reason": "budget"})
	b.Counter("contactsync_fleet_snoozes_total", 1, map[string]string{"reason": "budget", "extra": "dropped"})
	a.Counter("contactsync_fleet_snoozes_total", 1, nil) // reason missing: ""
	want := `
# HELP contactsync_contacts_created_total contactsync metric contactsync_contacts_created_total.
# TYPE contactsync_contacts_created_total counter
contactsync_contacts_created_total{location="gym-a"} 5
contactsync_contacts_created_total{location="gym-b"} 1
# HELP contactsync_fleet_lag_seconds contactsync metric contactsync_fleet_lag_seconds.
# TYPE contactsync_fleet_lag_seconds gauge
contactsync_fleet_lag_seconds{location="gym-a"} 2
# HELP contactsync_fleet_snoozes_total contactsync metric contactsync_fleet_snoozes_total.
# TYPE contactsync_fleet_snoozes_total counter
contactsync_fleet_snoozes_total{location="gym-a",reason=""} 1
contactsync_fleet_snoozes_total{location="gym-b",reason="budget"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"contactsync_contacts_created_total", "contactsync_fleet_lag_seconds", "contactsync_fleet_snoozes_total"); err != nil {
		t.Error(err)
	}
}

func TestRefusedReportsAreCountedNotPanicked(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := prommetrics.New(reg)
	m.Counter("x_total", 1, nil)
	m.Gauge("x_total", 1, nil)                             // a counter's name as a gauge
	m.Counter("bad name", 1, nil)                          // invalid name
	m.Counter("y_total", 1, map[string]string{"a-b": "c"}) // invalid label
	m.Counter("x_total", -1, nil)                          // a counter going down
	if got := testutil.ToFloat64(mustGet(t, reg)); got != 4 {
		t.Errorf("dropped = %v, want 4", got)
	}
}

func mustGet(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "contactsync_metrics_dropped_total" {
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "copy"})
			c.Add(mf.GetMetric()[0].GetCounter().GetValue())
			return c
		}
	}
	t.Fatal("no contactsync_metrics_dropped_total")
	return nil
}
