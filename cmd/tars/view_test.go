package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/tars-engine/tars/internal/tracepage"
	"github.com/tars-engine/tars/workflows"
)

func TestLiveViewLines(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	st := workflows.State{Steps: []workflows.StepView{
		{ID: "scan", Status: workflows.StatusRunning, Runtime: "wasm", Items: 4, ItemsDone: 1, Started: t0},
		{ID: "similar", Status: workflows.StatusOK, Runtime: "native", Started: t0, Ended: t0.Add(40 * time.Millisecond),
			Hops: []workflows.Hop{{Step: "similar", From: "cuda", To: "native", Reason: "no live pollers"}}},
		{ID: "approve", Status: workflows.StatusWaiting, Prompt: "ship?", Started: t0},
		{ID: "fix", Status: workflows.StatusFailed, Error: "boom [GuestFault]"},
	}}
	var b strings.Builder
	v := newLiveView("run-1", &b, false)
	v.render(st, map[string]int32{"scan": 3})
	out := b.String()
	assert.Contains(t, out, "▶ scan")
	assert.Contains(t, out, "1/4 items attempt 3")
	assert.Contains(t, out, "✓ similar")
	assert.Contains(t, out, "40ms [cuda→native: no live pollers]")
	assert.Contains(t, out, `waiting: "ship?" (tars approve run-1 approve)`)
	assert.Contains(t, out, "✗ fix")
	assert.Contains(t, out, "\n      boom [GuestFault]")

	// Without a terminal, an unchanged step is not printed again.
	b.Reset()
	v.render(st, map[string]int32{"scan": 3})
	assert.Empty(t, b.String())
	st.Steps[0].ItemsDone = 2
	v.render(st, map[string]int32{"scan": 3})
	assert.Equal(t, 1, strings.Count(b.String(), "\n"))
	assert.Contains(t, b.String(), "2/4 items")
}

func TestRunStatusNames(t *testing.T) {
	assert.Equal(t, "running", tracepage.RunStatus(enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING))
	assert.Equal(t, "timed_out", tracepage.RunStatus(enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT))
	assert.Equal(t, "continued_as_new", tracepage.RunStatus(enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW))
}
