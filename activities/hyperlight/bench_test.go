//go:build linux && amd64

package hyperlight

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tars-engine/tars/activities"
)

// latencies collects per-call durations and reports percentiles in
// microseconds beside the usual ns/op.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	us := func(q float64) float64 { return float64(l[int(q*float64(len(l)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(us(0.50), "p50-µs")
	b.ReportMetric(us(0.99), "p99-µs")
}

func benchRun(b *testing.B, r *Runner, c activities.Call) activities.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := r.Run(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// BenchmarkColdCreateFirstCall measures a call that finds no VM: "boot"
// loads a guest never seen (read, hash, ELF load, VM create, guest init,
// snapshot) and runs its first call; "snapshot" creates a VM from an
// existing snapshot (no init) and runs a call.
func BenchmarkColdCreateFirstCall(b *testing.B) {
	b.Run("boot", func(b *testing.B) {
		dir := guestsDir(b)
		r := newRunner(b, Config{GuestsDir: dir, VMBudget: 2})
		path := filepath.Join(dir, "echo.elf")
		c := call("echo", `{"n":1}`)
		lat := make(latencies, 0, b.N)
		mtime := time.Now()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mtime = mtime.Add(time.Second) // a new file: the next call boots it
			if err := os.Chtimes(path, mtime, mtime); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			benchRun(b, r, c)
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		lat.report(b)
	})
	b.Run("snapshot", func(b *testing.B) {
		r := newRunner(b, Config{VMBudget: 1})
		c := call("echo", `{"n":1}`)
		benchRun(b, r, c) // boot once
		lat := make(latencies, 0, b.N)
		var create, run float64
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if v := r.evict(); v != nil { // leave no warm VM behind
				v.close()
				<-r.slots
			}
			b.StartTimer()
			start := time.Now()
			res := benchRun(b, r, c)
			lat = append(lat, time.Since(start))
			if res.Metrics["vm.create_us"] == 0 {
				b.Fatal("call found a warm VM")
			}
			create += res.Metrics["vm.create_us"]
			run += res.Metrics["vm.run_us"]
		}
		b.StopTimer()
		lat.report(b)
		b.ReportMetric(create/float64(b.N), "create-µs")
		b.ReportMetric(run/float64(b.N), "run-µs")
	})
}

// BenchmarkRestoreCall measures a warm call: restore the VM to its
// snapshot, pass the input, run the guest to its result.
func BenchmarkRestoreCall(b *testing.B) {
	for _, tc := range []struct{ name, tool, args string }{
		{"echo", "echo", `{"n":1}`},
		{"json-field", "json-field", `{"object":{"user":{"name":"ada","tags":["x","y"]}},"field":"user.tags.1"}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := newRunner(b, Config{VMBudget: 1})
			c := call(tc.tool, tc.args)
			benchRun(b, r, c)
			lat := make(latencies, 0, b.N)
			var restore, run float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				res := benchRun(b, r, c)
				lat = append(lat, time.Since(start))
				restore += res.Metrics["vm.restore_us"]
				run += res.Metrics["vm.run_us"]
			}
			b.StopTimer()
			lat.report(b)
			b.ReportMetric(restore/float64(b.N), "restore-µs")
			b.ReportMetric(run/float64(b.N), "run-µs")
		})
	}
}

// BenchmarkParallelCalls measures throughput with calls from as many
// goroutines as GOMAXPROCS (×2), each VM warm.
func BenchmarkParallelCalls(b *testing.B) {
	r := newRunner(b, Config{VMBudget: 8})
	c := call("echo", `{"n":1}`)
	benchRun(b, r, c)
	b.SetParallelism(2)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchRun(b, r, c)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}

// BenchmarkDeadline measures how late a guest in an infinite loop is
// stopped after its call's deadline: late-ms is the time past a 200 ms
// deadline, per call.
func BenchmarkDeadline(b *testing.B) {
	r := newRunner(b, Config{VMBudget: 1})
	const deadline = 200 * time.Millisecond
	var late time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := runWithin(r, deadline, call("loop", `{}`)); err == nil {
			b.Fatal("an infinite loop returned without error")
		}
		late += time.Since(start) - deadline
	}
	b.ReportMetric(float64(late.Microseconds())/1000/float64(b.N), "late-ms")
}
