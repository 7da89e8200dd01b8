// Package control holds the activities the interpreter workflow runs on its
// own task queue to learn about the cluster: which runtime pools have live
// pollers. Workflow code may not do I/O, so it asks through these.
package control

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// PollersActivity is the activity type name of Activities.Pollers.
const PollersActivity = "tars.pollers"

// PollersRequest names the task queues to look at, per runtime.
type PollersRequest struct {
	Queues map[string]string `json:"queues"` // runtime -> task queue
}

// PollersResult says which runtimes have a live pool.
type PollersResult struct {
	Live map[string]bool `json:"live"`
	// Pollers counts the pollers seen per runtime, for the trace.
	Pollers map[string]int `json:"pollers"`
}

// Activities are the control activities; they need a client.
type Activities struct {
	Client client.Client
	// Fresh is how recently a poller must have polled to count as live.
	// A live worker long-polls for up to a minute at a time, so the
	// default is 70s; the fallback on schedule-to-start covers stale hits.
	Fresh time.Duration
}

// Pollers asks the server which activity task queues have pollers.
func (a *Activities) Pollers(ctx context.Context, req PollersRequest) (PollersResult, error) {
	fresh := a.Fresh
	if fresh == 0 {
		fresh = 70 * time.Second
	}
	res := PollersResult{Live: map[string]bool{}, Pollers: map[string]int{}}
	for rt, q := range req.Queues {
		resp, err := a.Client.DescribeTaskQueue(ctx, q, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		if err != nil {
			return res, fmt.Errorf("describe task queue %s: %w", q, err)
		}
		n := 0
		for _, p := range resp.GetPollers() {
			if t := p.GetLastAccessTime(); t != nil && time.Since(t.AsTime()) <= fresh {
				n++
			}
		}
		res.Pollers[rt] = n
		res.Live[rt] = n > 0
	}
	return res, nil
}
