package workflows

import (
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// runStep executes one step to a terminal state (or pauses a loop).
func (r *run) runStep(ctx workflow.Context, s *plan.Step, st *StepView) {
	if st.Status == StatusPending {
		st.Started = workflow.Now(ctx)
	}
	st.Status = StatusRunning
	if s.When != "" && st.Turns == 0 {
		ok, err := r.env.EvalBool(s.When, r.vars(nil))
		if err != nil {
			r.stepFailed(ctx, s, st, exprError(s, "when", err))
			return
		}
		if !ok {
			st.Status = StatusSkipped
			st.Ended = workflow.Now(ctx)
			r.publish(s, st)
			return
		}
	}
	var out any
	var err error
	switch {
	case s.While != nil:
		r.publish(s, st) // the condition sees steps.<id> before the first turn
		out, err = r.loop(ctx, s, st)
		if st.Status == StatusPaused {
			return
		}
	case s.Foreach != "":
		out, err = r.foreach(ctx, s, st)
	default:
		out, err = r.once(ctx, s, st, nil)
	}
	if err == nil {
		err = r.check(s, out)
	}
	st.Output = out
	if err != nil {
		r.stepFailed(ctx, s, st, err)
		return
	}
	st.Status = StatusOK
	st.Ended = workflow.Now(ctx)
	r.publish(s, st)
}

// once runs the step's action one time: one foreach item or loop turn.
func (r *run) once(ctx workflow.Context, s *plan.Step, st *StepView, sc *scope) (any, error) {
	if err := r.countExecution(s); err != nil {
		return nil, err
	}
	vars := r.vars(sc)
	switch s.Kind {
	case plan.KindReason:
		if s.Reason != nil || workflow.GetVersion(ctx, ChangeAgentLoop, workflow.DefaultVersion, 1) == 1 {
			return r.agent(ctx, s, st, sc, vars)
		}
		return r.tool(ctx, s, st, sc, vars)
	case plan.KindTool:
		return r.tool(ctx, s, st, sc, vars)
	case plan.KindSet:
		v, err := expr.Decode(s.Set)
		if err != nil {
			return nil, exprError(s, "set", err)
		}
		out, err := r.env.Render(v, vars)
		if err != nil {
			return nil, exprError(s, "set", err)
		}
		return out, nil
	case plan.KindApproval:
		return r.approval(ctx, s, st, vars)
	case plan.KindCall:
		return r.child(ctx, s, sc, vars)
	}
	return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %s: unknown kind %q", s.ID, s.Kind), ErrInvalidPlan, nil)
}

// countExecution counts one execution of s (a foreach item or a loop turn
// counts as one) against policy.max_steps, and fails the run past it.
func (r *run) countExecution(s *plan.Step) error {
	r.executed++
	if max := r.p.Policy.MaxSteps; max > 0 && r.executed > max {
		err := temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("policy.max_steps %d reached at step %s", max, s.ID), ErrMaxSteps, nil)
		r.fail(err)
		return err
	}
	return nil
}

// foreach runs the step once per item with at most Concurrency in flight.
// It stops launching items after the first failure.
func (r *run) foreach(ctx workflow.Context, s *plan.Step, st *StepView) (any, error) {
	v, err := r.env.Eval(s.Foreach, r.vars(nil))
	if err != nil {
		return nil, exprError(s, "foreach", err)
	}
	items, ok := v.([]any)
	if !ok {
		if v == nil {
			items = nil
		} else {
			return nil, exprError(s, "foreach", fmt.Errorf("want a list, got %s", expr.TypeOf(v)))
		}
	}
	limit := s.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	st.Items = len(items)
	if len(items) > r.shardThreshold() && shardable(s) {
		if v := workflow.GetVersion(ctx, ChangeForeachShards, workflow.DefaultVersion, 2); v >= 1 {
			return r.foreachShards(ctx, s, st, items, limit, slotItems(v))
		}
	}
	var outs []any
	var errs []error
	if r.oneActivityPerItem(s) && workflow.GetVersion(ctx, ChangeForeachSelector, workflow.DefaultVersion, 1) == 1 {
		outs, errs = r.foreachActivities(ctx, s, st, items, limit)
	} else if outs, errs, err = r.foreachCoroutines(ctx, s, st, items, limit); err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			return outs, fmt.Errorf("item %d: %w", i, err)
		}
	}
	return outs, nil
}

// foreachCoroutines runs each item in a coroutine of its own, whatever the
// step does (fallbacks, child runs, approvals). err is set when the wait
// for a free slot was cancelled.
func (r *run) foreachCoroutines(ctx workflow.Context, s *plan.Step, st *StepView, items []any, limit int) (outs []any, errs []error, err error) {
	outs = make([]any, len(items))
	errs = make([]error, len(items))
	running := 0
	failed := false
	wg := workflow.NewWaitGroup(ctx)
	for i, item := range items {
		if err := workflow.Await(ctx, func() bool { return running < limit || failed }); err != nil {
			return nil, nil, err
		}
		if failed || r.fatal != nil || r.yielding(i) {
			break
		}
		running++
		wg.Add(1)
		i, item := i, item
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			out, err := r.once(ctx, s, st, &scope{item: item, index: r.itemBase + i, hasItem: true})
			outs[i], errs[i] = out, err
			if err != nil {
				failed = true
			}
			st.ItemsDone++
			running--
		})
	}
	wg.Wait(ctx)
	return outs, errs, nil
}

// oneActivityPerItem reports whether each execution of s is exactly one
// activity: a tool or reason step with a one-runtime chain, which has no
// pollers probe and nowhere to fall back to. A reason step whose agent
// calls tools (plan.Step.Reason) is a loop of activities, so it is not.
func (r *run) oneActivityPerItem(s *plan.Step) bool {
	return (s.Kind == plan.KindTool || (s.Kind == plan.KindReason && s.Reason == nil)) && !s.Auto && len(r.chain(s)) == 1
}

// foreachActivities runs a oneActivityPerItem step's items from this
// coroutine: it schedules each item's activity and takes completions from a
// selector. The SDK resumes every blocked coroutine on every workflow task,
// so a coroutine per item in flight costs a context switch and a stack walk
// per item per task: at concurrency 100 that was more CPU than the rest of
// the interpreter, and made a fan-out about 12% slower than a hand-written
// one (docs/performance.md).
// Each item schedules the same activity as in foreachCoroutines, in item
// order; ChangeForeachSelector guards it because commands of concurrent
// steps can interleave differently.
func (r *run) foreachActivities(ctx workflow.Context, s *plan.Step, st *StepView, items []any, limit int) ([]any, []error) {
	rt := r.chain(s)[0]
	admitting := s.Kind == plan.KindReason && workflow.GetVersion(ctx, ChangeAgentLoop, workflow.DefaultVersion, 1) == 1
	outs := make([]any, len(items))
	errs := make([]error, len(items))
	sel := workflow.NewSelector(ctx)
	pending, failed := 0, false
	for i, item := range items {
		for pending >= limit && !failed {
			sel.Select(ctx)
			pending--
		}
		if failed || r.fatal != nil || r.yielding(i) {
			break
		}
		sc := &scope{item: item, index: r.itemBase + i, hasItem: true}
		if err := r.countExecution(s); err != nil {
			errs[i] = err
			st.ItemsDone++
			break
		}
		args, err := r.env.RenderJSON(s.With, r.vars(sc))
		if err != nil {
			errs[i] = exprError(s, "with", err)
			st.ItemsDone++
			break
		}
		var h hold
		if admitting {
			// Budgets are checked before each model call (agent.go).
			takeOne := func() bool {
				if pending == 0 {
					return false
				}
				sel.Select(ctx)
				pending--
				return true
			}
			limit, hh, err := r.admit(ctx, modelOf(args), len(args), fmt.Sprintf("step %s item %d: agent %s", s.ID, sc.index, s.Agent), takeOne)
			if err != nil {
				errs[i] = err
				st.ItemsDone++
				break
			}
			args, h = withMaxTokens(args, limit), hh
			if failed || r.fatal != nil {
				r.release(h)
				break
			}
		}
		st.Runtime = rt
		pending++
		var settle func(f workflow.Future)
		attempts, lost := toolAttempts(s.Retry), 0
		settle = func(f workflow.Future) {
			var res activities.Result
			var out any
			err := f.Get(ctx, &res)
			if used, ok := r.workerLost(ctx, err); ok && lost < InfraRetries {
				// Same rule as runOn: a lost worker does not spend the
				// tool's attempts; the item is scheduled again.
				lost++
				attempts = max(attempts-used, 1)
				pending++
				sel.AddFuture(r.schedule(ctx, s, st, sc, rt, args, true, attempts), settle)
				return
			}
			r.release(h)
			switch {
			case err == nil:
				out, err = r.toolOutput(s, rt, res)
			case isScheduleToStart(err):
				err = noPool(s, []string{r.notStarted(ctx, s, st, rt, "")})
			}
			outs[i], errs[i] = out, err
			if err != nil {
				failed = true
			}
			st.ItemsDone++
		}
		sel.AddFuture(r.schedule(ctx, s, st, sc, rt, args, true, attempts), settle)
	}
	for ; pending > 0; pending-- {
		sel.Select(ctx)
	}
	return outs, errs
}

// loop runs the step while its condition holds, at most Max turns. The
// condition sees steps.<id> as the previous turn (output null at first).
func (r *run) loop(ctx workflow.Context, s *plan.Step, st *StepView) (any, error) {
	out := st.Output
	for st.Turns < s.While.Max {
		ok, err := r.env.EvalBool(s.While.Cond, r.vars(&scope{index: st.Turns, turn: true}))
		if err != nil {
			return out, exprError(s, "while", err)
		}
		if !ok {
			break
		}
		o, err := r.once(ctx, s, st, &scope{index: st.Turns, turn: true})
		if err != nil {
			return out, fmt.Errorf("turn %d: %w", st.Turns, err)
		}
		out = o
		st.Output = out
		st.Turns++
		r.publish(s, st)
		if st.Turns < s.While.Max && r.inflight == 1 && r.wantContinueAsNew(ctx) {
			st.Status = StatusPaused
			return out, nil
		}
	}
	return out, nil
}

func (r *run) check(s *plan.Step, out any) error {
	if len(s.Checks) == 0 {
		return nil
	}
	vars := r.vars(nil)
	vars[expr.VarOutput] = out
	for _, c := range s.Checks {
		ok, err := r.env.EvalBool(c.Expr, vars)
		if err != nil {
			return exprError(s, "check", err)
		}
		if !ok {
			msg := c.Message
			if msg == "" {
				msg = c.Expr
			}
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("step %s: check failed: %s", s.ID, msg), ErrCheckFailed, nil)
		}
	}
	return nil
}

// stepFailed applies the step's on_error rule.
func (r *run) stepFailed(ctx workflow.Context, s *plan.Step, st *StepView, err error) {
	if ctx.Err() != nil && temporal.IsCanceledError(err) {
		// The run was cancelled: the step did not fail, and no on_error
		// rule applies. The dispatcher ends the run as Canceled.
		st.Status = StatusCanceled
		st.Ended = workflow.Now(ctx)
		r.publish(s, st)
		return
	}
	st.Status = StatusFailed
	st.Error = Describe(err)
	st.Ended = workflow.Now(ctx)
	r.publish(s, st)
	if r.fatal != nil {
		return
	}
	switch s.OnError.Action {
	case plan.OnErrorContinue:
		return
	case plan.OnErrorStep:
		i, ok := r.index[s.OnError.Step]
		if !ok {
			r.fail(temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %s: on_error step %s does not exist", s.ID, s.OnError.Step), ErrBadInput, err))
			return
		}
		h, hst := &r.p.Steps[i], r.states[i]
		if terminal(hst.Status) || hst.Status == StatusRunning {
			return // one handler run serves every failure that names it
		}
		r.runStep(ctx, h, hst)
		if hst.Status == StatusFailed {
			return // the handler's own on_error rule has decided
		}
		st.Status = StatusHandled
		r.publish(s, st)
	default:
		typ := appErrType(err)
		if typ == "" {
			typ = ErrStepFailed
		}
		where := s.ID
		if s.Pos != "" {
			where += " (" + s.Pos + ")"
		}
		r.fail(temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("step %s failed: %s", where, st.Error), typ, nil))
	}
}

func exprError(s *plan.Step, what string, err error) error {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("step %s (%s): %s: %v", s.ID, s.Pos, what, err), ErrExpression, nil)
}

// Describe renders an error from an activity, child run or expression as
// one line: the wrapping context, the innermost message and its type,
// without the SDK's repeated cause chains.
func Describe(err error) string {
	prefix := ""
	for err != nil {
		switch e := err.(type) {
		case *temporal.ApplicationError:
			if e.Type() == "" || strings.HasSuffix(e.Message(), "["+e.Type()+"]") {
				return prefix + e.Message()
			}
			return prefix + e.Message() + " [" + e.Type() + "]"
		case *temporal.TimeoutError:
			return prefix + "timed out (" + timeoutNames[e.TimeoutType()] + ")"
		case *temporal.CanceledError:
			return prefix + "canceled"
		case *temporal.ActivityError, *temporal.ChildWorkflowExecutionError, *temporal.WorkflowExecutionError:
			err = errors.Unwrap(err)
			continue
		}
		inner := errors.Unwrap(err)
		if inner == nil {
			return prefix + err.Error()
		}
		if outer := err.Error(); strings.HasSuffix(outer, inner.Error()) {
			prefix += strings.TrimSuffix(outer, inner.Error())
		}
		err = inner
	}
	return prefix
}

var timeoutNames = map[enumspb.TimeoutType]string{
	enumspb.TIMEOUT_TYPE_START_TO_CLOSE:    "start-to-close: the step's timeout",
	enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START: "schedule-to-start: no pool picked it up",
	enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: "schedule-to-close",
	enumspb.TIMEOUT_TYPE_HEARTBEAT:         "heartbeat: its worker stopped answering",
}
