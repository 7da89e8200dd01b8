// cosine.cu: the scoring half of vector.topk.
//
// scores[row] = dot(v[row], q) / (|v[row]| * |q|), one warp per row so that the
// 32 lanes read consecutive floats of the row (coalesced), then a butterfly
// reduction across the warp. The caller passes qinv = 1/|q| (computed once on
// the host) and launches blocks whose size is a multiple of 32. Rows with a
// zero norm score 0. The top k are selected on the host from the scores.
//
// cosine.ptx beside this file is the same kernel written by hand; regenerate
// it with `make -C activities/cuda/kernels` where nvcc is installed.

extern "C" __global__ void tars_cosine(const float* __restrict__ v,
                                       const float* __restrict__ q,
                                       float* __restrict__ scores,
                                       unsigned int n, unsigned int d,
                                       float qinv) {
    unsigned int gid = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int row = gid >> 5;
    unsigned int lane = gid & 31;
    if (row >= n) {
        return; // whole warps leave together: every lane of a warp has the same row
    }
    const float* p = v + (unsigned long long)row * d;
    float dot = 0.0f, vv = 0.0f;
    for (unsigned int j = lane; j < d; j += 32) {
        float x = p[j];
        dot = fmaf(x, q[j], dot);
        vv = fmaf(x, x, vv);
    }
    for (int off = 16; off > 0; off >>= 1) {
        dot += __shfl_xor_sync(0xffffffffu, dot, off);
        vv += __shfl_xor_sync(0xffffffffu, vv, off);
    }
    if (lane == 0) {
        float s = 0.0f;
        if (vv > 0.0f) {
            s = (dot / sqrtf(vv)) * qinv;
        }
        scores[row] = s;
    }
}
