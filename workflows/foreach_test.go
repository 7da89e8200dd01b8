package workflows

import (
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/plan"
)

// foreachPaths runs a test against both ways a foreach of one activity per
// item runs: the selector (new runs) and a coroutine per item (histories
// recorded before ChangeForeachSelector).
func foreachPaths(t *testing.T, test func(t *testing.T, f *fakePools, env *testsuite.TestWorkflowEnvironment)) {
	for _, path := range []struct {
		name    string
		version workflow.Version
	}{{"selector", 1}, {"coroutines", workflow.DefaultVersion}} {
		t.Run(path.name, func(t *testing.T) {
			f := &fakePools{}
			env := newEnv(t, f)
			env.OnGetVersion(ChangeForeachSelector, workflow.DefaultVersion, 1).Return(path.version)
			test(t, f, env)
		})
	}
}

func TestForeachPaths(t *testing.T) {
	items := []any{"a", "b", "c", "d", "e", "f", "g"}
	p := func(concurrency int, with string) *plan.Plan {
		s := tool("scan", "echo", with)
		s.Foreach = "inputs.items"
		s.Concurrency = concurrency
		return &plan.Plan{
			Inputs:  []plan.Input{{Name: "items", Type: "list"}},
			Steps:   []plan.Step{s, tool("after", "echo", `{"value":"${steps.scan.status}"}`, "scan")},
			Outputs: []plan.Output{{Name: "all", Value: raw(`"${steps.scan.output}"`)}, {Name: "after", Value: raw(`"${steps.after.output}"`)}},
		}
	}
	t.Run("outputs in item order, at most concurrency at once", func(t *testing.T) {
		foreachPaths(t, func(t *testing.T, f *fakePools, env *testsuite.TestWorkflowEnvironment) {
			res, err := runPlan(t, env, p(3, `{"value":"${item}-${index}"}`), map[string]any{"items": items})
			require.NoError(t, err)
			assert.Equal(t, []any{"a-0", "b-1", "c-2", "d-3", "e-4", "f-5", "g-6"}, res.Outputs["all"])
			assert.Equal(t, "ok", res.Outputs["after"])
			assert.LessOrEqual(t, f.maxSeen.Load(), int32(3))
			assert.Equal(t, 7, res.Steps[0].Items)
			assert.Equal(t, 7, res.Steps[0].ItemsDone)
			assert.Equal(t, "native", res.Steps[0].Runtime)
			var steps []string
			for _, c := range f.calls {
				steps = append(steps, fmt.Sprintf("%s/%d", c.Step, c.Item))
			}
			sort.Strings(steps)
			assert.Equal(t, []string{"after/0", "scan/0", "scan/1", "scan/2", "scan/3", "scan/4", "scan/5", "scan/6"}, steps)
		})
	})
	t.Run("a failed item stops new items and fails the step", func(t *testing.T) {
		foreachPaths(t, func(t *testing.T, f *fakePools, env *testsuite.TestWorkflowEnvironment) {
			pl := p(1, `{}`)
			pl.Steps[0].Tool = "fail"
			pl.Steps[0].With = raw(`{"times":"${item == 'c' ? 9 : 0}"}`)
			pl.Steps[0].Retry = &plan.Retry{Attempts: 1}
			_, err := runPlan(t, env, pl, map[string]any{"items": items})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "step scan failed: item 2:")
			assert.Len(t, f.calls, 3, "items after the failure never start")
		})
	})
	t.Run("schedule-to-start with nowhere to go fails the step and records the hop", func(t *testing.T) {
		foreachPaths(t, func(t *testing.T, f *fakePools, env *testsuite.TestWorkflowEnvironment) {
			f.dead = map[string]bool{"native": true}
			pl := p(2, `{}`)
			pl.Steps[0].OnError = plan.OnError{Action: plan.OnErrorContinue}
			pl.Steps[1].OnError = plan.OnError{Action: plan.OnErrorContinue} // on the dead runtime too
			res, err := runPlan(t, env, pl, map[string]any{"items": items[:2]})
			require.NoError(t, err)
			scan := res.Steps[0]
			assert.Equal(t, StatusFailed, scan.Status)
			assert.Contains(t, scan.Error, "no pool could run tool echo: tried native (not started within 1m0s)")
			require.NotEmpty(t, scan.Hops)
			assert.Equal(t, Hop{Step: "scan", From: "native", Reason: "not started within 1m0s"}, scan.Hops[0])
		})
	})
	t.Run("max_steps counts every item", func(t *testing.T) {
		foreachPaths(t, func(t *testing.T, f *fakePools, env *testsuite.TestWorkflowEnvironment) {
			pl := p(10, `{}`)
			pl.Policy.MaxSteps = 4
			_, err := runPlan(t, env, pl, map[string]any{"items": items})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "policy.max_steps 4 reached at step scan")
		})
	})
	t.Run("budget exceeded mid-foreach stops the run", func(t *testing.T) {
		foreachPaths(t, func(t *testing.T, f *fakePools, env *testsuite.TestWorkflowEnvironment) {
			f.usage = 30
			pl := p(1, `{}`)
			pl.Policy.Budgets = map[string]float64{"tokens": 100}
			_, err := runPlan(t, env, pl, map[string]any{"items": items})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "budget tokens exceeded at step scan: used 120 of 100")
			assert.Len(t, f.calls, 4)
		})
	})
}

// A step that may fall back keeps a coroutine per item whatever the version:
// each item may probe, hop and schedule again.
func TestForeachWithFallbackKeepsCoroutines(t *testing.T) {
	f := &fakePools{dead: map[string]bool{"cuda": true}, live: map[string]bool{"cuda": true, "native": true}}
	env := newEnv(t, f)
	s := tool("similar", "where", `{}`)
	s.Runtimes = []string{"cuda", "native"}
	s.Foreach = "[1, 2, 3]"
	s.Concurrency = 3
	env.ExecuteWorkflow("fallback", RunInput{Plan: &plan.Plan{Name: "fallback", Steps: []plan.Step{s},
		Outputs: []plan.Output{{Name: "rt", Value: raw(`"${steps.similar.output}"`)}}}})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res RunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, []any{map[string]any{"runtime": "native"}, map[string]any{"runtime": "native"}, map[string]any{"runtime": "native"}}, res.Outputs["rt"])
	assert.Len(t, res.Steps[0].Hops, 3)
}
