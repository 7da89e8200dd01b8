package workflows

import (
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/plan"
)

func TestShardShares(t *testing.T) {
	for _, tc := range []struct {
		shards, limit int
		v1            bool // version 1 of ChangeForeachShards
		want          []int
	}{
		{shards: 5, limit: 1, want: []int{1}},
		{shards: 5, limit: 10, want: []int{10}},
		{shards: 5, limit: 50, want: []int{50}},
		{shards: 5, limit: 51, v1: true, want: []int{26, 25}},
		{shards: 5, limit: 51, want: []int{51}},
		{shards: 100, limit: 200, v1: true, want: []int{50, 50, 50, 50}},
		{shards: 100, limit: 200, want: []int{200}},
		{shards: 2, limit: 200, v1: true, want: []int{100, 100}},
		{shards: 2, limit: 400, want: []int{200, 200}},
		{shards: 1000, limit: 1000, v1: true, want: []int{125, 125, 125, 125, 125, 125, 125, 125}},
		{shards: 1000, limit: 1000, want: []int{200, 200, 200, 200, 200}},
		{shards: 100, limit: 203, v1: true, want: []int{41, 41, 41, 40, 40}},
		{shards: 100, limit: 203, want: []int{102, 101}},
	} {
		v := workflow.Version(2)
		if tc.v1 {
			v = 1
		}
		got := shardShares(tc.shards, tc.limit, slotItems(v))
		assert.Equal(t, tc.want, got, "%d shards, limit %d", tc.shards, tc.limit)
		sum := 0
		for _, c := range got {
			sum += c
		}
		assert.Equal(t, tc.limit, sum, "the shares add up to the limit")
	}
}

func TestMentions(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{`${steps.scan.output}`, true},
		{`${size(steps.scan.output)}`, true},
		{`${steps . scan.status}`, true},
		{`${steps["scan"].output}`, true},
		{`{"value":"${steps[\"scan\"]}"}`, true},
		{`${steps['scan']}`, true},
		{`${steps[name]}`, true}, // indexed by an expression: may be scan
		{`${steps}`, true},       // used whole
		{`${steps.scanner.output}`, false},
		{`${steps.other.output} ${mysteps.scan}`, false},
		{`${steps["other"].output}`, false},
		{`${inputs.scan}`, false},
		{`no expression here`, false},
	} {
		assert.Equal(t, tc.want, mentions(tc.text, "steps", "scan"), tc.text)
	}
}

func TestOutputNeeded(t *testing.T) {
	scan := tool("scan", "echo", `{"value":"${item}"}`)
	scan.Foreach = "inputs.items"
	for name, tc := range map[string]struct {
		p    plan.Plan
		want bool
	}{
		"nothing reads it": {plan.Plan{Steps: []plan.Step{scan, tool("after", "echo", `{"value":"${steps.other.output}"}`, "scan")}}, false},
		"an output reads it": {plan.Plan{Steps: []plan.Step{scan},
			Outputs: []plan.Output{{Name: "all", Value: raw(`"${steps.scan.output}"`)}}}, true},
		"a later step reads its status": {plan.Plan{Steps: []plan.Step{scan, tool("after", "echo", `{"value":"${steps.scan.status}"}`, "scan")}}, true},
		"a when reads it":               {plan.Plan{Steps: []plan.Step{scan, {ID: "after", Kind: plan.KindSet, When: "size(steps.scan.output) > 0", Set: raw(`1`)}}}, true},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, outputNeeded(&tc.p, &tc.p.Steps[0]))
		})
	}
	checked := scan
	checked.Checks = []plan.Check{{Expr: "size(output) > 0"}}
	assert.True(t, outputNeeded(&plan.Plan{Steps: []plan.Step{checked}}, &checked), "its own checks read it")
}

func TestShardItems(t *testing.T) {
	items, r := shardItems([]any{int64(7), int64(8), int64(9)})
	assert.Nil(t, items)
	assert.Equal(t, &ItemRange{From: 7, Count: 3}, r)
	assert.Equal(t, []any{int64(7), int64(8), int64(9)}, ShardInput{Range: r}.items())
	for _, l := range [][]any{{int64(1), int64(3)}, {"a", "b"}, {int64(1), 2.5}} {
		items, r := shardItems(l)
		assert.Nil(t, r, "%v is not a range", l)
		assert.Equal(t, l, items)
	}
}

// shardPlanOf is a foreach step over inputs.items, echoing item and index,
// followed by a step, with the foreach's outputs read by the run's output
// when read is set.
func shardPlanOf(concurrency int, read bool) *plan.Plan {
	s := tool("scan", "echo", `{"value":"${item}-${index}"}`)
	s.Foreach = "inputs.items"
	s.Concurrency = concurrency
	p := &plan.Plan{
		Name:   "shards",
		Inputs: []plan.Input{{Name: "items", Type: "list"}, {Name: "unused", Type: "string"}},
		Steps:  []plan.Step{s, tool("after", "echo", `{"value":"done"}`, "scan")},
	}
	if read {
		p.Outputs = []plan.Output{{Name: "all", Value: raw(`"${steps.scan.output}"`)}}
	}
	return p
}

func letters(n int) []any {
	items := make([]any, n)
	for i := range items {
		items[i] = fmt.Sprintf("x%d", i)
	}
	return items
}

func runShards(t *testing.T, env *testsuite.TestWorkflowEnvironment, p *plan.Plan, items []any, o Options) (*RunResult, error) {
	t.Helper()
	env.ExecuteWorkflow(p.Name, RunInput{Plan: p, Inputs: map[string]any{"items": items, "unused": "big"}, Options: o})
	require.True(t, env.IsWorkflowCompleted())
	if err := env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var res RunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return &res, nil
}

func TestForeachInShards(t *testing.T) {
	o := Options{ShardThreshold: 10, ShardSize: 8}
	t.Run("outputs in item order, progress in items and shards", func(t *testing.T) {
		f := &fakePools{}
		env := newEnv(t, f)
		var shards []ShardInput
		env.SetOnChildWorkflowStartedListener(func(_ *workflow.Info, _ workflow.Context, args converter.EncodedValues) {
			var in ShardInput
			require.NoError(t, args.Get(&in))
			shards = append(shards, in)
		})
		res, err := runShards(t, env, shardPlanOf(4, true), letters(37), o)
		require.NoError(t, err)
		want := make([]any, 37)
		for i := range want {
			want[i] = fmt.Sprintf("x%d-%d", i, i)
		}
		assert.Equal(t, want, res.Outputs["all"])
		scan := res.Steps[0]
		assert.Equal(t, StatusOK, scan.Status)
		assert.Equal(t, 37, scan.Items)
		assert.Equal(t, 37, scan.ItemsDone)
		assert.Equal(t, 5, scan.Shards)
		assert.Equal(t, 5, scan.ShardsDone)
		assert.Equal(t, "native", scan.Runtime)
		assert.LessOrEqual(t, f.maxSeen.Load(), int32(4))
		var ids []int
		for _, c := range f.calls {
			if c.Step == "scan" {
				ids = append(ids, c.Item)
			}
		}
		sort.Ints(ids)
		require.Len(t, ids, 37)
		for i, id := range ids {
			require.Equal(t, i, id, "activity items count across shards")
		}
		require.Len(t, shards, 5)
		for _, in := range shards {
			assert.Nil(t, in.Plan.Outputs, "a shard gets its step alone")
			require.Len(t, in.Plan.Steps, 1)
			assert.NotContains(t, in.Inputs, "unused", "a shard gets only the inputs its step reads")
			assert.NotContains(t, in.Inputs, "items")
			assert.True(t, in.KeepOutputs)
			assert.Equal(t, 4, in.Concurrency)
		}
		assert.Equal(t, 0, shards[0].First)
		assert.Equal(t, 7, shards[1].First)
	})
	t.Run("the outputs stay in the shards when nothing reads them", func(t *testing.T) {
		f := &fakePools{}
		env := newEnv(t, f)
		var keep []bool
		env.SetOnChildWorkflowStartedListener(func(_ *workflow.Info, _ workflow.Context, args converter.EncodedValues) {
			var in ShardInput
			require.NoError(t, args.Get(&in))
			keep = append(keep, in.KeepOutputs)
		})
		res, err := runShards(t, env, shardPlanOf(3, false), letters(20), o)
		require.NoError(t, err)
		assert.Equal(t, 20, res.Steps[0].ItemsDone)
		assert.Equal(t, StatusOK, res.Steps[1].Status)
		assert.Equal(t, []bool{false, false, false}, keep)
	})
	t.Run("consecutive integers travel as a range", func(t *testing.T) {
		f := &fakePools{}
		env := newEnv(t, f)
		var ranges []*ItemRange
		env.SetOnChildWorkflowStartedListener(func(_ *workflow.Info, _ workflow.Context, args converter.EncodedValues) {
			var in ShardInput
			require.NoError(t, args.Get(&in))
			assert.Empty(t, in.Items)
			ranges = append(ranges, in.Range)
		})
		nums := make([]any, 16)
		for i := range nums {
			nums[i] = 100 + i
		}
		res, err := runShards(t, env, shardPlanOf(2, true), nums, o)
		require.NoError(t, err)
		assert.Equal(t, []*ItemRange{{From: 100, Count: 8}, {From: 108, Count: 8}}, ranges)
		assert.Equal(t, "115-15", res.Outputs["all"].([]any)[15])
	})
	t.Run("a failed item stops the shards and fails the step", func(t *testing.T) {
		f := &fakePools{}
		env := newEnv(t, f)
		p := shardPlanOf(1, true)
		p.Steps[0].Tool = "fail"
		p.Steps[0].With = raw(`{"times":"${item == 'x13' ? 9 : 0}"}`)
		p.Steps[0].Retry = &plan.Retry{Attempts: 1}
		_, err := runShards(t, env, p, letters(30), o)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "step scan failed: item 13: ")
		assert.Contains(t, err.Error(), "planned failure 1")
		assert.Len(t, f.calls, 14, "no item after the failure starts, in its shard or a later one")
	})
	t.Run("a failure with on_error continue leaves the step failed and the run going", func(t *testing.T) {
		f := &fakePools{}
		env := newEnv(t, f)
		p := shardPlanOf(2, false)
		p.Steps[0].Tool = "fail"
		p.Steps[0].With = raw(`{"times":"${item == 'x3' ? 9 : 0}"}`)
		p.Steps[0].Retry = &plan.Retry{Attempts: 1}
		p.Steps[0].OnError = plan.OnError{Action: plan.OnErrorContinue}
		p.Steps[1].Needs = nil
		res, err := runShards(t, env, p, letters(12), o)
		require.NoError(t, err)
		assert.Equal(t, StatusFailed, res.Steps[0].Status)
		assert.Contains(t, res.Steps[0].Error, "item 3: ")
	})
	t.Run("max_steps counts items across shards", func(t *testing.T) {
		f := &fakePools{}
		env := newEnv(t, f)
		p := shardPlanOf(1, false)
		p.Policy.MaxSteps = 20
		_, err := runShards(t, env, p, letters(30), o)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "policy.max_steps 20 reached at step scan")
		assert.Len(t, f.calls, 20)
	})
	t.Run("outputs whole with a small history limit (continue-as-new is tested on a real server, cmd/tars)", func(t *testing.T) {
		f := &fakePools{}
		env := newEnv(t, f)
		res, err := runShards(t, env, shardPlanOf(2, true), letters(24), Options{ShardThreshold: 10, ShardSize: 12, HistoryLimit: 25})
		require.NoError(t, err)
		out := res.Outputs["all"].([]any)
		require.Len(t, out, 24)
		for i, v := range out {
			assert.Equal(t, fmt.Sprintf("x%d-%d", i, i), v)
		}
		assert.Equal(t, 24, res.Steps[0].ItemsDone)
		assert.Len(t, f.calls, 25, "every item once, and the step after")
	})
	t.Run("a foreach at the threshold stays in the run", func(t *testing.T) {
		f := &fakePools{}
		env := newEnv(t, f)
		started := 0
		env.SetOnChildWorkflowStartedListener(func(*workflow.Info, workflow.Context, converter.EncodedValues) {
			started++
		})
		res, err := runShards(t, env, shardPlanOf(3, true), letters(10), o)
		require.NoError(t, err)
		assert.Zero(t, started)
		assert.Zero(t, res.Steps[0].Shards)
		assert.Len(t, res.Outputs["all"], 10)
	})
}
