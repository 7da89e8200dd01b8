package bench

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/cuda/kernels"
	"github.com/tars-engine/tars/metascripts"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
)

func TestParseWorkloads(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"", Workloads, ""},
		{"all", Workloads, ""},
		{"foreach, sequential,foreach", []string{Sequential, Foreach}, ""},
		{"latency", []string{Latency}, ""},
		{"foreach-1m,foreach-100k,foreach-1k", []string{ForeachWide, ForeachLarge, ForeachHuge}, ""},
		{"sequental", nil, `unknown workload "sequental"`},
		{" , ", nil, "no workload"},
	}
	for _, tt := range tests {
		got, err := ParseWorkloads(tt.in)
		if tt.wantErr != "" {
			assert.ErrorContains(t, err, tt.wantErr, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func compileAll(t *testing.T) *Metascripts {
	t.Helper()
	inv, err := workers.Inventory(workers.PoolConfig{ModulesDir: "../../activities/wasm/guests/bin", GuestsDir: "../../activities/hyperlight/guests/bin"})
	require.NoError(t, err)
	m, err := Compile(metascripts.Options{Catalog: inv}, MixedPools([]string{plan.RuntimeCUDA, plan.RuntimeNative, plan.RuntimeWASM, plan.RuntimeHyperlight}))
	require.NoError(t, err)
	return m
}

func TestMetascriptsCompile(t *testing.T) {
	m := compileAll(t)
	require.Len(t, m.Sequential.Steps, SequentialSteps)
	for i, s := range m.Sequential.Steps {
		assert.Equal(t, []string{plan.RuntimeNative}, s.Runtimes, s.ID)
		if i > 0 {
			assert.Equal(t, []string{m.Sequential.Steps[i-1].ID}, s.Needs, "step %s runs after the one before", s.ID)
		}
	}
	require.Len(t, m.Foreach.Steps, 1)
	assert.Equal(t, ForeachConcurrency, m.Foreach.Steps[0].Concurrency)
	assert.Equal(t, LoopTurns, m.Loop.Steps[0].While.Max)
	require.NotNil(t, m.Mixed)
	var runtimes []string
	for _, s := range m.Mixed.Steps {
		runtimes = append(runtimes, s.Runtimes...)
	}
	assert.Equal(t, []string{"native", "wasm", "hyperlight", "cuda", "native"}, runtimes, "one foreach per pool, then the join")
	assert.Equal(t, 4*MixedItems+1, countActivities(m.Mixed, MixedItems))
}

// The cuda step's args are what vector.topk takes: checked against the
// CPU reference, since this machine may have no GPU.
func TestMixedCUDAArgs(t *testing.T) {
	m := compileAll(t)
	var with json.RawMessage
	for _, s := range m.Mixed.Steps {
		if s.Runtimes[0] == plan.RuntimeCUDA {
			with = s.With
		}
	}
	require.NotNil(t, with)
	var args kernels.TopKArgs
	require.NoError(t, kernels.Decode(kernels.ToolTopK, with, &args))
	out, err := kernels.TopKCPU(args)
	require.NoError(t, err)
	assert.Equal(t, 0, out.Indices[0])
}

func TestMixedPools(t *testing.T) {
	assert.Equal(t, []string{"native", "hyperlight"}, MixedPools([]string{"hyperlight", "native"}))
	assert.Empty(t, MixedPools(nil))
}

// recorder is the echo activity of the test environment: it records what
// each side sends, encoded as the SDK encodes it for the server.
type recorder struct {
	mu    sync.Mutex
	sizes []int
	types []string
}

func (r *recorder) echo(ctx context.Context, call activities.Call) (activities.Result, error) {
	p, err := converter.GetDefaultDataConverter().ToPayload(call)
	if err != nil {
		return activities.Result{}, err
	}
	r.mu.Lock()
	r.sizes = append(r.sizes, len(p.GetData()))
	r.types = append(r.types, activity.GetInfo(ctx).TaskQueue)
	r.mu.Unlock()
	return EchoActivity(ctx, call)
}

func testEnv(rec *recorder) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterDynamicWorkflow(workflows.Interpreter, workflow.DynamicRegisterOptions{})
	for _, f := range []any{SequentialWorkflow, FanOutWorkflow, OneStepWorkflow} {
		env.RegisterWorkflow(f)
	}
	env.RegisterActivityWithOptions(rec.echo, activity.RegisterOptions{Name: EchoName})
	return env
}

// TestSidesSendTheSameActivities runs each workload's metascript through
// the interpreter and its hand-written twin, and checks that both schedule
// the same number of activities with the same input sizes.
func TestSidesSendTheSameActivities(t *testing.T) {
	m := compileAll(t)
	items := ForeachInput(ForeachItems)
	goQueue := workflows.RuntimeQueue(GoPrefix, plan.RuntimeNative)
	tests := []struct {
		name   string
		plan   *plan.Plan
		inputs map[string]any
		goWF   any
		goIn   BaselineInput
		count  int
	}{
		{Sequential, m.Sequential, nil, SequentialWorkflow, BaselineInput{Queue: goQueue, Steps: SequentialSteps}, SequentialSteps},
		{Foreach, m.Foreach, map[string]any{"items": items}, FanOutWorkflow, BaselineInput{Queue: goQueue, Items: items, Concurrency: ForeachConcurrency}, ForeachItems},
		{"one step", m.OneStep, nil, OneStepWorkflow, BaselineInput{Queue: goQueue}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tarsRec, goRec := &recorder{}, &recorder{}
			env := testEnv(tarsRec)
			o := workflows.Options{QueuePrefix: TARSPrefix}
			env.ExecuteWorkflow(tt.plan.Name, workflows.RunInput{Plan: tt.plan, Inputs: tt.inputs, Options: o})
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())

			env = testEnv(goRec)
			env.ExecuteWorkflow(tt.goWF, tt.goIn)
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			var n int
			require.NoError(t, env.GetWorkflowResult(&n))
			assert.Equal(t, tt.count, n)

			require.Len(t, tarsRec.sizes, tt.count)
			require.Len(t, goRec.sizes, tt.count)
			slices.Sort(tarsRec.sizes)
			slices.Sort(goRec.sizes)
			assert.Equal(t, tarsRec.sizes, goRec.sizes, "activity inputs of the same sizes")
			assert.Equal(t, workflows.RuntimeQueue(TARSPrefix, plan.RuntimeNative), tarsRec.types[0])
			assert.Equal(t, goQueue, goRec.types[0])
		})
	}
}

func TestEchoActivity(t *testing.T) {
	tests := []struct{ args, want string }{
		{`{"value":"tars-bench"}`, `"tars-bench"`},
		{`{"value":7}`, `7`},
		{`{"other":1}`, `{"other":1}`},
		{`[1,2]`, `[1,2]`},
		{``, `null`},
	}
	for _, tt := range tests {
		res, err := EchoActivity(context.Background(), activities.Call{Args: []byte(tt.args)})
		require.NoError(t, err)
		assert.JSONEq(t, tt.want, string(res.Output), tt.args)
	}
}
