package expr

import (
	"errors"
	"fmt"

	"github.com/google/cel-go/interpreter"
)

// TaskBudget is the work, in CEL cost units, that every expression a
// workflow task evaluates may spend together, closures included; within a
// task it binds before CostLimit does. A unit takes about 0.1 µs on an
// idle core and several times that on a loaded one (BENCHMARKS.md has the
// figures and the command), so a task's evaluations stay far below the
// SDK's 1 s deadlock limit. The bound holds on replay too: cost is
// counted, not timed.
const TaskBudget = 250_000

// closureCallCost is charged for each closure call on top of its body: a
// call allocates an activation and a cost tracker, which takes about as
// long as this many units of inline work (BenchmarkCostUnit).
const closureCallCost = 40

// Budget accounts for the evaluation work of one workflow task. Workflow
// code is single-threaded per run, so a Budget is not safe for concurrent
// use; give each run its own.
type Budget struct {
	limit   uint64
	spent   uint64
	epoch   func() int64
	last    int64
	enforce func() bool
}

// NewBudget returns a budget of limit cost units. When epoch is not nil,
// the budget is renewed whenever epoch returns a new value: a workflow
// passes the history length at the start of the current workflow task, so
// each task gets the whole budget, on first execution and on replay alike.
func NewBudget(limit uint64, epoch func() int64) *Budget {
	b := &Budget{limit: limit, epoch: epoch}
	if epoch != nil {
		b.last = epoch()
	}
	return b
}

// Enforce sets a hook that Eval consults when the budget would stop an
// evaluation: when it returns false, the evaluation goes on under CostLimit
// alone. The interpreter uses it to replay runs recorded before budgets
// existed the way they ran (a workflow.GetVersion check).
func (b *Budget) Enforce(f func() bool) *Budget {
	b.enforce = f
	return b
}

// Limit is the budget's size; 0 for a nil Budget.
func (b *Budget) Limit() uint64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// Left is what the current workflow task may still spend.
func (b *Budget) Left() uint64 {
	b.renew()
	if b.spent >= b.limit {
		return 0
	}
	return b.limit - b.spent
}

// Spent is what the current workflow task has spent.
func (b *Budget) Spent() uint64 {
	b.renew()
	return b.spent
}

func (b *Budget) renew() {
	if b.epoch == nil {
		return
	}
	if e := b.epoch(); e != b.last {
		b.last, b.spent = e, 0
	}
}

func (b *Budget) charge(n uint64) {
	b.renew()
	b.spent += n
}

// CostError reports an evaluation stopped because it would have spent
// more than it may: CostLimit for one expression, or what was left of the
// workflow task's budget (Budget true).
type CostError struct {
	Limit      uint64 // what this evaluation could spend
	Budget     bool   // the limit was what was left of the task's budget
	TaskBudget uint64 // the task's whole budget, when there is one
}

func (e *CostError) Error() string {
	if e.Budget {
		return fmt.Sprintf("expression cost budget exhausted: the expressions of one workflow task may spend %d cost units together, closures included, and %d were left when this one started", e.TaskBudget, e.Limit)
	}
	return fmt.Sprintf("expression cost budget exceeded: one expression may spend %d cost units, closures included, and this one was stopped there", e.Limit)
}

// errCut is what a closure returns once its evaluation has been stopped.
var errCut = errors.New("stopped: cost budget exhausted")

// meter charges one top-level evaluation and the closure bodies it calls.
// Each program evaluation gets a CEL cost tracker; the meter sets every
// tracker's limit to what is left for the whole evaluation, so a closure
// body stops when the evaluation's budget is spent, not at a limit of its
// own, and the callers stop after it.
type meter struct {
	limit  uint64
	spent  uint64 // finished program evaluations
	active []*interpreter.CostTracker
	cut    bool
}

func (m *meter) left() uint64 {
	used := m.spent
	for _, t := range m.active {
		used += t.ActualCost()
	}
	if used >= m.limit {
		return 0
	}
	return m.limit - used
}

// track is a CostTrackerOption: CEL calls it when a program evaluation
// starts.
func (m *meter) track(t *interpreter.CostTracker) error {
	l := m.left()
	t.Limit = &l
	m.active = append(m.active, t)
	return nil
}

// done closes the innermost program evaluation: its cost is spent, and the
// evaluations that called it may now spend only what is left.
func (m *meter) done() {
	n := len(m.active)
	if n == 0 {
		return
	}
	m.spent += m.active[n-1].ActualCost()
	m.active = m.active[:n-1]
	left := m.left()
	for _, t := range m.active {
		*t.Limit = t.ActualCost() + left
	}
}

func (m *meter) noteCut(err error) {
	var c interpreter.EvalCancelledError
	if errors.As(err, &c) && c.Cause == interpreter.CostLimitExceeded {
		m.cut = true
	}
}
