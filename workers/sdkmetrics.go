package workers

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// sdkMetrics receives the Temporal SDK's client and worker metrics through
// client.MetricsHandler and exposes them as a prometheus.Collector.
//
// It is written here rather than taken from go.temporal.io/sdk/contrib/tally
// because that module is not in this build's dependency set, and because
// the SDK reports one metric name with different tag sets from different
// call sites (task_queue is present on some, absent on others): a
// prometheus.CounterVec fixes its label names at creation and would refuse
// the second set. Here every family is emitted with the union of its label
// names, a missing label as "" (which Prometheus reads as absent).
type sdkMetrics struct {
	mu     sync.Mutex
	series map[string]*sdkSeries
}

type sdkKind int

const (
	sdkCounter sdkKind = iota
	sdkGauge
	sdkTimer
)

// sdkSeries is one metric name with one set of tags.
type sdkSeries struct {
	kind   sdkKind
	name   string
	labels map[string]string

	mu      sync.Mutex
	value   float64  // counter total or gauge value
	buckets []uint64 // timer: counts per sdkTimerBuckets bound (not cumulative)
	count   uint64
	sum     float64 // seconds
}

// sdkTimerBuckets are the upper bounds, in seconds, of the histograms that
// SDK timers become: from a poll's round trip on loopback (~1 ms) to a
// long poll (60 s).
var sdkTimerBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

func newSDKMetrics() *sdkMetrics { return &sdkMetrics{series: map[string]*sdkSeries{}} }

// Handler returns the root client.MetricsHandler (no tags).
func (m *sdkMetrics) Handler() client.MetricsHandler { return m.handler(nil) }

func (m *sdkMetrics) get(kind sdkKind, name string, tags map[string]string) *sdkSeries {
	keys := slices.Sorted(maps.Keys(tags))
	var b strings.Builder
	b.WriteByte(byte('0' + kind))
	b.WriteString(name)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(1)
		b.WriteString(tags[k])
	}
	key := b.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.series[key]
	if s == nil {
		s = &sdkSeries{kind: kind, name: name, labels: maps.Clone(tags)}
		if kind == sdkTimer {
			s.buckets = make([]uint64, len(sdkTimerBuckets))
		}
		m.series[key] = s
	}
	return s
}

// sdkHandler is the handler for one tag set. The SDK asks it for a metric
// by name on every use, so it remembers the series it handed out, one map
// per kind.
type sdkHandler struct {
	m     *sdkMetrics
	tags  map[string]string
	cache *[3]sync.Map // by sdkKind: name → *sdkSeries
}

func (m *sdkMetrics) handler(tags map[string]string) sdkHandler {
	return sdkHandler{m: m, tags: tags, cache: new([3]sync.Map)}
}

func (h sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	return h.m.handler(merged)
}

func (h sdkHandler) series(kind sdkKind, name string) *sdkSeries {
	if s, ok := h.cache[kind].Load(name); ok {
		return s.(*sdkSeries)
	}
	s := h.m.get(kind, name, h.tags)
	h.cache[kind].Store(name, s)
	return s
}

func (h sdkHandler) Counter(name string) client.MetricsCounter { return h.series(sdkCounter, name) }
func (h sdkHandler) Gauge(name string) client.MetricsGauge     { return h.series(sdkGauge, name) }
func (h sdkHandler) Timer(name string) client.MetricsTimer     { return h.series(sdkTimer, name) }

// Inc adds to a counter.
func (s *sdkSeries) Inc(d int64) {
	s.mu.Lock()
	s.value += float64(d)
	s.mu.Unlock()
}

// Update sets a gauge.
func (s *sdkSeries) Update(v float64) {
	s.mu.Lock()
	s.value = v
	s.mu.Unlock()
}

// Record adds a duration to a timer's histogram.
func (s *sdkSeries) Record(d time.Duration) {
	sec := d.Seconds()
	i := sort.SearchFloat64s(sdkTimerBuckets, sec)
	s.mu.Lock()
	if i < len(s.buckets) {
		s.buckets[i]++
	}
	s.count++
	s.sum += sec
	s.mu.Unlock()
}

// Describe sends nothing: the SDK creates series as it goes, so this is an
// unchecked collector.
func (m *sdkMetrics) Describe(chan<- *prometheus.Desc) {}

// Collect emits every series, families with the union of their labels.
// Counters are named <name>_total and timers <name>_seconds, following
// Prometheus's conventions (the SDK's names carry no unit).
func (m *sdkMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	all := slices.Collect(maps.Values(m.series))
	m.mu.Unlock()
	type family struct {
		kind   sdkKind
		labels map[string]bool
		series []*sdkSeries
	}
	families := map[string]*family{}
	for _, s := range all {
		name := promName(s.name)
		switch s.kind {
		case sdkCounter:
			name += "_total"
		case sdkTimer:
			name += "_seconds"
		}
		f := families[name]
		if f == nil {
			f = &family{kind: s.kind, labels: map[string]bool{}}
			families[name] = f
		}
		if f.kind != s.kind {
			continue // the same name as two kinds: keep the first
		}
		for k := range s.labels {
			f.labels[k] = true
		}
		f.series = append(f.series, s)
	}
	for name, f := range families {
		keys := slices.Sorted(maps.Keys(f.labels))
		labelNames := make([]string, len(keys))
		for i, k := range keys {
			labelNames[i] = promName(k)
		}
		desc := prometheus.NewDesc(name, "Temporal SDK metric "+strings.TrimSuffix(strings.TrimSuffix(name, "_total"), "_seconds")+".", labelNames, nil)
		for _, s := range f.series {
			values := make([]string, len(keys))
			for i, k := range keys {
				values[i] = s.labels[k]
			}
			s.mu.Lock()
			var m prometheus.Metric
			var err error
			switch s.kind {
			case sdkCounter:
				m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, s.value, values...)
			case sdkGauge:
				m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, s.value, values...)
			case sdkTimer:
				cum := map[float64]uint64{}
				var n uint64
				for i, b := range sdkTimerBuckets {
					n += s.buckets[i]
					cum[b] = n
				}
				m, err = prometheus.NewConstHistogram(desc, s.count, s.sum, cum, values...)
			}
			s.mu.Unlock()
			if err == nil {
				ch <- m
			}
		}
	}
}

// promName replaces what Prometheus does not allow in a metric or label
// name with '_'.
func promName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}
