package main

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/tars-engine/tars/metascripts"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

const shardsMetascript = `metascript: shards-echo
inputs:
  items: {type: list, required: true}
steps:
  - id: each
    foreach: ${inputs.items}
    concurrency: %d
    tool: %s
    with: %s
  - id: after
    needs: [each]
    set: "${steps.each.status}"
outputs:
  all: ${steps.each.output}
`

func (e *testEnv) compileSource(t *testing.T, name, src string) *plan.Plan {
	t.Helper()
	p, err := metascripts.Compile(name, []byte(src), metascripts.Options{Catalog: mustInventory(t, e.g)})
	require.NoError(t, err)
	return p
}

// startShards starts a run of p with inputs and run options o (on the env's queues).
func (e *testEnv) startShards(p *plan.Plan, inputs map[string]any, o workflows.Options) string {
	e.t.Helper()
	o.QueuePrefix = e.g.queuePrefix
	id := newRunID(p.Name)
	_, err := e.c.ExecuteWorkflow(context.Background(), workflows.StartOptions(p, id, o), p.Name, workflows.RunInput{Plan: p, Inputs: inputs, Options: o})
	require.NoError(e.t, err)
	return id
}

// chain is the histories of a workflow id's continue-as-new chain, first
// run first.
func chain(t *testing.T, e *testEnv, wid string) []*historypb.History {
	t.Helper()
	ctx := context.Background()
	d, err := e.c.DescribeWorkflowExecution(ctx, wid, "")
	require.NoError(t, err)
	first := d.GetWorkflowExecutionInfo().GetFirstRunId()
	var out []*historypb.History
	for rid := first; rid != ""; {
		it := e.c.GetWorkflowHistory(ctx, wid, rid, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		h := &historypb.History{}
		next := ""
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			h.Events = append(h.Events, ev)
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		out = append(out, h)
		rid = next
	}
	return out
}

// A foreach over more items than the shard threshold runs in shards: the
// outputs come back whole and in order, the parent's history stays a few
// events per shard, a shard past the history limit continues as new, the
// histories replay, and status and trace show items and shards.
func TestForeachShardsEndToEnd(t *testing.T) {
	e := newTestEnv(t, "native")
	p := e.compileSource(t, "shards.yaml", fmt.Sprintf(shardsMetascript, 100, "echo", `{value: "v${item}"}`))
	const n = 1200
	items := make([]any, n)
	for i := range items {
		items[i] = i
	}
	// 3 shards of 400 items, one at once (concurrency 100); a shard
	// continues as new past 500 events.
	id := e.startShards(p, map[string]any{"items": items}, workflows.Options{ShardThreshold: 200, ShardSize: 400, HistoryLimit: 500})
	res, err := e.result(id, 5*time.Minute)
	require.NoError(t, err)

	all, ok := res.Outputs["all"].([]any)
	require.True(t, ok, "outputs: %v", res.Outputs)
	require.Len(t, all, n)
	for i, v := range all {
		require.Equal(t, fmt.Sprintf("v%d", i), v, "item %d", i)
	}
	each := res.Steps[0]
	assert.Equal(t, workflows.StatusOK, each.Status)
	assert.Equal(t, n, each.Items)
	assert.Equal(t, n, each.ItemsDone)
	assert.Equal(t, 3, each.Shards)
	assert.Equal(t, 3, each.ShardsDone)
	assert.Equal(t, "ok", res.Steps[1].Status)

	// The parent's history grows with the shards: 1,200 items in the run
	// itself would be at least 3,600 events.
	h := closedHistory(t, e, id)
	assert.Less(t, len(h.Events), 60, "parent history: %d events for 3 shards", len(h.Events))
	require.NoError(t, trace.Replay(h), "the parent's history replays")

	tr, err := trace.BuildHistory(h)
	require.NoError(t, err)
	st := tr.Step("each")
	assert.Equal(t, 3, st.Shards)
	assert.Equal(t, 3, st.ShardsDone)
	assert.Equal(t, n, st.ItemsDone)
	var shardIDs []string
	for _, c := range tr.Children {
		assert.Equal(t, "each", c.Step)
		assert.Equal(t, workflows.ShardWorkflow, c.WorkflowType)
		assert.Equal(t, 400, c.Items)
		assert.Equal(t, 400, c.ItemsDone)
		shardIDs = append(shardIDs, c.WorkflowID)
	}
	require.Len(t, shardIDs, 3)
	assert.Equal(t, workflows.ShardID(id, "each", 0), shardIDs[0])

	// Each shard's chain: continued as new (400 items are ~1,200+ events,
	// the limit is 500), every history under the limit plus what was in
	// flight, every one replays, and the items are the shard's own.
	for k, sid := range shardIDs {
		runs := chain(t, e, sid)
		assert.GreaterOrEqual(t, len(runs), 2, "shard %d continued as new", k)
		seen := map[int]bool{}
		completed := 0
		for _, sh := range runs {
			assert.Less(t, len(sh.Events), 500+400, "shard %d run history", k)
			require.NoError(t, trace.Replay(sh), "shard %d history replays", k)
			for _, ev := range sh.Events {
				if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
					step, scope, idx, _, ok := workflows.ParseActivityID(a.GetActivityId(), func(s string) bool { return s == "each" })
					require.True(t, ok, a.GetActivityId())
					assert.Equal(t, "each", step)
					assert.Equal(t, workflows.ScopeItem, scope)
					seen[idx] = true
				}
				if ev.GetActivityTaskCompletedEventAttributes() != nil {
					completed++
				}
			}
		}
		// An item may be scheduled again after its worker was lost (a
		// heartbeat timeout on a loaded machine); it completes once.
		assert.Equal(t, 400, completed, "shard %d completed each of its items once", k)
		require.Len(t, seen, 400, "shard %d ran its own items", k)
		for i := 400 * k; i < 400*(k+1); i++ {
			require.True(t, seen[i], "shard %d ran item %d", k, i)
		}
	}

	out, _, err := e.cli("status", id)
	require.NoError(t, err)
	assert.Contains(t, out, "1200/1200 items in 3/3 shards", out)
	out, _, err = e.cli("trace", id)
	require.NoError(t, err)
	assert.Contains(t, out, "1200/1200 items in 3/3 shards", out)
}

// concurrency keeps meaning the items in flight across shards: the
// activities of all shards, as their histories time them, never overlap
// more than the step's concurrency, and do overlap more than one shard's
// share (the shards run at once).
func TestForeachShardsConcurrency(t *testing.T) {
	e := newTestEnv(t)
	e.startNative(600) // more slots than the step's limit: the limit binds
	const limit = 260  // two shards at once (one per 200), 130 items each
	p := e.compileSource(t, "shards-sleep.yaml", fmt.Sprintf(shardsMetascript, limit, "sleep", `{duration: "300ms"}`))
	items := make([]any, 520)
	for i := range items {
		items[i] = fmt.Sprintf("i%d", i)
	}
	id := e.startShards(p, map[string]any{"items": items}, workflows.Options{ShardThreshold: 100, ShardSize: 130})
	res, err := e.result(id, 5*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 4, res.Steps[0].ShardsDone)

	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	completed := 0
	for k := range 4 {
		for _, sh := range chain(t, e, workflows.ShardID(id, "each", k)) {
			for _, ev := range sh.Events {
				switch {
				case ev.GetActivityTaskScheduledEventAttributes() != nil:
					edges = append(edges, edge{ev.GetEventTime().AsTime(), +1})
				case ev.GetActivityTaskCompletedEventAttributes() != nil:
					completed++
					edges = append(edges, edge{ev.GetEventTime().AsTime(), -1})
				case ev.GetActivityTaskTimedOutEventAttributes() != nil, ev.GetActivityTaskFailedEventAttributes() != nil,
					ev.GetActivityTaskCanceledEventAttributes() != nil:
					// Closed without a result: on a loaded machine, a lost
					// worker's item is scheduled again.
					edges = append(edges, edge{ev.GetEventTime().AsTime(), -1})
				}
			}
		}
	}
	require.Equal(t, 520, completed)
	// A completion at the same instant as a scheduling came first: the
	// interpreter schedules an item only after it saw one complete.
	sort.SliceStable(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].delta < edges[j].delta
	})
	inflight, peak := 0, 0
	for _, x := range edges {
		inflight += x.delta
		peak = max(peak, inflight)
	}
	assert.LessOrEqual(t, peak, limit, "items in flight across shards")
	assert.Greater(t, peak, limit/2, "shards ran at once")
}
