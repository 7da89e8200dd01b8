package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/plan"
)

// fakePools answers tool activities the way the real pools' contract says:
// echo returns its args, fail fails its first N attempts, and a runtime in
// dead never starts (schedule-to-start timeout).
type fakePools struct {
	mu       sync.Mutex
	calls    []activities.Call
	inflight atomic.Int32
	maxSeen  atomic.Int32
	dead     map[string]bool // pollers that never take a task
	live     map[string]bool // what the first probe reports
	// busy counts schedule-to-start timeouts to answer on a live runtime
	// before it takes the task: a pool that is alive but has no free slot.
	busy      map[string]int
	probes    atomic.Int32
	lostCalls int
	usage     float64
}

func (f *fakePools) run(ctx context.Context, args converter.EncodedValues) (activities.Result, error) {
	var call activities.Call
	if err := args.Get(&call); err != nil {
		return activities.Result{}, err
	}
	info := activity.GetInfo(ctx)
	if info.ActivityType.Name != call.Tool {
		return activities.Result{}, fmt.Errorf("activity type %s != tool %s", info.ActivityType.Name, call.Tool)
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	if f.dead[call.Runtime] {
		return activities.Result{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil)
	}
	f.mu.Lock()
	busy := f.busy[call.Runtime] > 0
	if busy {
		f.busy[call.Runtime]--
	}
	f.mu.Unlock()
	if busy {
		return activities.Result{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil)
	}
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	var a map[string]any
	_ = json.Unmarshal(call.Args, &a)
	switch call.Tool {
	case "echo":
		time.Sleep(2 * time.Millisecond)
		out := any(a)
		if v, ok := a["value"]; ok {
			out = v
		}
		b, _ := json.Marshal(out)
		return activities.Result{Output: b, Metrics: map[string]float64{"tokens": f.usage}}, nil
	case "fail":
		times, _ := a["times"].(float64)
		if int(info.Attempt) <= int(times) {
			return activities.Result{}, activities.Retryable(activities.ErrToolFailed, nil, "planned failure %d", info.Attempt)
		}
		return activities.Result{Output: json.RawMessage(fmt.Sprintf(`{"attempts":%d}`, info.Attempt))}, nil
	case "slow":
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return activities.Result{}, ctx.Err()
		}
		return activities.Result{Output: json.RawMessage(`{}`)}, nil
	case "lost":
		// Attempt 1 fails as a tool; attempt 2 loses its worker (a
		// start-to-close timeout after a heartbeat naming the attempt);
		// the next activity succeeds.
		f.mu.Lock()
		f.lostCalls++
		n := f.lostCalls
		f.mu.Unlock()
		switch n {
		case 1:
			return activities.Result{}, activities.Retryable(activities.ErrToolFailed, nil, "tool failure on attempt %d", info.Attempt)
		case 2:
			return activities.Result{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil, activities.Heartbeat{Attempt: int(info.Attempt)})
		}
		return activities.Result{Output: json.RawMessage(fmt.Sprintf(`{"attempt":%d,"calls":%d}`, info.Attempt, n))}, nil
	case "where":
		return activities.Result{Output: json.RawMessage(fmt.Sprintf(`{"runtime":%q}`, call.Runtime))}, nil
	}
	return activities.Result{}, activities.NonRetryable(activities.ErrToolNotFound, nil, "no tool %s", call.Tool)
}

// pollers reports f.live on the first probe. Later probes leave out the
// dead runtimes: a poller that stopped polling stops counting as live
// after the liveness window, as the real probe does.
func (f *fakePools) pollers(_ context.Context, _ PollersRequest) (PollersResult, error) {
	if f.probes.Add(1) == 1 {
		return PollersResult{Live: f.live}, nil
	}
	live := map[string]bool{}
	for rt, ok := range f.live {
		live[rt] = ok && !f.dead[rt]
	}
	return PollersResult{Live: live}, nil
}

func newEnv(t *testing.T, f *fakePools) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterDynamicWorkflow(Interpreter, workflow.DynamicRegisterOptions{})
	env.RegisterWorkflowWithOptions(Shard, workflow.RegisterOptions{Name: ShardWorkflow})
	env.RegisterDynamicActivity(f.run, activity.DynamicRegisterOptions{})
	env.RegisterActivityWithOptions(f.pollers, activity.RegisterOptions{Name: PollersActivity})
	return env
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func tool(id, name string, with string, needs ...string) plan.Step {
	return plan.Step{ID: id, Kind: plan.KindTool, Tool: name, Runtimes: []string{"native"}, With: raw(with), Needs: needs}
}

func runPlan(t *testing.T, env *testsuite.TestWorkflowEnvironment, p *plan.Plan, inputs map[string]any) (*RunResult, error) {
	t.Helper()
	if p.Name == "" {
		p.Name = "test"
	}
	env.ExecuteWorkflow(p.Name, RunInput{Plan: p, Inputs: inputs})
	require.True(t, env.IsWorkflowCompleted())
	if err := env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var res RunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return &res, nil
}

func TestDataFlowAndOutputs(t *testing.T) {
	f := &fakePools{}
	env := newEnv(t, f)
	p := &plan.Plan{
		Inputs:   []plan.Input{{Name: "who", Type: "string", Required: true}, {Name: "n", Type: "int", Default: raw(`3`)}},
		Closures: []plan.Closure{{Name: "twice", Params: []plan.Param{{Name: "x", Type: "int"}}, Returns: "int", Body: "x * 2"}},
		Steps: []plan.Step{
			tool("a", "echo", `{"value":"hello ${inputs.who}"}`),
			tool("b", "echo", `{"value":"${twice(inputs.n)}"}`),
			tool("c", "echo", `{"value":"${steps.a.output} x${steps.b.output}"}`, "a", "b"),
			{ID: "d", Kind: plan.KindSet, Set: raw(`{"len":"${size(steps.c.output)}"}`), Needs: []string{"c"}},
		},
		Outputs: []plan.Output{{Name: "msg", Value: raw(`"${steps.c.output}"`)}, {Name: "len", Value: raw(`"${steps.d.output.len}"`)}},
	}
	res, err := runPlan(t, env, p, map[string]any{"who": "tars"})
	require.NoError(t, err)
	assert.Equal(t, "hello tars x6", res.Outputs["msg"])
	assert.EqualValues(t, 13, res.Outputs["len"])
	for _, s := range res.Steps {
		assert.Equal(t, StatusOK, s.Status, s.ID)
	}
	assert.Len(t, f.calls, 3)
}

func TestBadInputs(t *testing.T) {
	env := newEnv(t, &fakePools{})
	p := &plan.Plan{Inputs: []plan.Input{{Name: "who", Type: "string", Required: true}, {Name: "n", Type: "int"}},
		Steps: []plan.Step{tool("a", "echo", `{}`)}}
	_, err := runPlan(t, env, p, map[string]any{"n": "x", "extra": 1})
	require.Error(t, err)
	for _, want := range []string{"input who (string) is required", "input n: want int, got string", "input extra is not declared"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestForeachConcurrency(t *testing.T) {
	f := &fakePools{}
	env := newEnv(t, f)
	s := tool("scan", "echo", `{"value":"${item}-${index}"}`)
	s.Foreach = "inputs.items"
	s.Concurrency = 2
	p := &plan.Plan{
		Inputs:  []plan.Input{{Name: "items", Type: "list"}},
		Steps:   []plan.Step{s},
		Outputs: []plan.Output{{Name: "all", Value: raw(`"${steps.scan.output}"`)}},
	}
	res, err := runPlan(t, env, p, map[string]any{"items": []any{"a", "b", "c", "d", "e", "f"}})
	require.NoError(t, err)
	assert.Equal(t, []any{"a-0", "b-1", "c-2", "d-3", "e-4", "f-5"}, res.Outputs["all"])
	assert.LessOrEqual(t, f.maxSeen.Load(), int32(2))
	assert.Equal(t, 6, res.Steps[0].ItemsDone)
}

func TestWhenSkips(t *testing.T) {
	f := &fakePools{}
	env := newEnv(t, f)
	b := tool("b", "echo", `{}`, "a")
	b.When = `steps.a.output == "go"`
	c := tool("c", "echo", `{"value":"${steps.b.status}"}`, "b")
	p := &plan.Plan{Steps: []plan.Step{tool("a", "echo", `{"value":"stop"}`), b, c},
		Outputs: []plan.Output{{Name: "b", Value: raw(`"${steps.c.output}"`)}}}
	res, err := runPlan(t, env, p, nil)
	require.NoError(t, err)
	assert.Equal(t, "skipped", res.Outputs["b"])
	assert.Equal(t, StatusSkipped, res.Steps[1].Status)
	assert.Len(t, f.calls, 2)
}

func TestWhileLoop(t *testing.T) {
	f := &fakePools{}
	env := newEnv(t, f)
	s := plan.Step{ID: "count", Kind: plan.KindSet, Set: raw(`"${index + 1}"`),
		While: &plan.Loop{Cond: `steps.count.output == null || steps.count.output < 4`, Max: 10}}
	capped := plan.Step{ID: "capped", Kind: plan.KindSet, Set: raw(`"${index}"`), While: &plan.Loop{Cond: "true", Max: 3}}
	p := &plan.Plan{Steps: []plan.Step{s, capped},
		Outputs: []plan.Output{{Name: "n", Value: raw(`"${steps.count.output}"`)}, {Name: "turns", Value: raw(`"${steps.capped.turns}"`)}}}
	res, err := runPlan(t, env, p, nil)
	require.NoError(t, err)
	assert.EqualValues(t, 4, res.Outputs["n"])
	assert.EqualValues(t, 3, res.Outputs["turns"])
}

func TestRetryThenSucceed(t *testing.T) {
	f := &fakePools{}
	env := newEnv(t, f)
	s := tool("flaky", "fail", `{"times":2}`)
	s.Retry = &plan.Retry{Attempts: 3, Backoff: plan.Duration(time.Millisecond)}
	p := &plan.Plan{Steps: []plan.Step{s}, Outputs: []plan.Output{{Name: "a", Value: raw(`"${steps.flaky.output.attempts}"`)}}}
	res, err := runPlan(t, env, p, nil)
	require.NoError(t, err)
	assert.EqualValues(t, 3, res.Outputs["a"])
}

func TestOnError(t *testing.T) {
	t.Run("fail ends the run with the tool's error type", func(t *testing.T) {
		env := newEnv(t, &fakePools{})
		s := tool("bad", "fail", `{"times":9}`)
		s.Retry = &plan.Retry{Attempts: 2, Backoff: plan.Duration(time.Millisecond)}
		s.Pos = "x.yaml:3:5"
		_, err := runPlan(t, env, &plan.Plan{Steps: []plan.Step{s, tool("after", "echo", `{}`, "bad")}}, nil)
		require.Error(t, err)
		var ae *temporal.ApplicationError
		require.True(t, errors.As(err, &ae))
		assert.Equal(t, activities.ErrToolFailed, ae.Type())
		assert.Contains(t, err.Error(), "step bad (x.yaml:3:5) failed")
	})
	t.Run("continue lets dependents see the failure", func(t *testing.T) {
		env := newEnv(t, &fakePools{})
		s := tool("bad", "nosuchtool", `{}`)
		s.OnError = plan.OnError{Action: plan.OnErrorContinue}
		p := &plan.Plan{Steps: []plan.Step{s, tool("after", "echo", `{"value":"${steps.bad.status}"}`, "bad")},
			Outputs: []plan.Output{{Name: "s", Value: raw(`"${steps.after.output}"`)}}}
		res, err := runPlan(t, env, p, nil)
		require.NoError(t, err)
		assert.Equal(t, "failed", res.Outputs["s"])
	})
	t.Run("step runs a handler that sees the error", func(t *testing.T) {
		f := &fakePools{}
		env := newEnv(t, f)
		s := tool("bad", "nosuchtool", `{}`)
		s.OnError = plan.OnError{Action: plan.OnErrorStep, Step: "cleanup"}
		h := tool("cleanup", "echo", `{"value":"cleaned after: ${steps.bad.error}"}`)
		p := &plan.Plan{Steps: []plan.Step{s, h},
			Outputs: []plan.Output{{Name: "h", Value: raw(`"${steps.cleanup.output}"`)}}}
		res, err := runPlan(t, env, p, nil)
		require.NoError(t, err)
		assert.Contains(t, res.Outputs["h"], "cleaned after:")
		assert.Contains(t, res.Outputs["h"], "no tool nosuchtool")
		assert.Equal(t, StatusHandled, res.Steps[0].Status)
	})
	t.Run("handler not needed is skipped", func(t *testing.T) {
		env := newEnv(t, &fakePools{})
		s := tool("good", "echo", `{}`)
		s.OnError = plan.OnError{Action: plan.OnErrorStep, Step: "cleanup"}
		res, err := runPlan(t, env, &plan.Plan{Steps: []plan.Step{s, tool("cleanup", "echo", `{}`)}}, nil)
		require.NoError(t, err)
		assert.Equal(t, StatusSkipped, res.Steps[1].Status)
	})
}

func TestChecks(t *testing.T) {
	env := newEnv(t, &fakePools{})
	s := tool("a", "echo", `{"value":3}`)
	s.Checks = []plan.Check{{Expr: "output > 1"}, {Expr: "output > 5", Message: "too small"}}
	_, err := runPlan(t, env, &plan.Plan{Steps: []plan.Step{s}}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "check failed: too small")
}

func TestPolicyLimits(t *testing.T) {
	t.Run("max_steps", func(t *testing.T) {
		env := newEnv(t, &fakePools{})
		s := tool("scan", "echo", `{}`)
		s.Foreach = "[1,2,3,4]"
		_, err := runPlan(t, env, &plan.Plan{Policy: plan.Policy{MaxSteps: 3}, Steps: []plan.Step{s}}, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "policy.max_steps 3 reached")
	})
	t.Run("budget", func(t *testing.T) {
		env := newEnv(t, &fakePools{usage: 40})
		p := &plan.Plan{Policy: plan.Policy{Budgets: map[string]float64{"tokens": 100}},
			Steps: []plan.Step{tool("a", "echo", `{}`), tool("b", "echo", `{}`, "a"), tool("c", "echo", `{}`, "b")}}
		_, err := runPlan(t, env, p, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "budget tokens exceeded at step c: used 120 of 100")
	})
}

func TestApproval(t *testing.T) {
	mk := func() *plan.Plan {
		return &plan.Plan{Steps: []plan.Step{
			{ID: "ok", Kind: plan.KindApproval, Approval: &plan.Approval{Prompt: "ship?", Timeout: plan.Duration(time.Hour), Default: "reject"}},
			func() plan.Step {
				s := tool("ship", "echo", `{"value":"shipped"}`, "ok")
				s.When = "steps.ok.approved"
				return s
			}(),
		}, Outputs: []plan.Output{{Name: "by", Value: raw(`"${steps.ok.output.by}"`)}, {Name: "ship", Value: raw(`"${steps.ship.status}"`)}}}
	}
	t.Run("signal approves", func(t *testing.T) {
		env := newEnv(t, &fakePools{})
		env.RegisterDelayedCallback(func() {
			v, err := env.QueryWorkflow(QueryState)
			require.NoError(t, err)
			var st State
			require.NoError(t, v.Get(&st))
			assert.Equal(t, StatusWaiting, st.Steps[0].Status)
			assert.Equal(t, "ship?", st.Steps[0].Prompt)
			env.SignalWorkflow(SignalApprove, Decision{Step: "ok", Approved: true, By: "ana"})
		}, time.Minute)
		res, err := runPlan(t, env, mk(), nil)
		require.NoError(t, err)
		assert.Equal(t, "ana", res.Outputs["by"])
		assert.Equal(t, "ok", res.Outputs["ship"])
	})
	t.Run("timeout takes the default", func(t *testing.T) {
		env := newEnv(t, &fakePools{})
		res, err := runPlan(t, env, mk(), nil)
		require.NoError(t, err)
		assert.Equal(t, "default", res.Outputs["by"])
		assert.Equal(t, "skipped", res.Outputs["ship"])
	})
}

func TestCallChild(t *testing.T) {
	f := &fakePools{}
	env := newEnv(t, f)
	child := &plan.Plan{Name: "child", Inputs: []plan.Input{{Name: "x", Type: "string"}},
		Steps:   []plan.Step{tool("up", "echo", `{"value":"child got ${inputs.x}"}`)},
		Outputs: []plan.Output{{Name: "said", Value: raw(`"${steps.up.output}"`)}}}
	p := &plan.Plan{Name: "parent",
		Steps:    []plan.Step{{ID: "sub", Kind: plan.KindCall, Call: &plan.Call{Metascript: "child", Inputs: raw(`{"x":"hi"}`)}}},
		Children: map[string]*plan.Plan{"child": child},
		Outputs:  []plan.Output{{Name: "said", Value: raw(`"${steps.sub.output.said}"`)}}}
	res, err := runPlan(t, env, p, nil)
	require.NoError(t, err)
	assert.Equal(t, "child got hi", res.Outputs["said"])
}

func TestFallback(t *testing.T) {
	t.Run("schedule-to-start moves to the next runtime", func(t *testing.T) {
		f := &fakePools{dead: map[string]bool{"cuda": true}, live: map[string]bool{"cuda": true, "native": true}}
		env := newEnv(t, f)
		s := tool("similar", "where", `{}`)
		s.Runtimes = []string{"cuda", "native"}
		res, err := runPlan(t, env, &plan.Plan{Steps: []plan.Step{s}, Outputs: []plan.Output{{Name: "rt", Value: raw(`"${steps.similar.output.runtime}"`)}}}, nil)
		require.NoError(t, err)
		assert.Equal(t, "native", res.Outputs["rt"])
		require.Len(t, res.Steps[0].Hops, 1)
		assert.Equal(t, Hop{Step: "similar", From: "cuda", To: "native", Reason: "not started within 1m0s"}, res.Steps[0].Hops[0])
	})
	t.Run("a runtime with no pollers is skipped without waiting", func(t *testing.T) {
		f := &fakePools{live: map[string]bool{"native": true}}
		env := newEnv(t, f)
		s := tool("similar", "where", `{}`)
		s.Runtimes = []string{"cuda", "native"}
		res, err := runPlan(t, env, &plan.Plan{Steps: []plan.Step{s}}, nil)
		require.NoError(t, err)
		assert.Equal(t, "native", res.Steps[0].Runtime)
		assert.Equal(t, "no live pollers", res.Steps[0].Hops[0].Reason)
		for _, c := range f.calls {
			assert.Equal(t, "native", c.Runtime)
		}
	})
	t.Run("never below the isolation floor", func(t *testing.T) {
		f := &fakePools{dead: map[string]bool{"hyperlight": true}, live: map[string]bool{"native": true}}
		env := newEnv(t, f)
		s := tool("exec", "where", `{}`)
		s.Runtimes = []string{"hyperlight", "native"}
		s.MinIsolation = plan.IsolationHardware
		_, err := runPlan(t, env, &plan.Plan{Steps: []plan.Step{s}}, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no pool could run tool where: tried hyperlight (not started within 1m0s)")
		for _, c := range f.calls {
			assert.Equal(t, "hyperlight", c.Runtime)
		}
	})
}

func TestContinueAsNewCarriesLoopState(t *testing.T) {
	f := &fakePools{}
	env := newEnv(t, f)
	// Each turn waits one (test-clock) minute for an approval that never
	// comes, so the history grows while the loop runs.
	loop := plan.Step{ID: "poll", Kind: plan.KindApproval, Needs: []string{"first"},
		Approval: &plan.Approval{Prompt: "again?", Timeout: plan.Duration(time.Minute), Default: "approve"},
		While:    &plan.Loop{Cond: "true", Max: 50}}
	p := &plan.Plan{Name: "looper", Steps: []plan.Step{tool("first", "echo", `{"value":1}`), loop}}
	env.RegisterDelayedCallback(func() { env.SetCurrentHistoryLength(5000) }, 10*time.Minute+time.Second)
	env.ExecuteWorkflow(p.Name, RunInput{Plan: p, Options: Options{HistoryLimit: 4000}})
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	var next RunInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Resume)
	poll := next.Resume.Steps["poll"]
	require.NotNil(t, poll)
	assert.Equal(t, StatusPaused, poll.Status)
	assert.Equal(t, 11, poll.Turns)
	assert.Equal(t, StatusOK, next.Resume.Steps["first"].Status)

	// The next run finishes the loop where the last one stopped, without
	// running finished steps again.
	env2 := newEnv(t, f)
	f.calls = nil
	env2.ExecuteWorkflow(p.Name, next)
	require.NoError(t, env2.GetWorkflowError())
	var out RunResult
	require.NoError(t, env2.GetWorkflowResult(&out))
	assert.Empty(t, f.calls)
	assert.Equal(t, 50, out.Steps[1].Turns)
	assert.Equal(t, StatusOK, out.Steps[1].Status)
}

func TestStepTimeoutIsStartToClose(t *testing.T) {
	env := newEnv(t, &fakePools{})
	s := tool("slow", "slow", `{}`)
	s.Timeout = plan.Duration(100 * time.Millisecond)
	s.Retry = &plan.Retry{Attempts: 1}
	_, err := runPlan(t, env, &plan.Plan{Steps: []plan.Step{s}}, nil)
	require.Error(t, err)
	assert.Contains(t, Describe(err), "step slow failed: timed out (start-to-close: the step's timeout)")
}

// A live pool that is only busy keeps the step: the interpreter probes
// after the schedule-to-start timeout and queues it again on the same
// runtime instead of falling back (issue 13, item 2).
func TestBusyLivePoolQueuesInsteadOfFallingBack(t *testing.T) {
	f := &fakePools{live: map[string]bool{"cuda": true, "native": true}, busy: map[string]int{"cuda": 2}}
	env := newEnv(t, f)
	s := tool("similar", "where", `{}`)
	s.Runtimes = []string{"cuda", "native"}
	res, err := runPlan(t, env, &plan.Plan{Steps: []plan.Step{s}, Outputs: []plan.Output{{Name: "rt", Value: raw(`"${steps.similar.output.runtime}"`)}}}, nil)
	require.NoError(t, err)
	assert.Equal(t, "cuda", res.Outputs["rt"], "busy but live: no fallback")
	assert.Empty(t, res.Steps[0].Hops)
	assert.Len(t, f.calls, 3, "two timeouts in the queue, then the run")
}

// A lost worker does not spend the attempts the step grants its tool
// (issue 13, item 4): with retry.attempts 2, one tool failure and one lost
// worker, the step still gets its second tool attempt.
func TestLostWorkerDoesNotSpendToolAttempts(t *testing.T) {
	f := &fakePools{}
	env := newEnv(t, f)
	s := tool("flaky", "lost", `{}`)
	s.Retry = &plan.Retry{Attempts: 2, Backoff: plan.Duration(time.Millisecond)}
	res, err := runPlan(t, env, &plan.Plan{Steps: []plan.Step{s}, Outputs: []plan.Output{{Name: "out", Value: raw(`"${steps.flaky.output}"`)}}}, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"attempt": float64(1), "calls": float64(3)}, res.Outputs["out"], "a new activity after the lost worker")
}
