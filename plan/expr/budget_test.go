package expr

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/plan"
)

// closureChain declares c1..cn: c1 does a few ten thousand units of work,
// each later closure calls the one before it four times. Each body is far
// under the cost limit on its own; cn(1) does 4^(n-1) times c1's work.
func closureChain(n int) []plan.Closure {
	nums := make([]string, 50)
	for i := range nums {
		nums[i] = fmt.Sprint(i)
	}
	list := "[" + strings.Join(nums, ",") + "]"
	out := []plan.Closure{{Name: "c1", Params: []plan.Param{{Name: "x", Type: "int"}}, Returns: "int",
		Body: list + ".map(i, " + list + ".filter(j, j + i + x > 50).size()).size()"}}
	for k := 2; k <= n; k++ {
		p := fmt.Sprintf("c%d", k-1)
		out = append(out, plan.Closure{Name: fmt.Sprintf("c%d", k), Params: []plan.Param{{Name: "x", Type: "int"}}, Returns: "int",
			Body: fmt.Sprintf("%s(x) + %s(x + 1) + %s(x + 2) + %s(x + 3)", p, p, p, p)})
	}
	return out
}

// within runs f and fails the test if it does not return in d. On the
// code before budgets, a nested closure chain computed for seconds.
func within(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("evaluation still running after %s: its cost is not bounded", d)
		return nil
	}
}

// TestNestedClosuresAreBounded: a closure's work is charged to the
// expression that calls it, so nesting cannot multiply the cost limit.
func TestNestedClosuresAreBounded(t *testing.T) {
	env, err := New(closureChain(6))
	require.NoError(t, err)
	// One c1 call is cheap and allowed.
	v, err := env.Eval("c1(1)", nil)
	require.NoError(t, err)
	assert.EqualValues(t, 50, v)
	start := time.Now()
	err = within(t, 10*time.Second, func() error { _, err := env.Eval("c6(1)", nil); return err })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cost")
	t.Logf("c6(1) cut off after %s: %v", time.Since(start), err)
}

// TestClosureCostIsCharged: a closure call costs its caller what its body
// spent, not one unit.
func TestClosureCostIsCharged(t *testing.T) {
	env, err := New(closureChain(2))
	require.NoError(t, err)
	b := NewBudget(TaskBudget, nil)
	_, err = env.WithBudget(b).Eval("c1(1)", nil)
	require.NoError(t, err)
	one := b.Spent()
	assert.Greater(t, one, uint64(10_000), "c1's body is a nested comprehension")
	_, err = env.WithBudget(b).Eval("c2(1)", nil)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, b.Spent()-one, 4*one, "c2 calls c1 four times")
}

// TestBudgetSpansEvaluations: evaluations charged to one budget stop when
// together they spend it, each one under CostLimit; a new epoch (the next
// workflow task) renews it.
func TestBudgetSpansEvaluations(t *testing.T) {
	env, err := New(closureChain(1))
	require.NoError(t, err)
	epoch := int64(1)
	b := NewBudget(TaskBudget, func() int64 { return epoch })
	ev := env.WithBudget(b)
	var n int
	var last error
	for n = 0; n < 1000; n++ {
		if _, last = ev.Eval("c1(index)", Vars{"index": int64(n)}); last != nil {
			break
		}
	}
	require.Error(t, last)
	var ce *CostError
	require.ErrorAs(t, last, &ce)
	assert.True(t, ce.Budget)
	assert.Contains(t, last.Error(), "budget")
	assert.Less(t, n, 1000)
	assert.LessOrEqual(t, b.Spent(), uint64(TaskBudget)+1000, "stopped at the budget, not after")
	_, err = ev.Eval("1 + 1", nil)
	require.Error(t, err, "the task's budget is spent")
	epoch++
	v, err := ev.Eval("c1(1)", nil)
	require.NoError(t, err, "a new workflow task has the whole budget")
	assert.EqualValues(t, 50, v)
}

// TestEvalWithoutBudget: an Env without a budget gives every evaluation
// CostLimit, closures included.
func TestEvalWithoutBudget(t *testing.T) {
	env, err := New(closureChain(4))
	require.NoError(t, err)
	_, err = env.Eval("c2(1)", nil) // about 4 × c1
	require.NoError(t, err)
	_, err = env.Eval("c4(1)", nil) // about 64 × c1: past CostLimit
	var ce *CostError
	require.ErrorAs(t, err, &ce)
	assert.False(t, ce.Budget)
	assert.EqualValues(t, CostLimit, ce.Limit)
}

// TestEvalConcurrent: goroutines evaluating with one Env each charge only
// their own budget.
func TestEvalConcurrent(t *testing.T) {
	env, err := New(closureChain(2))
	require.NoError(t, err)
	const workers = 4
	spent := make(chan uint64, workers)
	for w := 0; w < workers; w++ {
		go func() {
			b := NewBudget(TaskBudget, nil)
			for i := 0; i < 3; i++ {
				if _, err := env.WithBudget(b).Eval("c1(index)", Vars{"index": int64(i)}); err != nil {
					t.Error(err)
				}
			}
			spent <- b.Spent()
		}()
	}
	first := <-spent
	for w := 1; w < workers; w++ {
		assert.Equal(t, first, <-spent, "each budget pays for its own evaluations only")
	}
}

// BenchmarkBudgetSpent measures how long spending a whole TaskBudget takes,
// the bound on one workflow task's evaluation time.
func BenchmarkBudgetSpent(b *testing.B) {
	env, err := New(closureChain(6))
	require.NoError(b, err)
	for b.Loop() {
		bud := NewBudget(TaskBudget, nil)
		ev := env.WithBudget(bud)
		for i := 0; ; i++ {
			if _, err := ev.Eval("c3(index)", Vars{"index": int64(i)}); err != nil {
				break
			}
		}
	}
}

// BenchmarkCostUnit reports the time one cost unit takes (ns/unit) for
// inline work and for calls of a cheap closure, which TaskBudget is sized
// against.
func BenchmarkCostUnit(b *testing.B) {
	env, err := New([]plan.Closure{{Name: "inc", Params: []plan.Param{{Name: "x", Type: "int"}}, Returns: "int", Body: "x + 1"}})
	require.NoError(b, err)
	nums := make([]string, 1000)
	for i := range nums {
		nums[i] = fmt.Sprint(i)
	}
	list := "[" + strings.Join(nums, ",") + "]"
	for _, c := range []struct{ name, src string }{
		{"inline", list + ".map(i, i + 1).filter(j, j % 2 == 0).size()"},
		{"closure", list + ".map(i, inc(i)).filter(j, j % 2 == 0).size()"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var units uint64
			for b.Loop() {
				bud := NewBudget(TaskBudget, nil)
				if _, err := env.WithBudget(bud).Eval(c.src, nil); err != nil {
					b.Fatal(err)
				}
				units += bud.Spent()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(units), "ns/unit")
		})
	}
}

// TestBudgetNotEnforced: when the hook says no (a history recorded before
// budgets), evaluations go on under CostLimit alone.
func TestBudgetNotEnforced(t *testing.T) {
	env, err := New(closureChain(1))
	require.NoError(t, err)
	asked := 0
	b := NewBudget(TaskBudget, nil).Enforce(func() bool { asked++; return false })
	ev := env.WithBudget(b)
	for i := 0; i < 10; i++ { // about 10 × 44,000 units, past TaskBudget
		v, err := ev.Eval("c1(index)", Vars{"index": int64(i)})
		require.NoError(t, err)
		assert.EqualValues(t, 50, v)
	}
	assert.Greater(t, asked, 0)
	_, err = ev.Eval(strings.Repeat("c1(1) + ", 40)+"0", nil) // about 1,800,000 units
	var ce *CostError
	require.ErrorAs(t, err, &ce, "CostLimit still holds")
	assert.False(t, ce.Budget)
}
