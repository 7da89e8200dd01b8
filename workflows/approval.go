package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// approval waits for SignalApprove naming this step, or for the timeout, in
// which case the step's default decides. Output: {approved, by, comment,
// timed_out}.
func (r *run) approval(ctx workflow.Context, s *plan.Step, st *StepView, vars expr.Vars) (any, error) {
	a := s.Approval
	if a == nil {
		a = &plan.Approval{}
	}
	prompt, err := r.env.RenderString(a.Prompt, vars)
	if err != nil {
		return nil, exprError(s, "approval.prompt", err)
	}
	st.Prompt = expr.Text(prompt)
	st.Status = StatusWaiting
	r.details(ctx)
	defer func() { st.Status = StatusRunning; st.Prompt = "" }()

	got := func() bool { _, ok := r.approvals[s.ID]; return ok }
	if a.Timeout > 0 {
		// The timer's summary names the step, for the Web UI and the trace.
		ok, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
			Timeout:      a.Timeout.D(),
			TimerOptions: workflow.TimerOptions{Summary: "approval " + s.ID},
		}, got)
		if err != nil {
			return nil, err
		}
		if !ok {
			return map[string]any{
				"approved": a.Default == "approve", "by": "default", "timed_out": true,
				"comment": fmt.Sprintf("no decision within %s", a.Timeout.D()),
			}, nil
		}
	} else if err := workflow.Await(ctx, got); err != nil {
		return nil, err
	}
	d := r.approvals[s.ID]
	return map[string]any{"approved": d.Approved, "by": d.By, "comment": d.Comment, "timed_out": false}, nil
}
