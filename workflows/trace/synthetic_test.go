package trace

import (
	"encoding/json"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

// chainPlan is n echo steps on native, each needing the one before.
func chainPlan(n int) *plan.Plan {
	p := &plan.Plan{Schema: plan.SchemaVersion, Name: "synthetic-chain", SHA256: "synthetic",
		Agents: []plan.Agent{
			{ID: "alpha", Department: "research", Team: "scouts"},
			{ID: "beta", Department: "research", Team: "writers"},
			{ID: "gamma", Department: "ops", Team: "sre"},
		}}
	agents := []string{"alpha", "beta", "gamma"}
	for i := 0; i < n; i++ {
		s := plan.Step{ID: fmt.Sprintf("s%d", i), Kind: plan.KindTool, Agent: agents[i%3], Runtimes: []string{plan.RuntimeNative},
			Tool: "echo", With: json.RawMessage(fmt.Sprintf(`{"value": {"i": %d}}`, i))}
		if i > 0 {
			s.Needs = []string{fmt.Sprintf("s%d", i-1)}
		}
		p.Steps = append(p.Steps, s)
	}
	return p
}

// syntheticHistory is the history the interpreter records for
// chainPlan(steps) on a server: 6·steps+5 events. Every fifth activity
// took three attempts and every step reports a pool figure. Its commands
// are the ones the interpreter issues, so it replays cleanly.
func syntheticHistory(steps int) *historypb.History {
	p := chainPlan(steps)
	in, _ := json.Marshal(workflows.RunInput{Plan: p, Options: workflows.Options{QueuePrefix: "tars"}})
	base := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var evs []*historypb.HistoryEvent
	clock := base
	add := func(typ enumspb.EventType, attrs func(e *historypb.HistoryEvent)) int64 {
		e := &historypb.HistoryEvent{EventId: int64(len(evs) + 1), EventType: typ, EventTime: timestamppb.New(clock)}
		attrs(e)
		evs = append(evs, e)
		clock = clock.Add(time.Millisecond)
		return e.EventId
	}
	jsonPayloads := func(b []byte) *commonpb.Payloads {
		return &commonpb.Payloads{Payloads: []*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: b}}}
	}
	add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
			WorkflowType: &commonpb.WorkflowType{Name: p.Name}, TaskQueue: &taskqueuepb.TaskQueue{Name: "tars.workflows"},
			Input: jsonPayloads(in), WorkflowTaskTimeout: durationpb.New(10 * time.Second), Attempt: 1,
			OriginalExecutionRunId: "00000000-0000-4000-8000-000000000001", FirstExecutionRunId: "00000000-0000-4000-8000-000000000001",
			WorkflowId: "synthetic-chain-1",
		}}
	})
	wft := func() int64 {
		s := add(enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_WorkflowTaskScheduledEventAttributes{WorkflowTaskScheduledEventAttributes: &historypb.WorkflowTaskScheduledEventAttributes{
				TaskQueue: &taskqueuepb.TaskQueue{Name: "tars.workflows"}, StartToCloseTimeout: durationpb.New(10 * time.Second), Attempt: 1}}
		})
		st := add(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_WorkflowTaskStartedEventAttributes{WorkflowTaskStartedEventAttributes: &historypb.WorkflowTaskStartedEventAttributes{
				ScheduledEventId: s, Identity: "1@synthetic"}}
		})
		return add(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_WorkflowTaskCompletedEventAttributes{WorkflowTaskCompletedEventAttributes: &historypb.WorkflowTaskCompletedEventAttributes{
				ScheduledEventId: s, StartedEventId: st, Identity: "1@synthetic"}}
		})
	}
	done := wft()
	for i := range p.Steps {
		s := &p.Steps[i]
		call, _ := json.Marshal(map[string]any{"step": s.ID, "runtime": "native", "tool": "echo", "args": json.RawMessage(fmt.Sprintf(`{"value": {"i": %d}}`, i))})
		sched := add(enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
				ActivityId: s.ID + "@native", ActivityType: &commonpb.ActivityType{Name: "echo"}, TaskQueue: &taskqueuepb.TaskQueue{Name: "tars.native"},
				Input: jsonPayloads(call), ScheduleToStartTimeout: durationpb.New(time.Minute), StartToCloseTimeout: durationpb.New(10 * time.Minute),
				WorkflowTaskCompletedEventId: done, RetryPolicy: &commonpb.RetryPolicy{MaximumAttempts: 3},
			}}
		})
		attempt := int32(1)
		var last *failurepb.Failure
		if i%5 == 4 {
			attempt = 3
			last = &failurepb.Failure{Message: "planned failure 2", FailureInfo: &failurepb.Failure_ApplicationFailureInfo{ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: "ToolFailed"}}}
		}
		started := add(enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_ActivityTaskStartedEventAttributes{ActivityTaskStartedEventAttributes: &historypb.ActivityTaskStartedEventAttributes{
				ScheduledEventId: sched, Identity: "42@pool-native", Attempt: attempt, LastFailure: last}}
		})
		clock = clock.Add(3 * time.Millisecond)
		res := []byte(fmt.Sprintf(`{"output":{"i":%d},"metrics":{"native.run_us":%d}}`, i, 3000+i))
		add(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_ActivityTaskCompletedEventAttributes{ActivityTaskCompletedEventAttributes: &historypb.ActivityTaskCompletedEventAttributes{
				ScheduledEventId: sched, StartedEventId: started, Identity: "42@pool-native", Result: jsonPayloads(res)}}
		})
		done = wft()
	}
	result, _ := json.Marshal(workflows.RunResult{Outputs: map[string]any{}})
	add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_WorkflowExecutionCompletedEventAttributes{WorkflowExecutionCompletedEventAttributes: &historypb.WorkflowExecutionCompletedEventAttributes{
			Result: jsonPayloads(result), WorkflowTaskCompletedEventId: done}}
	})
	return &historypb.History{Events: evs}
}
