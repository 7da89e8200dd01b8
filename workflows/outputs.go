package workflows

import (
	"fmt"
	"sort"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// QueryOutput returns one step's output (the query's argument is the step
// id). The state query leaves outputs out, so that a view polled several
// times a second stays small; this one is for the person who asks for a
// value, however large: with external storage on, a large answer travels
// by reference like any other payload. A closed run answers too, replayed
// by a worker.
const QueryOutput = "tars.output"

// serveOutputs registers QueryOutput. A query handler adds nothing to the
// history, so registering it changes no run's commands.
func (r *run) serveOutputs(ctx workflow.Context) error {
	return workflow.SetQueryHandler(ctx, QueryOutput, func(step string) (any, error) {
		i, ok := r.index[step]
		if !ok {
			ids := make([]string, 0, len(r.index))
			for id := range r.index {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			return nil, fmt.Errorf("run has no step %q (steps: %s)", step, strings.Join(ids, ", "))
		}
		return r.states[i].Output, nil
	})
}
