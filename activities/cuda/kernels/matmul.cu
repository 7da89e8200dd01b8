// matmul.cu: C = A x B for small row-major float32 matrices.
//
// A is m x k, B is k x n, C is m x n. One thread computes one element of C
// with a plain fused multiply-add loop: no shared-memory tiling, because the
// matrices this tool is for fit in cache and the kernel is meant to be easy to
// check against MatMulCPU. Launch with 2-D blocks (16 x 16) covering n x m.
//
// matmul.ptx beside this file is the same kernel written by hand; regenerate
// it with `make -C activities/cuda/kernels` where nvcc is installed.

extern "C" __global__ void tars_matmul(const float* __restrict__ a,
                                       const float* __restrict__ b,
                                       float* __restrict__ c,
                                       unsigned int m, unsigned int n,
                                       unsigned int k) {
    unsigned int col = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int row = blockIdx.y * blockDim.y + threadIdx.y;
    if (row >= m || col >= n) {
        return;
    }
    const float* pa = a + (unsigned long long)row * k;
    const float* pb = b + col;
    float sum = 0.0f;
    for (unsigned int i = 0; i < k; i++) {
        sum = fmaf(pa[i], pb[(unsigned long long)i * n], sum);
    }
    c[(unsigned long long)row * n + col] = sum;
}
