package trace

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/workflows"
)

// mutated is an interpreter that changes the Plan before running it, as an
// incompatible interpreter change would.
func mutated(change func(in *workflows.RunInput)) func(workflow.Context, converter.EncodedValues) (*workflows.RunResult, error) {
	return func(ctx workflow.Context, args converter.EncodedValues) (*workflows.RunResult, error) {
		var in workflows.RunInput
		if err := args.Get(&in); err != nil {
			return nil, err
		}
		change(&in)
		return workflows.Run(ctx, in)
	}
}

func TestReplayDivergence(t *testing.T) {
	h := syntheticHistory(6)
	// s0 is scheduled at event 5, s<i> at 5+6i.
	tests := []struct {
		name      string
		change    func(in *workflows.RunInput)
		eventID   int64
		eventType string
		expected  string
		got       string
	}{
		{
			name:      "tool renamed",
			change:    func(in *workflows.RunInput) { in.Plan.Steps[3].Tool = "echo2" },
			eventID:   23,
			eventType: "ActivityTaskScheduled",
			expected:  "ActivityTaskScheduled echo (activity id s3@native, queue tars.native)",
			got:       "ScheduleActivityTask echo2 (activity id s3@native, queue tars.native)",
		},
		{
			name:      "step renamed (another activity id)",
			change:    func(in *workflows.RunInput) { in.Plan.Steps[2].ID = "s2b"; in.Plan.Steps[3].Needs = []string{"s2b"} },
			eventID:   17,
			eventType: "ActivityTaskScheduled",
			expected:  "ActivityTaskScheduled echo (activity id s2@native, queue tars.native)",
			got:       "ScheduleActivityTask echo (activity id s2b@native, queue tars.native)",
		},
		{
			name:      "step removed",
			change:    func(in *workflows.RunInput) { in.Plan.Steps = in.Plan.Steps[:4] },
			eventID:   29,
			eventType: "ActivityTaskScheduled",
			expected:  "ActivityTaskScheduled echo (activity id s4@native, queue tars.native)",
			got:       "no activity command at this point",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Replay(h, WithWorkflow(mutated(tt.change)))
			require.Error(t, err)
			var d *Divergence
			require.True(t, errors.As(err, &d), "not a divergence: %v", err)
			t.Logf("%v\nmessage: %s", d, d.Message)
			assert.Equal(t, tt.eventID, d.EventID)
			assert.Equal(t, tt.eventType, d.EventType)
			assert.Contains(t, d.Expected, tt.expected)
			assert.Contains(t, d.Got, tt.got)
		})
	}
	// The unchanged interpreter through the same path replays cleanly.
	require.NoError(t, Replay(h, WithWorkflow(mutated(func(*workflows.RunInput) {}))))
}
