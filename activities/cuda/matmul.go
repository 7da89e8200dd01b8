//go:build linux || windows

package cuda

import (
	"context"
	"fmt"
	"math"

	"github.com/tars-engine/tars/activities/cuda/kernels"
)

// matmulTile is the side of the matmul kernel's square blocks.
const matmulTile = 16

// MatMul multiplies the row-major m x k matrix a by the k x n matrix b on a
// GPU and returns the m x n product, as kernels.MatMulFlat would (to float32
// rounding: the GPU accumulates in float32). One thread computes one element.
func (r *Runner) MatMul(ctx context.Context, a, b []float32, m, k, n int) ([]float32, Stats, error) {
	if m <= 0 || k <= 0 || n <= 0 || len(a) != m*k || len(b) != k*n {
		return nil, Stats{}, fmt.Errorf("%w: matmul: a has %d floats and b %d for %dx%d times %dx%d", kernels.ErrBadArgs, len(a), len(b), m, k, k, n)
	}
	if m > math.MaxUint16*matmulTile || n > math.MaxUint32-matmulTile {
		return nil, Stats{}, fmt.Errorf("%w: matmul: %dx%d result is beyond the kernel's grid", errTooLarge, m, n)
	}
	if need := uint64(m*k+k*n+m*n) * 4; need > r.slotBytes {
		return nil, Stats{}, fmt.Errorf("%w: matmul needs %.1f MiB of GPU memory, a slot has %.1f MiB (raise the pool's slot size)", errTooLarge, mib(need), mib(r.slotBytes))
	}
	c := make([]float32, m*n)
	st, err := r.run(ctx, kernelCall{
		in:     [][]float32{a, b},
		out:    c,
		kernel: func(g *gpu) uintptr { return g.matmul },
		grid:   [3]uint32{uint32((n + matmulTile - 1) / matmulTile), uint32((m + matmulTile - 1) / matmulTile), 1},
		block:  [3]uint32{matmulTile, matmulTile, 1},
		params: func(in []uint64, out uint64) []any {
			return []any{in[0], in[1], out, uint32(m), uint32(n), uint32(k)}
		},
	})
	if err != nil {
		return nil, st, err
	}
	return c, st, nil
}
