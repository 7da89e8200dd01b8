package workflows

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// A foreach over many items does not fit in one run's history: each item
// is an activity (three events and a share of the workflow tasks), and
// Temporal ends a run at 51,200 events. Above a threshold the items are
// run in shards: child workflows of type ShardWorkflow, each over a
// contiguous slice of the items, several at once. The parent's history
// grows with the number of shards (about ten events each), not items.
//
//   - concurrency keeps its meaning: the step's limit is split between the
//     shards running at once (slots), so that the items in flight across
//     shards never exceed it;
//   - a shard returns a compact ShardResult: how many items it did, its
//     usage, a failure, and its outputs only when the run reads the step's
//     output (outputNeeded); large results then go by reference through
//     the client's external storage like any other payload;
//   - a shard continues as new when its own history grows past the run's
//     history limit, carrying what it did so far.

// ShardWorkflow is the workflow type of a foreach shard. Workers that run
// the interpreter register Shard under it.
const ShardWorkflow = "tars.shard"

const (
	// DefaultShardThreshold: a foreach over more items than this runs in
	// shards (Options.ShardThreshold overrides it).
	DefaultShardThreshold = 1000
	// DefaultShardSize is the most items one shard takes
	// (Options.ShardSize overrides it). A shard of 1,000 one-activity
	// items leaves about 5,000 events, well inside the history limits.
	DefaultShardSize = 1000
	// shardSlotItems is the share of the concurrency one shard running at
	// once gets: a step with concurrency c runs ceil(c/shardSlotItems)
	// shards at once (at most maxShardSlots). Fewer, wider shards batch
	// more completions into each workflow task: at concurrency 200 one
	// shard of 200 did 304-309 items/s where four of 50 did 257-263 (the
	// same 20,000 items, BENCHMARKS.md "Foreach at any size").
	// shardSlotItemsV1 is the share runs recorded at version 1 of
	// ChangeForeachShards use.
	shardSlotItems   = 200
	shardSlotItemsV1 = 50
	maxShardSlots    = 8
	// shardHistoryBytes: a shard continues as new when its history grows
	// past this size, well under the server's 50 MB limit.
	shardHistoryBytes = 8 << 20
)

// ShardInput is everything a shard needs, so that it depends on nothing
// else in the parent's state.
type ShardInput struct {
	// Plan holds the step (see shardPlan). The parent sends a Plan trimmed
	// to the step; its SHA256 is the whole Plan's.
	// Only an ad-hoc run's shards carry it: a catalogue run's shards name
	// the Plan by Digest (and Child), and the worker's catalogue has it.
	Plan   *plan.Plan `json:"plan,omitempty"`
	Digest string     `json:"digest,omitempty"`
	Child  string     `json:"child,omitempty"`
	Step   string     `json:"step"`
	// Inputs and Steps are the inputs.<name> and steps.<id> the step's
	// expressions read (not the others: they may be large).
	Inputs map[string]any `json:"inputs,omitempty"`
	Steps  map[string]any `json:"steps,omitempty"`
	// First is the foreach index of the shard's first item: index and the
	// activity ids count from it.
	First int `json:"first"`
	// Items are the shard's items, or Range when they are consecutive
	// integers (a list of a million numbers then costs nothing to send).
	Items []any      `json:"items,omitempty"`
	Range *ItemRange `json:"range,omitempty"`
	// Concurrency is this shard's share of the step's concurrency.
	Concurrency int `json:"concurrency"`
	// KeepOutputs: return the items' outputs (the run reads them).
	KeepOutputs bool `json:"keep_outputs,omitempty"`
	// Executed and Budgets are what the run had used when the shard
	// started: the shard checks policy.max_steps and the budgets against
	// them plus its own use, and the run checks the sum again.
	Executed int                `json:"executed,omitempty"`
	Budgets  map[string]float64 `json:"budgets,omitempty"`
	Options  Options            `json:"options,omitempty"`
	// Carried is what the earlier runs of this shard's continue-as-new
	// chain did.
	Carried *ShardResult `json:"carried,omitempty"`
}

// ItemRange is the items From, From+1, ..., From+Count-1.
type ItemRange struct {
	From  int64 `json:"from"`
	Count int   `json:"count"`
}

// ShardResult is what a shard returns to its run.
type ShardResult struct {
	// Items is how many items finished (succeeded or failed).
	Items int `json:"items"`
	// Outputs are the items' outputs in order, when KeepOutputs.
	Outputs []any         `json:"outputs,omitempty"`
	Failed  *ShardFailure `json:"failed,omitempty"`
	Runtime string        `json:"runtime,omitempty"`
	Hops    []Hop         `json:"hops,omitempty"`
	// Executed and Usage are what the shard's items added to the run's
	// max_steps count and budgets.
	Executed int                `json:"executed,omitempty"`
	Usage    map[string]float64 `json:"usage,omitempty"`
	// Runs is the length of the shard's continue-as-new chain.
	Runs int `json:"runs"`
}

// ShardFailure is the first failed item of a shard, or a run-ending error
// (max_steps, a budget) when Fatal.
type ShardFailure struct {
	Index   int    `json:"index"`
	Message string `json:"message"`
	Type    string `json:"type,omitempty"`
	Fatal   bool   `json:"fatal,omitempty"`
}

// shardPlan is the Plan a shard runs its step from. Today the Plan travels
// in the input; a worker-side catalogue can look it up by in.Plan's
// digest here instead.
func (e *Engine) shardPlan(in ShardInput) (*plan.Plan, error) {
	if in.Plan != nil {
		if !e.AllowAdhoc {
			return nil, e.refuseAdhoc(in.Plan.Name)
		}
		return in.Plan, nil
	}
	if in.Digest == "" {
		return nil, temporal.NewNonRetryableApplicationError("shard input names no plan", ErrBadInput, nil)
	}
	en := e.Catalogue.WithDigest(in.Digest)
	if en == nil {
		// As for a run: fail the workflow task so that a worker that
		// serves the digest takes the shard.
		panic(fmt.Sprintf("%s: %s has no Plan with digest %s; the shard waits for a worker that serves it", ErrPlanNotServed, e.who(), in.Digest))
	}
	p := en.Plan
	if in.Child != "" {
		cp, err := ChildPlan(p, in.Child)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrBadInput, nil)
		}
		p = cp
	}
	for i := range p.Steps {
		if p.Steps[i].ID == in.Step {
			return trimPlan(p, &p.Steps[i]), nil
		}
	}
	return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("plan %s has no step %q", p.Name, in.Step), ErrBadInput, nil)
}

// shardThreshold and shardSize apply the run's options.
func (r *run) shardThreshold() int {
	if t := r.in.Options.ShardThreshold; t > 0 {
		return t
	}
	return DefaultShardThreshold
}

func (r *run) shardSize() int {
	if n := r.in.Options.ShardSize; n > 0 {
		return n
	}
	return DefaultShardSize
}

// shardable reports whether a foreach step's items can run in a shard.
// An approval waits for an Update sent to the run itself, so it stays
// there (a foreach of thousands of approvals is not a use anyone has).
func shardable(s *plan.Step) bool { return s.Kind != plan.KindApproval }

// foreachShards runs the items of s in shards, at most limit items in
// flight across them, and returns the outputs in item order (nil when
// the run never reads them, see outputNeeded).
func (r *run) foreachShards(ctx workflow.Context, s *plan.Step, st *StepView, items []any, limit, perSlot int) ([]any, error) {
	size := r.shardSize()
	n := (len(items) + size - 1) / size
	bound := func(k int) int { return int(int64(k) * int64(len(items)) / int64(n)) } // even slices
	shares := shardShares(n, limit, perSlot)
	slots := len(shares)
	keep := outputNeeded(r.p, s)
	texts := stepTexts(r.p, s)
	base := ShardInput{
		Step: s.ID, Inputs: readVars(texts, expr.VarInputs, r.inputs),
		Steps: readVars(texts, expr.VarSteps, r.stepsVar), KeepOutputs: keep, Options: r.in.Options,
	}
	if r.in.Digest != "" && r.in.adhoc == nil {
		base.Digest, base.Child = r.in.Digest, r.in.Child
	} else {
		base.Plan = trimPlan(r.p, s)
	}
	st.Shards = n
	var outs []any
	if keep {
		outs = make([]any, len(items))
	}
	parent := workflow.GetInfo(ctx).WorkflowExecution.ID
	free := make([]int, 0, slots)
	for slot := slots - 1; slot >= 0; slot-- {
		free = append(free, slot)
	}
	sel := workflow.NewSelector(ctx)
	pending := 0
	var failure error
	for k := 0; k < n; k++ {
		for len(free) == 0 {
			sel.Select(ctx)
			pending--
		}
		if failure != nil || r.fatal != nil || ctx.Err() != nil {
			break
		}
		slot := free[len(free)-1]
		free = free[:len(free)-1]
		lo, hi := bound(k), bound(k+1)
		in := base
		in.First, in.Concurrency = lo, shares[slot]
		in.Executed, in.Budgets = r.executed, copyBudgets(r.budgets)
		in.Items, in.Range = shardItems(items[lo:hi])
		opts := workflow.ChildWorkflowOptions{
			WorkflowID:        ShardID(parent, s.ID, k),
			TaskQueue:         WorkflowQueue(r.in.Options.QueuePrefix),
			ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_TERMINATE,
			StaticSummary:     fmt.Sprintf("%s · %s · shard %d of %d · items %d–%d", r.p.Name, s.ID, k+1, n, lo, hi-1),
		}
		pending++
		sel.AddFuture(workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), ShardWorkflow, in), func(f workflow.Future) {
			free = append(free, slot)
			var res ShardResult
			if err := f.Get(ctx, &res); err != nil {
				if failure == nil {
					failure = fmt.Errorf("shard %d (items %d–%d): %w", k+1, lo, hi-1, err)
				}
				return
			}
			r.gather(s, st, &res)
			if keep {
				copy(outs[lo:hi], normalizeList(res.Outputs))
			}
			if res.Failed != nil && failure == nil {
				err := temporal.NewNonRetryableApplicationError(res.Failed.Message, res.Failed.Type, nil)
				if res.Failed.Fatal {
					r.fail(err)
					failure = err
				} else {
					failure = fmt.Errorf("item %d: %w", res.Failed.Index, err)
				}
			}
		})
	}
	for ; pending > 0; pending-- {
		sel.Select(ctx)
	}
	return outs, failure
}

// slotItems is the concurrency share of one shard slot at version v of
// ChangeForeachShards.
func slotItems(v workflow.Version) int {
	if v == 1 {
		return shardSlotItemsV1
	}
	return shardSlotItems
}

// shardShares splits a foreach's concurrency limit between the shards
// that run at once (one entry each): ceil(limit/perSlot) of them, at most
// maxShardSlots and no more than the n shards or limit items. The shares
// add up to limit.
func shardShares(n, limit, perSlot int) []int {
	slots := max(1, min(n, limit, (limit+perSlot-1)/perSlot, maxShardSlots))
	shares := make([]int, slots)
	for i := range shares {
		shares[i] = limit / slots
		if i < limit%slots {
			shares[i]++
		}
	}
	return shares
}

// gather adds a finished shard to the step's progress and the run's
// counts, and fails the run past max_steps or a budget: shards running at
// once each check against what the run had used when they started.
func (r *run) gather(s *plan.Step, st *StepView, res *ShardResult) {
	st.ShardsDone++
	st.ItemsDone += res.Items
	if res.Runtime != "" {
		st.Runtime = res.Runtime
	}
	st.Hops = append(st.Hops, res.Hops...)
	r.executed += res.Executed
	if max := r.p.Policy.MaxSteps; max > 0 && r.executed > max {
		r.fail(temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("policy.max_steps %d reached at step %s", max, s.ID), ErrMaxSteps, nil))
	}
	r.account(s, res.Usage)
}

// Shard is the workflow of one shard: it runs its slice of a foreach
// step's items, as the step would in its own run, and continues as new
// when its history grows past the run's history limit.
func Shard(ctx workflow.Context, in ShardInput) (*ShardResult, error) {
	return (&Engine{AllowAdhoc: true}).Shard(ctx, in)
}

// Shard is the shard workflow as a worker serves it: the Plan comes from
// its catalogue, or with the shard only where ad-hoc runs are allowed.
func (e *Engine) Shard(ctx workflow.Context, in ShardInput) (*ShardResult, error) {
	p, err := e.shardPlan(in)
	if err != nil {
		return nil, err
	}
	r, s, err := newShardRun(ctx, p, in)
	if err != nil {
		return nil, err
	}
	items := in.items()
	st := r.states[r.index[s.ID]]
	st.Status, st.Started, st.Items = StatusRunning, workflow.Now(ctx), len(items)
	res := &ShardResult{}
	if in.Carried != nil {
		res = in.Carried
	}
	res.Runs++
	limit := in.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	r.itemBase, r.stoppedAt = in.First, -1
	r.yield = func() bool { return r.shardFull(ctx) }
	var outs []any
	var errs []error
	if r.oneActivityPerItem(s) {
		outs, errs = r.foreachActivities(ctx, s, st, items, limit)
	} else if outs, errs, err = r.foreachCoroutines(ctx, s, st, items, limit); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, temporal.NewCanceledError("shard cancelled")
	}
	taken := len(items)
	if r.stoppedAt >= 0 {
		taken = r.stoppedAt
	}
	res.Items += st.ItemsDone
	res.Executed += r.executed - in.Executed
	for k, v := range r.budgets {
		if d := v - in.Budgets[k]; d != 0 {
			if res.Usage == nil {
				res.Usage = map[string]float64{}
			}
			res.Usage[k] += d
		}
	}
	if st.Runtime != "" {
		res.Runtime = st.Runtime
	}
	res.Hops = append(res.Hops, st.Hops...)
	if in.KeepOutputs {
		res.Outputs = append(res.Outputs, outs[:taken]...)
	}
	if r.fatal != nil {
		res.Failed = &ShardFailure{Index: -1, Message: Describe(r.fatal), Type: appErrType(r.fatal), Fatal: true}
		return res, nil
	}
	for i, err := range errs[:taken] {
		if err != nil {
			res.Failed = &ShardFailure{Index: in.First + i, Message: Describe(err), Type: appErrType(err)}
			return res, nil
		}
	}
	if taken < len(items) {
		next := in
		next.First += taken
		next.Items, next.Range = shardItems(items[taken:])
		next.Executed, next.Budgets = r.executed, r.budgets
		next.Carried = res
		return nil, workflow.NewContinueAsNewError(ctx, ShardWorkflow, next)
	}
	return res, nil
}

// newShardRun is the run a shard interprets its step in: the step alone,
// with the inputs and steps it reads, and the run's counts so far.
func newShardRun(ctx workflow.Context, p *plan.Plan, in ShardInput) (*run, *plan.Step, error) {
	if p.Schema > plan.SchemaVersion {
		return nil, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("plan schema %d is newer than this interpreter's %d: upgrade the workers", p.Schema, plan.SchemaVersion),
			ErrInvalidPlan, nil)
	}
	env, err := planEnv(p)
	if err != nil {
		return nil, nil, temporal.NewNonRetryableApplicationError("closures: "+err.Error(), ErrExpression, err)
	}
	info := workflow.GetInfo(ctx)
	budget := expr.NewBudget(expr.TaskBudget, func() int64 {
		return int64(info.GetCurrentHistoryLength())<<40 ^ workflow.Now(ctx).UnixNano()
	})
	r := &run{
		in: RunInput{Plan: p, Options: in.Options}, p: p, env: env.WithBudget(budget),
		index:     make(map[string]int, len(p.Steps)),
		states:    make([]*StepView, len(p.Steps)),
		stepsVar:  map[string]any{},
		inputs:    map[string]any{},
		handlers:  map[string]bool{},
		budgets:   copyBudgets(in.Budgets),
		approvals: map[string]Decision{},
		executed:  in.Executed,
	}
	var s *plan.Step
	for i := range p.Steps {
		r.index[p.Steps[i].ID] = i
		r.states[i] = &StepView{ID: p.Steps[i].ID, Kind: p.Steps[i].Kind, Agent: p.Steps[i].Agent, Status: StatusPending}
		if p.Steps[i].ID == in.Step {
			s = &p.Steps[i]
		}
	}
	if s == nil {
		return nil, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("shard: plan %s has no step %q", p.Name, in.Step), ErrBadInput, nil)
	}
	for k, v := range in.Inputs {
		r.inputs[k] = normalize(v)
	}
	for k, v := range in.Steps {
		r.stepsVar[k] = normalize(v)
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return r.view(), nil }); err != nil {
		return nil, nil, err
	}
	return r, s, nil
}

// shardFull reports whether the shard should stop taking items and
// continue as new: its history is past the run's history limit in events,
// or past shardHistoryBytes. (Not the server's suggestion, which comes at
// a few thousand events, inside every healthy shard.)
func (r *run) shardFull(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	limit := r.in.Options.HistoryLimit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	return info.GetCurrentHistoryLength() >= limit || info.GetCurrentHistorySize() >= shardHistoryBytes
}

// yielding reports whether a shard stops before item i to continue as
// new, and records where. Every run of a shard takes at least one item.
func (r *run) yielding(i int) bool {
	if r.yield == nil || i == 0 || !r.yield() {
		return false
	}
	r.stoppedAt = i
	return true
}

// items are the shard's items.
func (in ShardInput) items() []any {
	if in.Range == nil {
		return normalizeList(in.Items)
	}
	out := make([]any, in.Range.Count)
	for i := range out {
		out[i] = in.Range.From + int64(i)
	}
	return out
}

// shardItems encodes items as a range when they are consecutive integers.
func shardItems(items []any) ([]any, *ItemRange) {
	if len(items) == 0 {
		return []any{}, nil
	}
	first, ok := items[0].(int64)
	for i := 1; ok && i < len(items); i++ {
		v, isInt := items[i].(int64)
		ok = isInt && v == first+int64(i)
	}
	if !ok {
		return items, nil
	}
	return nil, &ItemRange{From: first, Count: len(items)}
}

// normalizeList normalizes the values of l in place.
func normalizeList(l []any) []any {
	for i, v := range l {
		l[i] = normalize(v)
	}
	return l
}

func copyBudgets(b map[string]float64) map[string]float64 {
	if len(b) == 0 {
		return nil
	}
	out := make(map[string]float64, len(b))
	for k, v := range b {
		out[k] = v
	}
	return out
}

// trimPlan is p with only step s, as a shard runs it: the run has already
// evaluated its when and foreach, applies its checks and on_error rule to
// the whole step, and binds the inputs.
func trimPlan(p *plan.Plan, s *plan.Step) *plan.Plan {
	t := *p
	one := *s
	one.Needs, one.When, one.Checks, one.OnError = nil, "", nil, plan.OnError{}
	t.Steps = []plan.Step{one}
	t.Inputs, t.Outputs = nil, nil
	if s.Kind != plan.KindCall {
		t.Children = nil
	}
	return &t
}

// stepTexts is the text of what one execution of s evaluates (its with,
// call inputs, reason, approval) and of the Plan's closures, which may
// read variables too.
func stepTexts(p *plan.Plan, s *plan.Step) []string {
	one := *s
	one.ID, one.Needs, one.Foreach, one.When, one.Checks, one.Pos = "", nil, "", "", nil, ""
	b, _ := json.Marshal(one)
	texts := []string{string(b)}
	for _, c := range p.Closures {
		texts = append(texts, c.Body)
	}
	return texts
}

// readVars is the part of vars (inputs or steps, by name) that texts read.
func readVars(texts []string, root string, vars map[string]any) map[string]any {
	var names []string
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	out := map[string]any{}
	for _, k := range names {
		for _, t := range texts {
			if mentions(t, root, k) {
				out[k] = vars[k]
				break
			}
		}
	}
	return out
}

// outputNeeded reports whether anything in the run may read the output of
// foreach step s: another step's expressions, the run's outputs, a
// closure, or s's own checks. It errs on the side of yes: any mention of
// steps.<s> (or of steps as a whole) counts.
func outputNeeded(p *plan.Plan, s *plan.Step) bool {
	if len(s.Checks) > 0 {
		return true
	}
	var texts []string
	for i := range p.Steps {
		if p.Steps[i].ID == s.ID {
			continue
		}
		b, _ := json.Marshal(p.Steps[i])
		texts = append(texts, string(b))
	}
	for _, o := range p.Outputs {
		texts = append(texts, string(o.Value))
	}
	for _, c := range p.Closures {
		texts = append(texts, c.Body)
	}
	for _, t := range texts {
		if mentions(t, expr.VarSteps, s.ID) {
			return true
		}
	}
	return false
}

// mentions reports whether text may read root.name: "root.name",
// root["name"] or root['name'], or root used whole or indexed by
// something else (which may be name). It reads text, not a parsed
// expression, so a word "root" in prose counts too: a false yes costs
// only bytes, a false no would lose a value.
func mentions(text, root, name string) bool {
	for i := 0; ; {
		j := indexWord(text[i:], root)
		if j < 0 {
			return false
		}
		k := i + j + len(root)
		i = k
		for k < len(text) && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n') {
			k++
		}
		if k >= len(text) {
			return true
		}
		switch text[k] {
		case '.':
			k++
			for k < len(text) && text[k] == ' ' {
				k++
			}
			e := k
			for e < len(text) && identByte(text[e]) {
				e++
			}
			if text[k:e] == name {
				return true
			}
		case '[':
			rest := text[k+1:]
			for len(rest) > 0 && rest[0] == ' ' {
				rest = rest[1:]
			}
			quoted := false
			for _, q := range []string{`"`, `'`, `\"`} {
				if len(rest) > len(q) && rest[:len(q)] == q {
					quoted = true
					if lit := rest[len(q):]; len(lit) >= len(name)+len(q) && lit[:len(name)] == name && lit[len(name):len(name)+len(q)] == q {
						return true
					}
				}
			}
			if !quoted {
				return true // indexed by an expression
			}
		default:
			return true // used whole
		}
	}
}

// indexWord is the index of the first occurrence of word in s that is not
// part of a longer identifier, or -1.
func indexWord(s, word string) int {
	for off := 0; ; {
		j := strings.Index(s[off:], word)
		if j < 0 {
			return -1
		}
		at := off + j
		end := at + len(word)
		if (at == 0 || !identByte(s[at-1])) && (end == len(s) || !identByte(s[end])) {
			return at
		}
		off = at + 1
	}
}

func identByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
