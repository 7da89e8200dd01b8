package trace

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

// cutAtSecondStep is syntheticHistory(3) up to the moment the second step's
// activity started, then closeEvent (given the next event id and a time a
// second later).
func cutAtSecondStep(t *testing.T, closeEvent func(id int64, at time.Time) *historypb.HistoryEvent) []*historypb.HistoryEvent {
	t.Helper()
	h := syntheticHistory(3)
	evs := h.Events[:12]
	require.Equal(t, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, evs[11].GetEventType())
	last := evs[11].GetEventTime().AsTime()
	return append(append([]*historypb.HistoryEvent{}, evs...), closeEvent(13, last.Add(time.Second)))
}

func terminatedEvent(reason, identity string) func(int64, time.Time) *historypb.HistoryEvent {
	return func(id int64, at time.Time) *historypb.HistoryEvent {
		return &historypb.HistoryEvent{EventId: id, EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, EventTime: timestamppb.New(at),
			Attributes: &historypb.HistoryEvent_WorkflowExecutionTerminatedEventAttributes{WorkflowExecutionTerminatedEventAttributes: &historypb.WorkflowExecutionTerminatedEventAttributes{
				Reason: reason, Identity: identity}}}
	}
}

// A run ended from outside shows who ended it and why, and its step in
// flight takes the run's fate with a duration that stops at the run's end.
func TestBuildTerminatedRunNamesItsCause(t *testing.T) {
	for _, tc := range []struct {
		name, reason, identity string
		want                   []string
		byServer               bool
	}{
		{name: "operator", reason: "stuck on a bad deploy", identity: "4242@ops-laptop@",
			want: []string{"terminated by 4242@ops-laptop@: stuck on a bad deploy"}},
		{name: "no reason", identity: "4242@ops-laptop@", want: []string{"terminated by 4242@ops-laptop@ (no reason given)"}},
		{name: "history count", reason: "Workflow history count exceeds limit.", identity: IdentityServer, byServer: true,
			want: []string{"terminated by the server", "limit.historyCount.error", `"Workflow history count exceeds limit"`}},
		{name: "history size", reason: "Workflow history size exceeds limit.", identity: IdentityServer, byServer: true,
			want: []string{"terminated by the server", "limit.historySize.error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := cutAtSecondStep(t, terminatedEvent(tc.reason, tc.identity))
			tr, err := Build(evs)
			require.NoError(t, err)
			assert.Equal(t, RunTerminated, tr.Status)
			require.NotNil(t, tr.Ending)
			assert.Equal(t, tc.byServer, tr.Ending.ByServer)
			assert.Equal(t, tc.identity, tr.Ending.By)
			for _, w := range tc.want {
				assert.Contains(t, tr.Error, w)
			}
			assert.Equal(t, tr.Error, tr.Ending.Cause)

			assert.Equal(t, workflows.StatusOK, tr.Step("s0").Status)
			s1 := tr.Step("s1")
			assert.Equal(t, RunTerminated, s1.Status, "the step in flight takes the run's fate, not running")
			assert.True(t, strings.HasPrefix(s1.Error, "the run terminated while the step was in flight: terminated by"), s1.Error)
			assert.Equal(t, tr.End, s1.End, "the step ends with the run")
			assert.Equal(t, between(s1.Start, tr.End), s1.Duration)
			assert.Equal(t, workflows.StatusPending, tr.Step("s2").Status)

			var tree bytes.Buffer
			require.NoError(t, WriteTree(&tree, tr))
			assert.Contains(t, tree.String(), "✗ s1  terminated")
			assert.Contains(t, tree.String(), "error: "+tr.Error[:20])
		})
	}
}

func TestBuildTimedOutRunNamesItsTimeout(t *testing.T) {
	evs := cutAtSecondStep(t, func(id int64, at time.Time) *historypb.HistoryEvent {
		return &historypb.HistoryEvent{EventId: id, EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, EventTime: timestamppb.New(at),
			Attributes: &historypb.HistoryEvent_WorkflowExecutionTimedOutEventAttributes{WorkflowExecutionTimedOutEventAttributes: &historypb.WorkflowExecutionTimedOutEventAttributes{
				RetryState: enumspb.RETRY_STATE_TIMEOUT}}}
	})
	evs[0].GetWorkflowExecutionStartedEventAttributes().WorkflowExecutionTimeout = durationpb.New(90 * time.Second)
	tr, err := Build(evs)
	require.NoError(t, err)
	assert.Equal(t, RunTimedOut, tr.Status)
	assert.Equal(t, "timed out: the run passed its execution timeout of 1m30s (policy.timeout)", tr.Error)
	assert.True(t, tr.Ending.ByServer)
	assert.Equal(t, RunTimedOut, tr.Step("s1").Status)
	assert.Equal(t, "the run timed out while the step was in flight: "+tr.Error, tr.Step("s1").Error)
}

func TestEndingOfWords(t *testing.T) {
	ev := func(typ enumspb.EventType) *historypb.HistoryEvent { return &historypb.HistoryEvent{EventType: typ} }
	assert.Equal(t, Ending{Status: RunCompleted}, EndingOf(ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED), 0, 0))
	assert.Equal(t, "timed out: the run passed its run timeout of 5s", EndingOf(ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT), 0, 5*time.Second).Cause)
	assert.Equal(t, "timed out: the run's timeout passed", EndingOf(ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT), 0, 0).Cause)
	assert.Equal(t, RunCanceled, EndingOf(ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED), 0, 0).Status)
	assert.Equal(t, "terminated by the server (no reason given)", terminated("", IdentityServer).Cause)
}

// The trace carries each step's on_error from the Plan, so the page and
// the Mermaid flowchart can draw the edge to a handler step.
func TestTraceCarriesOnError(t *testing.T) {
	h := syntheticHistory(3)
	var in workflows.RunInput
	require.NoError(t, json.Unmarshal(h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0].GetData(), &in))
	in.Plan.Steps[0].OnError = plan.OnError{Action: plan.OnErrorStep, Step: "s2"}
	in.Plan.Steps[1].OnError = plan.OnError{Action: plan.OnErrorContinue}
	in.Plan.Steps[2].OnError = plan.OnError{Action: plan.OnErrorFail}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0].Data = b

	tr, err := BuildHistory(h)
	require.NoError(t, err)
	require.NotNil(t, tr.Step("s0").OnError)
	assert.Equal(t, plan.OnError{Action: plan.OnErrorStep, Step: "s2"}, *tr.Step("s0").OnError)
	assert.Equal(t, plan.OnErrorContinue, tr.Step("s1").OnError.Action)
	assert.Nil(t, tr.Step("s2").OnError, "the default (fail) is left out")

	js, err := json.Marshal(tr)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"on_error":{"action":"step","step":"s2"}`)

	var flow bytes.Buffer
	require.NoError(t, WriteMermaidFlow(&flow, tr))
	assert.Contains(t, flow.String(), "s0 -.->|on_error| s2")
}
