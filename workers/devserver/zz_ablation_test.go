package devserver

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

func TestZZAblation(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	pollOnly := map[string]any{}
	for _, k := range []string{"history.transferProcessorMaxPollRPS", "history.timerProcessorMaxPollRPS", "history.visibilityProcessorMaxPollRPS", "history.outboundProcessorMaxPollRPS", "history.longPollExpirationInterval"} {
		pollOnly[k] = TunedDynamicConfig()[k]
	}
	configs := []struct {
		name  string
		tuned bool
		dc    map[string]any
	}{
		{"untuned", false, nil},
		{"pollRPS+longpoll only", false, pollOnly},
		{"tuned", true, nil},
		{"tuned, 4 partitions", true, map[string]any{"matching.numTaskqueueReadPartitions": 4, "matching.numTaskqueueWritePartitions": 4}},
		{"tuned, 20s long poll", true, map[string]any{"history.longPollExpirationInterval": 20 * time.Second}},
	}
	type env struct{ c client.Client }
	envs := make([]env, len(configs))
	for i, cfg := range configs {
		s := startServer(t, Options{Tuned: cfg.tuned, DynamicConfig: cfg.dc, UIPort: NoUI})
		c, err := client.Dial(client.Options{HostPort: s.FrontendAddress(), Namespace: s.Namespace(), Logger: sdklog.NewStructuredLogger(quietLogger())})
		require.NoError(t, err)
		for _, w := range newWorkers(t, c) {
			t.Cleanup(w.Stop)
		}
		envs[i] = env{c}
	}
	lat := make([][]time.Duration, len(configs))
	ctx := context.Background()
	for round := 0; round < 300; round++ {
		for i := range configs {
			t0 := time.Now()
			run, err := envs[i].c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: testWorkflowQueue}, OneStep, "x")
			require.NoError(t, err)
			var out string
			require.NoError(t, run.Get(ctx, &out))
			lat[i] = append(lat[i], time.Since(t0))
		}
	}
	for i, cfg := range configs {
		l := lat[i]
		slices.Sort(l)
		var sum time.Duration
		for _, d := range l {
			sum += d
		}
		fmt.Printf("%-24s n=%d p50=%6.1fms p90=%6.1fms p99=%7.1fms max=%8.1fms mean=%6.1fms\n", cfg.name, len(l), ms(percentile(l, .5)), ms(percentile(l, .9)), ms(percentile(l, .99)), ms(l[len(l)-1]), ms(sum/time.Duration(len(l))))
	}
}
