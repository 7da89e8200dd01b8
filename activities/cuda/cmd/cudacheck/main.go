//go:build linux || windows

// Command cudacheck checks the cuda pool on a GPU machine: it starts the pool
// the way a worker does, runs vector.topk and matmul on every GPU and on the
// CPU reference, compares the results and prints timings. It needs the NVIDIA
// driver (libcuda.so.1) but no CUDA toolkit and no Go toolchain: build it
// where Go is and carry the binary.
//
//	go build -o cudacheck ./activities/cuda/cmd/cudacheck
//	./cudacheck [-n 100000] [-dim 256] [-k 10] [-matmul 512] [-reps 5]
//
// It exits 1 when a GPU result differs from the CPU reference and 2 when the
// pool cannot start.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/tars-engine/tars/activities/cuda"
	"github.com/tars-engine/tars/activities/cuda/kernels"
	"github.com/tars-engine/tars/internal/bench"
)

func main() {
	n := flag.Int("n", 100_000, "vectors for vector.topk")
	dim := flag.Int("dim", 256, "dimension of the vectors")
	k := flag.Int("k", 10, "matches to return")
	size := flag.Int("matmul", 512, "side of the square matrices for matmul")
	reps := flag.Int("reps", 5, "timed repetitions of each GPU call")
	lib := flag.String("lib", cuda.DefaultLibrary, "CUDA driver library")
	flag.Parse()
	os.Exit(run(os.Stdout, *lib, *n, *dim, *k, *size, *reps))
}

func run(w io.Writer, lib string, n, dim, k, size, reps int) int {
	t := time.Now()
	r, err := cuda.New(cuda.Config{Library: lib, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(w, "cuda pool does not start:", err)
		return 2
	}
	defer r.Close()
	st := r.Startup()
	fmt.Fprintf(w, "driver CUDA %d.%d; pool ready in %v: load %v, cuInit %v, contexts %v, modules (PTX JIT) %v\n",
		st.Driver/1000, st.Driver%1000/10, round(time.Since(t)), round(st.Load), round(st.Init), round(st.Context), round(st.Modules))
	for _, d := range r.Devices() {
		fmt.Fprintf(w, "GPU %d: %s, %d MiB free of %d MiB, %d slots\n", d.Ordinal, d.Name, d.MemoryFree>>20, d.MemoryTotal>>20, d.Slots)
	}
	fmt.Fprintf(w, "capacity %d\n\n", r.Capacity())

	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	ok := true

	// Empty-ish launch: the smallest matmul measures launch + sync overhead.
	one := []float32{1}
	var small []time.Duration
	for range max(reps, 20) {
		_, s, err := r.MatMul(ctx, one, one, 1, 1, 1)
		if err != nil {
			fmt.Fprintln(w, "matmul 1x1:", err)
			return 1
		}
		small = append(small, s.Kernel)
	}
	fmt.Fprintf(w, "launch+sync (1x1 matmul): median %v, min %v\n", median(small), slices.Min(small))

	// vector.topk
	q, m := randVec(rng, dim), randVec(rng, n*dim)
	t = time.Now()
	cpuScores := kernels.CosineScores(q, m, dim)
	want := kernels.SelectTopK(cpuScores, k)
	cpuTime := time.Since(t)
	var kernel, copyT, total []time.Duration
	var got []kernels.Match
	var bytes uint64
	for range reps {
		t := time.Now()
		var s cuda.Stats
		got, s, err = r.TopK(ctx, q, m, dim, k)
		if err != nil {
			fmt.Fprintln(w, "vector.topk on the GPU:", err)
			return 1
		}
		total = append(total, time.Since(t))
		kernel = append(kernel, s.Kernel)
		copyT = append(copyT, s.Copy)
		bytes = s.CopyBytes
	}
	diff := topkDiff(cpuScores, want, got)
	fmt.Fprintf(w, "vector.topk %dx%d k=%d: GPU call median %v (kernel %v, copies %v for %.1f MB = %.1f GB/s); CPU reference %v; max score diff %.2g\n",
		n, dim, k, median(total), median(kernel), median(copyT), float64(bytes)/1e6,
		float64(bytes)/median(copyT).Seconds()/1e9, cpuTime, diff)
	fmt.Fprintf(w, "  kernel reads %.1f MB: %.0f GB/s\n", float64(n*dim*4)/1e6, float64(n*dim*4)/median(kernel).Seconds()/1e9)
	fmt.Fprintf(w, "  top 3 GPU %v, CPU %v\n", got[:min(3, len(got))], want[:min(3, len(want))])
	if diff > 2e-5 {
		fmt.Fprintln(w, "  FAIL: GPU and CPU top-k differ")
		ok = false
	}

	// matmul
	a, b := randVec(rng, size*size), randVec(rng, size*size)
	t = time.Now()
	wantC := kernels.MatMulFlat(a, b, size, size, size)
	cpuTime = time.Since(t)
	kernel, total = kernel[:0], total[:0]
	var gotC []float32
	for range reps {
		t := time.Now()
		var s cuda.Stats
		gotC, s, err = r.MatMul(ctx, a, b, size, size, size)
		if err != nil {
			fmt.Fprintln(w, "matmul on the GPU:", err)
			return 1
		}
		total = append(total, time.Since(t))
		kernel = append(kernel, s.Kernel)
	}
	var maxDiff float64
	for i := range wantC {
		maxDiff = max(maxDiff, math.Abs(float64(gotC[i]-wantC[i])))
	}
	flops := 2 * float64(size) * float64(size) * float64(size)
	fmt.Fprintf(w, "matmul %dx%d: GPU call median %v (kernel %v = %.0f GFLOP/s); CPU reference %v; max diff %.2g\n",
		size, size, median(total), median(kernel), flops/median(kernel).Seconds()/1e9, cpuTime, maxDiff)
	if maxDiff > 1e-6*float64(size+1) {
		fmt.Fprintln(w, "  FAIL: GPU and CPU matmul differ")
		ok = false
	}

	if !ok {
		return 1
	}
	fmt.Fprintln(w, "\nOK: GPU results match the CPU reference")
	return 0
}

// topkDiff is the largest difference between a GPU score and the CPU score
// of the same index or of the same rank.
func topkDiff(cpu []float32, want, got []kernels.Match) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var d float64
	for i, m := range got {
		if m.Index < 0 || m.Index >= len(cpu) {
			return math.Inf(1)
		}
		d = max(d, math.Abs(float64(m.Score-cpu[m.Index])), math.Abs(float64(m.Score-want[i].Score)))
	}
	return d
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

// median is the figures' one percentile formula (internal/bench), so that
// these and tars bench's are computed alike.
func median(d []time.Duration) time.Duration { return bench.Percentile(d, .5) }

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
