package trace

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tars-engine/tars/workflows"
)

// A history recorded before hop markers existed: the hop is read from a
// schedule-to-start timeout followed by the same step on another queue.
func TestBuildInfersHopFromScheduleToStartTimeout(t *testing.T) {
	h := syntheticHistory(2)
	at := h.Events[3].GetEventTime().AsTime()
	cudaScheduled := &historypb.HistoryEvent{EventId: 1001, EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, EventTime: timestamppb.New(at),
		Attributes: &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
			ActivityId: "s0@cuda", ActivityType: &commonpb.ActivityType{Name: "echo"}, TaskQueue: &taskqueuepb.TaskQueue{Name: "tars.cuda"}}}}
	cudaTimedOut := &historypb.HistoryEvent{EventId: 1002, EventType: enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, EventTime: timestamppb.New(at.Add(time.Minute)),
		Attributes: &historypb.HistoryEvent_ActivityTaskTimedOutEventAttributes{ActivityTaskTimedOutEventAttributes: &historypb.ActivityTaskTimedOutEventAttributes{
			ScheduledEventId: 1001, RetryState: enumspb.RETRY_STATE_TIMEOUT,
			Failure: &failurepb.Failure{Message: "activity ScheduleToStart timeout", FailureInfo: &failurepb.Failure_TimeoutFailureInfo{
				TimeoutFailureInfo: &failurepb.TimeoutFailureInfo{TimeoutType: enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START}}}}}}
	events := append([]*historypb.HistoryEvent{}, h.Events[:4]...)
	events = append(events, cudaScheduled, cudaTimedOut)
	events = append(events, h.Events[4:]...)

	tr, err := Build(events)
	require.NoError(t, err)
	s := tr.Step("s0")
	require.Len(t, s.Activities, 2)
	assert.Equal(t, ActTimedOut, s.Activities[0].Status)
	assert.Equal(t, "schedule_to_start", s.Activities[0].Timeout)
	assert.Equal(t, int32(0), s.Activities[0].Attempt, "it never started")
	require.Len(t, s.Hops, 1)
	assert.Equal(t, "cuda", s.Hops[0].From)
	assert.Equal(t, "native", s.Hops[0].To)
	assert.True(t, s.Hops[0].Inferred)
	assert.Equal(t, int64(1002), s.Hops[0].EventID)
	assert.Equal(t, "native", s.Runtime)
	assert.Equal(t, workflows.StatusOK, s.Status)
	assert.Equal(t, 1, tr.Totals.Runtimes["cuda"].Failures)
	assert.Equal(t, 1, tr.Totals.Runtimes["cuda"].Hops)
}

func TestBuildRejectsForeignHistories(t *testing.T) {
	_, err := Build(nil)
	require.Error(t, err)
	h := syntheticHistory(1)
	_, err = Build(h.Events[1:])
	assert.ErrorContains(t, err, "not WorkflowExecutionStarted")
	h.Events[0].GetWorkflowExecutionStartedEventAttributes().Input.Payloads[0].Data = []byte(`{"greeting": "hello"}`)
	_, err = Build(h.Events)
	assert.ErrorIs(t, err, ErrNotTARS)
}

// A live view and pending activities make an open run's states exact.
func TestApplyStateAndPending(t *testing.T) {
	h := syntheticHistory(3)
	// Cut after s1 was scheduled (events: 1 start, 3 WFT, 6 per step).
	tr, err := Build(h.Events[:11])
	require.NoError(t, err)
	require.Equal(t, workflows.StatusRunning, tr.Step("s1").Status)
	now := tr.Start.Add(time.Second)
	tr.ApplyState(workflows.State{Steps: []workflows.StepView{
		{ID: "s0", Status: workflows.StatusOK},
		{ID: "s1", Status: workflows.StatusRunning, Started: tr.Start},
		{ID: "s2", Status: workflows.StatusPending},
	}})
	assert.True(t, tr.Live)
	tr.ApplyPending([]*workflowpb.PendingActivityInfo{{
		ActivityId: "s1@native", State: enumspb.PENDING_ACTIVITY_STATE_STARTED, Attempt: 2,
		LastWorkerIdentity: "7@pool", LastStartedTime: timestamppb.New(now),
		LastFailure: &failurepb.Failure{Message: "flaky"},
	}})
	a := tr.Step("s1").Activities[0]
	assert.Equal(t, ActStarted, a.Status)
	assert.Equal(t, int32(2), a.Attempt)
	assert.Equal(t, "7@pool", a.Identity)
	assert.Equal(t, "flaky", a.LastFailure)
	assert.Equal(t, 2, tr.Step("s1").Attempts)
	assert.Equal(t, 1, tr.Step("s1").Failures)
}
