package trace

import (
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/tars-engine/tars/workflows"
)

// ApplyState merges the interpreter's live view (the workflows.QueryState
// query of an open run) into the trace: step states become exact, and
// waiting approvals show their prompt.
func (t *Trace) ApplyState(st workflows.State) {
	for i := range st.Steps {
		sv := &st.Steps[i]
		s := t.Step(sv.ID)
		if s == nil {
			continue
		}
		applyView(s, sv)
		if s.End.IsZero() && !s.Start.IsZero() {
			s.Duration = between(s.Start, t.Start.Add(t.Duration.D()))
		} else {
			s.Duration = between(s.Start, s.End)
		}
	}
	t.Live = true
}

// ApplyPending merges the pending activities of an open run (from
// DescribeWorkflowExecution): the attempt in flight, its worker and the
// failure of the attempt before it, which the history only records when
// the activity closes.
func (t *Trace) ApplyPending(pending []*workflowpb.PendingActivityInfo) {
	for _, p := range pending {
		for _, s := range t.Steps {
			for _, a := range s.Activities {
				if a.ActivityID != p.GetActivityId() || a.ClosedEventID != 0 {
					continue
				}
				if d := int(p.GetAttempt() - a.Attempt); d > 0 && a.Attempt > 0 {
					s.Attempts += d
					s.Failures += d
				} else if a.Attempt == 0 {
					s.Attempts += int(p.GetAttempt())
					s.Failures += int(p.GetAttempt()) - 1
				}
				a.Attempt = p.GetAttempt()
				a.Identity = orElse(p.GetLastWorkerIdentity(), a.Identity)
				a.LastFailure = orElse(failureText(p.GetLastFailure()), a.LastFailure)
				if ts := p.GetLastStartedTime(); ts != nil && p.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
					a.Status = ActStarted
					a.Started = ts.AsTime()
					a.Queued = between(a.Scheduled, a.Started)
				}
			}
		}
	}
}
