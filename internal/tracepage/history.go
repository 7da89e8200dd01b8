package tracepage

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

// RunHistory is a run's history and what the server says about it now.
type RunHistory struct {
	History    *historypb.History
	Source     string // file name or workflow id
	WorkflowID string
	RunID      string
	Open       bool
	Describe   *workflowservice.DescribeWorkflowExecutionResponse // nil for a file
}

// FetchHistory describes a run and fetches its whole history (the latest
// run of the workflow id when rid is "").
func FetchHistory(ctx context.Context, c client.Client, wid, rid string) (*RunHistory, error) {
	d, err := c.DescribeWorkflowExecution(ctx, wid, rid)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", wid, err)
	}
	info := d.GetWorkflowExecutionInfo()
	rid = info.GetExecution().GetRunId()
	it := c.GetWorkflowHistory(ctx, wid, rid, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", wid, err)
		}
		h.Events = append(h.Events, e)
	}
	if len(h.Events) == 0 {
		return nil, fmt.Errorf("run %s has no history", wid)
	}
	if ResolveStored != nil {
		if err := ResolveStored(ctx, h); err != nil {
			return nil, fmt.Errorf("run %s: %w", wid, err)
		}
	}
	return &RunHistory{
		History: h, Source: wid, WorkflowID: wid, RunID: rid, Describe: d,
		Open: info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
	}, nil
}

// ResolveStored, when set, replaces the values of a fetched history that are
// stored outside it (external storage) and that the trace needs to read.
var ResolveStored func(ctx context.Context, h *historypb.History) error

// BuildTrace builds the trace of a fetched run, merging the live view of an
// open one, and the traces of its child runs when children is set.
func BuildTrace(ctx context.Context, c client.Client, rh *RunHistory, children bool, depth int) (*trace.Trace, error) {
	t, err := trace.BuildHistory(rh.History)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rh.Source, err)
	}
	if t.WorkflowID == "" {
		t.WorkflowID = rh.WorkflowID
	}
	if rh.RunID != "" {
		t.RunID = rh.RunID
	}
	if rh.Open && c != nil {
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if v, err := c.QueryWorkflow(qctx, rh.WorkflowID, rh.RunID, workflows.QueryState); err == nil {
			var st workflows.State
			if v.Get(&st) == nil {
				t.ApplyState(st)
			}
		}
		cancel()
		t.ApplyPending(rh.Describe.GetPendingActivities())
	}
	if children && c != nil && depth < 5 {
		for _, ch := range t.Children {
			crh, err := FetchHistory(ctx, c, ch.WorkflowID, ch.RunID)
			if err != nil {
				return nil, fmt.Errorf("child of step %s: %w", ch.Step, err)
			}
			ct, err := BuildTrace(ctx, c, crh, true, depth+1)
			if err != nil {
				return nil, err
			}
			ch.Trace = ct
		}
	}
	return t, nil
}
