package workflows

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/plan"
)

// big is a value of 0.8 MB: one fits in a history, three do not.
var big = strings.Repeat("x", 800_000)

// storing are the limits of a worker with external storage on.
var storing = ValueLimits{Inline: DefaultInlineLimit, Threshold: 256 << 10, Stored: 1 << 30, Store: "tars-blobs"}

// onQueue runs the test env's workflows on queue, with the limits l (nil:
// none set, the defaults).
func onQueue(t *testing.T, queue string, l *ValueLimits) {
	t.Helper()
	if l != nil {
		SetValueLimits(queue, *l)
		t.Cleanup(func() { valueLimits.Delete(queue) })
	}
}

func valueTooLarge(t *testing.T, err error, what string) {
	t.Helper()
	require.Error(t, err)
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "want an application error, got %v", err)
	assert.Equal(t, ErrValueTooLarge, ae.Type(), "error: %v", err)
	assert.Contains(t, err.Error(), what)
	assert.Contains(t, err.Error(), "2.0 MiB")
}

func TestOversizedValuesFailAtOnce(t *testing.T) {
	inputs := []plan.Input{{Name: "x", Type: "string", Required: true}}
	argsPlan := func() *plan.Plan {
		return &plan.Plan{Name: "big-args", Inputs: inputs, Steps: []plan.Step{
			tool("big", "echo", `{"value":{"a":"${inputs.x}","b":"${inputs.x}","c":"${inputs.x}"}}`),
		}, Outputs: []plan.Output{{Name: "n", Value: raw(`"${size(steps.big.output.a)}"`)}}}
	}
	outputPlan := func() *plan.Plan {
		return &plan.Plan{Name: "big-output", Inputs: inputs, Steps: []plan.Step{
			{ID: "copy", Kind: plan.KindSet, Set: raw(`"${inputs.x}"`)},
		}, Outputs: []plan.Output{
			{Name: "a", Value: raw(`"${inputs.x}"`)}, {Name: "b", Value: raw(`"${steps.copy.output}"`)},
			{Name: "c", Value: raw(`"${inputs.x + inputs.x}"`)},
		}}
	}
	for _, tc := range []struct {
		name   string
		limits *ValueLimits
	}{{"storage off", nil}, {"storage on", &storing}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("step args", func(t *testing.T) {
				f := &fakePools{}
				env := newEnv(t, f)
				queue := "limits-args-" + strings.ReplaceAll(tc.name, " ", "-")
				onQueue(t, queue, tc.limits)
				env.SetStartWorkflowOptions(client.StartWorkflowOptions{TaskQueue: queue})
				res, err := runPlan(t, env, argsPlan(), map[string]any{"x": big})
				if tc.limits == nil {
					valueTooLarge(t, err, "the rendered arguments (with) of step big is 2.3 MiB")
					assert.Empty(t, f.calls, "the activity was never scheduled")
					return
				}
				require.NoError(t, err)
				assert.EqualValues(t, len(big), res.Outputs["n"])
			})
			t.Run("run output", func(t *testing.T) {
				env := newEnv(t, &fakePools{})
				queue := "limits-output-" + strings.ReplaceAll(tc.name, " ", "-")
				onQueue(t, queue, tc.limits)
				env.SetStartWorkflowOptions(client.StartWorkflowOptions{TaskQueue: queue})
				res, err := runPlan(t, env, outputPlan(), map[string]any{"x": big})
				if tc.limits == nil {
					valueTooLarge(t, err, "the run's output is 3.1 MiB")
					assert.Contains(t, err.Error(), "largest: outputs.c, 1.5 MiB")
					return
				}
				require.NoError(t, err)
				assert.Len(t, res.Outputs["c"], 2*len(big))
			})
			t.Run("continue-as-new state", func(t *testing.T) {
				env := newEnv(t, &fakePools{})
				queue := "limits-can-" + strings.ReplaceAll(tc.name, " ", "-")
				onQueue(t, queue, tc.limits)
				env.SetStartWorkflowOptions(client.StartWorkflowOptions{TaskQueue: queue})
				p := &plan.Plan{Name: "big-state", Inputs: inputs, Steps: []plan.Step{
					{ID: "pair", Kind: plan.KindSet, Set: raw(`{"p":"${inputs.x}","q":"${inputs.x}"}`)},
					{ID: "after", Kind: plan.KindSet, Set: raw(`1`), Needs: []string{"pair"}},
				}}
				env.SetCurrentHistoryLength(100) // past the limit: continue as new after pair
				env.ExecuteWorkflow(p.Name, RunInput{Plan: p, Inputs: map[string]any{"x": big}, Options: Options{HistoryLimit: 10}})
				require.True(t, env.IsWorkflowCompleted())
				err := env.GetWorkflowError()
				if tc.limits == nil {
					valueTooLarge(t, err, "the state this run carries across continue-as-new is 2.3 MiB")
					return
				}
				var can *workflow.ContinueAsNewError
				require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
			})
		})
	}
}

func TestValueLimits(t *testing.T) {
	limit, why := ValueLimits{}.Limit()
	assert.Equal(t, DefaultInlineLimit, limit)
	assert.Contains(t, why, "external storage is off")
	limit, why = storing.Limit()
	assert.Equal(t, 1<<30, limit)
	assert.Contains(t, why, "tars-blobs")
	// A threshold over the inline limit stores nothing that matters.
	limit, _ = ValueLimits{Inline: 1 << 20, Threshold: 2 << 20, Stored: 1 << 30}.Limit()
	assert.Equal(t, 1<<20, limit)

	n, err := EncodedSize(map[string]any{"a": "bc"})
	require.NoError(t, err)
	assert.Greater(t, n, len(`{"a":"bc"}`), "the payload's metadata counts")
	assert.Less(t, n, 100)
}
