package workflows

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/plan"
)

// numList is the CEL list [0, 1, ..., n-1].
func numList(n int) string {
	nums := make([]string, n)
	for i := range nums {
		nums[i] = fmt.Sprint(i)
	}
	return "[" + strings.Join(nums, ",") + "]"
}

// budgetEnv is a test environment with the SDK's deadlock limit (longer
// under the race detector, see testDeadlockLimit).
func budgetEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	env := newEnv(t, &fakePools{})
	if testDeadlockLimit > 0 {
		env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: testDeadlockLimit})
	}
	return env
}

// runBounded runs p and fails the test if the run does not end in d: an
// unbounded evaluation makes the SDK's deadlock detector fail the workflow
// task, which is then retried without end.
func runBounded(t *testing.T, p *plan.Plan, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		env := budgetEnv(t)
		env.ExecuteWorkflow(p.Name, RunInput{Plan: p})
		if !env.IsWorkflowCompleted() {
			done <- fmt.Errorf("workflow did not complete")
			return
		}
		done <- env.GetWorkflowError()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("run still going after %s: expression work in one workflow task is not bounded", d)
		return nil
	}
}

// TestSetStepNestedClosuresFailClearly: c6 calls c5 four times, ..., c1 is
// cheap; c6(1) is 4^5 times c1's work. The step fails, naming itself and
// the budget, instead of stalling the workflow task.
func TestSetStepNestedClosuresFailClearly(t *testing.T) {
	l := numList(50)
	cls := []plan.Closure{{Name: "c1", Params: []plan.Param{{Name: "x", Type: "int"}}, Returns: "int",
		Body: l + ".map(i, " + l + ".filter(j, j + i + x > 50).size()).size()"}}
	for k := 2; k <= 6; k++ {
		p := fmt.Sprintf("c%d", k-1)
		cls = append(cls, plan.Closure{Name: fmt.Sprintf("c%d", k), Params: []plan.Param{{Name: "x", Type: "int"}}, Returns: "int",
			Body: fmt.Sprintf("%s(x) + %s(x + 1) + %s(x + 2) + %s(x + 3)", p, p, p, p)})
	}
	p := &plan.Plan{Name: "nested", Closures: cls,
		Steps: []plan.Step{{ID: "heavy", Kind: plan.KindSet, Pos: "nested.yaml:3:5", Set: raw(`"${c6(1)}"`)}}}
	err := runBounded(t, p, 10*time.Second)
	require.Error(t, err)
	msg := Describe(err)
	t.Log(msg)
	assert.Contains(t, msg, "step heavy")
	assert.Contains(t, msg, "budget")
	assert.Contains(t, msg, ErrExpression)
}

// TestWhileSetLoopFailsClearly: each turn stays far under the cost limit
// of one expression, but 200 turns in one workflow task do not.
func TestWhileSetLoopFailsClearly(t *testing.T) {
	l := numList(60)
	body := l + ".map(i, " + l + ".filter(j, j + i + index > 50).size()).size()"
	p := &plan.Plan{Name: "loop",
		Steps: []plan.Step{{ID: "spin", Kind: plan.KindSet, Pos: "loop.yaml:3:5", Set: raw(`"${` + body + `}"`),
			While: &plan.Loop{Cond: "true", Max: 200}}}}
	err := runBounded(t, p, 10*time.Second)
	require.Error(t, err)
	msg := Describe(err)
	t.Log(msg)
	assert.Contains(t, msg, "step spin")
	assert.Contains(t, msg, "budget")
}

// TestExprBudgetVersion: a loop that passes the task's budget fails in new
// runs, and runs to its end when replaying a history recorded before the
// budget (GetVersion answers DefaultVersion).
func TestExprBudgetVersion(t *testing.T) {
	l := numList(35)
	loop := func() *plan.Plan {
		return &plan.Plan{Name: "loop", Steps: []plan.Step{{ID: "spin", Kind: plan.KindSet, Pos: "loop.yaml:3:5",
			Set:   raw(`"${` + l + ".map(i, " + l + `.filter(j, j + i + index > 30).size()).size()}"`),
			While: &plan.Loop{Cond: "true", Max: 20}}}}
	}
	env := budgetEnv(t)
	_, err := runPlan(t, env, loop(), nil)
	require.Error(t, err, "20 turns of about 20,000 units pass the 250,000 of one task")
	assert.Contains(t, Describe(err), "budget")

	env = newEnv(t, &fakePools{})
	// Unbounded, as before the budget: give it more than the default 1 s
	// deadlock limit, so that a slow machine (or -race) does not trip it.
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second})
	env.OnGetVersion(ChangeExprBudget, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	res, err := runPlan(t, env, loop(), nil)
	require.NoError(t, err)
	assert.EqualValues(t, 20, res.Steps[0].Turns)
}
