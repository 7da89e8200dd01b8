package workflows_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

// Golden histories were recorded from real runs of the example metascripts
// on the embedded server (go test ./cmd/tars -run TestTraceGoldenRuns
// -update-golden). Every one must replay against the current interpreter:
// an interpreter change that would break runs in flight fails here. Guard
// such a change with workflow.GetVersion (see versions.go), never by
// re-recording the histories.
func TestGoldenHistoriesReplay(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no golden histories: record them with go test ./cmd/tars -run TestTraceGoldenRuns -update-golden")
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			h, err := trace.ReadHistoryFile(f)
			require.NoError(t, err)
			require.NoError(t, trace.Replay(h))
		})
	}
}

// changed is the interpreter after an incompatible change: it alters the
// Plan it was given, then interprets it.
func changed(change func(in *workflows.RunInput)) func(workflow.Context, converter.EncodedValues) (*workflows.RunResult, error) {
	return func(ctx workflow.Context, args converter.EncodedValues) (*workflows.RunResult, error) {
		var in workflows.RunInput
		if err := args.Get(&in); err != nil {
			return nil, err
		}
		change(&in)
		return workflows.Run(ctx, in)
	}
}

func golden(t *testing.T, name string) *historypb.History {
	t.Helper()
	h, err := trace.ReadHistoryFile(filepath.Join("testdata/histories", name+".json"))
	require.NoError(t, err)
	return h
}

// firstScheduled is the first ActivityTaskScheduled event of a step.
func firstScheduled(h *historypb.History, step string) *historypb.HistoryEvent {
	for _, e := range h.GetEvents() {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			id := a.GetActivityId()
			if strings.HasPrefix(id, step+"@") || strings.HasPrefix(id, step+"#") || strings.HasPrefix(id, step+"~") {
				return e
			}
		}
	}
	return nil
}

// A deliberately non-deterministic change is caught, at the right event.
func TestNondeterministicChangeIsCaught(t *testing.T) {
	t.Run("independent steps reordered", func(t *testing.T) {
		// research and notes need nothing, so the interpreter starts both
		// child runs in its first workflow task, in Plan order. Swapping
		// them swaps the commands.
		h := golden(t, "call-child")
		swap := func(in *workflows.RunInput) {
			s := in.Plan.Steps
			i, j := indexOf(s, "research"), indexOf(s, "notes")
			s[i], s[j] = s[j], s[i]
		}
		require.NoError(t, trace.Replay(h), "the unchanged interpreter replays it")
		err := trace.Replay(h, trace.WithWorkflow(changed(swap)))
		var d *trace.Divergence
		require.True(t, errors.As(err, &d), "want a divergence, got %v", err)
		var first *historypb.HistoryEvent
		for _, e := range h.GetEvents() {
			if e.GetStartChildWorkflowExecutionInitiatedEventAttributes() != nil {
				first = e
				break
			}
		}
		require.NotNil(t, first)
		a := first.GetStartChildWorkflowExecutionInitiatedEventAttributes()
		require.Equal(t, "research-digest", a.GetWorkflowType().GetName(), "research is first in the Plan")
		assert.Equal(t, first.GetEventId(), d.EventID, d.Error())
		assert.Equal(t, "StartChildWorkflowExecutionInitiated", d.EventType)
		assert.Equal(t, "StartChildWorkflowExecutionInitiated research-digest (workflow id "+a.GetWorkflowId()+")", d.Expected)
		assert.Contains(t, d.Got, "StartChildWorkflowExecution release-notes", d.Message)
	})
	t.Run("tool renamed", func(t *testing.T) {
		h := golden(t, "release-notes")
		e := firstScheduled(h, "draft")
		require.NotNil(t, e)
		rename := func(in *workflows.RunInput) {
			s := &in.Plan.Steps[indexOf(in.Plan.Steps, "draft")]
			s.Tool += "-v2"
		}
		err := trace.Replay(h, trace.WithWorkflow(changed(rename)))
		var d *trace.Divergence
		require.True(t, errors.As(err, &d), "want a divergence, got %v", err)
		typ := e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		assert.Equal(t, e.GetEventId(), d.EventID, d.Error())
		assert.Contains(t, d.Expected, "ActivityTaskScheduled "+typ+" ")
		assert.Contains(t, d.Got, "ScheduleActivityTask "+typ+"-v2 ")
	})
}

// The agent loop replays from the recorded model answers: a Plan that no
// longer gives the agent the tool it called diverges where that call was
// scheduled.
func TestAgentLoopReplay(t *testing.T) {
	h := golden(t, "agent-loop")
	require.NoError(t, trace.Replay(h))
	var call *historypb.HistoryEvent
	for _, e := range h.GetEvents() {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityId() == "investigate:t1.1@wasm" {
			call = e
		}
	}
	require.NotNil(t, call, "the recorded run called log-scan")
	drop := func(in *workflows.RunInput) {
		in.Plan.Steps[indexOf(in.Plan.Steps, "investigate")].Reason.Tools[0].Name = "renamed"
	}
	err := trace.Replay(h, trace.WithWorkflow(changed(drop)))
	var d *trace.Divergence
	require.True(t, errors.As(err, &d), "want a divergence, got %v", err)
	assert.Equal(t, call.GetEventId(), d.EventID, d.Error())
	assert.Contains(t, d.Expected, "ActivityTaskScheduled log-scan")
}

func indexOf(steps []plan.Step, id string) int {
	for i := range steps {
		if steps[i].ID == id {
			return i
		}
	}
	panic("no step " + id)
}
