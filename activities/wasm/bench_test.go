package wasm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/wasm"
)

// The benchmarks run text-stats on a short paragraph: a realistic small
// tool call, where the pool's overhead is the largest share of the cost.
// Compare BenchmarkCall with BenchmarkBareWazero (and the Parallel pair)
// for the TARS layer's overhead:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./activities/wasm/ | benchstat -
var benchArgs = json.RawMessage(`{"text":"The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs on.\nA second line, with the fox again, and the dog again.","top":3}`)

const benchTool = "text-stats"

// benchCtx carries a deadline, as every activity context does.
func benchCtx(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	b.Cleanup(cancel)
	return ctx
}

// reportLatency reports the median and 99th percentile of samples.
func reportLatency(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds())/1000, "p50-µs")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds())/1000, "p99-µs")
}

func BenchmarkCall(b *testing.B) {
	r := newRunner(b, wasm.Config{})
	ctx := benchCtx(b)
	c := activities.Call{Tool: benchTool, Args: benchArgs}
	_, err := r.Run(ctx, c) // compile outside the measurement
	require.NoError(b, err)
	samples := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := r.Run(ctx, c); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, samples)
}

func BenchmarkParallel(b *testing.B) {
	r := newRunner(b, wasm.Config{})
	ctx := benchCtx(b)
	c := activities.Call{Tool: benchTool, Args: benchArgs}
	_, err := r.Run(ctx, c)
	require.NoError(b, err)
	var calls atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Run(ctx, c); err != nil {
				b.Error(err)
				return
			}
			calls.Add(1)
		}
	})
	b.ReportMetric(float64(calls.Load())/time.Since(start).Seconds(), "calls/s")
}

// bareWazero is the baseline: the same module on a runtime configured as
// the Runner configures its own (compilation cache, close on context done,
// memory limit, WASI), instantiated and closed per call with stdin and
// stdout buffers, and nothing else: no digest check, no memory accounting,
// no output validation, no metrics.
type bareWazero struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
}

func newBareWazero(b *testing.B) *bareWazero {
	ctx := context.Background()
	cache := wazero.NewCompilationCache()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(1024*16))
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	bin, err := os.ReadFile(filepath.Join(guests, benchTool+".wasm"))
	require.NoError(b, err)
	compiled, err := rt.CompileModule(ctx, bin)
	require.NoError(b, err)
	b.Cleanup(func() {
		_ = rt.Close(ctx)
		_ = cache.Close(ctx)
	})
	return &bareWazero{rt: rt, compiled: compiled}
}

func (w *bareWazero) call(ctx context.Context, config wazero.ModuleConfig) ([]byte, error) {
	var stdout bytes.Buffer
	config = config.WithStdin(bytes.NewReader(benchArgs)).WithStdout(&stdout)
	mod, err := w.rt.InstantiateModule(ctx, w.compiled, config)
	if err != nil {
		return nil, err
	}
	_ = mod.Close(ctx)
	return stdout.Bytes(), nil
}

func BenchmarkBareWazero(b *testing.B) {
	w := newBareWazero(b)
	ctx := benchCtx(b)
	config := wazero.NewModuleConfig().WithName("")
	out, err := w.call(ctx, config)
	require.NoError(b, err)
	require.Contains(b, string(out), `"words":27`)
	samples := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := w.call(ctx, config); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, samples)
}

func BenchmarkBareWazeroParallel(b *testing.B) {
	w := newBareWazero(b)
	ctx := benchCtx(b)
	config := wazero.NewModuleConfig().WithName("")
	var calls atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := w.call(ctx, config); err != nil {
				b.Error(err)
				return
			}
			calls.Add(1)
		}
	})
	b.ReportMetric(float64(calls.Load())/time.Since(start).Seconds(), "calls/s")
}
