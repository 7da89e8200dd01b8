package trace

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"
)

// recorder notes, in order, the activities, timers and child runs that the
// replayed code asks for, so that a divergence the SDK reports only from
// the history's side ("a matching Activity command was expected") can say
// what the code did instead: the call of the same kind and ordinal.
// Replayed workflow code runs one coroutine at a time, so no lock is needed.
type recorder struct {
	interceptor.WorkerInterceptorBase
	calls map[string][]string // kind (as the SDK names it) -> calls in order
}

func newRecorder() *recorder { return &recorder{calls: map[string][]string{}} }

func (r *recorder) nth(kind string, n int) (string, bool) {
	if n < 0 || n >= len(r.calls[kind]) {
		return "", false
	}
	return r.calls[kind][n], true
}

// InterceptWorkflow implements interceptor.WorkerInterceptor.
func (r *recorder) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &recordInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, r: r}
}

type recordInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	r *recorder
}

func (i *recordInbound) Init(out interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&recordOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: out}, r: i.r})
}

type recordOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	r *recorder
}

func (o *recordOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	opts := workflow.GetActivityOptions(ctx)
	o.r.calls["Activity"] = append(o.r.calls["Activity"],
		fmt.Sprintf("ScheduleActivityTask %s (activity id %s, queue %s)", activityType, opts.ActivityID, opts.TaskQueue))
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

func (o *recordOutbound) NewTimer(ctx workflow.Context, d time.Duration) workflow.Future {
	o.r.calls["Timer"] = append(o.r.calls["Timer"], fmt.Sprintf("StartTimer %s", d))
	return o.Next.NewTimer(ctx, d)
}

func (o *recordOutbound) NewTimerWithOptions(ctx workflow.Context, d time.Duration, opts workflow.TimerOptions) workflow.Future {
	o.r.calls["Timer"] = append(o.r.calls["Timer"], fmt.Sprintf("StartTimer %s", d))
	return o.Next.NewTimerWithOptions(ctx, d, opts)
}

func (o *recordOutbound) ExecuteChildWorkflow(ctx workflow.Context, childType string, args ...any) workflow.ChildWorkflowFuture {
	opts := workflow.GetChildWorkflowOptions(ctx)
	o.r.calls["ChildWorkflow"] = append(o.r.calls["ChildWorkflow"],
		fmt.Sprintf("StartChildWorkflowExecution %s (workflow id %s)", childType, opts.WorkflowID))
	return o.Next.ExecuteChildWorkflow(ctx, childType, args...)
}
