package main

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/internal/env"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

// runOutcome says how a run that did not complete ended, in the words the
// Web UI and the trace use (closedStatus): cancelled, terminated, timed out
// or failed.
func runOutcome(id string, err error) string {
	switch closedStatus(err) {
	case trace.RunCanceled:
		return fmt.Sprintf("run %s cancelled", id)
	case trace.RunTerminated:
		return fmt.Sprintf("run %s terminated by the server or an operator (tars trace %s shows its last steps)", id, id)
	case trace.RunTimedOut:
		return fmt.Sprintf("run %s timed out: it passed policy.timeout", id)
	}
	return fmt.Sprintf("run %s failed: %s", id, workflows.Describe(err))
}

func isActivityError(err error) bool {
	var ae *temporal.ActivityError
	return errors.As(err, &ae)
}

// unservable lists, for each step of p that no pool in pools can run, the
// step and the runtimes it would need. tars dev --run checks it first, so
// that an example needing a pool this machine lacks (hyperlight without
// KVM) says so instead of waiting for a pool that never comes.
func unservable(p *plan.Plan, pools []string) (steps, runtimes []string) {
	have := map[string]bool{}
	for _, n := range pools {
		have[n] = true
	}
	seen := map[string]bool{}
	for _, s := range p.Steps {
		if len(s.Runtimes) == 0 {
			continue // runs in the workflow (set, approval, call)
		}
		ok := false
		for _, rt := range s.Runtimes {
			if plan.IsolationRank(plan.Isolation(rt)) >= plan.IsolationRank(s.MinIsolation) && have[rt] {
				ok = true
			}
		}
		if !ok {
			steps = append(steps, fmt.Sprintf("step %s (tool %s) needs %s", s.ID, s.Tool, strings.Join(s.Runtimes, " or ")))
			for _, rt := range s.Runtimes {
				if !seen[rt] {
					seen[rt] = true
					runtimes = append(runtimes, rt)
				}
			}
		}
	}
	return steps, runtimes
}

// whyNot says why this machine does not serve each runtime in need.
func whyNot(need []string) string {
	r := env.Detect(env.RealProbes())
	var why []string
	for _, ps := range r.Pools {
		for _, n := range need {
			if ps.Name == n && !ps.Available {
				why = append(why, n+": "+ps.Reason)
			}
		}
	}
	return strings.Join(why, "; ")
}
