// Package prommetrics reports contactsync's metrics (the Metrics hook of
// the engine, the inbound side and the fleet) to Prometheus, through
// github.com/prometheus/client_golang. The sync's packages do not depend
// on Prometheus; this one does.
//
//	m := prommetrics.New(prometheus.DefaultRegisterer)
//	eng, _ := contactsync.NewEngine(client, store, mapping, contactsync.WithMetrics(m.With("location", loc)))
//	f, _ := fleet.NewPostgres(pool, fleet.Config{Metrics: m, ...})
//	http.Handle("/metrics", promhttp.Handler())
package prommetrics

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics implements contactsync.Metrics on a Prometheus registerer: each
// name becomes a counter or a gauge vector the first time it is reported,
// with the label names of that report. A later report of the name with
// other label names fills the missing ones with "" and drops the extra
// ones; a name reported both as a counter and a gauge, or that Prometheus
// refuses, is counted in contactsync_metrics_dropped_total instead.
type Metrics struct {
	root *root
	// fixed are labels added to every report (With).
	fixed map[string]string
}

type root struct {
	reg     prometheus.Registerer
	mu      sync.Mutex
	vecs    map[string]*vec
	dropped prometheus.Counter
}

type vec struct {
	labels  []string
	counter *prometheus.CounterVec
	gauge   *prometheus.GaugeVec
}

// New returns metrics registered on reg as they are first reported.
func New(reg prometheus.Registerer) *Metrics {
	r := &root{reg: reg, vecs: map[string]*vec{},
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "contactsync_metrics_dropped_total",
			Help: "Reports of contactsync metrics that Prometheus could not take (a name reused with another type, or invalid)."})}
	_ = reg.Register(r.dropped)
	return &Metrics{root: r}
}

// With returns metrics that add the labels (name, value pairs) to every
// report: an engine's metrics with its location, for example.
func (m *Metrics) With(labelPairs ...string) *Metrics {
	if len(labelPairs)%2 != 0 {
		panic("prommetrics: With needs name, value pairs")
	}
	fixed := maps.Clone(m.fixed)
	if fixed == nil {
		fixed = map[string]string{}
	}
	for i := 0; i < len(labelPairs); i += 2 {
		fixed[labelPairs[i]] = labelPairs[i+1]
	}
	return &Metrics{root: m.root, fixed: fixed}
}

// Counter implements contactsync.Metrics.
func (m *Metrics) Counter(name string, delta int64, labels map[string]string) {
	if delta < 0 {
		m.root.dropped.Inc()
		return
	}
	v, values := m.vec(name, labels, true)
	if v == nil {
		return
	}
	v.counter.WithLabelValues(values...).Add(float64(delta))
}

// Gauge implements contactsync.Metrics.
func (m *Metrics) Gauge(name string, value float64, labels map[string]string) {
	v, values := m.vec(name, labels, false)
	if v == nil {
		return
	}
	v.gauge.WithLabelValues(values...).Set(value)
}

var validName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

func (m *Metrics) vec(name string, labels map[string]string, counter bool) (*vec, []string) {
	all := maps.Clone(m.fixed)
	if all == nil {
		all = map[string]string{}
	}
	maps.Copy(all, labels)
	r := m.root
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.vecs[name]
	if v == nil {
		if !validName.MatchString(name) {
			r.dropped.Inc()
			return nil, nil
		}
		names := slices.Sorted(maps.Keys(all))
		for _, l := range names {
			if !validName.MatchString(l) {
				r.dropped.Inc()
				return nil, nil
			}
		}
		v = &vec{labels: names}
		var c prometheus.Collector
		help := fmt.Sprintf("contactsync metric %s.", name)
		if counter {
			v.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, names)
			c = v.counter
		} else {
			v.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, names)
			c = v.gauge
		}
		if err := r.reg.Register(c); err != nil {
			r.dropped.Inc()
			r.vecs[name] = &vec{} // neither: every later report is dropped
			return nil, nil
		}
		r.vecs[name] = v
	}
	if (counter && v.counter == nil) || (!counter && v.gauge == nil) {
		r.dropped.Inc()
		return nil, nil
	}
	values := make([]string, len(v.labels))
	for i, l := range v.labels {
		values[i] = all[l]
	}
	return v, values
}
