package workflows

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/plan"
)

// engineEnv serves e (its runs and shards) with the fake pools.
func engineEnv(e *Engine, f *fakePools) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterDynamicWorkflow(e.Run, workflow.DynamicRegisterOptions{})
	env.RegisterWorkflowWithOptions(e.Shard, workflow.RegisterOptions{Name: ShardWorkflow})
	env.RegisterDynamicActivity(f.run, activity.DynamicRegisterOptions{})
	env.RegisterActivityWithOptions(f.pollers, activity.RegisterOptions{Name: PollersActivity})
	return env
}

func enginePlan() *plan.Plan {
	return &plan.Plan{Schema: plan.SchemaVersion, Name: "greet",
		Inputs:  []plan.Input{{Name: "who", Type: "string", Required: true}},
		Steps:   []plan.Step{tool("say", "echo", `{"v":"${inputs.who}"}`)},
		Outputs: []plan.Output{{Name: "said", Value: raw(`"${steps.say.output.v}"`)}}}
}

// A run by name takes the catalogue's Plan; its input holds only inputs.
func TestEngineRunsByName(t *testing.T) {
	cat := plan.NewCatalogue()
	_, err := cat.Add(enginePlan(), "test")
	require.NoError(t, err)
	env := engineEnv(&Engine{Catalogue: cat}, &fakePools{live: map[string]bool{"native": true}})
	env.ExecuteWorkflow("greet", map[string]any{"who": "ada"})
	require.NoError(t, env.GetWorkflowError())
	var res RunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, "ada", res.Outputs["said"])
}

// Unknown names, bad inputs and ad-hoc Plans on a worker that does not
// allow them fail at once, saying why.
func TestEngineRefuses(t *testing.T) {
	cat := plan.NewCatalogue()
	_, err := cat.Add(enginePlan(), "test")
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		typ  string
		args []any
		want string
	}{
		{"unknown type", "nope", []any{map[string]any{}}, `no metascript "nope" in the catalogue of this worker (it serves: greet)`},
		{"missing input", "greet", []any{map[string]any{}}, "input who (string) is required"},
		{"inputs not an object", "greet", []any{"ada"}, "must be a JSON object"},
		{"recorded RunInput", "greet", []any{RunInput{Plan: &plan.Plan{Name: "greet", Steps: []plan.Step{tool("x", "shell", `{}`)}}}}, "does not run ad-hoc metascripts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := engineEnv(&Engine{Catalogue: cat}, &fakePools{live: map[string]bool{"native": true}})
			env.ExecuteWorkflow(c.typ, c.args...)
			err := env.GetWorkflowError()
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	p := enginePlan()
	p.Steps[0].Tool = "shell"
	spec, _, err := AdhocSpec(p, Options{})
	require.NoError(t, err)
	env := engineEnv(&Engine{Catalogue: cat}, &fakePools{})
	env.ExecuteWorkflow("greet", map[string]any{"who": "x"}, spec)
	require.ErrorContains(t, env.GetWorkflowError(), "--allow-adhoc")

	// A shard sent with its own Plan is an ad-hoc run too.
	env = engineEnv(&Engine{Catalogue: cat}, &fakePools{})
	env.ExecuteWorkflow(ShardWorkflow, ShardInput{Plan: p, Step: "say", Range: &ItemRange{From: 0, Count: 3}})
	require.ErrorContains(t, env.GetWorkflowError(), "--allow-adhoc")
}
