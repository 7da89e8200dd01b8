package main

import (
	"context"

	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/workflows"
)

// withShardProgress adds, to each foreach step that runs in shards, the
// items its running shards have done so far: the run itself counts a
// shard's items only when the shard ends (a shard reporting each item to
// the run would put every item back in the run's history). At most a few
// shards run at once, so this is a query per running shard. A shard that
// cannot be queried (its workflow task is being retried) counts as none.
func withShardProgress(ctx context.Context, c client.Client, id string, st workflows.State) workflows.State {
	open := false
	for _, s := range st.Steps {
		if s.Shards > s.ShardsDone && s.Status == workflows.StatusRunning {
			open = true
		}
	}
	if !open {
		return st
	}
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return st
	}
	for _, pc := range d.GetPendingChildren() {
		if pc.GetWorkflowTypeName() != workflows.ShardWorkflow {
			continue
		}
		step, _, ok := workflows.ParseShardID(pc.GetWorkflowId())
		if !ok {
			continue
		}
		var shard workflows.State
		v, err := c.QueryWorkflow(ctx, pc.GetWorkflowId(), "", workflows.QueryState)
		if err != nil || v.Get(&shard) != nil {
			continue
		}
		for i := range st.Steps {
			if st.Steps[i].ID != step {
				continue
			}
			for _, ss := range shard.Steps {
				if ss.ID == step {
					st.Steps[i].ItemsDone += ss.ItemsDone
				}
			}
		}
	}
	return st
}
