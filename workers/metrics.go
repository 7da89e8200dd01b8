package workers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/cuda"
	"github.com/tars-engine/tars/activities/hyperlight"
)

// Metrics is what a worker process reports to Prometheus: the Temporal
// SDK's client and worker metrics (through SDKHandler), each pool's calls,
// latencies and faults, what the runtimes did (WASM instantiations, micro-VM
// creates and restores, GPU kernel time and memory), Go runtime and process
// figures, and anything added with Add (the embedded server's metrics in
// tars dev). Serve it with NewOpsHandler.
//
// Series names: tars_pool_* per pool, tars_wasm_*, tars_hyperlight_*,
// tars_cuda_* per runtime, temporal_* from the SDK (docs/deploy.md lists
// them).
type Metrics struct {
	reg  *prometheus.Registry
	sdk  *sdkMetrics
	more prometheus.Gatherers

	calls    *prometheus.CounterVec
	faults   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec
	capacity *prometheus.GaugeVec

	wasmInstantiate *prometheus.HistogramVec
	wasmCompiles    *prometheus.CounterVec
	vmCreate        *prometheus.HistogramVec
	vmRestore       *prometheus.HistogramVec
	gpuKernel       *prometheus.CounterVec
	gpuCopyBytes    *prometheus.CounterVec
}

// latencyBuckets span a sub-millisecond WASM call to a minutes-long model
// call, in seconds.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// NewMetrics returns an empty set of metrics with the Go runtime and process
// collectors registered.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), sdk: newSDKMetrics()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), m.sdk)
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tars_pool_calls_total", Help: "Tool calls a pool ran, by tool and outcome (ok or error).",
	}, []string{"runtime", "tool", "outcome"})
	m.faults = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tars_pool_faults_total", Help: "Failed tool calls by kind: the application error type (GuestFault, WasmTrap, BadArgs, ...), timeout, canceled or error.",
	}, []string{"runtime", "kind"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tars_pool_call_duration_seconds", Help: "Time a pool took to run a tool call, failed calls included.", Buckets: latencyBuckets,
	}, []string{"runtime"})
	m.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tars_pool_calls_in_flight", Help: "Tool calls running now.",
	}, []string{"runtime"})
	m.capacity = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tars_pool_capacity", Help: "Tool calls a pool may run at once.",
	}, []string{"runtime"})
	m.wasmInstantiate = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tars_wasm_instantiate_seconds", Help: "Time to instantiate a WASM module for one call; the count is the number of instantiations.", Buckets: latencyBuckets,
	}, []string{"tool"})
	m.wasmCompiles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tars_wasm_compiles_total", Help: "WASM modules compiled (a call that found its module compiled does not count).",
	}, []string{"tool"})
	m.vmCreate = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tars_hyperlight_vm_create_seconds", Help: "Time to create a micro-VM and boot its guest (cold starts); the count is the number of creates.", Buckets: latencyBuckets,
	}, []string{"tool"})
	m.vmRestore = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tars_hyperlight_vm_restore_seconds", Help: "Time to restore a micro-VM to its snapshot before a call; the count is the number of restores.", Buckets: latencyBuckets,
	}, []string{"tool"})
	m.gpuKernel = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tars_cuda_kernel_seconds_total", Help: "GPU time spent in kernels.",
	}, []string{"tool"})
	m.gpuCopyBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tars_cuda_copy_bytes_total", Help: "Bytes copied between host and GPU.",
	}, []string{"tool"})
	m.reg.MustRegister(m.calls, m.faults, m.latency, m.inFlight, m.capacity,
		m.wasmInstantiate, m.wasmCompiles, m.vmCreate, m.vmRestore, m.gpuKernel, m.gpuCopyBytes)
	return m
}

// SDKHandler is the client.MetricsHandler to give client.Options: every
// worker made from that client reports through it too.
func (m *Metrics) SDKHandler() client.MetricsHandler { return m.sdk.Handler() }

// Registry is where TARS's own series live; register more collectors there.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Add exposes another source's series beside TARS's (the embedded server's
// in tars dev). A name both sources use is a scrape error, reported in the
// answer, not a panic.
func (m *Metrics) Add(g prometheus.Gatherer) { m.more = append(m.more, g) }

// Gatherer gathers TARS's series and every added source.
func (m *Metrics) Gatherer() prometheus.Gatherer {
	return append(prometheus.Gatherers{m.reg}, m.more...)
}

// addPool registers collectors that read a runner's own figures at scrape
// time: micro-VMs alive for hyperlight, device memory for cuda.
func (m *Metrics) addPool(r activities.Runner, capacity int) {
	rt := r.Runtime()
	m.capacity.WithLabelValues(rt).Set(float64(capacity))
	m.inFlight.WithLabelValues(rt)
	switch r := r.(type) {
	case *hyperlight.Runner:
		_ = m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tars_hyperlight_vms_alive", Help: "Micro-VMs alive now, busy or warm.",
		}, func() float64 { return float64(r.Stats().VMsAlive) }))
		_ = m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tars_hyperlight_vms_idle", Help: "Warm micro-VMs waiting for a call.",
		}, func() float64 { return float64(r.Stats().VMsIdle) }))
	case *cuda.Runner:
		total := prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tars_cuda_device_memory_bytes", Help: "GPU memory: total, and free when the pool started (after its contexts and kernels were loaded).",
		}, []string{"device", "name", "state"})
		for _, d := range r.Devices() {
			dev := strconv.Itoa(d.Ordinal)
			total.WithLabelValues(dev, d.Name, "total").Set(float64(d.MemoryTotal))
			total.WithLabelValues(dev, d.Name, "free_at_start").Set(float64(d.MemoryFree))
		}
		_ = m.reg.Register(total)
	}
}

// observe records one finished call.
func (m *Metrics) observe(call activities.Call, took time.Duration, res activities.Result, err error) {
	rt := call.Runtime
	outcome := "ok"
	if err != nil {
		outcome = "error"
		m.faults.WithLabelValues(rt, faultKind(err)).Inc()
	}
	m.calls.WithLabelValues(rt, call.Tool, outcome).Inc()
	m.latency.WithLabelValues(rt).Observe(took.Seconds())
	us := func(k string) (float64, bool) {
		v, ok := res.Metrics[k]
		return v / 1e6, ok
	}
	if v, ok := us("wasm.instantiate_us"); ok {
		m.wasmInstantiate.WithLabelValues(call.Tool).Observe(v)
	}
	if v, ok := us("wasm.compile_us"); ok && v > 0 {
		m.wasmCompiles.WithLabelValues(call.Tool).Inc()
	}
	if v, ok := us("vm.create_us"); ok && v > 0 {
		m.vmCreate.WithLabelValues(call.Tool).Observe(v)
	}
	if v, ok := us("vm.restore_us"); ok {
		m.vmRestore.WithLabelValues(call.Tool).Observe(v)
	}
	if v, ok := us("gpu.kernel_us"); ok {
		m.gpuKernel.WithLabelValues(call.Tool).Add(v)
	}
	if v, ok := res.Metrics["gpu.copy_bytes"]; ok {
		m.gpuCopyBytes.WithLabelValues(call.Tool).Add(v)
	}
}

// faultKind names what went wrong with a call, for tars_pool_faults_total:
// the application error's type where there is one (the stable names in
// package activities), else timeout, canceled or error.
func faultKind(err error) string {
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &app) && app.Type() != "":
		return app.Type()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

// Scraped is a Gatherer that fetches another process's or component's
// Prometheus text exposition from url at every gather (the embedded
// Temporal server's in tars dev, which keeps its series in a registry of
// its own behind its own listener).
func Scraped(url string) prometheus.Gatherer {
	c := &http.Client{Timeout: 5 * time.Second}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		resp, err := c.Get(url)
		if err != nil {
			return nil, fmt.Errorf("scrape %s: %w", url, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
		}
		var p expfmt.TextParser
		fams, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("scrape %s: %w", url, err)
		}
		out := make([]*dto.MetricFamily, 0, len(fams))
		for _, f := range fams {
			out = append(out, f)
		}
		return out, nil
	})
}
