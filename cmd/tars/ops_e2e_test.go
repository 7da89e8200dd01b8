package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startTars runs this test binary as `tars ARGS` (see TARS_TEST_AS_MAIN).
func startTars(t *testing.T, args string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TARS_TEST_AS_MAIN="+args)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, stdout, stderr
}

func httpGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// scrape fetches /metrics and parses it as Prometheus text exposition: a
// malformed answer fails the test.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body, err := httpGet("http://" + addr + "/metrics")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, body)
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err, "the /metrics answer is not valid Prometheus text exposition")
	return fams
}

// value sums the family's series whose labels include want (counter,
// gauge, or a histogram's sample count).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	sum := 0.0
series:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func opsPlan(name string) *plan.Plan {
	return &plan.Plan{Schema: plan.SchemaVersion, Name: name, SHA256: "test", Steps: []plan.Step{
		{ID: "nap", Kind: plan.KindTool, Tool: "sleep", Runtimes: []string{"native"}, With: json.RawMessage(`{"duration":"10ms"}`)},
		{ID: "stats", Kind: plan.KindTool, Tool: "text-stats", Runtimes: []string{"wasm"}, With: json.RawMessage(`{"text":"one two two"}`)},
		{ID: "broken", Kind: plan.KindTool, Tool: "fail", Runtimes: []string{"native"}, With: json.RawMessage(`{"message":"on purpose"}`),
			Retry: &plan.Retry{Attempts: 1}, OnError: plan.OnError{Action: plan.OnErrorContinue}},
	}}
}

// tars worker --metrics-addr: the endpoint answers with series a real run
// produced (pools, WASM instantiations, faults, the SDK's worker and client
// metrics); /readyz turns 503 at SIGTERM while a step is still running, the
// step completes on its first attempt, and the process exits 0. With
// --log-format json, every line about a step carries run_id, step and
// runtime.
func TestWorkerMetricsHealthAndDrain(t *testing.T) {
	e := newTestEnv(t) // the interpreter only: the pools run in the subprocess
	if e.g.modulesDir == "" {
		t.Skip("no WASM modules: build them with make guests")
	}
	addr := freeAddr(t)
	cmd, stdout, stderr := startTars(t, fmt.Sprintf(
		"worker --address %s --queue-prefix %s --pools native,wasm --no-workflows --modules %s --metrics-addr %s --shutdown-grace 20s --log-format json --log-level debug",
		e.g.address, e.g.queuePrefix, e.g.modulesDir, addr))
	require.Eventually(t, func() bool {
		code, _, err := httpGet("http://" + addr + "/readyz")
		return err == nil && code == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "readyz never turned 200: %s %s", stdout, stderr)
	code, body, err := httpGet("http://" + addr + "/livez")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, body)

	p := opsPlan("ops-metrics")
	id := e.start(p, nil)
	_, err = e.result(id, 60*time.Second)
	require.NoError(t, err)

	fams := scrape(t, addr)
	assert.GreaterOrEqual(t, value(fams, "tars_pool_calls_total", map[string]string{"runtime": "native", "tool": "sleep", "outcome": "ok"}), 1.0)
	assert.GreaterOrEqual(t, value(fams, "tars_pool_calls_total", map[string]string{"runtime": "wasm", "tool": "text-stats", "outcome": "ok"}), 1.0)
	assert.GreaterOrEqual(t, value(fams, "tars_pool_faults_total", map[string]string{"runtime": "native", "kind": "ToolFailed"}), 1.0)
	assert.GreaterOrEqual(t, value(fams, "tars_pool_call_duration_seconds", map[string]string{"runtime": "native"}), 2.0)
	assert.GreaterOrEqual(t, value(fams, "tars_wasm_instantiate_seconds", map[string]string{"tool": "text-stats"}), 1.0)
	assert.Greater(t, value(fams, "tars_pool_capacity", map[string]string{"runtime": "wasm"}), 0.0)
	// The SDK's worker metrics (activity execution) and client metrics
	// (requests to the frontend), and the Go runtime's.
	assert.GreaterOrEqual(t, value(fams, "temporal_activity_execution_latency_seconds", map[string]string{"activity_type": "sleep"}), 1.0)
	assert.GreaterOrEqual(t, value(fams, "temporal_request_total", nil), 1.0)
	assert.Greater(t, value(fams, "go_goroutines", nil), 0.0)

	// Drain: a 3 s step is running when SIGTERM comes.
	slow := sleepPlan("ops-drain", 1, "3s")
	slowID := e.start(slow, nil)
	require.Eventually(t, func() bool {
		return value(scrape(t, addr), "tars_pool_calls_in_flight", map[string]string{"runtime": "native"}) == 1
	}, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool {
		code, _, err := httpGet("http://" + addr + "/readyz")
		return err == nil && code == http.StatusServiceUnavailable
	}, 2*time.Second, 10*time.Millisecond, "readyz did not turn 503 at SIGTERM")
	desc, err := e.c.DescribeWorkflowExecution(context.Background(), slowID, "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus(), "not ready came only after the step ended")

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		require.NoError(t, err, "tars worker did not exit 0: %s", stderr)
	case <-time.After(25 * time.Second):
		t.Fatalf("tars worker did not exit within its grace: %s", stdout)
	}
	assert.Contains(t, stdout.String(), "stopping: polling stopped")
	res, err := e.result(slowID, 30*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "ok", res.Outputs["last"])
	attempts := 0
	for _, ev := range history(t, e.c, slowID) {
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			attempts = int(a.GetAttempt())
		}
		assert.Nil(t, ev.GetActivityTaskTimedOutEventAttributes(), "the step timed out instead of finishing")
		assert.Nil(t, ev.GetActivityTaskFailedEventAttributes(), "the step was cancelled instead of finishing")
	}
	assert.Equal(t, 1, attempts, "the running step finished on its first attempt")

	// JSON logs: one object a line; a line about a step names its run,
	// step and runtime.
	stepLines := 0
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "not a JSON log line: %s", sc.Text())
		if _, ok := rec["step"]; !ok {
			assert.NotContains(t, rec["msg"], "step", "a line about a step without its step: %s", sc.Text())
			continue
		}
		stepLines++
		for _, k := range []string{"run_id", "step", "runtime", "time", "level", "msg"} {
			assert.NotEmpty(t, rec[k], "%s missing in %s", k, sc.Text())
		}
	}
	assert.GreaterOrEqual(t, stepLines, 4, stderr.String())
	assert.Contains(t, stderr.String(), `"msg":"step call failed"`)
	assert.Contains(t, stderr.String(), fmt.Sprintf(`"run_id":%q`, id))
	assert.NotContains(t, stderr.String(), "Activity error.", "the SDK's line without the step is dropped in favour of the pool's")
}

// tars dev --metrics-addr serves the embedded server's own series beside
// the workers'.
func TestDevMetricsIncludeServer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts tars dev; run without -short")
	}
	addr := freeAddr(t)
	port := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	_, stdout, stderr := startTars(t, fmt.Sprintf("dev --port %s --ui-port -1 --trace-port -1 --pools native --log-level error --metrics-addr %s", port, addr))
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "tars dev ready") },
		60*time.Second, 50*time.Millisecond, "tars dev did not start: %s %s", stdout, stderr)
	assert.Contains(t, stdout.String(), "http://"+addr+"/metrics")

	g := &globals{}
	require.NoError(t, g.resolve())
	g.address = "127.0.0.1:" + port
	c, err := g.dial(context.Background())
	require.NoError(t, err)
	defer c.Close()
	p := sleepPlan("ops-dev", 1, "1ms")
	id := newRunID(p.Name)
	run, err := c.ExecuteWorkflow(context.Background(), workflows.StartOptions(p, id, workflows.Options{}), p.Name, workflows.RunInput{Plan: p})
	require.NoError(t, err)
	require.NoError(t, run.Get(context.Background(), nil))

	// The server's registry is refreshed by its reporter once a second.
	require.Eventually(t, func() bool {
		fams := scrape(t, addr)
		return value(fams, "service_requests", map[string]string{"operation": "StartWorkflowExecution"}) >= 1 &&
			value(fams, "tars_pool_calls_total", map[string]string{"runtime": "native", "tool": "sleep"}) >= 1 &&
			value(fams, "temporal_workflow_completed_total", nil) >= 1
	}, 10*time.Second, 200*time.Millisecond, "server, pool or SDK series missing")
	code, body, err := httpGet("http://" + addr + "/readyz")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, body)
}

// tars worker --target takes pools, capacity and queue prefix from the
// deployment.yaml of --configs; an unknown target is an error naming the
// targets there.
func TestWorkerTarget(t *testing.T) {
	srv := sharedServer(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/deployment.yaml", []byte(`queue_prefix: opsdefault
targets:
  - id: small
    kind: service
    queue_prefix: opstarget
    pools:
      native: {capacity: 3}
    resources: {cpu: "1", memory_mib: 512}
`), 0o644))
	addr := freeAddr(t)
	cmd, stdout, stderr := startTars(t, fmt.Sprintf("worker --address %s --configs %s --target small --no-workflows --metrics-addr %s",
		srv.FrontendAddress(), dir, addr))
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "tars worker serving") },
		30*time.Second, 50*time.Millisecond, "%s %s", stdout, stderr)
	assert.Contains(t, stdout.String(), "serving native on")
	assert.Contains(t, stdout.String(), "(queues opstarget.*)")
	assert.Equal(t, 3.0, value(scrape(t, addr), "tars_pool_capacity", map[string]string{"runtime": "native"}))
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())

	bad := exec.Command(os.Args[0], "-test.run=^$")
	bad.Env = append(os.Environ(), fmt.Sprintf("TARS_TEST_AS_MAIN=worker --address %s --configs %s --target big", srv.FrontendAddress(), dir))
	out, err := bad.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), `--target "big": no such target in `+dir+"/deployment.yaml (targets: small)")
}
