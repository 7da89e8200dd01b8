package bench

import (
	"slices"
	"time"
)

// Sample is one measured execution of a workload by one side on one server.
type Sample struct {
	Activities int           // activities the workload ran (0 when unknown)
	Runs       int           // workflow runs, continue-as-new not counted
	Events     int           // history length of one run (the last of its continue-as-new chain)
	Wall       time.Duration // first submit to last result
	// Latencies are submit-to-result times, one per run.
	Latencies []time.Duration
	// PeakRSS is this process's peak resident memory during the sample
	// (VmHWM, reset before it), 0 where unknown; ServerPeakRSS the same for
	// a server in another process.
	PeakRSS, ServerPeakRSS uint64
}

// ActivitiesPerSec is the activity throughput.
func (s Sample) ActivitiesPerSec() float64 { return perSec(s.Activities, s.Wall) }

// RunsPerSec is the run throughput.
func (s Sample) RunsPerSec() float64 { return perSec(s.Runs, s.Wall) }

func perSec(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Percentile returns the p-th percentile (0 < p <= 1) of samples by nearest
// rank: the smallest value with at least p of the samples at or below it.
// samples need not be sorted; they are not modified. Empty: 0.
func Percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	return sorted[rank(len(sorted), p)]
}

// rank is the index of the p-th percentile in n sorted values.
func rank(n int, p float64) int {
	// ceil(p*n) - 1, with a little slack so that 0.99*100 is 99, not 100.
	i := int(p*float64(n)+1-1e-9) - 1
	return max(0, min(i, n-1))
}

// Median is the middle of xs (the mean of the two middle values for an even
// count). xs is not modified. Empty: 0.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Row is a workload's figures for one side on one server: the medians over
// its samples (peak memory: the largest).
type Row struct {
	Workload         string   `json:"workload"`
	Server           string   `json:"server"`
	Impl             string   `json:"impl"` // ImplTARS, ImplGo or ImplGoDefault
	Samples          int      `json:"samples"`
	Activities       int      `json:"activities_per_sample"`
	Runs             int      `json:"runs_per_sample"`
	Events           int      `json:"history_events,omitempty"` // of one run, last sample
	ActivitiesPerSec float64  `json:"activities_per_sec"`
	RunsPerSec       float64  `json:"runs_per_sec"`
	P50Ms            float64  `json:"p50_ms"`
	P99Ms            float64  `json:"p99_ms"`
	PeakRSSMiB       float64  `json:"peak_rss_mib,omitempty"`
	ServerPeakRSSMiB float64  `json:"server_peak_rss_mib,omitempty"`
	Each             []Figure `json:"each"` // every sample, in the order measured
}

// Figure is one sample's numbers as the report keeps them.
type Figure struct {
	WallMs           float64 `json:"wall_ms"`
	ActivitiesPerSec float64 `json:"activities_per_sec"`
	RunsPerSec       float64 `json:"runs_per_sec"`
	P50Ms            float64 `json:"p50_ms"`
	P99Ms            float64 `json:"p99_ms"`
	PeakRSSMiB       float64 `json:"peak_rss_mib,omitempty"`
}

// The sides of a comparison.
const (
	ImplTARS = "tars" // a compiled metascript run by the interpreter and the pools
	ImplGo   = "go"   // a hand-written Go workflow and activity, workers with TARS's options
	// ImplGoDefault is the hand-written workflow with the SDK's default
	// worker options: what a Temporal user starts with.
	ImplGoDefault = "go-default"
)

// Impls lists the sides in report order.
var Impls = []string{ImplTARS, ImplGo, ImplGoDefault}

// Aggregate summarises the samples of one workload, side and server.
func Aggregate(workload, server, impl string, samples []Sample) Row {
	r := Row{Workload: workload, Server: server, Impl: impl, Samples: len(samples)}
	var acts, runs, p50, p99 []float64
	for _, s := range samples {
		f := Figure{
			WallMs:           ms(s.Wall),
			ActivitiesPerSec: s.ActivitiesPerSec(),
			RunsPerSec:       s.RunsPerSec(),
			P50Ms:            ms(Percentile(s.Latencies, 0.50)),
			P99Ms:            ms(Percentile(s.Latencies, 0.99)),
			PeakRSSMiB:       mib(s.PeakRSS),
		}
		r.Each = append(r.Each, f)
		acts = append(acts, f.ActivitiesPerSec)
		runs = append(runs, f.RunsPerSec)
		p50 = append(p50, f.P50Ms)
		p99 = append(p99, f.P99Ms)
		r.Activities, r.Runs, r.Events = s.Activities, s.Runs, s.Events
		r.PeakRSSMiB = max(r.PeakRSSMiB, mib(s.PeakRSS))
		r.ServerPeakRSSMiB = max(r.ServerPeakRSSMiB, mib(s.ServerPeakRSS))
	}
	r.ActivitiesPerSec = Median(acts)
	r.RunsPerSec = Median(runs)
	r.P50Ms = Median(p50)
	r.P99Ms = Median(p99)
	return r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
