package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/native"
	"github.com/tars-engine/tars/metascripts"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
)

// Failures found by trying TARS hard (issue 13), each on the real server.

func onePlan(name string, steps ...plan.Step) *plan.Plan {
	return &plan.Plan{Schema: plan.SchemaVersion, Name: name, SHA256: "test", Steps: steps}
}

// startNative serves a native pool of the given capacity on e's prefix,
// without the interpreter, and stops it with the test.
func (e *testEnv) startNative(capacity int, tools ...native.Tool) *workers.Host {
	e.t.Helper()
	r := native.New(native.Config{Capacity: capacity})
	for _, tl := range tools {
		require.NoError(e.t, r.Register(tl))
	}
	h, err := workers.Start(workers.Options{Client: e.c, QueuePrefix: e.g.queuePrefix, Runners: []activities.Runner{r}, Logger: e.g.logger()})
	require.NoError(e.t, err)
	e.t.Cleanup(h.Stop)
	return h
}

// waitLive waits until the server counts each runtime's pool live: a
// worker's pollers show only once their first poll has reached the
// server, a moment after the worker starts.
func (e *testEnv) waitLive(runtimes ...string) {
	e.t.Helper()
	require.Eventually(e.t, func() bool {
		live, err := e.g.livePools(context.Background())
		if err != nil {
			return false
		}
		for _, rt := range runtimes {
			if !live[rt] {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "pools %v never counted live", runtimes)
}

func (e *testEnv) startWith(p *plan.Plan, o workflows.Options) string {
	e.t.Helper()
	o.QueuePrefix = e.g.queuePrefix
	id := newRunID(p.Name)
	spec, _, err := workflows.AdhocSpec(p, o)
	require.NoError(e.t, err)
	_, err = workflows.StartRun(context.Background(), e.c, workflows.StartOptions(p, id, o), p.Name, workflows.StartArgs(nil, spec)...)
	require.NoError(e.t, err)
	return id
}

// Item 1: a burst of 1,000 starts (burstRuns), each waited for, loses none.
func TestBurstOfStartsLosesNone(t *testing.T) {
	e := newTestEnv(t, "native")
	p := onePlan("burst", plan.Step{ID: "hi", Kind: plan.KindTool, Tool: "echo", Runtimes: []string{"native"}, With: json.RawMessage(`{"value":1}`)})
	n := burstRuns
	var failed atomic.Int32
	errs := make(chan error, n)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := range n {
		wg.Go(func() {
			o := workflows.Options{QueuePrefix: e.g.queuePrefix}
			run, err := workflows.StartRun(ctx, e.c, workflows.StartOptions(p, fmt.Sprintf("burst-%s-%d", e.g.queuePrefix, i), o), p.Name, workflows.RunInput{Plan: p, Options: o})
			if err == nil {
				err = run.Get(ctx, nil)
			}
			if err != nil {
				failed.Add(1)
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Log(err)
		break
	}
	assert.Zero(t, failed.Load(), "runs lost out of %d", n)
}

// Item 2: a step queued behind a busy but live pool waits for a slot; it
// does not fail with NoPool.
func TestBusyPoolQueuesSteps(t *testing.T) {
	e := newTestEnv(t)
	e.startNative(1)
	nap := func(id string, runtimes ...string) plan.Step {
		return plan.Step{ID: id, Kind: plan.KindTool, Tool: "sleep", Runtimes: runtimes, Foreach: "[1, 2, 3]", Concurrency: 3,
			With: json.RawMessage(`{"duration":"1200ms"}`), Timeout: plan.Duration(time.Minute)}
	}
	o := workflows.Options{ScheduleToStart: plan.Duration(time.Second)}
	t.Run("last runtime of the chain", func(t *testing.T) {
		id := e.startWith(onePlan("busy-last", nap("nap", "native")), o)
		res, err := e.result(id, time.Minute)
		require.NoError(t, err, "three 1.2s items through one slot wait longer than the 1s schedule-to-start")
		assert.Equal(t, workflows.StatusOK, res.Steps[0].Status)
	})
	t.Run("live runtime before a fallback", func(t *testing.T) {
		id := e.startWith(onePlan("busy-chain", nap("nap", "native", "wasm")), o)
		res, err := e.result(id, time.Minute)
		require.NoError(t, err)
		assert.Empty(t, res.Steps[0].Hops, "native was busy, not gone: no hop to wasm")
	})
}

// Item 3: liveness follows the pollers within about ten seconds of a pool
// going away.
func TestLivenessFollowsPollers(t *testing.T) {
	e := newTestEnv(t)
	h := e.startNative(4)
	e.waitLive("native")
	h.Stop()
	gone := time.Now()
	require.Eventually(t, func() bool {
		live, err := e.g.livePools(context.Background())
		return err == nil && !live["native"]
	}, 20*time.Second, 250*time.Millisecond, "native still counted live")
	t.Logf("native counted gone %s after its worker stopped", time.Since(gone).Round(100*time.Millisecond))
}

// Item 4: a worker lost mid-call does not spend the step's tool attempts.
func TestLostWorkerKeepsToolAttempts(t *testing.T) {
	e := newTestEnv(t)
	var calls atomic.Int32
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.startNative(4, native.Tool{Name: "hangs-once", Func: func(ctx context.Context, call activities.Call) (activities.Result, error) {
		switch calls.Add(1) {
		case 1:
			return activities.Result{}, activities.Retryable(activities.ErrToolFailed, nil, "a real tool failure")
		case 2:
			<-release // the worker hangs: Temporal's start-to-close timeout fires
			return activities.Result{}, fmt.Errorf("released")
		}
		return activities.Result{Output: json.RawMessage(`{"ok":true}`)}, nil
	}})
	s := plan.Step{ID: "flaky", Kind: plan.KindTool, Tool: "hangs-once", Runtimes: []string{"native"},
		Timeout: plan.Duration(2 * time.Second), Retry: &plan.Retry{Attempts: 2, Backoff: plan.Duration(100 * time.Millisecond)}}
	id := e.startWith(onePlan("lost-worker", s), workflows.Options{})
	res, err := e.result(id, time.Minute)
	require.NoError(t, err, "one tool failure and one lost worker leave the second tool attempt")
	assert.Equal(t, workflows.StatusOK, res.Steps[0].Status)
	assert.EqualValues(t, 3, calls.Load())
}

func approvalPlan(name string, timeout time.Duration) *plan.Plan {
	p := onePlan(name,
		plan.Step{ID: "quick", Kind: plan.KindApproval, Approval: &plan.Approval{Prompt: "quick?", Timeout: plan.Duration(timeout), Default: "reject"}},
		plan.Step{ID: "gate", Kind: plan.KindApproval, Needs: []string{"quick"}, Approval: &plan.Approval{Prompt: "ship?"}},
		plan.Step{ID: "after", Kind: plan.KindSet, Needs: []string{"gate"}, Set: json.RawMessage(`"${steps.gate.approved}"`)},
	)
	p.Outputs = []plan.Output{{Name: "shipped", Value: json.RawMessage(`"${steps.after.output}"`)}}
	return p
}

// Item 5: decisions are an Update whose validator refuses what cannot be
// decided, with the reason.
func TestApprovalDecisionsAreValidated(t *testing.T) {
	e := newTestEnv(t)
	id := e.startWith(approvalPlan("approvals", 300*time.Millisecond), workflows.Options{})
	require.Eventually(t, func() bool {
		st, err := queryState(context.Background(), e.c, id)
		return err == nil && st.Steps[1].Status == workflows.StatusWaiting
	}, 30*time.Second, 100*time.Millisecond)
	ctx := context.Background()
	for step, want := range map[string]string{
		"typo":  `run has no step "typo" (approval steps: quick, gate)`,
		"after": "step after is a set step, not an approval",
		"quick": "step quick timed out and took its default (approved=false)",
	} {
		_, err := decide(ctx, e.c, id, workflows.Decision{Step: step, Approved: true, By: "e2e"})
		require.Error(t, err, step)
		assert.Contains(t, err.Error(), want)
	}
	res, err := decide(ctx, e.c, id, workflows.Decision{Step: "gate", Approved: true, By: "e2e"})
	require.NoError(t, err)
	assert.Equal(t, workflows.DecisionResult{Step: "gate", Approved: true, Waiting: true}, res)
	_, err = decide(ctx, e.c, id, workflows.Decision{Step: "gate", Approved: false, By: "late"})
	if err != nil { // the run may already have closed
		assert.Regexp(t, "already decided|already completed|already .*ok", err.Error())
	}
	out, err := e.result(id, 30*time.Second)
	require.NoError(t, err)
	assert.Equal(t, true, out.Outputs["shipped"], "the first decision stands")
}

// Item 6: a cancelled run ends Canceled, not Failed.
func TestCancelEndsCanceled(t *testing.T) {
	e := newTestEnv(t)
	id := e.startWith(approvalPlan("cancel-me", time.Hour), workflows.Options{})
	require.Eventually(t, func() bool {
		st, err := queryState(context.Background(), e.c, id)
		return err == nil && st.Steps[0].Status == workflows.StatusWaiting
	}, 30*time.Second, 100*time.Millisecond)
	require.NoError(t, e.c.CancelWorkflow(context.Background(), id, ""))
	_, err := e.result(id, 30*time.Second)
	require.Error(t, err)
	assert.True(t, temporal.IsCanceledError(err), "want a cancellation, got %v", err)
	d, err := e.c.DescribeWorkflowExecution(context.Background(), id, "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, d.GetWorkflowExecutionInfo().GetStatus())

	t.Run("a running activity is told to stop", func(t *testing.T) {
		e.startNative(4)
		p := onePlan("cancel-running", plan.Step{ID: "nap", Kind: plan.KindTool, Tool: "sleep", Runtimes: []string{"native"},
			With: json.RawMessage(`{"duration":"10m"}`), Timeout: plan.Duration(time.Hour)})
		id := e.startWith(p, workflows.Options{})
		require.Eventually(t, func() bool {
			st, err := queryState(context.Background(), e.c, id)
			return err == nil && st.Steps[0].Status == workflows.StatusRunning && len(pendingAttempts(context.Background(), e.c, id)) > 0
		}, 30*time.Second, 100*time.Millisecond)
		require.NoError(t, e.c.CancelWorkflow(context.Background(), id, ""))
		_, err := e.result(id, 30*time.Second)
		require.True(t, temporal.IsCanceledError(err), "want a cancellation, got %v", err)
		requested := false
		for _, ev := range history(t, e.c, id) {
			requested = requested || ev.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED
		}
		assert.True(t, requested, "the sleep activity was asked to stop")
	})
}

// Item 7: tars status of a terminated run shows no step as still running,
// and tars approve refuses a typo with a non-zero exit.
func TestStatusOfTerminatedRunAndApproveRefusal(t *testing.T) {
	e := newTestEnv(t)
	id := e.startWith(approvalPlan("terminate-me", time.Hour), workflows.Options{})
	require.Eventually(t, func() bool {
		st, err := queryState(context.Background(), e.c, id)
		return err == nil && st.Steps[0].Status == workflows.StatusWaiting
	}, 30*time.Second, 100*time.Millisecond)

	out, _, err := e.cli("approve", id, "typo")
	require.Error(t, err, out)
	assert.Contains(t, err.Error(), `refused the decision: run has no step "typo"`)

	require.NoError(t, e.c.TerminateWorkflow(context.Background(), id, "", "test"))
	out, _, err = e.cli("status", id)
	require.NoError(t, err, out)
	assert.Contains(t, out, "terminated")
	assert.NotContains(t, out, "waiting")
	assert.NotContains(t, out, "running")
}

// Continue-as-new on the real server: a loop whose history passes the
// run's limit continues as new, carries its state, and completes.
func TestLoopContinuesAsNewOnServer(t *testing.T) {
	e := newTestEnv(t, "native")
	p := onePlan("long-loop", plan.Step{ID: "count", Kind: plan.KindTool, Tool: "echo", Runtimes: []string{"native"},
		While: &plan.Loop{Cond: "index < 20", Max: 50}, With: json.RawMessage(`{"value":"${index}"}`)})
	p.Outputs = []plan.Output{{Name: "last", Value: json.RawMessage(`"${steps.count.output}"`)}, {Name: "turns", Value: json.RawMessage(`"${steps.count.turns}"`)}}
	o := workflows.Options{QueuePrefix: e.g.queuePrefix, HistoryLimit: 40}
	run, err := workflows.StartRun(context.Background(), e.c, workflows.StartOptions(p, newRunID(p.Name), o), p.Name, workflows.RunInput{Plan: p, Options: o})
	require.NoError(t, err)
	id, runID := run.GetID(), run.GetRunID()
	res, err := e.result(id, 2*time.Minute)
	require.NoError(t, err)
	assert.EqualValues(t, 19, res.Outputs["last"])
	assert.EqualValues(t, 20, res.Outputs["turns"])
	chain := 0
	for runID != "" {
		chain++
		next := ""
		it := e.c.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		runID = next
	}
	assert.GreaterOrEqual(t, chain, 2, "runs in the continue-as-new chain")
	t.Logf("20 turns in %d runs", chain)
}

// tars run and result name how a run ended, not "failed" for everything.
func TestRunOutcomeWords(t *testing.T) {
	assert.Equal(t, "run r cancelled", runOutcome("r", temporal.NewCanceledError()))
	assert.Equal(t, "run r timed out: it passed policy.timeout", runOutcome("r", temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil)))
	assert.Equal(t, "run r failed: boom [StepFailed]", runOutcome("r", temporal.NewApplicationError("boom", workflows.ErrStepFailed)))
}

// tars dev --run says when an example needs a pool this machine cannot
// serve, instead of waiting for it (issue 13, item 8).
func TestUnservableStepsAreNamed(t *testing.T) {
	g := &globals{}
	require.NoError(t, g.resolve())
	p, err := g.compile("../../metascripts/examples/incident-triage.yaml")
	require.NoError(t, err)
	steps, rts := unservable(p, []string{"native", "wasm"})
	assert.Equal(t, []string{"step fix (tool policy-check) needs hyperlight"}, steps)
	assert.Equal(t, []string{"hyperlight"}, rts)
	steps, _ = unservable(p, []string{"native", "wasm", "hyperlight"})
	assert.Empty(t, steps)
}

// Secret inputs never enter the history (issue 17, item 8): the pool reads
// the value from its environment, and masks it in what the tool returns.
func TestSecretInputsStayOutOfTheHistory(t *testing.T) {
	const secret = "s3cr3t-\"value\"-42"
	t.Setenv("TARS_SECRET_TOKEN", secret)
	e := newTestEnvCeiling(t, activities.Ceiling{Env: []string{"TARS_SECRET_TOKEN"}}, "native")
	src := []byte(`metascript: secret-use
inputs:
  token: {type: string, secret: true}
steps:
  - {id: auth, tool: echo, with: {value: "${'Bearer ' + inputs.token}"}}
outputs:
  header: ${steps.auth.output}
`)
	p, err := metascripts.Compile("secret-use.yaml", src, metascripts.Options{Catalog: mustInventory(t, e.g)})
	require.NoError(t, err)
	id := e.startWith(p, workflows.Options{})
	res, err := e.result(id, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "Bearer ***", res.Outputs["header"], "the tool saw the value; the history holds it masked")
	for _, ev := range history(t, e.c, id) {
		b, err := protojson.Marshal(ev)
		require.NoError(t, err)
		assert.NotContains(t, string(b), "s3cr3t", "event %d %s", ev.GetEventId(), ev.GetEventType())
	}

	_, err = parseInputs(p, "", []string{"token=abc"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TARS_SECRET_TOKEN")

	t.Setenv("TARS_SECRET_TOKEN", "")
	os.Unsetenv("TARS_SECRET_TOKEN")
	id = e.startWith(p, workflows.Options{})
	_, err = e.result(id, time.Minute)
	require.Error(t, err)
	assert.Contains(t, workflows.Describe(err), "TARS_SECRET_TOKEN is not set on this worker")
}

func mustInventory(t *testing.T, g *globals) workers.ToolInventory {
	t.Helper()
	inv, err := workers.Inventory(g.poolConfig())
	require.NoError(t, err)
	return inv
}
