package workflows

import (
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// child runs another metascript, compiled into Plan.Children, as a child
// workflow; its outputs become this step's output.
func (r *run) child(ctx workflow.Context, s *plan.Step, sc *scope, vars expr.Vars) (any, error) {
	if s.Call == nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %s: call without a metascript", s.ID), ErrInvalidPlan, nil)
	}
	cp := r.p.Children[s.Call.Metascript]
	if cp == nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("step %s: plan has no compiled child %q", s.ID, s.Call.Metascript), ErrInvalidPlan, nil)
	}
	var inputs map[string]any
	if len(s.Call.Inputs) > 0 {
		rendered, err := r.env.RenderJSON(s.Call.Inputs, vars)
		if err != nil {
			return nil, exprError(s, "call.inputs", err)
		}
		v, err := expr.Decode(rendered)
		if err != nil {
			return nil, exprError(s, "call.inputs", err)
		}
		inputs, _ = v.(map[string]any)
	}
	id := workflow.GetInfo(ctx).WorkflowExecution.ID + "/" + s.ID
	if sc != nil && (sc.hasItem || sc.turn) {
		id = fmt.Sprintf("%s-%d", id, sc.index)
	}
	opts := workflow.ChildWorkflowOptions{
		WorkflowID:               id,
		TaskQueue:                WorkflowQueue(r.in.Options.QueuePrefix),
		WorkflowExecutionTimeout: cp.Policy.Timeout.D(),
		ParentClosePolicy:        enumspb.PARENT_CLOSE_POLICY_TERMINATE,
		StaticSummary:            Summary(cp),
		StaticDetails:            Details(cp),
		TypedSearchAttributes:    SearchAttributes(cp),
	}
	var res RunResult
	if len(cp.Children) == 0 && calls(cp) {
		// Plans compiled since flattening carry every called metascript
		// once, in the root's table; the child gets that table. (Older
		// Plans nest each child's children in it, and keep them.)
		flat := *cp
		flat.Children = r.p.Children
		cp = &flat
	}
	var args []any
	switch {
	case r.in.Digest != "" && r.in.adhoc == nil:
		// A catalogue run: the child names its Plan in the root's table.
		args = []any{inputs, StartSpec{Digest: r.in.Digest, Child: cp.Name, Options: r.in.Options}}
	case r.in.Digest != "":
		spec, _, err := AdhocSpec(cp, r.in.Options)
		if err != nil {
			return nil, err
		}
		args = []any{inputs, spec}
	default: // a recorded RunInput: its children carried their Plans
		args = []any{RunInput{Plan: cp, Inputs: inputs, Options: r.in.Options}}
	}
	if err := checkValue(workflow.GetInfo(ctx).TaskQueueName, "the input of the run step "+s.ID+" calls", args); err != nil {
		return nil, err
	}
	if err := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), cp.Name, args...).Get(ctx, &res); err != nil {
		return nil, err
	}
	return normalize(map[string]any(res.Outputs)), nil
}

// calls reports whether p has a call step.
func calls(p *plan.Plan) bool {
	for i := range p.Steps {
		if p.Steps[i].Kind == plan.KindCall {
			return true
		}
	}
	return false
}
