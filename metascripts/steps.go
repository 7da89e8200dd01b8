package metascripts

import (
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
)

const (
	kindTool     = plan.KindTool
	kindReason   = plan.KindReason
	kindApproval = plan.KindApproval
	kindSet      = plan.KindSet
	kindCall     = plan.KindCall
)

// Limits of one metascript. They keep compile time and the Plan's size
// bounded for any input; real metascripts stay far below them.
const (
	MaxWhile    = 10000 // turns a while loop may declare
	MaxAttempts = 1000  // retry.attempts
	// MaxConcurrency bounds a foreach step's items in flight. Temporal
	// refuses a workflow more than 2,000 pending activities, and several
	// foreach steps may run at once.
	MaxConcurrency = 1000
	MaxSteps       = 10000 // steps
	MaxClosures    = 100   // closures
	MaxInputs      = 1000  // inputs
)

// stepInfo is a step while it is being compiled.
type stepInfo struct {
	idx    int
	node   *yaml.Node
	id     string
	idNode *yaml.Node
	dup    bool // a later step with an id already taken
	kind   string
	fields diag.Fields // the step's keys and values, by key
	agent  *plan.Agent
	step   *plan.Step // what the Plan will hold, in the compiler's planSteps

	needs     []diag.Str
	preds     []int // needs, and the steps this one handles errors for
	handles   []int // steps whose on_error names this one
	onErrorTo diag.Str
	ancestors bitset // transitive preds; nil when the step is on or after a cycle

	callAt *yaml.Node // call.metascript
	callIn *yaml.Node // call.inputs
}

// notFor lists, per step kind, keys that do not apply and why.
var notFor = map[string]map[string]string{
	kindReason: {
		"runtime": "reason steps call model.chat on native",
		"with":    "reason steps take reason.prompt",
	},
	kindApproval: {
		"runtime": "approvals wait in the workflow", "isolation": "approvals wait in the workflow",
		"with": "write the question in approval.prompt", "foreach": "ask once, in one approval",
		"concurrency": "ask once, in one approval", "while": "ask once, in one approval",
		"retry": "an approval is not retried", "timeout": "use approval.timeout",
		"schedule_to_start": "approvals wait in the workflow",
	},
	kindSet: {
		"runtime": "set is computed in the workflow", "isolation": "set is computed in the workflow",
		"with": "the value is set itself", "retry": "set is computed in the workflow",
		"timeout": "set is computed in the workflow", "schedule_to_start": "set is computed in the workflow",
	},
	kindCall: {
		"runtime": "a child run's steps choose their runtimes", "isolation": "a child run's steps choose their isolation",
		"with": "pass call.inputs", "schedule_to_start": "a child run's steps choose their runtimes",
	},
}

func (c *compiler) readSteps(n *yaml.Node) {
	items := c.f.Seq(n, "steps")
	if n != nil && n.Kind == yaml.SequenceNode && len(items) == 0 {
		c.f.Errorf(n, "steps is empty; a metascript needs at least one step")
	}
	if len(items) > MaxSteps {
		c.f.Errorf(items[MaxSteps], "a metascript may have at most %d steps; split it with call", MaxSteps)
		items = items[:MaxSteps]
	}
	// Ids first, so that needs and on_error can refer forward.
	infos := make([]stepInfo, len(items))
	c.planSteps = make([]plan.Step, len(items))
	c.steps = make([]*stepInfo, 0, len(items))
	c.byID = make(map[string]*stepInfo, len(items))
	c.stepIDs = make([]string, 0, len(items))
	for i, sn := range items {
		st := &infos[i]
		st.idx, st.node, st.step = i, sn, &c.planSteps[i]
		c.steps = append(c.steps, st)
		st.fields = c.fields(sn, stepObj, "step")
		if sn.Kind != yaml.MappingNode {
			continue
		}
		id, ok := c.f.String(st.fields.Get("id").Value, "id")
		if !ok {
			continue
		}
		st.idNode = id.N
		if !c.ident(id, "step id") {
			continue
		}
		st.id = id.V
		if prev := c.byID[id.V]; prev != nil {
			c.f.Errorf(id.N, "duplicate step id %q (first at %s)", id.V, diag.LinePos(prev.idNode))
			st.dup = true
			continue
		}
		c.byID[id.V] = st
		c.stepIDs = append(c.stepIDs, id.V)
	}
	for _, st := range c.steps {
		st.kind = c.stepKind(st)
	}
	c.startChecking()
	for _, st := range c.steps {
		if st.node.Kind == yaml.MappingNode {
			c.readStep(st)
		}
	}
	if c.policy.MaxSteps > 0 && len(c.steps) > c.policy.MaxSteps {
		c.f.Errorf(c.policyNodes.Get("max_steps").Value, "policy.max_steps is %d, but the metascript declares %d steps", c.policy.MaxSteps, len(c.steps))
	}
}

func (c *compiler) stepKind(st *stepInfo) string {
	var kind string
	for _, k := range kindKeys {
		f, ok := st.fields.Lookup(k)
		if !ok {
			continue
		}
		if kind != "" {
			c.f.Errorf(f.Key, "step %s has both %s and %s; a step does exactly one of tool, reason, approval, set or call", st.name(), kind, k)
			continue
		}
		kind = k
	}
	if kind == "" && st.node.Kind == yaml.MappingNode {
		c.f.Errorf(st.node, "step %s needs one of tool, reason, approval, set or call", st.name())
	}
	return kind
}

func (st *stepInfo) name() string {
	if st.id == "" {
		return "#" + strconv.Itoa(st.idx+1)
	}
	return st.id
}

func (c *compiler) readStep(st *stepInfo) {
	fl := st.fields
	*st.step = plan.Step{ID: st.id, Kind: st.kind, Pos: c.f.Pos(st.node), OnError: plan.OnError{Action: plan.OnErrorFail}}
	if nf := notFor[st.kind]; nf != nil && anyIn(fl, nf) {
		for _, sf := range stepObj.fields {
			why, bad := nf[sf.name]
			if f, ok := fl.Lookup(sf.name); ok && bad {
				c.f.Errorf(f.Key, "%s does not apply to %s steps: %s", sf.name, st.kind, why)
			}
		}
	}

	if a, ok := c.f.String(fl.Get("agent").Value, "agent"); ok {
		st.agent = c.stepAgent(a)
		st.step.Agent = a.V
	}
	needs := c.f.StringOrList(fl.Get("needs").Value, "needs")
	if len(needs) > MaxNeeds {
		// scanBounds refuses this while reading; forms it does not follow
		// (an explicit "? needs" key) still meet the limit here.
		c.f.Errorf(needs[MaxNeeds].N, "a step may need at most %d steps", MaxNeeds)
		needs = needs[:MaxNeeds]
	}
	if len(needs) > 0 {
		// needs is ours: the distinct ones are kept in it.
		st.needs = needs[:0]
		st.step.Needs = make([]string, 0, len(needs))
	}
	var seen map[string]bool // for long lists; short ones are scanned
	if len(needs) > 16 {
		seen = make(map[string]bool, len(needs))
	}
	for _, nd := range needs {
		if seen != nil && seen[nd.V] || seen == nil && slices.Contains(st.step.Needs, nd.V) {
			c.f.Errorf(nd.N, "step %s needs %s twice", st.name(), nd.V)
			continue
		}
		if seen != nil {
			seen[nd.V] = true
		}
		st.needs = append(st.needs, nd)
		st.step.Needs = append(st.step.Needs, nd.V)
	}
	if v, ok := c.f.Enum(fl.Get("isolation").Value, "isolation", isolations); ok {
		st.step.MinIsolation = v
	}

	foreach, while := fl.Get("foreach").Value != nil, fl.Get("while").Value != nil
	if foreach && while {
		c.f.Errorf(fl.Get("while").Key, "step %s has both foreach and while; loop in a step of its own (or a called metascript) and run the foreach over its result", st.name())
	}
	body := scope(0)
	if foreach {
		body |= scItem | scIndex
	}
	if while && !foreach {
		body |= scIndex | scSelf
	}
	if foreach {
		st.step.Foreach, _ = c.exprField(fl.Get("foreach").Value, st, "foreach", "list", 0)
	}
	if f, ok := fl.Lookup("concurrency"); ok {
		if v, ok := c.f.Int(f.Value, "concurrency"); ok {
			switch {
			case v < 1:
				c.f.Errorf(f.Value, "concurrency must be a positive integer, not %d", v)
			case v > MaxConcurrency:
				c.f.Errorf(f.Value, "concurrency must be at most %d (Temporal allows a run 2,000 pending activities), not %d", MaxConcurrency, v)
			case !foreach:
				c.f.Errorf(f.Key, "concurrency applies only to foreach steps")
			default:
				st.step.Concurrency = v
			}
		}
	}
	if fl.Get("when").Value != nil {
		st.step.When, _ = c.exprField(fl.Get("when").Value, st, "when", "bool", 0)
	}
	if while && !foreach {
		c.readWhile(st, fl.Get("while").Value)
	}
	c.readRetry(st, fl.Get("retry").Value)
	if d, ok := c.f.Duration(fl.Get("timeout").Value, "timeout"); ok {
		st.step.Timeout = plan.Duration(d)
	}
	if d, ok := c.f.Duration(fl.Get("schedule_to_start").Value, "schedule_to_start"); ok {
		st.step.ScheduleToStart = plan.Duration(d)
	}
	c.readOnError(st, fl.Get("on_error").Value)
	for _, cn := range c.f.Seq(fl.Get("checks").Value, "checks") {
		cf := c.fields(cn, checkObj, "check")
		if cn.Kind != yaml.MappingNode {
			continue
		}
		var ch plan.Check
		if cf.Get("expr").Value != nil {
			ch.Expr, _ = c.exprField(cf.Get("expr").Value, st, "check", "bool", scOutput)
		}
		if m, ok := c.f.String(cf.Get("message").Value, "message"); ok {
			ch.Message = m.V
		}
		st.step.Checks = append(st.step.Checks, ch)
	}

	switch st.kind {
	case kindTool:
		c.readTool(st)
	case kindReason:
		c.readReason(st, body)
	case kindApproval:
		c.readApproval(st, body)
	case kindSet:
		if raw, ok := c.templateJSON(fl.Get("set").Value, st, "set", body); ok {
			st.step.Set = raw
		}
	case kindCall:
		c.readCall(st, body)
	}
	if w := fl.Get("with"); w.Value != nil && st.kind == kindTool {
		if raw, ok := c.templateJSON(w.Value, st, "with", body); ok {
			st.step.With = raw
		}
	}
}

// anyIn reports whether fl holds a key of nf.
func anyIn(fl diag.Fields, nf map[string]string) bool {
	for _, f := range fl {
		if _, ok := nf[f.Key.Value]; ok {
			return true
		}
	}
	return false
}

// stepAgent resolves a step's agent: it must be listed in agents.
func (c *compiler) stepAgent(a diag.Str) *plan.Agent {
	if ag := c.agents[a.V]; ag != nil {
		return ag
	}
	if _, known := c.s.cfg.Agents[a.V]; known {
		c.f.Errorf(a.N, "agent %q is not listed in agents; add it there", a.V)
		return nil
	}
	cands := append(append([]string(nil), c.agentIDs...), c.s.cfg.AgentIDs()...)
	c.f.Errorf(a.N, "unknown agent %q%s", a.V, diag.DidYouMean(a.V, cands))
	return nil
}

func (c *compiler) readWhile(st *stepInfo, n *yaml.Node) {
	wf := c.fields(n, whileObj, "while")
	if n.Kind != yaml.MappingNode {
		return
	}
	loop := &plan.Loop{}
	ok := true
	if wf.Get("cond").Value != nil {
		var good bool
		loop.Cond, good = c.exprField(wf.Get("cond").Value, st, "while.cond", "bool", scIndex|scSelf)
		ok = ok && good
	} else {
		ok = false
	}
	if f, found := wf.Lookup("max"); found {
		if v, good := c.f.Int(f.Value, "while.max"); good {
			if v < 1 || v > MaxWhile {
				c.f.Errorf(f.Value, "while.max must be between 1 and %d, not %d", MaxWhile, v)
				ok = false
			}
			loop.Max = v
		} else {
			ok = false
		}
	} else {
		ok = false
	}
	if ok {
		st.step.While = loop
	}
}

func (c *compiler) readRetry(st *stepInfo, n *yaml.Node) {
	if n == nil {
		return
	}
	rf := c.fields(n, retryObj, "retry")
	if n.Kind != yaml.MappingNode {
		return
	}
	r := &plan.Retry{}
	if f, ok := rf.Lookup("attempts"); ok {
		if v, good := c.f.Int(f.Value, "retry.attempts"); good {
			if v < 1 || v > MaxAttempts {
				c.f.Errorf(f.Value, "retry.attempts must be between 1 and %d, not %d", MaxAttempts, v)
			}
			r.Attempts = v
		}
	}
	if d, ok := c.f.Duration(rf.Get("backoff").Value, "retry.backoff"); ok {
		r.Backoff = plan.Duration(d)
	}
	if d, ok := c.f.Duration(rf.Get("max_backoff").Value, "retry.max_backoff"); ok {
		r.MaxBackoff = plan.Duration(d)
		if r.Backoff > 0 && r.MaxBackoff < r.Backoff {
			c.f.Errorf(rf.Get("max_backoff").Value, "retry.max_backoff (%s) is shorter than retry.backoff (%s)", r.MaxBackoff.D(), r.Backoff.D())
		}
	}
	for _, s := range c.f.Strings(rf.Get("non_retryable").Value, "retry.non_retryable") {
		if strings.TrimSpace(s.V) == "" {
			c.f.Errorf(s.N, "retry.non_retryable entries are error type names; this one is empty")
			continue
		}
		r.NonRetryable = append(r.NonRetryable, s.V)
	}
	st.step.Retry = r
}

func (c *compiler) readOnError(st *stepInfo, n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		of := c.fields(n, onErrorObj, "on_error")
		if s, ok := c.f.String(of.Get("step").Value, "on_error.step"); ok {
			st.onErrorTo = s
			st.step.OnError = plan.OnError{Action: plan.OnErrorStep, Step: s.V}
		}
		return
	}
	if n.Kind != yaml.ScalarNode {
		c.f.Errorf(n, "on_error must be fail, continue or {step: id}, not %s", diag.Describe(n))
		return
	}
	if v, ok := c.f.Enum(n, "on_error", onErrorActions); ok {
		st.step.OnError.Action = v
	}
}
