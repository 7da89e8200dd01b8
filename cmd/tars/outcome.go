package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/internal/env"
	"github.com/tars-engine/tars/internal/tracepage"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

// runOutcome says how a run that did not complete ended, in the words the
// Web UI and the trace use (closedStatus): cancelled, terminated, timed out
// or failed. When err carries the run's close event (withEnding), a run
// terminated or timed out says why: who terminated it and their reason,
// the server's history limit it passed, or the timeout that passed.
func runOutcome(id string, err error) string {
	end := endingOf(err)
	switch closedStatus(err) {
	case trace.RunCanceled:
		return fmt.Sprintf("run %s cancelled", id)
	case trace.RunTerminated:
		if end != nil && end.Cause != "" {
			return fmt.Sprintf("run %s %s (tars trace %s shows its last steps)", id, end.Cause, id)
		}
		return fmt.Sprintf("run %s terminated by the server or an operator (tars trace %s shows its last steps)", id, id)
	case trace.RunTimedOut:
		if end != nil && end.Status == trace.RunTimedOut && end.Cause != "" {
			return fmt.Sprintf("run %s %s", id, end.Cause)
		}
		return fmt.Sprintf("run %s timed out: it passed policy.timeout", id)
	}
	return fmt.Sprintf("run %s failed: %s", id, workflows.Describe(err))
}

// failedDoc is the JSON of a run that did not complete: its status and
// error, and for a run terminated or timed out, the cause (withEnding),
// which is also its error (the SDK's error alone would name a step's
// timeout for a run's).
func failedDoc(id string, err error) map[string]any {
	doc := map[string]any{"id": id, "status": closedStatus(err), "error": workflows.Describe(err)}
	if end := endingOf(err); end != nil && end.Cause != "" {
		doc["cause"], doc["error"] = end.Cause, end.Cause
	}
	return doc
}

// endedError is a run's error with how the run ended, read from its close
// event: the SDK's TerminatedError and TimeoutError carry no reason.
type endedError struct {
	err error
	end trace.Ending
}

func (e *endedError) Error() string { return e.err.Error() }
func (e *endedError) Unwrap() error { return e.err }

func endingOf(err error) *trace.Ending {
	var ee *endedError
	if errors.As(err, &ee) {
		return &ee.end
	}
	return nil
}

// withEnding adds to the error of a run that was terminated or timed out
// the cause its close event gives; any other error, or one whose history
// cannot be read, is returned as it is.
func withEnding(ctx context.Context, c client.Client, id string, err error) error {
	if st := closedStatus(err); err == nil || (st != trace.RunTerminated && st != trace.RunTimedOut) {
		return err
	}
	end, ok := runEnding(ctx, c, id, "")
	if !ok {
		return err
	}
	return &endedError{err: err, end: end}
}

// runEnding reads how a closed run ended from its close event and its
// timeouts; ok is false while it runs or when the server cannot say.
func runEnding(ctx context.Context, c client.Client, id, runID string) (trace.Ending, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d, err := c.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return trace.Ending{}, false
	}
	runID = d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	// The close-event filter yields one event: the run's close.
	if !it.HasNext() {
		return trace.Ending{}, false
	}
	ev, err := it.Next()
	if err != nil {
		return trace.Ending{}, false
	}
	cfg := d.GetExecutionConfig()
	return trace.EndingOf(ev, cfg.GetWorkflowExecutionTimeout().AsDuration(), cfg.GetWorkflowRunTimeout().AsDuration()), true
}

// stateFromHistory is the step states of a closed run as its trace derives
// them from its history, for when the run cannot be queried (no worker
// serves its workflows queue any more, or the replay takes too long): a
// closed run's status should not depend on a worker being up.
func stateFromHistory(ctx context.Context, c client.Client, id string) (workflows.State, error) {
	rh, err := tracepage.FetchHistory(ctx, c, id, "")
	if err != nil {
		return workflows.State{}, err
	}
	t, err := trace.BuildHistory(rh.History)
	if err != nil {
		return workflows.State{}, err
	}
	st := workflows.State{Metascript: t.Metascript, Steps: make([]workflows.StepView, len(t.Steps))}
	for i, s := range t.Steps {
		sv := workflows.StepView{ID: s.ID, Kind: s.Kind, Agent: s.Agent, Status: s.Status, Runtime: s.Runtime, Items: s.Items,
			ItemsDone: s.ItemsDone, Turns: s.Turns, Started: s.Start, Ended: s.End, Error: s.Error}
		for _, h := range s.Hops {
			sv.Hops = append(sv.Hops, workflows.Hop{Step: h.Step, From: h.From, To: h.To, Reason: h.Reason})
		}
		st.Steps[i] = sv
	}
	return st, nil
}

// settleEnded settles the final view of a run that was terminated, timed
// out or cancelled (err is its result's error), so that tars run's last
// redraw does not leave a step "running".
func settleEnded(st *workflows.State, err error) {
	switch s := closedStatus(err); {
	case err == nil:
	case s == trace.RunTerminated, s == trace.RunTimedOut, s == trace.RunCanceled:
		settle(st, s, time.Now())
	}
}

// settle makes a closed run's step states final (workflows.State.Settle)
// and stops the clock of the steps it settles at the run's close, so that
// a step the run's end caught in flight does not show a growing duration.
func settle(st *workflows.State, closed string, at time.Time) {
	inFlight := map[string]bool{}
	for _, s := range st.Steps {
		if s.Status == workflows.StatusRunning || s.Status == workflows.StatusWaiting || s.Status == workflows.StatusPaused {
			inFlight[s.ID] = true
		}
	}
	st.Settle(closed)
	for i := range st.Steps {
		if s := &st.Steps[i]; inFlight[s.ID] && s.Ended.IsZero() && !at.IsZero() {
			s.Ended = at
		}
	}
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
