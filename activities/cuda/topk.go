package cuda

import (
	"context"
	"fmt"
	"time"

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

	g, release, err := r.acquire(ctx)
	if err != nil {
		return nil, Stats{}, err
	}
	defer release()
	st := Stats{Device: g.Ordinal}
	err = g.do(r.d, func() error {
		b := buffers{d: r.d}
		defer b.free()
		dv, err := b.copyIn(matrix, &st)
		if err != nil {
			return err
		}
		dq, err := b.copyIn(query, &st)
		if err != nil {
			return err
		}
		ds, err := b.alloc(uint64(n) * 4)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		grid := uint32((n*32 + cosineBlock - 1) / cosineBlock)
		t := time.Now()
		if err := r.d.launch(g.cosine, [3]uint32{grid, 1, 1}, [3]uint32{cosineBlock, 1, 1},
			dv, dq, ds, uint32(n), uint32(dim), qinv); err != nil {
			return err
		}
		if err := r.d.check("cuCtxSynchronize", r.d.cuCtxSynchronize()); err != nil {
			return err
		}
		st.Kernel = time.Since(t)
		return b.copyOut(scores, ds, &st)
	})
	if err != nil {
		r.fail(g, err)
		return nil, st, fmt.Errorf("GPU %d: %w", g.Ordinal, err)
	}
	return kernels.SelectTopK(scores, k), st, nil
}
