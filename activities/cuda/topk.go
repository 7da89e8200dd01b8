//go:build linux || windows

package cuda

import (
	"context"
	"fmt"

	"github.com/tars-engine/tars/activities/cuda/kernels"
)

// cosineBlock is the block size of the cosine kernel: 8 warps, one row each.
const cosineBlock = 256

// maxTopKRows keeps the kernel's 32-bit thread index (row*32 + lane) from
// overflowing.
const maxTopKRows = 1 << 26

// TopK scores every row of the row-major matrix (n rows of dim floats)
// against query by cosine similarity on a GPU and returns the k best, as
// kernels.TopKCPU would. The GPU computes the n scores (one warp per row);
// the k best are selected on the host, O(n log k), from the n scores copied
// back, which costs less than a GPU selection for the k a step asks for.
//
// The matrix is copied to the GPU on every call: for 100k x 256 that is
// 100 MB, which dominates the call.
func (r *Runner) TopK(ctx context.Context, query, matrix []float32, dim, k int) ([]kernels.Match, Stats, error) {
	if dim <= 0 || len(query) != dim || len(matrix)%dim != 0 {
		return nil, Stats{}, fmt.Errorf("%w: vector.topk: query has %d floats, matrix %d, dim %d", kernels.ErrBadArgs, len(query), len(matrix), dim)
	}
	n := len(matrix) / dim
	if n == 0 || k <= 0 {
		return []kernels.Match{}, Stats{}, nil
	}
	if n > maxTopKRows {
		return nil, Stats{}, fmt.Errorf("%w: vector.topk: %d vectors, the GPU kernel takes at most %d", errTooLarge, n, maxTopKRows)
	}
	if need := uint64(len(matrix)+dim+n) * 4; need > r.slotBytes {
		return nil, Stats{}, fmt.Errorf("%w: vector.topk needs %.1f MiB of GPU memory, a slot has %.1f MiB (raise the pool's slot size)", errTooLarge, mib(need), mib(r.slotBytes))
	}
	scores := make([]float32, n)
	qinv := kernels.QueryInverseNorm(query)
	st, err := r.run(ctx, kernelCall{
		in:     [][]float32{matrix, query},
		out:    scores,
		kernel: func(g *gpu) uintptr { return g.cosine },
		grid:   [3]uint32{uint32((n*32 + cosineBlock - 1) / cosineBlock), 1, 1},
		block:  [3]uint32{cosineBlock, 1, 1},
		params: func(in []uint64, out uint64) []any {
			return []any{in[0], in[1], out, uint32(n), uint32(dim), qinv}
		},
	})
	if err != nil {
		return nil, st, err
	}
	return kernels.SelectTopK(scores, k), st, nil
}
