package workers

import (
	"context"
	"log/slog"
	"slices"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

// withinCeiling applies the operator's ceiling to a call, before anything
// runs: its grants become what the policy asks within the ceiling, and ctx
// carries what was taken, so that a tool needing it fails with a message
// naming the ceiling and this worker (activities.CeilingRefusal). A call
// fails here, at once, when its runner takes a refused grant as it starts
// (activities.GrantsAtStart) or when it uses a secret input whose
// variable the ceiling hides.
func (p *Pool) withinCeiling(ctx context.Context, call activities.Call) (context.Context, activities.Call, error) {
	eff, excess := p.ceiling.Clip(call.Grants)
	if len(excess) > 0 {
		if s, ok := p.Runner.(activities.GrantsAtStart); ok {
			atStart := s.GrantsAtStart()
			for _, e := range excess {
				if slices.Contains(atStart, e.Grant) {
					return ctx, call, activities.RefuseExcess(call.Step, p.identity, e, "")
				}
			}
		}
		ctx = activities.WithCeilingRefusals(ctx, p.identity, excess)
	}
	call.Grants = eff
	for _, name := range activities.SecretNames(call.Args) {
		if !p.ceiling.AllowsEnv(activities.SecretEnv(name)) {
			return ctx, call, activities.RefuseSecret(call.Step, p.identity, name, p.ceiling)
		}
	}
	return ctx, call, nil
}

// refused counts and logs a call the ceiling stopped before it ran. Warn:
// unlike a tool's failure, it is the operator's setting at work, and the
// operator may want to lift it.
func (p *Pool) refused(call activities.Call, err error, log *slog.Logger) {
	p.calls.Add(1)
	p.failures.Add(1)
	if p.metrics != nil {
		p.metrics.observe(call, 0, activities.Result{}, err)
	}
	log.Warn("step call refused by the worker's ceiling", "error", err)
}

// PlanExceeds lists what a Plan's policy asks for beyond ceiling c, for
// a warning before its runs reach a worker ("metascript X asks for shell;
// the local worker does not allow it"). Empty means every grant fits.
// Whether a step really fails depends on its tools: a grant that no step
// uses is never refused.
func PlanExceeds(p *plan.Plan, c activities.Ceiling) []activities.Excess {
	if p == nil {
		return nil
	}
	return c.Exceeds(workflows.CallGrants(p.Policy.Grants))
}
