package workflows

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// Error type names the interpreter fails a run with.
const (
	ErrStepFailed  = "StepFailed"
	ErrCheckFailed = "CheckFailed"
	ErrNoPool      = "NoPool"
	ErrMaxSteps    = "PolicyMaxSteps"
	ErrBudget      = "BudgetExceeded"
	ErrBadInput    = "BadInput"
	ErrExpression  = "ExpressionError"
	// ErrInvalidPlan: the Plan holds what the compiler never writes or
	// this interpreter does not know (a step kind, a call without its
	// compiled child, reason arguments that are not an object).
	ErrInvalidPlan = "InvalidPlan"
)

// Run interprets in.Plan. It is the interpreter's body, exported so tests
// and embedders can register it under a fixed name.
func Run(ctx workflow.Context, in RunInput) (*RunResult, error) {
	r, err := newRun(ctx, in)
	if err != nil {
		return nil, err
	}
	return r.execute(ctx)
}

// envCache shares compiled expression environments between runs of the same
// Plan in one worker. CEL compilation is pure, so this is replay-safe.
var envCache sync.Map // plan sha256 + closures -> *expr.Env

func planEnv(p *plan.Plan) (*expr.Env, error) {
	key := p.SHA256 + "|" + p.Name
	for _, c := range p.Closures {
		key += "|" + c.Name + "=" + c.Body
	}
	if v, ok := envCache.Load(key); ok {
		return v.(*expr.Env), nil
	}
	env, err := expr.New(p.Closures)
	if err != nil {
		return nil, err
	}
	envCache.Store(key, env)
	return env, nil
}

type run struct {
	in       RunInput
	p        *plan.Plan
	env      *expr.Env
	index    map[string]int // step id -> index in p.Steps
	states   []*StepView
	stepsVar map[string]any // the `steps` expression variable
	inputs   map[string]any
	handlers map[string]bool

	live      map[string]bool
	liveKnown bool

	executed  int
	budgets   map[string]float64
	held      held // budget held by model calls in flight (agent.go)
	approvals map[string]Decision
	inflight  int
	fatal     error
	done      int

	// A foreach shard (shard.go) runs items from itemBase on, and yields
	// (stops taking items, to continue as new) when yield says so; the
	// index of the first item not taken is then in stoppedAt. A run that
	// is not a shard has no yield.
	itemBase  int
	yield     func() bool
	stoppedAt int
}

func newRun(ctx workflow.Context, in RunInput) (*run, error) {
	p := in.Plan
	if p == nil {
		return nil, temporal.NewNonRetryableApplicationError("workflow input has no plan", ErrBadInput, nil)
	}
	if p.Schema > plan.SchemaVersion {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("plan schema %d is newer than this interpreter's %d: upgrade the workers", p.Schema, plan.SchemaVersion),
			ErrInvalidPlan, nil)
	}
	env, err := planEnv(p)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("closures: "+err.Error(), ErrExpression, err)
	}
	// One budget covers every expression a workflow task evaluates,
	// closures included, so that no evaluation keeps the task past the
	// deadlock limit. It is renewed when a new task starts: the history
	// length and the workflow clock are the same within a task, on replay
	// too.
	info := workflow.GetInfo(ctx)
	budget := expr.NewBudget(expr.TaskBudget, func() int64 {
		return int64(info.GetCurrentHistoryLength())<<40 ^ workflow.Now(ctx).UnixNano()
	}).Enforce(func() bool {
		return workflow.GetVersion(ctx, ChangeExprBudget, workflow.DefaultVersion, 1) == 1
	})
	r := &run{
		in: in, p: p, env: env.WithBudget(budget),
		index:     make(map[string]int, len(p.Steps)),
		states:    make([]*StepView, len(p.Steps)),
		stepsVar:  make(map[string]any, len(p.Steps)),
		handlers:  map[string]bool{},
		budgets:   map[string]float64{},
		approvals: map[string]Decision{},
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		r.index[s.ID] = i
		r.states[i] = &StepView{ID: s.ID, Kind: s.Kind, Agent: s.Agent, Status: StatusPending}
		if s.OnError.Action == plan.OnErrorStep && s.OnError.Step != "" {
			r.handlers[s.OnError.Step] = true
		}
	}
	if in.Resume != nil {
		r.executed = in.Resume.Executed
		for k, v := range in.Resume.Budgets {
			r.budgets[k] = v
		}
		for k, v := range in.Resume.Approvals {
			r.approvals[k] = v
		}
		for id, sv := range in.Resume.Steps {
			if i, ok := r.index[id]; ok && sv != nil {
				r.states[i] = sv
				sv.Output = normalize(sv.Output)
				if sv.Status != StatusPending {
					r.publish(&p.Steps[i], sv)
				}
			}
		}
	}
	inputs, err := bindInputs(p, in.Inputs)
	if err != nil {
		return nil, err
	}
	r.inputs = inputs
	if err := r.announce(ctx); err != nil {
		return nil, err
	}

	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return r.view(), nil }); err != nil {
		return nil, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApprove,
		func(ctx workflow.Context, d Decision) (DecisionResult, error) {
			r.approvals[d.Step] = d
			return DecisionResult{Step: d.Step, Approved: d.Approved, Waiting: r.states[r.index[d.Step]].Status == StatusWaiting}, nil
		},
		workflow.UpdateHandlerOptions{Validator: r.validateDecision},
	); err != nil {
		return nil, err
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, SignalApprove)
		for {
			var d Decision
			ch.Receive(ctx, &d)
			if err := r.validateDecision(d); err != nil {
				workflow.GetLogger(ctx).Warn("approval signal ignored", "error", err)
				continue
			}
			r.approvals[d.Step] = d
		}
	})
	return r, nil
}

// validateDecision says why a decision cannot be taken, or nil. It runs
// before an Update is accepted, so a refused decision leaves no trace in
// the history and the caller gets the reason.
func (r *run) validateDecision(d Decision) error {
	i, ok := r.index[d.Step]
	if !ok {
		var approvals []string
		for _, s := range r.p.Steps {
			if s.Kind == plan.KindApproval {
				approvals = append(approvals, s.ID)
			}
		}
		return fmt.Errorf("run has no step %q (approval steps: %s)", d.Step, strings.Join(approvals, ", "))
	}
	if k := r.p.Steps[i].Kind; k != plan.KindApproval {
		return fmt.Errorf("step %s is a %s step, not an approval", d.Step, k)
	}
	if prev, seen := r.approvals[d.Step]; seen {
		return fmt.Errorf("step %s was already decided (approved=%t by %s)", d.Step, prev.Approved, prev.By)
	}
	switch st := r.states[i]; st.Status {
	case StatusOK, StatusFailed, StatusHandled, StatusCanceled:
		if o, ok := st.Output.(map[string]any); ok && o["timed_out"] == true {
			return fmt.Errorf("step %s timed out and took its default (approved=%v)", d.Step, o["approved"])
		}
		return fmt.Errorf("step %s is already %s", d.Step, st.Status)
	case StatusSkipped:
		return fmt.Errorf("step %s was skipped", d.Step)
	}
	return nil
}

// bindInputs applies defaults, rejects missing required inputs and unknown
// ones, and checks types.
func bindInputs(p *plan.Plan, given map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(p.Inputs))
	declared := map[string]bool{}
	var faults []string
	for _, in := range p.Inputs {
		declared[in.Name] = true
		v, ok := given[in.Name]
		if in.Secret {
			// The value stays on the workers (activities.SecretEnv); a
			// value sent with the run would sit in its history.
			if ok {
				faults = append(faults, fmt.Sprintf("input %s is secret and cannot be sent with the run: set %s on the workers instead", in.Name, activities.SecretEnv(in.Name)))
			}
			out[in.Name] = activities.SecretRef(in.Name)
			continue
		}
		if !ok {
			if len(in.Default) > 0 {
				d, err := expr.Decode(in.Default)
				if err != nil {
					faults = append(faults, fmt.Sprintf("input %s: bad default: %v", in.Name, err))
					continue
				}
				out[in.Name] = d
				continue
			}
			if in.Required {
				faults = append(faults, fmt.Sprintf("input %s (%s) is required", in.Name, in.Type))
			}
			out[in.Name] = nil
			continue
		}
		v = normalize(v)
		if err := checkType(in.Type, v); err != nil {
			faults = append(faults, fmt.Sprintf("input %s: %v", in.Name, err))
			continue
		}
		out[in.Name] = v
	}
	var unknown []string
	for k := range given {
		if !declared[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		faults = append(faults, fmt.Sprintf("input %s is not declared by metascript %s", k, p.Name))
	}
	if len(faults) > 0 {
		return nil, temporal.NewNonRetryableApplicationError(strings.Join(faults, "; "), ErrBadInput, nil)
	}
	return out, nil
}

func checkType(typ string, v any) error {
	got := expr.TypeOf(v)
	switch typ {
	case "", "any":
		return nil
	case "float", "number":
		if got == "int" || got == "float" {
			return nil
		}
	default:
		if got == typ {
			return nil
		}
	}
	return fmt.Errorf("want %s, got %s", typ, got)
}

// normalize makes a value decoded by the SDK's JSON converter look like one
// decoded by expr.Decode (integral numbers as int64).
func normalize(v any) any { return expr.Normalize(v) }

// execute dispatches steps as their needs complete.
func (r *run) execute(ctx workflow.Context) (*RunResult, error) {
	ctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	if err := r.serveOutputs(ctx); err != nil {
		return nil, err
	}

	p := r.p
	remaining := make([]int, len(p.Steps))
	dependents := make([][]int, len(p.Steps))
	for i := range p.Steps {
		for _, n := range p.Steps[i].Needs {
			j, ok := r.index[n]
			if !ok {
				return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %s needs unknown step %s", p.Steps[i].ID, n), ErrBadInput, nil)
			}
			dependents[j] = append(dependents[j], i)
			if !terminal(r.states[j].Status) {
				remaining[i]++
			}
		}
	}
	started := make([]bool, len(p.Steps))
	completions := workflow.NewBufferedChannel(ctx, len(p.Steps)+1)
	for i, st := range r.states {
		if terminal(st.Status) {
			started[i] = true
			r.done++
		}
	}

	launch := func(i int) {
		started[i] = true
		r.inflight++
		s := &p.Steps[i]
		workflow.Go(ctx, func(ctx workflow.Context) {
			r.runStep(ctx, s, r.states[i])
			completions.Send(ctx, i)
		})
	}
	release := func(i int) {
		for _, d := range dependents[i] {
			remaining[d]--
		}
	}

	for {
		for i := range p.Steps {
			if !started[i] && remaining[i] == 0 && !r.handlers[p.Steps[i].ID] {
				launch(i)
			}
		}
		if r.inflight == 0 {
			// Handlers that never ran release their dependents as skipped.
			progressed := false
			for i := range p.Steps {
				if !started[i] && r.handlers[p.Steps[i].ID] && remaining[i] == 0 {
					started[i] = true
					if !terminal(r.states[i].Status) {
						r.states[i].Status = StatusSkipped
						r.publish(&p.Steps[i], r.states[i])
					}
					r.done++
					release(i)
					progressed = true
				}
			}
			if progressed {
				continue
			}
			break
		}
		var i int
		completions.Receive(ctx, &i)
		r.inflight--
		if ctx.Err() != nil {
			return nil, r.cancelled(ctx)
		}
		if r.fatal != nil {
			return nil, r.fatal
		}
		st := r.states[i]
		if st.Status == StatusPaused {
			continue // resumed after continue-as-new
		}
		r.done++
		release(i)
		r.details(ctx)
		if r.inflight == 0 && r.wantContinueAsNew(ctx) && r.done < len(p.Steps) {
			return nil, r.continueAsNew(ctx)
		}
	}
	for _, st := range r.states {
		if st.Status == StatusPaused {
			if r.wantContinueAsNew(ctx) {
				return nil, r.continueAsNew(ctx)
			}
			// The loop paused for continue-as-new, but by the time no step
			// was in flight the server had withdrawn its suggestion: go on
			// in this run.
			st.Status = StatusPending
			return r.execute(ctx)
		}
	}
	if r.done < len(p.Steps) {
		var stuck []string
		for i, st := range r.states {
			if !terminal(st.Status) {
				stuck = append(stuck, p.Steps[i].ID)
			}
		}
		return nil, temporal.NewNonRetryableApplicationError("steps never became ready: "+strings.Join(stuck, ", "), ErrBadInput, nil)
	}
	res, err := r.result()
	if err != nil {
		return nil, err
	}
	if err := r.checkOutput(ctx, res); err != nil {
		return nil, err
	}
	return res, nil
}

func terminal(status string) bool { return Terminal(status) }

// cancelled ends a run whose cancellation was requested: steps still
// running or waiting are marked canceled (their activities were asked to
// stop when the context was cancelled) and the run closes as Canceled, not
// Failed.
func (r *run) cancelled(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	for i, st := range r.states {
		if st.Status == StatusRunning || st.Status == StatusWaiting || st.Status == StatusPaused {
			st.Status = StatusCanceled
			st.Ended = now
			r.publish(&r.p.Steps[i], st)
		}
	}
	return temporal.NewCanceledError("run cancelled")
}

func (r *run) wantContinueAsNew(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	limit := r.in.Options.HistoryLimit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= limit
}

func (r *run) continueAsNew(ctx workflow.Context) error {
	// Drain approvals that arrived but were not yet read.
	ch := workflow.GetSignalChannel(ctx, SignalApprove)
	for {
		var d Decision
		if !ch.ReceiveAsync(&d) {
			break
		}
		if r.validateDecision(d) == nil {
			r.approvals[d.Step] = d
		}
	}
	snap := &Snapshot{Steps: map[string]*StepView{}, Executed: r.executed, Budgets: r.budgets, Approvals: r.approvals}
	for i, st := range r.states {
		if st.Status != StatusPending {
			snap.Steps[r.p.Steps[i].ID] = st
		}
	}
	if r.in.Digest != "" {
		// The Plan stays with the workers: the next run names it.
		spec := r.in.spec()
		spec.Resume = snap
		return workflow.NewContinueAsNewError(ctx, workflow.GetInfo(ctx).WorkflowType.Name, r.in.Inputs, spec)
	}
	next := r.in
	next.Resume = snap
	if err := checkValue(workflow.GetInfo(ctx).TaskQueueName, "the state this run carries across continue-as-new", next); err != nil {
		return err
	}
	return workflow.NewContinueAsNewError(ctx, workflow.GetInfo(ctx).WorkflowType.Name, next)
}

func (r *run) result() (*RunResult, error) {
	res := &RunResult{Outputs: map[string]any{}, Steps: r.view().Steps}
	vars := r.vars(nil)
	for _, o := range r.p.Outputs {
		v, err := expr.Decode(o.Value)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("output %s: %v", o.Name, err), ErrExpression, err)
		}
		out, err := r.env.Render(v, vars)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("output %s: %v", o.Name, err), ErrExpression, err)
		}
		res.Outputs[o.Name] = out
	}
	return res, nil
}

// scope is what a single execution of a step sees besides inputs and steps.
type scope struct {
	item    any
	index   int
	hasItem bool
	turn    bool
	// call names one activity of a reason step's agent loop ("t2" for
	// model turn 2, "t2.1" for the first tool call of that turn): its
	// activity id is then "<step>[#item]:<call>@<runtime>" (workflows/agent.go).
	call string
}

func (r *run) vars(sc *scope) expr.Vars {
	v := expr.Vars{expr.VarInputs: r.inputs, expr.VarSteps: r.stepsVar}
	if sc != nil {
		if sc.hasItem {
			v[expr.VarItem] = sc.item
		}
		v[expr.VarIndex] = int64(sc.index)
	}
	return v
}

// publish makes a step's state visible to expressions as steps.<id>.
func (r *run) publish(s *plan.Step, st *StepView) {
	m := map[string]any{"output": st.Output, "status": st.Status}
	if st.Error != "" {
		m["error"] = st.Error
	}
	if s.Kind == plan.KindApproval {
		if o, ok := st.Output.(map[string]any); ok {
			m["approved"] = o["approved"]
		} else {
			m["approved"] = false
		}
	}
	if st.Turns > 0 {
		m["turns"] = int64(st.Turns)
	}
	r.stepsVar[s.ID] = m
}

func (r *run) view() State {
	st := State{Metascript: r.p.Name, Executed: r.executed, Budgets: r.budgets, Live: r.live}
	st.Steps = make([]StepView, len(r.states))
	for i, s := range r.states {
		st.Steps[i] = *s
		// Outputs are in the history; a live view polled several times a
		// second should not carry them.
		st.Steps[i].Output = nil
	}
	return st
}

// details sets the run's current details shown in the Web UI.
func (r *run) details(ctx workflow.Context) {
	var running []string
	for _, st := range r.states {
		if st.Status == StatusRunning || st.Status == StatusWaiting {
			running = append(running, st.ID)
		}
	}
	d := fmt.Sprintf("**%d/%d steps done**", r.done, len(r.states))
	if len(running) > 0 {
		d += " · running: " + strings.Join(running, ", ")
	}
	workflow.SetCurrentDetails(ctx, d)
}

// fail records a run-ending error; the dispatcher returns it.
func (r *run) fail(err error) {
	if r.fatal == nil {
		r.fatal = err
	}
}

func appErrType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}
