package workers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
)

func gather(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(NewOpsHandler(m, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var p expfmt.TextParser
	_, err = p.TextToMetricFamilies(strings.NewReader(string(b)))
	require.NoError(t, err, "invalid exposition:\n%s", b)
	return string(b)
}

// The SDK reports one name with different tag sets from different call
// sites; the exposition stays valid (one family, the union of the labels)
// instead of the registry refusing the second set.
func TestSDKMetricsMixedTags(t *testing.T) {
	m := NewMetrics()
	h := m.SDKHandler().WithTags(map[string]string{"namespace": "default"})
	h.Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"task_queue": "tars.native", "operation": "Poll"}).Counter("temporal_request").Inc(3)
	h.Gauge("temporal_worker_task_slots_available").Update(7)
	tm := h.WithTags(map[string]string{"activity_type": "sleep"}).Timer("temporal_activity_execution_latency")
	tm.Record(3 * time.Millisecond)
	tm.Record(2 * time.Second)

	out := gather(t, m)
	assert.Contains(t, out, `temporal_request_total{namespace="default",operation="",task_queue=""} 2`)
	assert.Contains(t, out, `temporal_request_total{namespace="default",operation="Poll",task_queue="tars.native"} 3`)
	assert.Contains(t, out, `temporal_worker_task_slots_available{namespace="default"} 7`)
	assert.Contains(t, out, `temporal_activity_execution_latency_seconds_bucket{activity_type="sleep",namespace="default",le="0.005"} 1`)
	assert.Contains(t, out, `temporal_activity_execution_latency_seconds_bucket{activity_type="sleep",namespace="default",le="2.5"} 2`)
	assert.Contains(t, out, `temporal_activity_execution_latency_seconds_count{activity_type="sleep",namespace="default"} 2`)
}

type fakeRunner struct{ res activities.Result }

func (fakeRunner) Runtime() string { return "wasm" }
func (fakeRunner) Tools() []string { return []string{"t"} }
func (fakeRunner) Capacity() int   { return 4 }
func (fakeRunner) Close() error    { return nil }
func (f fakeRunner) Run(context.Context, activities.Call) (activities.Result, error) {
	return f.res, nil
}

// A pool's figures: calls by outcome, faults by error type, and the
// runtime's own figures from the call's result.
func TestPoolMetrics(t *testing.T) {
	m := NewMetrics()
	m.addPool(fakeRunner{}, 8)
	call := activities.Call{Runtime: "wasm", Tool: "text-stats"}
	m.observe(call, time.Millisecond, activities.Result{Metrics: map[string]float64{"wasm.instantiate_us": 250, "wasm.compile_us": 0}}, nil)
	m.observe(call, time.Millisecond, activities.Result{}, temporal.NewNonRetryableApplicationError("trap", activities.ErrWasmTrap, nil))
	m.observe(call, time.Millisecond, activities.Result{}, fmt.Errorf("run: %w", context.DeadlineExceeded))
	m.observe(call, time.Millisecond, activities.Result{}, errors.New("plain"))

	out := gather(t, m)
	for _, want := range []string{
		`tars_pool_calls_total{outcome="ok",runtime="wasm",tool="text-stats"} 1`,
		`tars_pool_calls_total{outcome="error",runtime="wasm",tool="text-stats"} 3`,
		`tars_pool_faults_total{kind="WasmTrap",runtime="wasm"} 1`,
		`tars_pool_faults_total{kind="timeout",runtime="wasm"} 1`,
		`tars_pool_faults_total{kind="error",runtime="wasm"} 1`,
		`tars_pool_capacity{runtime="wasm"} 8`,
		`tars_wasm_instantiate_seconds_count{tool="text-stats"} 1`,
		`tars_pool_call_duration_seconds_count{runtime="wasm"} 4`,
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, `tars_wasm_compiles_total{`, "a cached module is no compile")
}

func TestReadyz(t *testing.T) {
	h := &Health{}
	srv := httptest.NewServer(NewOpsHandler(nil, h))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "starting")
	h.SetReady(true)
	code, _ = get("/readyz")
	assert.Equal(t, http.StatusOK, code)
	h.Drain()
	code, body = get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "draining")
	code, _ = get("/livez")
	assert.Equal(t, http.StatusOK, code, "draining is still alive")
	code, _ = get("/metrics")
	assert.Equal(t, http.StatusNotFound, code, "no metrics given")
}

// A record logged with a pool call's context gains the call's identity.
func TestStepAttrs(t *testing.T) {
	var b strings.Builder
	log := slog.New(StepAttrs(slog.NewJSONHandler(&b, nil)))
	ctx := withStep(context.Background(), []slog.Attr{slog.String("run_id", "r1"), slog.String("step", "s"), slog.String("runtime", "native")})
	log.InfoContext(ctx, "tool says", "step", "s")
	log.Info("not about a step")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], `"run_id":"r1"`)
	assert.Contains(t, lines[0], `"runtime":"native"`)
	assert.Equal(t, 1, strings.Count(lines[0], `"step"`), "an attribute the record has is not repeated")
	assert.NotContains(t, lines[1], "run_id")
}

// The cost metrics add to every tool call.
func BenchmarkObserve(b *testing.B) {
	m := NewMetrics()
	call := activities.Call{Runtime: "wasm", Tool: "text-stats"}
	res := activities.Result{Metrics: map[string]float64{"wasm.instantiate_us": 250, "wasm.run_us": 40}}
	b.ReportAllocs()
	for b.Loop() {
		m.observe(call, time.Millisecond, res, nil)
	}
}

// The cost of one SDK counter increment through the adapter, as the SDK
// calls it (a handler with tags, a counter looked up by name each time).
func BenchmarkSDKCounter(b *testing.B) {
	h := NewMetrics().SDKHandler().WithTags(map[string]string{"namespace": "default", "task_queue": "tars.native"})
	b.ReportAllocs()
	for b.Loop() {
		h.Counter("temporal_request").Inc(1)
	}
}
