//go:build linux || windows

package cuda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/cuda/kernels"
)

// gpuRunner opens the real driver or skips the test.
func gpuRunner(t testing.TB) *Runner {
	t.Helper()
	r, err := New(Config{})
	switch {
	case errors.Is(err, ErrNoDriver):
		t.Skip("no CUDA driver: libcuda.so.1 not found (run on a GPU machine)")
	case errors.Is(err, ErrNoDevice):
		t.Skipf("no CUDA device: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// TestGPU runs both kernels on a real GPU and checks them against the CPU
// reference of package kernels.
func TestGPU(t *testing.T) {
	r := gpuRunner(t)
	st := r.Startup()
	t.Logf("driver %d; load %v, cuInit %v, contexts %v, modules %v", st.Driver, st.Load, st.Init, st.Context, st.Modules)
	for _, d := range r.Devices() {
		t.Logf("GPU %d: %s, %d MiB free of %d, %d slots", d.Ordinal, d.Name, d.MemoryFree>>20, d.MemoryTotal>>20, d.Slots)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))

	t.Run("topk", func(t *testing.T) {
		for _, tt := range []struct{ n, dim, k int }{
			{1, 1, 1}, {7, 3, 3}, {33, 31, 33}, {100, 1000, 5}, {1000, 256, 10}, {4097, 33, 50}, {20000, 128, 100},
		} {
			t.Run(fmt.Sprintf("%dx%d_k%d", tt.n, tt.dim, tt.k), func(t *testing.T) {
				q, m := randVec(rng, tt.dim), randVec(rng, tt.n*tt.dim)
				if tt.n > 3 {
					clear(m[2*tt.dim : 3*tt.dim]) // a zero row scores 0
				}
				got, stats, err := r.TopK(ctx, q, m, tt.dim, tt.k)
				require.NoError(t, err)
				want := kernels.CosineScores(q, m, tt.dim)
				checkTopK(t, want, kernels.SelectTopK(want, tt.k), got)
				assert.Equal(t, uint64(len(m)+len(q)+tt.n)*4, stats.CopyBytes)
				assert.Positive(t, stats.Kernel)
			})
		}
	})

	t.Run("topk zero query", func(t *testing.T) {
		got, _, err := r.TopK(ctx, make([]float32, 8), randVec(rng, 40), 8, 5)
		require.NoError(t, err)
		assert.Equal(t, []kernels.Match{{Index: 0}, {Index: 1}, {Index: 2}, {Index: 3}, {Index: 4}}, got)
	})

	t.Run("matmul", func(t *testing.T) {
		for _, tt := range []struct{ m, k, n int }{
			{1, 1, 1}, {2, 3, 2}, {17, 33, 9}, {64, 64, 64}, {100, 257, 31}, {1, 1000, 1}, {300, 20, 500},
		} {
			t.Run(fmt.Sprintf("%dx%dx%d", tt.m, tt.k, tt.n), func(t *testing.T) {
				a, b := randVec(rng, tt.m*tt.k), randVec(rng, tt.k*tt.n)
				got, _, err := r.MatMul(ctx, a, b, tt.m, tt.k, tt.n)
				require.NoError(t, err)
				want := kernels.MatMulFlat(a, b, tt.m, tt.k, tt.n)
				require.Len(t, got, len(want))
				tol := 1e-6 * float64(tt.k+1) // float32 accumulation of k products of values in [-1, 1]
				bad := 0
				for i := range want {
					if math.Abs(float64(got[i]-want[i])) > tol {
						if bad++; bad <= 5 {
							t.Errorf("c[%d][%d] = %v, CPU %v", i/tt.n, i%tt.n, got[i], want[i])
						}
					}
				}
			})
		}
	})

	t.Run("run", func(t *testing.T) {
		res, err := r.Run(ctx, activities.Call{Tool: kernels.ToolTopK, Args: json.RawMessage(`{"query":[1,0],"vectors":[[0,1],[1,0],[1,1]],"k":2}`)})
		require.NoError(t, err)
		var out kernels.TopKResult
		require.NoError(t, json.Unmarshal(res.Output, &out))
		assert.Equal(t, []int{1, 2}, out.Indices)
		require.Len(t, out.Scores, 2)
		assert.InDelta(t, 1, out.Scores[0], 1e-6)
		assert.InDelta(t, math.Sqrt2/2, out.Scores[1], 1e-6)
		for _, k := range []string{"gpu.index", "gpu.kernel_us", "gpu.copy_us", "gpu.copy_bytes"} {
			assert.Contains(t, res.Metrics, k)
		}

		res, err = r.Run(ctx, activities.Call{Tool: kernels.ToolMatMul, Args: json.RawMessage(`{"a":[[1,2],[3,4]],"b":[[5,6],[7,8]]}`)})
		require.NoError(t, err)
		assert.JSONEq(t, `{"c":[[19,22],[43,50]]}`, string(res.Output))
	})
}

// checkTopK checks GPU matches against the CPU scores: each returned score
// is the CPU score of its index, and the scores are the k best. Indices may
// differ from the CPU's only between scores closer than the tolerance.
func checkTopK(t *testing.T, cpu []float32, want, got []kernels.Match) {
	t.Helper()
	const tol = 2e-5
	require.Len(t, got, len(want))
	for i, m := range got {
		require.GreaterOrEqual(t, m.Index, 0)
		require.Less(t, m.Index, len(cpu))
		assert.InDelta(t, cpu[m.Index], m.Score, tol, "match %d: index %d", i, m.Index)
		assert.InDelta(t, want[i].Score, m.Score, tol, "match %d: GPU index %d, CPU index %d", i, m.Index, want[i].Index)
	}
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

// BenchmarkGPUTopK measures one vector.topk call over 100k x 256 vectors,
// copies included.
func BenchmarkGPUTopK(b *testing.B) {
	r := gpuRunner(b)
	rng := rand.New(rand.NewPCG(9, 10))
	const n, dim = 100_000, 256
	q, m := randVec(rng, dim), randVec(rng, n*dim)
	b.SetBytes(int64(len(m) * 4))
	for b.Loop() {
		if _, _, err := r.TopK(context.Background(), q, m, dim, 10); err != nil {
			b.Fatal(err)
		}
	}
}
