package native

import (
	"context"
	"fmt"
	"time"

	"github.com/tars-engine/tars/activities"
)

type sleepArgs struct {
	Duration *duration `json:"duration"`
}

// runSleep waits for args.duration and returns early with the context's
// error when the step is cancelled or times out.
func runSleep(ctx context.Context, call activities.Call) (activities.Result, error) {
	var args sleepArgs
	if err := decodeArgs("sleep", call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	if args.Duration == nil {
		return activities.Result{}, badArgs("sleep", `"duration" is required, e.g. {"duration": "250ms"}`)
	}
	d := time.Duration(*args.Duration)
	t := time.NewTimer(d)
	defer t.Stop()
	start := time.Now()
	select {
	case <-t.C:
		return output("sleep", map[string]string{"slept": d.String()})
	case <-ctx.Done():
		return activities.Result{}, fmt.Errorf("sleep: interrupted after %s of %s: %w",
			time.Since(start).Round(time.Millisecond), d, ctx.Err())
	}
}
