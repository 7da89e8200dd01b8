package trace

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

// SDK marker names and detail keys (go.temporal.io/sdk/internal).
const (
	markerSideEffect = "SideEffect"
	markerVersion    = "Version"
	markerDataKey    = "data"
	markerChangeID   = "change-id"
)

// ErrNotTARS is returned by Build for a history whose first event does not
// carry a TARS RunInput.
var ErrNotTARS = errors.New("not a TARS run: the first event has no TARS RunInput with a Plan")

// Build derives the trace of one run from its history events, oldest first.
// It needs only the events: the Plan is read from the first one.
//
// Step statuses come from the run's result when it completed. Otherwise
// they are derived from the events: a step with an open activity is
// running, one whose last activity failed is failed, a step with no events
// is pending unless a step that needs it has events (then it was ok or
// skipped; a `set` or `when`-skipped step leaves no event). ApplyState
// replaces them with a live query's exact view.
//
// Cost: one pass over the events; payloads are decoded only for the first
// event, completed activities (metrics), markers, signals and the result.
func Build(events []*historypb.HistoryEvent) (*Trace, error) {
	if len(events) == 0 {
		return nil, errors.New("empty history")
	}
	first := events[0]
	sa := first.GetWorkflowExecutionStartedEventAttributes()
	if first.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED || sa == nil {
		return nil, fmt.Errorf("history starts with %s, not WorkflowExecutionStarted (event %d)", first.GetEventType(), first.GetEventId())
	}
	in, err := startInput(sa, events)
	if err != nil {
		return nil, err
	}
	b := newBuilder(in, first, sa)
	for _, e := range events {
		b.event(e)
	}
	b.finish(events[len(events)-1])
	return b.t, nil
}

// PlanResolver finds the Plan a run names by its digest.
type PlanResolver func(name, digest string) (*plan.Plan, error)

// Plans finds the Plans of runs started by name or digest, whose histories
// do not hold their Plan: the CLI and the trace page set it to their
// catalogue. Nil: such runs cannot be traced.
var Plans PlanResolver

// startInput reads the run's Plan and inputs from its first event: a
// recorded RunInput holds the Plan; a run started since the catalogue
// holds the Plan only when ad-hoc, else its digest (in the StartSpec, or
// in the memo the run upserts), which Plans resolves.
func startInput(sa *historypb.WorkflowExecutionStartedEventAttributes, events []*historypb.HistoryEvent) (*workflows.RunInput, error) {
	ps := sa.GetInput().GetPayloads()
	if len(ps) == 0 {
		return nil, fmt.Errorf("%w: no input", ErrNotTARS)
	}
	raw := make([]json.RawMessage, 2)
	for i := 0; i < len(ps) && i < 2; i++ {
		if err := decodePayload(ps[i], &raw[i]); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotTARS, err)
		}
	}
	legacy, inputs, spec, err := workflows.DecodeStart(raw[0], raw[1])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotTARS, err)
	}
	if legacy != nil {
		return legacy, nil
	}
	in := &workflows.RunInput{Inputs: inputs, Options: spec.Options, Resume: spec.Resume, Digest: spec.Digest, Child: spec.Child}
	name := sa.GetWorkflowType().GetName()
	if spec.Plan != nil {
		var p plan.Plan
		if err := json.Unmarshal(spec.Plan, &p); err != nil {
			return nil, fmt.Errorf("%w: ad-hoc plan: %v", ErrNotTARS, err)
		}
		in.Plan = &p
		return in, nil
	}
	if in.Digest == "" {
		in.Digest = memoDigest(events)
	}
	if in.Digest == "" {
		return nil, fmt.Errorf("%w, or a run of %s started by name that has no Plan yet (it had not started, or failed before it could: see its result)", ErrNotTARS, name)
	}
	root := name
	if spec.Child != "" {
		root = ""
	}
	if Plans == nil {
		return nil, fmt.Errorf("run of %s names its Plan by digest %s and no catalogue is at hand to find it", name, in.Digest)
	}
	p, err := Plans(root, in.Digest)
	if err != nil {
		return nil, fmt.Errorf("run of %s: %w", name, err)
	}
	if spec.Child != "" {
		if p, err = workflows.ChildPlan(p, spec.Child); err != nil {
			return nil, err
		}
	}
	in.Plan = p
	return in, nil
}

// memoDigest finds the digest a run started by name recorded in its memo.
func memoDigest(events []*historypb.HistoryEvent) string {
	for _, e := range events {
		a := e.GetWorkflowPropertiesModifiedEventAttributes()
		if a == nil {
			continue
		}
		if p := a.GetUpsertedMemo().GetFields()[workflows.MemoPlan]; p != nil {
			var v string
			if decodePayload(p, &v) == nil {
				if _, d, ok := strings.Cut(v, "@"); ok {
					return d
				}
			}
		}
	}
	return ""
}

// BuildHistory is Build over a *historypb.History.
func BuildHistory(h *historypb.History) (*Trace, error) { return Build(h.GetEvents()) }

type builder struct {
	t    *Trace
	in   *workflows.RunInput
	p    *plan.Plan
	acts map[int64]*Activity // scheduled event id -> activity
	// timers: started event id -> approval step waiting on it
	timers    map[int64]*Step
	timed     map[*Step]bool
	children  map[int64]*Child // initiated event id -> child
	hopMarker bool             // the history records hops as markers
	timeouts  []*Activity      // schedule-to-start timeouts, for hops without markers
	result    *workflows.RunResult
	// the run's timeouts, from its started event, to name the one that passed
	execTimeout, runTimeout time.Duration
}

func newBuilder(in *workflows.RunInput, first *historypb.HistoryEvent, sa *historypb.WorkflowExecutionStartedEventAttributes) *builder {
	p := in.Plan
	t := &Trace{
		Metascript:    p.Name,
		Description:   p.Description,
		PlanSHA256:    p.SHA256,
		WorkflowID:    sa.GetWorkflowId(),
		RunID:         sa.GetOriginalExecutionRunId(),
		TaskQueue:     sa.GetTaskQueue().GetName(),
		Status:        RunRunning,
		Start:         first.GetEventTime().AsTime(),
		ContinuedFrom: sa.GetContinuedExecutionRunId(),
		Inputs:        in.Inputs,
		Plan:          p,
		Totals:        Totals{Agents: map[string]*Total{}, Runtimes: map[string]*Total{}},
	}
	if pe := sa.GetParentWorkflowExecution(); pe != nil {
		t.Parent = &Execution{WorkflowID: pe.GetWorkflowId(), RunID: pe.GetRunId()}
	}
	b := &builder{t: t, in: in, p: p, acts: map[int64]*Activity{}, timers: map[int64]*Step{}, timed: map[*Step]bool{}, children: map[int64]*Child{},
		execTimeout: sa.GetWorkflowExecutionTimeout().AsDuration(), runTimeout: sa.GetWorkflowRunTimeout().AsDuration()}

	depth := make(map[string]int, len(p.Steps))
	t.Steps = make([]*Step, len(p.Steps))
	for i := range p.Steps {
		ps := &p.Steps[i]
		s := &Step{ID: ps.ID, Kind: ps.Kind, Agent: ps.Agent, Tool: ps.Tool, Needs: ps.Needs, Chain: ps.Runtimes, Status: workflows.StatusPending}
		if ps.OnError.Action != "" && ps.OnError.Action != plan.OnErrorFail {
			oe := ps.OnError
			s.OnError = &oe
		}
		if ps.Kind == plan.KindCall && ps.Call != nil {
			s.Tool = ps.Call.Metascript
		}
		if a := p.Agent(ps.Agent); a != nil {
			s.Department, s.Team = a.Department, a.Team
		}
		for _, n := range ps.Needs {
			if d := depth[n] + 1; d > s.Depth {
				s.Depth = d
			}
		}
		depth[ps.ID] = s.Depth
		t.Steps[i] = s
	}
	if r := in.Resume; r != nil {
		for id, sv := range r.Steps {
			if s := t.Step(id); s != nil && sv != nil && sv.Status != workflows.StatusPending {
				applyView(s, sv)
				s.Resumed = true
			}
		}
	}
	return b
}

// applyView copies the interpreter's view of a step.
func applyView(s *Step, sv *workflows.StepView) {
	s.Status = sv.Status
	if sv.Runtime != "" {
		s.Runtime = sv.Runtime
	}
	if !sv.Started.IsZero() {
		s.Start = sv.Started
	}
	if !sv.Ended.IsZero() {
		s.End = sv.Ended
	}
	s.Items, s.ItemsDone, s.Turns = sv.Items, sv.ItemsDone, sv.Turns
	if sv.Shards > 0 {
		s.Shards, s.ShardsDone = sv.Shards, sv.ShardsDone
	}
	s.Error, s.Prompt = sv.Error, sv.Prompt
}

func (b *builder) event(e *historypb.HistoryEvent) {
	t := b.t
	t.Events++
	t.LastEvent = e.GetEventId()
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		b.scheduled(e)
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
		a := e.GetActivityTaskStartedEventAttributes()
		if act := b.acts[a.GetScheduledEventId()]; act != nil {
			act.Status = ActStarted
			act.Started = e.GetEventTime().AsTime()
			act.StartedEventID = e.GetEventId()
			act.Attempt = a.GetAttempt()
			act.Identity = a.GetIdentity()
			act.LastFailure = failureText(a.GetLastFailure())
		}
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		a := e.GetActivityTaskCompletedEventAttributes()
		if act := b.close(a.GetScheduledEventId(), e, ActCompleted); act != nil {
			act.Identity = orElse(a.GetIdentity(), act.Identity)
			act.OutputBytes = payloadBytes(a.GetResult())
			act.OutputStored = payloadStored(a.GetResult())
			if act.Step != "" {
				var r struct {
					Output  json.RawMessage    `json:"output"`
					Metrics map[string]float64 `json:"metrics"`
				}
				switch {
				case decodePayloads(a.GetResult(), &r) == nil:
					if len(r.Metrics) > 0 {
						act.Metrics = r.Metrics
					}
					act.OutputPreview = workflows.Preview(string(r.Output), workflows.PreviewBytes)
				case act.OutputStored:
					act.OutputPreview = workflows.ResultPreview(a.GetResult().GetPayloads()[0])
				}
			}
			if act.Agent != nil {
				agentResult(act.Agent, a.GetResult())
			}
		}
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
		a := e.GetActivityTaskFailedEventAttributes()
		if act := b.close(a.GetScheduledEventId(), e, ActFailed); act != nil {
			act.Failure = failureText(a.GetFailure())
			act.RetryState = enumText(a.GetRetryState().String(), "RetryState")
		}
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
		a := e.GetActivityTaskTimedOutEventAttributes()
		if act := b.close(a.GetScheduledEventId(), e, ActTimedOut); act != nil {
			f := a.GetFailure()
			act.Failure = failureText(f)
			act.RetryState = enumText(a.GetRetryState().String(), "RetryState")
			if ti := f.GetTimeoutFailureInfo(); ti != nil {
				act.Timeout = snake(ti.GetTimeoutType().String())
				if ti.GetTimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
					b.timeouts = append(b.timeouts, act)
				}
			}
		}
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
		a := e.GetActivityTaskCanceledEventAttributes()
		if act := b.close(a.GetScheduledEventId(), e, ActCanceled); act != nil {
			act.Failure = "canceled"
		}

	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		b.marker(e)

	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		a := e.GetWorkflowExecutionSignaledEventAttributes()
		if a.GetSignalName() != workflows.SignalApprove {
			return
		}
		var ap workflows.Decision
		if decodePayloads(a.GetInput(), &ap) != nil {
			return
		}
		b.decision(e, ap)

	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
		a := e.GetWorkflowExecutionUpdateAcceptedEventAttributes()
		in := a.GetAcceptedRequest().GetInput()
		if in.GetName() != workflows.UpdateApprove {
			return
		}
		var ap workflows.Decision
		if decodePayloads(in.GetArgs(), &ap) != nil {
			return
		}
		b.decision(e, ap)

	case enumspb.EVENT_TYPE_TIMER_STARTED:
		b.timerStarted(e)
	case enumspb.EVENT_TYPE_TIMER_FIRED:
		a := e.GetTimerFiredEventAttributes()
		if s := b.timers[a.GetStartedEventId()]; s != nil && s.Approval == nil {
			ps := b.p.Step(s.ID)
			s.Approval = &ApprovalDecision{
				Step: s.ID, Approved: ps.Approval != nil && ps.Approval.Default == "approve", By: "default",
				TimedOut: true, Time: e.GetEventTime().AsTime(), EventID: e.GetEventId(),
				TimerEventID: a.GetStartedEventId(), Timeout: Duration(ps.Approval.Timeout),
			}
		}

	case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
		a := e.GetStartChildWorkflowExecutionInitiatedEventAttributes()
		c := &Child{
			WorkflowID: a.GetWorkflowId(), WorkflowType: a.GetWorkflowType().GetName(), TaskQueue: a.GetTaskQueue().GetName(),
			Status: "initiated", Initiated: e.GetEventTime().AsTime(), EventID: e.GetEventId(), InputBytes: payloadBytes(a.GetInput()),
		}
		c.Step = b.childStep(c.WorkflowID)
		b.children[e.GetEventId()] = c
		t.Children = append(t.Children, c)
		if c.WorkflowType == workflows.ShardWorkflow {
			b.shardStarted(c, a.GetInput())
		} else if s := t.Step(c.Step); s != nil {
			s.Child = c
			if s.EventID == 0 {
				s.EventID = e.GetEventId()
			}
		}
	case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
		a := e.GetStartChildWorkflowExecutionFailedEventAttributes()
		if c := b.children[a.GetInitiatedEventId()]; c != nil {
			c.Status = RunFailed
			c.Error = "could not start: " + snake(a.GetCause().String())
			c.Closed = e.GetEventTime().AsTime()
		}
	case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
		a := e.GetChildWorkflowExecutionStartedEventAttributes()
		if c := b.children[a.GetInitiatedEventId()]; c != nil {
			c.Status = RunRunning
			c.RunID = a.GetWorkflowExecution().GetRunId()
			c.Started = e.GetEventTime().AsTime()
		}
	case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
		a := e.GetChildWorkflowExecutionCompletedEventAttributes()
		if c := b.childClosed(a.GetInitiatedEventId(), e, RunCompleted); c != nil {
			c.OutputBytes = payloadBytes(a.GetResult())
			if c.Shard > 0 {
				b.shardDone(c, a.GetResult())
			}
		}
	case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
		a := e.GetChildWorkflowExecutionFailedEventAttributes()
		if c := b.childClosed(a.GetInitiatedEventId(), e, RunFailed); c != nil {
			c.Error = failureText(a.GetFailure())
		}
	case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
		b.childClosed(e.GetChildWorkflowExecutionTimedOutEventAttributes().GetInitiatedEventId(), e, RunTimedOut)
	case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
		b.childClosed(e.GetChildWorkflowExecutionCanceledEventAttributes().GetInitiatedEventId(), e, RunCanceled)
	case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
		b.childClosed(e.GetChildWorkflowExecutionTerminatedEventAttributes().GetInitiatedEventId(), e, RunTerminated)

	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
		t.Status = RunCompleted
		var res workflows.RunResult
		if decodePayloads(e.GetWorkflowExecutionCompletedEventAttributes().GetResult(), &res) == nil {
			b.result = &res
		}
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
		t.Status = RunFailed
		t.Error = failureText(e.GetWorkflowExecutionFailedEventAttributes().GetFailure())
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
		end := EndingOf(e, b.execTimeout, b.runTimeout)
		t.Status, t.Error, t.Ending = end.Status, end.Cause, &end
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		t.Status = RunContinuedAsNew
		t.ContinuedAs = e.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
	}
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		t.End = e.GetEventTime().AsTime()
	}
}

func (b *builder) scheduled(e *historypb.HistoryEvent) {
	a := e.GetActivityTaskScheduledEventAttributes()
	act := &Activity{
		ActivityID:       a.GetActivityId(),
		Tool:             a.GetActivityType().GetName(),
		TaskQueue:        a.GetTaskQueue().GetName(),
		Status:           ActScheduled,
		Scheduled:        e.GetEventTime().AsTime(),
		ScheduledEventID: e.GetEventId(),
		MaxAttempts:      a.GetRetryPolicy().GetMaximumAttempts(),
		InputBytes:       payloadBytes(a.GetInput()),
		InputStored:      payloadStored(a.GetInput()),
	}
	if s := e.GetUserMetadata().GetSummary(); s != nil {
		_ = decodePayload(s, &act.Summary)
	}
	b.acts[e.GetEventId()] = act
	if act.Tool == workflows.PollersActivity {
		b.t.Probes = append(b.t.Probes, act)
		return
	}
	step, scope, index, rt := b.parseActivityID(act.ActivityID)
	if step == nil {
		// Not an ID the interpreter makes: read the Call instead.
		var call struct {
			Step    string `json:"step"`
			Item    int    `json:"item"`
			Runtime string `json:"runtime"`
		}
		if decodePayloads(a.GetInput(), &call) == nil {
			step, index, rt = b.t.Step(call.Step), call.Item, call.Runtime
		}
	}
	act.Runtime = rt
	if act.Runtime == "" {
		act.Runtime = workflows.RuntimeOfQueue(act.TaskQueue)
	}
	if step == nil {
		b.t.Probes = append(b.t.Probes, act) // unknown activity: keep it visible
		return
	}
	act.Step, act.Scope, act.Index = step.ID, scope, index
	act.Agent = agentDecision(act.ActivityID, a.GetInput())
	step.Activities = append(step.Activities, act)
	if step.EventID == 0 {
		step.EventID = e.GetEventId()
	}
}

// parseActivityID reads an id written by workflows.ActivityID.
func (b *builder) parseActivityID(id string) (s *Step, scope string, index int, rt string) {
	step, scope, index, rt, ok := workflows.ParseActivityID(id, func(id string) bool { return b.t.Step(id) != nil })
	if !ok {
		return nil, "", 0, rt
	}
	return b.t.Step(step), scope, index, rt
}

func (b *builder) close(scheduledID int64, e *historypb.HistoryEvent, status string) *Activity {
	act := b.acts[scheduledID]
	if act == nil {
		return nil
	}
	act.Status = status
	act.Closed = e.GetEventTime().AsTime()
	act.ClosedEventID = e.GetEventId()
	return act
}

func (b *builder) marker(e *historypb.HistoryEvent) {
	a := e.GetMarkerRecordedEventAttributes()
	switch a.GetMarkerName() {
	case markerVersion:
		var id string
		if decodePayloads(a.GetDetails()[markerChangeID], &id) == nil && id == workflows.ChangeHopMarker {
			b.hopMarker = true
		}
	case markerSideEffect:
		var h workflows.Hop
		if decodePayloads(a.GetDetails()[markerDataKey], &h) != nil || h.Step == "" || h.From == "" {
			return // a side effect that is not a hop
		}
		b.addHop(Hop{Step: h.Step, From: h.From, To: h.To, Reason: h.Reason, EventID: e.GetEventId(), Time: e.GetEventTime().AsTime()})
	}
}

func (b *builder) addHop(h Hop) {
	b.t.Hops = append(b.t.Hops, h)
	if s := b.t.Step(h.Step); s != nil {
		s.Hops = append(s.Hops, h)
	}
}

// timerStarted ties a timer to the approval step waiting on it: the first
// approval step with that timeout whose needs have all closed and that has
// no timer yet. Timers carry no step id, so this is an inference; the
// interpreter starts no other timers.
func (b *builder) timerStarted(e *historypb.HistoryEvent) {
	d := e.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration()
	for i := range b.p.Steps {
		ps := &b.p.Steps[i]
		if ps.Kind != plan.KindApproval || ps.Approval == nil || ps.Approval.Timeout.D() != d {
			continue
		}
		s := b.t.Steps[i]
		if b.timed[s] || s.Approval != nil {
			continue
		}
		b.timers[e.GetEventId()] = s
		b.timed[s] = true
		if s.EventID == 0 {
			s.EventID = e.GetEventId()
		}
		if s.Start.IsZero() {
			s.Start = e.GetEventTime().AsTime()
		}
		return
	}
}

// shardStarted counts a foreach shard in its step: one more shard, and
// its items.
func (b *builder) shardStarted(c *Child, input *commonpb.Payloads) {
	var in workflows.ShardInput
	if decodePayloads(input, &in) == nil {
		c.First, c.Items = in.First, len(in.Items)
		if in.Range != nil {
			c.Items = in.Range.Count
		}
	}
	if _, k, ok := workflows.ParseShardID(c.WorkflowID); ok {
		c.Shard = k + 1
	}
	s := b.t.Step(c.Step)
	if s == nil {
		return
	}
	s.Shards++
	if s.EventID == 0 {
		s.EventID = c.EventID
	}
}

// shardDone adds a completed shard's items to its step.
func (b *builder) shardDone(c *Child, result *commonpb.Payloads) {
	var res workflows.ShardResult
	if decodePayloads(result, &res) == nil {
		c.ItemsDone = res.Items
		if res.Failed != nil {
			c.Error = res.Failed.Message
		}
	}
	if s := b.t.Step(c.Step); s != nil {
		s.ShardsDone++
		s.ItemsDone += c.ItemsDone
	}
}

// childStep maps a child workflow id "<parent>/<step>" or
// "<parent>/<step>-<n>" (foreach items, loop turns), or a shard's
// "<parent>/<step>/shard-<k>", to its step.
func (b *builder) childStep(wid string) string {
	if step, _, ok := workflows.ParseShardID(wid); ok && b.t.Step(step) != nil {
		return step
	}
	tail := wid[strings.LastIndexByte(wid, '/')+1:]
	if b.t.Step(tail) != nil {
		return tail
	}
	if k := strings.LastIndexByte(tail, '-'); k > 0 {
		if _, err := strconv.Atoi(tail[k+1:]); err == nil && b.t.Step(tail[:k]) != nil {
			return tail[:k]
		}
	}
	return ""
}

func (b *builder) childClosed(initiated int64, e *historypb.HistoryEvent, status string) *Child {
	c := b.children[initiated]
	if c == nil {
		return nil
	}
	c.Status = status
	c.Closed = e.GetEventTime().AsTime()
	return c
}

// finish derives step states and totals once every event is seen.
func (b *builder) finish(last *historypb.HistoryEvent) {
	t := b.t
	end := t.End
	if end.IsZero() {
		end = last.GetEventTime().AsTime()
	}
	t.Duration = between(t.Start, end)
	if !b.hopMarker {
		b.inferHops()
	}
	for _, a := range t.Probes {
		finishActivity(a)
	}
	ran := make(map[string]bool, len(t.Steps))
	for _, s := range t.Steps {
		for _, a := range s.Activities {
			finishActivity(a)
		}
		if len(s.Activities) > 0 || s.Approval != nil || s.Child != nil || s.EventID != 0 {
			ran[s.ID] = true
		}
	}
	b.deriveStatuses(ran)
	if b.result != nil {
		// The interpreter's own view, exact, where the result has one.
		for i := range b.result.Steps {
			sv := &b.result.Steps[i]
			if s := t.Step(sv.ID); s != nil {
				applyView(s, sv)
			}
		}
	}
	for _, s := range t.Steps {
		b.stepTimes(s)
	}
	b.totals()
}

func finishActivity(a *Activity) {
	a.Queued = between(a.Scheduled, a.Started)
	a.Ran = between(a.Started, a.Closed)
}

// inferHops adds hops for histories recorded before hop markers: a
// schedule-to-start timeout followed by an activity of the same step and
// item on another runtime.
func (b *builder) inferHops() {
	for _, to := range b.timeouts {
		s := b.t.Step(to.Step)
		if s == nil {
			continue
		}
		// Activities are in history order: look after the one that timed out.
		next, after := "", false
		for _, a := range s.Activities {
			if a == to {
				after = true
				continue
			}
			if after && a.Scope == to.Scope && a.Index == to.Index && a.Runtime != to.Runtime {
				next = a.Runtime
				break
			}
		}
		b.addHop(Hop{Step: s.ID, From: to.Runtime, To: next, Reason: "not started in time (schedule-to-start timeout)",
			EventID: to.ClosedEventID, Time: to.Closed, Inferred: true})
	}
	sort.SliceStable(b.t.Hops, func(i, j int) bool { return b.t.Hops[i].Time.Before(b.t.Hops[j].Time) })
}

// shardsStatus is the state of a foreach step run in shards, from its
// shards: running while one is open, failed when one failed, else ok.
// (The step's own item count is known only from the run's result or a
// live query; the shards' inputs give the items they took.)
func (b *builder) shardsStatus(s *Step) string {
	status, items := workflows.StatusOK, 0
	for _, c := range b.t.Children {
		if c.Shard == 0 || c.Step != s.ID {
			continue
		}
		items += c.Items
		switch {
		case c.Status == "initiated" || c.Status == RunRunning:
			status = workflows.StatusRunning
		case c.Status != RunCompleted || c.Error != "":
			if status != workflows.StatusRunning {
				status = workflows.StatusFailed
			}
			if s.Error == "" {
				s.Error = c.Error
			}
		}
	}
	if s.Items == 0 {
		s.Items = items
	}
	return status
}

// deriveStatuses sets step states from events when the run has no result.
func (b *builder) deriveStatuses(ran map[string]bool) {
	t := b.t
	open := t.Status == RunRunning
	// A step that a step with events needs has finished.
	needed := map[string]bool{}
	for _, s := range t.Steps {
		if ran[s.ID] || needed[s.ID] {
			for _, n := range s.Needs {
				needed[n] = true
			}
		}
	}
	for _, s := range t.Steps {
		if s.Resumed {
			continue
		}
		switch {
		case len(s.Activities) > 0:
			s.Status = activityStatus(s, open)
		case s.Shards > 0:
			s.Status = b.shardsStatus(s)
		case s.Child != nil:
			switch s.Child.Status {
			case RunCompleted:
				s.Status = workflows.StatusOK
			case "initiated", RunRunning:
				s.Status = workflows.StatusRunning
			default:
				s.Status = workflows.StatusFailed
				s.Error = s.Child.Error
			}
		case s.Approval != nil:
			s.Status = workflows.StatusOK
		case s.Kind == plan.KindApproval && s.EventID != 0: // timer, no decision yet
			s.Status = workflows.StatusWaiting
		case needed[s.ID]:
			s.Status = workflows.StatusOK
		}
		if !open && (s.Status == workflows.StatusRunning || s.Status == workflows.StatusWaiting) {
			// The run closed under it. A run the server or an operator
			// ended gives its steps in flight its own fate (as tars
			// status does, workflows.State.Settle), and their time stops
			// at the run's end instead of growing.
			cause := ""
			if t.Ending != nil {
				s.Status, cause = t.Status, t.Ending.Cause
				s.End = t.End
			} else {
				s.Status = workflows.StatusFailed
			}
			if s.Error == "" {
				s.Error = inFlight(t.Status, cause)
			}
		}
	}
}

// activityStatus: running while any activity is open; failed when the last
// activity of some item or turn failed; ok otherwise.
func activityStatus(s *Step, open bool) string {
	type key struct {
		scope string
		index int
	}
	lastOf := map[key]*Activity{}
	for _, a := range s.Activities {
		if !a.Failed() && a.Status != ActCompleted {
			return workflows.StatusRunning
		}
		lastOf[key{a.Scope, a.Index}] = a
	}
	for _, a := range lastOf {
		if a.Failed() {
			// A hop after the failure means the next runtime is coming.
			if open && len(s.Hops) > 0 && s.Hops[len(s.Hops)-1].To != "" && s.Hops[len(s.Hops)-1].EventID > a.ClosedEventID {
				return workflows.StatusRunning
			}
			if s.Error == "" {
				s.Error = a.Failure
			}
			return workflows.StatusFailed
		}
	}
	return workflows.StatusOK
}

// stepTimes fills a step's runtime, times, attempts and failures.
func (b *builder) stepTimes(s *Step) {
	for _, c := range b.t.Children {
		if c.Shard == 0 || c.Step != s.ID {
			continue
		}
		if s.Start.IsZero() || c.Initiated.Before(s.Start) {
			s.Start = c.Initiated
		}
		if c.Closed.After(s.End) && workflows.Terminal(s.Status) {
			s.End = c.Closed
		}
	}
	for _, a := range s.Activities {
		s.Attempts += int(a.Attempt)
		s.Failures += a.failedAttempts()
		if a.Status == ActCompleted || s.Runtime == "" {
			s.Runtime = a.Runtime
		}
		if s.Start.IsZero() || a.Scheduled.Before(s.Start) {
			s.Start = a.Scheduled
		}
		if a.Closed.After(s.End) && workflows.Terminal(s.Status) {
			s.End = a.Closed
		}
	}
	if c := s.Child; c != nil {
		if s.Start.IsZero() {
			s.Start = c.Initiated
		}
		if s.End.IsZero() && workflows.Terminal(s.Status) {
			s.End = c.Closed
		}
	}
	if ap := s.Approval; ap != nil && s.End.IsZero() {
		s.End = ap.Time
	}
	if s.Start.IsZero() && !s.End.IsZero() {
		s.Start = s.End
	}
	end := s.End
	if end.IsZero() && !s.Start.IsZero() && !workflows.Terminal(s.Status) {
		end = b.t.Start.Add(b.t.Duration.D())
	}
	s.Duration = between(s.Start, end)
}

// totals sums activities per agent, runtime, team, department and run, and
// builds the department → team → agent tree.
func (b *builder) totals() {
	t := b.t
	agentTotal := func(id string) *Total {
		tt := t.Totals.Agents[id]
		if tt == nil {
			tt = &Total{}
			t.Totals.Agents[id] = tt
		}
		return tt
	}
	for _, s := range t.Steps {
		at := agentTotal(s.Agent)
		if len(s.Activities) > 0 || s.Child != nil || s.Approval != nil || workflows.Terminal(s.Status) {
			at.Steps++
			t.Totals.Run.Steps++
		}
		at.Hops += len(s.Hops)
		t.Totals.Run.Hops += len(s.Hops)
		rtSteps := map[string]bool{}
		for _, a := range s.Activities {
			rt := t.Totals.Runtimes[a.Runtime]
			if rt == nil {
				rt = &Total{}
				t.Totals.Runtimes[a.Runtime] = rt
			}
			if !rtSteps[a.Runtime] {
				rtSteps[a.Runtime] = true
				rt.Steps++
			}
			for _, tt := range []*Total{at, rt, &t.Totals.Run} {
				tt.Activities++
				tt.Attempts += int(a.Attempt)
				tt.Failures += a.failedAttempts()
				tt.Busy += a.Ran
				tt.Queued += a.Queued
			}
		}
	}
	// Hops count against the runtime they left, which may have run nothing.
	for _, h := range t.Hops {
		rt := t.Totals.Runtimes[h.From]
		if rt == nil {
			rt = &Total{}
			t.Totals.Runtimes[h.From] = rt
		}
		rt.Hops++
	}

	// The tree: departments and teams in the order agents first appear in
	// the Plan's agent list, then agents that only steps name.
	agents := map[string]*Agent{}
	var order []*Agent
	addAgent := func(id string) *Agent {
		if a := agents[id]; a != nil {
			return a
		}
		a := &Agent{ID: id, Steps: []string{}}
		if pa := b.p.Agent(id); pa != nil {
			a.Role, a.Department, a.Team = pa.Role, pa.Department, pa.Team
		}
		agents[id] = a
		order = append(order, a)
		return a
	}
	for _, pa := range b.p.Agents {
		addAgent(pa.ID)
	}
	for _, s := range t.Steps {
		a := addAgent(s.Agent)
		a.Steps = append(a.Steps, s.ID)
	}
	depts := map[string]*Department{}
	teams := map[[2]string]*Team{}
	for _, a := range order {
		if len(a.Steps) == 0 {
			continue // declared but did nothing in this run
		}
		if tt := t.Totals.Agents[a.ID]; tt != nil {
			a.Total = *tt
		}
		d := depts[a.Department]
		if d == nil {
			d = &Department{Name: a.Department}
			depts[a.Department] = d
			t.Departments = append(t.Departments, d)
		}
		tm := teams[[2]string{a.Department, a.Team}]
		if tm == nil {
			tm = &Team{Name: a.Team}
			teams[[2]string{a.Department, a.Team}] = tm
			d.Teams = append(d.Teams, tm)
		}
		tm.Agents = append(tm.Agents, a)
		tm.Total.add(a.Total)
		d.Total.add(a.Total)
	}
}

func (t *Total) add(o Total) {
	t.Steps += o.Steps
	t.Activities += o.Activities
	t.Attempts += o.Attempts
	t.Failures += o.Failures
	t.Hops += o.Hops
	t.Busy += o.Busy
	t.Queued += o.Queued
}

// decodePayloads decodes the first payload as JSON (the SDK's default
// converter writes json/plain).
func decodePayloads(p *commonpb.Payloads, v any) error {
	if p == nil || len(p.GetPayloads()) == 0 {
		return errors.New("no payload")
	}
	return decodePayload(p.GetPayloads()[0], v)
}

func decodePayload(p *commonpb.Payload, v any) error {
	enc := string(p.GetMetadata()["encoding"])
	switch enc {
	case "json/plain", "":
		return json.Unmarshal(p.GetData(), v)
	case "binary/null":
		return nil
	}
	return fmt.Errorf("payload encoding %q is not JSON (is a codec in use?)", enc)
}

// payloadBytes is the size of the values in p. A value stored outside the
// history (external storage) counts its stored size, not its reference's.
func payloadBytes(p *commonpb.Payloads) int {
	n := 0
	for _, x := range p.GetPayloads() {
		if ext := x.GetExternalPayloads(); len(ext) > 0 {
			for _, e := range ext {
				n += int(e.GetSizeBytes())
			}
			continue
		}
		n += len(x.GetData())
	}
	return n
}

// payloadStored reports whether a value of p is stored outside the history.
func payloadStored(p *commonpb.Payloads) bool {
	for _, x := range p.GetPayloads() {
		if len(x.GetExternalPayloads()) > 0 {
			return true
		}
	}
	return false
}

// failureText is a failure's message with its type and cause chain.
func failureText(f *failurepb.Failure) string {
	var parts []string
	for depth := 0; f != nil && depth < 8; depth++ {
		msg := f.GetMessage()
		switch {
		case f.GetApplicationFailureInfo() != nil && f.GetApplicationFailureInfo().GetType() != "":
			msg = f.GetApplicationFailureInfo().GetType() + ": " + msg
		case f.GetTimeoutFailureInfo() != nil:
			msg = snake(f.GetTimeoutFailureInfo().GetTimeoutType().String()) + " timeout"
		}
		if msg != "" && (len(parts) == 0 || parts[len(parts)-1] != msg) {
			parts = append(parts, msg)
		}
		f = f.GetCause()
	}
	return strings.Join(parts, ": ")
}

// snake turns "ScheduleToStart" into "schedule_to_start".
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func enumText(s, prefix string) string {
	if s == "Unspecified" || s == "" {
		return ""
	}
	return snake(strings.TrimPrefix(s, prefix))
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// decision records a person's decision on an approval step, delivered by
// workflows.UpdateApprove or (older runs) workflows.SignalApprove.
func (b *builder) decision(e *historypb.HistoryEvent, ap workflows.Decision) {
	t := b.t
	d := &ApprovalDecision{Step: ap.Step, Approved: ap.Approved, By: ap.By, Comment: ap.Comment, Time: e.GetEventTime().AsTime(), EventID: e.GetEventId()}
	t.Approvals = append(t.Approvals, d)
	s := t.Step(ap.Step)
	if s == nil {
		return
	}
	if s.Approval != nil {
		// The interpreter keeps the first decision, or the default when the
		// step's timer fired first.
		d.Ignored = true
		return
	}
	s.Approval = d
	if s.EventID == 0 {
		s.EventID = e.GetEventId()
	}
}

// agentDecision reads the agent-loop call of an activity id
// "<step>[#item]:t<turn>[.<n>]@<runtime>" (workflows.schedule), or nil.
func agentDecision(id string, input *commonpb.Payloads) *AgentDecision {
	head, _, _ := strings.Cut(id, "@")
	i := strings.LastIndexByte(head, ':')
	if i < 0 || !strings.HasPrefix(head[i+1:], "t") {
		return nil
	}
	turn, call, isTool := strings.Cut(head[i+2:], ".")
	d := &AgentDecision{Kind: "model"}
	var err error
	if d.Turn, err = strconv.Atoi(turn); err != nil {
		return nil
	}
	if isTool {
		if _, err := strconv.Atoi(call); err != nil {
			return nil
		}
		d.Kind = "tool"
	}
	var c struct {
		Agent string          `json:"agent"`
		Args  json.RawMessage `json:"args"`
	}
	if decodePayloads(input, &c) == nil {
		d.Agent = c.Agent
		if isTool {
			d.Args = workflows.Preview(string(c.Args), 160)
		} else {
			var m struct {
				Model struct {
					Price *plan.Price `json:"price"`
				} `json:"model"`
			}
			if json.Unmarshal(c.Args, &m) == nil {
				d.price = m.Model.Price
			}
		}
	}
	return d
}

// agentResult adds what an agent-loop activity returned.
func agentResult(d *AgentDecision, result *commonpb.Payloads) {
	var r struct {
		Output json.RawMessage `json:"output"`
	}
	if decodePayloads(result, &r) != nil {
		return
	}
	if d.Kind == "tool" {
		d.Result = workflows.Preview(string(r.Output), 160)
		return
	}
	var m struct {
		Content   string `json:"content"`
		ToolCalls []struct {
			Name string `json:"name"`
		} `json:"tool_calls"`
		Usage struct {
			Prompt     int `json:"prompt_tokens"`
			Completion int `json:"completion_tokens"`
			Total      int `json:"total_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(r.Output, &m) != nil {
		return
	}
	if p := d.price; p != nil {
		d.CostUSD = (float64(m.Usage.Prompt)*p.Input + float64(m.Usage.Completion)*p.Output) / 1e6
	}
	for _, c := range m.ToolCalls {
		d.Asked = append(d.Asked, c.Name)
	}
	if len(m.ToolCalls) == 0 {
		d.Answer = workflows.Preview(m.Content, 160)
	}
	d.Tokens = m.Usage.Total
}
