package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted on purpose
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", durations(7), 0.99, 7 * time.Millisecond},
		{"median of odd count", durations(5, 1, 3), 0.5, 3 * time.Millisecond},
		{"nearest rank of even count is the lower middle", durations(4, 1, 3, 2), 0.5, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", durations(hundred...), 0.99, 99 * time.Millisecond},
		{"p50 of 100 is the 50th", durations(hundred...), 0.50, 50 * time.Millisecond},
		{"p100 is the max", durations(hundred...), 1, 100 * time.Millisecond},
		{"tiny p is the min", durations(hundred...), 0.001, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := append([]time.Duration(nil), tt.samples...)
			assert.Equal(t, tt.want, Percentile(tt.samples, tt.p))
			assert.Equal(t, before, tt.samples, "Percentile must not reorder its input")
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Median(tt.xs), "%v", tt.xs)
	}
}

func TestAggregate(t *testing.T) {
	samples := []Sample{
		{Activities: 200, Runs: 1, Wall: 4 * time.Second, Latencies: durations(4000), PeakRSS: 300 << 20},
		{Activities: 200, Runs: 1, Wall: 5 * time.Second, Latencies: durations(5000), PeakRSS: 320 << 20, ServerPeakRSS: 90 << 20},
		{Activities: 200, Runs: 1, Wall: 10 * time.Second, Latencies: durations(10000), PeakRSS: 310 << 20},
	}
	r := Aggregate(Sequential, "tars dev", ImplTARS, samples)
	assert.Equal(t, 3, r.Samples)
	assert.Equal(t, 200, r.Activities)
	assert.InDelta(t, 40.0, r.ActivitiesPerSec, 1e-9, "median of 50, 40, 20")
	assert.InDelta(t, 0.2, r.RunsPerSec, 1e-9)
	assert.InDelta(t, 5000.0, r.P50Ms, 1e-9)
	assert.InDelta(t, 320.0, r.PeakRSSMiB, 1e-9, "peak is the largest, not the median")
	assert.InDelta(t, 90.0, r.ServerPeakRSSMiB, 1e-9)
	assert.Len(t, r.Each, 3)
	assert.InDelta(t, 20.0, r.Each[2].ActivitiesPerSec, 1e-9, "samples kept in the order measured")

	lat := Aggregate(Latency, "tars dev", ImplGo, []Sample{{Runs: 4, Activities: 4, Wall: 100 * time.Millisecond, Latencies: durations(10, 40, 20, 30)}})
	assert.InDelta(t, 40.0, lat.RunsPerSec, 1e-9)
	assert.InDelta(t, 20.0, lat.P50Ms, 1e-9)
	assert.InDelta(t, 40.0, lat.P99Ms, 1e-9)

	zero := Sample{Runs: 1}
	assert.Zero(t, zero.ActivitiesPerSec(), "no wall time: no throughput rather than +Inf")
}
