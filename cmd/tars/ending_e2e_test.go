package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/tars-engine/tars/internal/devserver"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

// napPlan is one native sleep step of an hour: a run that is always in
// flight until something ends it.
func napPlan(name string) *plan.Plan {
	return onePlan(name, plan.Step{ID: "nap", Kind: plan.KindTool, Tool: "sleep", Runtimes: []string{"native"},
		With: json.RawMessage(`{"duration":"1h"}`), Timeout: plan.Duration(2 * time.Hour)})
}

// waitRunning waits until step's activity is running.
func (e *testEnv) waitRunning(id, step string) {
	e.t.Helper()
	require.Eventually(e.t, func() bool {
		st, err := queryState(context.Background(), e.c, id)
		return err == nil && len(st.Steps) > 0 && st.Steps[0].ID == step && st.Steps[0].Status == workflows.StatusRunning &&
			len(pendingAttempts(context.Background(), e.c, id)) > 0
	}, time.Minute, 100*time.Millisecond)
}

var reNapLine = regexp.MustCompile(`(?m)^  \S+ nap +(\S+).*$`)

// Issue 12: a run terminated with a reason says who ended it and why in
// tars run, result, status (its step no longer running, its clock
// stopped) and trace.
func TestTerminatedRunNamesItsCause(t *testing.T) {
	e := newTestEnv(t, "native")
	const reason = "stuck on a bad deploy"

	t.Run("tars run", func(t *testing.T) {
		file := writeTemp(t, "nap.yaml", "metascript: cli-nap\nsteps:\n  - id: nap\n    tool: sleep\n    with: {duration: \"1h\"}\n    timeout: 2h\n")
		id := "cli-nap-" + e.g.queuePrefix
		type result struct {
			out string
			err error
		}
		done := make(chan result, 1)
		go func() {
			out, _, err := e.cli("run", file, "--id", id, "-q")
			done <- result{out, err}
		}()
		e.waitRunning(id, "nap")
		require.NoError(t, e.c.TerminateWorkflow(context.Background(), id, "", reason))
		r := <-done
		require.Error(t, r.err, "a terminated run exits non-zero")
		assert.Contains(t, r.out, "run "+id+" terminated by ")
		assert.Contains(t, r.out, ": "+reason+" (tars trace "+id+" shows its last steps)")
	})

	id := e.startWith(napPlan("terminate-reason"), workflows.Options{})
	e.waitRunning(id, "nap")
	require.NoError(t, e.c.TerminateWorkflow(context.Background(), id, "", reason))
	_, err := e.result(id, 30*time.Second)
	require.Error(t, err)

	t.Run("tars result", func(t *testing.T) {
		out, _, err := e.cli("result", id)
		require.Error(t, err)
		assert.Regexp(t, `^run `+regexp.QuoteMeta(id)+` terminated by \S+: `+reason+` \(tars trace`, out)
		out, _, err = e.cli("result", id, "-o", "json")
		require.Error(t, err)
		var doc map[string]string
		require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
		assert.Equal(t, trace.RunTerminated, doc["status"])
		assert.Contains(t, doc["cause"], reason)
	})

	t.Run("tars status", func(t *testing.T) {
		out, _, err := e.cli("status", id)
		require.NoError(t, err, out)
		assert.Contains(t, out, "· terminated\n    terminated by ")
		assert.Contains(t, out, reason)
		m := reNapLine.FindStringSubmatch(out)
		require.NotNil(t, m, out)
		assert.Equal(t, trace.RunTerminated, m[1], "the step takes the run's fate")
		assert.NotContains(t, out, "running")
		time.Sleep(1200 * time.Millisecond)
		again, _, err := e.cli("status", id)
		require.NoError(t, err)
		assert.Equal(t, m[0], reNapLine.FindString(again), "the step's duration stopped at the run's end")
	})

	t.Run("tars trace", func(t *testing.T) {
		out, _, err := e.cli("trace", id)
		require.NoError(t, err, out)
		assert.Contains(t, out, "error: terminated by ")
		assert.Contains(t, out, reason)
		assert.Contains(t, out, "✗ nap  terminated")
		out, _, err = e.cli("trace", id, "-o", "json")
		require.NoError(t, err)
		var tr trace.Trace
		require.NoError(t, json.Unmarshal([]byte(out), &tr))
		require.NotNil(t, tr.Ending)
		assert.False(t, tr.Ending.ByServer)
		assert.Equal(t, trace.RunTerminated, tr.Step("nap").Status)
		assert.False(t, tr.Step("nap").End.IsZero())
	})

	// With no worker left to answer the state query, the step states come
	// from the history.
	t.Run("tars status without workers", func(t *testing.T) {
		e.stopWorkers()
		out, _, err := e.cli("status", id)
		require.NoError(t, err, out)
		assert.NotContains(t, out, "unavailable")
		m := reNapLine.FindStringSubmatch(out)
		require.NotNil(t, m, out)
		assert.Equal(t, trace.RunTerminated, m[1])
	})
}

// A run that passes its policy.timeout says which timeout passed, not a
// step's start-to-close.
func TestTimedOutRunNamesItsTimeout(t *testing.T) {
	e := newTestEnv(t, "native")
	p := napPlan("run-timeout")
	p.Policy.Timeout = plan.Duration(3 * time.Second)
	id := e.startWith(p, workflows.Options{})
	_, err := e.result(id, time.Minute)
	require.Error(t, err)

	out, _, err := e.cli("result", id)
	require.Error(t, err)
	assert.Equal(t, "run "+id+" timed out: the run passed its execution timeout of 3s (policy.timeout)\n", out)
	out, _, err = e.cli("result", id, "-o", "json")
	require.Error(t, err)
	assert.Contains(t, out, `"error": "timed out: the run passed its execution timeout of 3s (policy.timeout)"`)
	assert.NotContains(t, out, "start-to-close")

	out, _, err = e.cli("status", id)
	require.NoError(t, err, out)
	assert.Contains(t, out, "· timed_out\n    timed out: the run passed its execution timeout of 3s")
	m := reNapLine.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	assert.Equal(t, trace.RunTimedOut, m[1])

	out, _, err = e.cli("trace", id)
	require.NoError(t, err, out)
	assert.Contains(t, out, "✗ nap  timed_out")
}

// A run the server terminates at its history limit says so, with the
// limit's config key, everywhere. The test's own server has the limit
// lowered to 60 events (limit.historyCount.error), so a loop of echo steps
// passes it in a few seconds.
func TestHistoryLimitTerminationIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts its own embedded Temporal server; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{
		UIPort: devserver.NoUI, SearchAttributes: searchAttributes(), Tuned: true, LogLevel: "error",
		DynamicConfig: map[string]any{"limit.historyCount.error": 60, "limit.historyCount.warn": 40, "limit.historyCount.suggestContinueAsNew": 100_000},
	})
	require.NoError(t, err)
	defer func() { _ = srv.Stop() }()

	g := &globals{}
	require.NoError(t, g.resolve())
	g.address, g.namespace, g.queuePrefix, g.logLevel = srv.FrontendAddress(), srv.Namespace(), "limit", "error"
	c, err := g.dial(ctx)
	require.NoError(t, err)
	defer c.Close()
	e := &testEnv{t: t, g: g, srv: srv, c: c}
	e.startWorkers(true, "native")
	defer e.stopWorkers()

	// 50 turns of about 6 events each: well past 60 events, and under
	// the interpreter's own continue-as-new limit, so the server ends it.
	p := onePlan("history-limit", plan.Step{ID: "count", Kind: plan.KindTool, Tool: "echo", Runtimes: []string{"native"},
		While: &plan.Loop{Cond: "index < 50", Max: 50}, With: json.RawMessage(`{"value":"${index}"}`)})
	id := e.startWith(p, workflows.Options{HistoryLimit: 100_000})
	_, err = e.result(id, time.Minute)
	require.Error(t, err)
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, d.GetWorkflowExecutionInfo().GetStatus())

	out, _, err := e.cli("result", id)
	require.Error(t, err)
	assert.Contains(t, out, "run "+id+" terminated by the server: its history passed the server's limit on events per run (limit.historyCount.error")
	assert.Contains(t, out, `"Workflow history count exceeds limit"`)

	out, _, err = e.cli("status", id)
	require.NoError(t, err, out)
	assert.Contains(t, out, "· terminated\n    terminated by the server")
	assert.NotContains(t, out, "running")

	out, _, err = e.cli("trace", id, "-o", "json")
	require.NoError(t, err)
	var tr trace.Trace
	require.NoError(t, json.Unmarshal([]byte(out), &tr))
	require.NotNil(t, tr.Ending)
	assert.True(t, tr.Ending.ByServer)
	assert.Equal(t, trace.IdentityServer, tr.Ending.By)
	assert.True(t, strings.HasPrefix(tr.Error, "terminated by the server"), tr.Error)
	assert.GreaterOrEqual(t, tr.Events, 60, "the server let the history reach its limit")
}
