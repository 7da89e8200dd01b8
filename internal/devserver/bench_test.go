package devserver

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/tars-engine/tars/internal/bench"
)

// benchServers are started once per process and kept for it: repeated runs of
// a sub-benchmark (-count, or Go's b.N ramp-up) reuse a warm server.
var benchServers struct {
	sync.Mutex
	byMode map[bool]*benchServer
}

type benchServer struct {
	server *Server
	client client.Client
}

func benchServerFor(b *testing.B, tuned bool) *benchServer {
	b.Helper()
	benchServers.Lock()
	defer benchServers.Unlock()
	if bs, ok := benchServers.byMode[tuned]; ok {
		return bs
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Tuned: tuned, UIPort: NoUI, Logger: quietLogger()})
	require.NoError(b, err)
	c, err := client.Dial(client.Options{HostPort: s.FrontendAddress(), Namespace: s.Namespace(), Logger: sdklog.NewStructuredLogger(quietLogger())})
	require.NoError(b, err)
	// Workers stay up with the server, for the whole process; TestMain does
	// not stop these, the process exit does.
	_ = newWorkers(b, c)
	bs := &benchServer{server: s, client: c}
	if benchServers.byMode == nil {
		benchServers.byMode = map[bool]*benchServer{}
	}
	benchServers.byMode[tuned] = bs
	return bs
}

// BenchmarkOneStepLatency measures submit -> result of a workflow that runs
// one activity (workflow and activity on separate task queues, as TARS runs
// steps), one at a time on an idle server, with Temporal's defaults and with
// TunedDynamicConfig. It reports the median and 99th percentile in ms.
//
// -count N runs each sub-benchmark N times in a row, so on a noisy machine
// compare runs of a loop instead, which alternates the two:
//
//	for i in 1 2 3; do go test -run '^$' -bench OneStepLatency -benchtime 200x ./internal/devserver/; done
func BenchmarkOneStepLatency(b *testing.B) {
	skipIfShort(b)
	for _, mode := range []struct {
		name  string
		tuned bool
	}{{"tuned", true}, {"untuned", false}} {
		b.Run(mode.name, func(b *testing.B) {
			bs := benchServerFor(b, mode.tuned)
			ctx := context.Background()
			opts := client.StartWorkflowOptions{TaskQueue: testWorkflowQueue}
			runOnce := func() time.Duration {
				t0 := time.Now()
				run, err := bs.client.ExecuteWorkflow(ctx, opts, OneStep, "bench")
				if err != nil {
					b.Fatal(err)
				}
				var out string
				if err := run.Get(ctx, &out); err != nil {
					b.Fatal(err)
				}
				return time.Since(t0)
			}
			// Warm the connections, caches and sticky queues.
			for range 3 {
				runOnce()
			}
			latencies := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				latencies = append(latencies, runOnce())
			}
			b.StopTimer()
			b.ReportMetric(ms(bench.Percentile(latencies, 0.50)), "p50-ms")
			b.ReportMetric(ms(bench.Percentile(latencies, 0.99)), "p99-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkSequentialSteps measures a workflow of 50 activities run one after
// the other (a chain of metascript steps), reporting steps per second. Under
// Temporal's defaults the history queues' read limits, not the CPU, set the
// pace of a chain.
func BenchmarkSequentialSteps(b *testing.B) {
	skipIfShort(b)
	const steps = 50
	for _, mode := range []struct {
		name  string
		tuned bool
	}{{"tuned", true}, {"untuned", false}} {
		b.Run(mode.name, func(b *testing.B) {
			bs := benchServerFor(b, mode.tuned)
			ctx := context.Background()
			opts := client.StartWorkflowOptions{TaskQueue: testWorkflowQueue}
			b.ResetTimer()
			for range b.N {
				run, err := bs.client.ExecuteWorkflow(ctx, opts, Sequential, steps)
				if err != nil {
					b.Fatal(err)
				}
				if err := run.Get(ctx, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*steps)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}
