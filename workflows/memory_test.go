package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/plan"
)

// eventsPerTurn is what one loop turn adds to a real history: activity
// scheduled, started, completed, and a workflow task scheduled, started,
// completed.
const eventsPerTurn = 6

// TestLongLoopContinuesAsNew runs a 3,000-turn loop whose history would
// pass the limit: it must continue as new on the way, carry its turns
// across, and finish. The test environment does not count events, so each
// completed activity adds what it adds on a real server.
func TestLongLoopContinuesAsNew(t *testing.T) {
	const turns, limit = 3000, 4000
	p := &plan.Plan{Name: "long-loop", Steps: []plan.Step{func() plan.Step {
		s := tool("turn", "echo", `{"value":"${index}"}`)
		s.While = &plan.Loop{Cond: "true", Max: turns}
		return s
	}()}, Outputs: []plan.Output{{Name: "turns", Value: raw(`"${steps.turn.turns}"`)}, {Name: "last", Value: raw(`"${steps.turn.output}"`)}}}

	in := RunInput{Plan: p, Options: Options{HistoryLimit: limit}}
	runs, total := 0, 0
	for {
		runs++
		require.LessOrEqual(t, runs, 10, "the loop never finishes")
		var s testsuite.WorkflowTestSuite
		s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		env := s.NewTestWorkflowEnvironment()
		env.RegisterDynamicWorkflow(Interpreter, workflow.DynamicRegisterOptions{})
		env.RegisterDynamicActivity(echoTool, activity.DynamicRegisterOptions{})
		events := 5 // started, first workflow task
		env.SetOnActivityCompletedListener(func(*activity.Info, converter.EncodedValue, error) {
			total++
			events += eventsPerTurn
			env.SetCurrentHistoryLength(events)
		})
		env.ExecuteWorkflow(p.Name, in)
		require.True(t, env.IsWorkflowCompleted())
		assert.LessOrEqual(t, events, limit+eventsPerTurn, "run %d went past the history limit", runs)
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			var next RunInput
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			require.NotNil(t, next.Resume)
			require.Equal(t, StatusPaused, next.Resume.Steps["turn"].Status)
			in = next
			continue
		}
		require.NoError(t, err)
		var res RunResult
		require.NoError(t, env.GetWorkflowResult(&res))
		assert.EqualValues(t, turns, res.Outputs["turns"])
		assert.EqualValues(t, turns-1, res.Outputs["last"])
		break
	}
	assert.Equal(t, turns, total, "every turn ran once, none twice")
	assert.Equal(t, 5, runs, "3,000 turns of 6 events in runs of at most 4,000 events")
}

// chainPlan is n echo steps, each reading the output of the one before.
func chainPlan(n int) *plan.Plan {
	p := &plan.Plan{Name: fmt.Sprintf("chain-%d", n)}
	for i := range n {
		id := fmt.Sprintf("s%04d", i)
		if i == 0 {
			p.Steps = append(p.Steps, tool(id, "echo", `{"value":"start"}`))
			continue
		}
		prev := p.Steps[i-1].ID
		p.Steps = append(p.Steps, tool(id, "echo", `{"value":"${steps.`+prev+`.output}"}`, prev))
	}
	p.Outputs = []plan.Output{{Name: "last", Value: raw(`"${steps.` + p.Steps[n-1].ID + `.output}"`)}}
	return p
}

// chainWorkflow is the hand-written twin of chainPlan: n activities one
// after the other, each given the output of the last.
func chainWorkflow(ctx workflow.Context, n int) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: "native", StartToCloseTimeout: time.Minute})
	out := "start"
	for range n {
		if err := workflow.ExecuteActivity(ctx, "plain", out).Get(ctx, &out); err != nil {
			return "", err
		}
	}
	return out, nil
}

// heapWhenLastStepRuns runs a workflow in the test environment and returns
// the live heap, after a GC, while its last activity runs (when the
// workflow's state is as large as it gets) minus the live heap before the
// run.
func heapWhenLastStepRuns(b *testing.B, n int, run func(env *testsuite.TestWorkflowEnvironment)) uint64 {
	b.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterDynamicWorkflow(Interpreter, workflow.DynamicRegisterOptions{})
	env.RegisterDynamicActivity(echoTool, activity.DynamicRegisterOptions{})
	env.RegisterWorkflow(chainWorkflow)
	calls := 0
	var at uint64
	env.RegisterActivityWithOptions(func(v string) (string, error) { return v, nil }, activity.RegisterOptions{Name: "plain"})
	env.SetOnActivityStartedListener(func(*activity.Info, context.Context, converter.EncodedValues) {
		calls++
		if calls == n {
			at = liveHeap()
		}
	})
	before := liveHeap()
	run(env)
	require.True(b, env.IsWorkflowCompleted())
	require.NoError(b, env.GetWorkflowError())
	runtime.KeepAlive(env)
	if at < before {
		return 0
	}
	return at - before
}

// echoTool is the native echo tool's contract without fakePools' pause.
func echoTool(_ context.Context, args converter.EncodedValues) (activities.Result, error) {
	var call activities.Call
	if err := args.Get(&call); err != nil {
		return activities.Result{}, err
	}
	var a struct {
		Value json.RawMessage `json:"value"`
	}
	_ = json.Unmarshal(call.Args, &a)
	return activities.Result{Output: a.Value}, nil
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkInterpreterState measures the heap a run holds while its last
// step runs, for chains of 250 to 2,000 steps, against the hand-written
// chain of as many activities in the same test environment (which keeps
// the history in memory, so both grow with n). bytes/step staying flat
// across n shows the state is linear in the Plan; tars-go-bytes/step is
// what the interpreter adds per step (its Plan, step states, the `steps`
// variable and one live coroutine).
//
//	go test ./workflows -run '^$' -bench InterpreterState -benchtime 3x
func BenchmarkInterpreterState(b *testing.B) {
	for _, n := range []int{250, 500, 1000, 2000} {
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			p := chainPlan(n)
			var tarsBytes, goBytes uint64
			for range b.N {
				tarsBytes += heapWhenLastStepRuns(b, n, func(env *testsuite.TestWorkflowEnvironment) {
					env.ExecuteWorkflow(p.Name, RunInput{Plan: p})
				})
				goBytes += heapWhenLastStepRuns(b, n, func(env *testsuite.TestWorkflowEnvironment) {
					env.ExecuteWorkflow(chainWorkflow, n)
				})
			}
			perStep := func(total uint64) float64 { return float64(total) / float64(b.N) / float64(n) }
			b.ReportMetric(perStep(tarsBytes), "tars-bytes/step")
			b.ReportMetric(perStep(goBytes), "go-bytes/step")
			b.ReportMetric(perStep(tarsBytes)-perStep(goBytes), "tars-go-bytes/step")
			b.ReportMetric(float64(tarsBytes)/float64(b.N)/(1<<20), "tars-MiB")
		})
	}
}
