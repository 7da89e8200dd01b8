package devserver

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

func TestZZDebugSlow(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	bs := benchServerFor(&testing.B{}, true)
	ctx := context.Background()
	for i := 0; i < 150; i++ {
		t0 := time.Now()
		run, err := bs.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: testWorkflowQueue}, OneStep, "x")
		if err != nil {
			t.Fatal(err)
		}
		tStarted := time.Since(t0)
		var out string
		if err := run.Get(ctx, &out); err != nil {
			t.Fatal(err)
		}
		d := time.Since(t0)
		if d > 60*time.Millisecond {
			it := bs.client.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, 0)
			var line string
			var first, prev time.Time
			for it.HasNext() {
				e, _ := it.Next()
				ts := e.GetEventTime().AsTime()
				if first.IsZero() {
					first, prev = ts, ts
				}
				line += fmt.Sprintf(" %d:+%.1f", e.GetEventId(), float64(ts.Sub(prev))/1e6)
				prev = ts
			}
			fmt.Printf("run %3d total %6.1fms startRPC %5.1fms wf %6.1fms closeToClient %6.1fms |%s\n", i, float64(d)/1e6, float64(tStarted)/1e6, float64(prev.Sub(first))/1e6, float64(t0.Add(d).Sub(prev))/1e6, line)
		}
	}
}
