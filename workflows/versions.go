package workflows

// Change IDs for workflow.GetVersion. Once a release carries one, it never
// changes and is never reused: histories recorded before the change replay
// down the old branch, new runs take the new one. Golden histories in
// testdata are replayed in CI to prove it.
const (
	// ChangeHopMarker records each runtime hop (a fallback from one runtime
	// to the next in a step's chain) as a side-effect marker in the history,
	// so the trace shows the hop and why it happened. Version 1 = recorded.
	ChangeHopMarker = "tars-hop-marker"

	// ChangeForeachSelector runs the items of a foreach whose step is one
	// activity per item (a tool or reason step with a one-runtime chain)
	// from the step's coroutine with a selector, instead of a coroutine per
	// item. The activities are the same; their commands may interleave
	// differently with other steps'. Version 1 = selector.
	ChangeForeachSelector = "tars-foreach-selector"

	// ChangeBusyPoolQueues: when a step is not started within its
	// schedule-to-start timeout on a runtime that is not the last of its
	// chain, the interpreter asks which pools are live and queues the step
	// again on the same runtime if it is (busy, not gone), instead of
	// falling back. Version 1 = queue again on a live pool.
	ChangeBusyPoolQueues = "tars-busy-pool-queues"

	// ChangeInfraRetries: a step's activity whose worker was lost
	// (heartbeat or start-to-close timeout, which the retry policy now
	// makes final for the activity) is scheduled again with the tool
	// attempts it had left, up to InfraRetries times. Version 1 = retried.
	ChangeInfraRetries = "tars-infra-retries"

	// ChangeAutoLiveOnly: a `runtime: auto` step chooses only among pools
	// with live pollers, and fails with NoPool when there is none.
	// Version 1 = live pools only.
	ChangeAutoLiveOnly = "tars-auto-live-only"

	// ChangeExprBudget stops evaluations that pass the expression budget of
	// a workflow task (expr.TaskBudget). It is asked only when an evaluation
	// would be stopped, so runs that never reach the budget record nothing;
	// histories recorded before it replay without the budget. Version 1 =
	// enforced.
	ChangeExprBudget = "tars-expr-budget"

	// ChangeAgentLoop runs reason steps through the agent loop
	// (workflows/agent.go): each model call is capped by what the run's
	// budgets leave, and a call that could exceed one is not made. Reason
	// steps with tools, max_turns or an output schema (plan.Step.Reason)
	// always take it. Version 1 = agent loop.
	ChangeAgentLoop = "tars-agent-loop"

	// ChangeForeachShards runs a foreach over more items than the shard
	// threshold (Options.ShardThreshold) in shards: child workflows of
	// type ShardWorkflow, each over a slice of the items (shard.go). It is
	// asked only for such a foreach, so runs with smaller ones record
	// nothing; histories recorded before it keep every item in the run.
	// Version 1 = shards, a shard at once per 50 of the concurrency;
	// version 2 = one per 200 (fewer, wider shards: shard.go).
	ChangeForeachShards = "tars-foreach-shards"
)
