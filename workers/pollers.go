package workers

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/workflows"
)

// Pollers serves workflows.PollersActivity: it asks the server which
// activity task queues have live pollers.
type Pollers struct {
	Client client.Client
	// Fresh is how recently a poller must have polled to count as live
	// (default DefaultLivenessWindow).
	Fresh time.Duration
}

// DefaultLivenessWindow is how recently a pool's poller must have polled
// for the pool to count as live. A worker re-polls each time the server
// answers its long poll, which `tars dev` does every 5 s
// (matching.longPollExpirationInterval); a cluster must set that interval
// under this window for TARS's task queues (docs/deploy.md), or idle pools
// look dead.
const DefaultLivenessWindow = 10 * time.Second

// Pollers asks the server which activity task queues have pollers.
func (a *Pollers) Pollers(ctx context.Context, req workflows.PollersRequest) (workflows.PollersResult, error) {
	fresh := a.Fresh
	if fresh == 0 {
		fresh = DefaultLivenessWindow
	}
	res := workflows.PollersResult{Live: map[string]bool{}, Pollers: map[string]int{}}
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
