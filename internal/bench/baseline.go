package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/plan"
)

// The hand-written side: what a Go programmer would write with the SDK to do
// what the bench metascripts do, sending the same activity inputs to the
// same kind of queue. Workflow type names are these functions' names.

// EchoActivity is the hand-written echo tool: the same contract and bytes as
// the native pool's echo (args.value when args is an object with "value",
// else the args). Registered as "echo", the name the TARS side schedules.
func EchoActivity(_ context.Context, call activities.Call) (activities.Result, error) {
	raw := bytes.TrimSpace(call.Args)
	if len(raw) > 0 && raw[0] == '{' {
		var obj struct {
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(raw, &obj); err == nil && obj.Value != nil {
			return activities.Result{Output: obj.Value}, nil
		}
	}
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	return activities.Result{Output: raw}, nil
}

// EchoName is the activity type of EchoActivity, and the tool the
// metascripts call.
const EchoName = "echo"

// BaselineInput is the input of the hand-written workflows.
type BaselineInput struct {
	// Queue is the activity task queue (<prefix>.native).
	Queue string `json:"queue"`
	// Steps: Sequential's step count.
	Steps int `json:"steps,omitempty"`
	// Items and Concurrency: FanOut's list and limit.
	Items       []any `json:"items,omitempty"`
	Concurrency int   `json:"concurrency,omitempty"`
}

// activityOptions are the options a careful hand-written workflow sets: the
// same start-to-close bound as a TARS step with no timeout, and the SDK's
// default retry policy.
func activityOptions(ctx workflow.Context, queue string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           queue,
		StartToCloseTimeout: 10 * time.Minute,
	})
}

// echoCall is the activity input, field for field what the interpreter sends
// for an echo step with these args.
func echoCall(ctx workflow.Context, step string, item int, args json.RawMessage) activities.Call {
	return activities.Call{
		RunID:   workflow.GetInfo(ctx).WorkflowExecution.ID,
		Step:    step,
		Item:    item,
		Runtime: plan.RuntimeNative,
		Tool:    EchoName,
		Args:    args,
	}
}

// SequentialWorkflow calls echo in.Steps times, one after the other.
func SequentialWorkflow(ctx workflow.Context, in BaselineInput) (int, error) {
	ctx = activityOptions(ctx, in.Queue)
	for i := range in.Steps {
		var res activities.Result
		call := echoCall(ctx, seqStepID(i), 0, json.RawMessage(echoArgs))
		if err := workflow.ExecuteActivity(ctx, EchoName, call).Get(ctx, &res); err != nil {
			return i, err
		}
	}
	return in.Steps, nil
}

// FanOutWorkflow calls echo once per item, at most in.Concurrency at once,
// and keeps the outputs (as the foreach step does).
func FanOutWorkflow(ctx workflow.Context, in BaselineInput) (int, error) {
	ctx = activityOptions(ctx, in.Queue)
	limit := max(1, in.Concurrency)
	outs := make([]json.RawMessage, len(in.Items))
	sel := workflow.NewSelector(ctx)
	var firstErr error
	pending := 0
	for i, item := range in.Items {
		if pending == limit {
			sel.Select(ctx)
			pending--
		}
		if firstErr != nil {
			break
		}
		args, err := json.Marshal(map[string]any{"value": item})
		if err != nil {
			return 0, err
		}
		f := workflow.ExecuteActivity(ctx, EchoName, echoCall(ctx, "each", i, args))
		sel.AddFuture(f, func(f workflow.Future) {
			var res activities.Result
			if err := f.Get(ctx, &res); err != nil && firstErr == nil {
				firstErr = err
			}
			outs[i] = res.Output
		})
		pending++
	}
	for ; pending > 0; pending-- {
		sel.Select(ctx)
	}
	if firstErr != nil {
		return 0, firstErr
	}
	return len(outs), nil
}

// OneStepWorkflow calls echo once.
func OneStepWorkflow(ctx workflow.Context, in BaselineInput) (int, error) {
	ctx = activityOptions(ctx, in.Queue)
	var res activities.Result
	err := workflow.ExecuteActivity(ctx, EchoName, echoCall(ctx, "one", 0, json.RawMessage(echoArgs))).Get(ctx, &res)
	if err != nil {
		return 0, err
	}
	return 1, nil
}
