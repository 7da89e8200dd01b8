package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// tool runs a tool or reason step as an activity on the first runtime of its
// chain that picks it up, falling back along the chain.
func (r *run) tool(ctx workflow.Context, s *plan.Step, st *StepView, sc *scope, vars expr.Vars) (any, error) {
	args, err := r.env.RenderJSON(s.With, vars)
	if err != nil {
		return nil, exprError(s, "with", err)
	}
	res, rt, err := r.dispatch(ctx, s, st, sc, args)
	if err != nil {
		return nil, err
	}
	return r.toolOutput(s, rt, res)
}

// dispatch runs s's tool with args (already rendered) on the first runtime
// of its chain that picks it up, falling back along the chain, and returns
// the result and the runtime that ran it.
func (r *run) dispatch(ctx workflow.Context, s *plan.Step, st *StepView, sc *scope, args json.RawMessage) (activities.Result, string, error) {
	chain := r.chain(s)
	if len(chain) == 0 {
		return activities.Result{}, "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("step %s: no runtime in %v meets its isolation floor %q", s.ID, s.Runtimes, s.MinIsolation), ErrNoPool, nil)
	}
	if (len(chain) > 1 || s.Auto) && !r.liveKnown {
		r.probe(ctx)
	}
	if s.Auto && r.liveKnown && workflow.GetVersion(ctx, ChangeAutoLiveOnly, workflow.DefaultVersion, 1) == 1 {
		// auto picks only among live pools: a runtime with no pollers is
		// not a choice, however early it stands in the chain.
		var live []string
		for _, rt := range chain {
			if r.live[rt] {
				live = append(live, rt)
			}
		}
		if len(live) == 0 {
			return activities.Result{}, "", temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("step %s: runtime auto: no live pool offers tool %s (looked at %s)", s.ID, s.Tool, strings.Join(chain, ", ")), ErrNoPool, nil)
		}
		chain = live
	}
	var tried []string
	for k := 0; k < len(chain); k++ {
		rt := chain[k]
		if r.liveKnown && !r.live[rt] && liveAfter(r.live, chain[k+1:]) {
			tried = append(tried, rt+" (no live pollers)")
			r.hop(ctx, st, Hop{Step: s.ID, From: rt, To: firstLive(r.live, chain[k+1:]), Reason: "no live pollers"})
			continue
		}
		st.Runtime = rt
		res, err := r.runOn(ctx, s, st, sc, rt, args, k == len(chain)-1)
		if err == nil {
			return res, rt, nil
		}
		if !isScheduleToStart(err) {
			return activities.Result{}, rt, err
		}
		next := ""
		if k+1 < len(chain) {
			next = chain[k+1]
		}
		tried = append(tried, r.notStarted(ctx, s, st, rt, next))
		if next != "" {
			r.probe(ctx)
		}
	}
	return activities.Result{}, "", noPool(s, tried)
}

// runOn runs one execution of s on runtime rt until it succeeds, fails as
// the step's retry policy says, or is not started in time. Two things do
// not count against the attempts the step grants its tool:
//   - a live pool that is merely busy: when the schedule-to-start timeout
//     passes but rt still has live pollers, the step queues again on rt
//     instead of falling back (fallback is for pools that are gone);
//   - a lost worker: a heartbeat or start-to-close timeout means the
//     worker died or hung, not that the tool failed. The activity is
//     scheduled again with the tool attempts it had left, up to
//     InfraRetries times.
func (r *run) runOn(ctx workflow.Context, s *plan.Step, st *StepView, sc *scope, rt string, args json.RawMessage, last bool) (activities.Result, error) {
	attempts := toolAttempts(s.Retry)
	for lost := 0; ; {
		var res activities.Result
		err := r.schedule(ctx, s, st, sc, rt, args, last, attempts).Get(ctx, &res)
		switch {
		case err == nil:
			return res, nil
		case isScheduleToStart(err) && !last:
			if workflow.GetVersion(ctx, ChangeBusyPoolQueues, workflow.DefaultVersion, 1) == 1 {
				r.probe(ctx)
				if r.liveKnown && r.live[rt] {
					continue // busy, not gone: keep the place in this pool's queue
				}
			}
		case lost < InfraRetries:
			if used, ok := r.workerLost(ctx, err); ok {
				lost++
				attempts = max(attempts-used, 1)
				continue
			}
		}
		return res, err
	}
}

// InfraRetries is how many times one execution of a step is scheduled
// again after its worker was lost (heartbeat or start-to-close timeout),
// on top of the attempts the step grants its tool.
const InfraRetries = 3

// Timeout failure types the server matches against a retry policy's
// non-retryable error types (the server's "TemporalTimeout:" prefix).
var (
	timeoutStartToClose = "TemporalTimeout:" + enumspb.TIMEOUT_TYPE_START_TO_CLOSE.String()
	timeoutHeartbeat    = "TemporalTimeout:" + enumspb.TIMEOUT_TYPE_HEARTBEAT.String()
)

// workerLost reports whether err is an activity that timed out because its
// worker stopped answering, and how many tool attempts it used before that
// (the pools record the attempt number in their heartbeats).
func (r *run) workerLost(ctx workflow.Context, err error) (used int, ok bool) {
	var te *temporal.TimeoutError
	if !errors.As(err, &te) {
		return 0, false
	}
	if t := te.TimeoutType(); t != enumspb.TIMEOUT_TYPE_HEARTBEAT && t != enumspb.TIMEOUT_TYPE_START_TO_CLOSE {
		return 0, false
	}
	if workflow.GetVersion(ctx, ChangeInfraRetries, workflow.DefaultVersion, 1) != 1 {
		return 0, false
	}
	attempt := 1
	if te.HasLastHeartbeatDetails() {
		var hb activities.Heartbeat
		if te.LastHeartbeatDetails(&hb) == nil && hb.Attempt > 0 {
			attempt = hb.Attempt
		}
	}
	return attempt - 1, true // the attempt that timed out is not the tool's
}

func toolAttempts(rp *plan.Retry) int {
	if rp != nil && rp.Attempts > 0 {
		return rp.Attempts
	}
	return DefaultAttempts
}

// DefaultAttempts is how many times a step's tool runs when the step sets
// no retry.attempts.
const DefaultAttempts = 3

// toolOutput is a step's output from its activity's result.
func (r *run) toolOutput(s *plan.Step, rt string, res activities.Result) (any, error) {
	r.account(s, res.Metrics)
	out, err := expr.Decode(res.Output)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("step %s: tool %s on %s returned output that is not JSON: %v", s.ID, s.Tool, rt, err), activities.ErrToolFailed, nil)
	}
	if s.Kind == plan.KindReason {
		out = reasonOutput(out)
	}
	return out, nil
}

// notStarted records the hop away from rt after a schedule-to-start
// timeout and says what was tried, for noPool.
func (r *run) notStarted(ctx workflow.Context, s *plan.Step, st *StepView, rt, next string) string {
	sts := r.scheduleToStart(s)
	r.hop(ctx, st, Hop{Step: s.ID, From: rt, To: next, Reason: fmt.Sprintf("not started within %s", sts)})
	return fmt.Sprintf("%s (not started within %s)", rt, sts)
}

func noPool(s *plan.Step, tried []string) error {
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("step %s: no pool could run tool %s: tried %s", s.ID, s.Tool, strings.Join(tried, ", ")), ErrNoPool, nil)
}

// chain is the step's runtime chain, never below its isolation floor. For
// `auto`, live runtimes come first, in the chain's preference order.
func (r *run) chain(s *plan.Step) []string {
	floor := plan.IsolationRank(s.MinIsolation)
	var out []string
	for _, rt := range s.Runtimes {
		if plan.IsolationRank(plan.Isolation(rt)) >= floor {
			out = append(out, rt)
		}
	}
	if len(out) == 0 && len(s.Runtimes) == 0 && floor <= 0 {
		out = []string{plan.RuntimeNative}
	}
	return out
}

func liveAfter(live map[string]bool, rest []string) bool { return firstLive(live, rest) != "" }

func firstLive(live map[string]bool, rest []string) string {
	for _, rt := range rest {
		if live[rt] {
			return rt
		}
	}
	return ""
}

// probe asks the control activity which runtime queues have live pollers.
func (r *run) probe(ctx workflow.Context) {
	queues := map[string]string{}
	for _, rt := range plan.Runtimes {
		queues[rt] = RuntimeQueue(r.in.Options.QueuePrefix, rt)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           WorkflowQueue(r.in.Options.QueuePrefix),
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
		Summary:             "which pools are live",
	})
	var res PollersResult
	if err := workflow.ExecuteActivity(actx, PollersActivity, PollersRequest{Queues: queues}).Get(ctx, &res); err != nil {
		// Routing then falls back on schedule-to-start timeouts alone.
		workflow.GetLogger(ctx).Warn("pollers probe failed", "error", err)
		return
	}
	r.live = res.Live
	r.liveKnown = true
}

// hop records a fallback in the step state and, as a marker, in the history.
func (r *run) hop(ctx workflow.Context, st *StepView, h Hop) {
	st.Hops = append(st.Hops, h)
	if workflow.GetVersion(ctx, ChangeHopMarker, workflow.DefaultVersion, 1) == 1 {
		_ = workflow.SideEffect(ctx, func(workflow.Context) any { return h })
	}
}

func (r *run) scheduleToStart(s *plan.Step) time.Duration {
	if s.ScheduleToStart > 0 {
		return s.ScheduleToStart.D()
	}
	if r.in.Options.ScheduleToStart > 0 {
		return r.in.Options.ScheduleToStart.D()
	}
	return DefaultScheduleToStart
}

// schedule schedules the step's activity on one runtime's queue; the
// future's value is an activities.Result.
// The last runtime of a chain has no schedule-to-start timeout unless the
// author wrote one: there is nowhere to fall back to, so a busy pool queues
// the step. attempts is how many tool attempts the activity may use.
func (r *run) schedule(ctx workflow.Context, s *plan.Step, st *StepView, sc *scope, rt string, args json.RawMessage, last bool, attempts int) workflow.Future {
	timeout := s.Timeout.D()
	if timeout <= 0 {
		timeout = DefaultStepTimeout
	}
	scope, item, agentCall := ScopeNone, 0, ""
	if sc != nil {
		item = sc.index
		if sc.hasItem {
			scope = ScopeItem
		} else if sc.turn {
			scope = ScopeTurn
		}
		agentCall = sc.call
	}
	summary := s.ID
	if s.Agent != "" {
		summary += " · " + s.Agent
	}
	if sc != nil && sc.call != "" {
		summary += " · " + sc.call + " " + s.Tool
	}
	summary += " · " + rt
	if len(st.Hops) > 0 {
		summary += " (fallback from " + st.Hops[len(st.Hops)-1].From + ")"
	}
	sts := r.scheduleToStart(s)
	if last && s.ScheduleToStart <= 0 {
		sts = 0
	}
	rp := retryPolicy(s.Retry)
	rp.MaximumAttempts = int32(attempts)
	rp.NonRetryableErrorTypes = append(rp.NonRetryableErrorTypes[:len(rp.NonRetryableErrorTypes):len(rp.NonRetryableErrorTypes)], timeoutStartToClose, timeoutHeartbeat)
	ao := workflow.ActivityOptions{
		TaskQueue:              RuntimeQueue(r.in.Options.QueuePrefix, rt),
		ActivityID:             ActivityID(s.ID, scope, item, agentCall, rt),
		ScheduleToStartTimeout: sts,
		StartToCloseTimeout:    timeout,
		HeartbeatTimeout:       heartbeatTimeout(timeout),
		RetryPolicy:            rp,
		Summary:                summary,
	}
	call := activities.Call{
		RunID:   workflow.GetInfo(ctx).WorkflowExecution.ID,
		Step:    s.ID,
		Item:    item,
		Agent:   s.Agent,
		Runtime: rt,
		Tool:    s.Tool,
		Digest:  s.Digests[rt],
		Args:    args,
		Grants:  CallGrants(r.p.Policy.Grants),
	}
	if queue := workflow.GetInfo(ctx).TaskQueueName; mayExceed(queue, len(args)) {
		what := "the rendered arguments (with) of step " + s.ID
		if scope == ScopeItem {
			what += fmt.Sprintf(" item %d", item)
		}
		if err := checkValue(queue, what, call); err != nil {
			f, set := workflow.NewFuture(ctx)
			set.SetError(err)
			return f
		}
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), s.Tool, call)
}

// HeartbeatTimeout is how long a step's activity may go without a
// heartbeat (the pools send them while a tool runs) before Temporal counts
// its worker as gone and retries the step. Steps shorter than it never
// heartbeat at all.
const HeartbeatTimeout = 20 * time.Second

func heartbeatTimeout(stepTimeout time.Duration) time.Duration {
	if stepTimeout <= HeartbeatTimeout {
		return 0 // the step's own timeout notices a dead worker as soon
	}
	return HeartbeatTimeout
}

func retryPolicy(rp *plan.Retry) *temporal.RetryPolicy {
	p := &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
		MaximumAttempts:    DefaultAttempts,
	}
	if rp == nil {
		return p
	}
	if rp.Attempts > 0 {
		p.MaximumAttempts = int32(rp.Attempts)
	}
	if rp.Backoff > 0 {
		p.InitialInterval = rp.Backoff.D()
	}
	if rp.MaxBackoff > 0 {
		p.MaximumInterval = rp.MaxBackoff.D()
	}
	if p.MaximumInterval < p.InitialInterval {
		p.MaximumInterval = p.InitialInterval
	}
	p.NonRetryableErrorTypes = rp.NonRetryable
	return p
}

// CallGrants are the grants every tool call of a run carries: its
// policy's, as the pools read them. A worker's ceiling bounds them
// (activities.Ceiling).
func CallGrants(g plan.Grants) activities.Grants {
	return activities.Grants{
		Shell: g.Shell, ReadDir: g.ReadDir, WriteDir: g.WriteDir, Env: g.Env,
		HTTPHosts: g.HTTPHosts, MemoryMiB: g.MemoryMiB, HostFuncs: g.HostFuncs,
	}
}

func isScheduleToStart(err error) bool {
	var te *temporal.TimeoutError
	return errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START
}

// account adds reported usage to the run's budgets and fails the run when
// one is exceeded.
func (r *run) account(s *plan.Step, metrics map[string]float64) {
	if len(r.p.Policy.Budgets) == 0 {
		return
	}
	names := make([]string, 0, len(r.p.Policy.Budgets))
	for n := range r.p.Policy.Budgets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		used, ok := metrics[n]
		if !ok {
			continue
		}
		r.budgets[n] += used
		if limit := r.p.Policy.Budgets[n]; r.budgets[n] > limit {
			r.fail(temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("budget %s exceeded at step %s: used %g of %g", n, s.ID, r.budgets[n], limit), ErrBudget, nil))
			return
		}
	}
}

// reasonOutput makes a reason step's output what the model said: the
// parsed JSON when the step asked for JSON, else the text. Usage goes to
// the budgets through the activity's metrics, not to the output.
func reasonOutput(out any) any {
	m, ok := out.(map[string]any)
	if !ok {
		return out
	}
	if j, ok := m["json"]; ok {
		return j
	}
	if c, ok := m["content"]; ok {
		return c
	}
	return out
}
