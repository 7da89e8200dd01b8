package trace

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// IdentityServer is the identity the history service writes on a run it
// terminates by itself (a history limit passed).
const IdentityServer = "history-service"

// The reasons the server writes when it terminates a run that passed one of
// its limits (go.temporal.io/server/common: FailureReason*ExceedsLimit),
// with what each limit is and the dynamic config key that sets it.
var serverLimits = map[string]string{
	"Workflow history count exceeds limit.":      "its history passed the server's limit on events per run (limit.historyCount.error, 51,200 by default)",
	"Workflow history size exceeds limit.":       "its history passed the server's limit on history bytes per run (limit.historySize.error, 50 MiB by default)",
	"Workflow mutable state size exceeds limit.": "its state on the server passed the server's limit on mutable state size",
	"Transaction size exceeds limit.":            "one workflow task wrote more than the server takes in one transaction",
}

// Ending is how a run that did not complete by itself ended, read from
// its close event: what Temporal calls it, and why, in words a user can
// act on.
type Ending struct {
	// Status is a Run* status.
	Status string `json:"status"`
	// Cause says why: the terminate reason and who gave it, the timeout
	// that passed, or the failure.
	Cause string `json:"cause,omitempty"`
	// By is the identity that terminated the run ("history-service" when
	// the server did), "" otherwise.
	By string `json:"by,omitempty"`
	// ByServer is true when the server ended the run by itself: a history
	// limit (terminated) or a timeout.
	ByServer bool `json:"by_server,omitempty"`
}

// EndingOf reads a close event. execTimeout and runTimeout are the run's
// timeouts (from its started event or DescribeWorkflowExecution; 0 when
// unset), named when a timeout closed the run. A close event that is not
// a failure (completed, continued as new) gives the status and no cause.
func EndingOf(e *historypb.HistoryEvent, execTimeout, runTimeout time.Duration) Ending {
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
		a := e.GetWorkflowExecutionTerminatedEventAttributes()
		return terminated(a.GetReason(), a.GetIdentity())
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
		return Ending{Status: RunTimedOut, Cause: timedOut(execTimeout, runTimeout), ByServer: true}
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
		return Ending{Status: RunCanceled, Cause: "cancelled on request (tars cancel, or a parent run's cancellation)"}
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
		return Ending{Status: RunFailed, Cause: failureText(e.GetWorkflowExecutionFailedEventAttributes().GetFailure())}
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
		return Ending{Status: RunCompleted}
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		return Ending{Status: RunContinuedAsNew}
	}
	return Ending{Status: RunRunning}
}

func terminated(reason, identity string) Ending {
	reason = strings.TrimSpace(reason)
	end := Ending{Status: RunTerminated, By: identity}
	if why, ok := serverLimits[reason]; ok || identity == IdentityServer {
		end.ByServer = true
		if !ok {
			why = "the server ended it"
		}
		end.Cause = fmt.Sprintf("terminated by the server: %s (%q)", why, strings.TrimSuffix(reason, "."))
		if reason == "" {
			end.Cause = "terminated by the server (no reason given)"
		}
		return end
	}
	who := identity
	if who == "" {
		who = "an operator"
	}
	if reason == "" {
		end.Cause = "terminated by " + who + " (no reason given)"
	} else {
		end.Cause = fmt.Sprintf("terminated by %s: %s", who, reason)
	}
	return end
}

func timedOut(execTimeout, runTimeout time.Duration) string {
	switch {
	case execTimeout > 0 && (runTimeout <= 0 || execTimeout <= runTimeout):
		return fmt.Sprintf("timed out: the run passed its execution timeout of %s (policy.timeout)", execTimeout)
	case runTimeout > 0:
		return fmt.Sprintf("timed out: the run passed its run timeout of %s", runTimeout)
	}
	return "timed out: the run's timeout passed"
}

// inFlight is the error of a step the run's end caught in flight.
func inFlight(status, cause string) string {
	what := map[string]string{RunTerminated: "terminated", RunTimedOut: "timed out", RunCanceled: "cancelled"}[status]
	if what == "" {
		what = "ended (" + status + ")"
	}
	msg := "the run " + what + " while the step was in flight"
	if cause != "" {
		msg += ": " + cause
	}
	return msg
}
